/**
 * A run disabled while it waits in a worker's buffer (`claimed`) ends at once, but keeps its lease
 * until that worker lets go of it: the worker may have begun it less than a start-mark period before,
 * and a respawn meanwhile would run the task's handler twice at once (race audit, 2026-12-04). A real
 * worker lets go as soon as its heartbeat says the run is gone: after it dropped it from its buffer,
 * or after the aborted handler settled. On virtual time.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';
import { useTempOrrery } from './engine-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const openTemp = useTempOrrery();

describe('a run withdrawn from a worker', () => {
  it('holds its task from respawn until the worker let go of it; a begun handler is aborted first', async () => {
    const clock = new VirtualClock(T0);
    const { orrery } = await openTemp({ clock });
    await orrery.createTaskType({ name: 'job', leaseMs: '30s', maxQueueLength: null });
    const running = new Set<number>();
    const begunAt = new Map<number, number>();
    const overlaps: number[] = [];
    const settled: number[] = [];
    const worker = new Worker(orrery, {
      handlers: {
        job: async ({ args, signal }) => {
          const n = args[0] as number;
          if (running.has(n)) overlaps.push(n);
          running.add(n);
          begunAt.set(n, clock.now().getTime());
          try {
            await clock.sleep(10_000, signal);
          } finally {
            running.delete(n);
            settled.push(n);
          }
          return false;
        },
      },
      id: 'w',
      concurrency: 1,
      clock,
    });
    // The worker's let-go waits until the test opens the gate, so the hold can be seen.
    let open = (): void => {};
    let gate = new Promise<void>((r) => (open = r));
    const lettingGo: string[][] = [];
    const releaseRuns = orrery.releaseRuns.bind(orrery);
    orrery.releaseRuns = async (o) => {
      if (!o.withdrawnOnly) return releaseRuns(o); // a give-back (at stop); a let-go gives nothing back
      lettingGo.push([...o.backendIds]);
      await gate;
      return releaseRuns(o);
    };
    const [one, two, three] = await orrery.createTasks([1, 2, 3].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    worker.start();
    try {
      await clock.advance(100);
      // Task 1 runs; task 2 waits in the buffer.
      expect([...running]).toEqual([1]);
      const runOf = async (task: number) => (await orrery.searchRuns({})).runs.filter((r) => r.task === task).sort((a, b) => b.id - a.id)[0]!;
      expect((await runOf(two!.id)).status).toBe('claimed');
      await orrery.disableTasks([two!.id]);
      // Ended at once, but held: respawn is refused until the worker lets go.
      expect(await runOf(two!.id)).toMatchObject({ status: 'lost', error: 'cancelled: task disabled' });
      await expect(orrery.respawnTasks([two!.id])).rejects.toMatchObject({ code: 'conflict' });
      // The cancel wake-up makes the worker heartbeat: it drops the run from its buffer and lets go.
      await clock.advance(1_000);
      const withdrawn = await runOf(two!.id);
      expect(lettingGo).toEqual([[withdrawn.backendId]]);
      open();
      await clock.advance(100);
      expect((await orrery.store.getRun(withdrawn.backendId))!.leaseExpiresAt).toBeNull();
      await orrery.respawnTasks([two!.id]);
      // Task 1 ends; the next run begins from the buffer, `claimed` until the next tick marks it started.
      gate = new Promise<void>((r) => (open = r));
      await clock.advance(begunAt.get(1)! + 10_000 - clock.now().getTime());
      const next = [...running][0]!;
      const nextTask = [one, two, three].find((t) => t!.arguments.args[0] === next)!;
      const begun = await runOf(nextTask.id);
      expect(begun.status).toBe('claimed');
      // Taken from the worker now: held until the aborted handler settled and the worker let go.
      await orrery.disableTasks([nextTask.id]);
      await expect(orrery.respawnTasks([nextTask.id])).rejects.toMatchObject({ code: 'conflict' });
      await clock.advance(1_000);
      expect(settled).toContain(next);
      expect(lettingGo.flat()).toContain(begun.backendId);
      await expect(orrery.respawnTasks([nextTask.id])).rejects.toMatchObject({ code: 'conflict' });
      open();
      await clock.advance(100);
      expect((await orrery.store.getRun(begun.backendId))!.leaseExpiresAt).toBeNull();
      await orrery.respawnTasks([nextTask.id]);
      await clock.advance(30_000);
      expect(overlaps).toEqual([]);
    } finally {
      const stopped = worker.stop(0);
      await clock.advance(60_000);
      await stopped;
    }
  });
  it('a buffered run ended by someone else (`run end`) is dropped, never begun, and let go; a respawn then runs once', async () => {
    const clock = new VirtualClock(T0);
    const { orrery } = await openTemp({ clock });
    await orrery.createTaskType({ name: 'job', leaseMs: '30s', maxQueueLength: null });
    const begun: number[] = [];
    const running = new Set<number>();
    const overlaps: number[] = [];
    const worker = new Worker(orrery, {
      handlers: {
        job: async ({ args, signal }) => {
          const n = args[0] as number;
          if (running.has(n)) overlaps.push(n);
          running.add(n);
          begun.push(n);
          try {
            await clock.sleep(5_000, signal);
          } finally {
            running.delete(n);
          }
          return false;
        },
      },
      id: 'w',
      concurrency: 1,
      clock,
    });
    const [, two] = await orrery.createTasks([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    worker.start();
    try {
      await clock.advance(100);
      expect(begun).toEqual([1]);
      const runOf = async (task: number) => (await orrery.searchRuns({})).runs.filter((r) => r.task === task).sort((a, b) => b.id - a.id)[0]!;
      const buffered = await runOf(two!.id);
      expect(buffered.status).toBe('claimed');
      const ended = await orrery.endRun(buffered.backendId, { status: 'uneventful' });
      expect(ended.run.leaseExpiresAt).toEqual(buffered.leaseExpiresAt);
      // The cancel wake-up makes the worker heartbeat: it drops the run and lets go of it.
      await clock.advance(1_000);
      expect((await orrery.store.getRun(buffered.backendId))!).toMatchObject({ status: 'uneventful', leaseExpiresAt: null });
      await orrery.respawnTasks([two!.id]);
      await clock.advance(20_000);
      // Task 2 ran once, after the respawn; the ended run never began.
      expect(begun).toEqual([1, 2]);
      expect(overlaps).toEqual([]);
      expect((await orrery.getTask(two!.id))!.status).toBe('completed');
    } finally {
      const stopped = worker.stop(0);
      await clock.advance(60_000);
      await stopped;
    }
  });
});
