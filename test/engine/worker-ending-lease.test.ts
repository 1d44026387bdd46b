/**
 * A run whose handler finished while its end cannot be recorded (the database or the server away)
 * keeps its lease through the worker's heartbeats until the end passes: it was left out of them, and
 * the reaper ended a success `lost` (remote-worker audit). On virtual time, with ends failing for
 * longer than the lease while heartbeats get through.
 */
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';
import { useTempOrrery } from './engine-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const open = useTempOrrery();

describe('a run whose end is being retried', () => {
  it('keeps its lease through the heartbeats: the reaper leaves it, and its end records it', async () => {
    const clock = new VirtualClock(T0);
    const { orrery, onCleanup } = await open({ clock });
    await orrery.createTaskType({ name: 'job', leaseMs: '30s', numRetries: 0, maxQueueLength: null });
    const endRuns = orrery.endRuns.bind(orrery);
    let endsBackAt = T0.getTime() + 90_000; // three leases
    orrery.endRuns = async (items) => {
      if (clock.now().getTime() < endsBackAt) throw new StorageUnavailableError('the database is unavailable (test)');
      return endRuns(items);
    };
    const worker = new Worker(orrery, { handlers: { job: async () => false }, id: 'w', concurrency: 1, clock });
    const task = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    worker.start();
    onCleanup(async () => {
      endsBackAt = 0;
      const stopped = worker.stop(0);
      await clock.advance(60_000);
      await stopped;
    });
    // The handler has finished; its end fails for 90 s while the reaper looks every 10 s.
    for (let s = 0; s < 9; s++) {
      await clock.advance(10_000);
      expect(await orrery.reapExpired({ at: clock.now() })).toEqual([]);
    }
    await clock.advance(30_000);
    const runs = await orrery.listRuns(task.id);
    expect(runs.map((r) => r.status)).toEqual(['uneventful']);
    expect(await orrery.getTask(task.id)).toMatchObject({ status: 'completed' });
  });
});
