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
    const { board, outage } = outageBoard(orrery);
    const { w, begun } = await recordingWorker(orrery, board, clock);
    for (let i = 0; i < 49; i++) await clock.advance(100);
    // Two runs begun, two buffered. The database goes away just before the quick one settles: its
    // freed slot takes one buffered run and the trim's give-back of the other fails.
    expect(begun).toHaveLength(2);
    outage.down = true;
    outage.typesChanged(); // the next claim reads the types first, and fails before it is sent (no lost claim)
    for (let i = 0; i < 100; i++) await clock.advance(100); // 10 s away: the dropped run's lease runs out
    expect(outage.failedGiveBacks).toHaveLength(1);
    const [dropped] = outage.failedGiveBacks[0]!;
    outage.down = false;
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
    let loseClaimFrom = Infinity; // the first claim sent from this instant on has its answer lost
    const { board, outage } = outageBoard(orrery, async (req) => {
      if (clock.now().getTime() - T0 >= loseClaimFrom) {
        loseClaimFrom = Infinity;
        throw unavailable(); // nothing claimed, the answer lost: the worker looks for runs it holds
      }
      return orrery.claimRuns(req);
    });
    const T0 = clock.now().getTime();
    const { w, begun } = await recordingWorker(orrery, board, clock);
    for (let i = 0; i < 49; i++) await clock.advance(100);
    outage.down = true; // the quick run settles at 5 s: its slot takes a buffered run, the trim's give-back of the other fails
    for (let i = 0; i < 6; i++) await clock.advance(100);
    outage.down = false; // back at 5.5 s; the dropped run's lease (renewed last at about 4 s) runs out at about 10 s
    expect(outage.failedGiveBacks).toHaveLength(1);
    const [dropped] = outage.failedGiveBacks[0]!;
    loseClaimFrom = 11_000; // a claim lost after that, while a slot is free
    for (let i = 0; i < 600; i++) await clock.advance(100);
    expect(begun.filter((b) => b.backendId === dropped)).toHaveLength(1);
    for (const b of begun) expect(b.leaseExpiresAt, `run ${b.backendId} began at ${b.at - T0} ms with its lease expired at ${b.leaseExpiresAt - T0}`).toBeGreaterThan(b.at);
    await stopOnVirtualTime(w, clock, 60_000);
  }, 60_000);
});

const unavailable = () => new StorageUnavailableError('database away (test)');

/**
 * `orrery` as a worker's board whose calls fail (StorageUnavailableError) while `outage.down`, the
 * give-backs that failed recorded; `claimRuns`, when given, answers claims while the database is up.
 * `outage.typesChanged()` tells the worker its types changed.
 */
function outageBoard(orrery: Orrery, claimRuns: Jobboard['claimRuns'] = (req) => orrery.claimRuns(req)) {
  const outage = { down: false, failedGiveBacks: [] as string[][], typesChanged: () => {} };
  const off = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    if (outage.down) throw unavailable();
    return fn(...a);
  };
  const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
    claim: undefined,
    listTaskTypes: off(() => orrery.listTaskTypes()),
    claimRuns: off(claimRuns),
    heldRuns: off((w: string, o?: { answerWithinMs?: number }) => orrery.heldRuns(w, o)),
    heartbeatRuns: off((o: Parameters<Jobboard['heartbeatRuns']>[0]) => orrery.heartbeatRuns(o)),
    endRuns: off((i: Parameters<Jobboard['endRuns']>[0], o?: Parameters<Jobboard['endRuns']>[1]) => orrery.endRuns(i, o)),
    releaseRuns: async (opts: Parameters<Jobboard['releaseRuns']>[0]) => {
      if (outage.down) {
        outage.failedGiveBacks.push([...opts.backendIds]);
        throw unavailable();
      }
      return orrery.releaseRuns(opts);
    },
    onTypesChanged: (listener: () => void) => {
      outage.typesChanged = listener;
      return () => {};
    },
  });
  return { board, outage };
}

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
