/**
 * `orrery dag ...` and `orrery dag-run ...` through the built binary, against a SQLite file where DAGs
 * were registered in-process and run by a real in-process Daemon: tables, --json (the service's
 * objects, instants as ISO strings), and bad input (exit 2, a message naming the problem).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Daemon } from '../../src/engine/daemon.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { toHandlersModule } from '../../src/worker/handlers.js';
import { waitFor } from '../engine/engine-helpers.js';
import { flaky, hourly, pipeline } from '../fixtures/dag-examples.js';
import { ISO_MS, dumpDb, errorLines, removeTempDirs, runCli, runJson, runOk, tempDb, type TempDb } from './cli-helpers.js';

let db: TempDb;
let orrery: Orrery;
let daemon: Daemon;
const start = new Date(Date.now() - 5.5 * 3_600_000);
/** Runs: pipeline succeeded (with params), flaky failed twice (one to restart, one to keep failed). */
let okRun: number;
let failedRun: number;
let toRestart: number;

const ok = (args: string[]) => runOk([...args, ...db.db]);
const json = <T = any>(args: string[]) => runJson<T>([...args, ...db.db]);
const cli = (args: string[]) => runCli([...args, ...db.db]);
/** The service's object as the CLI must print it: JSON with instants as ISO strings. */
const asJson = (v: unknown) => JSON.parse(JSON.stringify(v));
const lines = (text: string) => text.trimEnd().split('\n');
const cells = (line: string) => line.split(/ {2,}/);

async function ended(runId: number) {
  return waitFor(async () => {
    const r = await orrery.dags.run(runId);
    return r.status === 'success' || r.status === 'failed' ? r : null;
  }, `DAG run ${runId} to end`);
}

beforeAll(async () => {
  db = tempDb();
  orrery = await openOrrery({ db: db.url });
  const defs = [pipeline(), flaky(), hourly(start)];
  await orrery.dags.register(defs.map((d) => d.toInput()));
  daemon = new Daemon(orrery, { runner: true, reaper: true, worker: { handlers: toHandlersModule({ dags: defs }, 'test').handlers, concurrency: 4, pollMs: 50 }, maxSleepMs: 50 });
  daemon.start();
  okRun = (await orrery.dags.trigger('pipeline', { day: '2026-01-01' })).id;
  failedRun = (await orrery.dags.trigger('flaky')).id;
  toRestart = (await orrery.dags.trigger('flaky')).id;
  await Promise.all([ended(okRun), ended(failedRun), ended(toRestart)]);
  await waitFor(async () => (await orrery.dags.get('hourly')).points.length > 0, 'the hourly points');
});
afterAll(async () => {
  await daemon?.stop();
  await orrery?.close();
  removeTempDirs();
});

