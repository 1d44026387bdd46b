/**
 * DAGs and visits in scenarios (docs/simulate.md#dags-and-visits): validation naming the field, DAG
 * runs on their schedules with per-task models, listers and origins that change as Poisson processes,
 * the visit-scheduler, and what summary.json and series.csv say of them. SQLite in memory.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { renderReport } from '../../src/simulate/report.js';
import { overrideScenario } from '../../src/simulate/scenario.js';
import { parseScenario, runSimulation, seriesCsv, summaryJson, ValidationError, type ScenarioInput } from '../../src/index.js';

const DAGS: ScenarioInput = {
  name: 'dags',
  start: '2026-04-06T00:00:00Z',
  duration: '12h',
  seed: 9,
  taskTypes: [{ name: 'warehouse', backendName: 'orrery.dag', leaseMs: '1m' }],
  handlers: {},
  dags: [
    {
      id: 'hourly',
      schedule: { every: '1h' },
      defaults: { retries: 1, retryDelay: '2m' },
      tasks: [
        { id: 'extract', duration: { dist: 'constant', value: '5m' } },
        { id: 'load', after: ['extract'], type: 'warehouse', duration: { dist: 'constant', value: '2m' }, failed: 0.3 },
      ],
    },
    { id: 'never-ok', schedule: { every: '4h' }, tasks: [{ id: 'only', duration: { dist: 'constant', value: '1m' }, permfailed: 1 }] },
  ],
  workers: [{ count: 2, concurrency: 1 }],
};

/** Origins that never change after they are listed: only a first visit can be eventful. */
const FROZEN: ScenarioInput = {
  name: 'frozen',
  start: '2026-04-06T00:00:00Z',
  duration: '6h',
  seed: 4,
  taskTypes: [{ name: 'git', maxQueueLength: null }],
  handlers: { git: { duration: { dist: 'constant', value: '30s' } } },
  visits: {
    listers: [{ name: 'gh', visitType: 'git', initial: 40, ratePerHour: 6, changeInterval: { dist: 'constant', value: '100000d' }, notFound: 0.1 }],
    queues: [{ visitType: 'git', size: 10, cooldowns: { absolute: '20m', scheduled: '20m', notFound: '20m' } }],
  },
  workers: [{ count: 1, concurrency: 4 }],
};

const withoutWall = (json: string) => json.replace(/"(wallMs|runsPerWallSecond)": \d+/g, '"$1": 0');

