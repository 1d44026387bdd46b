/**
 * The scenario of the issue, replayed through the built `orrery` binary against a real SQLite file:
 * task types, tasks, one runner pass, runs started and ended from outside at explicit instants, and
 * the end-of-run formula (SPEC §2.1) checked through `task show --json` with exact values.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DAY, HOUR, errorLines, iso, removeTempDirs, runCli, runJson, runOk, tempDb, UUID, type TempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

const T0 = '2026-01-01T00:00:00.000Z';
/** Default end instant of the first round. */
const E1 = '2026-01-01T06:00:00.000Z';

interface Plan {
  /** `task add` arguments after the type. */
  add: string[];
  type: 'load-git' | 'clamped';
  status: 'eventful' | 'uneventful' | 'failed' | 'permfailed';
  /** When the run ends (it starts 10 s earlier, well inside the 30 s lease). */
  end: string;
}

const PLANS = {
  eventful: { type: 'load-git', add: ['https://example.org/e.git', 'depth=2'], status: 'eventful', end: E1 },
  uneventful: { type: 'load-git', add: ['https://example.org/u.git', 'depth=2'], status: 'uneventful', end: E1 },
  failed: { type: 'load-git', add: ['https://example.org/f.git'], status: 'failed', end: E1 },
  oneshotFailed: { type: 'load-git', add: ['https://example.org/o.git', '--policy', 'oneshot', '--retries', '0'], status: 'failed', end: E1 },
  permfailed: { type: 'load-git', add: ['https://example.org/p.git'], status: 'permfailed', end: E1 },
  // 03:00 in Warsaw is 02:00Z in winter (CET) and 01:00Z in summer (CEST).
  cronWinter: { type: 'load-git', add: ['https://example.org/c1.git', '--cron', '0 3 * * *', '--tz', 'Europe/Warsaw'], status: 'eventful', end: '2026-01-01T02:00:00.000Z' },
  cronSummer: { type: 'load-git', add: ['https://example.org/c2.git', '--cron', '0 3 * * *', '--tz', 'Europe/Warsaw'], status: 'uneventful', end: '2026-07-15T00:30:00.000Z' },
  clampedUneventful: { type: 'clamped', add: ['https://example.org/cu.git'], status: 'uneventful', end: E1 },
} satisfies Record<string, Plan>;
type Name = keyof typeof PLANS;
const NAMES = Object.keys(PLANS) as Name[];

