/**
 * `simulate` and `orrery simulate`: scenarios validated field by field, the same seed giving the same
 * forecast byte for byte, crashes taking the lease-expiry path, the outputs, and the virtual clock
 * against real time. In process, SQLite in memory.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario, runSimulation, seriesCsv, summaryJson, ValidationError, writeSimulation, type ScenarioInput } from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { reportCharts } from '../../src/simulate/report.js';
import { overrideScenario } from '../../src/simulate/scenario.js';
import { createTestDatabase } from '../support/postgres.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A day of a small mixed workload: populations, bursts with a daily profile, failures, retries, crashes. */
const MIXED: ScenarioInput = {
  name: 'mixed',
  start: '2026-03-02T00:00:00Z',
  duration: '12h',
  seed: 42,
  interval: '1h',
  taskTypes: [
    { name: 'crawl', defaultIntervalMs: '2h', minIntervalMs: '1h', maxIntervalMs: '8h', backoffFactor: 2, leaseMs: '1m', numRetries: 1, retryDelayMs: '10m' },
    { name: 'mail', maxQueueLength: null, leaseMs: '30s' },
  ],
  tasks: [{ type: 'crawl', count: 40, policy: 'recurring', spread: '2h' }],
  arrivals: [{ type: 'mail', ratePerHour: 30, profile: [0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 2, 2, 2, 2, 2, 2, 3, 3, 2, 1, 1, 0, 0, 0] }],
  handlers: {
    crawl: { duration: { dist: 'lognormal', median: '20s', p99: '5m' }, eventful: 0.3, failed: 0.05, crash: 0.03 },
    mail: { duration: { dist: 'uniform', min: 200, max: 2000 }, permfailed: 0.01, retryAfter: 0.02, retryAfterDelay: '5m' },
  },
  workers: [
    { count: 2, concurrency: 3, types: ['crawl'] },
    { count: 1, concurrency: 4, prefetch: 10 },
  ],
};

const withoutWall = (json: string) => json.replace(/"(wallMs|runsPerWallSecond)": \d+/g, '"$1": 0');

