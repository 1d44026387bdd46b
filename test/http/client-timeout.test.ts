/** The typed client's own request timeout, and close() aborting the requests in flight. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageUnavailableError, ValidationError } from '../../src/core/errors.js';
import { OrreryClient } from '../../src/http/client.js';

/** A server that reads requests and never answers them; `arrived` resolves with each request as it comes. */
async function silentServer(): Promise<{ url: string; server: Server; next: () => Promise<IncomingMessage> }> {
  const waiting: Array<(r: IncomingMessage) => void> = [];
  const queued: IncomingMessage[] = [];
  const server = createServer((req) => {
    const w = waiting.shift();
    if (w) w(req);
    else queued.push(req);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const next = () => (queued.length ? Promise.resolve(queued.shift()!) : new Promise<IncomingMessage>((r) => waiting.push(r)));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, next };
}

describe('OrreryClient timeouts and close', () => {
  let server: Server | null = null;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r) ?? r(null));
    server = null;
  });

  it('a request without an answer within timeoutMs fails with a StorageUnavailableError naming the limit', async () => {
    const s = await silentServer();
    server = s.server;
    const client = new OrreryClient(s.url, null, { timeoutMs: 150 });
    // The server never answers (on a loaded machine the limit may pass before it even reads the request).
    const e = await client.listTaskTypes().then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(StorageUnavailableError);
    expect((e as Error).message).toBe(`orrery server ${s.url} did not answer within 150 ms`);
  });

  it("a claim waits for its answer no longer than the worker's answerWithinMs, when that is shorter than timeoutMs", async () => {
    const s = await silentServer();
    server = s.server;
    const client = new OrreryClient(s.url, null, { timeoutMs: 60_000 });
    const e = await client.claimRuns({ worker: 'w', types: ['t'], limit: 1, answerWithinMs: 150 }).then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(StorageUnavailableError);
    expect((e as Error).message).toBe(`orrery server ${s.url} did not answer within 150 ms`);
  });

  it('an https URL to a plain HTTP server is a final error naming TLS, not an outage retried for ever; a closed port is one', async () => {
    const s = await silentServer();
    server = s.server;
    const tls = await new OrreryClient(s.url.replace('http:', 'https:'), null, { timeoutMs: 5000 }).listTaskTypes().then(() => null, (x: unknown) => x);
    expect(tls).not.toBeInstanceOf(StorageUnavailableError);
    expect((tls as Error).message).toMatch(/^orrery server https:\/\/127\.0\.0\.1:\d+ cannot be used over TLS \(ERR_SSL_[A-Z_]+\): is it a plain http:\/\/ server/);
    const port = (s.server.address() as { port: number }).port;
    await new Promise((r) => s.server.close(r));
    server = null;
    const down = await new OrreryClient(`http://127.0.0.1:${port}`, null, { timeoutMs: 5000 }).listTaskTypes().then(() => null, (x: unknown) => x);
    expect(down).toBeInstanceOf(StorageUnavailableError);
    expect((down as Error).message).toBe(`orrery server http://127.0.0.1:${port} unreachable (ECONNREFUSED)`);
  });

  it('a route the server does not have (an older Orrery) is named with the server, not a bare "no route"', async () => {
    server = createServer((req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: `no route ${req.method} ${req.url}`, details: [] } }));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const e = await new OrreryClient(url).listTaskTypes().then(() => null, (x: unknown) => x);
    expect((e as Error).message).toBe(`orrery server ${url}: no route GET /api/task-types (is it an older Orrery, or does the URL's path lead elsewhere?)`);
  });

  it('a URL whose path leads to the dashboard (a web page, not JSON) says to give the server\'s root; bad run options are refused as the library refuses them', async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><html></html>');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/x/y`;
    const client = new OrreryClient(url);
    const e = await client.listTaskTypes().then(() => null, (x: unknown) => x);
    expect((e as Error).message).toBe(`orrery server ${url} answered 200 with a web page, not JSON: give the server's root URL (http://host:port), under which the API is /api`);
    for (const [call, path] of [[() => client.listRuns(1, { last: 0 }), 'last'], [() => client.getTask(1, { runs: 1.5 }), 'runs'], [() => client.listRuns(1, null as never), 'options']] as const) {
      await expect(call()).rejects.toMatchObject({ code: 'validation_error', details: [{ path }] });
    }
  });

  it('close() aborts the requests in flight and refuses later calls with code client_closed', async () => {
    const s = await silentServer();
    server = s.server;
    const client = new OrreryClient(s.url, null, { timeoutMs: null });
    const call = client.getTask(1);
    await s.next();
    client.close();
    await expect(call).rejects.toMatchObject({ code: 'client_closed', message: 'the client was closed' });
    await expect(client.listTaskTypes()).rejects.toMatchObject({ code: 'client_closed' });
    // A subscription after close() throws it (it returned a function and subscribed nothing: client audit);
    // a call answered without a request still answers, as http.md says.
    for (const subscribe of [() => client.onRunsScheduled(() => {}), () => client.onCancelRequested(() => {}), () => client.onTypesChanged(() => {})]) {
      expect(subscribe).toThrow('the client was closed');
    }
    expect(await client.createTasks([])).toEqual([]);
  });

  it('timeoutMs must be a positive whole number of milliseconds or null', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '100' as unknown as number]) {
      expect(() => new OrreryClient('http://127.0.0.1:1', null, { timeoutMs: bad })).toThrow(ValidationError);
    }
    expect(() => new OrreryClient('http://127.0.0.1:1', null, { timeoutMs: null })).not.toThrow();
    expect(() => new OrreryClient('http://127.0.0.1:1', null, { timeoutMs: 1 })).not.toThrow();
    // A misspelt option is refused, naming it (`timeout` left the 60 s default without a word).
    expect(() => new OrreryClient('http://127.0.0.1:1', null, { timeout: 5 } as never)).toThrow('options.timeout: unknown field (one of timeoutMs)');
  });
});
