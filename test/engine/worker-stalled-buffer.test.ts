/**
 * A worker that could not renew its leases for longer than a lease (stalled, or its heartbeats failing)
 * does not begin the buffered runs whose lease ran out: the reaper gives them back to be claimed again,
 * and beginning them too would run them twice (docs/guarantees.md, buffered runs are delayed, not
 * re-executed). On virtual time, with a store whose heartbeats fail.
 */
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';
import { stopOnVirtualTime, useTempOrrery } from './engine-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const open = useTempOrrery();

/** A SQLite store on virtual time with a type `job` (30 s leases), whose heartbeats fail while `beats.fail` is set. */
async function storeWithFailingBeats() {
  const clock = new VirtualClock(T0);
  const { orrery, onCleanup } = await open({ clock });
  await orrery.createTaskType({ name: 'job', leaseMs: '30s', maxQueueLength: null });
  const beats = { fail: false };
  const heartbeatRuns = orrery.heartbeatRuns.bind(orrery);
  orrery.heartbeatRuns = (o) => (beats.fail ? Promise.reject(new StorageUnavailableError('the database is unavailable (test)')) : heartbeatRuns(o));
  return { clock, orrery, beats, onCleanup };
}

/** Worker `w`, one slot: each handler records its task's argument and sleeps `ms` of virtual time. */
function sleepingWorker(orrery: Awaited<ReturnType<typeof storeWithFailingBeats>>['orrery'], clock: VirtualClock, begun: number[], ms: number): Worker {
  return new Worker(orrery, {
    handlers: { job: async ({ args, signal }) => (begun.push(args[0] as number), await clock.sleep(ms, signal), false) },
    id: 'w',
    concurrency: 1,
    clock,
  });
}

