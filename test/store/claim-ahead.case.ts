import { describe, expect, it } from 'vitest';
import type { Orrery } from '../../src/engine/service.js';
import { giveBackUnbegun } from '../../src/engine/abandon.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, HOUR, LOAD_GIT, T0, plus, useOrrery } from './fixtures.js';

const oneshot = (i: number, extra: Record<string, unknown> = {}) => ({ type: 'load-git', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, ...extra });

async function runsOf(o: Orrery, taskId: number) {
  return o.listRuns(taskId);
}

/** Claim-ahead (issue 15): the `claimed` status, worker-wide heartbeats, giving runs back, ends from the claim's snapshot. */
export function claimAheadCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('claim ahead: claimed runs', () => {
    it('a claim leaves runs claimed (no start instant); the heartbeat marks begun ones started and renews every lease', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const tasks = await orrery.createTasks([0, 1, 2].map((i) => oneshot(i)));
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      expect(claimed).toHaveLength(3);
      for (const c of claimed) expect(c.run).toMatchObject({ status: 'claimed', started: null, worker: 'w', leaseExpiresAt: plus(T0, 30_000) });
      // The claim returns the task as it leaves it, for the end to plan from.
      expect(claimed[0]!.task).toMatchObject({ status: 'next_run_scheduled', policy: 'oneshot', retriesLeft: 2 });
      const [a, b, c] = claimed.map((x) => x.run.backendId) as [string, string, string];
      const answer = await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: a, startedAt: plus(T0, 5) }, { backendId: b }], at: plus(T0, 10) });
      expect(answer).toEqual({ renewed: 2, lost: [], cancelRequested: [] });
      expect(await orrery.store.getRun(a)).toMatchObject({ status: 'started', started: plus(T0, 5), leaseExpiresAt: plus(T0, 30_010) });
      expect(await orrery.store.getRun(b)).toMatchObject({ status: 'claimed', started: null, leaseExpiresAt: plus(T0, 30_010) });
      expect(await orrery.store.getRun(c)).toMatchObject({ status: 'claimed', leaseExpiresAt: plus(T0, 30_000) });
      // Another worker's heartbeat holds nothing: every run is lost to it, none is changed.
      // An id sent twice is answered once.
      expect(await orrery.heartbeatRuns({ worker: 'x', runs: [{ backendId: a }, { backendId: 'nope' }, { backendId: 'nope' }], at: plus(T0, 20) })).toEqual({
        renewed: 0,
        lost: [a, 'nope'],
        cancelRequested: [],
      });
      expect((await orrery.queueStats()).find((q) => q.type === 'load-git')).toMatchObject({ running: 1, claimed: 2 });
      // A run given twice, once with its start: one item, started at the earliest start reported, on both
      // stores (SQLite marked it started, PostgreSQL left it claimed: library edge audit).
      expect(await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: b }, { backendId: b, startedAt: plus(T0, 15) }, { backendId: b, startedAt: plus(T0, 12) }], at: plus(T0, 30) })).toEqual({ renewed: 1, lost: [], cancelRequested: [] });
      expect(await orrery.store.getRun(b)).toMatchObject({ status: 'started', started: plus(T0, 12), leaseExpiresAt: plus(T0, 30_030) });
      expect(tasks).toHaveLength(3);
    });

    it('bad heartbeat and give-back input is a validation error naming the field, and changes nothing', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await orrery.createTasks([oneshot(0)]);
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      const bad = [
        [() => orrery.heartbeatRuns({ worker: 'w', runs: 'x' as never }), 'runs'],
        [() => orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: '' }] }), 'runs[0].backendId'],
        [() => orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: c!.run.backendId, startedAt: new Date(NaN) }] }), 'runs[0].startedAt'],
        [() => orrery.heartbeatRuns({ worker: '', runs: [] }), 'worker'],
        [() => orrery.releaseRuns({ worker: 'w', backendIds: [1 as never] }), 'backendIds'],
      ] as const;
      for (const [call, path] of bad) await expect(call()).rejects.toMatchObject({ code: 'validation_error', details: [{ path }] });
      expect(await orrery.store.getRun(c!.run.backendId)).toMatchObject({ status: 'claimed', started: null, leaseExpiresAt: plus(T0, 30_000) });
    });

    it('a run given back and claimed again by its worker, whose handler had begun and ended before: the end records the handler\'s start, never an end before the start (SQLite faults audit)', async () => {
      for (const held of [true, false]) {
        const { orrery } = await setup([LOAD_GIT]);
        await orrery.createTasks([oneshot(0)]);
        const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 1, startNow: 0, at: T0 });
        // Its handler began at +50 ms and ended at +100 ms, but the database was locked past its lease:
        // the reaper gave it back, and the same worker claimed it again, started at once.
        await orrery.reapExpired({ at: plus(T0, 31_000) });
        const [again] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 1, startNow: 1, at: plus(T0, 32_000) });
        expect(again!.run).toMatchObject({ backendId: c!.run.backendId, status: 'started', started: plus(T0, 32_000) });
        const item = { backendId: c!.run.backendId, status: 'uneventful' as const, worker: 'w', at: plus(T0, 100), startedAt: plus(T0, 50), ...(held ? { held: { run: c!.run, task: c!.task! } } : {}) };
        const [out] = await orrery.endRuns([item]);
        expect(out).not.toBeInstanceOf(Error);
        const run = (await orrery.store.getRun(c!.run.backendId))!;
        expect(run.status).toBe('uneventful');
        expect(run.ended!.getTime(), held ? 'held' : 'careful').toBeGreaterThanOrEqual(run.started!.getTime());
        // The held end (the worker's own snapshot) records the handler's start and end as they were.
        if (held) expect([run.started, run.ended]).toEqual([plus(T0, 50), plus(T0, 100)]);
      }
    });

    it('an end from claimed records the handler start with the end, in one write', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const [t] = await orrery.createTasks([oneshot(0)]);
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      const r = await orrery.endRun(c!.run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 50), startedAt: plus(T0, 20) });
      expect(r.run).toMatchObject({ status: 'eventful', started: plus(T0, 20), ended: plus(T0, 50) });
      expect((await orrery.getTask(t!.id))!.status).toBe('completed');
      // A start after the end (a remote worker's clock ahead) is recorded as the end.
      const [u] = await orrery.createTasks([oneshot(1)]);
      const [d] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      const r2 = await orrery.endRun(d!.run.backendId, { status: 'uneventful', worker: 'w', at: plus(T0, 50), startedAt: plus(T0, 900) });
      expect(r2.run.started).toEqual(plus(T0, 50));
      expect(u).toBeTruthy();
      // Without a reported start, a run that ended by running is recorded as started at its end (a
      // duration of 0), never as finished without a start: alone, in a batch, and from a held snapshot.
      await orrery.createTasks([oneshot(2), oneshot(3), oneshot(4)]);
      const [e, f, g] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      expect((await orrery.endRun(e!.run.backendId, { status: 'uneventful', worker: 'w', at: plus(T0, 70) })).run).toMatchObject({ started: plus(T0, 70), ended: plus(T0, 70) });
      const [fe, ge] = await orrery.endRuns([
        { backendId: f!.run.backendId, status: 'failed', worker: 'w', at: plus(T0, 80), error: 'boom' },
        { backendId: g!.run.backendId, status: 'eventful', worker: 'w', at: plus(T0, 80), held: { run: g!.run, task: g!.task! } },
      ]);
      expect(fe).toMatchObject({ run: { status: 'failed', started: plus(T0, 80) } });
      expect(ge).toMatchObject({ run: { status: 'eventful', started: plus(T0, 80) } });
      for (const x of [e, f, g]) expect((await orrery.store.getRun(x!.run.backendId))!.started).not.toBeNull();
    });

    it('a reported start is kept within the run\'s life: floored at its scheduled instant, capped at the report (heartbeat or end)', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await orrery.createTasks([0, 1, 2, 3].map((i) => oneshot(i)));
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: plus(T0, 100) });
      const [a, b, c, d] = claimed.map((x) => x.run.backendId) as [string, string, string, string];
      expect(claimed[0]!.run.scheduled).toEqual(plus(T0, 100));
      await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: a, startedAt: new Date('2000-01-01T00:00:00Z') }, { backendId: b, startedAt: plus(T0, 10 * DAY) }], at: plus(T0, 200) });
      expect((await orrery.store.getRun(a))!.started).toEqual(plus(T0, 100));
      expect((await orrery.store.getRun(b))!.started).toEqual(plus(T0, 200));
      const early = await orrery.endRun(c, { status: 'eventful', worker: 'w', at: plus(T0, 300), startedAt: new Date('2000-01-01T00:00:00Z') });
      expect(early.run.started).toEqual(plus(T0, 100));
      const held = claimed.find((x) => x.run.backendId === d)!;
      const [ended] = await orrery.endRuns([{ backendId: d, status: 'eventful', worker: 'w', at: plus(T0, 300), startedAt: new Date('2000-01-01T00:00:00Z'), held: { run: held.run, task: held.task! } }]);
      expect(ended).toMatchObject({ run: { started: plus(T0, 100) } });
    });

    it('a worker ending or abandoning a run given back to the queue has lost its lease (409 lease_lost, not an invalid transition)', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await orrery.createTasks([oneshot(0), oneshot(1)]);
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      expect(await orrery.releaseRuns({ worker: 'w', backendIds: claimed.map((c) => c.run.backendId), at: T0 })).toBe(2);
      const [a, b] = claimed.map((x) => x.run.backendId) as [string, string];
      await expect(orrery.endRun(a, { status: 'eventful', worker: 'w', at: plus(T0, 10) })).rejects.toMatchObject({ code: 'lease_lost' });
      await expect(orrery.abandonRun(b, { worker: 'w', at: plus(T0, 10) })).rejects.toMatchObject({ code: 'lease_lost' });
      const [out] = await orrery.endRuns([{ backendId: a, status: 'eventful', worker: 'w', at: plus(T0, 10) }]);
      expect(out).toMatchObject({ code: 'lease_lost' });
      for (const id of [a, b]) expect(await orrery.store.getRun(id)).toMatchObject({ status: 'scheduled', worker: null });
      // Without a worker (an external backend's end), a run never started is still an invalid transition.
      await expect(orrery.endRun(a, { status: 'eventful', at: plus(T0, 10) })).rejects.toMatchObject({ code: 'invalid_transition' });
    });

    it('an abandon from claimed records the handler start it carries; without one the run goes back to the queue', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const tasks = await orrery.createTasks([oneshot(0), oneshot(1)]);
      const [c, d] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      await expect(orrery.abandonRun(c!.run.backendId, { worker: 'w', startedAt: new Date(NaN) })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'startedAt' }] });
      const r = await orrery.abandonRun(c!.run.backendId, { worker: 'w', at: plus(T0, 50), startedAt: plus(T0, 20) });
      expect(r.run).toMatchObject({ status: 'lost', started: plus(T0, 20), ended: plus(T0, 50), error: 'abandoned by its worker' });
      expect(r.task).toMatchObject({ status: 'next_run_not_scheduled', consecutiveAbandons: 1, nextRun: plus(T0, 50) });
      const r2 = await orrery.abandonRun(d!.run.backendId, { worker: 'w', at: plus(T0, 60) });
      expect(r2.run).toMatchObject({ status: 'scheduled', started: null, ended: null, worker: null });
      expect(r2.task).toMatchObject({ consecutiveAbandons: 0 });
      expect(tasks).toHaveLength(2);
    });

    it('giving claimed runs back puts them in the queue untouched: no retry consumed, no abandon counted', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, numRetries: 0, maxAbandons: 1 }]);
      const [t] = await orrery.createTasks([oneshot(0)]);
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      expect(await orrery.releaseRuns({ worker: 'other', backendIds: [c!.run.backendId] })).toBe(0);
      expect(await orrery.releaseRuns({ worker: 'w', backendIds: [c!.run.backendId] })).toBe(1);
      const [run] = await runsOf(orrery, t!.id);
      expect(run).toMatchObject({ status: 'scheduled', worker: null, leaseExpiresAt: null, started: null, attempt: 1 });
      expect(await orrery.getTask(t!.id)).toMatchObject({ status: 'next_run_scheduled', retriesLeft: 0, consecutiveAbandons: 0 });
      // It is claimed again like any waiting run, and its old holder's end is refused.
      const [again] = await orrery.claimRuns({ worker: 'w2', types: ['load-git'], limit: 10, startNow: 0, at: plus(T0, 5) });
      expect(again!.run.backendId).toBe(c!.run.backendId);
      await expect(orrery.endRun(c!.run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 6) })).rejects.toMatchObject({ code: 'lease_lost' });
    });

    it('the reaper gives expired claimed runs back (never run: no retry, no abandon) and ends expired started runs lost', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, numRetries: 0, maxAbandons: 1 }]);
      const tasks = await orrery.createTasks([oneshot(0), oneshot(1)]);
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      const started = claimed.find((c) => c.run.task === tasks[1]!.id)!;
      await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: started.run.backendId, startedAt: T0 }], at: T0 });
      const reaped = await orrery.reapExpired({ at: plus(T0, HOUR) });
      expect(reaped.map((r) => r.run.backendId)).toEqual([started.run.backendId]);
      expect(reaped[0]!.run.status).toBe('lost');
      expect((await orrery.getTask(tasks[1]!.id))!.status).toBe('disabled');
      const [back] = await runsOf(orrery, tasks[0]!.id);
      expect(back).toMatchObject({ status: 'scheduled', worker: null });
      expect(await orrery.getTask(tasks[0]!.id)).toMatchObject({ status: 'next_run_scheduled', consecutiveAbandons: 0, retriesLeft: 0 });
      expect(await orrery.store.nextLeaseExpiry()).toBeNull();
    });

    it('cancelling or disabling a claimed run ends it at once; its worker learns it from its heartbeat', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const tasks = await orrery.createTasks([oneshot(0), oneshot(1)]);
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      const [a, b] = [claimed.find((c) => c.run.task === tasks[0]!.id)!, claimed.find((c) => c.run.task === tasks[1]!.id)!];
      expect(await orrery.cancelRun(a.run.backendId, { at: plus(T0, 1) })).toMatchObject({ outcome: 'ended', run: { status: 'lost', error: 'cancelled' } });
      await orrery.disableTasks([tasks[1]!.id]);
      expect((await orrery.store.getRun(b.run.backendId))!.status).toBe('lost');
      const answer = await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: a.run.backendId }, { backendId: b.run.backendId }], at: plus(T0, 2) });
      expect(answer.lost.sort()).toEqual([a.run.backendId, b.run.backendId].sort());
    });

    it('a run withdrawn from a buffer holds its task from respawn until its worker lets go of it, or its lease runs out', async () => {
      // The worker may have begun it less than a start-mark period before (its start not marked yet):
      // a respawn then would run the task twice at once (race audit, 2026-12-04).
      const { orrery } = await setup([LOAD_GIT]);
      const tasks = await orrery.createTasks([oneshot(0), oneshot(1), oneshot(2), oneshot(3)]);
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      expect(claimed).toHaveLength(4);
      const runOf = (i: number) => claimed.find((c) => c.run.task === tasks[i]!.id)!.run;
      await orrery.disableTasks([tasks[0]!.id, tasks[1]!.id], { at: plus(T0, 1) });
      const withdrawn = (await orrery.store.getRun(runOf(0).backendId))!;
      expect(withdrawn).toMatchObject({ status: 'lost', error: 'cancelled: task disabled' });
      expect(withdrawn.leaseExpiresAt).toEqual(runOf(0).leaseExpiresAt);
      await expect(orrery.respawnTasks([tasks[0]!.id], { at: plus(T0, 2) })).rejects.toMatchObject({ code: 'conflict' });
      // Its worker lets go of it (its heartbeat said the run was lost; it dropped or aborted it): respawn goes.
      await orrery.releaseRuns({ worker: 'w', backendIds: [runOf(0).backendId], at: plus(T0, 3) });
      expect((await orrery.store.getRun(runOf(0).backendId))!).toMatchObject({ status: 'lost', leaseExpiresAt: null });
      expect((await orrery.respawnTasks([tasks[0]!.id], { at: plus(T0, 4) }))[0]).toMatchObject({ status: 'next_run_not_scheduled' });
      // Letting go only (what a worker sends for runs it was told are gone) gives back nothing it holds.
      const stillHeld = claimed.find((c) => c.run.task !== tasks[0]!.id && c.run.task !== tasks[1]!.id && c.run.task !== tasks[2]!.id);
      expect(await orrery.releaseRuns({ worker: 'w', backendIds: [stillHeld!.run.backendId], withdrawnOnly: true, at: plus(T0, 3) })).toBe(0);
      expect((await orrery.store.getRun(stillHeld!.run.backendId))!.status).toBe('claimed');
      // Another worker cannot let go of it for that one.
      await orrery.releaseRuns({ worker: 'other', backendIds: [runOf(1).backendId], at: plus(T0, 5) });
      await expect(orrery.respawnTasks([tasks[1]!.id], { at: plus(T0, 6) })).rejects.toMatchObject({ code: 'conflict' });
      // A worker that vanished: the task goes once the lease has run out.
      const after = plus(runOf(1).leaseExpiresAt!, 1);
      expect((await orrery.respawnTasks([tasks[1]!.id], { at: after }))[0]).toMatchObject({ status: 'next_run_not_scheduled' });
      // A cancelled buffered run holds its task the same way (bulk respawn skips it as active_run meanwhile).
      expect(await orrery.cancelRun(runOf(2).backendId, { at: plus(T0, 7) })).toMatchObject({ outcome: 'ended', run: { status: 'lost', error: 'cancelled' } });
      expect((await orrery.store.getRun(runOf(2).backendId))!.leaseExpiresAt).toEqual(runOf(2).leaseExpiresAt);
      await orrery.releaseRuns({ worker: 'w', backendIds: [runOf(2).backendId], at: plus(T0, 8) });
      expect((await orrery.store.getRun(runOf(2).backendId))!.leaseExpiresAt).toBeNull();
    });
    it('a buffered run ended by someone else than its worker keeps its lease until that worker lets go; its holder clears it', async () => {
      // `orrery run end` of a buffered run: its worker may begin it, or be running it, meanwhile (audit, 2026-12-05).
      const { orrery } = await setup([LOAD_GIT]);
      const tasks = await orrery.createTasks([oneshot(0), oneshot(1), oneshot(2)]);
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 1, at: T0 });
      const runOf = (i: number) => claimed.find((c) => c.run.task === tasks[i]!.id)!.run;
      const started = claimed.find((c) => c.run.status === 'started')!.run;
      const buffered = claimed.filter((c) => c.run.status === 'claimed').map((c) => c.run);
      const [b0, b1] = buffered as [typeof started, typeof started];
      // Ended from outside (no worker): recorded, the task follows the formula, the lease stays.
      const out = await orrery.endRun(b0.backendId, { status: 'uneventful', at: plus(T0, 5) });
      expect(out).toMatchObject({ run: { status: 'uneventful', leaseExpiresAt: b0.leaseExpiresAt }, task: { status: 'completed' }, taskUpdated: true });
      expect((await orrery.store.getRun(b0.backendId))!.leaseExpiresAt).toEqual(b0.leaseExpiresAt);
      // A started run's lease is cleared (an external backend may hold it, and never let go); its worker is told.
      const outStarted = await orrery.endRun(started.backendId, { status: 'failed', error: 'stopped by hand', at: plus(T0, 6) });
      expect(outStarted.run).toMatchObject({ status: 'failed', leaseExpiresAt: null });
      // Its worker learns the runs are gone (its heartbeat); respawn waits until it lets go.
      const answer = await orrery.heartbeatRuns({ worker: 'w', runs: [b0, started, b1].map((r) => ({ backendId: r.backendId })), at: plus(T0, 7) });
      expect(answer.lost.sort()).toEqual([b0.backendId, started.backendId].sort());
      await expect(orrery.respawnTasks([b0.task], { at: plus(T0, 8) })).rejects.toMatchObject({ code: 'conflict' });
      expect(await orrery.releaseRuns({ worker: 'w', backendIds: [b0.backendId, started.backendId], withdrawnOnly: true, at: plus(T0, 9) })).toBe(0);
      expect((await orrery.store.getRun(b0.backendId))!).toMatchObject({ status: 'uneventful', leaseExpiresAt: null });
      expect((await orrery.respawnTasks([b0.task], { at: plus(T0, 10) }))[0]).toMatchObject({ status: 'next_run_not_scheduled' });
      // Its holder ending it (worker given) clears the lease at once.
      expect((await orrery.endRun(b1.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 11) })).run).toMatchObject({ status: 'eventful', leaseExpiresAt: null });
      expect(runOf(0).worker).toBe('w');
    });
  });

  describe('claim ahead: startNow', () => {
    it('the first startNow runs in claim order start at the claim (waiting runs, then due tasks); the rest are claimed ahead', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await orrery.createTasks([0, 1].map((i) => oneshot(i, { nextRun: plus(T0, -HOUR + i) })));
      await orrery.scheduleDue({ at: T0 });
      await orrery.createTasks([2, 3, 4].map((i) => oneshot(i, { nextRun: plus(T0, -10 + i) })));
      const out = await orrery.claim({ worker: 'w', types: ['load-git'], limit: 5, startNow: 3, at: T0 });
      expect(out.runs).toHaveLength(5);
      expect(out.created).toHaveLength(3);
      const byArg = new Map(out.runs.map((c) => [c.arguments.args[0], c.run]));
      for (const i of [0, 1, 2]) expect(byArg.get(i)).toMatchObject({ status: 'started', started: T0 });
      for (const i of [3, 4]) expect(byArg.get(i)).toMatchObject({ status: 'claimed', started: null });
      // Without startNow no run starts at the claim (SPEC §2.3: claimed, started when its handler begins).
      await orrery.createTasks([oneshot(5)]);
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 5, at: T0 });
      expect(c!.run).toMatchObject({ status: 'claimed', started: null, worker: 'w', leaseExpiresAt: plus(T0, 30_000) });
    });

    it('without startNow: a run whose lease expires before its start is reported goes back to the queue, no retry used; a limited type still starts within limit', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, numRetries: 2 }, { ...LOAD_GIT, name: 'narrow', maxRunning: 5 }]);
      const [task] = await orrery.createTasks([oneshot(0)]);
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 5, at: T0 });
      expect(c!.run.status).toBe('claimed');
      await orrery.reapExpired({ at: plus(T0, 31_000) });
      expect(await orrery.getRun(c!.run.backendId)).toMatchObject({ status: 'scheduled', worker: null, started: null });
      expect(await orrery.getTask(task!.id)).toMatchObject({ retriesLeft: 2, consecutiveAbandons: 0, status: 'next_run_scheduled' });
      // Reported started (a heartbeat with startedAt), a lost lease is a lost run.
      const [again] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 5, at: plus(T0, 40_000) });
      expect(again!.run.backendId).toBe(c!.run.backendId);
      await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: again!.run.backendId, startedAt: plus(T0, 41_000) }], at: plus(T0, 41_000) });
      await orrery.reapExpired({ at: plus(T0, 80_000) });
      expect(await orrery.getRun(c!.run.backendId)).toMatchObject({ status: 'lost', started: plus(T0, 41_000) });
      expect(await orrery.getTask(task!.id)).toMatchObject({ retriesLeft: 1, consecutiveAbandons: 1 });
      await orrery.createTasks([0, 1, 2].map((i) => ({ ...oneshot(i), type: 'narrow' })));
      await orrery.scheduleDue({ at: T0 });
      expect((await orrery.claimRuns({ worker: 'w', types: ['narrow'], limit: 2, at: T0 })).map((x) => x.run.status)).toEqual(['started', 'started']);
    });

    it('an abandon of a claimed run without a reported start gives it back to the queue (SPEC §1.3); with one it ends lost', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, numRetries: 2 }]);
      const [a, b] = await orrery.createTasks([oneshot(0), oneshot(1)]);
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 5, at: T0 });
      const runOf = (taskId: number) => claimed.find((c) => c.run.task === taskId)!.run;
      const back = await orrery.abandonRun(runOf(a!.id).backendId, { worker: 'w', reason: 'shutting down', at: plus(T0, 1000) });
      expect(back).toMatchObject({ taskUpdated: false, run: { status: 'scheduled', worker: null, leaseExpiresAt: null, started: null }, task: { status: 'next_run_scheduled', retriesLeft: 2, consecutiveAbandons: 0 } });
      expect(back.note).toMatch(/given back to the queue/);
      expect(await orrery.getRun(runOf(a!.id).backendId)).toMatchObject({ status: 'scheduled', worker: null });
      // Another worker's abandon of it is refused as before; the holder's with a start ends it lost.
      await expect(orrery.abandonRun(runOf(b!.id).backendId, { worker: 'other', at: plus(T0, 1000) })).rejects.toMatchObject({ code: 'lease_lost' });
      const lost = await orrery.abandonRun(runOf(b!.id).backendId, { worker: 'w', startedAt: plus(T0, 500), at: plus(T0, 1000) });
      expect(lost).toMatchObject({ run: { status: 'lost', started: plus(T0, 500) }, task: { consecutiveAbandons: 1, retriesLeft: 2 } });
      // A give-back that races the reaper and another worker's claim (between its read and its release)
      // is no give-back: the abandon goes on as an end, which refuses a non-holder (it answered that
      // worker's run as given back).
      const [c2] = await orrery.createTasks([oneshot(9)]);
      const [held] = (await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 5, at: plus(T0, 1500) })).filter((x) => x.run.task === c2!.id);
      const raced = await giveBackUnbegun(orrery.store, async (ids) => {
        await orrery.reapExpired({ at: plus(T0, 40_000) });
        const taken = (await orrery.claimRuns({ worker: 'w3', types: ['load-git'], limit: 5, due: false, at: plus(T0, 40_001) })).find((x) => x.run.backendId === held!.run.backendId);
        expect(taken?.run.worker).toBe('w3');
        return orrery.releaseRuns({ worker: 'w', backendIds: ids, at: plus(T0, 40_002) });
      }, held!.run.backendId, 'w');
      expect(raced).toBeNull();
      await expect(orrery.abandonRun(held!.run.backendId, { worker: 'w', at: plus(T0, 40_003) })).rejects.toMatchObject({ code: 'lease_lost' });
      // The run given back is claimed again, once.
      expect((await orrery.getRun(runOf(a!.id).backendId))!.status).not.toBe('lost');
    });

    it('runs of a limited type come only within startNow, and always started', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, name: 'narrow', maxRunning: 5 }]);
      await orrery.createTasks([0, 1, 2, 3].map((i) => ({ ...oneshot(i), type: 'narrow' })));
      await orrery.scheduleDue({ at: T0 });
      const out = await orrery.claim({ worker: 'w', types: ['narrow'], limit: 10, startNow: 2, at: T0 });
      expect(out.runs.map((c) => c.run.status)).toEqual(['started', 'started']);
      expect((await orrery.claim({ worker: 'w', types: ['narrow'], limit: 10, startNow: 0, at: T0 })).runs).toEqual([]);
    });
  });

  describe('claim ahead: ends planned from the claim', () => {
    it('a batch of held ends applies the formula without reading; a task changed since the claim is finished from its current state', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const tasks = await orrery.createTasks([0, 1, 2].map((i) => ({ type: 'load-git', arguments: { args: [i], kwargs: {} } })));
      const claimed = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      const byTask = new Map(claimed.map((c) => [c.run.task, c]));
      // Task 1 disabled since the claim (its run is asked to stop), task 2 otherwise untouched.
      await orrery.disableTasks([tasks[1]!.id]);
      const items = tasks.map((t) => {
        const c = byTask.get(t.id)!;
        return { backendId: c.run.backendId, status: 'uneventful' as const, worker: 'w', at: plus(T0, 100), startedAt: plus(T0, 10), held: { run: c.run, task: c.task! } };
      });
      const out = await orrery.endRuns(items);
      expect(out[0]).toMatchObject({ taskUpdated: true, run: { status: 'uneventful', started: plus(T0, 10) }, task: { status: 'next_run_not_scheduled', nextRun: plus(T0, 100 + 2 * DAY) } });
      // The disabled task's run was withdrawn: the end is refused for it, the task stays disabled.
      expect(out[1]).toMatchObject({ code: 'invalid_transition' });
      expect(out[2]).toMatchObject({ taskUpdated: true });
      expect((await orrery.getTask(tasks[0]!.id))!).toMatchObject({ status: 'next_run_not_scheduled', currentIntervalMs: 2 * DAY });
      expect((await orrery.getTask(tasks[1]!.id))!.status).toBe('disabled');
      // Ending again is refused, whatever the snapshot says.
      const twice = await orrery.endRuns([items[0]!]);
      expect(twice[0]).toMatchObject({ code: 'invalid_transition' });
    });

    it('a stale snapshot (the task changed in between) never overwrites the task with stale inputs', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      const [t] = await orrery.createTasks([{ type: 'load-git', arguments: { args: ['s'], kwargs: {} } }]);
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      // A snapshot from another moment: its interval and retries differ from the stored task.
      const stale = { ...c!.task!, currentIntervalMs: 7 * HOUR, retriesLeft: 1 };
      const [r] = await orrery.endRuns([{ backendId: c!.run.backendId, status: 'eventful', worker: 'w', at: plus(T0, 100), held: { run: c!.run, task: stale } }]);
      expect(r).toMatchObject({ taskUpdated: true });
      // The stored task's own interval (1 day) was used, not the stale 7 hours.
      const task = (await orrery.getTask(t!.id))!;
      expect(task.retriesLeft).toBe(2);
      expect(task.currentIntervalMs).toBe(DAY / 2);
    });

    it('a run whose cancellation was asked for ends as a cancellation even from a held snapshot', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await orrery.createTasks([oneshot(0)]);
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, startNow: 0, at: T0 });
      await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: c!.run.backendId, startedAt: T0 }], at: T0 });
      expect(await orrery.cancelRun(c!.run.backendId, { at: plus(T0, 1) })).toMatchObject({ outcome: 'requested' });
      const [r] = await orrery.endRuns([{ backendId: c!.run.backendId, status: 'failed', error: 'aborted', worker: 'w', at: plus(T0, 5), held: { run: c!.run, task: c!.task! } }]);
      expect(r).toMatchObject({ run: { status: 'failed', error: 'cancelled (aborted)' } });
    });
  });
}
