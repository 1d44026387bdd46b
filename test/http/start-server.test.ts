/** startServer: the library's `orrery serve`, with a worker, the HTTP API and metrics that move. */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import type { RunEvent } from '../../src/engine/service.js';
import { ValidationError } from '../../src/core/errors.js';
import { startServer, type RunningServer } from '../../src/http/start-server.js';

describe('startServer', () => {
  let dir: string;
  let orrery: Orrery | null = null;
  let server: RunningServer | null = null;
  afterEach(async () => {
    await server?.stop(0);
    await orrery?.close();
    server = null;
    orrery = null;
    rmSync(dir, { recursive: true, force: true });
  });
  const open = async () => {
    dir = mkdtempSync(join(tmpdir(), 'orrery-start-server-'));
    orrery = await openOrrery({ db: `sqlite:${join(dir, 'o.db')}` });
    return orrery;
  };

  it('runs the handlers, serves the API and /healthz, and its /metrics count the runs; stop() closes the listener', async () => {
    const o = await open();
    const ended = new Promise<RunEvent>((resolve) => o.events.on('run', (e) => e.event === 'ended' && resolve(e)));
    server = await startServer(o, {
      handlers: {
        handlers: { job: async () => ({ eventful: true, result: 'done' }) },
        taskTypes: [{ name: 'job' }],
        setup: async (x) => void (await (x as Orrery).createTask({ type: 'job', policy: 'oneshot' })),
      },
      http: { port: 0 },
    });
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.daemon.worker).not.toBeNull();
    const e = await ended;
    expect(e.run.status).toBe('eventful');
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const tasks = ((await (await fetch(`${server.url}/api/tasks?type=job`)).json()) as { items: Array<{ status: string }> }).items;
    expect(tasks.map((t) => t.status)).toEqual(['completed']);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^orrery_runs_total\{type="job",status="eventful"\} 1$/m);
    const url = server.url!;
    await server.stop();
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('answers a client that half-closes once its request is sent (nc -N, some health checkers): the dashboard, reads, a POST (HTTP audit: the connection was closed unanswered); a long wait still ends when its client leaves', async () => {
    const o = await open();
    server = await startServer(o, { http: { port: 0 } });
    await o.createTaskType({ name: 'job' });
    const task = await o.createTask({ type: 'job', policy: 'oneshot' });
    const halfClosed = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ port: server!.port!, host: '127.0.0.1', allowHalfOpen: true }, () => socket.end(request));
        let data = '';
        socket.on('data', (d) => (data += String(d)));
        socket.on('close', () => resolve(data));
        socket.on('error', reject);
      });
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    expect(await halfClosed(get('/'))).toMatch(/^HTTP\/1\.1 200 /);
    expect(await halfClosed(get('/readyz'))).toMatch(/^HTTP\/1\.1 200 /);
    expect(await halfClosed(get(`/api/tasks/${task.id}`))).toMatch(/^HTTP\/1\.1 200 [^]*"status":"next_run_not_scheduled"/);
    const body = '{"name":"halfclose"}';
    const posted = await halfClosed(`POST /api/task-types HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(posted).toMatch(/^HTTP\/1\.1 201 [^]*x-request-id: /i);
    expect(await o.getTaskType('halfclose')).not.toBeNull();
  });

  it('/readyz answers 503 stopping once stop() begins, while the server still answers and its running handler finishes', async () => {
    const o = await open();
    let release = () => {};
    const begun = new Promise<void>((r) => o.events.on('run', (e) => e.event === 'started' && r()));
    server = await startServer(o, {
      handlers: {
        handlers: { job: () => new Promise((r) => (release = () => r(true))) },
        taskTypes: [{ name: 'job' }],
        setup: async (x) => void (await (x as Orrery).createTask({ type: 'job', policy: 'oneshot' })),
      },
      http: { port: 0 },
    });
    const url = server.url!;
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ok', database: 'ok' });
    await begun;
    // A run waiting for a remote worker (a type the server's worker has no handler for).
    await o.createTaskType({ name: 'remote' });
    await o.createTask({ type: 'remote', policy: 'oneshot' });
    await o.scheduleDue();
    const stopping = server.stop(60_000);
    const ready = await fetch(`${url}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([503, { status: 'stopping' }]);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // A stopping server hands out no more runs (before: a remote worker claimed, and its end came after the close).
    const claim = await fetch(`${url}/api/jobboard/claim`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ worker: 'r1', types: ['remote'], limit: 5 }) });
    expect([claim.status, await claim.json()]).toEqual([200, []]);
    expect((await o.searchRuns({ type: 'remote' })).runs.map((r) => r.status)).toEqual(['scheduled']);
    release();
    await stopping;
    const [task] = await o.searchTasks({ type: 'job' });
    expect(task!.status).toBe('completed');
  });

  it('an aborted signal (a shutdown while starting) rejects with its reason, having started no loop, run no setup and kept no listener', async () => {
    const o = await open();
    await o.createTaskType({ name: 'job' });
    await o.createTask({ type: 'job', policy: 'oneshot' });
    const ac = new AbortController();
    const why = new Error('SIGTERM while starting');
    let setups = 0;
    // Aborted while the HTTP listener starts: after the checks, before the loops.
    const pending = startServer(o, {
      handlers: { handlers: { job: async () => true }, setup: async () => void setups++ },
      http: { port: 0 },
      runnerGraceMs: 0,
      signal: ac.signal,
    });
    ac.abort(why);
    await expect(pending).rejects.toBe(why);
    expect(setups).toBe(0);
    expect(await o.listRuns((await o.searchTasks({ type: 'job' }))[0]!.id)).toEqual([]); // no runner pass, no claim
    await expect(startServer(o, { http: false, signal: 'x' as never })).rejects.toThrow(/signal: must be an AbortSignal/);
  });

  it('refuses bad options with a ValidationError and starts nothing', async () => {
    const o = await open();
    const handlers = { handlers: { job: async () => undefined } };
    await expect(startServer(o, { handlers, worker: { types: ['nope'] }, http: false })).rejects.toThrow(ValidationError);
    await expect(startServer(o, { handlers, worker: { types: ['nope'] }, http: false })).rejects.toThrow('--types: unknown task type nope');
    await expect(startServer(o, { http: { host: '0.0.0.0', port: 0 } })).rejects.toThrow(/non-loopback address needs an API token/);
    await expect(startServer(o, { handlers, worker: { isolation: 'thread' }, http: false })).rejects.toThrow(/--isolation thread: needs the handlers file/);
    await expect(startServer(o, { handlers: join(dir, 'missing.ts'), http: false })).rejects.toThrow(/--handlers: file .*missing\.ts not found/);
    expect(await o.listTaskTypes()).toEqual([]);
  });
});