describe('the issue scenario: types, tasks, schedule, run start/end, task show', () => {
  let db: TempDb;
  const ids = {} as Record<Name, number>;
  const firstRun = {} as Record<Name, string>;
  const show = (name: Name) => runJson(['task', 'show', String(ids[name]), '--json', ...db.db]);

  beforeAll(async () => {
    db = tempDb();
    // The first command creates the schema on its own; later ones may run in parallel.
    expect(
      await runOk(
        ['task-type', 'add', 'load-git', '--default-interval', '1d', '--min-interval', '12h', '--max-interval', '64d', '--backoff-factor', '2', '--num-retries', '1', '--retry-delay', '1h', ...db.db],
      ),
    ).toBe('created task type load-git (backend load-git)\n');
    await runOk(['task-type', 'add', 'clamped', '--default-interval', '1d', '--min-interval', '18h', '--max-interval', '1d12h', '--backoff-factor', '2', ...db.db]);
  });

  test('task add creates each task with the type defaults', async () => {
    const created = await Promise.all(
      NAMES.map((n) => runJson(['task', 'add', PLANS[n].type, ...PLANS[n].add, '--next-run', '2026-01-01T00:00:00Z', '--json', ...db.db])),
    );
    NAMES.forEach((n, i) => (ids[n] = created[i].id));
    expect(new Set(Object.values(ids)).size).toBe(NAMES.length);
    const e = created[NAMES.indexOf('eventful')];
    expect(e).toMatchObject({
      type: 'load-git',
      arguments: { args: ['https://example.org/e.git'], kwargs: { depth: 2 } },
      policy: 'recurring',
      schedule: { kind: 'adaptive' },
      nextRun: T0,
      currentIntervalMs: DAY,
      status: 'next_run_not_scheduled',
      disabledReason: null,
      retriesLeft: 1,
      consecutiveAbandons: 0,
      priority: null,
    });
    const c = created[NAMES.indexOf('cronWinter')];
    expect(c).toMatchObject({ policy: 'recurring', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' }, nextRun: T0, currentIntervalMs: null });
    expect(created[NAMES.indexOf('oneshotFailed')]).toMatchObject({ policy: 'oneshot', retriesLeft: 0, nextRun: T0 });
    expect(created[NAMES.indexOf('clampedUneventful')]).toMatchObject({ type: 'clamped', currentIntervalMs: DAY, retriesLeft: 0 });
  });

  test('task schedule --json returns one scheduled run per due task', async () => {
    const runs = await runJson<any[]>(['task', 'schedule', '--at', '2026-01-01T00:00:00Z', '--json', ...db.db]);
    expect(runs).toHaveLength(NAMES.length);
    expect(runs.map((r) => r.task).sort((a, b) => a - b)).toEqual(Object.values(ids).sort((a, b) => a - b));
    for (const r of runs) {
      expect(r.backendId).toMatch(UUID);
      expect(r).toMatchObject({ status: 'scheduled', scheduled: T0, started: null, ended: null, attempt: 1, worker: null });
    }
    expect(new Set(runs.map((r) => r.backendId)).size).toBe(NAMES.length);
    for (const n of NAMES) firstRun[n] = runs.find((r) => r.task === ids[n]).backendId;

    const tasks = await runJson<any[]>(['task', 'list', '--json', ...db.db]);
    expect(tasks.map((t) => t.status)).toEqual(NAMES.map(() => 'next_run_scheduled'));
  });

  test('run start marks each run started at --at with the type lease', async () => {
    const started = await Promise.all(
      NAMES.map((n) => runJson(['run', 'start', firstRun[n], '--at', iso(PLANS[n].end, -10_000), '--json', ...db.db])),
    );
    NAMES.forEach((n, i) => {
      expect(started[i]).toMatchObject({
        backendId: firstRun[n],
        task: ids[n],
        status: 'started',
        started: iso(PLANS[n].end, -10_000),
        leaseExpiresAt: iso(PLANS[n].end, 20_000),
        worker: 'external',
      });
    });
  });

  test('run end applies the end-of-run formula (checked with task show --json)', async () => {
    const ended = await Promise.all(
      NAMES.map((n) => runCli(['run', 'end', firstRun[n], '--status', PLANS[n].status, '--at', PLANS[n].end, ...db.db])),
    );
    NAMES.forEach((n, i) => {
      expect(ended[i]).toMatchObject({ code: 0, stderr: '' });
      expect(ended[i]!.stdout).toContain(`run ${firstRun[n]} ended ${PLANS[n].status} at ${PLANS[n].end}\n`);
    });

    const shown = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await show(n)] as const))) as Record<Name, any>;
    const pick = (t: any) => ({ status: t.status, disabledReason: t.disabledReason, currentIntervalMs: t.currentIntervalMs, nextRun: t.nextRun, retriesLeft: t.retriesLeft });

    // eventful: 1d / 2 = 12h (exactly the minimum); nextRun = end + 12h; retries reset.
    expect(pick(shown.eventful)).toEqual({ status: 'next_run_not_scheduled', disabledReason: null, currentIntervalMs: 12 * HOUR, nextRun: '2026-01-01T18:00:00.000Z', retriesLeft: 1 });
    // uneventful: 1d * 2 = 2d.
    expect(pick(shown.uneventful)).toEqual({ status: 'next_run_not_scheduled', disabledReason: null, currentIntervalMs: 2 * DAY, nextRun: '2026-01-03T06:00:00.000Z', retriesLeft: 1 });
    // failed with a retry left: end + retryDelay (1h), one retry consumed, interval unchanged.
    expect(pick(shown.failed)).toEqual({ status: 'next_run_not_scheduled', disabledReason: null, currentIntervalMs: DAY, nextRun: '2026-01-01T07:00:00.000Z', retriesLeft: 0 });
    // a oneshot that fails without retries left is disabled.
    expect(shown.oneshotFailed).toMatchObject({ status: 'disabled', disabledReason: 'retries_exhausted', retriesLeft: 0 });
    // permfailed disables the task.
    expect(shown.permfailed).toMatchObject({ status: 'disabled', disabledReason: 'permfailed' });
    // cron: the next 03:00 Warsaw strictly after the end instant (ended exactly at 03:00 CET -> the next day).
    expect(pick(shown.cronWinter)).toEqual({ status: 'next_run_not_scheduled', disabledReason: null, currentIntervalMs: null, nextRun: '2026-01-02T02:00:00.000Z', retriesLeft: 1 });
    // cron in summer time: ended at 02:30 CEST -> 03:00 CEST the same day.
    expect(pick(shown.cronSummer)).toEqual({ status: 'next_run_not_scheduled', disabledReason: null, currentIntervalMs: null, nextRun: '2026-07-15T01:00:00.000Z', retriesLeft: 1 });
    // clamped type [18h, 1d12h]: 1d * 2 = 2d -> 1d12h.
    expect(pick(shown.clampedUneventful)).toEqual({ status: 'next_run_not_scheduled', disabledReason: null, currentIntervalMs: 36 * HOUR, nextRun: '2026-01-02T18:00:00.000Z', retriesLeft: 0 });

    for (const n of NAMES) {
      expect(shown[n].runs).toHaveLength(1);
      expect(shown[n].runs[0]).toMatchObject({
        backendId: firstRun[n],
        status: PLANS[n].status,
        scheduled: T0,
        started: iso(PLANS[n].end, -10_000),
        ended: PLANS[n].end,
        attempt: 1,
      });
    }
  });

  test('ending a run twice exits 2, says nothing changed, and leaves the task as it was', async () => {
    const before = await Promise.all([show('eventful'), show('oneshotFailed')]);
    const [again, resurrect] = await Promise.all([
      runCli(['run', 'end', firstRun.eventful, '--status', 'uneventful', '--at', '2026-01-01T07:00:00Z', ...db.db]),
      // The seed system re-applied the formula here and resurrected disabled tasks.
      runCli(['run', 'end', firstRun.oneshotFailed, '--status', 'eventful', '--at', '2026-01-01T07:00:00Z', ...db.db]),
    ]);
    for (const [r, id, status] of [
      [again, firstRun.eventful, 'eventful'],
      [resurrect, firstRun.oneshotFailed, 'failed'],
    ] as const) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(errorLines(r.stderr)).toEqual([`orrery: run ${id} already ended ${status}; nothing changed`]);
    }
    const after = await Promise.all([show('eventful'), show('oneshotFailed')]);
    expect(after).toEqual(before);
    expect(after[1]).toMatchObject({ status: 'disabled', disabledReason: 'retries_exhausted' });
  });

  test('a second round: the interval stays clamped at the minimum, a recurring task out of retries waits its interval', async () => {
    const runs = await runJson<any[]>(['task', 'schedule', '--at', '2026-01-01T18:00:00Z', '--json', ...db.db]);
    // Only the two tasks due by 18:00 (eventful at 18:00 exactly, failed at 07:00).
    expect(runs.map((r) => r.task).sort((a, b) => a - b)).toEqual([ids.eventful, ids.failed].sort((a, b) => a - b));
    const run = (n: Name) => runs.find((r) => r.task === ids[n]);
    expect(run('failed')).toMatchObject({ attempt: 2, scheduled: '2026-01-01T18:00:00.000Z' });
    expect(run('eventful')).toMatchObject({ attempt: 1 });

    await Promise.all(['eventful', 'failed'].map((n) => runOk(['run', 'start', run(n as Name).backendId, '--at', '2026-01-01T18:59:50Z', ...db.db])));
    await Promise.all([
      runOk(['run', 'end', run('eventful').backendId, '--status', 'eventful', '--at', '2026-01-01T19:00:00Z', ...db.db]),
      runOk(['run', 'end', run('failed').backendId, '--status', 'failed', '--at', '2026-01-01T19:00:00Z', ...db.db]),
    ]);
    const [e, f] = await Promise.all([show('eventful'), show('failed')]);
    // 12h / 2 = 6h, clamped to the 12h minimum.
    expect(e).toMatchObject({ status: 'next_run_not_scheduled', currentIntervalMs: 12 * HOUR, nextRun: '2026-01-02T07:00:00.000Z', retriesLeft: 1 });
    // No retry left: end + currentInterval (1d), retries reset to the type's numRetries.
    expect(f).toMatchObject({ status: 'next_run_not_scheduled', currentIntervalMs: DAY, nextRun: '2026-01-02T19:00:00.000Z', retriesLeft: 1 });
    // runs: oldest first.
    expect(e.runs.map((r: any) => [r.backendId, r.status, r.ended])).toEqual([
      [firstRun.eventful, 'eventful', E1],
      [run('eventful').backendId, 'eventful', '2026-01-01T19:00:00.000Z'],
    ]);
    expect(f.runs.map((r: any) => [r.status, r.attempt])).toEqual([
      ['failed', 1],
      ['failed', 2],
    ]);
  });
});

