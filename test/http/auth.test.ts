import { afterEach, describe, expect, it } from 'vitest';
import { routes } from '../../src/http/routes.js';
import { errorOf, openHttp, type HttpHarness } from './http-helpers.js';

const TOKEN = 'tok-3f9a1c';
const metrics = { contentType: 'text/plain', render: async () => 'x 1\n' };

/** One request per route (plus the routes outside the table), with a plausible path and body. */
const API: Array<{ method: string; path: string; body?: unknown }> = [
  ...routes.map((r) => ({
    method: r.method.toUpperCase(),
    path: `/api${r.path.replace(/:(\w+)/g, (_, name: string) => (name === 'id' ? '1' : name === 'name' ? 'mail' : 'some-run'))}`,
    ...(r.method === 'post' ? { body: {} } : {}),
  })),
  { method: 'GET', path: '/api/openapi.json' },
  { method: 'GET', path: '/api/events' },
  { method: 'GET', path: '/api/no-such-route' },
  { method: 'DELETE', path: '/api/tasks/1' },
];

let open: HttpHarness[] = [];
afterEach(async () => {
  for (const h of open) await h.close();
  open = [];
});
async function harness(opts: Parameters<typeof openHttp>[0]) {
  const h = await openHttp(opts);
  open.push(h);
  return h;
}

