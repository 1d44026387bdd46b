/**
 * A remote worker's ends with large results: a batch of them is sent in several requests under the
 * server's 4 MB body limit (it was refused whole: "end not recorded", every run left to the reaper),
 * and a result past the 2 MiB bound fails its own run, naming why. Real service, SQLite file, HTTP
 * API and client.
 */
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Worker } from '../../src/engine/worker.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import type { Orrery } from '../../src/engine/service.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

/** Each task's latest run once every one has ended. */
function lastRunsEnded(orrery: Orrery, tasks: ReadonlyArray<{ id: number }>, timeoutMs: number) {
  return waitFor(async () => {
    const r = await Promise.all(tasks.map(async (t) => (await orrery.getTaskWithRuns(t.id))!.runs.at(-1)));
    return r.every((x) => x?.ended) ? r : null;
  }, 'every run to end', timeoutMs);
}

/** A barrier: each caller waits until `n` have arrived, so their handlers' ends go out together, in one batch of the worker's. */
function together(n: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((r) => (release = r));
  return () => {
    if (++arrived === n) release();
    return all;
  };
}

describe('a remote worker ending runs with large results', () => {
  const setup = useTempOrrery();

  it('records every end of a batch over 4 MB, and fails only a result over the bound', { timeout: 60_000 }, async () => {
    const { orrery, onCleanup } = await setup();
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    onCleanup(() => new Promise<void>((r) => (server as Server).close(() => r())));
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    onCleanup(() => client.close());
    await orrery.createTaskType({ name: 'big', numRetries: 0 });
    const MB = 1024 * 1024;
    // Characters of '€' (3 bytes in UTF-8): 0.6 M is 1.8 MB, 0.75 M is 2.25 MB, past the 2 MiB bound.
    const sizes = [1.5 * MB, 1.5 * MB, 1.5 * MB, 1.9 * MB, 2.5 * MB, 0.6 * MB, 0.6 * MB, 0.75 * MB];
    const text = (i: number, n: number) => (i >= 5 ? '€' : 'x').repeat(n);
    const tasks = await orrery.createTasks(sizes.map((n, i) => ({ type: 'big', policy: 'oneshot' as const, arguments: { args: [Math.floor(n), i], kwargs: {} } })));
    // Every handler waits for the others, so their ends go out together, in one batch of the worker's.
    const meet = together(sizes.length);
    const worker = new Worker(client, {
      handlers: {
        big: async ({ args, log }) => {
          await meet();
          log('info', 'a long message', { note: 'y'.repeat(100_000) });
          log('info', 'z'.repeat(150_000));
          log('info', 'last');
          return { eventful: true, result: { blob: text(args[1] as number, args[0] as number) } };
        },
      },
      types: ['big'],
      concurrency: sizes.length,
      registry: false,
    });
    worker.start();
    onCleanup(() => worker.stop(0));
    const runs = await lastRunsEnded(orrery, tasks, 30_000);
    for (const [i, run] of runs.entries()) {
      const bytes = Math.floor(sizes[i]!) * (i >= 5 ? 3 : 1);
      if (bytes < 2 * MB) expect((run!.result as { blob: string }).blob.length).toBe(Math.floor(sizes[i]!));
      else expect(run).toMatchObject({ status: 'failed', error: expect.stringMatching(/^handler result is too large: \d+ bytes of JSON, at most 2097152/) });
    }
    expect(runs.filter((r) => r!.status === 'eventful')).toHaveLength(6);
    // Every run's three log records arrive, the large ones cut down (attributes to their start, the message to its start and end).
    await waitFor(async () => (await Promise.all(runs.map(async (r) => (await orrery.getRunLogs(r!.backendId)).length))).every((n) => n === 3), 'every log record', 20_000);
    const logs = await orrery.getRunLogs(runs[0]!.backendId);
    expect(logs[0]!.attributes).toMatchObject({ truncated: expect.stringMatching(/^\{"note":"y+$/), bytes: 100_011 });
    expect(logs[1]!.message.length).toBeLessThanOrEqual(100_000);
    expect(logs[1]!.message).toMatch(/^z+\n… \(\d+ characters left out\) …\nz+$/);
    expect(logs[2]!.message).toBe('last');
  });

  it('records results and log attributes holding integers past 2^53 as the library does, and the other ends of the batch (client audit: all were refused)', { timeout: 30_000 }, async () => {
    const { orrery, onCleanup } = await setup();
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    onCleanup(() => new Promise<void>((r) => (server as Server).close(() => r())));
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    onCleanup(() => client.close());
    await orrery.createTaskType({ name: 'bb', numRetries: 0 });
    const tasks = await orrery.createTasks([0, 1, 2, 3].map((k) => ({ type: 'bb', policy: 'oneshot' as const, arguments: { args: [k], kwargs: {} } })));
    const meet = together(tasks.length);
    const worker = new Worker(client, {
      handlers: {
        bb: async ({ args, log }) => {
          await meet(); // their ends go out together
          log('info', 'hello');
          log('info', 'big', { n: 2 ** 60, m: -(2 ** 55) });
          return { eventful: true, result: args[0] === 0 ? { n: 2 ** 60, big: 1e21 } : { k: args[0] } };
        },
      },
      types: ['bb'],
      concurrency: 4,
      registry: false,
    });
    worker.start();
    onCleanup(() => worker.stop(0));
    const runs = await lastRunsEnded(orrery, tasks, 20_000);
    expect(runs.map((r) => [r!.status, r!.result])).toEqual([['eventful', { n: 2 ** 60, big: 1e21 }], ['eventful', { k: 1 }], ['eventful', { k: 2 }], ['eventful', { k: 3 }]]);
    await waitFor(async () => (await orrery.getRunLogs(runs[0]!.backendId)).length === 2, 'both log records');
    expect((await orrery.getRunLogs(runs[0]!.backendId)).map((l) => [l.message, l.attributes])).toEqual([['hello', {}], ['big', { n: 2 ** 60, m: -(2 ** 55) }]]);
  });
});
