/**
 * Every answer carries a request id, and every 5xx is logged with its error, its stack and that id,
 * which the answer's body carries too (issue 16, item 2). The 500 is real: the store is closed under
 * the running server.
 */
import { Writable } from 'node:stream';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function served() {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-reqid-'));
  const orrery = await openOrrery({ db: `sqlite:${join(dir, 'o.db')}` });
  const lines: Array<Record<string, any>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, any>);
      done();
    },
  });
  const logger = pino({ base: undefined }, destination);
  const { server, port } = await startHttpServer(createHttpApp(orrery, { logger }), '127.0.0.1', 0);
  let closed = false;
  cleanups.push(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    if (!closed) await orrery.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    orrery,
    lines,
    url: `http://127.0.0.1:${port}`,
    closeStore: async () => {
      closed = true;
      await orrery.close();
    },
    /** The listing calls throw as a bug would (not an OrreryError): the server answers 500. */
    breakListings: () => {
      const bug = () => Promise.reject(new Error('listing broke (a bug)'));
      orrery.listTaskTypes = bug;
      orrery.findTasks = bug;
    },
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

it('every answer carries x-request-id: the caller\'s when sane, else a fresh UUID', async () => {
  const s = await served();
  const answers = await Promise.all([
    fetch(`${s.url}/healthz`),
    fetch(`${s.url}/api/task-types`),
    fetch(`${s.url}/api/tasks/abc`),
    fetch(`${s.url}/api/nope`),
    fetch(`${s.url}/api/task-types`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"Bad Name"}' }),
  ]);
  expect(answers.map((r) => r.status)).toEqual([200, 200, 400, 404, 400]);
  const ids = answers.map((r) => r.headers.get('x-request-id'));
  for (const id of ids) expect(id).toMatch(UUID);
  expect(new Set(ids).size).toBe(ids.length);
  const mine = await fetch(`${s.url}/api/task-types`, { headers: { 'x-request-id': 'trace-42.a:b' } });
  expect(mine.headers.get('x-request-id')).toBe('trace-42.a:b');
  for (const bad of ['has spaces', 'x'.repeat(129), 'semi;colon', '']) {
    const r = await fetch(`${s.url}/api/task-types`, { headers: { 'x-request-id': bad } });
    expect(r.headers.get('x-request-id'), bad).toMatch(UUID);
  }
  // 4xx answers are the client's business: not logged.
  expect(s.lines).toEqual([]);
});

it('a 500 is logged with the error, its stack and the request id the answer carries', async () => {
  const s = await served();
  s.breakListings();
  const r = await fetch(`${s.url}/api/task-types`, { headers: { 'x-request-id': 'req-500-check' } });
  expect(r.status).toBe(500);
  const body = (await r.json()) as { error: { code: string; requestId: string } };
  expect(body.error.code).toBe('internal');
  expect(body.error.requestId).toBe('req-500-check');
  expect(r.headers.get('x-request-id')).toBe('req-500-check');

  const generated = await fetch(`${s.url}/api/tasks?type=mail`);
  expect(generated.status).toBe(500);
  const id = generated.headers.get('x-request-id')!;
  expect(id).toMatch(UUID);
  expect(((await generated.json()) as { error: { requestId: string } }).error.requestId).toBe(id);

  expect(s.lines).toHaveLength(2);
  const [first, second] = s.lines;
  for (const [line, rid, path] of [[first!, 'req-500-check', '/api/task-types'], [second!, id, '/api/tasks']] as const) {
    expect(line.level).toBe(50);
    expect(line.requestId).toBe(rid);
    expect(line.status).toBe(500);
    expect(line.path).toBe(path);
    expect(line.msg).toContain(rid);
    expect(line.err.message).toMatch(/listing broke/);
    expect(line.err.stack).toContain(line.err.message);
    expect(line.err.stack).toMatch(/\n\s+at /);
  }
});

it('a closed store answers 503 storage_error ("the store is closed"), not a 500', async () => {
  const s = await served();
  await s.closeStore();
  const r = await fetch(`${s.url}/api/task-types`);
  expect(r.status).toBe(503);
  expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'storage_error', message: expect.stringContaining('the store is closed') });
});