describe('simulate: DAGs and visits', () => {
  it('rejects bad DAGs and visits with every problem named by its field (the command exits 2 and runs nothing)', async () => {
    let err: unknown;
    try {
      parseScenario({
        ...DAGS,
        dags: [
          { id: 'a', tasks: [{ id: 'x', after: ['y'], duration: { dist: 'constant', value: 1 } }] },
          { id: 'b', schedule: { every: '1h' }, tasks: [{ id: 'x', duration: { dist: 'exponential' }, failed: 2 }] },
          { id: 'c', schedule: { every: '1h' }, tasks: [{ id: 'x', duration: { dist: 'constant', value: 1 }, failed: 0.7, crash: 0.7 }] },
        ],
        visits: {
          listers: [{ name: 'gh', visitType: 'nope', changeInterval: { dist: 'constant', value: '1d' }, notFound: 0.7, failed: 0.6 }],
          queues: [{ visitType: 'warehouse', lister: 'gl', policies: [{ policy: 'newest', weight: 1 }] }],
        },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    const paths = (err as ValidationError).details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['dags[1].tasks[0].duration.mean', 'dags[1].tasks[0].failed', 'visits.queues[0].policies[0].policy']));
    // As a task type's handler model: the probabilities of a DAG task add up to at most 1.
    expect((err as ValidationError).details.find((d) => d.path === 'dags[2].tasks[0].failed')?.message).toBe('failed + permfailed + crash must be at most 1');
    let second: unknown;
    try {
      parseScenario({
        ...DAGS,
        dags: [{ id: 'a', tasks: [{ id: 'x', after: ['y'], duration: { dist: 'constant', value: 1 } }] }],
        visits: {
          listers: [{ name: 'gh', visitType: 'nope', changeInterval: { dist: 'constant', value: '1d' }, notFound: 0.7, failed: 0.6 }],
          queues: [{ visitType: 'warehouse', lister: 'gl' }],
        },
      });
    } catch (e) {
      second = e;
    }
    const details = (second as ValidationError).details;
    expect(details.map((d) => d.path)).toEqual(
      expect.arrayContaining(['dags[0].tasks[0].after[0]', 'visits.listers[0].visitType', 'visits.listers[0].notFound', 'visits.queues[0].lister', 'handlers.warehouse']),
    );
    expect(details.find((d) => d.path === 'dags[0].tasks[0].after[0]')!.message).toContain('unknown task "y"');

    // The command: exit 2 naming the field, nothing written.
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-world-'));
    try {
      await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...FROZEN, visits: { ...FROZEN.visits, queues: [{ visitType: 'git', lister: 'gl' }] } }));
      const err: string[] = [];
      const code = await main(['simulate', join(dir, 'bad.json'), '--out', join(dir, 'out')], { out: () => {}, err: (t: string) => void err.push(t) });
      expect(code).toBe(2);
      expect(err.join('')).toContain('visits.queues[0].lister: unknown lister "gl"');
      expect(await readdir(dir)).toEqual(['bad.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('runs DAGs on their schedules with each task’s model: runs, retries, failures, their types in the series; the same seed gives the same files', { timeout: 120_000 }, async () => {
    const a = await runSimulation(DAGS);
    const s = a.summary;
    // Points at 00:00 .. 11:00 (every hour) and 00:00, 04:00, 08:00 (every 4 hours), the last ones finishing in the window.
    expect(s.dags!.hourly!.runs).toBe(12);
    expect(s.dags!.hourly!.success + s.dags!.hourly!.failed + s.dags!.hourly!.unfinished).toBe(12);
    expect(s.dags!.hourly!.success).toBeGreaterThanOrEqual(9);
    expect(s.dags!['never-ok']).toMatchObject({ runs: 3, success: 0, failed: 3 });
    expect(renderReport(a)).toContain('DAG hourly: runs (success / failed / unfinished)');
    // A successful run takes at least its two tasks' durations back to back.
    expect(s.dags!.hourly!.durationMs!.p50).toBeGreaterThanOrEqual(7 * 60_000);
    expect(s.byType.warehouse!.ended.failed).toBeGreaterThan(0); // load failed and was retried
    expect(s.byType['orrery.dag']!.ended.permfailed).toBe(3);
    expect(a.series.some((r) => r.type === 'warehouse' && r.started > 0)).toBe(true);
    const b = await runSimulation(DAGS);
    expect(withoutWall(summaryJson(b.summary))).toBe(withoutWall(summaryJson(s)));
    expect(seriesCsv(b.series)).toBe(seriesCsv(a.series));
  });

  it('an origin changing every millisecond over a day is played without stepping each change, and a DAG run created at the window\'s end is not counted', { timeout: 120_000 }, async () => {
    const { summary } = await runSimulation({
      name: 'churn',
      start: '2026-04-06T00:00:00Z',
      duration: '1d',
      seed: 5,
      taskTypes: [{ name: 'git', maxQueueLength: null }, { name: 'other' }],
      handlers: { git: { duration: { dist: 'constant', value: '1s' } }, other: { duration: { dist: 'constant', value: '1s' } } },
      visits: {
        listers: [{ name: 'gh', visitType: 'git', initial: 200, changeInterval: { dist: 'constant', value: 1 } }],
        queues: [{ visitType: 'git', size: 50, cooldowns: { absolute: '1h', scheduled: '1h' } }],
      },
      // The DAG's tasks are served by no worker: its runs stay unfinished, one created each hour.
      dags: [{ id: 'd', schedule: { every: '1h' }, tasks: [{ id: 't', duration: { dist: 'constant', value: '1s' } }] }],
      workers: [{ count: 1, concurrency: 4, types: ['git', 'other'] }],
    });
    // Before: 200 origins x 86,400,000 changes stepped one by one (hours); the run at 24:00 counted (25).
    const v = summary.visits!;
    expect(v.visits.successful).toBeGreaterThan(200);
    expect(v.visits.eventful).toBe(v.visits.successful); // every visit finds a change
    expect(summary.dags!.d).toMatchObject({ runs: 24, success: 0, failed: 0, unfinished: 24 });
  });

  it('a scenario of DAGs only needs no taskTypes; without DAGs, at least one task type', { timeout: 60_000 }, async () => {
    const { summary } = await runSimulation({
      name: 'dag-only',
      duration: '1d',
      handlers: {},
      workers: [{ count: 1, concurrency: 1 }],
      dags: [{ id: 'd', schedule: { every: '1h' }, tasks: [{ id: 't', duration: { dist: 'constant', value: '1s' } }] }],
    });
    // Before: taskTypes: at least one task type
    expect(summary.dags!.d).toMatchObject({ runs: 24, success: 24 });
    expect(() => parseScenario({ name: 'none', duration: '1d', handlers: {}, workers: [{ count: 1, concurrency: 1 }] })).toThrow('taskTypes: at least one task type (or a DAG in dags)');
  });

  it('crawls listed origins through the visit-scheduler: a visit is eventful only when its origin changed, and the summary and series count them', { timeout: 120_000 }, async () => {
    const a = await runSimulation(FROZEN);
    const v = a.summary.visits!;
    expect(v.known).toBeGreaterThan(40); // the 40 of the start and those listed since
    expect(v.enabled).toBeLessThanOrEqual(v.known);
    expect(v.visits.total).toBe(a.summary.runs.total);
    expect(v.visits.notFound).toBeGreaterThan(0);
    expect(v.visits.successful).toBeGreaterThan(v.known); // origins were visited again after their cooldown
    // Nothing changes after listing: each origin's first successful visit is its only eventful one.
    expect(v.visits.eventful).toBe(v.known - v.neverVisited);
    expect(v.withPendingChanges).toBe(0);
    const csv = seriesCsv(a.series).split('\n');
    expect(csv[0]).toContain('visits_successful,visits_failed,visits_not_found,visits_eventful');
    const sum = a.series.reduce((n, r) => n + (r.visits?.successful ?? 0), 0);
    expect(sum).toBe(v.visits.successful);
    const html = renderReport(a);
    expect(html).toContain('Successful visits per interval');
    expect(html).toContain('mean staleness');
    const b = await runSimulation(FROZEN);
    expect(withoutWall(summaryJson(b.summary))).toBe(withoutWall(summaryJson(a.summary)));
    expect(seriesCsv(b.series)).toBe(seriesCsv(a.series));
  });

  it('visits of changing origins without lastUpdate (queue positions jittered) are the same for the same seed', { timeout: 120_000 }, async () => {
    // origins_without_last_update orders by queue positions that recorded visits jitter: the jitter
    // came from Math.random, so two runs visited different origins from the second round on.
    const CHANGING: ScenarioInput = {
      ...FROZEN,
      name: 'changing',
      duration: '8h',
      visits: {
        listers: [{ name: 'gh', visitType: 'git', initial: 60, changeInterval: { dist: 'constant', value: '30m' }, reportsLastUpdate: false }],
        queues: [{ visitType: 'git', size: 6, policies: [{ policy: 'origins_without_last_update', weight: 1 }], cooldowns: { absolute: '10m', scheduled: '10m' } }],
      },
    };
    const a = await runSimulation(CHANGING);
    expect(a.summary.visits!.visits.eventful).toBeGreaterThan(60);
    const b = await runSimulation(CHANGING);
    expect(seriesCsv(b.series)).toBe(seriesCsv(a.series));
    expect(withoutWall(summaryJson(b.summary))).toBe(withoutWall(summaryJson(a.summary)));
  });

  it('the example scenarios are valid, and the crawler and the DAG pipeline run their visits and DAGs', { timeout: 180_000 }, async () => {
    const dir = join(import.meta.dirname, '..', '..', 'examples', 'simulations');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(files).toEqual(expect.arrayContaining(['swh-crawler.json', 'dag-pipeline.json']));
    const scenarios = new Map(await Promise.all(files.map(async (f) => [f, parseScenario(JSON.parse(await readFile(join(dir, f), 'utf8')))] as const)));
    const crawler = await runSimulation(overrideScenario(scenarios.get('swh-crawler.json')!, { duration: '2h' }));
    expect(crawler.summary.visits!.known).toBeGreaterThanOrEqual(22_000);
    expect(crawler.summary.visits!.visits.successful).toBeGreaterThan(500);
    expect(crawler.summary.visits!.visits.notFound + crawler.summary.visits!.visits.failed).toBeGreaterThan(0);
    const pipeline = await runSimulation(overrideScenario(scenarios.get('dag-pipeline.json')!, { duration: '1d' }));
    expect(pipeline.summary.dags!['nightly-etl']).toMatchObject({ runs: 1, success: 1 });
    expect(pipeline.summary.dags!['hourly-report']!.runs).toBe(24);
    expect(pipeline.summary.byType.export!.runs).toBeGreaterThan(300);
  });

  it('refuses cooldowns the visit-scheduler would refuse, fractions and durations beyond 100 years, naming the field (the command exits 2 and runs nothing)', async () => {
    const problems = (input: ScenarioInput) => {
      try {
        parseScenario(input);
        return [];
      } catch (e) {
        return (e as ValidationError).details.map((d) => `${d.path}: ${d.message}`);
      }
    };
    // Before: accepted, then every visit-scheduler pass failed and the forecast had no visit.
    const q = FROZEN.visits!.queues[0]!;
    expect(problems({ ...FROZEN, visits: { ...FROZEN.visits!, queues: [{ ...q, cooldowns: { absolute: 1000.5, scheduled: 4e12, failed: '73000d', notFound: '1d' } }] } })).toEqual([
      'visits.queues[0].cooldowns.absolute: must be a whole number of milliseconds',
      'visits.queues[0].cooldowns.scheduled: must be a non-negative number of milliseconds, at most 100 years',
      'visits.queues[0].cooldowns.failed: must be a non-negative number of milliseconds, at most 100 years',
    ]);
    const l = FROZEN.visits!.listers[0]!;
    expect(problems({ ...FROZEN, restartDelay: 4e12, handlers: { git: { duration: { dist: 'constant', value: 0.5 }, retryAfterDelay: '73000d' } }, visits: { ...FROZEN.visits!, listers: [{ ...l, relistEvery: 1.5 }] } })).toEqual([
      'restartDelay: must be at most 100 years',
      'handlers.git.duration.value: must be a whole number of milliseconds',
      'handlers.git.retryAfterDelay: must be at most 100 years',
      'visits.listers[0].relistEvery: must be a whole number of milliseconds',
    ]);
    // Each relisting lists every origin again: a tiny period over the window would list them billions of times (it ran without end).
    expect(problems({ ...FROZEN, visits: { ...FROZEN.visits!, listers: [{ ...l, relistEvery: '1ms' }] } })).toEqual([
      'visits.listers[0].relistEvery: 1ms over 6h lists about 1,641,600,000 origins in all (relistings times the lister\'s origins); at most 10,000,000: choose a longer period',
    ]);
    expect(problems({ ...FROZEN, visits: { ...FROZEN.visits!, listers: [{ ...l, relistEvery: '1m' }] } })).toEqual([]);
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-cooldown-'));
    try {
      await writeFile(join(dir, 'bad.json'), JSON.stringify({ ...FROZEN, visits: { ...FROZEN.visits, queues: [{ ...q, cooldowns: { absolute: 1000.5 } }] } }));
      const err: string[] = [];
      const code = await main(['simulate', join(dir, 'bad.json'), '--out', join(dir, 'out')], { out: () => {}, err: (t: string) => void err.push(t) });
      expect(code).toBe(2);
      expect(err.join('')).toContain('visits.queues[0].cooldowns.absolute: must be a whole number of milliseconds');
      expect(await readdir(dir)).toEqual(['bad.json']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('records every listing at the start and every relisting as finished, a lister of one origin too', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-relist-'));
    try {
      const db = join(dir, 'one.db');
      const one: ScenarioInput = {
        ...FROZEN,
        store: `sqlite:${db}`,
        visits: {
          listers: [{ name: 'gh', visitType: 'git', initial: 1, changeInterval: { dist: 'constant', value: '36500d' }, relistEvery: '1h' }],
          queues: [{ visitType: 'git', size: 10, lister: 'gh', policies: [{ policy: 'first_visits_after_listing', weight: 1 }], cooldowns: { absolute: '1m', scheduled: '1m' } }],
        },
      };
      const a = await runSimulation(one);
      // Listed at 00:00 and relisted every hour: one visit after each listing in the window (before: only the first).
      expect(a.summary.visits!.visits.successful).toBe(6);
      const sqlite = new Database(db, { readonly: true });
      try {
        expect(sqlite.prepare('SELECT last_listing_finished_at AS at FROM listers').all()).toEqual([{ at: Date.parse('2026-04-06T06:00:00Z') }]); // the last at the window's end
      } finally {
        sqlite.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('counts a visit task retried after failures as one visit, as the store records it, and never-visited origins as stale', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orrery-sim-retries-'));
    try {
      const db = join(dir, 'retries.db');
      const a = await runSimulation({
        ...FROZEN,
        store: `sqlite:${db}`,
        taskTypes: [{ name: 'git', maxQueueLength: null, numRetries: 2, retryDelayMs: '1m' }],
        handlers: { git: { duration: { dist: 'constant', value: '30s' }, failed: 0.5 } },
      });
      const v = a.summary.visits!;
      const sqlite = new Database(db, { readonly: true });
      let stored: Record<string, number>;
      try {
        stored = Object.fromEntries((sqlite.prepare('SELECT status, count(*) AS n FROM origin_visits GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]));
      } finally {
        sqlite.close();
      }
      // Before: every failed run was counted (401 failed visits where the store held 61).
      expect(a.summary.runs.failed).toBeGreaterThan(v.visits.failed);
      expect({ successful: v.visits.successful, failed: v.visits.failed, notFound: v.visits.notFound }).toEqual({ successful: stored.successful, failed: stored.failed, notFound: stored.not_found });
      expect(a.series.reduce((n, r) => n + (r.visits?.failed ?? 0), 0)).toBe(stored.failed);
      expect(v.neverVisited).toBeGreaterThan(0);
      expect(v.meanStalenessMs).toBeGreaterThan(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
