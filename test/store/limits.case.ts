import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import type { Orrery } from '../../src/engine/service.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, HOUR, T0, claimOne, plus, useOrrery, claimStarted } from './fixtures.js';

const oneshot = (type: string, i: number, extra: Record<string, unknown> = {}) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, ...extra });

async function running(o: Orrery, type: string): Promise<number> {
  const s = (await o.store.queueStats(T0)).find((x) => x.type === type)! as { running: number; claimed: number };
  return s.running + s.claimed;
}

/** Issue 10: limits enforced in the claim transaction, cancellation, onConflict (docs/limits.md). */
export function limitCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('limits: concurrency and rate, counted at claim time', () => {
    it('maxRunning bounds running runs across claimers; the rest wait without burning anything', async () => {
      const { orrery, another } = await setup([{ name: 'narrow', maxRunning: 2 }]);
      const other = await another();
      await orrery.createTasks(Array.from({ length: 5 }, (_, i) => oneshot('narrow', i)));
      await orrery.scheduleDue({ at: T0 });
      const first = await orrery.claim({ worker: 'w1', types: ['narrow'], limit: 10, at: T0 });
      expect(first.runs).toHaveLength(2);
      expect(first).toMatchObject({ heldBack: true, retryAt: null });
      const second = await other.claim({ worker: 'w2', types: ['narrow'], limit: 10, at: T0 });
      expect(second).toEqual({ runs: [], heldBack: true, retryAt: null });
      await orrery.endRun(first.runs[0]!.run.backendId, { status: 'eventful', worker: 'w1', at: plus(T0, 10) });
      const third = await other.claim({ worker: 'w2', types: ['narrow'], limit: 10, at: plus(T0, 10) });
      expect(third.runs).toHaveLength(1);
      expect(await running(orrery, 'narrow')).toBe(2);
      // The held-back runs are still simply waiting, untouched.
      const waiting = (await Promise.all((await orrery.searchTasks({ type: 'narrow' })).map((t) => orrery.listRuns(t.id)))).flat().filter((r) => r.status === 'scheduled');
      expect(waiting).toHaveLength(2);
      expect(waiting.every((r) => r.attempt === 1 && r.started === null)).toBe(true);
    });

    it('concurrent claims from two stores never exceed maxRunning', async () => {
      const { orrery, another } = await setup([{ name: 'narrow', maxRunning: 3, maxQueueLength: null }]);
      const other = await another();
      await orrery.createTasks(Array.from({ length: 40 }, (_, i) => oneshot('narrow', i)));
      await orrery.scheduleDue({ at: T0 });
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? orrery : other).claim({ worker: `w${i}`, types: ['narrow'], limit: 2, at: T0 })));
      expect(claims.flatMap((c) => c.runs)).toHaveLength(3);
      expect(await running(orrery, 'narrow')).toBe(3);
    });

    it('maxRunningPerKey: one run per concurrency key at a time; tasks without a key are not limited per key', async () => {
      const { orrery } = await setup([{ name: 'fetch', maxRunningPerKey: 1 }]);
      const keys = ['a', 'a', 'b', 'c', 'b', null, null];
      await orrery.createTasks(keys.map((k, i) => oneshot('fetch', i, { concurrencyKey: k })));
      await orrery.scheduleDue({ at: T0 });
      const got = await orrery.claim({ worker: 'w', types: ['fetch'], limit: 10, at: T0 });
      const taskKeys = await Promise.all(got.runs.map(async (c) => (await orrery.getTask(c.run.task))!.concurrencyKey));
      expect(taskKeys.sort()).toEqual(['a', 'b', 'c', null, null]);
      expect(got).toMatchObject({ heldBack: true, retryAt: null });
      const a = got.runs.find((c) => c.run.task === 1)!;
      await orrery.endRun(a.run.backendId, { status: 'eventful', worker: 'w', at: T0 });
      const next = await orrery.claim({ worker: 'w', types: ['fetch'], limit: 10, at: T0 });
      expect(next.runs.map((c) => c.run.task)).toEqual([2]); // the second "a"; the second "b" still waits
    });

    it('rateLimit: at most count starts in any window of perMs; the claim says when the next slot opens', async () => {
      const { orrery } = await setup([{ name: 'api', rateLimit: '3/1s', maxQueueLength: null }]);
      await orrery.createTasks(Array.from({ length: 10 }, (_, i) => oneshot('api', i)));
      await orrery.scheduleDue({ at: T0 });
      const a = await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: T0 });
      expect(a.runs).toHaveLength(3);
      expect(a).toMatchObject({ heldBack: true, retryAt: plus(T0, 1000) });
      for (const c of a.runs) await orrery.endRun(c.run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 1) }); // ending frees no rate slot
      const b = await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: plus(T0, 999) });
      expect(b).toEqual({ runs: [], heldBack: true, retryAt: plus(T0, 1000) });
      const c = await orrery.claim({ worker: 'w', types: ['api'], limit: 2, at: plus(T0, 1000) });
      expect(c.runs).toHaveLength(2);
      expect(c.heldBack).toBe(false); // stopped by the claimer's own limit
      const d = await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: plus(T0, 1500) });
      expect(d.runs).toHaveLength(1);
      expect(d).toMatchObject({ heldBack: true, retryAt: plus(T0, 2000) });
    });

    it('a claim over limited and unlimited types keeps claim order and each limit', async () => {
      const { orrery } = await setup([{ name: 'free' }, { name: 'narrow', maxRunning: 1 }]);
      await orrery.createTasks([oneshot('narrow', 1, { priority: 'high' }), oneshot('narrow', 2, { priority: 'high' }), oneshot('free', 3), oneshot('free', 4)]);
      await orrery.scheduleDue({ at: T0 });
      const got = await orrery.claim({ worker: 'w', types: ['free', 'narrow'], limit: 2, at: T0 });
      expect(got.runs.map((c) => c.run.type).sort()).toEqual(['free', 'narrow']);
      const rest = await orrery.claim({ worker: 'w', types: ['free', 'narrow'], limit: 5, at: T0 });
      expect(rest.runs.map((c) => c.run.type)).toEqual(['free']);
      expect(rest.heldBack).toBe(true);
    });

    it('types without limits claim as before and never report held-back runs', async () => {
      const { orrery } = await setup();
      await orrery.createTasks([{ type: 'load-git', arguments: { args: ['a'], kwargs: {} } }, { type: 'load-git', arguments: { args: ['b'], kwargs: {} } }]);
      await orrery.scheduleDue({ at: T0 });
      expect(await orrery.claim({ worker: 'w', types: ['load-git', 'no-such-type'], limit: 1, at: T0 })).toMatchObject({ heldBack: false, retryAt: null });
    });
  });

  describe('cancellation', () => {
    it('a scheduled run ends lost (cancelled) at once; the task skips it without using a retry or counting an abandon', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: { args: ['a'], kwargs: {} } });
      const [run] = await orrery.scheduleDue({ at: T0 });
      const out = await orrery.cancelRun(run!.backendId, { at: plus(T0, 5) });
      expect(out.outcome).toBe('ended');
      expect(out.run).toMatchObject({ status: 'lost', error: 'cancelled', ended: plus(T0, 5), started: null });
      expect(await orrery.getTask(t.id)).toMatchObject({ status: 'next_run_not_scheduled', retriesLeft: 2, consecutiveAbandons: 0, nextRun: plus(T0, 5 + DAY) });
      expect(await claimStarted(orrery, { worker: 'w', types: ['load-git'], limit: 5, at: plus(T0, 10) })).toEqual([]);
      await expect(orrery.cancelRun(run!.backendId)).rejects.toBeInstanceOf(ConflictError);
      await expect(orrery.cancelRun('no-such-run')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('a one-shot task whose run is cancelled is disabled (manual) until respawned', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const t = await orrery.createTask(oneshot('job', 1));
      const [run] = await orrery.scheduleDue({ at: T0 });
      await orrery.cancelRun(run!.backendId, { at: T0 });
      expect(await orrery.getTask(t.id)).toMatchObject({ status: 'disabled', disabledReason: 'manual' });
    });

    it('a started run is flagged; the heartbeat tells its worker, whose failed end is a cancellation', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: { args: ['a'], kwargs: {} } });
      const run = await claimOne(orrery, t.id, T0);
      const out = await orrery.cancelRun(run.backendId, { at: plus(T0, 100) });
      expect(out).toMatchObject({ outcome: 'requested', run: { status: 'started', cancelRequested: true } });
      expect(await orrery.heartbeat(run.backendId, { worker: 'w1', at: plus(T0, 200) })).toEqual({ leaseExpiresAt: plus(T0, 30_200), cancelRequested: true });
      expect((await orrery.cancelRun(run.backendId)).outcome).toBe('requested'); // asking twice changes nothing
      const ended = await orrery.endRun(run.backendId, { status: 'failed', worker: 'w1', error: 'cancelled', at: plus(T0, 300) });
      expect(ended.run).toMatchObject({ status: 'failed', error: 'cancelled' });
      expect(ended.task).toMatchObject({ status: 'next_run_not_scheduled', retriesLeft: 2, nextRun: plus(T0, 300 + DAY) });
    });

    it('a cancelled run whose worker vanished is reaped as a cancellation', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: { args: ['a'], kwargs: {} } });
      const run = await claimOne(orrery, t.id, T0);
      await orrery.cancelRun(run.backendId, { at: T0 });
      const [reaped] = await orrery.reapExpired({ at: plus(T0, 31_000) });
      expect(reaped!.run.status).toBe('failed');
      expect(reaped!.run.error).toMatch(/^cancelled \(lease expired/);
      expect(reaped!.task).toMatchObject({ retriesLeft: 2, consecutiveAbandons: 0 });
    });

    it('a disable at an instant before its waiting runs were scheduled ends them when they were scheduled, as a cancel does (pause audit: they ended before it)', async () => {
      const { orrery } = await setup();
      const [a, b] = await orrery.createTasks(['a', 'b'].map((x) => ({ type: 'load-git', arguments: { args: [x], kwargs: {} }, nextRun: T0 })), { at: T0 });
      const runs = await orrery.scheduleDue({ at: plus(T0, 10_000) });
      expect(runs).toHaveLength(2);
      // One waits in a worker's buffer (claimed), the other on the jobboard.
      const [claimed] = await orrery.claimRuns({ worker: 'w1', types: ['load-git'], limit: 1, at: plus(T0, 20_000) });
      const past = new Date(T0.getTime() - 365 * 86_400_000);
      await orrery.disableTasks([a!.id, b!.id], { at: past });
      for (const r of runs) {
        const after = (await orrery.getRun(r.backendId))!;
        expect([after.status, after.error, after.ended]).toEqual(['lost', 'cancelled: task disabled', r.scheduled]);
      }
      expect(claimed).toBeDefined();
    });

    it('disabling a task asks its started run to stop; the run is recorded and the task stays disabled', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: { args: ['a'], kwargs: {} } });
      const run = await claimOne(orrery, t.id, T0);
      await orrery.disableTasks([t.id], { at: plus(T0, 1) });
      expect((await orrery.heartbeat(run.backendId, { worker: 'w1', at: plus(T0, 2) })).cancelRequested).toBe(true);
      const ended = await orrery.endRun(run.backendId, { status: 'failed', worker: 'w1', error: 'cancelled', at: plus(T0, 3) });
      expect(ended).toMatchObject({ taskUpdated: false, run: { status: 'failed', error: 'cancelled' }, task: { status: 'disabled', disabledReason: 'manual' } });
    });
  });

  describe('cancellation of a DAG run', () => {
    it('fails its unfinished tasks (cancelled), stops live attempts, ends the run failed; a restart re-runs them', async () => {
      const { orrery } = await setup([]);
      await orrery.dags.register([{ id: 'diamond', tasks: [{ id: 'a' }, { id: 'b', after: ['a'] }, { id: 'c', after: ['a'] }, { id: 'd', after: ['b', 'c'] }] }]);
      const run = await orrery.dags.trigger('diamond');
      const step = async (limit: number) => {
        await orrery.dags.progressAll();
        await orrery.scheduleDue({});
        return claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit });
      };
      const [a] = await step(10);
      await orrery.endRun(a!.run.backendId, { status: 'eventful', worker: 'w', result: 1 });
      const [first] = await step(1); // b or c started; the other waits on the jobboard
      const cancelled = await orrery.dags.cancel(run.id);
      expect(cancelled.status).toBe('failed');
      const detail = await orrery.dags.run(run.id);
      expect(detail.tasks.map((t) => [t.taskId, t.status, t.error])).toEqual([
        ['a', 'success', null],
        ['b', 'failed', 'cancelled'],
        ['c', 'failed', 'cancelled'],
        ['d', 'failed', 'cancelled'],
      ]);
      expect((await orrery.getRun(first!.run.backendId))!.cancelRequested).toBe(true);
      const waiting = detail.tasks.find((t) => t.taskId !== 'a' && t.orreryTask !== null && t.orreryTask !== first!.run.task)!;
      expect((await orrery.listRuns(waiting.orreryTask!)).map((r) => [r.status, r.error])).toEqual([['lost', 'cancelled']]);
      await orrery.endRun(first!.run.backendId, { status: 'failed', worker: 'w', error: 'cancelled' });
      await orrery.dags.progressAll();
      expect((await orrery.dags.run(run.id)).status).toBe('failed');
      expect(await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 10 })).toEqual([]);
      await expect(orrery.dags.cancel(run.id)).rejects.toBeInstanceOf(ConflictError);
      expect((await orrery.dags.restart(run.id)).status).toBe('running');
      const again = await step(10);
      expect(again.map((c) => (c.arguments.kwargs['orrery.dag'] as { task: string }).task).sort()).toEqual(['b', 'c']);
    });
  });

  describe('task keys and onConflict', () => {
    it('a key is the identity within the type: return (default) gives back the holder unchanged', async () => {
      const { orrery } = await setup([{ name: 'page' }]);
      const a = await orrery.createTask(oneshot('page', 1, { key: 'p1' }));
      const b = await orrery.createTask(oneshot('page', 2, { key: 'p1' }));
      expect(b).toEqual(a);
      expect(b.arguments.args).toEqual([1]);
      expect((await orrery.createTask(oneshot('page', 2, { key: 'p2' }))).id).not.toBe(a.id);
    });

    it('error: a ConflictError, and the whole batch is refused', async () => {
      const { orrery } = await setup([{ name: 'page' }]);
      await orrery.createTask(oneshot('page', 1, { key: 'p1' }));
      await expect(orrery.createTask(oneshot('page', 2, { key: 'p1', onConflict: 'error' }))).rejects.toBeInstanceOf(ConflictError);
      await expect(orrery.createTasks([oneshot('page', 3, { key: 'p3' }), oneshot('page', 4, { key: 'p1', onConflict: 'error' })])).rejects.toThrow(/key "p1"/);
      expect(await orrery.searchTasks({ type: 'page' })).toHaveLength(1);
    });

    it('replace: a waiting task takes the new arguments and next run; a queued run is withdrawn', async () => {
      const { orrery } = await setup([{ name: 'page' }]);
      const a = await orrery.createTask(oneshot('page', 1, { key: 'p1' }));
      const r = await orrery.createTasksDetailed([oneshot('page', 2, { key: 'p1', onConflict: 'replace', nextRun: plus(T0, HOUR), concurrencyKey: 'h' })], { at: T0 });
      expect(r[0]).toMatchObject({ created: false, replaced: true, task: { id: a.id, arguments: { args: [2] }, nextRun: plus(T0, HOUR), concurrencyKey: 'h' } });
      const [queued] = await orrery.scheduleDue({ at: plus(T0, HOUR) });
      const again = await orrery.createTasksDetailed([oneshot('page', 3, { key: 'p1', onConflict: 'replace', nextRun: plus(T0, 2 * HOUR) })], { at: plus(T0, HOUR) });
      expect(again[0]).toMatchObject({ replaced: true, task: { status: 'next_run_not_scheduled', arguments: { args: [3] }, nextRun: plus(T0, 2 * HOUR) } });
      expect(await orrery.getRun(queued!.backendId)).toMatchObject({ status: 'lost', error: 'cancelled: replaced' });
      const [next] = await orrery.scheduleDue({ at: plus(T0, 2 * HOUR) });
      const claimed = await claimStarted(orrery, { worker: 'w', types: ['page'], limit: 1, at: plus(T0, 2 * HOUR) });
      expect(claimed.map((c) => [c.run.id, c.arguments.args])).toEqual([[next!.id, [3]]]);
    });

    it('replace: a task whose run has started is left to finish', async () => {
      const { orrery } = await setup([{ name: 'page' }]);
      const a = await orrery.createTask(oneshot('page', 1, { key: 'p1' }));
      await claimOne(orrery, a.id, T0);
      const r = await orrery.createTasksDetailed([oneshot('page', 2, { key: 'p1', onConflict: 'replace' })], { at: T0 });
      expect(r[0]).toMatchObject({ created: false, task: { id: a.id, arguments: { args: [1] }, status: 'next_run_scheduled' } });
      expect(r[0]!.replaced).toBeFalsy();
    });

    it("replace: a task whose run waits in a worker's buffer (claimed) is returned unchanged: its handler may have begun already", async () => {
      const { orrery } = await setup([{ name: 'page' }]);
      const a = await orrery.createTask(oneshot('page', 1, { key: 'p1' }), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const [buffered] = await orrery.claimRuns({ worker: 'w', types: ['page'], limit: 10, startNow: 0, at: T0 });
      expect(buffered!.run.status).toBe('claimed');
      const [r] = await orrery.createTasksDetailed([oneshot('page', 2, { key: 'p1', onConflict: 'replace' })], { at: plus(T0, 10) });
      expect(r).toMatchObject({ created: false, task: { id: a.id, arguments: { args: [1] }, status: 'next_run_scheduled' } });
      expect(r!.replaced).toBeFalsy();
      expect(r!.withdrawn).toBeUndefined();
      // Its worker goes on with it.
      const answer = await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: buffered!.run.backendId, startedAt: plus(T0, 20) }], at: plus(T0, 20) });
      expect(answer.lost).toEqual([]);
      expect(await orrery.getRun(buffered!.run.backendId)).toMatchObject({ status: 'started' });
    });

    it("replace without a next run: a cron task keeps its own next occurrence (its schedule is kept, the incoming one's ignored); an adaptive one runs now", async () => {
      const { orrery } = await setup([{ name: 'page' }]);
      const cron = (expr: string, i: number) => ({ type: 'page', policy: 'recurring' as const, arguments: { args: [i], kwargs: {} }, key: 'c', schedule: { kind: 'cron' as const, expr } });
      const a = await orrery.createTask(cron('0 * * * *', 1), { at: plus(T0, 10 * 60_000) });
      expect(a.nextRun).toEqual(plus(T0, HOUR));
      // It moved to 00:30, the first occurrence of the schedule it does not take.
      const [r] = await orrery.createTasksDetailed([{ ...cron('30 * * * *', 2), onConflict: 'replace' }], { at: plus(T0, 20 * 60_000) });
      expect(r).toMatchObject({ replaced: true, task: { id: a.id, arguments: { args: [2] }, schedule: { expr: '0 * * * *' }, nextRun: plus(T0, HOUR), scheduledFor: plus(T0, HOUR) } });
      // A queued run withdrawn: its occurrence is still owed, with the new arguments.
      const [queued] = await orrery.scheduleDue({ at: plus(T0, HOUR) });
      const [again] = await orrery.createTasksDetailed([{ ...cron('30 * * * *', 3), onConflict: 'replace' }], { at: plus(T0, HOUR + 60_000) });
      expect(again).toMatchObject({ replaced: true, withdrawn: { id: queued!.id }, task: { status: 'next_run_not_scheduled', nextRun: plus(T0, HOUR), scheduledFor: plus(T0, HOUR) } });
      const [requeued] = await orrery.scheduleDue({ at: plus(T0, HOUR + 60_000) });
      expect(requeued).toMatchObject({ task: a.id, scheduledFor: plus(T0, HOUR) });
      // A task without a calendar schedule (a one-shot here) due later runs now.
      const b = await orrery.createTask(oneshot('page', 1, { key: 'o', nextRun: plus(T0, DAY) }), { at: T0 });
      const [now] = await orrery.createTasksDetailed([oneshot('page', 2, { key: 'o', onConflict: 'replace' })], { at: plus(T0, 5_000) });
      expect(now).toMatchObject({ replaced: true, task: { id: b.id, nextRun: plus(T0, 5_000) } });
    });

    it('replace within one batch: the later task replaces the earlier', async () => {
      const { orrery } = await setup([{ name: 'page' }]);
      const out = await orrery.createTasksDetailed([oneshot('page', 1, { key: 'k' }), oneshot('page', 2, { key: 'k', onConflict: 'replace' })], { at: T0 });
      expect(out.map((c) => [c.created, c.task.arguments.args])).toEqual([[true, [1]], [false, [2]]]);
      expect((await orrery.getTask(out[0]!.task.id))!.arguments.args).toEqual([2]);
    });
  });
}
