/**
 * The dashboard's read-only views (/api/stats/..., /api/workers) over a real SQLite file: the range
 * series, and every dashboard route answering a success, an error and a 401, each response matching
 * the OpenAPI document.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardRoutes } from '../../src/http/dashboard-routes.js';
import { T0, errorOf, openHttp, type HttpHarness } from './http-helpers.js';

const TOKEN = 't0ken';
const auth = { authorization: `Bearer ${TOKEN}` };
const oa = (path: string) => `/api${path.replace(/:(\w+)/g, '{$1}')}`;
const MIN = 60_000;
let h: HttpHarness;

beforeAll(async () => {
  h = await openHttp({ token: TOKEN });
  const o = h.orrery;
  await o.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
  await o.createTasks(['a', 'b', 'c'].map((x) => ({ type: 'mail', arguments: { args: [x], kwargs: {} } })));
  await o.scheduleDue();
  // Started 2 s, 4 s, 6 s after they were scheduled; two succeed, one fails.
  for (const [i, status] of (['eventful', 'uneventful', 'failed'] as const).entries()) {
    h.clock.set(new Date(Date.parse(T0) + (i + 1) * 2000));
    const [c] = await o.claimRuns({ worker: 'w', types: ['mail'], limit: 1, startNow: 1 });
    h.clock.set(new Date(Date.parse(T0) + 10_000 + i));
    await o.endRun(c!.run.backendId, { status, worker: 'w' });
  }
  h.clock.set(new Date(Date.parse(T0) + 2 * MIN + 5000));
});
afterAll(async () => h?.close());

const get = (path: string) => h.call('GET', path, undefined, { headers: auth });

describe('GET /api/stats/series', () => {
  it('answers every bucket of the range with the runs ended per final status and their start latency', async () => {
    const r = await get('/api/stats/series?range=1h');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ range: '1h', bucketMs: MIN, type: null, until: new Date(Date.parse(T0) + 3 * MIN).toISOString() });
    expect(r.body.points).toHaveLength(60);
    const first = r.body.points.find((p: { at: string }) => p.at === T0);
    expect(first).toEqual({ at: T0, ended: { eventful: 1, uneventful: 1, failed: 1, permfailed: 0, lost: 0 }, started: 3, latencyMeanMs: 4000, latencyP95Ms: 6000, latencyMaxMs: 6000 });
    expect(r.body.points.filter((p: { started: number }) => p.started > 0)).toHaveLength(1);

    const day = await get('/api/stats/series?range=24h&type=mail');
    expect(day.body).toMatchObject({ range: '24h', bucketMs: 15 * MIN, type: 'mail' });
    expect(day.body.points).toHaveLength(96);
    expect((await get('/api/stats/series?range=7d')).body.points).toHaveLength(168);
    expect((await get('/api/stats/series')).body.range).toBe('1h');
  });

  it('refuses a bad range or parameter with 400 and an unknown type with 404', async () => {
    expect(errorOf((await get('/api/stats/series?range=2h')).body).message).toMatch(/range/);
    expect((await get('/api/stats/series?minutes=5')).status).toBe(400);
    const missing = await get('/api/stats/series?type=nope');
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).message).toMatch(/unknown task type "nope"/);
    expect(errorOf(missing.body).details.map((d: { path: string }) => d.path)).toEqual(['query.type']); // a query parameter, named as such
  });
});

describe('GET /api/workers', () => {
  it("says each worker's latest sign of life and its liveness from its age: alive, stale, gone", async () => {
    const w = await get('/api/workers?minutes=60');
    expect(w.body).toEqual([
      {
        worker: 'w',
        running: 0,
        lastHeartbeat: null,
        lastEnded: new Date(Date.parse(T0) + 10_002).toISOString(),
        ended: 3,
        lastSeen: new Date(Date.parse(T0) + 10_002).toISOString(),
        liveness: 'stale',
        // Known by its runs only: it never registered.
        registered: false,
        host: null,
        pid: null,
        types: null,
        concurrency: null,
        startedAt: null,
        stoppedAt: null,
      },
    ]);
    h.clock.set(new Date(Date.parse(T0) + 6 * MIN));
    expect((await get('/api/workers')).body.map((x: { liveness: string }) => x.liveness)).toEqual(['gone']);
    h.clock.set(new Date(Date.parse(T0) + 2 * MIN + 5000));
  });
});

describe('the dashboard routes', () => {
  it('each answered a success, an error and a 401, and every answer matches the OpenAPI document', async () => {
    for (const path of ['/api/stats/queues', '/api/stats/due', '/api/stats/run-rates?minutes=5', '/api/workers', '/api/alerts']) expect((await get(path)).status).toBe(200);
    for (const path of ['/api/stats/run-rates?minutes=0', '/api/workers?minutes=x']) expect((await get(path)).status).toBe(400);
    for (const r of dashboardRoutes) expect((await h.call('GET', `/api${r.path}`)).status, r.path).toBe(401);

    const doc = (await get('/api/openapi.json')).body;
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const problems: string[] = [];
    for (const r of dashboardRoutes) {
      const mine = h.log.filter((x) => x.template === oa(r.path) && x.method === 'GET');
      expect(mine.some((x) => x.status === 200), `${r.path} success`).toBe(true);
      expect(mine.some((x) => x.status === 401), `${r.path} 401`).toBe(true);
      if (r.query) expect(mine.some((x) => x.status >= 400 && x.status !== 401), `${r.path} error`).toBe(true);
      for (const x of mine) {
        const schema = doc.paths[oa(r.path)]?.get?.responses[String(x.status)]?.content?.['application/json']?.schema;
        if (!schema) problems.push(`${x.path} ${x.status}: not documented`);
        else if (!ajv.validate(schema, x.body)) problems.push(`${x.path} ${x.status}: ${ajv.errorsText()}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