describe('orrery dag', () => {
  test('list: a table of DAGs; --json the service summaries', async () => {
    const [out, list] = await Promise.all([ok(['dag', 'list']), json(['dag', 'list', '--json'])]);
    const rows = lines(out).map(cells);
    expect(rows[0]).toEqual(['ID', 'SCHEDULE', 'NEXT POINT', 'CATCH-UP', 'TASKS', 'RUNS', 'LATEST RUN']);
    const byId = Object.fromEntries(rows.slice(1).map((r) => [r[0], r]));
    expect(Object.keys(byId).sort()).toEqual(['flaky', 'hourly', 'pipeline']);
    expect(byId.pipeline).toEqual(['pipeline', 'none (manual triggers only)', '-', 'no', '3', '1 success', expect.stringMatching(new RegExp(`^${okRun} success \\d{4}-`))]);
    expect(byId.flaky!.slice(4, 6)).toEqual(['3', '2 failed']);
    expect(byId.hourly!.slice(1, 4)).toEqual(['every 1h', new Date(start.getTime() + 6 * 3_600_000).toISOString(), 'no']);
    expect(list).toEqual(asJson(await orrery.dags.list()));
    expect(list.find((d: any) => d.id === 'flaky').latest[0].tasks).toEqual({ failed: 1, upstream_failed: 1, success: 1 });
  });

  test('show: definition, tasks with dependencies and options, recent runs, recorded points (skipped ranges too)', async () => {
    const [out, hourlyOut, shown] = await Promise.all([ok(['dag', 'show', 'pipeline']), ok(['dag', 'show', 'hourly']), json(['dag', 'show', 'pipeline', '--json'])]);
    expect(out).toMatch(/^id {16}pipeline$/m);
    expect(out).toMatch(/^description {7}a small ETL$/m);
    expect(out).toMatch(/^schedule {10}none \(manual triggers only\)$/m);
    expect(out).toMatch(/^catch-up {10}no/m);
    expect(out).toMatch(/^max active runs {3}16$/m);
    const text = lines(out);
    const tasksAt = text.indexOf('tasks (3):');
    expect(cells(text[tasksAt + 1]!)).toEqual(['TASK', 'AFTER', 'RETRIES', 'RETRY DELAY', 'TIMEOUT', 'TYPE']);
    const tasks = text.slice(tasksAt + 2, tasksAt + 5).map(cells);
    expect(tasks).toContainEqual(['transform', 'extract', '2', '1s', '1m', 'orrery.dag']);
    expect(tasks).toContainEqual(['extract', '-', '0', '5m', '-', 'orrery.dag']);
    expect(text).toContain('recent runs (1):');
    expect(cells(text[text.indexOf('recent runs (1):') + 2]!).slice(0, 5)).toEqual([String(okRun), expect.stringMatching(ISO_MS), 'manual', 'success', '3 success']);
    expect(text).toContain('recorded points (1):');

    const h = lines(hourlyOut);
    expect(hourlyOut).toMatch(/^schedule {10}every 1h$/m);
    expect(hourlyOut).toMatch(/^catch-up {10}no \(missed points are skipped\)$/m);
    const pointsAt = h.indexOf('recorded points (1):');
    expect(cells(h[pointsAt + 1]!)).toEqual(['KIND', 'EXEC TS', 'UNTIL', 'COUNT', 'RUN', 'RECORDED']);
    expect(cells(h[pointsAt + 2]!)).toEqual(['skipped', start.toISOString(), new Date(start.getTime() + 5 * 3_600_000).toISOString(), '6', '-', expect.stringMatching(ISO_MS)]);

    expect(shown).toEqual(asJson(await orrery.dags.get('pipeline')));
    expect(shown.points).toEqual([expect.objectContaining({ kind: 'triggered', run: okRun, execTs: expect.stringMatching(ISO_MS) })]);
  });

  test('trigger: a manual run with --params; --json prints the run', async () => {
    const run = await json(['dag', 'trigger', 'pipeline', '--params', '{"day":"2026-02-03","n":2}', '--json']);
    expect(run).toMatchObject({ dag: 'pipeline', trigger: 'manual', params: { day: '2026-02-03', n: 2 }, restarts: 0 });
    expect(run.execTs).toMatch(ISO_MS);
    const out = await ok(['dag', 'trigger', 'pipeline']);
    expect(out).toMatch(new RegExp(`^triggered run ${run.id + 1} of DAG pipeline at \\S+Z \\(scheduled\\)\\n$`));
    const done = await ended(run.id);
    expect(done.status).toBe('success');
    const [attempt] = await orrery.dags.attempts(run.id, 'extract');
    expect(attempt!.runs[0]!.logs[0]!.attributes).toEqual({ day: '2026-02-03' });
    await ended(run.id + 1);
  });

  test('pause and resume: what each did, and a resume of a DAG that was not paused', async () => {
    expect(await ok(['dag', 'pause', 'flaky', '--reason', 'maintenance'])).toMatch(/^paused DAG flaky since \S+Z \(maintenance\)\n$/);
    // dag show's paused line keeps a reason's line break escaped (it printed it raw: a forged next line).
    await ok(['dag', 'pause', 'flaky', '--reason', 'a\noverlap\tskip']);
    expect(await ok(['dag', 'show', 'flaky'])).toMatch(/\npaused +since \S+Z \(a\\noverlap\\tskip\)\n/);
    expect(await ok(['dag', 'resume', 'flaky'])).toBe('resumed DAG flaky\n');
    expect(await ok(['dag', 'resume', 'flaky'])).toBe('DAG flaky was not paused\n');
  });

  test('runs: newest first with task counts, --status, --limit, --before; --json', async () => {
    const [out, failed, limited] = await Promise.all([
      ok(['dag', 'runs', 'flaky']),
      json(['dag', 'runs', 'flaky', '--status', 'failed', '--json']),
      json(['dag', 'runs', 'flaky', '--limit', '1', '--json']),
    ]);
    const rows = lines(out).map(cells);
    expect(rows[0]).toEqual(['ID', 'EXEC TS', 'TRIGGER', 'STATUS', 'TASKS', 'RESTARTS', 'STARTED', 'ENDED']);
    expect(rows.slice(1).map((r) => r[0])).toEqual([String(toRestart), String(failedRun)]);
    expect(rows[1]!.slice(2, 6)).toEqual(['manual', 'failed', '1 success, 1 failed, 1 upstream_failed', '0']);
    expect(failed.map((r: any) => r.id)).toEqual([toRestart, failedRun]);
    expect(failed[0]).toEqual(asJson((await orrery.dags.runs({ dag: 'flaky', limit: 1 }))[0]));
    expect(limited.map((r: any) => r.id)).toEqual([toRestart]);
    expect((await json(['dag', 'runs', 'flaky', '--before', String(toRestart), '--json'])).map((r: any) => r.id)).toEqual([failedRun]);
    expect(await ok(['dag', 'runs', 'flaky', '--status', 'success'])).toBe('no runs found\n');
  });
});