/** Sends a request and returns its status; an event stream is cancelled after its headers. */
async function statusOf(h: HttpHarness, method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: unknown }> {
  if (path === '/api/events') {
    const res = await h.app.request(path, { method, headers });
    const text = res.headers.get('content-type')?.startsWith('text/event-stream') ? null : await res.text();
    if (text === null) await res.body?.cancel();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  const r = await h.call(method, path, body, { headers });
  return { status: r.status, body: r.body };
}

const WRONG: Array<[string, Record<string, string>]> = [
  ['no Authorization header', {}],
  ['an empty header', { authorization: '' }],
  ['the wrong token', { authorization: 'Bearer not-the-token' }],
  ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
  ['the token plus a character', { authorization: `Bearer ${TOKEN}x` }],
  ['the token without the scheme', { authorization: TOKEN }],
  ['another scheme', { authorization: `Basic ${Buffer.from(`user:${TOKEN}`).toString('base64')}` }],
  ['the token in another header', { 'x-api-token': TOKEN }],
];

describe('with a token configured', () => {
  for (const [what, headers] of WRONG) {
    it(`every /api request with ${what} gets 401 in the error shape`, async () => {
      const h = await harness({ token: TOKEN });
      for (const req of API) {
        const r = await statusOf(h, req.method, req.path, headers, req.body);
        expect(r.status, `${req.method} ${req.path}`).toBe(401);
        expect(errorOf(r.body).code).toBe('unauthorized');
      }
      // Refused requests change nothing.
      expect(await h.orrery.listTaskTypes()).toEqual([]);
    });
  }

  it('a 401 names the Bearer scheme in WWW-Authenticate (RFC 7235), and an accepted request has none', async () => {
    const h = await harness({ token: TOKEN });
    const refused = await h.app.request('/api/task-types', { headers: { authorization: 'Bearer wrong' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="orrery"');
    const accepted = await h.app.request('/api/task-types', { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(accepted.status).toBe(200);
    expect(accepted.headers.get('www-authenticate')).toBeNull();
  });

  it('with `Bearer <token>` no /api request gets 401', async () => {
    const h = await harness({ token: TOKEN });
    await h.orrery.createTaskType({ name: 'mail', defaultIntervalMs: 60_000 });
    const statuses: Record<string, number> = {};
    for (const req of API) {
      const r = await statusOf(h, req.method, req.path, { authorization: `Bearer ${TOKEN}` }, req.body);
      expect(r.status, `${req.method} ${req.path}`).not.toBe(401);
      expect(r.status).toBeLessThan(500);
      statuses[`${req.method} ${req.path}`] = r.status;
    }
    expect(statuses['GET /api/task-types']).toBe(200);
    expect(statuses['GET /api/task-types/mail']).toBe(200);
    expect(statuses['GET /api/openapi.json']).toBe(200);
    expect(statuses['GET /api/events']).toBe(200);
    expect(statuses['GET /api/no-such-route']).toBe(404);
  });

  it('the scheme in any case, and more than one space before the token, are the same token (RFC 7235)', async () => {
    const h = await harness({ token: TOKEN });
    for (const authorization of [`bearer ${TOKEN}`, `BEARER ${TOKEN}`, `Bearer  ${TOKEN}`]) {
      expect((await statusOf(h, 'GET', '/api/task-types', { authorization })).status, authorization).toBe(200);
    }
  });

  it('a correct token works for a real request end to end', async () => {
    const h = await harness({ token: TOKEN });
    const headers = { authorization: `Bearer ${TOKEN}` };
    expect((await h.call('POST', '/api/task-types', { name: 'mail' }, { headers })).status).toBe(201);
    expect((await h.call('GET', '/api/task-types/mail', undefined, { headers })).body).toMatchObject({ name: 'mail' });
    expect((await h.call('GET', '/api/task-types/mail')).status).toBe(401);
  });

  it('/healthz stays open', async () => {
    const h = await harness({ token: TOKEN, health: () => ({ role: 'test' }) });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN}` }] as Array<Record<string, string>>) {
      const r = await h.call('GET', '/healthz', undefined, { headers });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ status: 'ok', role: 'test' });
    }
  });

  it('/readyz stays open, and says whether the database answers (503 once it does not)', async () => {
    const h = await harness({ token: TOKEN });
    for (const headers of [{}, { authorization: 'Bearer wrong' }] as Array<Record<string, string>>) {
      const r = await h.call('GET', '/readyz', undefined, { headers });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ status: 'ok', database: 'ok' });
    }
    await h.orrery.close(); // every read now fails: "the store is closed"
    const down = await h.call('GET', '/readyz');
    expect(down.status).toBe(503);
    expect(down.body).toEqual({ status: 'unavailable', database: expect.stringMatching(/^the store is closed/) });
  });

  it('/metrics needs the token', async () => {
    const h = await harness({ token: TOKEN, metrics });
    for (const [, headers] of WRONG) {
      const r = await h.call('GET', '/metrics', undefined, { headers });
      expect(r.status).toBe(401);
      expect(errorOf(r.body).code).toBe('unauthorized');
    }
    const ok = await h.call('GET', '/metrics', undefined, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.text).toBe('x 1\n');
    expect(ok.headers.get('content-type')).toBe('text/plain');
  });

  it('/metrics is open with publicMetrics, while /api still needs the token', async () => {
    const h = await harness({ token: TOKEN, metrics, publicMetrics: true });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN}` }] as Array<Record<string, string>>) {
      const r = await h.call('GET', '/metrics', undefined, { headers });
      expect(r.status).toBe(200);
      expect(r.text).toBe('x 1\n');
    }
    expect((await h.call('GET', '/api/task-types')).status).toBe(401);
  });

  it('/metrics is 404 when metrics are not enabled (after auth)', async () => {
    const h = await harness({ token: TOKEN });
    expect((await h.call('GET', '/metrics')).status).toBe(401);
    const r = await h.call('GET', '/metrics', undefined, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(404);
    expect(errorOf(r.body).code).toBe('not_found');
  });
});

describe('without a token configured', () => {
  for (const token of [undefined, null, '']) {
    it(`no auth is needed (token: ${JSON.stringify(token)})`, async () => {
      const h = await harness({ token, metrics });
      for (const headers of [{}, { authorization: 'Bearer anything' }, { authorization: 'garbage' }] as Array<Record<string, string>>) {
        for (const req of API) {
          const r = await statusOf(h, req.method, req.path, headers, req.body);
          expect(r.status, `${req.method} ${req.path}`).not.toBe(401);
          expect(r.status).toBeLessThan(500);
        }
        expect((await h.call('GET', '/api/task-types', undefined, { headers })).status).toBe(200);
        expect((await h.call('GET', '/healthz', undefined, { headers })).status).toBe(200);
        const m = await h.call('GET', '/metrics', undefined, { headers });
        expect(m.status).toBe(200);
        expect(m.text).toBe('x 1\n');
      }
    });
  }
});
