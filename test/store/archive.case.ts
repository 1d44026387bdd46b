import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEndStatus, Task, TaskRun } from '../../src/core/model.js';
import type { Orrery } from '../../src/engine/service.js';
import { readArchiveFile } from '../../src/engine/archive-file.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, LOAD_GIT, T0, plus, useOrrery, claimStarted } from './fixtures.js';

const args = (url: string) => ({ args: [url], kwargs: {} });
/** A one-shot type that retries (almost) forever: one task, thousands of runs. */
const FLAKY = { name: 'flaky', defaultIntervalMs: '1d', numRetries: 100_000, retryDelayMs: '1s' };
const CUT = plus(T0, 30 * DAY);
const LATER = plus(T0, 100 * DAY);
/** Runs of the one big task of the interrupted archive. */
const BIG_RUNS = 600;

/** One run of `task`: scheduled and claimed at `at`, ended 500 ms later with `status`. */
async function cycle(o: Orrery, type: string, task: number, at: Date, status: RunEndStatus, direct = false): Promise<TaskRun> {
  // `direct`: the task is its type's only one, so a claim of due tasks takes it without a runner pass.
  const run = direct
    ? (await o.store.claimRuns({ worker: 'w', types: [type], limit: 1, at, due: true })).runs.map((c) => c.run).find((r) => r.task === task)
    : (await o.store.scheduleDue(type, at)).find((r) => r.task === task);
  if (!run) throw new Error(`task ${task} not due at ${at.toISOString()}`);
  if (!direct) await o.store.claimRuns({ worker: 'w', types: [type], limit: 100, at });
  return (await o.endRun(run.backendId, { status, worker: 'w', at: plus(at, 500) })).run;
}

interface History {
  big: Task;
  /** Runs and tasks that must be archived before CUT. */
  runIds: number[];
  taskIds: number[];
  /** Every other task, with its runs, as they must stay. */
  kept: Map<number, { task: Task; runs: TaskRun[] }>;
}

/**
 * A one-shot task with `n` runs (n - 1 failures, then success), every 50th with two log records, and
 * around it every case that must stay or go.
 */
async function buildHistory(o: Orrery, n: number): Promise<History> {
  let big = await o.createTask({ type: 'flaky', arguments: args('big'), policy: 'oneshot', nextRun: T0 });
  const bigRuns: number[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    const run = await cycle(o, 'flaky', big.id, t, i === n - 1 ? 'eventful' : 'failed', true);
    bigRuns.push(run.id);
    if (i % 50 === 0) await o.appendRunLogs(run.backendId, [{ at: t, level: 'info', message: `run ${i}`, attributes: { i } }, { at: t, level: 'warn', message: 'failed', attributes: {} }]);
    t = plus(t, 1500);
  }
  big = (await o.getTask(big.id))!;
  expect(big.status).toBe('completed');

  // Recurring: three runs before the cut-off go; one after it and the live current run stay.
  const rec = await o.createTask({ type: 'load-git', arguments: args('recurring'), nextRun: plus(T0, DAY) });
  const recOld: number[] = [];
  for (const d of [1, 11, 21]) recOld.push((await cycle(o, 'load-git', rec.id, plus(T0, d * DAY), 'uneventful')).id);
  await cycle(o, 'load-git', rec.id, plus(T0, 40 * DAY), 'uneventful');
  await o.store.scheduleDue('load-git', plus(T0, 80 * DAY)); // live: scheduled, the task's current run
  // One-shot completed before the cut-off: goes with its run and logs.
  const done = await o.createTask({ type: 'load-git', arguments: args('done'), policy: 'oneshot', nextRun: plus(T0, 2 * DAY) });
  const doneRun = await cycle(o, 'load-git', done.id, plus(T0, 2 * DAY), 'eventful');
  await o.appendRunLogs(doneRun.backendId, [{ at: plus(T0, 2 * DAY), level: 'info', message: 'found', attributes: { n: 1 } }]);
  // One-shot completed after the cut-off: stays.
  const recent = await o.createTask({ type: 'load-git', arguments: args('recent'), policy: 'oneshot', nextRun: plus(T0, 31 * DAY) });
  await cycle(o, 'load-git', recent.id, plus(T0, 31 * DAY), 'eventful');
  // Disabled before it ever ran, created before the cut-off: goes.
  const never = await o.createTask({ type: 'load-git', arguments: args('never'), policy: 'oneshot', nextRun: plus(T0, 50 * DAY) }, { at: plus(T0, DAY) });
  await o.disableTasks([never.id], { at: plus(T0, 3 * DAY) });
  // Recurring, disabled while its run waited: the cancelled run stays its current run, so both stay.
  const off = await o.createTask({ type: 'load-git', arguments: args('off'), nextRun: plus(T0, 5 * DAY) });
  await o.store.scheduleDue('load-git', plus(T0, 5 * DAY));
  await o.disableTasks([off.id], { at: plus(T0, 6 * DAY) });
  // One-shot still retrying: its failed run goes, the task stays.
  const retrying = await o.createTask({ type: 'load-git', arguments: args('retrying'), policy: 'oneshot', nextRun: plus(T0, 4 * DAY) });
  const retryRun = await cycle(o, 'load-git', retrying.id, plus(T0, 4 * DAY), 'failed');
  // Newest task and run: live.
  const newest = await o.createTask({ type: 'flaky', arguments: args('newest'), nextRun: plus(T0, 90 * DAY) });
  await o.store.scheduleDue('flaky', plus(T0, 90 * DAY));

  const kept = new Map<number, { task: Task; runs: TaskRun[] }>();
  for (const id of [rec.id, recent.id, retrying.id, off.id, newest.id]) kept.set(id, { task: (await o.getTask(id))!, runs: await o.listRuns(id) });
  for (const [id, k] of kept) if (id === rec.id) k.runs = k.runs.filter((r) => !recOld.includes(r.id));
  kept.get(retrying.id)!.runs = [];
  expect(kept.get(off.id)!.runs).toHaveLength(1);
  return { big, runIds: [...bigRuns, ...recOld, doneRun.id, retryRun.id], taskIds: [big.id, done.id, never.id], kept };
}

