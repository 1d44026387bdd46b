import { describe, expect, it } from 'vitest';
import type { Jobboard } from '../../src/engine/jobboard.js';
import { Worker } from '../../src/engine/worker.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

/**
 * A slot frees when its handler settles, while the run's end is still on its way to the database
 * (ends are batched): a worker never runs more handlers at once than its concurrency, and starts no
 * handler while a concurrency's worth of ends waits.
 */
describe('Worker: ends written in the background', () => {
  const setup = useTempOrrery();

  it('keeps claiming while ends wait, within its concurrency, and records every end', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    await orrery.createTasks(Array.from({ length: 150 }, (_, i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await orrery.scheduleDue();
    await orrery.scheduleDue();

    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      endRuns: async (items: Parameters<Jobboard['endRuns']>[0]) => {
        await gate; // the database is slow to take ends
        return orrery.endRuns(items);
      },
    });
    let running = 0;
    let peak = 0;
    let handled = 0;
    const w = new Worker(board, {
      concurrency: 2,
      types: ['job'],
      pollMs: 20,
      handlers: {
        job: async () => {
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running -= 1;
          handled += 1;
          return false;
        },
      },
    });
    onCleanup(() => w.stop(0));
    w.start();
    // With every end held back, handlers start until two rounds of ends wait (so a killed worker
    // re-executes fewer than 3 x concurrency finished runs), while claims run ahead into the buffer.
    await waitFor(() => handled >= 4 && w.buffered > 0, 'handlers to run while their ends wait');
    await waitFor(async () => {
      const q = (await orrery.store.queueStats(new Date())).find((x) => x.type === 'job')!;
      return q.running + q.claimed === handled + w.buffered;
    }, 'every held run to be counted held');
    expect(handled).toBeLessThanOrEqual(5);
    expect(peak).toBeLessThanOrEqual(2);

    release();
    await waitFor(async () => (await orrery.searchTasks({ status: 'completed', limit: 200 })).length === 150, 'every task completed');
    expect(handled).toBe(150);
    expect(peak).toBeLessThanOrEqual(2);
    await w.stop();
  });

  it('stop() waits for the ends still being written', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    await orrery.createTasks(Array.from({ length: 5 }, (_, i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await orrery.scheduleDue();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      endRuns: async (items: Parameters<Jobboard['endRuns']>[0]) => {
        await gate;
        return orrery.endRuns(items);
      },
    });
    let handled = 0;
    const w = new Worker(board, { concurrency: 5, types: ['job'], handlers: { job: () => (handled += 1, false) } });
    w.start();
    await waitFor(() => handled === 5, 'all five handlers to run');
    let stopped = false;
    const stopping = w.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect((await orrery.searchTasks({ status: 'completed', limit: 10 })).length).toBe(5);
  });
});