it('the typed client surfaces the 500 with the request id the server logged', async () => {
  const s = await served();
  s.breakListings();
  const client = new OrreryClient(s.url);
  const e = await client.listTaskTypes().then(
    () => null,
    (x: unknown) => x,
  );
  expect(s.lines).toHaveLength(1);
  expect((e as Error).message).toBe(`orrery server answered 500: internal error (request ${s.lines[0]!.requestId as string})`);
});

it('a client that closes its connection in the middle of its body is no 500 and no error line (an info line says so)', async () => {
  const s = await served();
  const port = Number(new URL(s.url).port);
  for (const path of ['/api/listers', '/api/tasks', '/api/tasks/batch']) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":`);
        setImmediate(() => socket.destroy());
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
  }
  await expect.poll(() => s.lines.filter((l) => /closed the connection before its request was read/.test(l.msg)).length).toBe(3);
  expect(s.lines.filter((l) => l.level >= 50)).toEqual([]);
});

/** Sends raw bytes and reads the whole answer until the server closes the connection. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    socket.on('data', (d) => (got += d.toString('utf8')));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

it('a request Node cannot parse gets the API error shape: 431 for headers over 16 KB, 400 for a malformed request', async () => {
  const s = await served();
  const port = Number(new URL(s.url).port);
  const big = await rawExchange(port, `GET /api/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  expect(big).toMatch(/^HTTP\/1\.1 431 /);
  expect(big).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/);
  expect(JSON.parse(big.slice(big.indexOf('\r\n\r\n') + 4))).toEqual({
    error: { code: 'headers_too_large', message: 'the request headers are too large (at most 16 KB in all)', details: [] },
  });
  const bad = await rawExchange(port, `GET /api/tasks HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n`);
  expect(bad).toMatch(/^HTTP\/1\.1 400 /);
  expect(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4)).error).toMatchObject({ code: 'bad_request', message: expect.stringMatching(/^malformed HTTP request \(HPE_/) });
  // An Expect it cannot meet (Node answered a bare 417) and a CONNECT (Node dropped it): the API's shape too.
  const expectation = await rawExchange(port, `POST /api/task-types HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: foo\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
  expect(expectation).toMatch(/^HTTP\/1\.1 417 /);
  expect(expectation).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/i);
  expect(JSON.parse(expectation.slice(expectation.indexOf('\r\n\r\n') + 4)).error).toMatchObject({ code: 'expectation_failed', message: 'the Expect header "foo" cannot be met (only 100-continue is)' });
  const tunnel = await rawExchange(port, `CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nx-request-id: mine-3\r\n\r\n`);
  expect(tunnel).toMatch(/^HTTP\/1\.1 400 /);
  expect(tunnel).toMatch(/\r\nx-request-id: mine-3\r\n/); // the caller's id, as every answer (HTTP audit: a fresh one)
  // Targets the adapter cannot read as a URL: the caller's id too, and the API's shape.
  for (const [target, message] of [['*', 'bad request: the request target must be a path starting with / (it is "*")'], ['/a\\b', 'bad request: Backslash in request path']]) {
    const got = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-request-id: mine-1\r\nConnection: close\r\n\r\n`);
    expect(got).toMatch(/^HTTP\/1\.1 400 /);
    expect(got).toMatch(/\r\nx-request-id: mine-1\r\n/);
    expect(JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)).error).toMatchObject({ code: 'bad_request', message });
  }
  expect(JSON.parse(tunnel.slice(tunnel.indexOf('\r\n\r\n') + 4)).error).toMatchObject({ code: 'bad_request', message: 'CONNECT is not answered here (this is not a proxy)' });
  // The server still answers.
  expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
});
