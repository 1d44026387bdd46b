import { END_ALREADY_RECORDED } from '../../src/core/run-end.js';
import { describe, expect, it } from 'vitest';
import { InvalidTransitionError, LeaseLostError, NotFoundError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, HOUR, T0, at, claimOne, plus, useOrrery, claimStarted } from './fixtures.js';

const args = (url: string) => ({ args: [url], kwargs: {} });

export function jobboardCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('jobboard: claims and leases', () => {
    it('an end instant before the run began is recorded as its start, and the formula runs from it', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('https://e.example'), nextRun: T0 });
      const [run] = await orrery.scheduleDue({ at: T0 });
      await orrery.startRun(run!.backendId, { at: plus(T0, 5_000) });
      const r = await orrery.endRun(run!.backendId, { status: 'uneventful', at: plus(T0, -DAY) });
      expect(r.run).toMatchObject({ status: 'uneventful', started: plus(T0, 5_000), ended: plus(T0, 5_000) });
      expect((await orrery.getTask(t.id))!.nextRun).toEqual(plus(T0, 5_000 + 2 * DAY)); // interval 1d x 2, from the start
      // Never started: an end before the run was scheduled is recorded at its scheduled instant.
      const u = await orrery.createTask({ type: 'load-git', arguments: args('https://f.example'), nextRun: T0 });
      const [waiting] = await orrery.scheduleDue({ at: plus(T0, HOUR) });
      const lost = await orrery.endRun(waiting!.backendId, { status: 'lost', at: T0 });
      expect(lost.run).toMatchObject({ status: 'lost', started: null, ended: plus(T0, HOUR) });
      expect(u.id).toBeGreaterThan(t.id);
    });

    it('claims oldest first by (priority, scheduled), each run once, with the type\'s lease', async () => {
      const { orrery, another } = await setup();
      const other = await another();
      const a = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      await orrery.scheduleDue({ at: T0 });
      const b = await orrery.createTask({ type: 'load-git', arguments: args('b'), priority: 'low' });
      const c = await orrery.createTask({ type: 'load-git', arguments: args('c'), priority: 'high' });
      await orrery.scheduleDue({ at: plus(T0, 10) });
      const first = await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 2, at: plus(T0, 20) });
      const second = await claimStarted(other, { worker: 'w2', types: ['load-git'], limit: 5, at: plus(T0, 20) });
      expect(first.map((x) => x.run.task).sort()).toEqual([b.id, c.id].sort());
      expect(second.map((x) => x.run.task)).toEqual([a.id]);
      expect(second[0]!.run).toMatchObject({ status: 'started', worker: 'w2', started: plus(T0, 20), leaseExpiresAt: plus(T0, 30_020) });
      expect(second[0]).toMatchObject({ arguments: args('a'), backendName: 'load-git', leaseMs: 30_000, timeoutMs: null });
      expect(await claimStarted(orrery, { worker: 'w3', types: ['load-git'], limit: 5, at: plus(T0, 20) })).toEqual([]);
    });

    it('answers the runs of a claim in claim order: priority, then scheduled, then id (queued and due alike)', async () => {
      const { orrery } = await setup();
      const rank = { high: 0, normal: 1, low: 2 } as const;
      const make = (name: string, priority: 'high' | 'normal' | 'low', nextRun: Date) => orrery.createTask({ type: 'load-git', arguments: args(name), priority, nextRun });
      await make('low-1', 'low', T0);
      await make('low-2', 'low', T0);
      await orrery.scheduleDue({ at: T0 });
      await make('high-1', 'high', T0);
      await make('normal-1', 'normal', T0);
      await orrery.scheduleDue({ at: plus(T0, 10) });
      await make('high-due', 'high', T0); // due, not queued: claimed directly
      await make('low-due', 'low', T0);
      const claimed = await orrery.claimRuns({ worker: 'w1', types: ['load-git'], limit: 10, startNow: 0, due: true, at: plus(T0, 20) });
      expect(claimed).toHaveLength(6);
      const keys = claimed.map((c) => [rank[c.task!.priority as keyof typeof rank], c.run.scheduled.getTime(), c.run.id]);
      const sorted = [...keys].sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!);
      expect(keys).toEqual(sorted);
      expect(claimed.map((c) => c.task!.priority)).toEqual(['high', 'high', 'normal', 'low', 'low', 'low']);
    });

    it('a worker can find the runs it holds (claim recovery after a lost reply)', async () => {
      const { orrery } = await setup();
      const a = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const b = await orrery.createTask({ type: 'load-git', arguments: args('b') });
      await orrery.scheduleDue({ at: T0 });
      await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 1, at: T0 });
      await claimStarted(orrery, { worker: 'w2', types: ['load-git'], limit: 1, at: T0 });
      const held = await orrery.heldRuns('w1');
      expect(held).toHaveLength(1);
      expect(held[0]).toMatchObject({ backendName: 'load-git', leaseMs: 30_000, timeoutMs: null, run: { status: 'started', worker: 'w1' } });
      expect([a.id, b.id]).toContain(held[0]!.run.task);
      expect(held[0]!.arguments).toEqual(args(held[0]!.run.task === a.id ? 'a' : 'b'));
      await orrery.endRun(held[0]!.run.backendId, { status: 'eventful', worker: 'w1', at: T0 });
      expect(await orrery.heldRuns('w1')).toEqual([]);
      expect(await orrery.heldRuns('w2')).toHaveLength(1);
    });

    it('claims only the requested types', async () => {
      const { orrery } = await setup();
      await orrery.createTaskType({ name: 'other', defaultIntervalMs: '1h' });
      await orrery.createTask({ type: 'other', arguments: args('o') });
      await orrery.scheduleDue({ at: T0 });
      expect(await claimStarted(orrery, { worker: 'w', types: ['load-git'], limit: 5, at: T0 })).toEqual([]);
      expect(await claimStarted(orrery, { worker: 'w', types: ['other'], limit: 5, at: T0 })).toHaveLength(1);
    });

    it('heartbeats extend the holder\'s lease; anyone else gets LeaseLost', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const run = await claimOne(orrery, t.id, T0);
      expect(await orrery.heartbeat(run.backendId, { worker: 'w1', at: plus(T0, 20_000) })).toEqual({ leaseExpiresAt: plus(T0, 50_000), cancelRequested: false });
      // A heartbeat never shortens a lease (a late or replayed one, an earlier `at`): it keeps the later expiry.
      expect(await orrery.heartbeat(run.backendId, { worker: 'w1', at: plus(T0, 5_000) })).toEqual({ leaseExpiresAt: plus(T0, 50_000), cancelRequested: false });
      expect(await orrery.heartbeatRuns({ worker: 'w1', runs: [{ backendId: run.backendId }], at: plus(T0, 10_000) })).toMatchObject({ renewed: 1, lost: [] });
      expect((await orrery.getRun(run.backendId))!.leaseExpiresAt).toEqual(plus(T0, 50_000));
      expect(await orrery.heartbeatRuns({ worker: 'w1', runs: [{ backendId: run.backendId }], at: plus(T0, 30_000) })).toMatchObject({ renewed: 1 });
      expect((await orrery.getRun(run.backendId))!.leaseExpiresAt).toEqual(plus(T0, 60_000));
      await expect(orrery.heartbeat(run.backendId, { worker: 'intruder', at: plus(T0, 20_000) })).rejects.toBeInstanceOf(LeaseLostError);
      // Said as an end says it: a worker that never held the run did not lose it ('no longer held').
      await expect(orrery.heartbeat(run.backendId, { worker: 'intruder', at: plus(T0, 20_000) })).rejects.toThrow(`run ${run.backendId} is not held by worker intruder`);
      await expect(orrery.heartbeat('no-such-run', { worker: 'w1', at: plus(T0, 20_000) })).rejects.toBeInstanceOf(NotFoundError);
      await expect(orrery.endRun(run.backendId, { status: 'eventful', worker: 'intruder', at: plus(T0, 1) })).rejects.toBeInstanceOf(LeaseLostError);
      expect((await orrery.getRun(run.backendId))!.status).toBe('started');
    });

    it('the reaper ends expired runs lost (failed rule); the holder may end before the reaper ran', async () => {
      const { orrery } = await setup();
      const t1 = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const t2 = await orrery.createTask({ type: 'load-git', arguments: args('b') });
      const r1 = await claimOne(orrery, t1.id, T0);
      const r2 = (await orrery.getTask(t2.id), (await orrery.listRuns(t2.id))[0]!);
      await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 5, at: T0 });
      expect(await orrery.reapExpired({ at: plus(T0, 30_000) })).toEqual([]); // not expired yet
      const late = await orrery.endRun(r2.backendId, { status: 'uneventful', worker: 'w1', at: plus(T0, 40_000) });
      expect(late.run.status).toBe('uneventful');
      const reaped = await orrery.reapExpired({ at: plus(T0, 40_000) });
      expect(reaped.map((r) => r.run.backendId)).toEqual([r1.backendId]);
      expect(reaped[0]!.run).toMatchObject({ status: 'lost', ended: plus(T0, 40_000) });
      expect(reaped[0]!.run.error).toMatch(/lease expired/);
      expect(reaped[0]!.task).toMatchObject({ status: 'next_run_not_scheduled', retriesLeft: 1, consecutiveAbandons: 1, nextRun: plus(T0, 40_000 + HOUR) });
      await expect(orrery.heartbeat(r1.backendId, { worker: 'w1', at: plus(T0, 41_000) })).rejects.toBeInstanceOf(LeaseLostError);
      await expect(orrery.endRun(r1.backendId, { status: 'eventful', worker: 'w1', at: plus(T0, 41_000) })).rejects.toBeInstanceOf(InvalidTransitionError);
      expect((await orrery.store.nextLeaseExpiry())).toBeNull();
    });
  });

  describe('end of run through the store', () => {
    it('eventful halves the interval, uneventful doubles it, clamped, from the end instant', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const r1 = await claimOne(orrery, t.id, T0);
      const e1 = await orrery.endRun(r1.backendId, { status: 'eventful', worker: 'w1', at: plus(T0, 60_000) });
      expect(e1.task).toMatchObject({ currentIntervalMs: 12 * HOUR, nextRun: plus(T0, 60_000 + 12 * HOUR), status: 'next_run_not_scheduled' });
      const t2 = plus(T0, 60_000 + 12 * HOUR);
      const r2 = await claimOne(orrery, t.id, t2);
      const e2 = await orrery.endRun(r2.backendId, { status: 'eventful', worker: 'w1', at: t2 });
      expect(e2.task.currentIntervalMs).toBe(12 * HOUR); // clamped at min
      const r3 = await claimOne(orrery, t.id, e2.task.nextRun);
      const e3 = await orrery.endRun(r3.backendId, { status: 'uneventful', worker: 'w1', at: e2.task.nextRun });
      expect(e3.task.currentIntervalMs).toBe(DAY);
      expect(e3.run).toMatchObject({ status: 'uneventful', ended: e2.task.nextRun, leaseExpiresAt: null });
    });

    it('failed with retries: retry after the delay with the next attempt; without: back to the interval', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      let when = T0;
      for (const [retriesLeft, attempt] of [[1, 1], [0, 2]] as const) {
        const run = await claimOne(orrery, t.id, when);
        expect(run.attempt).toBe(attempt);
        const e = await orrery.endRun(run.backendId, { status: 'failed', worker: 'w1', at: when, error: 'boom' });
        expect(e.task).toMatchObject({ retriesLeft, nextRun: plus(when, HOUR), currentIntervalMs: DAY });
        when = e.task.nextRun;
      }
      const run = await claimOne(orrery, t.id, when);
      expect(run.attempt).toBe(3);
      const e = await orrery.endRun(run.backendId, { status: 'failed', worker: 'w1', at: when });
      expect(e.task).toMatchObject({ retriesLeft: 2, nextRun: plus(when, DAY), status: 'next_run_not_scheduled' });
      const next = await claimOne(orrery, t.id, e.task.nextRun);
      expect(next.attempt).toBe(1);
    });

    it('oneshot: success completes, exhausted retries disable, RetryAfter sets the delay, permfailed disables', async () => {
      const { orrery } = await setup([{ name: 'job', numRetries: 1, retryDelayMs: '10m' }]);
      const ok = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: args('ok') });
      const r = await claimOne(orrery, ok.id, T0);
      expect((await orrery.endRun(r.backendId, { status: 'uneventful', at: T0, result: { n: 1 } })).task.status).toBe('completed');
      expect((await orrery.getRun(r.backendId))!.result).toEqual({ n: 1 });

      const flaky = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: args('flaky') });
      const f1 = await claimOne(orrery, flaky.id, T0);
      const e1 = await orrery.endRun(f1.backendId, { status: 'failed', at: T0, retryAfterMs: 5000 });
      expect(e1.task).toMatchObject({ nextRun: plus(T0, 5000), retriesLeft: 0, status: 'next_run_not_scheduled' });
      const f2 = await claimOne(orrery, flaky.id, plus(T0, 5000));
      const e2 = await orrery.endRun(f2.backendId, { status: 'failed', at: plus(T0, 6000) });
      expect(e2.task).toMatchObject({ status: 'disabled', disabledReason: 'retries_exhausted' });

      const doomed = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: args('doomed') });
      const d = await claimOne(orrery, doomed.id, T0);
      expect((await orrery.endRun(d.backendId, { status: 'permfailed', at: T0 })).task).toMatchObject({ status: 'disabled', disabledReason: 'permfailed' });
    });

    it('ending twice, or a transition the state machine forbids, changes nothing and says so', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const [scheduled] = await orrery.scheduleDue({ at: T0 });
      await expect(orrery.endRun(scheduled!.backendId, { status: 'eventful', at: T0 })).rejects.toThrow(/is scheduled and cannot end eventful/);
      await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 1, at: T0 });
      const first = await orrery.endRun(scheduled!.backendId, { status: 'eventful', at: plus(T0, 1000) });
      const before = await orrery.getTaskWithRuns(t.id);
      const err = await orrery.endRun(scheduled!.backendId, { status: 'failed', at: plus(T0, 2000) }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidTransitionError);
      expect((err as Error).message).toBe(`run ${scheduled!.backendId} already ended eventful; nothing changed`);
      expect(await orrery.getTaskWithRuns(t.id)).toEqual(before);
      expect(first.task.nextRun).toEqual(before!.nextRun);
    });

    it('lists the newest N runs of a task, oldest first, or all of them', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('many') });
      const ids: number[] = [];
      let at = T0;
      for (let i = 0; i < 5; i++) {
        const [r] = (await orrery.scheduleDue({ at })).filter((x) => x.task === t.id);
        await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 10, at });
        await orrery.endRun(r!.backendId, { status: 'uneventful', worker: 'w1', at: plus(at, 1000) });
        ids.push(r!.id);
        at = (await orrery.getTask(t.id))!.nextRun;
      }
      expect((await orrery.listRuns(t.id)).map((r) => r.id)).toEqual(ids);
      expect((await orrery.listRuns(t.id, { last: 2 })).map((r) => r.id)).toEqual(ids.slice(3));
      expect((await orrery.listRuns(t.id, { last: 10 })).map((r) => r.id)).toEqual(ids);
      expect((await orrery.getTaskWithRuns(t.id, { runs: 1 }))!.runs.map((r) => r.id)).toEqual(ids.slice(4));
      for (const bad of [0, -1, 1.5, 100_001, '2']) {
        await expect(orrery.listRuns(t.id, { last: bad as number })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'last' }] });
      }
    });

    it('the same end sent again by its worker (an answer lost) is refused as already recorded, which another end is not', async () => {
      const { orrery } = await setup();
      await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const [run] = await orrery.scheduleDue({ at: T0 });
      await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 1, at: T0 });
      await orrery.endRun(run!.backendId, { status: 'eventful', worker: 'w1', result: { n: 1 }, at: plus(T0, 1000) });
      // The retry comes later (a remote worker's end is stamped by the server when it arrives).
      const again = await orrery.endRun(run!.backendId, { status: 'eventful', worker: 'w1', result: { n: 1 }, at: plus(T0, 5000) }).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(InvalidTransitionError);
      expect(again).toMatchObject({
        message: `run ${run!.backendId} already ended eventful by an end like this one (the same worker, status and result: an earlier attempt of it, or another caller's); nothing changed`,
        details: [{ path: 'status', message: END_ALREADY_RECORDED }],
      });
      for (const other of [{ status: 'eventful' as const, worker: 'w1', result: { n: 2 } }, { status: 'uneventful' as const, worker: 'w1', result: { n: 1 } }, { status: 'eventful' as const, worker: 'w2', result: { n: 1 } }]) {
        const e = await orrery.endRun(run!.backendId, { ...other, at: plus(T0, 6000) }).catch((x: unknown) => x);
        expect(e).toMatchObject({ details: [{ path: 'status', message: 'run is already eventful' }] });
      }
    });

    it('the same abandon sent again (an answer lost) is refused as already recorded; a run the reaper ended lost is not that abandon', async () => {
      const { orrery } = await setup();
      await orrery.createTasks(['a', 'b'].map((u) => ({ type: 'load-git', arguments: args(u) })));
      const [run, reaped] = await orrery.scheduleDue({ at: T0 });
      await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 2, at: T0 });
      await orrery.abandonRun(run!.backendId, { worker: 'w1', reason: 'worker shutting down', at: plus(T0, 1000) });
      const again = await orrery.abandonRun(run!.backendId, { worker: 'w1', reason: 'worker shutting down', at: plus(T0, 3000) }).catch((e: unknown) => e);
      expect(again).toMatchObject({ details: [{ path: 'status', message: END_ALREADY_RECORDED }] });
      const other = await orrery.abandonRun(run!.backendId, { worker: 'w1', reason: 'another reason', at: plus(T0, 3000) }).catch((e: unknown) => e);
      expect(other).toMatchObject({ details: [{ path: 'status', message: 'run is already lost' }] });
      // Reaped: its lease expired; the worker's late abandon is not recognised as recorded.
      await orrery.reapExpired({ at: plus(T0, 3_600_000) });
      const late = await orrery.abandonRun(reaped!.backendId, { worker: 'w1', reason: 'worker shutting down', at: plus(T0, 3_600_001) }).catch((e: unknown) => e);
      expect(late).toMatchObject({ details: [{ path: 'status', message: 'run is already lost' }] });
    });

    it('ends a batch in one call: each end has its own outcome; a refused one leaves the others applied', async () => {
      const { orrery } = await setup();
      const [a, b, c] = await orrery.createTasks(['a', 'b', 'c'].map((u) => ({ type: 'load-git', arguments: args(u) })));
      await orrery.scheduleDue({ at: T0 });
      const claimed = await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 3, at: T0 });
      const runOf = (id: number) => claimed.find((x) => x.run.task === id)!.run.backendId;
      const E = plus(T0, 60_000);
      const out = await orrery.endRuns([
        { backendId: runOf(a!.id), status: 'eventful', worker: 'w1', at: E },
        { backendId: 'no-such-run', status: 'eventful', at: E },
        { backendId: runOf(b!.id), status: 'failed', worker: 'intruder', at: E },
        { backendId: runOf(c!.id), status: 'bogus' as never, at: E },
        { backendId: runOf(a!.id), status: 'failed', worker: 'w1', at: E }, // the same run again
        { backendId: runOf(c!.id), status: 'uneventful', worker: 'w1', at: E },
      ]);
      expect(out.map((o) => (o instanceof Error ? (o as { code: string }).code : (o as { run: { status: string } }).run.status))).toEqual([
        'eventful',
        'not_found',
        'lease_lost',
        'validation_error',
        'invalid_transition',
        'uneventful',
      ]);
      expect((await orrery.getTask(a!.id))!).toMatchObject({ currentIntervalMs: 12 * HOUR, nextRun: plus(E, 12 * HOUR) });
      expect((await orrery.getRun(runOf(b!.id)))!.status).toBe('started');
      expect((await orrery.getTask(c!.id))!).toMatchObject({ currentIntervalMs: 2 * DAY, nextRun: plus(E, 2 * DAY) });
    });

    it('a run of a task that moved on is recorded without touching the task', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const run = await claimOne(orrery, t.id, T0);
      const [disabled] = await orrery.disableTasks([t.id], { at: plus(T0, 1) });
      const e = await orrery.endRun(run.backendId, { status: 'eventful', worker: 'w1', at: plus(T0, 2) });
      expect(e.taskUpdated).toBe(false);
      expect(e.note).toMatch(/moved on/);
      expect(e.run.status).toBe('eventful');
      expect(await orrery.getTask(t.id)).toEqual(disabled);
    });

    it('an external start never comes before the run was scheduled: an earlier --at is recorded as the scheduled instant', async () => {
      const { orrery } = await setup();
      await orrery.createTask({ type: 'load-git', arguments: args('early') });
      const [run] = await orrery.scheduleDue({ at: T0 });
      // An empty worker id is refused (it was stored as ''), as claims and the CLI refuse it; the run stays scheduled.
      await expect(orrery.startRun(run!.backendId, { at: T0, worker: '' })).rejects.toThrow(/worker: a worker id is required/);
      // At most 200 characters, as the registry and the CLI's --id take it.
      await expect(orrery.claimRuns({ worker: 'w'.repeat(201), types: ['load-git'], limit: 1, at: T0 })).rejects.toThrow(/worker: must be at most 200 characters/);
      await expect(orrery.heldRuns('w'.repeat(201))).rejects.toThrow(/worker: must be at most 200 characters/);
      await expect(orrery.heldRuns('')).rejects.toThrow(/worker: a worker id is required/);
      // Blanks alone too (a claim handed out runs held by '   '), as the registry and the CLI refuse them.
      await expect(orrery.claimRuns({ worker: '   ', types: ['load-git'], limit: 1, at: T0 })).rejects.toThrow(/worker: a worker id is required \(blanks alone name no worker\)/);
      await expect(orrery.heldRuns(' ')).rejects.toThrow(/worker: a worker id is required/);
      await expect(orrery.heartbeatRuns({ worker: '\t', runs: [], at: T0 })).rejects.toThrow(/worker: a worker id is required/);
      expect((await orrery.getRun(run!.backendId))!.status).toBe('scheduled');
      const started = await orrery.startRun(run!.backendId, { at: plus(T0, -60_000), worker: 'ext' });
      expect(started).toMatchObject({ status: 'started', started: T0, leaseExpiresAt: plus(T0, 30_000) });
    });

    it('metadata is shallow-merged on start and end; log records are kept in order', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const [run] = await orrery.scheduleDue({ at: T0 });
      const started = await orrery.startRun(run!.backendId, { at: plus(T0, 5), worker: 'ext', metadata: { a: 1, nested: { x: 1 } } });
      expect(started).toMatchObject({ status: 'started', worker: 'ext', leaseExpiresAt: plus(T0, 30_005), metadata: { a: 1, nested: { x: 1 } } });
      await expect(orrery.startRun(run!.backendId, { at: plus(T0, 6) })).rejects.toThrow(/is started, not scheduled/);
      await orrery.appendRunLogs(run!.backendId, [
        { at: plus(T0, 6), level: 'info', message: 'one', attributes: { k: 'v' } },
        { at: plus(T0, 7), level: 'error', message: 'two', attributes: {} },
      ]);
      const e = await orrery.endRun(run!.backendId, { status: 'uneventful', at: plus(T0, 9), metadata: { b: 2, nested: { y: 2 } } });
      expect(e.run.metadata).toEqual({ a: 1, b: 2, nested: { y: 2 } });
      expect((await orrery.getRunLogs(run!.backendId)).map((l) => [l.level, l.message, l.attributes, l.at.getTime() - T0.getTime()])).toEqual([
        ['info', 'one', { k: 'v' }, 6],
        ['error', 'two', {}, 7],
      ]);
      // Live logs: each record has an id, in append order; `after` reads only what came since, `limit` pages.
      await orrery.appendRunLogs(run!.backendId, [{ at: plus(T0, 10), level: 'warn', message: 'three', attributes: {} }]);
      const all = await orrery.getRunLogs(run!.backendId);
      expect(all.map((l) => l.message)).toEqual(['one', 'two', 'three']);
      expect(all[0]!.id).toBeLessThan(all[1]!.id);
      expect(all[1]!.id).toBeLessThan(all[2]!.id);
      expect((await orrery.getRunLogs(run!.backendId, { after: all[0]!.id })).map((l) => l.message)).toEqual(['two', 'three']);
      expect((await orrery.getRunLogs(run!.backendId, { after: all[0]!.id, limit: 1 })).map((l) => [l.id, l.message])).toEqual([[all[1]!.id, 'two']]);
      expect(await orrery.getRunLogs(run!.backendId, { after: all[2]!.id })).toEqual([]);
      await expect(orrery.getRunLogs(run!.backendId, { after: -1 })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'after' }] });
      await expect(orrery.getRunLogs(run!.backendId, { limit: 0 })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'limit' }] });
      expect(t.id).toBe(run!.task);
      // An unknown run is refused whether records come or not (nothing to write does not make it known)
      for (const records of [[], [{ at: plus(T0, 11), level: 'info' as const, message: 'x', attributes: {} }]]) {
        await expect(orrery.appendRunLogs('no-such-run', records)).rejects.toMatchObject({ code: 'not_found' });
      }
      await orrery.appendRunLogs(run!.backendId, []); // a known run with nothing to add: nothing happens
      expect(await orrery.getRunLogs(run!.backendId)).toHaveLength(3);
    });
  });

  describe('abandons and the dead-letter bin', () => {
    it('an abandoned run is due again at once without consuming a retry', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      const run = await claimOne(orrery, t.id, T0);
      await expect(orrery.abandonRun(run.backendId, { worker: 'someone-else', at: T0 })).rejects.toBeInstanceOf(LeaseLostError);
      const e = await orrery.abandonRun(run.backendId, { worker: 'w1', at: plus(T0, 500) });
      expect(e.run).toMatchObject({ status: 'lost', error: 'abandoned by its worker' });
      expect(e.task).toMatchObject({ status: 'next_run_not_scheduled', nextRun: plus(T0, 500), retriesLeft: 2, consecutiveAbandons: 1 });
      const again = await claimOne(orrery, t.id, plus(T0, 500));
      expect(again.attempt).toBe(1);
    });

    it('maxAbandons lost runs in a row send the task to the dead-letter bin; a finished run resets the count', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('a') });
      let when = T0;
      const cycle = async (how: 'abandon' | 'reap' | 'ok') => {
        const run = await claimOne(orrery, t.id, when);
        if (how === 'abandon') return (await orrery.abandonRun(run.backendId, { worker: 'w1', at: when })).task;
        if (how === 'ok') return (await orrery.endRun(run.backendId, { status: 'uneventful', at: when })).task;
        when = plus(when, 31_000);
        return (await orrery.reapExpired({ at: when }))[0]!.task;
      };
      expect((await cycle('abandon')).consecutiveAbandons).toBe(1);
      expect((await cycle('reap')).consecutiveAbandons).toBe(2);
      when = (await orrery.getTask(t.id))!.nextRun;
      expect((await cycle('ok')).consecutiveAbandons).toBe(0);
      when = (await orrery.getTask(t.id))!.nextRun;
      await cycle('abandon');
      await cycle('abandon');
      const dead = await cycle('reap');
      expect(dead).toMatchObject({ status: 'disabled', disabledReason: 'dead_letter', consecutiveAbandons: 3 });
      expect(await orrery.searchTasks({ disabledReason: 'dead_letter' })).toHaveLength(1);
      expect(await orrery.scheduleDue({ at: at('2030-01-01T00:00:00Z') })).toEqual([]);
    });
  });

  describe('cron and rrule tasks through the store', () => {
    it('the next run is the first occurrence strictly after max(end, previous nextRun), without back-fill', async () => {
      const { orrery } = await setup([{ name: 'nightly' }]);
      const t = await orrery.createTask({ type: 'nightly', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' } });
      expect(t.nextRun).toEqual(at('2026-01-01T02:00:00Z'));
      const run = await claimOne(orrery, t.id, at('2026-01-01T02:00:00Z'));
      const e = await orrery.endRun(run.backendId, { status: 'uneventful', at: at('2026-01-05T12:00:00Z') });
      expect(e.task.nextRun).toEqual(at('2026-01-06T02:00:00Z'));
      const r = await orrery.createTask({ type: 'nightly', schedule: { kind: 'rrule', rule: 'DTSTART;TZID=America/New_York:20260301T090000\nRRULE:FREQ=DAILY;COUNT=10' } });
      expect(r.nextRun).toEqual(at('2026-03-01T14:00:00Z'));
      const rr = await claimOne(orrery, r.id, r.nextRun);
      const er = await orrery.endRun(rr.backendId, { status: 'eventful', at: at('2026-03-08T20:00:00Z') });
      expect(er.task.nextRun).toEqual(at('2026-03-09T13:00:00Z')); // 09:00 EDT after the DST change
    });
  });
}
