/**
 * A remote worker (through the HTTP jobboard) learns of a cancel as a worker on the database does: the
 * server's event stream carries a `cancel` event, the worker heartbeats at once and drops the run from
 * its buffer before it begins. Without it, the run was dropped only at the next heartbeat (a third of
 * the lease) and began meanwhile if a slot freed. Real service, SQLite file, HTTP API and client.
 */
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Worker } from '../../src/engine/worker.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('a remote worker and a cancel of a run in its buffer', () => {
  const setup = useTempOrrery();

  it('drops the cancelled run at once (its lease let go) and never begins it', { timeout: 60_000 }, async () => {
    const { orrery, onCleanup } = await setup();
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    onCleanup(() => new Promise<void>((r) => (server as Server).close(() => r())));
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    onCleanup(() => client.close());
    // A lease of 10 minutes: the worker's own heartbeat comes every 200 s, past this test's wait.
    await orrery.createTaskType({ name: 'job', leaseMs: '10m' });
    const [first, second] = await orrery.createTasks(['a', 'b'].map((x) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [x], kwargs: {} } })));
    const began: string[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const worker = new Worker(client, {
      handlers: {
        job: async ({ args }) => {
          began.push(String(args[0]));
          if (args[0] === 'a') await blocked;
        },
      },
      types: ['job'],
      concurrency: 1,
      prefetch: 10,
    });
    worker.start();
    onCleanup(() => worker.stop(0));
    // a runs; b waits claimed in the worker's buffer.
    await waitFor(async () => began.length === 1 && (await orrery.getTaskWithRuns(second!.id))!.runs.at(-1)?.status === 'claimed', 'a running, b buffered', 20_000, 20);
    const b = (await orrery.getTaskWithRuns(second!.id))!.runs.at(-1)!;
    expect((await orrery.cancelRun(b.backendId)).outcome).toBe('ended');
    // The worker lets go of it (its lease cleared) well before its own heartbeat would come.
    await waitFor(async () => (await orrery.getRun(b.backendId))!.leaseExpiresAt === null, 'b let go by the worker', 15_000, 20);
    release();
    await waitFor(async () => (await orrery.getTask(first!.id))!.status === 'completed', 'a completed', 15_000, 20);
    expect(began).toEqual(['a']);
    expect((await orrery.getRun(b.backendId))!.status).toBe('lost');
  });
  it("a type edited to have maxRunning: the remote worker reads the types at once (the stream's types event) and gives its buffer back", { timeout: 60_000 }, async () => {
    const { orrery, onCleanup } = await setup();
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    onCleanup(() => new Promise<void>((r) => (server as Server).close(() => r())));
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    onCleanup(() => client.close());
    await orrery.createTaskType({ name: 'job', leaseMs: '10m', maxQueueLength: null });
    await orrery.createTasks(Array.from({ length: 8 }, (_, i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    let release!: () => void;
    const blocked = new Promise<void>((r) => (release = r));
    const worker = new Worker(client, { handlers: { job: () => blocked }, types: ['job'], concurrency: 1, prefetch: 10 });
    worker.start();
    onCleanup(() => worker.stop(0));
    const claimed = async () => (await orrery.searchRuns({ status: ['claimed'], limit: 100 })).runs.length;
    await waitFor(async () => ((await claimed()) > 0 ? true : null), 'runs buffered ahead', 20_000, 20);
    await orrery.updateTaskType('job', { maxRunning: 1 });
    // Its own refresh of the types comes every 5 s: the buffer goes back well before.
    await waitFor(async () => ((await claimed()) === 0 ? true : null), 'the buffered runs given back', 3_000, 20);
    release();
  });
});
