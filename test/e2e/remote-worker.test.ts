import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { OrreryClient } from '../../src/http/client.js';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { join } from 'node:path';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

const POOL_HANDLERS = join(import.meta.dirname, '..', 'fixtures', 'pool-handlers.ts'); // handlers only: no taskTypes, no DAGs

describe('orrery serve with a remote `orrery worker --url`', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('executes tasks created through the typed client, through the HTTP jobboard only', async () => {
    const { path } = await setup();
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--port', '0', '--token', 't0ken', '--log-format', 'json']);
    await waitFor(() => /orrery started/.test(serve.output()), 'serve to start');
    const port = Number(/"port":(\d+)/.exec(serve.output())![1]);
    const url = `http://127.0.0.1:${port}`;
    // A wrong token is found at start, even with a handlers file that creates no task types: exit 1.
    const wrong = spawnOrrery(['worker', '--url', url, '--token', 'wr0ng', '--handlers', POOL_HANDLERS, '--log-format', 'json']);
    expect(await wrong.exited).toBe(1);
    expect(wrong.output()).toContain(`orrery: the server ${url} refused the token given (401: missing or wrong bearer token); give the token serve was started with, with --token or $ORRERY_API_TOKEN`);
    const none = spawnOrrery(['worker', '--url', url, '--handlers', POOL_HANDLERS, '--log-format', 'json'], { ORRERY_API_TOKEN: undefined });
    expect(await none.exited).toBe(1);
    expect(none.output()).toContain(`orrery: the server ${url} wants a token and none was given (401: missing or wrong bearer token)`);
    // --types naming a type the file has no handler for is refused at start, as with --db (exit 2), not claimed and failed.
    const elsewhere = await new OrreryClient(url, 't0ken').createTaskType({ name: 'elsewhere', backendName: 'nobody' });
    const unhandled = spawnOrrery(['worker', '--url', url, '--token', 't0ken', '--handlers', FIXTURE_HANDLERS, '--types', `noop,${elsewhere.name}`]);
    expect(await unhandled.exited).toBe(2);
    expect(unhandled.output()).toMatch(/--types: no handler in .*handlers\.ts for elsewhere \(backend nobody\)/);
    // The worker gets no --db: everything it does goes through the API.
    const worker = spawnOrrery(['worker', '--url', url, '--token', 't0ken', '--handlers', FIXTURE_HANDLERS, '--types', 'noop,tick', '--id', 'remote-1', '--log-format', 'json']);
    await waitFor(() => /orrery worker .* started/.test(worker.output()), 'the remote worker to start');
    // Its start line names the types it serves, as a worker on the database's does (operations.md).
    expect(worker.output()).toMatch(/orrery worker remote-1 started against http:\/\/127\.0\.0\.1:\d+ \(concurrency \d+, isolation inline, handlers: [^)]*; serving only noop, tick\)/);

    const client = new OrreryClient(url, 't0ken');
    try {
      const tasks = await client.createTasks(Array.from({ length: 30 }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
      const recurring = await client.createTask({ type: 'tick', arguments: { args: ['feed'], kwargs: {} } });
      await waitFor(async () => (await client.searchTasks({ type: 'noop', status: 'completed', limit: 100 })).length === 30, 'the one-shot tasks to complete');
      const ticks = await waitFor(async () => {
        const runs = await client.listRuns(recurring.id);
        return runs.filter((r) => r.status === 'eventful').length >= 2 ? runs : null;
      }, 'two runs of the recurring task');
      const one = await client.getTask(tasks[0]!.id);
      expect(one.runs.map((r) => [r.status, r.worker])).toEqual([['uneventful', 'remote-1']]);
      expect(one.runs[0]!.ended).toBeInstanceOf(Date);
      const logs = await client.getRunLogs(ticks[0]!.backendId); // written by the remote worker through /jobboard/logs
      expect(logs[0]).toMatchObject({ level: 'info', message: 'tick' });

      // enqueue / dequeue, like the Indico Client
      const later = await client.enqueue('noop', ['later'], {}, new Date(Date.now() + 3_600_000));
      expect((await client.dequeue(later.id)).status).toBe('disabled');

      const metrics = await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer t0ken' } }).then((r) => r.text());
      expect(metrics).toMatch(/orrery_runs_total\{type="noop",status="uneventful"\} 30/);
      expect(metrics).toMatch(/^orrery_workers 1$/m); // the remote worker, seen through its claims
      expect(metrics).toMatch(/^orrery_registered_workers\{liveness="alive"\} 1$/m); // registered through POST /api/jobboard/workers
      expect((await fetch(`${url}/metrics`)).status).toBe(401);

      // The registry: the remote worker registered through the HTTP jobboard, then said it stopped.
      const [seen] = await client.stats.workers();
      expect(seen).toMatchObject({ worker: 'remote-1', registered: true, liveness: 'alive', host: hostname(), types: ['noop', 'tick'], concurrency: 10, stoppedAt: null });
      expect(seen!.startedAt).toBeInstanceOf(Date);
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      const [stopped] = await client.stats.workers();
      expect(stopped).toMatchObject({ worker: 'remote-1', liveness: 'stopped', running: 0 });
      expect(stopped!.stoppedAt).toBeInstanceOf(Date);
    } finally {
      client.close();
    }
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('started while its server is away, waits for it (as a daemon waits for its database), then works', async () => {
    const { path } = await setup();
    // A port nothing listens on yet.
    const probe = createServer();
    const port = await new Promise<number>((r) => probe.listen(0, '127.0.0.1', () => r((probe.address() as AddressInfo).port)));
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `http://127.0.0.1:${port}`;
    const worker = spawnOrrery(['worker', '--url', `${url}/api`, '--handlers', FIXTURE_HANDLERS, '--types', 'noop', '--id', 'patient']);
    await waitFor(() => /cannot reach the server \(orrery server .* unreachable \(ECONNREFUSED\)\); retrying in \d+ ms/.test(worker.output()), 'the worker to wait for its server');
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--port', String(port)]);
    await waitFor(() => /orrery worker patient started against/.test(worker.output()), 'the remote worker to start once the server is up', 30_000);
    const client = new OrreryClient(url);
    const task = await client.createTask({ type: 'noop', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    await waitFor(async () => (await client.getTask(task.id)).runs.some((r) => r.worker === 'patient' && r.ended), 'its run to end on the remote worker');
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('a signal while its first request to the server hangs (accepted, never answered) stops it at once, not after the request timeout', async () => {
    // A server that takes connections and never answers (audit: the stop waited 60 s for the request timeout).
    const sockets: Array<import('node:net').Socket> = [];
    const silent = createServer((s) => void sockets.push(s));
    const port = await new Promise<number>((r) => silent.listen(0, '127.0.0.1', () => r((silent.address() as AddressInfo).port)));
    try {
      const worker = spawnOrrery(['worker', '--url', `http://127.0.0.1:${port}`, '--handlers', FIXTURE_HANDLERS, '--types', 'noop']);
      await waitFor(() => sockets.length > 0, 'the worker to connect', 30_000);
      const sentAt = Date.now();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(Date.now() - sentAt).toBeLessThan(20_000);
      expect(worker.output()).toMatch(/SIGTERM received while starting/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });
});
