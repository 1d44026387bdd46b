import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import { PAUSED_GIVE_BACK_ERROR } from '../../src/core/give-back.js';
import type { ManualClock } from '../../src/engine/clock.js';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, T0, claimStarted, plus, useOrrery } from './fixtures.js';

const oneshot = (type: string, i: number) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } });

/** Issue 18: a task's schedule and a DAG paused and resumed (docs/operations.md#pause-a-task-or-a-dag). */
export function pauseCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('pausing a task or a DAG', () => {
    it('a paused task is neither scheduled nor claimed in any process; its queued run is taken back; resuming makes it due again', async () => {
      const { orrery, another } = await setup([{ name: 'a' }]);
      const other = await another();
      // t1 waits in the queue; t2 is claimed by a worker (held); t3 is only due.
      const [t2] = await orrery.createTasks([oneshot('a', 2)], { at: T0 });
      const held = await other.claim({ worker: 'w', types: ['a'], limit: 1, due: true, at: T0 });
      expect(held.runs.map((c) => c.run.task)).toEqual([t2!.id]);
      const [t1] = await orrery.createTasks([oneshot('a', 1)], { at: T0 });
      expect((await orrery.scheduleDue({ at: T0 })).map((r) => r.task)).toEqual([t1!.id]);
      const [t3] = await orrery.createTasks([oneshot('a', 3)], { at: T0 });

      for (const t of [t1!, t2!, t3!]) await orrery.pauseTask(t.id, { reason: 'investigating', at: plus(T0, 1) });
      const p1 = (await other.getTask(t1!.id))!;
      expect(p1.paused).toEqual({ at: plus(T0, 1), reason: 'investigating' });
      // The queued run of t1 was taken back (it never ran): the task waits for its next run again.
      expect(p1.status).toBe('next_run_not_scheduled');
      expect(await orrery.listRuns(t1!.id)).toEqual([]);
      // Nothing of theirs is claimed or scheduled; the runner's next due instant leaves them out.
      for (const o of [orrery, other]) {
        expect((await o.claim({ worker: 'w2', types: ['a'], limit: 10, at: plus(T0, 2) })).runs).toEqual([]);
        expect((await o.claim({ worker: 'w2', types: ['a'], limit: 10, due: true, at: plus(T0, 2) })).runs).toEqual([]);
      }
      expect(await orrery.scheduleDue({ at: plus(T0, 2) })).toEqual([]);
      expect(await orrery.store.nextDueAt()).toBeNull();
      expect((await orrery.dueStats({ at: plus(T0, 2) })).map((d) => d.due)).toEqual([]);
      expect((await orrery.queueStats()).find((q) => q.type === 'a')!.pausedTasks).toBe(3);
      // The run a worker held finishes; its task stays paused afterwards.
      await other.endRun(held.runs[0]!.run.backendId, { status: 'uneventful', worker: 'w' });
      expect((await orrery.getTask(t2!.id))!).toMatchObject({ status: 'completed', paused: { reason: 'investigating' } });
      // Why: the task's own pause holds it.
      expect(await orrery.whyTask(t3!.id, { at: plus(T0, 3) })).toMatchObject({ heldBy: 'task-paused', summary: expect.stringMatching(/paused since .* \(investigating\)/) });

      // Pausing again keeps the instant; resuming a running task changes nothing.
      expect((await orrery.pauseTask(t3!.id, { at: plus(T0, 5) })).paused!.at).toEqual(plus(T0, 1));
      expect((await other.resumeTask(t3!.id, { at: plus(T0, 10) })).paused).toBeNull();
      expect((await orrery.resumeTask(t3!.id)).paused).toBeNull();
      await orrery.resumeTask(t1!.id, { at: plus(T0, 10) });
      expect(await orrery.store.nextDueAt()).toEqual(T0);
      const after = await orrery.claim({ worker: 'w3', types: ['a'], limit: 10, due: true, at: plus(T0, 11) });
      expect(after.runs.map((c) => c.run.task).sort()).toEqual([t1!.id, t3!.id].sort());
      expect((await orrery.queueStats()).find((q) => q.type === 'a')!.pausedTasks).toBe(1);
    });

    it('a queued run that a backend wrote log records for is taken back with them (a foreign-key failure: a 500 over HTTP, exit 1 in the CLI)', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      const [t] = await orrery.createTasks([oneshot('a', 1)], { at: T0 });
      const [run] = await orrery.scheduleDue({ at: T0 });
      await orrery.appendRunLogs(run!.backendId, [{ level: 'info', message: 'queued', at: T0, attributes: {} }]);
      const paused = await orrery.pauseTask(t!.id, { at: T0 });
      expect(paused).toMatchObject({ status: 'next_run_not_scheduled', paused: { at: T0 } });
      expect(await orrery.getRun(run!.backendId)).toBeNull();
      expect((await orrery.resumeTask(t!.id, { at: T0 })).paused).toBeNull();
      expect((await orrery.scheduleDue({ at: T0 })).map((r) => r.task)).toEqual([t!.id]);
    });

    it('a run given back (released, or its claim expired) whose task was paused meanwhile is taken back, not queued for another worker', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      const [t1, t2, t3] = await orrery.createTasks([oneshot('a', 1), oneshot('a', 2), oneshot('a', 3)], { at: T0 });
      // t1 and t2 wait in w's buffer (claimed); t3 is started but its handler never began.
      const held = await orrery.claimRuns({ worker: 'w', types: ['a'], limit: 3, startNow: 1, due: true, at: T0 });
      const runOf = (id: number) => held.find((c) => c.run.task === id)!.run;
      expect(runOf(t3!.id).status).toBe('claimed'); // claim order: the first one created starts
      for (const t of [t1!, t2!, t3!]) await orrery.pauseTask(t.id, { reason: 'hold', at: plus(T0, 1) });
      // t3's handler began just before its worker died (a log record, its start not yet marked).
      await orrery.appendRunLogs(runOf(t3!.id).backendId, [{ at: plus(T0, 1), level: 'info', message: 'began', attributes: {} }]);
      // A worker stopping gives back its buffer and its unbegun runs: nothing goes back to the queue.
      expect(await orrery.releaseRuns({ worker: 'w', backendIds: [runOf(t1!.id).backendId, runOf(t2!.id).backendId], at: plus(T0, 2) })).toBe(0);
      // The reaper gives back the expired claim of t3: taken back too.
      const ended: string[] = [];
      orrery.events.on('run', (e) => e.event === 'ended' && ended.push(`${e.run.backendId}:${e.run.status}:${e.reaped === true}`));
      await orrery.reapExpired({ at: plus(T0, HOUR) });
      // Its loss is an end the reaper made (what metrics count): it sent no event (guide audit).
      expect(ended).toEqual([`${runOf(t3!.id).backendId}:lost:true`]);
      for (const t of [t1!, t2!, t3!]) {
        expect(await orrery.getTask(t.id)).toMatchObject({ status: 'next_run_not_scheduled', paused: { reason: 'hold' }, retriesLeft: t.retriesLeft, consecutiveAbandons: 0 });
      }
      // Given back by their worker (never begun): taken back, as a pause takes back a waiting run.
      for (const t of [t1!, t2!]) expect(await orrery.listRuns(t.id)).toEqual([]);
      // Found expired by the reaper (it may have begun): kept as a loss, with its log and give-back count, so a second execution leaves a trace.
      const [kept] = await orrery.listRuns(t3!.id);
      expect(kept).toMatchObject({ backendId: runOf(t3!.id).backendId, status: 'lost', error: PAUSED_GIVE_BACK_ERROR, ended: plus(T0, HOUR), metadata: { 'orrery.givenBack': 1 } });
      expect((await orrery.getRunLogs(runOf(t3!.id).backendId)).map((l) => l.message)).toEqual(['began']);
      expect((await orrery.claim({ worker: 'w2', types: ['a'], limit: 10, due: true, at: plus(T0, HOUR + 1) })).runs).toEqual([]);
      expect(await orrery.whyTask(t1!.id, { at: plus(T0, HOUR + 1) })).toMatchObject({ heldBy: 'task-paused' });
      // Resumed, each runs once.
      for (const t of [t1!, t2!, t3!]) await orrery.resumeTask(t.id, { at: plus(T0, HOUR + 2) });
      const after = await orrery.claimRuns({ worker: 'w2', types: ['a'], limit: 10, due: true, at: plus(T0, HOUR + 3) });
      expect(after.map((c) => c.run.task).sort()).toEqual([t1!.id, t2!.id, t3!.id].sort());
    });

    it('a run given back whose task was disabled, or whose cancellation was asked, ends cancelled instead of going back to the queue', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      const [t1, t2] = await orrery.createTasks([oneshot('a', 1), oneshot('a', 2)], { at: T0 });
      const held = await orrery.claimRuns({ worker: 'w', types: ['a'], limit: 2, startNow: 2, due: true, at: T0 });
      const runOf = (id: number) => held.find((c) => c.run.task === id)!.run;
      const ended: string[] = [];
      orrery.events.on('run', (e) => e.event === 'ended' && ended.push(`${e.run.backendId}:${e.run.error}`));
      await orrery.disableTasks([t1!.id], { at: plus(T0, 1) });
      expect((await orrery.cancelRun(runOf(t2!.id).backendId, { at: plus(T0, 1) })).outcome).toBe('requested');
      // Their handlers never began: the worker gives them back.
      expect(await orrery.releaseRuns({ worker: 'w', backendIds: [runOf(t1!.id).backendId, runOf(t2!.id).backendId], at: plus(T0, 2) })).toBe(0);
      expect(await orrery.getRun(runOf(t1!.id).backendId)).toMatchObject({ status: 'lost', error: 'cancelled: task disabled', ended: plus(T0, 2), worker: null, leaseExpiresAt: null });
      expect(await orrery.getRun(runOf(t2!.id).backendId)).toMatchObject({ status: 'lost', error: 'cancelled', ended: plus(T0, 2) });
      // The end the give-back made is an event, as a cancel's is (what metrics count).
      expect(ended).toContain(`${runOf(t2!.id).backendId}:cancelled`);
      expect(ended).toContain(`${runOf(t1!.id).backendId}:cancelled: task disabled`);
      expect(await orrery.getTask(t1!.id)).toMatchObject({ status: 'disabled', disabledReason: 'manual' });
      // A one-shot task whose run was cancelled is done with (as a cancelled waiting run leaves it).
      const t2After = (await orrery.getTask(t2!.id))!;
      expect(t2After.status).not.toBe('next_run_scheduled');
      expect((await orrery.claim({ worker: 'w2', types: ['a'], limit: 10, due: true, at: plus(T0, 3) })).runs).toEqual([]);
      // The disabled task can be respawned at once: no run of it is held any more.
      expect((await orrery.respawnTasks([t1!.id], { at: plus(T0, 4) }))[0]).toMatchObject({ status: 'next_run_not_scheduled' });
      // A claim whose worker vanished, its task disabled meanwhile: the reaper's give-back ends it, with its event.
      const [t3] = await orrery.createTasks([oneshot('a', 3)], { at: plus(T0, 5) });
      const c3 = (await orrery.claimRuns({ worker: 'w3', types: ['a'], limit: 2, startNow: 0, due: true, at: plus(T0, 5) })).find((c) => c.run.task === t3!.id);
      await orrery.disableTasks([t3!.id], { at: plus(T0, 6) });
      await orrery.reapExpired({ at: plus(T0, HOUR) });
      expect(await orrery.getRun(c3!.run.backendId)).toMatchObject({ status: 'lost', error: 'cancelled: task disabled' });
      expect(ended).toContain(`${c3!.run.backendId}:cancelled: task disabled`);
    });

    it('refuses unknown tasks and DAG attempts, and wakes the runner on resume', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      await expect(orrery.pauseTask(999)).rejects.toBeInstanceOf(NotFoundError);
      await expect(orrery.resumeTask(999)).rejects.toBeInstanceOf(NotFoundError);
      const [t] = await orrery.createTasks([oneshot('a', 1)], { at: T0 });
      await expect(orrery.pauseTask(t!.id, { reason: 'x'.repeat(2000) })).rejects.toThrow(/reason/);
      await orrery.pauseTask(t!.id);
      const seen: string[] = [];
      orrery.store.listen('tasks', () => seen.push('tasks'));
      await orrery.resumeTask(t!.id);
      expect(seen).toContain('tasks');

      await orrery.dags.register([{ id: 'd', tasks: [{ id: 'a' }] }]);
      await orrery.dags.trigger('d');
      await orrery.dags.progressAll();
      const attempt = (await orrery.searchTasks({ type: 'orrery.dag' }))[0]!;
      await expect(orrery.pauseTask(attempt.id)).rejects.toBeInstanceOf(ConflictError);
    });

    it('a paused DAG records no run and starts no task; on resume its missed points follow its catch-up rule', async () => {
      const { orrery, clock } = await setup([]);
      await orrery.dags.register([{ id: 'hourly', schedule: { every: '1h' }, start: T0, catchUp: true, tasks: [{ id: 'a' }, { id: 'b', after: ['a'] }] }]);
      const first = await orrery.dags.schedulePoints();
      expect(first.created.map((r) => r.execTs)).toEqual([T0]);
      await orrery.dags.progressAll(); // the run starts: task a is handed to the jobboard
      const paused = await orrery.dags.pause('hourly', { reason: 'maintenance' });
      expect(paused.paused).toMatchObject({ reason: 'maintenance' });
      expect((await orrery.dags.get('hourly')).paused).toMatchObject({ reason: 'maintenance' });
      // Attempt a (already handed over) runs and ends; the run does not go on to b while paused.
      const [a] = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 10, due: true });
      await orrery.endRun(a!.run.backendId, { status: 'eventful', worker: 'w' });
      await orrery.dags.progressAll();
      expect(await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 10, due: true })).toEqual([]);
      (clock as ManualClock).advance(2 * HOUR);
      const during = await orrery.dags.schedulePoints();
      expect(during.created).toEqual([]);
      expect(during.nextAt).toBeNull(); // a paused DAG sets no wake-up
      await orrery.dags.resume('hourly');
      expect((await orrery.dags.get('hourly')).paused).toBeNull();
      await orrery.dags.progressAll();
      const b = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 10, due: true });
      expect(b.map((c) => (c.arguments.kwargs['orrery.dag'] as { task: string }).task)).toEqual(['b']);
      const resumed = await orrery.dags.schedulePoints();
      expect(resumed.created.map((r) => r.execTs)).toEqual([plus(T0, HOUR), plus(T0, 2 * HOUR)]);
      await expect(orrery.dags.pause('nope')).rejects.toBeInstanceOf(NotFoundError);
    });

    it("the end of a run held while its task was paused answers the task as stored: paused, by the one-statement end too", async () => {
      const { orrery, another } = await setup([{ name: 'a', defaultIntervalMs: '1h' }]);
      const other = await another();
      const [recurring, once] = await orrery.createTasks([{ type: 'a', arguments: { args: ['r'], kwargs: {} } }, oneshot('a', 1)], { at: T0 });
      // Both held by a worker (started at the claim, as an in-process worker's free slots are), then paused.
      const held = await orrery.claimRuns({ worker: 'w', types: ['a'], limit: 10, due: true, startNow: 10, at: T0 });
      expect(held.map((c) => c.run.task).sort()).toEqual([recurring!.id, once!.id].sort());
      for (const t of [recurring!, once!]) await other.pauseTask(t.id, { reason: 'held back', at: plus(T0, 1) });
      const pause = { at: plus(T0, 1), reason: 'held back' };
      // The claim's snapshot says "not paused": the ends, planned from it without a read, still answer the stored pause.
      expect(held.every((c) => c.task!.paused === null)).toBe(true);
      const ends = await orrery.endRuns(held.map((c) => ({ backendId: c.run.backendId, status: 'uneventful' as const, worker: 'w', at: plus(T0, 5), held: { run: c.run, task: c.task! } })));
      for (const e of ends) expect(e).toMatchObject({ taskUpdated: true, task: { paused: pause } });
      const byTask = new Map(ends.map((e) => [(e as { task: { id: number } }).task.id, e as { task: { status: string } }]));
      expect(byTask.get(recurring!.id)!.task).toMatchObject({ status: 'next_run_not_scheduled', nextRun: plus(T0, 5 + HOUR) });
      expect(byTask.get(once!.id)!.task.status).toBe('completed');
      // As read back.
      for (const t of [recurring!, once!]) expect((await orrery.getTask(t.id))!.paused).toEqual(pause);
    });
  });
}
