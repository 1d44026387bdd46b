/**
 * A run whose handler settled while the worker was stalled past its lease: the reaper gives it back
 * (it was still `claimed` in the database) and the same worker claims it again while its end is still
 * on its way. That end records the run; the copy claimed again must not run the handler a second time
 * (docs/guarantees.md). On virtual time, with a store whose heartbeats fail and whose first end waits.
 */
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';
import { useTempOrrery } from './engine-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const open = useTempOrrery();

describe('a run claimed again while its end is on its way', () => {
  it('is not begun again: the end on its way records it, and each task runs once', async () => {
    const clock = new VirtualClock(T0);
    const { orrery, onCleanup } = await open({ clock });
    await orrery.createTaskType({ name: 'job', leaseMs: '30s', maxQueueLength: null });
    const begun: number[] = [];
    // No heartbeat gets through: task 2's run, begun from the buffer, stays `claimed` in the database.
    orrery.heartbeatRuns = () => Promise.reject(new StorageUnavailableError('the database is unavailable (test)'));
    // Task 2's end waits until the test lets it go.
    let letGo!: () => void;
    const gate = new Promise<void>((r) => (letGo = r));
    const endRuns = orrery.endRuns.bind(orrery);
    let endOfTwoSeen = false;
    orrery.endRuns = async (items) => {
      const tasks = await Promise.all(items.map(async (i) => (await orrery.getRun(i.backendId))?.task));
      if (!tasks.includes(2) || endOfTwoSeen) return endRuns(items);
      endOfTwoSeen = true;
      // The other ends of the batch go now, task 2's once let go; answered in the batch's order.
      const others = await endRuns(items.filter((_, k) => tasks[k] !== 2));
      await gate;
      const twos = await endRuns(items.filter((_, k) => tasks[k] === 2));
      return tasks.map((t) => (t === 2 ? twos.shift()! : others.shift()!));
    };
    const claimed: string[] = [];
    const claim = orrery.claim.bind(orrery);
    orrery.claim = async (o) => {
      const r = await claim(o);
      for (const c of r.runs) claimed.push(`${c.arguments.args[0]}${c.run.status}`);
      return r;
    };
    const worker = new Worker(orrery, {
      handlers: { job: async ({ args }) => (begun.push(args[0] as number), false) },
      id: 'w',
      concurrency: 1,
      clock,
    });
    await orrery.createTasks([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    worker.start();
    onCleanup(async () => {
      const stopped = worker.stop(0);
      await clock.advance(60_000);
      await stopped;
    });
    await clock.advance(1_000);
    expect(claimed).toEqual(['1started', '2claimed']);
    expect(begun).toEqual([1, 2]);
    expect(endOfTwoSeen).toBe(true);
    // Its lease runs out with its end still waiting: the reaper gives the run back, and the worker claims it again.
    await clock.advance(31_000);
    await orrery.reapExpired({ at: clock.now() });
    await clock.advance(5_000);
    expect(claimed).toEqual(['1started', '2claimed', '2claimed']);
    expect(begun).toEqual([1, 2]);
    letGo();
    await clock.advance(5_000);
    expect(begun).toEqual([1, 2]);
    const runs = (await orrery.searchRuns({})).runs;
    expect(runs.map((r) => [r.task, r.status]).sort()).toEqual([[1, 'uneventful'], [2, 'uneventful']]);
    for (const t of await orrery.searchTasks({ type: 'job' })) expect(t.status).toBe('completed');
  });
});
