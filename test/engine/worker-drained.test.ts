import { describe, expect, it } from 'vitest';
import type { Jobboard } from '../../src/engine/jobboard.js';
import { Worker } from '../../src/engine/worker.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

/**
 * A claim that comes back short found the store drained (core/claim-ahead.ts claimDrained): the worker
 * claims again when a wake-up says work arrived, not each time one of its handlers settles. Workers of
 * limited types keep claiming as their runs end (an end frees a slot for a waiting run).
 */
describe('Worker: a drained store is not claimed from again until work arrives', () => {
  const setup = useTempOrrery();

  /** The board with its claims counted; the poll is a minute away, so only wake-ups and settles claim. */
  function counting(orrery: Jobboard) {
    const counts = { claims: 0 };
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: async (req: Parameters<NonNullable<Jobboard['claim']>>[0]) => {
        counts.claims += 1;
        return orrery.claim!(req);
      },
    });
    return { board, counts };
  }

  it('tasks created one at a time each cost about one claim, and each starts without a poll', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    const { board, counts } = counting(orrery);
    let handled = 0;
    const w = new Worker(board, { concurrency: 4, types: ['job'], pollMs: 60_000, handlers: { job: () => void (handled += 1) } });
    onCleanup(() => w.stop(0));
    w.start();
    await waitFor(() => counts.claims >= 1, 'the first claim');
    const TASKS = 20;
    for (let i = 0; i < TASKS; i++) {
      await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [i], kwargs: {} } });
      await waitFor(async () => (await orrery.searchTasks({ status: 'completed', limit: 100 })).length === i + 1, `task ${i} completed`, 10_000, 5);
    }
    expect(handled).toBe(TASKS);
    // One claim per created task, and a few for wake-ups that came while a claim was on its way; a
    // worker that claimed again whenever a handler settled made three per task.
    expect(counts.claims).toBeLessThanOrEqual(Math.ceil(TASKS * 1.5) + 1);
  });

  it('a worker of a type with maxRunning 1 claims the next waiting run as each one ends, without a poll', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'capped', maxQueueLength: null, maxRunning: 1 });
    await orrery.createTasks(Array.from({ length: 6 }, (_, i) => ({ type: 'capped', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await orrery.scheduleDue();
    const { board } = counting(orrery);
    let handled = 0;
    const w = new Worker(board, { concurrency: 4, types: ['capped'], pollMs: 60_000, handlers: { capped: () => void (handled += 1) } });
    onCleanup(() => w.stop(0));
    w.start();
    await waitFor(() => handled === 6, 'the six runs, one at a time', 10_000, 5);
  });
});