describe('orrery dag-run', () => {
  test('show: the run and every task with status, attempts, duration and error; --json', async () => {
    const [out, shown] = await Promise.all([ok(['dag-run', 'show', String(failedRun)]), json(['dag-run', 'show', String(failedRun), '--json'])]);
    expect(out).toMatch(new RegExp(`^id {16}${failedRun}$`, 'm'));
    expect(out).toMatch(/^dag {15}flaky$/m);
    expect(out).toMatch(/^status {12}failed$/m);
    expect(out).toMatch(/^params {12}\{\}$/m);
    const text = lines(out);
    const at = text.indexOf('tasks (3):');
    expect(cells(text[at + 1]!)).toEqual(['TASK', 'STATUS', 'ATTEMPTS', 'RETRIES LEFT', 'STARTED', 'ENDED', 'DURATION', 'AFTER', 'ERROR']);
    const rows = Object.fromEntries(text.slice(at + 2).map((l) => [cells(l)[0], cells(l)]));
    expect(rows.boom!.slice(1, 4)).toEqual(['failed', '1', '0']);
    expect(rows.boom![8]).toMatch(/boom on attempt 1/);
    expect(rows.after!.slice(1, 3)).toEqual(['upstream_failed', '0']);
    expect(rows.side!.slice(1, 3)).toEqual(['success', '1']);
    expect(shown).toEqual(asJson(await orrery.dags.run(failedRun)));
    expect(shown.tasks.find((t: any) => t.taskId === 'side')).toMatchObject({ status: 'success', result: 'fine', durationMs: expect.any(Number), started: expect.stringMatching(ISO_MS) });
  });

  test('logs: per attempt, the log records (instant, level, message, attributes); --task, --attempt, --json', async () => {
    const out = await ok(['dag-run', 'logs', String(okRun)]);
    const text = lines(out);
    const extract = text.findIndex((l) => l.startsWith('task extract, attempt 1 (orrery task '));
    expect(extract).toBeGreaterThanOrEqual(0);
    expect(text[extract]).toMatch(/, run \S+ eventful\):$/);
    expect(cells(text[extract + 1]!)).toEqual(['AT', 'LEVEL', 'MESSAGE', 'ATTRIBUTES']);
    expect(cells(text[extract + 2]!)).toEqual([expect.stringMatching(ISO_MS), 'info', 'extracting', '{"day":"2026-01-01"}']);
    const load = text.findIndex((l) => l.startsWith('task load, attempt 1'));
    expect(text[load + 1]).toBe('no log records');

    const only = await json(['dag-run', 'logs', String(okRun), '--task', 'transform', '--attempt', '1', '--json']);
    expect(only).toHaveLength(1);
    expect(only[0]).toMatchObject({ taskId: 'transform', attempt: 1, notBefore: expect.stringMatching(ISO_MS) });
    expect(only[0].runs[0].logs).toEqual([{ id: expect.any(Number), at: expect.stringMatching(ISO_MS), level: 'warn', message: 'few rows', attributes: { rows: 3 } }]);
    const all = await json(['dag-run', 'logs', String(okRun), '--json']);
    expect(all.map((a: any) => [a.taskId, a.attempt])).toEqual([
      ['extract', 1],
      ['transform', 1],
      ['load', 1],
    ]);
    expect(all[0]).toEqual({ taskId: 'extract', ...asJson((await orrery.dags.attempts(okRun, 'extract'))[0]) });
  });

  test('restart: a failed run runs its failed tasks again (successes kept); a run that is not failed is a conflict (exit 2)', async () => {
    const conflict = await cli(['dag-run', 'restart', String(okRun)]);
    expect(conflict.code).toBe(2);
    expect(conflict.stdout).toBe('');
    expect(errorLines(conflict.stderr)).toEqual([`orrery: DAG run ${okRun} is success; only a failed run can be restarted`]);

    const restarted = await json(['dag-run', 'restart', String(toRestart), '--json']);
    expect(restarted).toMatchObject({ id: toRestart, status: 'running', restarts: 1 });
    const done = await ended(toRestart);
    expect(done.tasks.map((t) => [t.taskId, t.status, t.attempts])).toEqual([
      ['boom', 'failed', 2],
      ['side', 'success', 1],
      ['after', 'upstream_failed', 0],
    ]);
    const second = await json(['dag-run', 'logs', String(toRestart), '--task', 'boom', '--attempt', '2', '--json']);
    expect(second[0].runs[0].logs[0]).toMatchObject({ level: 'error', message: 'about to fail', attributes: { attempt: 2 } });
    // A second restart through the table output.
    expect(await ok(['dag-run', 'restart', String(toRestart)])).toBe(`restarted run ${toRestart} of DAG flaky (restart 2, status running)\n`);
    await waitFor(async () => (await orrery.dags.run(toRestart)).tasks.find((t) => t.taskId === 'boom')!.attempts === 3, 'the third attempt');
    await ended(toRestart);
  });
});