describe('simulate', () => {
  // Two runs, not three: the second also waits two quiet turns of the clock instead of one, which must
  // change nothing either (the engine acts in the turn its timers fire). The timeout guards against a hang.
  it('gives byte-identical summary.json (but for wall time) and series.csv for the same scenario and seed, with one quiet turn or two', { timeout: 300_000 }, async () => {
    const a = await runSimulation(MIXED);
    const b = await runSimulation(MIXED, { quietTurns: 2 });
    expect(withoutWall(summaryJson(b.summary))).toBe(withoutWall(summaryJson(a.summary)));
    expect(seriesCsv(b.series)).toBe(seriesCsv(a.series));
    // The model is exercised: every outcome, crashes (runs lost to expired leases), the daily profile.
    const s = a.summary;
    expect(s.runs.total).toBeGreaterThan(300);
    expect(s.runs.eventful).toBeGreaterThan(0);
    expect(s.runs.failed).toBeGreaterThan(0);
    expect(s.runs.permfailed).toBeGreaterThan(0);
    expect(s.workers.crashes).toBeGreaterThan(0);
    expect(s.runs.lost).toBeGreaterThan(0);
    expect(s.runs.total).toBe(s.runs.eventful + s.runs.uneventful + s.runs.failed + s.runs.permfailed + s.runs.lost);
    const mailAt = (hour: number) => a.series.find((r) => r.type === 'mail' && r.start === `2026-03-02T${String(hour).padStart(2, '0')}:00:00.000Z`)!;
    expect([0, 1, 2, 3, 4, 5].map((h) => mailAt(h).started)).toEqual([0, 0, 0, 0, 0, 0]); // profile 0 from 00:00 to 06:00
    expect(mailAt(8).started).toBeGreaterThan(0);
    expect(a.series).toHaveLength(12 * 2);
  });

  it('rejects an invalid scenario with every problem named by its field', () => {
    const bad = {
      ...MIXED,
      duration: 'soon',
      taskTypes: [{ name: 'crawl', backoffFactor: -1 }],
      arrivals: [{ type: 'nope', ratePerHour: 10, profile: [1, 2] }],
      handlers: { crawl: { duration: { dist: 'lognormal', median: '1s', p99: '1s' }, failed: 0.8, crash: 0.5 }, mail: { duration: { dist: 'gamma' } } },
      workers: [{ count: 0, concurrency: 1 }],
      extra: true,
    };
    let err: unknown;
    try {
      parseScenario(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const paths = (err as ValidationError).details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['duration', 'arrivals[0].profile', 'handlers.crawl.duration.p99', 'handlers.crawl.failed', 'handlers.mail.duration.dist', 'workers[0].count', 'extra']));
    // A task type's own problems are problems of a field's own form: reported with the others at once.
    expect(paths).toContain('taskTypes[0].backoffFactor');
    let second: unknown;
    try {
      parseScenario({ ...MIXED, taskTypes: [{ name: 'crawl', backoffFactor: -1 }], arrivals: [{ type: 'nope', ratePerHour: 10 }] });
    } catch (e) {
      second = e;
    }
    // The ties between fields come once the fields are mended (docs/simulate.md: two stages; they came together).
    expect((second as ValidationError).details.map((d) => d.path)).toEqual(['taskTypes[0].backoffFactor']);
    try {
      parseScenario({ ...MIXED, taskTypes: [{ name: 'crawl' }], arrivals: [{ type: 'nope', ratePerHour: 10 }] });
    } catch (e) {
      second = e;
    }
    expect((second as ValidationError).details.map((d) => d.path)).toEqual(expect.arrayContaining(['arrivals[0].type', 'handlers.mail']));
  });

  it('refuses a window, interval, poll or arrival rate that would run for hours or exhaust memory, naming the field', async () => {
    const problems = (input: unknown) => {
      try {
        parseScenario(input);
        return [];
      } catch (e) {
        return (e as ValidationError).details.map((d) => `${d.path}: ${d.message}`);
      }
    };
    // Before: "Invalid array length" (exit 1), or gigabytes of memory and no end.
    expect(problems({ ...MIXED, duration: 1e300 })).toEqual([expect.stringMatching(/^duration: .* is longer than the longest window, 3660d/)]);
    expect(problems({ ...MIXED, duration: '3000d', start: '9999-01-01T00:00:00Z' })).toEqual(['duration: the window would end after the year 9999']);
    expect(problems({ ...MIXED, duration: '365d', interval: '1ms' })).toEqual([expect.stringMatching(/^interval: 1ms over 365d is 31,536,000,000 intervals .*at most 100,000/)]);
    expect(problems({ ...MIXED, duration: '365d', pollInterval: '1s' })).toEqual([expect.stringMatching(/^pollInterval: 1s over 365d is 31,536,000 polls per loop; at most 10,000,000/)]);
    expect(problems({ ...MIXED, arrivals: [{ type: 'mail', ratePerHour: 1e12 }] })).toEqual([expect.stringMatching(/^arrivals\[0\]\.ratePerHour: about 12,000,000,000,000 tasks expected over 12h; at most 10,000,000$/)]);
    expect(problems({ ...MIXED, tasks: [{ type: 'crawl', count: 1, spread: 1e300 }] })).toEqual(['tasks[0].spread: the tasks would be due after the year 9999']);
    expect(problems({ ...MIXED, duration: '3650d', interval: '1d' })).toEqual([]);
    // Polls and a prefetch the engine would refuse mid-run, named here instead (it said maxSleepMs or prefetch, after writing the store).
    for (const every of ['5ms', '30d']) expect(problems({ ...MIXED, pollInterval: every })).toEqual(['pollInterval: must be from 10ms to 2147483647ms (about 24.8 days, the longest timer)']);
    expect(problems({ ...MIXED, workers: [{ count: 1, concurrency: 1, prefetch: 2_000_000 }] })).toEqual(['workers[0].prefetch: at most 1000000']);
    // --duration is checked the same way, and the command exits 2 naming it.
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-horizon-'));
    dirs.push(dir);
    const file = join(dir, 'mixed.json');
    await writeFile(file, JSON.stringify(MIXED));
    const err: string[] = [];
    const code = await main(['simulate', file, '--duration', '10000000d', '--out', join(dir, 'out')], { out: () => {}, err: (t: string) => void err.push(t) });
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/duration: 10000000d is longer than the longest window/);
  });

  it('checks the tasks of populations and arrivals as createTask would, the store URL and missing durations, before anything runs', () => {
    const problems = (input: unknown) => {
      try {
        parseScenario(input);
      } catch (e) {
        return (e as ValidationError).details;
      }
      throw new Error('expected a ValidationError');
    };
    // Populations and an arrival each wrong as createTask would find them (checked in the second pass).
    const wrongTasks = {
      ...MIXED,
      taskTypes: [...MIXED.taskTypes!, { name: 'once', defaultIntervalMs: null }],
      tasks: [
        { type: 'crawl', count: 2 },
        { type: 'crawl', count: 2, schedule: { every: '1h' } },
        { type: 'crawl', count: 2, policy: 'oneshot', schedule: { kind: 'cron', expr: '0 * * * *' } },
        { type: 'once', count: 1, policy: 'recurring' },
      ],
      arrivals: [{ type: 'once', ratePerHour: 10, policy: 'recurring' }],
    };
    const bad = problems({ ...wrongTasks, store: 'mysql://db', handlers: { ...MIXED.handlers, once: { duration: { dist: 'uniform', min: 1 } } } });
    expect(bad).toEqual(
      expect.arrayContaining([
        { path: 'store', message: expect.stringContaining('sqlite::memory:') },
        { path: 'handlers.once.duration.max', message: expect.stringMatching(/^required/) },
      ]),
    );
    // The second pass runs only when the shapes are right.
    const second = problems({ ...wrongTasks, handlers: { ...MIXED.handlers, once: { duration: { dist: 'constant', value: 1 } } } });
    expect(second.map((d) => d.path).sort()).toEqual(['arrivals[0].policy', 'tasks[1].schedule.kind', 'tasks[2].schedule', 'tasks[3].policy']);
    // An arrival whose schedule runs out within the window (an rrule's UNTIL) is refused before the run, not when an arrival fails.
    const until = problems({ ...MIXED, arrivals: [{ type: 'crawl', policy: 'recurring', ratePerHour: 10, schedule: { kind: 'rrule', rule: 'RRULE:FREQ=MINUTELY;INTERVAL=5;UNTIL=20260302T030000Z' } }] });
    expect(until).toEqual([{ path: 'arrivals[0].schedule.rule', message: expect.stringMatching(/has no occurrence after .* \(arrivals come until the window's end, 2026-03-02T12:00:00.000Z\)$/) }]);
    // A window set by --duration is checked at its end as well: the arrivals' rrule lasts the file's 12h, not 2d
    // (the run died at the rrule's UNTIL, exit 2 half way, the store written).
    const lasting = { ...MIXED, arrivals: [{ type: 'crawl', policy: 'recurring', ratePerHour: 10, schedule: { kind: 'rrule', rule: 'RRULE:FREQ=MINUTELY;INTERVAL=5;UNTIL=20260303T000000Z' } }] };
    expect(() => overrideScenario(parseScenario(lasting), { duration: '12h' })).not.toThrow();
    let longer: ValidationError | null = null;
    try {
      overrideScenario(parseScenario(lasting), { duration: '2d' });
    } catch (e) {
      longer = e as ValidationError;
    }
    expect(longer?.details).toEqual([{ path: 'arrivals[0].schedule.rule', message: expect.stringMatching(/has no occurrence after .* \(arrivals come until the window's end, 2026-03-04T00:00:00.000Z\)$/) }]);
    // A task type with a problem is reported once, not again as unknown where it is used.
    const once = problems({ ...MIXED, taskTypes: [{ ...MIXED.taskTypes![0]!, leaseMs: 5 }, MIXED.taskTypes![1]!] });
    expect(once.map((d) => d.path)).toEqual(['taskTypes[0].leaseMs']);
  });

  it('orrery simulate writes summary.json, series.csv and report.html; a bad scenario exits 2 and runs nothing', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-'));
    dirs.push(dir);
    const small = { ...MIXED, duration: '6h', tasks: [{ type: 'crawl', count: 10, policy: 'recurring' }], arrivals: [] };
    await writeFile(join(dir, 'a.json'), JSON.stringify(small));
    await writeFile(join(dir, 'b.json'), JSON.stringify({ ...small, name: 'fewer', workers: [{ count: 1, concurrency: 1 }] }));
    await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...small, workers: [{ count: 1, concurrency: 'many' }] }));
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => void out.push(s), err: (s: string) => void err.push(s) };
    expect(await main(['simulate', join(dir, 'bad.json'), '--out', join(dir, 'bad-out')], io)).toBe(2);
    expect(err.join('')).toContain('workers[0].concurrency');
    await expect(readFile(join(dir, 'bad-out', 'summary.json'))).rejects.toThrow();
    expect(await main(['simulate', join(dir, 'missing.json')], io)).toBe(2);
    expect(await main(['simulate', join(dir, 'a.json'), '--seed', 'x'], io)).toBe(2);
    // Seeds go to 4294967295, as in the file.
    expect(await main(['simulate', join(dir, 'a.json'), '--seed', '4294967296'], io)).toBe(2);
    expect(err.join('')).toContain('at most 4294967295');
    // A schedule createTask would refuse, in the compared scenario too, and several problems at once: the
    // file and every field on the line; nothing runs, nothing is written.
    await writeFile(join(dir, 'cron.json'), JSON.stringify({ ...small, tasks: [{ type: 'crawl', count: 1, policy: 'oneshot', schedule: { kind: 'cron', expr: '0 * * * *' } }], arrivals: [{ type: 'nope', ratePerHour: 1 }] }));
    err.length = 0;
    expect(await main(['simulate', join(dir, 'a.json'), '--compare', join(dir, 'cron.json'), '--out', join(dir, 'bad-out')], io)).toBe(2);
    expect(err.join('')).toContain(`${join(dir, 'cron.json')}: tasks[0].schedule: a oneshot task runs once; cron and rrule schedules need policy "recurring"; arrivals[0].type: unknown task type "nope"`);
    // --out naming a file: exit 2 before the simulation runs, the file untouched.
    await writeFile(join(dir, 'a-file'), 'keep');
    err.length = 0;
    expect(await main(['simulate', join(dir, 'a.json'), '--out', join(dir, 'a-file')], io)).toBe(2);
    expect(err.join('')).toContain(`--out ${join(dir, 'a-file')}: not a directory`);
    expect(out.join('')).toBe('');
    expect(await readFile(join(dir, 'a-file'), 'utf8')).toBe('keep');
    await expect(readFile(join(dir, 'bad-out', 'summary.json'))).rejects.toThrow();
    // A directory that cannot be made: exit 2 at once (Node 20's recursive mkdir never returned for /proc/x).
    err.length = 0;
    expect(await main(['simulate', join(dir, 'a.json'), '--out', '/proc/orrery-no/such'], io)).toBe(2);
    expect(err.join('')).toContain('--out /proc/orrery-no/such: cannot create the directory (ENOENT)');
    // A dangling symbolic link: refused before the run, not after it (mkdir's EEXIST was taken for a directory).
    await symlink(join(dir, 'nowhere'), join(dir, 'dangling'));
    err.length = 0;
    expect(await main(['simulate', join(dir, 'a.json'), '--out', join(dir, 'dangling')], io)).toBe(2);
    expect(err.join('')).toContain(`--out ${join(dir, 'dangling')}: cannot create the directory (ENOENT)`);

    const errorsBefore = err.length;
    const code = await main(['simulate', join(dir, 'a.json'), '--out', join(dir, 'out'), '--seed', '4294967295', '--duration', '4h', '--compare', join(dir, 'b.json')], io);
    expect(err.slice(errorsBefore).join('')).toBe('');
    expect(code).toBe(0);
    const summary = JSON.parse(await readFile(join(dir, 'out', 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ scenario: 'mixed', seed: 4294967295, simulated: { from: '2026-03-02T00:00:00.000Z', to: '2026-03-02T04:00:00.000Z' } });
    expect(Object.keys(summary.byType.crawl)).toEqual(expect.arrayContaining(['runs', 'lagMs', 'queue', 'finalIntervalMs']));
    const csv = (await readFile(join(dir, 'out', 'series.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('interval_start,type,queue_mean,queue_max,running_mean,started,eventful,uneventful,failed,permfailed,lost,lag_p50_ms,lag_p95_ms,lag_p99_ms,utilization');
    expect(csv).toHaveLength(1 + 4 * 2);
    const html = await readFile(join(dir, 'out', 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('simulated time (hours since start)');
    expect(html).toContain('fewer');
    expect(html).toContain('stroke-dasharray');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('--compare with --db, or two scenarios naming the same store, exits 2 before anything runs: each simulation needs an empty store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-compare-db-'));
    dirs.push(dir);
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    await writeFile(a, JSON.stringify(MIXED));
    await writeFile(b, JSON.stringify({ ...MIXED, name: 'other' }));
    const run = async (args: string[]) => {
      const err: string[] = [];
      const code = await main(['simulate', a, '--compare', b, '--out', join(dir, 'out'), ...args], { out: () => {}, err: (t: string) => void err.push(t) });
      return { code, err: err.join('') };
    };
    // Before: the first scenario ran into the file, then the second was refused (exit 2, nothing written).
    expect(await run(['--db', `sqlite:${join(dir, 'f.db')}`])).toEqual({ code: 2, err: expect.stringContaining('--db: --compare runs two simulations and each needs an empty store') });
    await writeFile(b, JSON.stringify({ ...MIXED, name: 'other', store: `sqlite:${join(dir, 'f.db')}` }));
    await writeFile(a, JSON.stringify({ ...MIXED, store: `sqlite:${join(dir, 'f.db')}` }));
    expect(await run([])).toEqual({ code: 2, err: expect.stringContaining('store: both scenarios write to sqlite:') });
    // The same file spelled another way (a bare path) is the same store.
    await writeFile(b, JSON.stringify({ ...MIXED, name: 'other', store: join(dir, '.', 'f.db') }));
    expect(await run([])).toEqual({ code: 2, err: expect.stringContaining('store: both scenarios write to sqlite:') });
    expect((await readdir(dir)).sort()).toEqual(['a.json', 'b.json']);
    // Through a symlink too (of the file, or of its directory): the first simulation ran, then the second was refused (small docs audit).
    await writeFile(join(dir, 'f.db'), '');
    await symlink(join(dir, 'f.db'), join(dir, 'link.db'));
    await symlink(dir, join(dir, 'sub'));
    for (const other of [join(dir, 'link.db'), join(dir, 'sub', 'f.db')]) {
      await writeFile(b, JSON.stringify({ ...MIXED, name: 'other', store: `sqlite:${other}` }));
      expect(await run([])).toEqual({ code: 2, err: expect.stringContaining('store: both scenarios write to sqlite:') });
    }
    expect((await stat(join(dir, 'f.db'))).size).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['a.json', 'b.json', 'f.db', 'link.db', 'sub']);
    // A symlink to a store not made yet (a fresh store's usual state) is followed too: the first ran into
    // the file, then the second was refused for holding its rows (cli audit).
    await writeFile(a, JSON.stringify({ ...MIXED, store: `sqlite:${join(dir, 'fresh.db')}` }));
    await symlink(join(dir, 'fresh.db'), join(dir, 'fresh-link.db'));
    await writeFile(b, JSON.stringify({ ...MIXED, name: 'other', store: `sqlite:${join(dir, 'fresh-link.db')}` }));
    expect(await run([])).toEqual({ code: 2, err: expect.stringContaining('store: both scenarios write to sqlite:') });
    expect((await readdir(dir)).sort()).toEqual(['a.json', 'b.json', 'f.db', 'fresh-link.db', 'link.db', 'sub']);
    // One PostgreSQL database spelled two ways (postgresql:, the default port given): the first ran, then the second was refused (simulate audit).
    const pg = await createTestDatabase('sim-spelling');
    try {
      const u = new URL(pg.url);
      const other = `postgresql://${u.username}:${u.password}@${u.hostname.toUpperCase()}:${u.port || '5432'}${u.pathname}`;
      await writeFile(a, JSON.stringify({ ...MIXED, store: pg.url }));
      await writeFile(b, JSON.stringify({ ...MIXED, name: 'other', store: other }));
      expect(await run([])).toEqual({ code: 2, err: expect.stringContaining('store: both scenarios write to postgres') });
      // Another name of the same host (localhost and 127.0.0.1): the server is asked whether it is one database.
      const alias = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname === '127.0.0.1' ? 'localhost' : u.hostname;
      await writeFile(b, JSON.stringify({ ...MIXED, name: 'other', store: `postgres://${u.username}:${u.password}@${alias}:${u.port || '5432'}${u.pathname}` }));
      expect(await run([])).toEqual({ code: 2, err: expect.stringContaining('store: both scenarios write to postgres') });
      // Two databases of one server are two stores: no refusal for sharing (both are empty, so both run).
      const pg2 = await createTestDatabase('sim-spelling-2');
      try {
        await writeFile(a, JSON.stringify({ ...MIXED, duration: '10m', store: pg.url }));
        await writeFile(b, JSON.stringify({ ...MIXED, duration: '10m', name: 'other', store: pg2.url }));
        expect(await run([])).toEqual({ code: 0, err: '' });
      } finally {
        await pg2.drop();
      }
    } finally {
      await pg.drop();
    }
  });

  it('finds a --compare store holding data and files in the way in --out before anything runs, naming them; the library checks a scenario whose start is a Date (simulate audit)', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-before-'));
    dirs.push(dir);
    const small = { ...MIXED, duration: '1h' };
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    const cli = async (args: string[]) => {
      const err: string[] = [];
      const code = await main(['simulate', ...args], { out: () => {}, err: (t: string) => void err.push(t) });
      return { code, err: err.join('') };
    };
    // A store that holds an earlier simulation, named by the --compare scenario: refused naming its file,
    // before the first ran into its own store and before --out was made.
    await writeFile(join(dir, 'held.json'), JSON.stringify({ ...small, store: `sqlite:${join(dir, 'held.db')}` }));
    expect((await cli([join(dir, 'held.json'), '--out', join(dir, 'held-out')])).code).toBe(0);
    await writeFile(a, JSON.stringify({ ...small, store: `sqlite:${join(dir, 'fresh.db')}` }));
    await writeFile(b, JSON.stringify({ ...small, name: 'other', store: `sqlite:${join(dir, 'held.db')}` }));
    const held = await cli([a, '--compare', b, '--out', join(dir, 'out')]);
    expect(held).toEqual({ code: 2, err: expect.stringContaining(`${b}: store: the simulation needs an empty database`) });
    expect((await readdir(dir)).filter((f) => f.startsWith('fresh') || f === 'out')).toEqual([]);
    // A --db that cannot be opened: exit 2 naming it as before, and no --out made either.
    expect(await cli([a, '--db', 'foo:bar', '--out', join(dir, 'out')])).toEqual({ code: 2, err: expect.stringContaining('db: unsupported database URL "foo:bar"') });
    expect((await readdir(dir)).includes('out')).toBe(false);
    // Something in the way inside --out: exit 2 naming --out before the run (it was EISDIR after it, exit 1).
    await writeFile(join(dir, 'mem.json'), JSON.stringify(small));
    for (const [inTheWay, make] of [
      ['summary.json is a directory there', (d: string) => mkdir(join(d, 'summary.json'), { recursive: true })],
      ['charts is a file there', (d: string) => writeFile(join(d, 'charts'), '')],
      // A directory where a chart goes: the write failed after the run (a raw EISDIR, exit 1: simulate audit).
      ['charts/queue-length.svg is a directory there', (d: string) => mkdir(join(d, 'charts', 'queue-length.svg'), { recursive: true })],
    ] as const) {
      const out = await mkdtemp(join(dir, 'out-'));
      await make(out);
      expect(await cli([join(dir, 'mem.json'), '--out', out])).toEqual({ code: 2, err: expect.stringContaining(`--out ${out}: ${inTheWay}`) });
    }
    // The library: a start given as a Date is checked like the rest (it skipped every check: a TypeError, or a negative seed ran).
    await expect(runSimulation({ ...small, start: new Date('2026-03-02T00:00:00Z'), seed: -5 })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'seed' }] });
    await expect(runSimulation({ ...small, start: new Date('x') })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'start', message: 'must be an ISO 8601 instant' }] });
    expect((await runSimulation({ ...small, start: new Date('2026-03-02T00:00:00Z') })).summary.simulated.from).toBe('2026-03-02T00:00:00.000Z');
    // An onProgress that throws fails the call with its error (it ended the process); one that is no function, or an unknown option, is refused first.
    await expect(runSimulation(small, { onProgress: () => { throw new Error('progress boom'); } })).rejects.toThrow('progress boom');
    await expect(runSimulation(small, { onProgress: 5 as never })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'onProgress' }] });
    await expect(runSimulation(small, { realtime: true } as never)).rejects.toThrow(/^options\.realtime: unknown field/);
    // Flags are booleans (realTime: 'false' ran in real time), and onProgress comes at the end of each interval
    // and at the window's end (it came at 5/6 of each, none for a last partial interval: simulate audit).
    await expect(runSimulation(small, { realTime: 'false' } as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'realTime' }] });
    await expect(runSimulation(small, { verifyShortCuts: 1 } as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'verifyShortCuts' }] });
    const seen: string[] = [];
    await runSimulation({ ...small, duration: '50m', interval: '20m' }, { onProgress: (p) => void seen.push(p.at.toISOString()) });
    expect(seen).toEqual(['2026-03-02T00:20:00.000Z', '2026-03-02T00:40:00.000Z', '2026-03-02T00:50:00.000Z']);
    const once: string[] = [];
    await runSimulation({ ...small, duration: '10m', interval: '1h' }, { onProgress: (p) => void once.push(p.at.toISOString()) });
    expect(once).toEqual(['2026-03-02T00:10:00.000Z']);
    // writeSimulation checks what it is given before it makes the directory (a TypeError, the directory left empty).
    const result = await runSimulation({ ...small, duration: '10m' });
    for (const [args, path] of [[[null], 'result'], [[{}], 'result'], [[result, {}], 'compare'], [[result, result.summary], 'compare']] as const) {
      const target = join(dir, `w-${path}-${String(args.length)}-${Math.random()}`);
      await expect(writeSimulation(target, ...(args as unknown as [never, never]))).rejects.toMatchObject({ code: 'validation_error', details: [{ path }] });
      expect(existsSync(target)).toBe(false);
    }
    // A SQLite store in a directory that does not exist is found before --out is made (exit 1, the directory was left empty).
    const outMissing = join(dir, 'out-missing-store');
    expect(await cli([join(dir, 'mem.json'), '--db', `sqlite:${join(dir, 'no-such-dir', 'x.db')}`, '--out', outMissing])).toEqual({ code: 1, err: expect.stringContaining('no-such-dir does not exist') });
    expect(existsSync(outMissing)).toBe(false);
  });

  it('samples the queue six times per interval from the window\'s start, and counts only what happens before its end', { timeout: 60_000 }, async () => {
    // 10 one-shot tasks due at the start, one slot, a minute each: 10 wait at the start, 1 less each minute.
    const short = (interval: string): ScenarioInput => ({
      name: 'short',
      start: '2026-03-02T00:00:00Z',
      duration: '2h',
      interval,
      taskTypes: [{ name: 't', maxQueueLength: null }],
      tasks: [{ type: 't', count: 10, policy: 'oneshot' }],
      handlers: { t: { duration: { dist: 'constant', value: '1m' } } },
      workers: [{ count: 1, concurrency: 1 }],
    });
    const hourly = await runSimulation(short('1h'));
    // Samples at 0, 10, 20, 30, 40, 50 min in the first hour: 9 waiting at 0 beside the one begun at once
    // (before: 0, the first sample came at 10 min, when all were done)
    expect(hourly.summary.byType.t!.queue.max).toBe(9);
    expect(hourly.series.filter((r) => r.type === 't').map((r) => r.queueMax)).toEqual([9, 0]);
    // An interval longer than the window: one sample, at the start (before: none at all).
    const daily = await runSimulation(short('1d'));
    expect(daily.summary.byType.t!.queue.max).toBe(9);
    // A cron task due every 5 hours over 20 hours: the run at 20:00 is the next window's.
    const cron = await runSimulation({
      name: 'cron',
      start: '2026-03-02T00:00:00Z',
      duration: '20h',
      taskTypes: [{ name: 'c' }],
      tasks: [{ type: 'c', count: 1, schedule: { kind: 'cron', expr: '0 */5 * * *', tz: 'UTC' } }],
      handlers: { c: { duration: { dist: 'constant', value: '1m' } } },
      workers: [{ count: 1, concurrency: 1 }],
    });
    expect(cron.summary.runs.total).toBe(4);
    expect(cron.series.reduce((n, r) => n + r.started, 0)).toBe(4);
  });

  it('report charts of a window shorter than one interval still show their one point per line', async () => {
    const r = await runSimulation({ ...MIXED, duration: '20m', tasks: [{ type: 'crawl', count: 5, policy: 'recurring' }], arrivals: [] });
    expect(r.series).toHaveLength(2);
    for (const c of reportCharts(r)) expect(c.svg.match(/<circle /g) ?? [], c.file).toHaveLength(c.file === 'utilization.svg' ? 1 : 2);
  });

  it('the virtual clock agrees with real time: the same scenario compressed to 3 s gives run counts within 25% and mean lags within 100 ms', { timeout: 30_000 }, async () => {
    // 2 slots, about 60 arrivals in 3 s, 20 ms mean handlers (utilization about 0.2). Tolerances: run
    // counts within 25% (real timers fire late on a busy machine, so the last arrivals and ends of the
    // window may slip past its end: 17% was seen at load 20 on 2 cores), mean lag within 100 ms (the real engine's own latency and timer
    // granularity on a shared 2-core machine).
    const s: ScenarioInput = {
      name: 'compressed',
      duration: '3s',
      seed: 5,
      taskTypes: [{ name: 'job', maxQueueLength: null }],
      arrivals: [{ type: 'job', ratePerHour: 20 * 3600 }],
      handlers: { job: { duration: { dist: 'exponential', mean: 20 } } },
      workers: [{ count: 1, concurrency: 2 }],
      pollInterval: '1s',
    };
    const virtual = await runSimulation(s);
    const real = await runSimulation(s, { realTime: true });
    const v = virtual.summary.byType.job!;
    const r = real.summary.byType.job!;
    expect(v.runs).toBeGreaterThan(30);
    expect(Math.abs(r.runs - v.runs)).toBeLessThanOrEqual(Math.ceil(v.runs * 0.25));
    expect(Math.abs(r.lagMs.mean - v.lagMs.mean)).toBeLessThan(100);
  });
});