async function expectOnlyKeptLeft(o: Orrery, h: History): Promise<void> {
  expect(await o.listRuns(h.big.id)).toEqual([]);
  for (const id of h.taskIds) expect(await o.getTask(id)).toBeNull();
  for (const [id, k] of h.kept) {
    expect(await o.getTask(id)).toEqual(k.task);
    expect(await o.listRuns(id)).toEqual(k.runs);
  }
  expect((await o.searchTasks({})).map((t) => t.id).sort((a, b) => a - b)).toEqual([...h.kept.keys()].sort((a, b) => a - b));
}

async function allArchivedRunIds(o: Orrery): Promise<number[]> {
  const ids: number[] = [];
  for (let after = 0; ; ) {
    const page = await o.readArchivedRuns({ afterId: after, limit: 1000 });
    if (page.length === 0) return ids;
    ids.push(...page.map((r) => r.run.id));
    after = ids[ids.length - 1]!;
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

export function archiveCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);
  const dir = mkdtempSync(join(tmpdir(), 'orrery-archive-case-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('archiving (SPEC §5)', () => {
    // More runs than a page of allArchivedRunIds (1,000), in a dozen batches: interrupted after five, resumed.
    it('archives a one-shot task with 600 runs at batch size 100, interrupted and resumed: nothing repeated, nothing left, nothing else deleted', async () => {
      const { orrery } = await setup([LOAD_GIT, FLAKY]);
      const h = await buildHistory(orrery, BIG_RUNS);
      const file = join(dir, `big-${sut.name}.jsonl`);
      const stop = new AbortController();
      const first = await orrery.archive({
        before: CUT,
        to: file,
        table: true,
        batch: 100,
        at: LATER,
        signal: stop.signal,
        onProgress: (p) => p.batches === 5 && stop.abort(),
      });
      expect(first).toMatchObject({ complete: false, batches: 5, runs: 500 });

      const second = await orrery.archive({ before: CUT, to: file, table: true, batch: 100, at: LATER });
      expect(second.complete).toBe(true);
      expect(first.runs + second.runs).toBe(h.runIds.length);
      expect(first.tasks + second.tasks).toBe(h.taskIds.length);
      expect(first.logs + second.logs).toBe((BIG_RUNS / 50) * 2 + 1);

      const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      const fileRuns = lines.filter((l) => l.kind === 'run').map((l) => l.run.id as number);
      const fileTasks = lines.filter((l) => l.kind === 'task').map((l) => l.task.id as number);
      expect(new Set(fileRuns).size).toBe(fileRuns.length);
      expect(sorted(fileRuns)).toEqual(sorted(h.runIds));
      expect(sorted(fileTasks)).toEqual(sorted(h.taskIds));
      expect(sorted(await allArchivedRunIds(orrery))).toEqual(sorted(h.runIds));
      expect((await orrery.readArchivedTasks({ limit: 100 })).map((t) => t.id)).toEqual(sorted(h.taskIds));
      expect(await orrery.readArchivedTasks({ task: h.big.id, limit: 1 })).toEqual([h.big]);
      await expectOnlyKeptLeft(orrery, h);

      const again = await orrery.archive({ before: CUT, to: file, table: true, batch: 100, at: LATER });
      expect(again).toMatchObject({ complete: true, runs: 0, tasks: 0, batches: 0 });
      expect(readFileSync(file, 'utf8').trimEnd().split('\n')).toHaveLength(lines.length);
    }, 120_000); // 600 sequential run cycles: a few seconds alone on PostgreSQL, more when the suite shares the cores

    it('keeps runs ended at or after the cut-off and moves log records with their run', async () => {
      const { orrery } = await setup([LOAD_GIT, FLAKY]);
      const task = await orrery.createTask({ type: 'flaky', arguments: args('x'), policy: 'oneshot', nextRun: T0 });
      const r1 = await cycle(orrery, 'flaky', task.id, T0, 'failed'); // ended T0 + 500 ms
      const logs = [{ at: T0, level: 'info' as const, message: 'hello', attributes: { a: [1, 2] } }];
      await orrery.appendRunLogs(r1.backendId, logs);
      const r2 = await cycle(orrery, 'flaky', task.id, plus(T0, 1500), 'failed'); // ended T0 + 2 s
      await orrery.createTask({ type: 'load-git', arguments: args('newest'), nextRun: LATER });
      const s = await orrery.archive({ before: r2.ended!, batch: 1, at: LATER });
      expect(s).toMatchObject({ runs: 1, logs: 1, tasks: 0, complete: true, table: true, file: null });
      expect(await orrery.listRuns(task.id)).toEqual([r2]);
      expect(await orrery.readArchivedRuns({ task: task.id, limit: 10 })).toEqual([{ run: r1, logs }]);
      await expect(orrery.getRunLogs(r1.backendId)).rejects.toMatchObject({ code: 'not_found' });
      // A bad field given is named before the limit left out (the error named limit).
      await expect(orrery.readArchivedRuns({ task: 'x' } as never)).rejects.toThrow(/^task: must be a task id/);
      // No limit: 100, as GET /api/archive/runs and the typed client (the library required one); a misspelt field is refused.
      expect(await orrery.readArchivedRuns()).toEqual([{ run: r1, logs }]);
      expect((await orrery.readArchivedTasks({})).length).toBe(0);
      await expect(orrery.readArchivedRuns({ taks: task.id } as never)).rejects.toThrow(/^filter\.taks: unknown/);
    });

    it('gives archived runs and tasks back as they were read live: the fields in the API order, a run result exactly as it ended', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const only = await orrery.createTask({ type: 'load-git', arguments: { args: ['o'], kwargs: { zz: 1, b: 2 } }, policy: 'oneshot', nextRun: T0 });
      const run = await cycle(orrery, 'load-git', only.id, T0, 'eventful');
      // cycle() ends without a result: end another one-shot's run with one.
      const other = await orrery.createTask({ type: 'load-git', arguments: args('other'), policy: 'oneshot', nextRun: T0 });
      const [r] = (await orrery.store.scheduleDue('load-git', T0)).filter((x) => x.task === other.id);
      await orrery.store.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, at: T0 });
      await orrery.endRun(r!.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 500), result: { zz: 1, b: 'x', items: [3, 2, 1] } });
      const live = { runs: [await orrery.getRun(run.backendId), await orrery.getRun(r!.backendId)], tasks: [await orrery.getTask(only.id), await orrery.getTask(other.id)] };
      expect(await orrery.archive({ before: CUT, at: LATER })).toMatchObject({ runs: 2, tasks: 2 });
      const runs = (await orrery.readArchivedRuns({ limit: 10 })).map((a) => a.run);
      expect(runs.map((x) => JSON.stringify(x))).toEqual(live.runs.map((x) => JSON.stringify(x)));
      expect(JSON.stringify(runs[1]!.result)).toBe('{"zz":1,"b":"x","items":[3,2,1]}');
      const tasks = await orrery.readArchivedTasks({ limit: 10 });
      expect(tasks.map((x) => JSON.stringify(x))).toEqual(live.tasks.map((x) => JSON.stringify(x)));
    });

    it('archives the newest run and task too, and never hands their ids out again (SQLite would reuse the largest)', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const only = await orrery.createTask({ type: 'load-git', arguments: args('only'), policy: 'oneshot', nextRun: T0 });
      const run = await cycle(orrery, 'load-git', only.id, T0, 'eventful');
      // Before: SQLite kept both (runs: 0, tasks: 0) until a newer task and run existed.
      expect(await orrery.archive({ before: CUT, at: LATER })).toMatchObject({ runs: 1, tasks: 1 });
      expect(await orrery.getTask(only.id)).toBeNull();
      const next = await orrery.createTask({ type: 'load-git', arguments: args('next'), nextRun: LATER });
      expect(next.id).toBeGreaterThan(only.id);
      const [nextRun] = await orrery.store.scheduleDue('load-git', LATER);
      expect(nextRun!.id).toBeGreaterThan(run.id);
      const again = await orrery.createTask({ type: 'load-git', arguments: args('again'), nextRun: LATER });
      expect(again.id).toBe(next.id + 1); // past the floor, ids go on one by one
      expect((await orrery.readArchivedRuns({ limit: 10 })).map((r) => r.run.id)).toEqual([run.id]);
    });

    it('two archivers at once on one database archive every run exactly once', async () => {
      const { orrery, another } = await setup([LOAD_GIT, FLAKY]);
      const ids: number[] = [];
      for (let i = 0; i < 20; i++) {
        const task = await orrery.createTask({ type: 'flaky', arguments: args(`t${i}`), policy: 'oneshot', nextRun: T0 });
        for (let j = 0; j < 10; j++) ids.push((await cycle(orrery, 'flaky', task.id, plus(T0, j * 1500), j === 9 ? 'eventful' : 'failed')).id);
      }
      await orrery.createTask({ type: 'load-git', arguments: args('newest'), nextRun: LATER });
      await orrery.store.scheduleDue('load-git', LATER);
      const other = await another();
      const [a, b] = await Promise.all([orrery.archive({ before: CUT, batch: 7, at: LATER }), other.archive({ before: CUT, batch: 7, at: LATER })]);
      expect(a.runs + b.runs).toBe(200);
      expect(a.tasks + b.tasks).toBe(20);
      expect(sorted(await allArchivedRunIds(orrery))).toEqual(sorted(ids));
    });

    it('two archivers at once to one file (two serve --retention with the same --archive-to) write every run and task once, and the file reads back (audit: batches were cut off and lost)', async () => {
      const { orrery, another } = await setup([LOAD_GIT, FLAKY]);
      const ids: number[] = [];
      const tasks: number[] = [];
      for (let i = 0; i < 20; i++) {
        const task = await orrery.createTask({ type: 'flaky', arguments: args(`t${i}`), policy: 'oneshot', nextRun: T0 });
        tasks.push(task.id);
        for (let j = 0; j < 10; j++) ids.push((await cycle(orrery, 'flaky', task.id, plus(T0, j * 1500), j === 9 ? 'eventful' : 'failed')).id);
      }
      const file = join(dir, `shared-${sut.name}.jsonl`);
      const other = await another();
      const [a, b] = await Promise.all([orrery.archive({ before: CUT, batch: 7, at: LATER, to: file }), other.archive({ before: CUT, batch: 7, at: LATER, to: file })]);
      expect(a.runs + b.runs).toBe(200);
      expect(a.batches).toBeGreaterThan(0);
      expect(b.batches).toBeGreaterThan(0); // the two took turns
      const runs: number[] = [];
      const archivedTasks: number[] = [];
      const seqs: number[] = [];
      for await (const r of readArchiveFile(file)) {
        if (r.kind === 'run') runs.push(r.run.id);
        else if (r.kind === 'task') archivedTasks.push(r.task.id);
      }
      for (const line of readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string; seq?: number })) if (line.kind === 'batch') seqs.push(line.seq!);
      expect(sorted(runs)).toEqual(sorted(ids));
      expect(sorted(archivedTasks)).toEqual(sorted(tasks));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1)); // one numbering: each went on where the other stopped
      // And a third archive to the file finds it as the database committed it.
      await expect(other.archive({ before: CUT, to: file, at: LATER })).resolves.toMatchObject({ runs: 0, complete: true });
    });

    it('refuses bad arguments before touching anything', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await expect(orrery.archive({ before: new Date('nope') })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'before' }] });
      await expect(orrery.archive({ before: CUT, batch: 0 })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'batch' }] });
      await expect(orrery.archive({ before: CUT, table: false })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'table' }] });
      await expect(orrery.archive({ before: CUT, to: join(dir, 'missing-dir', 'x.jsonl') })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'to' }] });
    });
  });
}
