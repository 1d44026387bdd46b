/**
 * A handler that returns or throws a value that cannot be read (cyclic, a bigint, a throwing getter,
 * a throw whose conversion to text throws) ends its run `failed` naming why (docs/guide.md, what a
 * handler returns), and the worker goes on: such a value crashed the process, with every run in flight.
 */
import { describe, expect, it } from 'vitest';
import { Worker } from '../../src/engine/worker.js';
import type { Handler } from '../../src/worker/handlers.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('a handler value that cannot be read', () => {
  const setup = useTempOrrery();

  it('ends its run failed and leaves the worker and the other runs alone', async () => {
    const { orrery } = await setup();
    const cyclic = () => {
      const o: Record<string, unknown> = { status: 200 };
      o.self = o;
      return o;
    };
    // Typed loosely: these handlers break the Handler type on purpose, as plain JavaScript handlers can.
    const handlers: Record<string, Handler> = {
      cyclic: (async () => cyclic()) as unknown as Handler,
      bigint: (async () => 10n) as unknown as Handler,
      getter: async () => ({
        get eventful(): boolean {
          throw new Error('no eventful here');
        },
      }),
      'bad-throw': async () => {
        throw { toString: () => { throw new Error('no text either'); } };
      },
      ok: async () => (await new Promise((r) => setTimeout(r, 100)), true),
    };
    for (const name of Object.keys(handlers)) await orrery.createTaskType({ name, numRetries: 0 });
    const tasks = await orrery.createTasks(Object.keys(handlers).map((type) => ({ type, policy: 'oneshot' as const, arguments: { args: [], kwargs: {} } })));
    // The slow one starts with the others, so it is in flight when they settle.
    const worker = new Worker(orrery, { handlers, id: 'w', concurrency: 5, registry: false });
    worker.start();
    try {
      const ended = await waitFor(async () => {
        const runs = await Promise.all(tasks.map(async (t) => (await orrery.getTaskWithRuns(t.id))!.runs.at(-1)));
        return runs.every((r) => r?.ended) ? runs : null;
      }, 'every run to end');
      const byType = Object.fromEntries(ended.map((r) => [r!.type, r!]));
      expect(byType.ok).toMatchObject({ status: 'eventful' });
      expect(byType.cyclic).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler returned \[object Object\] \(not JSON\); expected/) });
      expect(byType.bigint).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler returned a bigint; expected/) });
      expect(byType.getter).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler returned a value that could not be read \(no eventful here\)/) });
      expect(byType['bad-throw']).toMatchObject({ status: 'failed', error: expect.stringMatching(/^Error: \[object Object\]/) });
      expect(worker.state).toBe('running');
    } finally {
      await worker.stop(1000);
    }
  });
});
