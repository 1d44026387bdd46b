import { describe, expect, it } from 'vitest';
import { ALERT_LEASE_MS } from '../../src/core/alert-retry.js';
import { validateTask } from '../../src/core/validation.js';
import type { StoredAlert } from '../../src/store/alert-store.js';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, T0, claimStarted, plus, useOrrery } from './fixtures.js';

const oneshot = (type: string, i: number) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } });

/** The alerts' outbox (docs/guide.md#alerts, docs/dags.md#alerts): written with the ends and DAG steps that call for one, taken and settled by senders. */
export function alertCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('alerts outbox', () => {
    it('an end that disables its task for good or retries it stores an alert in its transaction; successes, cancels and DAG attempts none', async () => {
      const { orrery } = await setup([
        { name: 'fatal' },
        { name: 'flaky', numRetries: 1, retryDelayMs: HOUR },
        { name: 'fine' },
        { name: 'ghostly', maxAbandons: 1, leaseMs: 1000 },
        { name: 'dagstep', backendName: 'orrery.dag' },
      ]);
      // A DAG attempt's task carries its `orrery.dag` kwarg (one made by hand without it is no attempt: it alerts as any task).
      const attempt = { dag: 'd', task: 't', version: 'v1', run: 1, attempt: 1, execTs: T0.toISOString(), params: {}, upstream: {}, timeoutMs: null };
      // The kwarg is the DAG scheduler's (refused in tasks made by hand): the store writes the step as the scheduler does.
      const dagStep = { ...validateTask(oneshot('dagstep', 1), new Map((await orrery.listTaskTypes()).map((t) => [t.name, t])), T0), arguments: { args: [], kwargs: { 'orrery.dag': attempt } } };
      const [fatal, flaky, fine] = await orrery.createTasks([oneshot('fatal', 1), oneshot('flaky', 1), oneshot('fine', 1)], { at: T0 });
      const step = (await orrery.store.createTasks([dagStep], T0))[0]!.task;
      const claimed = await claimStarted(orrery, { worker: 'w', types: ['fatal', 'flaky', 'fine', 'dagstep'], limit: 10, due: true, at: T0 });
      const of = (id: number) => claimed.find((c) => c.run.task === id)!;
      const held = (id: number, status: 'permfailed' | 'failed' | 'eventful', at: Date) => ({
        backendId: of(id).run.backendId, status, worker: 'w', at, error: status === 'eventful' ? undefined : `${status} here`, held: { run: of(id).run, task: of(id).task! },
      });
      // Held ends (each store's one-statement path) and a plain end (the careful path).
      await orrery.endRuns([held(fatal!.id, 'permfailed', plus(T0, 10)), held(flaky!.id, 'failed', plus(T0, 11)), held(fine!.id, 'eventful', plus(T0, 12)), held(step!.id, 'failed', plus(T0, 13))]);
      // A waiting run cancelled: it ends lost, no alert.
      await orrery.createTasks([oneshot('fatal', 2)], { at: T0 });
      const [queued] = await orrery.scheduleDue({ type: 'fatal', at: plus(T0, 14) });
      expect((await orrery.cancelRun(queued!.backendId, { at: plus(T0, 15) })).outcome).toBe('ended');
      // The flaky task's retry, failed again: retries exhausted.
      const again = await claimStarted(orrery, { worker: 'w', types: ['flaky'], limit: 1, due: true, at: plus(T0, HOUR + 11) });
      await orrery.endRun(again[0]!.run.backendId, { status: 'failed', worker: 'w', error: 'down again', at: plus(T0, HOUR + 20) });
      // A run lost to its lease dead-letters its task (maxAbandons 1), by the reaper.
      const [ghost] = await orrery.createTasks([oneshot('ghostly', 1)], { at: T0 });
      await claimStarted(orrery, { worker: 'g', types: ['ghostly'], limit: 1, due: true, at: T0 });
      await orrery.reapExpired({ at: plus(T0, 5000) });

      const waiting = await orrery.store.alerts.waitingAlerts();
      expect(waiting).toEqual({ waiting: 4, oldest: plus(T0, 10), failing: 0 });
      const { alerts: taken } = await orrery.store.alerts.takeAlerts({ sources: ['task', 'dag'], at: plus(T0, 2 * HOUR), limit: 10, leaseMs: ALERT_LEASE_MS });
      const alerts = taken.map((a) => (a.source === 'task' ? { ...a.alert, tries: a.tries, firstTry: a.firstTry, lastError: a.lastError } : null)!);
      expect(alerts.map((a) => [a.taskId, a.kind, a.status, a.disabledReason, a.attempt, a.tries])).toEqual([
        [fatal!.id, 'failed', 'permfailed', 'permfailed', 1, 1],
        [flaky!.id, 'retry', 'failed', null, 1, 1],
        [flaky!.id, 'failed', 'failed', 'retries_exhausted', 2, 1],
        [ghost!.id, 'failed', 'lost', 'dead_letter', 1, 1], // in the order they were stored, not by their ends' instants
      ]);
      const retry = alerts[1]!;
      expect(retry).toMatchObject({ type: 'flaky', backendId: of(flaky!.id).run.backendId, error: 'failed here', nextRun: plus(T0, HOUR + 11), ended: plus(T0, 11), firstTry: plus(T0, 2 * HOUR), lastError: null });
      expect(alerts[0]!.nextRun).toBeNull();
      // A complete archive sweep deletes the alerts of the runs ended before its cut-off, sent or not.
      const sweep = await orrery.archive({ before: plus(T0, HOUR), at: plus(T0, 3 * HOUR) });
      expect(sweep).toMatchObject({ complete: true, alerts: 3 });
      expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(1);
    });

    it("a recurring task's run cancelled while started, then ended failed by its worker or reaped, stores no alert", async () => {
      const { orrery } = await setup([{ name: 'rc', defaultIntervalMs: HOUR, numRetries: 2, leaseMs: 1000 }]);
      await orrery.createTasks([1, 2].map((i) => ({ type: 'rc', arguments: { args: [i], kwargs: {} } })), { at: T0 });
      const [a, b] = await claimStarted(orrery, { worker: 'w', types: ['rc'], limit: 2, due: true, at: T0 });
      for (const c of [a!, b!]) expect((await orrery.cancelRun(c.run.backendId, { at: plus(T0, 10) })).outcome).toBe('requested');
      // Its worker's own error (the end is recorded as `cancelled (boom)`), and a worker that vanished.
      const ended = await orrery.endRun(a!.run.backendId, { status: 'failed', worker: 'w', error: 'boom', at: plus(T0, 20) });
      expect(ended.run.error).toBe('cancelled (boom)');
      const [reaped] = await orrery.reapExpired({ at: plus(T0, 5000) });
      expect(reaped!.run.error).toMatch(/^cancelled \(lease expired/);
      expect(await orrery.store.alerts.waitingAlerts()).toEqual({ waiting: 0, failing: 0, oldest: null });
    });

    it('a take holds its alerts for its lease under its token; a settle by a stale token changes nothing; retries wait their time', async () => {
      const { orrery, another } = await setup([{ name: 'fatal' }]);
      const tasks = await orrery.createTasks([1, 2, 3].map((i) => oneshot('fatal', i)), { at: T0 });
      const claimed = await claimStarted(orrery, { worker: 'w', types: ['fatal'], limit: 3, due: true, at: T0 });
      await orrery.endRuns(claimed.map((c, i) => ({ backendId: c.run.backendId, status: 'permfailed' as const, worker: 'w', at: plus(T0, 10 + i) })));
      const alerts = orrery.store.alerts;
      const task = ['task'] as const;
      const taskOf = (a: StoredAlert) => (a.source === 'task' ? a.alert.taskId : null);
      // Due at once as stored (next try: the epoch), whatever instant they report.
      expect(await alerts.nextAlertAt(task)).toEqual(new Date(0));
      expect(await alerts.nextAlertAt(['dag'])).toBeNull();
      expect((await alerts.takeAlerts({ sources: ['dag'], at: plus(T0, 100), limit: 10, leaseMs: 1000 })).alerts).toEqual([]);
      const other = (await another()).store.alerts;
      const first = await alerts.takeAlerts({ sources: task, at: plus(T0, 100), limit: 2, leaseMs: 1000 });
      expect(first.alerts.map(taskOf)).toEqual([tasks[0]!.id, tasks[1]!.id]);
      // Another sender takes what is left, not what the first holds.
      const second = await other.takeAlerts({ sources: task, at: plus(T0, 100), limit: 10, leaseMs: 5000 });
      expect(second.alerts.map(taskOf)).toEqual([tasks[2]!.id]);
      expect((await other.takeAlerts({ sources: task, at: plus(T0, 500), limit: 10, leaseMs: 1000 })).alerts).toEqual([]);
      // The first sender's lease ran out: another takes its alerts again (a second try).
      const retaken = await other.takeAlerts({ sources: task, at: plus(T0, 1100), limit: 10, leaseMs: 1000 });
      expect(retaken.alerts.map((a) => [taskOf(a), a.tries, a.firstTry])).toEqual([[tasks[0]!.id, 2, plus(T0, 100)], [tasks[1]!.id, 2, plus(T0, 100)]]);
      // The first sender settles late: its token no longer holds them.
      expect(await alerts.settleAlerts({ token: first.token, done: first.alerts.map((a) => a.id), retry: [] })).toBe(0);
      expect((await alerts.waitingAlerts()).waiting).toBe(3);
      // Delivered: deleted. Failed: tried again at its time, its error kept.
      const [a0, a1] = retaken.alerts;
      expect(await other.settleAlerts({ token: retaken.token, done: [a0!.id], retry: [{ id: a1!.id, retryAt: plus(T0, 60_000), error: 'answered 500' }] })).toBe(2);
      expect(await alerts.waitingAlerts()).toEqual({ waiting: 2, oldest: plus(T0, 11), failing: 1 });
      expect(await alerts.settleAlerts({ token: second.token, done: [second.alerts[0]!.id], retry: [] })).toBe(1);
      expect(await alerts.nextAlertAt(task)).toEqual(plus(T0, 60_000));
      expect((await alerts.takeAlerts({ sources: task, at: plus(T0, 59_999), limit: 10, leaseMs: 1000 })).alerts).toEqual([]);
      const late = await alerts.takeAlerts({ sources: task, at: plus(T0, 60_000), limit: 10, leaseMs: 1000 });
      expect(late.alerts.map((a) => [taskOf(a), a.tries, a.lastError])).toEqual([[tasks[1]!.id, 3, 'answered 500']]);
      // Archiving drops the alerts about instants before its cutoff.
      expect(await alerts.deleteAlertsBefore(plus(T0, 12))).toBe(1);
      expect((await alerts.waitingAlerts()).waiting).toBe(0);
    });

    it("a DAG step that records a task's failure stores its DAG alert in the step's transaction", async () => {
      const { orrery } = await setup([]);
      await orrery.dags.register([{ id: 'etl', tasks: [{ id: 'load', retries: 1, retryDelay: 0 }] }]);
      const run = await orrery.dags.trigger('etl');
      const failOnce = async () => {
        await orrery.dags.progressAll();
        await orrery.scheduleDue({});
        const [c] = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 1 });
        await orrery.endRun(c!.run.backendId, { status: 'failed', error: 'load down', worker: 'w' });
        await orrery.dags.progressAll();
      };
      await failOnce();
      await failOnce();
      expect((await orrery.dags.run(run.id)).status).toBe('failed');
      const taken = await orrery.store.alerts.takeAlerts({ sources: ['dag'], at: plus(T0, HOUR), limit: 10, leaseMs: 1000 });
      expect(taken.alerts.map((a) => (a.source === 'dag' ? [a.alert.kind, a.alert.dag, a.alert.dagRunId, a.alert.taskId, a.alert.attempt, a.alert.error, a.alert.execTs] : null))).toEqual([
        ['retry', 'etl', run.id, 'load', 1, expect.stringContaining('load down'), run.execTs],
        ['failed', 'etl', run.id, 'load', 2, expect.stringContaining('load down'), run.execTs],
      ]);
      expect(taken.alerts[0]!.source === 'dag' && taken.alerts[0]!.alert.retryAt).toBeInstanceOf(Date);
      // No task alert for the DAG's attempts (a type served by the DAG backend).
      expect((await orrery.store.alerts.waitingAlerts()).waiting).toBe(2);
    });
  });
}
