/**
 * Cross-site requests (docs/http.md, "Security"), over a real socket: bodies must be JSON (415), and
 * without a token only loopback Host names (403) and same-origin mutations (403) are served. The
 * typed client, as remote workers and the dashboard use it, keeps working.
 */
import { request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/engine/logger.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { errorOf } from './http-helpers.js';

const TOKEN = 'tok-sec-41d2';

interface Served {
  orrery: Orrery;
  port: number;
  close(): Promise<void>;
}

const open: Served[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function serve(token: string | null = null): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-sec-'));
  const orrery = await openOrrery({ db: `sqlite:${join(dir, 'o.db')}` });
  const { server, port } = await startHttpServer(createHttpApp(orrery, { token, logger: silentLogger }), '127.0.0.1', 0);
  const s: Served = {
    orrery,
    port,
    close: async () => {
      await new Promise<void>((r) => (server as Server).close(() => r()));
      await orrery.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  open.push(s);
  return s;
}

/** One request over a socket to 127.0.0.1 with exactly these headers (Host included when given). */
function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The head of the answer to a request written as raw bytes (what Node's own parser refuses). */
function rawHead(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('close', () => resolve(text.split('\r\n\r\n')[0]!));
    socket.on('error', reject);
  });
}

const names = async (o: Orrery) => (await o.listTaskTypes()).map((t) => t.name);

describe('without a token', () => {
  it('the repro: a cross-site text/plain POST from a foreign Origin is refused and creates nothing', async () => {
    const s = await serve();
    const r = await send(s.port, 'POST', '/api/task-types', { origin: 'http://evil.example', 'content-type': 'text/plain' }, '{"name":"csrf-made"}');
    expect(r.status).toBe(403);
    expect(errorOf(r.body).code).toBe('forbidden');
    expect(await names(s.orrery)).toEqual([]);
  });

  it('a compressed body (Content-Encoding other than identity) gets 415 naming the encoding, on JSON and NDJSON routes', async () => {
    const s = await serve();
    for (const [path, type] of [['/api/task-types', 'application/json'], ['/api/tasks/import', 'application/x-ndjson']] as const) {
      for (const encoding of ['gzip', 'br', 'deflate, gzip']) {
        const r = await send(s.port, 'POST', path, { 'content-type': type, 'content-encoding': encoding }, '{"name":"made"}');
        expect(r.status, `${path} ${encoding}`).toBe(415);
        expect(errorOf(r.body).code).toBe('unsupported_media_type');
        expect(errorOf(r.body).message).toContain(`Content-Encoding "${encoding}" is not accepted`);
      }
    }
    // A transfer coding besides chunked too: a gzip body was read as text that is not UTF-8 (HTTP audit).
    const chunked = (path: string, type: string, coding: string, body: string) =>
      rawHead(s.port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${type}\r\nTransfer-Encoding: ${coding}\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`);
    for (const [path, type] of [['/api/task-types', 'application/json'], ['/api/tasks/import', 'application/x-ndjson']] as const) {
      expect(await chunked(path, type, 'gzip, chunked', '{"name":"made"}'), path).toMatch(/^HTTP\/1\.1 415 /);
    }
    expect(await names(s.orrery)).toEqual([]);
    const r = await send(s.port, 'POST', '/api/task-types', { 'content-type': 'application/json', 'content-encoding': 'Identity' }, '{"name":"plain"}');
    expect(r.status).toBe(201);
    expect(await chunked('/api/task-types', 'application/json', 'chunked', '{"name":"chunked"}')).toMatch(/^HTTP\/1\.1 201 /);
  });

  it('bodies must be application/json: other types get 415, even without an Origin', async () => {
    const s = await serve();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json']) {
      const r = await send(s.port, 'POST', '/api/task-types', { 'content-type': type }, '{"name":"made"}');
      expect(r.status, type).toBe(415);
      expect(errorOf(r.body).code).toBe('unsupported_media_type');
    }
    const none = await send(s.port, 'POST', '/api/task-types', {}, '{"name":"made"}');
    expect(none.status).toBe(415);
    expect(await names(s.orrery)).toEqual([]);
    for (const [i, type] of ['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset=UTF-8'].entries()) {
      const r = await send(s.port, 'POST', '/api/task-types', { 'content-type': type }, JSON.stringify({ name: `ok${i}` }));
      expect(r.status, type).toBe(201);
    }
  });

  it('only loopback Host names are served: others get 403 on every path (DNS rebinding)', async () => {
    const s = await serve();
    await s.orrery.createTaskType({ name: 'mail' });
    for (const host of ['evil.example', `evil.example:${s.port}`, `10.0.0.5:${s.port}`, `localhost.evil.example:${s.port}`, `127.0.0.1.nip.io:${s.port}`]) {
      for (const path of ['/api/task-types', '/healthz', '/']) {
        const r = await send(s.port, 'GET', path, { host });
        expect(r.status, `${host} ${path}`).toBe(403);
        expect(errorOf(r.body).code).toBe('forbidden');
      }
    }
    for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `[::1]:${s.port}`, 'localhost', `LOCALHOST:${s.port}`, `127.0.0.2:${s.port}`]) {
      const r = await send(s.port, 'GET', '/api/task-types', { host });
      expect(r.status, host).toBe(200);
      expect(r.body.map((t: { name: string }) => t.name)).toEqual(['mail']);
    }
  });

  it('mutations from a foreign Origin get 403; the server\'s own origin and no Origin are accepted; reads are not checked', async () => {
    const s = await serve();
    const own = `http://127.0.0.1:${s.port}`;
    const json = { 'content-type': 'application/json' };
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${s.port + 1}`, `http://localhost:${s.port}`, 'file://', `https://evil.example:${s.port}`]) {
      const r = await send(s.port, 'POST', '/api/task-types', { ...json, origin }, '{"name":"x"}');
      expect(r.status, origin).toBe(403);
      expect(errorOf(r.body).code).toBe('forbidden');
    }
    // The same name through localhost: its own origin then is http://localhost:PORT.
    const viaLocalhost = await send(s.port, 'POST', '/api/task-types', { ...json, host: `localhost:${s.port}`, origin: `http://localhost:${s.port}` }, '{"name":"b"}');
    expect(viaLocalhost.status).toBe(201);
    expect((await send(s.port, 'POST', '/api/task-types', { ...json, origin: own }, '{"name":"a"}')).status).toBe(201);
    // Default ports and IPv6: the origin is the same when host and port are.
    expect((await send(s.port, 'POST', '/api/task-types', { ...json, host: '127.0.0.1', origin: 'http://127.0.0.1:80' }, '{"name":"d"}')).status).toBe(201);
    expect((await send(s.port, 'POST', '/api/task-types', { ...json, host: `[::1]:${s.port}`, origin: `http://[::1]:${s.port}` }, '{"name":"e"}')).status).toBe(201);
    expect((await send(s.port, 'POST', '/api/task-types', { ...json, host: '127.0.0.1', origin: 'http://127.0.0.1:81' }, '{"name":"f"}')).status).toBe(403);
    expect((await send(s.port, 'POST', '/api/task-types', json, '{"name":"c"}')).status).toBe(201);
    expect((await send(s.port, 'GET', '/api/task-types', { origin: 'http://evil.example' })).status).toBe(200);
    // A bodiless mutation is checked too (a DAG run cancel takes no body).
    const cancel = await send(s.port, 'POST', '/api/dag-runs/1/cancel', { origin: 'http://evil.example' });
    expect(cancel.status).toBe(403);
    expect(await names(s.orrery)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('the typed client (remote workers, the dashboard) keeps working', async () => {
    const s = await serve();
    const client = new OrreryClient(`http://127.0.0.1:${s.port}`);
    await client.createTaskType({ name: 'mail', defaultIntervalMs: 60_000 });
    const task = await client.createTask({ type: 'mail', arguments: { args: [1] } });
    expect(task.type).toBe('mail');
    await client.scheduleDue();
    const claimed = await client.claimRuns({ worker: 'w1', types: ['mail'], limit: 1 });
    expect(claimed).toHaveLength(1);
    const localhost = new OrreryClient(`http://localhost:${s.port}`);
    expect((await localhost.listTaskTypes()).map((t) => t.name)).toEqual(['mail']);
  });
});

describe('with a token', () => {
  it('API answers, errors and probes are neither kept by a browser or proxy nor sniffed: no-store, nosniff', async () => {
    const s = await serve(TOKEN);
    const auth = { authorization: `Bearer ${TOKEN}`, host: `127.0.0.1:${s.port}` };
    for (const [path, headers, status] of [['/api/task-types', auth, 200], ['/api/task-types', { host: auth.host }, 401], ['/api/nope', auth, 404], ['/healthz', { host: auth.host }, 200]] as const) {
      const r = await send(s.port, 'GET', path, headers);
      expect(r.status, path).toBe(status);
      expect([r.headers['cache-control'], r.headers['x-content-type-options']], `${path} ${status}`).toEqual(['no-store', 'nosniff']);
    }
    // The event stream keeps its own caching header.
    expect((await send(s.port, 'HEAD', '/api/events', auth)).headers['cache-control']).toBe('no-cache');
  });

  it('the answers refused before any route carry them too: a malformed Host or path, a foreign Host or Origin, too large headers, a request Node cannot parse', async () => {
    const withToken = await serve(TOKEN);
    const without = await serve();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const cases = [
      [withToken.port, 'GET', '/api/task-types', { ...auth, host: '127.999.0.1' }, 400],
      [withToken.port, 'GET', '/api/tasks/%ff', { ...auth, host: `127.0.0.1:${withToken.port}` }, 400],
      [without.port, 'GET', '/api/task-types', { host: 'evil.example' }, 403],
      [without.port, 'GET', '/healthz', { host: 'evil.example' }, 403],
      [without.port, 'POST', '/api/task-types', { origin: 'http://evil.example', 'content-type': 'application/json' }, 403],
    ] as const;
    for (const [port, method, path, headers, status] of cases) {
      const r = await send(port, method, path, headers, method === 'POST' ? '{"name":"x"}' : undefined);
      expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(status);
      expect([r.headers['cache-control'], r.headers['x-content-type-options']], `${path} ${status}`).toEqual(['no-store', 'nosniff']);
    }
    // Two Host headers are a malformed request (RFC 9112 §3.2): they were joined ("a, b") and answered 403 without a token, served with one.
    const twoHosts = (more: string) => `GET /api/task-types HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: ${more}\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`;
    for (const [port, raw] of [[without.port, twoHosts('127.0.0.1')], [withToken.port, twoHosts('evil.example')]] as const) {
      const text = await rawHead(port, raw);
      expect(text.split('\r\n')[0]).toMatch(/^HTTP\/1.1 400 /);
    }
    for (const [raw, status] of [[`GET /api/task-types HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(17_000)}\r\n\r\n`, 431], ['GET /api/task-types HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n', 400]] as const) {
      const head = await rawHead(withToken.port, raw);
      expect(head.split('\r\n')[0], raw.slice(0, 40)).toMatch(new RegExp(`^HTTP/1.1 ${status} `));
      expect(head).toMatch(/\r\ncache-control: no-store\r\n/);
      expect(head).toMatch(/\r\nx-content-type-options: nosniff\r\n/);
    }
  });

  it('any Host and Origin are served with the token (the token is the defence), but bodies must still be JSON', async () => {
    const s = await serve(TOKEN);
    const auth = { authorization: `Bearer ${TOKEN}` };
    const r = await send(s.port, 'POST', '/api/task-types', { ...auth, host: 'orrery.example.com', origin: 'https://dash.example.com', 'content-type': 'application/json' }, '{"name":"a"}');
    expect(r.status).toBe(201);
    const text = await send(s.port, 'POST', '/api/task-types', { ...auth, 'content-type': 'text/plain' }, '{"name":"b"}');
    expect(text.status).toBe(415);
    const noToken = await send(s.port, 'POST', '/api/task-types', { 'content-type': 'application/json' }, '{"name":"c"}');
    expect(noToken.status).toBe(401);
    expect(await names(s.orrery)).toEqual(['a']);
  });
});

describe('malformed Host headers', () => {
  const BAD = ['127.999.0.1', '256.1.1.1', '1.2.3.4.5', 'xn--', '127.0.0.1:abc', 'localhost:', '127.0.0.1:', '[::1', 'a b', 'ex%41mple', '[fe80::1%25eth0]', '127.0.0.1:99999'];
  for (const token of [null, TOKEN]) {
    it(`get a 400 in the API's error shape with a request id, never a 500 (${token ? 'with' : 'without'} a token)`, async () => {
      const s = await serve(token);
      const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      for (const host of BAD) {
        for (const path of ['/api/task-types', '/healthz', '/api/openapi.json']) {
          const r = await send(s.port, 'GET', path, { ...auth, host });
          expect(r.status, `${host} ${path}`).toBe(400);
          expect(errorOf(r.body).code, host).toBe('bad_request');
          expect(errorOf(r.body).message, host).toContain('Host');
          expect(r.headers['x-request-id'], host).toMatch(/./);
        }
      }
      const none = await send(s.port, 'POST', '/api/task-types', { ...auth, host: BAD[0]!, 'content-type': 'application/json' }, '{"name":"made"}');
      expect(none.status).toBe(400);
      expect(await names(s.orrery)).toEqual([]);
      // Well-formed names are still served as before.
      expect((await send(s.port, 'GET', '/api/task-types', { ...auth, host: `127.0.0.1:${s.port}` })).status).toBe(200);
      if (token) expect((await send(s.port, 'GET', '/api/task-types', { ...auth, host: 'orrery.example.com' })).status).toBe(200);
      // IPv6 addresses in any form a URL holds, not only the shortest (the adapter refused these with a bare 400).
      for (const host of ['[0:0:0:0:0:0:0:1]', `[0:0:0:0:0:0:0:1]:${s.port}`, '[0000::1]']) {
        expect((await send(s.port, 'GET', '/api/task-types', { ...auth, host })).status, host).toBe(200);
      }
      // Other addresses are served with the token, and refused as not loopback without it (403, not 400).
      for (const host of ['[2001:db8:0::1]', '[::ffff:127.0.0.1]']) {
        expect((await send(s.port, 'GET', '/api/task-types', { ...auth, host })).status, host).toBe(token ? 200 : 403);
      }
    });
  }
});
