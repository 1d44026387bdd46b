import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/http/api-routes.js';
import { routes } from '../../src/http/routes.js';
import { T0, errorOf, openHttp, type Exchange, type HttpHarness } from './http-helpers.js';

/** OpenAPI 3.1 document shapes this test reads. */
interface MediaType {
  schema: Record<string, unknown>;
}
interface Operation {
  summary?: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: Record<string, unknown> }>;
  requestBody?: { required?: boolean; content: Record<string, MediaType> };
  responses: Record<string, { description: string; content?: Record<string, MediaType> }>;
}
interface Document {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, unknown> };
  security?: unknown[];
}

const TOKEN = 'secret-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const oa = (path: string) => `/api${path.replace(/:(\w+)/g, '{$1}')}`;

let h: HttpHarness;
let doc: Document;
/** Every exchange of the scripted scenario (success and error responses). */
let exchanges: Exchange[] = [];

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();
function validator(key: string, schema: Record<string, unknown>): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(key, v);
  }
  return v;
}

/** A scripted session touching every route at least once, with success and error responses. */
async function scenario(h: HttpHarness): Promise<void> {
  const call = (method: string, path: string, body?: unknown, raw?: string) =>
    h.call(method, path, body, { headers: auth, ...(raw !== undefined ? { raw } : {}) });
  const expectStatus = async (p: Promise<{ status: number; body: unknown }>, status: number) => {
    const r = await p;
    expect(r.status, JSON.stringify(r.body)).toBe(status);
    return r.body as any;
  };

  // Task types.
  await expectStatus(call('GET', '/api/task-types'), 200);
  await expectStatus(call('POST', '/api/task-types', { name: 'mail', defaultIntervalMs: '1m', numRetries: 1 }), 201);
  await expectStatus(
    call('POST', '/api/task-types', {
      name: 'report.daily',
      description: 'daily',
      backendName: 'reports',
      defaultIntervalMs: 86_400_000,
      minIntervalMs: '1h',
      maxIntervalMs: 'P2D',
      backoffFactor: 1.5,
      maxQueueLength: null,
      numRetries: 0,
      retryDelayMs: '90s',
      timeoutMs: '10m',
      leaseMs: 5000,
      maxAbandons: 2,
    }),
    201,
  );
  await expectStatus(call('POST', '/api/task-types', { name: 'oneshots' }), 201);
  // Task types at runtime.
  await expectStatus(call('PATCH', '/api/task-types/report.daily', { numRetries: 2, rateLimit: '10/1m' }), 200);
  await expectStatus(call('PATCH', '/api/task-types/report.daily', { leaseMs: 5 }), 400);
  await expectStatus(call('PATCH', '/api/task-types/nope', { numRetries: 1 }), 404);
  await expectStatus(call('POST', '/api/task-types/report.daily/pause', { reason: 'maintenance' }), 200);
  await expectStatus(call('POST', '/api/task-types/report.daily/pause', { reason: 3 }), 400);
  await expectStatus(call('POST', '/api/task-types/report.daily/resume'), 200);
  await expectStatus(call('POST', '/api/task-types/nope/resume'), 404);
  await expectStatus(call('POST', '/api/task-types', { name: 'spare' }), 201);
  await expectStatus(call('DELETE', '/api/task-types/spare'), 204);
  await expectStatus(call('DELETE', '/api/task-types/spare'), 404);
  await expectStatus(call('POST', '/api/task-types', { name: 'mail' }), 409);
  await expectStatus(call('POST', '/api/task-types', { name: 'mail', colour: 'red' }), 400);
  await expectStatus(call('POST', '/api/task-types', { name: 'mail', leaseMs: false }), 400);
  await expectStatus(call('POST', '/api/task-types', undefined, '{nope'), 400);
  await expectStatus(call('GET', '/api/task-types'), 200);
  await expectStatus(call('GET', '/api/task-types/mail'), 200);
  await expectStatus(call('GET', '/api/task-types/nope'), 404);
  await expectStatus(call('GET', `/api/task-types/${'n'.repeat(200)}`), 404); // too long to be a type's: not found, as in the library

  // Tasks.
  await expectStatus(call('POST', '/api/tasks', { type: 'mail', arguments: { args: [1], kwargs: { to: 'x' } } }), 201);
  await expectStatus(call('POST', '/api/tasks', { type: 'mail', arguments: { args: [1], kwargs: { to: 'x' } } }), 200);
  await expectStatus(call('POST', '/api/tasks', { type: 'mail', arguments: { args: [2] }, priority: 'low', nextRun: '2030-01-01T00:00:00Z', retriesLeft: 3 }), 201);
  await expectStatus(call('POST', '/api/tasks', { type: 'report.daily', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Paris' } }), 201);
  await expectStatus(call('POST', '/api/tasks', { type: 'report.daily', schedule: { kind: 'rrule', rule: 'FREQ=HOURLY;COUNT=3' }, arguments: { kwargs: { r: 1 } } }), 201);
  await expectStatus(call('POST', '/api/tasks', { type: 'oneshots', policy: 'oneshot', arguments: { args: ['a'] } }), 201);
  await expectStatus(call('POST', '/api/tasks', { type: 'nope' }), 400);
  await expectStatus(call('POST', '/api/tasks', { type: 'mail', bogus: 1 }), 400);
  await expectStatus(call('POST', '/api/tasks', undefined, '[]'), 400);
  await expectStatus(
    call('POST', '/api/tasks/batch', { tasks: [{ type: 'mail', arguments: { args: [3] } }, { type: 'mail', arguments: { args: [4] }, priority: 'high' }, { type: 'oneshots', policy: 'oneshot' }] }),
    201,
  );
  await expectStatus(call('POST', '/api/tasks/batch', { tasks: [{ type: 'mail', arguments: { args: [5] } }, { type: 'missing' }] }), 400);
  await expectStatus(call('POST', '/api/tasks/batch', { tasks: [] }), 400);
  await expectStatus(call('POST', '/api/tasks/batch?return=ids', { tasks: [{ type: 'mail', arguments: { args: [3] } }, { type: 'mail', arguments: { args: [6] } }] }), 201);
  await expectStatus(call('POST', '/api/tasks/batch?return=count', { tasks: [{ type: 'mail', arguments: { args: [3] } }] }), 201);
  const ndjson = (text: string, q = '', headers: Record<string, string> = { ...auth, 'content-type': 'application/x-ndjson' }) =>
    h.call('POST', `/api/tasks/import${q}`, undefined, { headers, raw: text });
  await expectStatus(ndjson('{"type":"mail","arguments":{"args":[7]}}\n\n{"type":"mail","arguments":{"args":[3]}}\n'), 201);
  await expectStatus(ndjson('{"type":"mail","arguments":{"args":[8]}}\n', '?return=ids'), 201);
  await expectStatus(ndjson('{"type":"mail"}\n{"type":"missing"}\n'), 400);
  await expectStatus(ndjson('{"type":"mail"}\n', '', { ...auth, 'content-type': 'text/plain' }), 415);
  await expectStatus(ndjson('{"type":"mail"}\n', '', { 'content-type': 'application/x-ndjson' }), 401);
  await expectStatus(call('GET', '/api/tasks'), 200);
  await expectStatus(call('GET', '/api/tasks?type=mail&limit=2'), 200);
  await expectStatus(call('GET', '/api/tasks?type=mail&limit=2&cursor=2'), 200);
  await expectStatus(call('GET', '/api/tasks?status=next_run_not_scheduled&priority=none&policy=recurring'), 200);
  await expectStatus(call('GET', '/api/tasks?disabledReason=manual'), 200);
  await expectStatus(call('GET', '/api/tasks?status=disabled,completed&args=x&argsMatch=prefix&nextRunFrom=2030-01-01T00:00:00Z&concurrencyKey=k'), 200);
  await expectStatus(call('GET', '/api/tasks?argsMatch=prefix'), 400);
  await expectStatus(call('GET', '/api/tasks?status=bogus'), 400);
  await expectStatus(call('GET', '/api/tasks?limit=0'), 400);
  await expectStatus(call('GET', '/api/tasks?what=1'), 400);
  await expectStatus(call('GET', '/api/tasks/pending?type=mail&limit=2'), 200);
  await expectStatus(call('GET', '/api/tasks/pending?type=mail&limit=0'), 400);
  await expectStatus(call('GET', '/api/tasks/1'), 200);
  await expectStatus(call('GET', '/api/tasks/abc'), 400);
  await expectStatus(call('GET', '/api/tasks/4040'), 404);
  await expectStatus(call('GET', '/api/tasks/1/runs'), 200);
  await expectStatus(call('GET', '/api/tasks/x/runs'), 400);
  await expectStatus(call('GET', '/api/tasks/4040/runs'), 404);
  await expectStatus(call('GET', '/api/tasks/1/why'), 200);
  await expectStatus(call('GET', '/api/runs?status=scheduled,started&limit=5'), 200);
  await expectStatus(call('GET', '/api/runs?status=done'), 400);
  await expectStatus(call('GET', '/api/tasks/x/why'), 400);
  await expectStatus(call('GET', '/api/tasks/4040/why'), 404);
  await expectStatus(call('GET', '/api/tasks/1/wait?timeoutMs=0'), 200);
  await expectStatus(call('GET', '/api/tasks/1/wait?timeoutMs=61000'), 400);
  await expectStatus(call('GET', '/api/tasks/4040/wait?timeoutMs=0'), 404);
  // A task's schedule paused and resumed.
  await expectStatus(call('POST', '/api/tasks/1/pause', { reason: 'checking' }), 200);
  await expectStatus(call('POST', '/api/tasks/1/pause', { reason: 3 }), 400);
  await expectStatus(call('POST', '/api/tasks/4040/pause', {}), 404);
  await expectStatus(call('POST', '/api/tasks/1/resume'), 200);
  await expectStatus(call('POST', '/api/tasks/4040/resume'), 404);

  // Schedule, disable, respawn.
  const runs = (await expectStatus(call('POST', '/api/tasks/schedule', {}), 200)) as Array<{ backendId: string; task: number; type: string }>;
  expect(runs.length).toBeGreaterThanOrEqual(5);
  await expectStatus(call('POST', '/api/tasks/schedule', { type: 'report.daily', at: '2030-01-02T00:00:00Z' }), 200);
  await expectStatus(call('POST', '/api/tasks/schedule', { type: 'nope' }), 404);
  await expectStatus(call('POST', '/api/tasks/schedule', { at: 'soon' }), 400);
  await expectStatus(call('GET', '/api/tasks/1'), 200);
  await expectStatus(call('GET', '/api/tasks/1/runs'), 200);
  await expectStatus(call('POST', '/api/tasks/respawn', { ids: [1] }), 409);
  const mailRuns = runs.filter((r) => r.type === 'mail');
  const victim = mailRuns.pop()!;
  await expectStatus(call('POST', '/api/tasks/disable', { ids: [victim.task] }), 200);
  await expectStatus(call('POST', '/api/tasks/disable', { ids: [4040] }), 404);
  await expectStatus(call('POST', '/api/tasks/disable', { ids: [] }), 400);
  await expectStatus(call('POST', '/api/tasks/respawn', { ids: [victim.task], nextRun: '2030-01-03T00:00:00+02:00' }), 200);
  await expectStatus(call('POST', '/api/tasks/respawn', { ids: [4040] }), 404);
  await expectStatus(call('POST', '/api/tasks/respawn', { ids: ['1'] }), 400);
  await expectStatus(call('GET', '/api/tasks?status=disabled'), 200);

  // Runs: external start and end.
  const [ext, ...rest] = mailRuns;
  await expectStatus(call('GET', `/api/runs/${ext!.backendId}`), 200);
  await expectStatus(call('GET', '/api/runs/nope'), 404);
  await expectStatus(call('GET', `/api/runs/${'z'.repeat(300)}`), 404);
  await expectStatus(call('POST', `/api/runs/${ext!.backendId}/end`, { status: 'eventful' }), 422);
  await expectStatus(call('POST', `/api/runs/${ext!.backendId}/start`, { worker: 'ext', metadata: { k: 'v' }, at: T0 }), 200);
  await expectStatus(call('POST', `/api/runs/${ext!.backendId}/start`, {}), 409);
  await expectStatus(call('POST', '/api/runs/nope/start', {}), 404);
  await expectStatus(call('POST', `/api/runs/${ext!.backendId}/start`, { metadata: 1 }), 400);
  await expectStatus(call('POST', `/api/runs/${ext!.backendId}/end`, { status: 'eventful', worker: 'other' }), 409);
  await expectStatus(
    call('POST', `/api/runs/${ext!.backendId}/end`, { status: 'failed', worker: 'ext', error: 'boom', result: [1, { a: null }], metadata: { m: 1 }, retryAfterMs: 1000, at: '2030-01-01T00:00:05Z' }),
    200,
  );
  await expectStatus(call('POST', `/api/runs/${ext!.backendId}/end`, { status: 'failed' }), 422);
  await expectStatus(call('POST', '/api/runs/nope/end', { status: 'failed' }), 404);
  await expectStatus(call('POST', `/api/runs/${ext!.backendId}/end`, { status: 'done' }), 400);

  // Jobboard.
  const claimed = (await expectStatus(call('POST', '/api/jobboard/claim', { worker: 'w1', types: ['mail', 'oneshots'], limit: 10, startNow: 10 }), 200)) as Array<{ run: { backendId: string } }>;
  expect(claimed.length).toBeGreaterThanOrEqual(3);
  expect(rest.length).toBeGreaterThan(0);
  await expectStatus(call('POST', '/api/jobboard/claim', { worker: 'w2', types: ['mail'], limit: 10 }), 200);
  await expectStatus(call('POST', '/api/jobboard/claim', { worker: 'w2', types: [], limit: 10 }), 400);
  // A worker id is at most 200 characters on every jobboard route, as the registry takes it.
  const longId = 'w'.repeat(201);
  expect(await expectStatus(call('POST', '/api/jobboard/claim', { worker: longId, types: ['mail'], limit: 10 }), 400)).toMatchObject({ error: { details: [{ path: 'worker' }] } });
  expect(await expectStatus(call('POST', '/api/jobboard/workers', { id: longId, host: 'h', pid: 1, types: [], concurrency: 1 }), 400)).toMatchObject({ error: { details: [{ path: 'id' }] } });
  await expectStatus(call('POST', '/api/jobboard/claim', { worker: 'w'.repeat(200), types: ['nothing-here'], limit: 10 }), 200);
  // Characters are UTF-16 code units (http.md): 101 emoji are 202, refused by the route with its own message,
  // as 201 ASCII characters are (the route counted code points and let it through to another message).
  for (const worker of [longId, '😀'.repeat(101)]) {
    expect(await expectStatus(call('POST', '/api/jobboard/claim', { worker, types: ['nothing-here'], limit: 1 }), 400)).toMatchObject({ error: { message: 'worker: at most 200 characters' } });
  }
  await expectStatus(call('POST', '/api/jobboard/claim', { worker: '😀'.repeat(100), types: ['nothing-here'], limit: 1 }), 200);
  // Blanks alone name no worker (http.md), on every route that names one: a claim handed out runs held by '   '.
  for (const [path, body] of [
    ['/api/jobboard/claim', { worker: '   ', types: ['mail'], limit: 1 }],
    ['/api/jobboard/held', { worker: ' ' }],
    ['/api/jobboard/heartbeat-runs', { worker: '  ', runs: [] }],
    ['/api/jobboard/release', { worker: '\t', backendIds: ['nope'] }],
  ] as const) {
    expect(await expectStatus(call('POST', path, body), 400), path).toMatchObject({ error: { details: [{ path: 'worker', message: 'a worker id is required (blanks alone name no worker)' }] } });
  }
  await expectStatus(call('POST', '/api/jobboard/held', { worker: 'w1' }), 200);
  await expectStatus(call('POST', '/api/jobboard/held', { worker: 'nobody' }), 200);
  await expectStatus(call('POST', '/api/jobboard/held', {}), 400);
  const [c1, c2, c3] = claimed.map((c) => c.run.backendId);
  h.clock.advance(1000);
  await expectStatus(call('POST', '/api/jobboard/heartbeat', { backendId: c1, worker: 'w1' }), 200);
  await expectStatus(call('POST', '/api/jobboard/heartbeat', { backendId: c1, worker: 'w2' }), 409);
  await expectStatus(call('POST', '/api/jobboard/heartbeat', { backendId: c1 }), 400);
  await expectStatus(call('POST', '/api/jobboard/heartbeat-runs', { worker: 'w1', runs: [{ backendId: c1, startedAt: '2030-01-01T00:00:00.500Z' }, { backendId: 'nope' }] }), 200);
  await expectStatus(call('POST', '/api/jobboard/heartbeat-runs', { worker: 'w1', runs: [{ backendId: c1, startedAt: 'noon' }] }), 400);
  await expectStatus(call('POST', '/api/jobboard/release', { worker: 'w1', backendIds: ['nope'] }), 200);
  await expectStatus(call('POST', '/api/jobboard/release', { worker: 'w1' }), 400);
  await expectStatus(call('POST', '/api/jobboard/logs', { backendId: c1, records: [{ at: '2030-01-01T00:00:01Z', level: 'warn', message: 'slow', attributes: { ms: 900 } }, { at: T0, level: 'info', message: 'x' }] }), 204);
  await expectStatus(call('POST', '/api/jobboard/logs', { backendId: c1, records: [] }), 204);
  await expectStatus(call('POST', '/api/jobboard/logs', { backendId: 'nope', records: [{ at: T0, level: 'info', message: 'x' }] }), 404);
  await expectStatus(call('POST', '/api/jobboard/logs', { backendId: c1, records: [{ at: T0, level: 'shout', message: 'x' }] }), 400);
  await expectStatus(call('GET', `/api/runs/${c1}/logs`), 200);
  await expectStatus(call('GET', `/api/runs/${c1}/logs?after=1&limit=10`), 200);
  await expectStatus(call('GET', `/api/runs/${c1}/logs?after=x`), 400);
  await expectStatus(call('GET', '/api/runs/nope/logs'), 404);
  await expectStatus(call('GET', `/api/runs/${'q'.repeat(257)}/logs`), 404);
  await expectStatus(
    call('POST', '/api/jobboard/end', {
      items: [
        { backendId: c1, worker: 'w1', status: 'eventful', result: { ok: true } },
        { backendId: c2, worker: 'w2', status: 'eventful' },
        { backendId: 'nope', worker: 'w1', status: 'uneventful' },
        { backendId: c2, worker: 'w1', status: 'permfailed', error: 'bad input' },
      ],
    }),
    200,
  );
  await expectStatus(call('POST', '/api/jobboard/end', { items: [{ backendId: c1, worker: 'w1', status: 'eventful' }] }), 200);
  await expectStatus(call('POST', '/api/jobboard/end', { items: [] }), 400);
  await expectStatus(call('POST', '/api/jobboard/abandon', { backendId: c3, worker: 'w2' }), 409);
  await expectStatus(call('POST', '/api/jobboard/abandon', { backendId: c3, worker: 'w1', reason: 'shutdown' }), 200);
  await expectStatus(call('POST', '/api/jobboard/abandon', { backendId: c3, worker: 'w1' }), 422);
  await expectStatus(call('POST', '/api/jobboard/abandon', { backendId: 'nope', worker: 'w1' }), 404);
  await expectStatus(call('POST', '/api/jobboard/abandon', { backendId: c3 }), 400);
  await expectStatus(call('GET', '/api/tasks?status=disabled&disabledReason=permfailed'), 200);
  await expectStatus(call('GET', `/api/tasks/${runs[0]!.task}`), 200);

  // Cancellation of a waiting run.
  await expectStatus(call('POST', '/api/tasks', { type: 'mail', arguments: { args: ['cancel-me'], kwargs: {} }, key: 'cancel-me', concurrencyKey: 'smtp', onConflict: 'error' }), 201);
  const [toCancel] = (await expectStatus(call('POST', '/api/tasks/schedule', { type: 'mail' }), 200)) as Array<{ backendId: string }>;
  await expectStatus(call('POST', `/api/runs/${toCancel!.backendId}/cancel`, {}), 200);
  await expectStatus(call('POST', `/api/runs/${toCancel!.backendId}/cancel`, {}), 409);
  await expectStatus(call('POST', '/api/runs/nope/cancel', {}), 404);
  await expectStatus(call('POST', `/api/runs/${toCancel!.backendId}/cancel`, { at: 'now' }), 400);

  // Oversized body and auth failures.
  await expectStatus(call('POST', '/api/jobboard/held', undefined, JSON.stringify({ worker: 'w'.repeat(5 * 1024 * 1024) })), 413);
  for (const r of routes) {
    const path = `/api${r.path.replace(/:\w+/g, (m) => (m === ':id' ? '1' : 'x'))}`;
    const res = await h.call(r.method.toUpperCase(), path, r.method === 'post' ? {} : undefined);
    expect(res.status).toBe(401);
  }
  const res = await h.call('GET', '/api/openapi.json');
  expect(res.status).toBe(401);
}

beforeAll(async () => {
  h = await openHttp({ token: TOKEN, version: '9.8.7' });
  const r = await h.call('GET', '/api/openapi.json', undefined, { headers: auth });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  doc = r.body as Document;
  h.log.length = 0;
  await scenario(h);
  exchanges = [...h.log];
});
afterAll(async () => {
  await h?.close();
});

describe('the OpenAPI document', () => {
  it('has the paths and operations http.md counts, and the paths outside /api it names', () => {
    const httpMd = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'http.md'), 'utf8');
    const paths = Object.keys(doc.paths);
    const operations = paths.reduce((n, p) => n + Object.keys(doc.paths[p]!).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k)).length, 0);
    expect(httpMd).toContain(`"paths": ${paths.length},`);
    expect(httpMd).toContain(`(${operations} operations on ${paths.length} paths)`);
    for (const outside of paths.filter((p) => !p.startsWith('/api'))) expect(httpMd).toMatch(new RegExp(`${outside}\`[^\n]*outside \`/api\``));
  });

  it('is OpenAPI 3.1 with a bearer security scheme', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toEqual({ title: expect.any(String), version: '9.8.7' });
    expect(doc.components?.securitySchemes).toEqual({ bearer: { type: 'http', scheme: 'bearer' } });
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it('has a path and operation for every route, with its parameters, body and responses', () => {
    for (const r of apiRoutes) {
      const op = doc.paths[oa(r.path)]?.[r.method];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(op!.summary).toBe(r.summary);
      const pathParams = (op!.parameters ?? []).filter((p) => p.in === 'path');
      expect(pathParams.map((p) => p.name).sort()).toEqual(Object.keys(r.params ?? {}).sort());
      for (const p of pathParams) expect(p.required).toBe(true);
      if (r.query) expect((op!.parameters ?? []).filter((p) => p.in === 'query').length).toBeGreaterThan(0);
      if (r.body) {
        // Required unless every field is optional: such a body may be left out, as the server takes it (http.md).
        const optional = (r.body as unknown as { safeParse(v: unknown): { success: boolean } }).safeParse({}).success;
        expect(op!.requestBody?.required, `${r.method} ${r.path}`).toBe(!optional);
        expect(op!.requestBody?.content['application/json']?.schema).toBeTypeOf('object');
      } else if (r.streamBody) {
        // A stream of lines (POST /api/tasks/import): its media type, with the schema of one line.
        expect(op!.requestBody?.required).toBe(true);
        expect(Object.keys(op!.requestBody!.content)).toEqual([r.streamBody.contentType]);
        expect(op!.requestBody!.content[r.streamBody.contentType]!.schema).toMatchObject({ type: 'object', required: ['type'] });
      } else expect(op!.requestBody).toBeUndefined();
      for (const status of Object.keys(r.responses)) expect(op!.responses[status], `${r.method} ${r.path} ${status}`).toBeDefined();
      expect(op!.responses['401']).toBeDefined();
      // The 4 MB body limit answers 413 on any route a body may be sent to, one that reads none included.
      if (r.method !== 'get') expect(op!.responses['413'], `${r.method} ${r.path} 413`).toBeDefined();
    }
    expect(doc.paths['/api/tasks/schedule']!.post!.requestBody!.required).toBe(false);
    expect(doc.paths['/api/tasks']!.post!.requestBody!.required).toBe(true);
    expect(doc.paths['/api/events']?.get).toBeDefined();
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`));
    // Every path the server answers: the routes, the event stream, this document, and /healthz, /readyz and /metrics outside /api.
    expect(documented.sort()).toEqual([...apiRoutes.map((r) => `${r.method} ${oa(r.path)}`), 'get /api/events', 'get /api/openapi.json', 'get /healthz', 'get /readyz', 'get /metrics'].sort());
    // Any route refuses query parameters it does not take: 400 on every one.
    for (const [p, ops] of Object.entries(doc.paths)) for (const [m, op] of Object.entries(ops)) if (p.startsWith('/api/') && p !== '/api/openapi.json') expect(op.responses['400'], `${m} ${p}`).toBeDefined();
    expect(doc.paths['/api/tasks']!.post!.responses['409']).toBeDefined();
  });

  it('names every operation for generated clients: one operationId each, unique, from its method and path', () => {
    const ops = Object.entries(doc.paths).flatMap(([p, o]) => Object.entries(o).map(([m, op]) => ({ m, p, id: (op as { operationId?: string }).operationId })));
    for (const o of ops) expect(o.id, `${o.m} ${o.p}`).toMatch(/^(get|post|put|patch|delete)[A-Z][A-Za-z0-9]*$/);
    expect(new Set(ops.map((o) => o.id)).size).toBe(ops.length);
    expect(doc.paths['/api/tasks/{id}/runs']!.get).toMatchObject({ operationId: 'getTasksByIdRuns' });
    expect(doc.paths['/healthz']!.get).toMatchObject({ operationId: 'getHealthz' });
  });

  it('documents fields the service checks with their shape, whole-number query parameters as integers, and no PATCH defaults (an audit, 2026-12-06)', () => {
    const body = (p: string, m: string) => doc.paths[p]![m]!.requestBody!.content['application/json']!.schema;
    // A cron task, a bare instant, a batch item and an import line: what the server takes.
    const cron = { type: 't', schedule: { kind: 'cron', expr: '0 9 * * 1-5', tz: 'Europe/Paris', jitter: '5m', exclude: ['2026-12-25'] }, nextRun: '2026-01-02T00:00:00Z' };
    const task = validator('post /api/tasks request', body('/api/tasks', 'post'));
    expect(task(cron)).toBe(true);
    // What it refuses: the schema was `{}` (anything): a cron without expr, a number for an instant, an unknown schedule field.
    expect(task({ type: 't', schedule: { kind: 'cron' } })).toBe(false);
    expect(task({ type: 't', nextRun: 1_700_000_000_000 })).toBe(false);
    expect(task({ type: 't', schedule: { kind: 'rrule', rule: 'FREQ=DAILY', every: 1 } })).toBe(false);
    const batch = validator('post /api/tasks/batch request', body('/api/tasks/batch', 'post'));
    expect(batch({ tasks: [cron] })).toBe(true);
    expect(batch({ tasks: [{ type: 't', typo: 1 }] })).toBe(false);
    expect(doc.paths['/api/tasks/import']!.post!.requestBody!.content['application/x-ndjson']!.schema).toEqual(body('/api/tasks', 'post'));
    expect(JSON.stringify(body('/api/dags', 'put'))).not.toContain('{}]'); // a DAG's start instant was anyOf [{}, string]
    // Whole numbers in the query: integers with the bounds and default the server applies.
    const param = (p: string, name: string) => doc.paths[p]!.get!.parameters!.find((x) => x.name === name)!.schema;
    expect(param('/api/tasks', 'limit')).toEqual({ type: 'integer', minimum: 1, maximum: 1000, default: 100 });
    expect(param('/api/dags', 'latest')).toMatchObject({ type: 'integer', minimum: 0, maximum: 100, default: 5 });
    expect(param('/api/dags/{id}', 'latest')).toMatchObject({ type: 'integer', minimum: 0, maximum: 100, default: 10 });
    expect(param('/api/archive/runs', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 10_000, default: 100 });
    const stringly = Object.entries(doc.paths).flatMap(([p, o]) =>
      Object.values(o).flatMap((op) => ((op as Operation).parameters ?? []).filter((x) => (x.schema as { pattern?: string }).pattern === '^[0-9]+$').map((x) => `${p} ${x.name}`)),
    );
    expect(stringly).toEqual([]);
    // A PATCH leaves an absent field as it is: no create-time default is documented for it.
    const patch = body('/api/task-types/{name}', 'patch') as { properties: Record<string, Record<string, unknown>> };
    expect(Object.entries(patch.properties).filter(([, v]) => 'default' in v).map(([k]) => k)).toEqual([]);
    expect(patch.properties.numRetries).toMatchObject({ type: 'integer' });
  });

  it('every schema in it compiles as JSON Schema 2020-12', () => {
    let n = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const p of op.parameters ?? []) {
          validator(`${method} ${path} param ${p.in} ${p.name}`, p.schema);
          n++;
        }
        const body = op.requestBody?.content['application/json']?.schema;
        if (body) {
          validator(`${method} ${path} request`, body);
          n++;
        }
        for (const [status, resp] of Object.entries(op.responses)) {
          const s = resp.content?.['application/json']?.schema;
          if (s) {
            validator(`${method} ${path} ${status}`, s);
            n++;
          }
        }
      }
    }
    expect(n).toBeGreaterThan(50);
  });
});

describe('real responses against the document', () => {
  it('the scenario touched every route with a success and an error response', () => {
    for (const r of routes) {
      const key = oa(r.path);
      const mine = exchanges.filter((x) => x.template === key && x.method === r.method.toUpperCase());
      expect(mine.some((x) => x.status < 300), `${r.method} ${key} success`).toBe(true);
      // A route without input (GET /api/task-types) has no error to give but 401.
      if (r.params || r.query || r.body) expect(mine.some((x) => x.status >= 400 && x.status !== 401), `${r.method} ${key} error`).toBe(true);
      expect(mine.some((x) => x.status === 401), `${r.method} ${key} 401`).toBe(true);
    }
    const statuses = new Set(exchanges.map((x) => x.status));
    for (const s of [200, 201, 204, 400, 401, 404, 409, 413, 422]) expect(statuses.has(s), `status ${s}`).toBe(true);
  });

  it('every response matches the schema documented for its path, method and status', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const x of exchanges) {
      if (!x.template || !doc.paths[x.template]) continue;
      const op = doc.paths[x.template]![x.method.toLowerCase()];
      const where = `${x.method} ${x.path.slice(0, 80)} -> ${x.status}`;
      if (!op) {
        problems.push(`${where}: method not documented`);
        continue;
      }
      const resp = op.responses[String(x.status)];
      if (!resp) {
        problems.push(`${where}: status not documented (documented: ${Object.keys(op.responses).join(', ')})`);
        continue;
      }
      const schema = resp.content?.['application/json']?.schema;
      if (!schema) {
        if (x.body !== null) problems.push(`${where}: body ${JSON.stringify(x.body).slice(0, 120)} but no content documented`);
        checked++;
        continue;
      }
      expect(x.contentType, where).toMatch(/^application\/json/);
      const v = validator(`${x.method.toLowerCase()} ${x.template} ${x.status}`, schema);
      if (!v(x.body)) problems.push(`${where}: ${ajv.errorsText(v.errors)} in ${JSON.stringify(x.body).slice(0, 200)}`);
      if (x.status >= 400) errorOf(x.body);
      checked++;
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(100);
  });

  it('the documented schemas are not vacuous: they reject a wrong response', () => {
    const ok = exchanges.find((x) => x.template === '/api/tasks/{id}' && x.status === 200)!;
    const v = validator('get /api/tasks/{id} 200', doc.paths['/api/tasks/{id}']!.get!.responses['200']!.content!['application/json']!.schema);
    expect(v(ok.body)).toBe(true);
    expect(v({ ...(ok.body as object), status: 'sleeping' })).toBe(false);
    expect(v({ ...(ok.body as object), runs: undefined })).toBe(false);
    expect(v({ ...(ok.body as object), id: '1' })).toBe(false);
    const err = validator('get /api/tasks/{id} 404', doc.paths['/api/tasks/{id}']!.get!.responses['404']!.content!['application/json']!.schema);
    expect(err({ error: { code: 'x', message: 'y', details: [] } })).toBe(true);
    expect(err({ error: { code: 'x', message: 'y' } })).toBe(false);
  });

  it('a bulk answer lists only the skip reasons that occurred, as the server answers', () => {
    const schema = doc.paths['/api/tasks/bulk/{action}']!.post!.responses['200']!.content!['application/json']!.schema as { properties: { skipped: Record<string, unknown> } };
    const skipped = validator('bulk skipped', schema.properties.skipped);
    expect(skipped({})).toBe(true);
    expect(skipped({ active_run: 2 })).toBe(true);
    expect(skipped({ sleeping: 2 })).toBe(false);
  });

  it('the document itself, /healthz and /metrics document the Host and loopback refusals; /healthz its worker fields', () => {
    for (const path of ['/api/openapi.json', '/api/events', '/healthz', '/readyz', '/metrics']) {
      expect(Object.keys(doc.paths[path]!.get!.responses), path).toEqual(expect.arrayContaining(['400', '403']));
    }
    expect(Object.keys(doc.paths['/metrics']!.get!.responses['200']!.content!)).toEqual(['text/plain; version=0.0.4']);
    const health = validator('healthz', doc.paths['/healthz']!.get!.responses['200']!.content!['application/json']!.schema);
    expect(health({ status: 'ok', worker: 'running', running: 3 })).toBe(true);
    expect(health({ status: 'ok', worker: null, running: 0 })).toBe(true);
    expect(health({ status: 'ok', running: -1 })).toBe(false);
  });
});

describe('request bodies against the document', () => {
  const bodyExchanges = () => exchanges.filter((x) => x.template && doc.paths[x.template]?.[x.method.toLowerCase()]?.requestBody && !x.raw && x.requestBody !== undefined && x.status !== 401);

  it('every body the tests sent that passed validation is accepted by the documented request schema', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const x of bodyExchanges()) {
      if (x.status === 400 || x.status === 413) continue;
      const schema = doc.paths[x.template!]![x.method.toLowerCase()]!.requestBody!.content['application/json']!.schema;
      const v = validator(`${x.method.toLowerCase()} ${x.template} request`, schema);
      if (!v(x.requestBody)) problems.push(`${x.method} ${x.path} ${JSON.stringify(x.requestBody).slice(0, 150)}: ${ajv.errorsText(v.errors)}`);
      checked++;
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
    // Every route with a body had at least one accepted body checked.
    for (const r of routes.filter((r) => r.body)) {
      expect(bodyExchanges().some((x) => x.template === oa(r.path) && x.status !== 400 && x.status !== 413), `${r.method} ${r.path}`).toBe(true);
    }
  });

  it('bodies refused for a wrong type or an unknown top-level field are refused by the documented schema too', () => {
    let checked = 0;
    for (const x of bodyExchanges()) {
      if (x.status !== 400 || typeof x.requestBody !== 'object' || x.requestBody === null) continue;
      // JSON Schema's maxLength counts code points, the API UTF-16 code units (http.md): text past the
      // Basic Multilingual Plane (emoji) may pass the document and be refused, as documented.
      if (/[\u{10000}-\u{10FFFF}]/u.test(JSON.stringify(x.requestBody))) continue;
      const e = errorOf(x.body);
      // Only contract-level problems (not e.g. an unknown task type, which the schema cannot know).
      const structural = e.details.some(
        (d) =>
          d.message === 'unknown field' ||
          /expected|^required$|^must be (a string|a number|an integer|true or false|an array|an object|"[^"]*"(, "[^"]*")*( or "[^"]*")?)$|^must be (at most|at least|less than|greater than) -?\d+$|^must not be negative$|^(at most|at least) \d+ (characters|items)$|must be an ISO 8601 instant/.test(d.message),
      );
      if (!structural) continue;
      const schema = doc.paths[x.template!]![x.method.toLowerCase()]!.requestBody!.content['application/json']!.schema;
      const v = validator(`${x.method.toLowerCase()} ${x.template} request`, schema);
      expect(v(x.requestBody), `${x.method} ${x.path} ${JSON.stringify(x.requestBody).slice(0, 150)}`).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThan(8);
  });

  it('documented query parameters accept the queries of successful searches', () => {
    const params = doc.paths['/api/tasks']!.get!.parameters!.filter((p) => p.in === 'query');
    let checked = 0;
    for (const x of exchanges.filter((x) => x.template === '/api/tasks' && x.method === 'GET' && x.status === 200)) {
      const q = new URL(x.path, 'http://x').searchParams;
      for (const [name, value] of q) {
        const p = params.find((p) => p.name === name);
        expect(p, `query parameter ${name}`).toBeDefined();
        const typed = (p!.schema as { type?: string }).type === 'integer' ? Number(value) : value;
        expect(validator(`query ${name}`, p!.schema)(typed), `${name}=${value}`).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);
  });
});