describe('a stalled worker and its buffer', () => {
  it('a run recovered after a lost claim answer is not counted as renewed by heartbeats sent before it was recovered', async () => {
    const { clock, orrery, beats, onCleanup } = await storeWithFailingBeats();
    const at = () => clock.now().getTime() - T0.getTime();
    const begun: string[] = [];
    const claim = orrery.claim.bind(orrery);
    let lose = false;
    orrery.claim = async (o) => {
      const r = await claim(o);
      // The claim that buffers B commits, and its answer is lost.
      if (lose && r.runs.length > 0) {
        lose = false;
        throw new StorageUnavailableError('the answer was lost (test)');
      }
      return r;
    };
    // The recovery's reads fail until 12 s: the heartbeat of 10 s (task A alone) is confirmed before it.
    const heldRuns = orrery.heldRuns.bind(orrery);
    orrery.heldRuns = (w) => (at() < 12_000 ? Promise.reject(new StorageUnavailableError('the database is unavailable (test)')) : heldRuns(w));
    const worker = new Worker(orrery, {
      handlers: { job: async ({ args, signal }) => (begun.push(args[0] as string), args[0] === 'A' && (await clock.sleep(34_000, signal)), false) },
      id: 'w',
      concurrency: 1,
      clock,
    });
    await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['A'], kwargs: {} } });
    worker.start();
    onCleanup(() => stopOnVirtualTime(worker, clock, 60_000));
    await clock.advance(1_000);
    lose = true;
    await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['B'], kwargs: {} } });
    await clock.advance(10_500);
    beats.fail = true; // no renewal after the one of 10 s
    await clock.advance(25_000);
    // A ended at 35 s; B's lease ran out at 31 s (its claim, at 1 s, was never renewed): it is not begun.
    expect(begun).toEqual(['A']);
    expect((await orrery.searchRuns({ status: ['claimed'] })).runs).toHaveLength(1);
  });


  it("counts a buffered run's lease on its own clock from its claim: a clock 90 s behind the server's does not make a lease that ran out look held", async () => {
    const { clock, orrery, beats, onCleanup } = await storeWithFailingBeats();
    const begun: number[] = [];
    beats.fail = true;
    const claim = orrery.claim.bind(orrery);
    // The expiries the server sends, read on a worker clock 90 s behind the server's, look 90 s later.
    orrery.claim = async (o) => {
      const r = await claim(o);
      for (const c of r.runs) if (c.run.leaseExpiresAt) c.run.leaseExpiresAt = new Date(c.run.leaseExpiresAt.getTime() + 90_000);
      return r;
    };
    const worker = sleepingWorker(orrery, clock, begun, 60_000);
    await orrery.createTasks([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    worker.start();
    onCleanup(() => stopOnVirtualTime(worker, clock, 60_000));
    await clock.advance(61_000);
    // Task 2 was buffered at 0 with a 30 s lease and no renewal since: it is not begun at 60 s.
    expect(begun).toEqual([1]);
  });


  it('does not begin buffered runs whose lease ran out until a heartbeat says they are still held; those the reaper gave back run once, uncounted', async () => {
    const { clock, orrery, beats, onCleanup } = await storeWithFailingBeats();
    const begun: number[] = [];
    beats.fail = true;
    const worker = sleepingWorker(orrery, clock, begun, 60_000);
    const claims: string[] = [];
    const claim = orrery.claim.bind(orrery);
    orrery.claim = async (o) => {
      const r = await claim(o);
      if (r.runs.length > 0) claims.push(`${clock.now().getTime() - T0.getTime()}: ${r.runs.map((c) => `${c.arguments.args[0]}${c.run.status}`).join(',')}`);
      return r;
    };
    await orrery.createTasks([1, 2, 3].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    worker.start();
    onCleanup(() => stopOnVirtualTime(worker, clock, 60_000));
    await clock.advance(61_000);
    // The first claim started task 1 and buffered task 2. Task 1 ran 60 s with no renewal: task 2's lease
    // was gone by then, so it waits for a heartbeat to say whether it is still held, and is not begun.
    expect(claims[0]).toBe('0: 1started,2claimed');
    expect(begun).toEqual([1]);
    expect((await orrery.searchRuns({ status: ['claimed'] })).runs.map((r) => r.task)).toContain(2);
    // The reaper gives task 2's run back (no retry used, no abandon counted); the worker's next heartbeat
    // drops it from the buffer, it is claimed again, and every task runs once.
    beats.fail = false;
    await orrery.reapExpired({ at: clock.now() });
    await clock.advance(200_000);
    expect(begun.sort()).toEqual([1, 2, 3]);
    for (const t of await orrery.searchTasks({ type: 'job' })) expect(t).toMatchObject({ status: 'completed', consecutiveAbandons: 0 });
  });
  it('a lease lowered by an edit: a buffered run is judged by the new lease, not begun once it ran out while heartbeats failed (review)', async () => {
    const { clock, orrery, beats, onCleanup } = await storeWithFailingBeats();
    const begun: number[] = [];
    const worker = sleepingWorker(orrery, clock, begun, 8_000);
    await orrery.createTasks([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    worker.start();
    onCleanup(() => stopOnVirtualTime(worker, clock, 60_000));
    await clock.advance(500);
    expect(begun).toEqual([1]); // task 2's run waits in the buffer, its claim's lease 30 s
    // The lease is lowered to 2 s, then every heartbeat fails: the store renews to now + 2 s at most.
    await orrery.updateTaskType('job', { leaseMs: 2_000 });
    await clock.advance(1_000);
    beats.fail = true;
    await clock.advance(8_000);
    // Task 1 ended at 8.5 s; task 2's lease, renewed last at about 1.5 s, ran out at about 3.5 s: not begun.
    expect(begun).toEqual([1]);
  });

  it('a buffered run given back and claimed again while its heartbeats fail runs once: the fresh copy replaces the stale one', async () => {
    const { clock, orrery, beats, onCleanup } = await storeWithFailingBeats();
    const begun: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const worker = new Worker(orrery, {
      // 'hold' tasks keep both slots until released; the others end at once.
      handlers: { job: async ({ args }) => (begun.push(args[0] as string), String(args[0]).startsWith('hold') ? await held : undefined, false) },
      id: 'w',
      concurrency: 2,
      prefetch: 10,
      clock,
    });
    const claimedAgain: string[] = [];
    const claim = orrery.claim.bind(orrery);
    orrery.claim = async (o) => {
      const r = await claim(o);
      for (const c of r.runs) if (c.arguments.args[0] === 'late') claimedAgain.push(c.run.status);
      return r;
    };
    const create = (names: string[]) => orrery.createTasks(names.map((n) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [n], kwargs: {} } })));
    worker.start();
    onCleanup(() => (release(), stopOnVirtualTime(worker, clock, 60_000)));
    // A first run, so the worker knows its handlers are quick and claims ahead.
    await create(['warm']);
    for (let i = 0; i < 50 && !begun.includes('warm'); i++) await clock.advance(100);
    // Both slots held; 'late' waits in the buffer. Then the heartbeats fail (the server or the database away).
    await create(['hold-1', 'hold-2', 'late']);
    for (let i = 0; i < 50 && claimedAgain.length === 0; i++) await clock.advance(100);
    expect(claimedAgain).toEqual(['claimed']);
    beats.fail = true;
    await clock.advance(31_000);
    // The reaper gives 'late' back (its lease ran out unrenewed); the worker claims it again.
    await orrery.reapExpired({ at: clock.now() });
    for (let i = 0; i < 100 && claimedAgain.length < 2; i++) await clock.advance(1_000);
    expect(claimedAgain.length).toBe(2);
    beats.fail = false;
    release();
    await clock.advance(120_000);
    expect(begun.filter((a) => a === 'late')).toEqual(['late']);
  });
});
