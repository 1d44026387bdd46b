/**
 * A remote worker's claims are capped by the HTTP jobboard (1,000 runs a claim). A worker whose buffer
 * target is larger (prefetch 5,000) must ask for no more than the cap: asked 5,000 and answered 1,000,
 * it would take the queue for drained and wait for its poll with work still due. Real service, real
 * SQLite file, real HTTP API and client; the client's wake-ups are cut off (as by a proxy that holds
 * back the event stream), so only the worker's own claims can find the work.
 */
import type { Server } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Jobboard } from '../../src/engine/jobboard.js';
import { Worker } from '../../src/engine/worker.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('a remote worker with a prefetch above the jobboard cap', () => {
  const setup = useTempOrrery();

  it('claims again at once after a full capped answer instead of waiting for its poll', { timeout: 60_000 }, async () => {
    const { orrery, onCleanup } = await setup();
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    onCleanup(() => new Promise<void>((r) => (server as Server).close(() => r())));
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    onCleanup(() => client.close());
    expect(client.maxClaim).toBe(1000);

    await orrery.createTaskType({ name: 'job', leaseMs: '30s' });
    const N = 2_600;
    await orrery.createTasks(Array.from({ length: N }, (_, i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    const deaf = new Proxy(client, {
      get(target, key) {
        if (key === 'onRunsScheduled' || key === 'onTypesChanged') return () => () => {};
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Jobboard;
    let handled = 0;
    // A poll far longer than the test: only claims made on the worker's own account can finish it.
    const worker = new Worker(deaf, { handlers: { job: () => void handled++ }, types: ['job'], concurrency: 50, prefetch: 5_000, pollMs: 600_000 });
    worker.start();
    onCleanup(() => worker.stop(0));
    await waitFor(() => handled === N, `all ${N} runs handled`, 45_000, 50);
    await worker.stop(0);
    const ended = await orrery.searchRuns({ status: ['eventful', 'uneventful'], limit: 1 });
    expect(ended.runs).toHaveLength(1);
  });
});
