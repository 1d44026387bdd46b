/**
 * The worker registry over HTTP (docs/http.md#post-apijobboardworkers): remote workers register,
 * refresh and stop through the jobboard; GET /api/workers lists idle registered workers as alive and
 * stopped ones as stopped. Every route answers a success, an error and a 401 matching the OpenAPI document.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workerRoutes } from '../../src/http/worker-routes.js';
import { T0, errorOf, openHttp, type HttpHarness } from './http-helpers.js';

const TOKEN = 't0ken';
const auth = { authorization: `Bearer ${TOKEN}` };
const oa = (path: string) => `/api${path.replace(/:(\w+)/g, '{$1}')}`;
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
const worker = (id: string, extra: Record<string, unknown> = {}) => ({ id, host: 'vm-2', pid: 77, types: ['mail'], concurrency: 2, ...extra });
let h: HttpHarness;

beforeAll(async () => {
  h = await openHttp({ token: TOKEN });
});
afterAll(async () => h?.close());

const call = (method: string, path: string, body?: unknown) => h.call(method, path, body, { headers: auth });

describe('the worker registry over HTTP', () => {
  it('registers and refreshes a worker, marks it stopped; GET /api/workers tells idle alive workers from stopped ones', async () => {
    const first = await call('POST', '/api/jobboard/workers', worker('idle'));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ ...worker('idle'), startedAt: T0, lastSeen: T0, stoppedAt: null });
    expect((await call('POST', '/api/jobboard/workers', worker('leaving'))).status).toBe(200);
    h.clock.set(new Date(at(10_000)));
    expect((await call('POST', '/api/jobboard/workers', worker('idle'))).body).toMatchObject({ startedAt: T0, lastSeen: at(10_000) });
    const stopped = await call('POST', '/api/jobboard/workers/stop', { id: 'leaving' });
    expect(stopped.body).toMatchObject({ id: 'leaving', stoppedAt: at(10_000) });

    h.clock.set(new Date(at(20_000)));
    const list = await call('GET', '/api/workers');
    expect(list.body).toEqual([
      { worker: 'idle', running: 0, lastHeartbeat: null, lastEnded: null, ended: 0, lastSeen: at(10_000), liveness: 'alive', registered: true, host: 'vm-2', pid: 77, types: ['mail'], concurrency: 2, startedAt: T0, stoppedAt: null },
      { worker: 'leaving', running: 0, lastHeartbeat: null, lastEnded: null, ended: 0, lastSeen: at(10_000), liveness: 'stopped', registered: true, host: 'vm-2', pid: 77, types: ['mail'], concurrency: 2, startedAt: T0, stoppedAt: at(10_000) },
    ]);
  });

  it('a worker serving 1,500 types registers them all (the bound is 100,000 names), and claims over them', async () => {
    const many = Array.from({ length: 1500 }, (_, i) => `t${String(i).padStart(4, '0')}`);
    const r = await call('POST', '/api/jobboard/workers', worker('wide', { types: many }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.types).toEqual(many);
    const claim = await call('POST', '/api/jobboard/claim', { worker: 'wide', types: many, limit: 1 });
    expect(claim.status, JSON.stringify(claim.body)).toBe(200);
  });

  it('refuses a bad registration naming the field (400) and an unknown worker (404)', async () => {
    const bad = await call('POST', '/api/jobboard/workers', worker('w', { concurrency: 0 }));
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).details[0]!.path).toMatch(/concurrency/);
    expect((await call('POST', '/api/jobboard/workers', { ...worker('w'), extra: 1 })).status).toBe(400);
    const unknown = await call('POST', '/api/jobboard/workers/stop', { id: 'nobody' });
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown.body).message).toMatch(/worker "nobody" is not registered/);
  });

  it('each route answered a success, an error and a 401, every answer matching the OpenAPI document', async () => {
    for (const r of workerRoutes) expect((await h.call('POST', `/api${r.path}`, {})).status, r.path).toBe(401);
    const doc = (await call('GET', '/api/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const problems: string[] = [];
    for (const r of [...workerRoutes, { method: 'get', path: '/workers' }]) {
      const mine = h.log.filter((x) => x.template === oa(r.path) && x.method === r.method.toUpperCase());
      expect(mine.some((x) => x.status === 200), `${r.path} success`).toBe(true);
      if (r.method === 'post') {
        expect(mine.some((x) => x.status === 401), `${r.path} 401`).toBe(true);
        expect(mine.some((x) => x.status >= 400 && x.status !== 401), `${r.path} error`).toBe(true);
      }
      for (const x of mine) {
        const schema = doc.paths[oa(r.path)]?.[r.method]?.responses[String(x.status)]?.content?.['application/json']?.schema;
        if (!schema) problems.push(`${x.path} ${x.status}: not documented`);
        else if (!ajv.validate(schema, x.body)) problems.push(`${x.path} ${x.status}: ${ajv.errorsText()}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
