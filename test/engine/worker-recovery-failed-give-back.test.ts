import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import type { Jobboard } from '../../src/engine/jobboard.js';
import type { Orrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { stopOnVirtualTime, useTempOrrery } from './engine-helpers.js';

/**
 * A buffered run whose give-back failed (the database away) is dropped by the worker but still held
 * by it in the store. Once the database is back, a claim recovery finds it among the runs held: its
 * lease ran out long ago, and a heartbeat that succeeded before the recovery did not cover it (the
 * worker no longer had it). It must not begin until a renewal sent after its recovery confirms it is
 * still held (guarantees audit: a PostgreSQL restart under `serve` ran 12 such runs twice, the reaper
 * giving them back while their handlers ran).
 */
describe('Worker: a run whose give-back failed, recovered later', () => {
  const setup = useTempOrrery();
  it('begins only once a renewal sent after its recovery holds its lease', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '6s', numRetries: 0 });
    let down = false;
    const unavailable = () => new StorageUnavailableError('database away (test)');
    let typesChanged: () => void = () => {};
    const failedGiveBacks: string[][] = [];
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      listTaskTypes: async () => {
        if (down) throw unavailable();
        return orrery.listTaskTypes();
      },
      claimRuns: async (req: Parameters<Jobboard['claimRuns']>[0]) => {
        if (down) throw unavailable();
        return orrery.claimRuns(req);
      },
      heldRuns: async (worker: string, opts?: { answerWithinMs?: number }) => {
        if (down) throw unavailable();
        return orrery.heldRuns(worker, opts);
      },
      heartbeatRuns: async (opts: Parameters<Jobboard['heartbeatRuns']>[0]) => {
        if (down) throw unavailable();
        return orrery.heartbeatRuns(opts);
      },
      releaseRuns: async (opts: Parameters<Jobboard['releaseRuns']>[0]) => {
        if (down) {
          failedGiveBacks.push([...opts.backendIds]);
          throw unavailable();
        }
        return orrery.releaseRuns(opts);
      },
      endRuns: async (items: Parameters<Jobboard['endRuns']>[0], opts?: Parameters<Jobboard['endRuns']>[1]) => {
        if (down) throw unavailable();
        return orrery.endRuns(items, opts);
      },
      onTypesChanged: (listener: () => void) => {
        typesChanged = listener;
        return () => {};
      },
    });
    const { w, begun } = await recordingWorker(orrery, board, clock);
    for (let i = 0; i < 49; i++) await clock.advance(100);
    // Two runs begun, two buffered. The database goes away just before the quick one settles: its
    // freed slot takes one buffered run and the trim's give-back of the other fails.
    expect(begun).toHaveLength(2);
    down = true;
    typesChanged(); // the next claim reads the types first, and fails before it is sent (no lost claim)
    for (let i = 0; i < 100; i++) await clock.advance(100); // 10 s away: the dropped run's lease runs out
    expect(failedGiveBacks).toHaveLength(1);
    const [dropped] = failedGiveBacks[0]!;
    down = false;
    for (let i = 0; i < 600; i++) await clock.advance(100);
    // The dropped run ran, once, and only under a lease its renewal after the recovery set.
    const again = begun.filter((b) => b.backendId === dropped);
    expect(again).toHaveLength(1);
    for (const b of begun) expect(b.leaseExpiresAt, `run ${b.backendId} began at ${b.at} with its lease expired`).toBeGreaterThan(b.at);
    await stopOnVirtualTime(w, clock, 60_000);
  }, 60_000);

  it('waits for a renewal too when a claim was lost after its give-back failed (the lost claim is no lease of its)', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '6s', numRetries: 0 });
    let down = false;
    let loseClaimFrom = Infinity; // the first claim sent from this instant on has its answer lost
    const unavailable = () => new StorageUnavailableError('database away (test)');
    const failedGiveBacks: string[][] = [];
    const off = (fn: (...a: never[]) => Promise<unknown>) => async (...a: never[]) => {
      if (down) throw unavailable();
      return fn(...a);
    };
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      listTaskTypes: off(() => orrery.listTaskTypes()),
      heldRuns: off((w: string, o?: { answerWithinMs?: number }) => orrery.heldRuns(w, o)),
      heartbeatRuns: off((o: Parameters<Jobboard['heartbeatRuns']>[0]) => orrery.heartbeatRuns(o)),
      endRuns: off((i: Parameters<Jobboard['endRuns']>[0], o?: Parameters<Jobboard['endRuns']>[1]) => orrery.endRuns(i, o)),
      claimRuns: async (req: Parameters<Jobboard['claimRuns']>[0]) => {
        if (down) throw unavailable();
        if (clock.now().getTime() - T0 >= loseClaimFrom) {
          loseClaimFrom = Infinity;
          throw unavailable(); // nothing claimed, the answer lost: the worker looks for runs it holds
        }
        return orrery.claimRuns(req);
      },
      releaseRuns: async (opts: Parameters<Jobboard['releaseRuns']>[0]) => {
        if (down) {
          failedGiveBacks.push([...opts.backendIds]);
          throw unavailable();
        }
        return orrery.releaseRuns(opts);
      },
    });
    const T0 = clock.now().getTime();
    const { w, begun } = await recordingWorker(orrery, board, clock);
    for (let i = 0; i < 49; i++) await clock.advance(100);
    down = true; // the quick run settles at 5 s: its slot takes a buffered run, the trim's give-back of the other fails
    for (let i = 0; i < 6; i++) await clock.advance(100);
    down = false; // back at 5.5 s; the dropped run's lease (renewed last at about 4 s) runs out at about 10 s
    expect(failedGiveBacks).toHaveLength(1);
    const [dropped] = failedGiveBacks[0]!;
    loseClaimFrom = 11_000; // a claim lost after that, while a slot is free
    for (let i = 0; i < 600; i++) await clock.advance(100);
    expect(begun.filter((b) => b.backendId === dropped)).toHaveLength(1);
    for (const b of begun) expect(b.leaseExpiresAt, `run ${b.backendId} began at ${b.at - T0} ms with its lease expired at ${b.leaseExpiresAt - T0}`).toBeGreaterThan(b.at);
    await stopOnVirtualTime(w, clock, 60_000);
  }, 60_000);
});

/**
 * A worker of 2 slots and a prefetch of 10 over `board`, with 4 one-shot tasks: each handler's begin is
 * recorded with the lease the store held for its run at that instant. The first run takes 5 s, the
 * others 8 s: the pace then leaves no room in the buffer (a trim gives one back at 5 s), and every slot
 * is free again by 13 s.
 */
async function recordingWorker(orrery: Orrery, board: Jobboard, clock: VirtualClock) {
  const begun: Array<{ backendId: string; at: number; leaseExpiresAt: number }> = [];
  const w = new Worker(board, {
    concurrency: 2,
    prefetch: 10,
    types: ['job'],
    pollMs: 1_000,
    clock,
    handlers: {
      job: async ({ args, run }) => {
        const stored = await orrery.getRun(run.backendId);
        begun.push({ backendId: run.backendId, at: clock.now().getTime(), leaseExpiresAt: stored!.leaseExpiresAt?.getTime() ?? -Infinity });
        await new Promise<void>((r) => clock.setTimer(args[0] === 0 ? 5_000 : 8_000, r));
        return false;
      },
    },
  });
  await orrery.createTasks([0, 1, 2, 3].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
  w.start();
  return { w, begun };
}