describe('DAG attempts and the dead-letter bin', () => {
  test('task list --no-dag-attempts leaves failed attempts out; task respawn of one is a conflict (exit 2) naming dag-run restart', async () => {
    const attempt = (await orrery.dags.attempts(failedRun, 'boom'))[0]!.orreryTask;
    const all = await json<Array<{ id: number }>>(['task', 'list', '--disabled-reason', 'retries_exhausted', '--json']);
    expect(all.map((t) => t.id)).toContain(attempt);
    const bin = await json<Array<{ id: number }>>(['task', 'list', '--disabled-reason', 'retries_exhausted', '--no-dag-attempts', '--json']);
    expect(bin.map((t) => t.id)).not.toContain(attempt);
    const refused = await cli(['task', 'respawn', String(attempt)]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(errorLines(refused.stderr)).toEqual([
      `orrery: task ${attempt} is attempt 1 of task "boom" in run ${failedRun} of DAG "flaky"; it runs only within its DAG run and cannot be respawned: ` +
        `restart the run instead (orrery dag-run restart ${failedRun}, or POST /api/dag-runs/${failedRun}/restart)`,
    ]);
    expect((await orrery.getTask(attempt))!.status).toBe('disabled');
  });
});

describe('bad input: exit 2 with a message naming the problem, nothing written', () => {
  const cases: [string, string[], (string | RegExp)[]][] = [
    ['non-integer RUN', ['dag-run', 'show', 'abc'], ['RUN: "abc" is not a DAG run id']],
    ['zero RUN', ['dag-run', 'restart', '0'], ['RUN: "0" is not a DAG run id']],
    ['unknown RUN', ['dag-run', 'show', '999999'], ['DAG run 999999 not found']],
    ['unknown RUN to restart', ['dag-run', 'restart', '999999'], ['DAG run 999999 not found']],
    ['unknown RUN for logs', ['dag-run', 'logs', '999999'], ['DAG run 999999 not found']],
    ['bad JSON params', ['dag', 'trigger', 'pipeline', '--params', '{bad'], ['--params', 'invalid JSON']],
    ['params not an object', ['dag', 'trigger', 'pipeline', '--params', '[1,2]'], ['--params', 'must be a JSON object']],
    ['unknown DAG to trigger', ['dag', 'trigger', 'nope'], ['DAG "nope" not found']],
    ['unknown DAG to show', ['dag', 'show', 'nope'], ['DAG "nope" not found']],
    ['unknown DAG for runs', ['dag', 'runs', 'nope'], ['DAG "nope" not found']],
    ['unknown status', ['dag', 'runs', 'flaky', '--status', 'done'], ['--status', "'done'"]],
    ['zero limit', ['dag', 'runs', 'flaky', '--limit', '0'], ['--limit', 'at least 1']],
    ['unknown task for logs', ['dag-run', 'logs', 'OK', '--task', 'nope'], ['no task "nope"']],
    ['missing attempt', ['dag-run', 'logs', 'OK', '--task', 'extract', '--attempt', '4'], ['--attempt', 'no attempt 4', 'it has 1']],
    ['non-integer attempt', ['dag-run', 'logs', 'OK', '--attempt', 'x'], ['--attempt', '"x"']],
  ];

  test.each(cases)('%s', async (_what, argv, mentions) => {
    const before = dumpDb(db.path);
    const r = await cli(argv.map((a) => (a === 'OK' ? String(okRun) : a)));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    const message = errorLines(r.stderr).join('\n');
    expect(errorLines(r.stderr)).toHaveLength(1);
    for (const m of mentions) expect(message).toMatch(typeof m === 'string' ? new RegExp(m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : m);
    const after = dumpDb(db.path);
    expect(after.dag_runs).toEqual(before.dag_runs);
    expect(after.dag_points).toEqual(before.dag_points);
  });
});