describe('task add is idempotent', () => {
  test('an equal task added twice returns the same id and stores one task', async () => {
    const db = tempDb();
    await runOk(['task-type', 'add', 'load-git', '--default-interval', '1d', ...db.db]);
    const first = await runJson(['task', 'add', 'load-git', 'https://example.org/r.git', 'depth=2', 'mode=full', '--json', ...db.db]);
    // Same arguments, kwargs in another order: the same task.
    const [second, text] = await Promise.all([
      runJson(['task', 'add', 'load-git', 'mode=full', 'https://example.org/r.git', 'depth=2', '--json', ...db.db]),
      runOk(['task', 'add', 'load-git', 'https://example.org/r.git', 'depth=2', 'mode=full', ...db.db]),
    ]);
    expect(second).toEqual(first);
    expect(text).toBe(`already exists: task ${first.id} (load-git, recurring, next run ${first.nextRun})\n`);
    // A different value of a kwarg is another task.
    const other = await runJson(['task', 'add', 'load-git', 'https://example.org/r.git', 'depth=3', 'mode=full', '--json', ...db.db]);
    expect(other.id).not.toBe(first.id);
    const all = await runJson<any[]>(['task', 'list', '--json', ...db.db]);
    expect(all.map((t) => t.id)).toEqual([first.id, other.id]);
    expect(first.arguments).toEqual({ args: ['https://example.org/r.git'], kwargs: { depth: 2, mode: 'full' } });
  });
});
