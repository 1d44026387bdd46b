/**
 * The DAG routes (/api/dags, /api/dag-runs) over a real SQLite file, with a real in-process Daemon
 * running the DAGs; every response is checked against the OpenAPI document. The typed client is
 * exercised through a real HTTP server.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/engine/daemon.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { apiRoutes } from '../../src/http/api-routes.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { dagRoutes } from '../../src/http/dag-routes.js';
import { startHttpServer } from '../../src/http/server.js';
import { toHandlersModule } from '../../src/worker/handlers.js';
import { waitFor } from '../engine/engine-helpers.js';
import { flaky, hourly, pipeline } from '../fixtures/dag-examples.js';
import { errorOf, templateOf, type Exchange } from './http-helpers.js';

const oa = (path: string) => `/api${path.replace(/:(\w+)/g, '{$1}')}`;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let dir: string;
let orrery: Orrery;
let app: ReturnType<typeof createHttpApp>;
let daemon: Daemon | null = null;
const exchanges: Exchange[] = [];
const started = new Date(Date.now() - 5.5 * 3_600_000);
const definitions = [pipeline(), flaky(), hourly(started)];

async function call(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: any }> {
  const payload = raw ?? (body !== undefined ? JSON.stringify(body) : undefined);
  const res = await app.request(path, { method, ...(payload !== undefined ? { body: payload, headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : null;
  exchanges.push({ method, path, template: templateOf(method, path), requestBody: raw ?? body, raw: raw !== undefined, status: res.status, body: parsed, contentType: res.headers.get('content-type') });
  return { status: res.status, body: parsed };
}

async function expectError(p: Promise<{ status: number; body: any }>, status: number, code: string, mentions?: RegExp) {
  const r = await p;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  const e = errorOf(r.body);
  expect(e.code).toBe(code);
  if (mentions) expect(`${e.message} ${JSON.stringify(e.details)}`).toMatch(mentions);
  return e;
}

async function finished(runId: number) {
  return waitFor(async () => {
    const r = await call('GET', `/api/dag-runs/${runId}`);
    return r.body.status === 'success' || r.body.status === 'failed' ? r.body : null;
  }, `DAG run ${runId} to end`);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orrery-http-dags-'));
  orrery = await openOrrery({ db: `sqlite:${join(dir, 'orrery.db')}` });
  app = createHttpApp(orrery);
});
afterAll(async () => {
  await daemon?.stop();
  await orrery?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('DAG routes', () => {
  let pipelineRun: any;
  let failedRun: any;

  it('POST /api/dag-runs/{run}/cancel fails a waiting run\'s tasks (cancelled); 409 once it ended, 404 unknown', async () => {
    // No daemon yet: the triggered run waits, so it is cancelled before anything ran.
    await orrery.dags.register([{ id: 'cancelme', tasks: [{ id: 'a' }, { id: 'b', after: ['a'] }] }]);
    const run = (await call('POST', '/api/dags/cancelme/trigger', {})).body;
    const r = await call('POST', `/api/dag-runs/${run.id}/cancel`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: run.id, status: 'failed' });
    expect((await call('GET', `/api/dag-runs/${run.id}`)).body.tasks.map((t: any) => [t.taskId, t.status, t.error])).toEqual([
      ['a', 'failed', 'cancelled'],
      ['b', 'failed', 'cancelled'],
    ]);
    await expectError(call('POST', `/api/dag-runs/${run.id}/cancel`), 409, 'conflict', /already ended failed/);
    await expectError(call('POST', '/api/dag-runs/999999/cancel'), 404, 'not_found');
    await expectError(call('POST', '/api/dag-runs/x/cancel'), 400, 'validation_error');
  });

  it('PUT /api/dags registers definitions given as data, then reports them unchanged', async () => {
    const body = { dags: definitions.map((d) => d.toInput()) };
    const first = await call('PUT', '/api/dags', body);
    expect(first.status).toBe(200);
    expect(first.body.map((d: any) => [d.id, d.created, d.newVersion])).toEqual([
      ['pipeline', true, true],
      ['flaky', true, true],
      ['hourly', true, true],
    ]);
    const again = await call('PUT', '/api/dags', body);
    expect(again.body.map((d: any) => [d.created, d.newVersion])).toEqual([[false, false], [false, false], [false, false]]);
    expect(again.body.map((d: any) => d.version)).toEqual(first.body.map((d: any) => d.version));
    // Only now are there DAG task types for the worker to serve.
    daemon = new Daemon(orrery, { runner: true, reaper: true, worker: { handlers: toHandlersModule({ dags: definitions }, 'test').handlers, concurrency: 4, pollMs: 50 }, maxSleepMs: 50 });
    daemon.start();
  });

  it('PUT /api/dags refuses bad definitions with 400, naming the problem', async () => {
    const cycle = { id: 'loop', tasks: [{ id: 'a', after: ['b'] }, { id: 'b', after: ['a'] }] };
    await expectError(call('PUT', '/api/dags', { dags: [cycle] }), 400, 'validation_error', /a -> b -> a|b -> a -> b/);
    await expectError(call('PUT', '/api/dags', { dags: [{ id: 'x', tasks: [{ id: 'a', after: ['nope'] }] }] }), 400, 'validation_error', /unknown task "nope"/);
    await expectError(call('PUT', '/api/dags', { dags: [{ id: 'x', tasks: [{ id: 'a' }, { id: 'a' }] }] }), 400, 'validation_error', /duplicate task id "a"/);
    await expectError(call('PUT', '/api/dags', { dags: [{ id: 'x', tasks: [{ id: 'a' }], colour: 'red' }] }), 400, 'validation_error', /colour/);
    // a cron schedule with no point from its start (cron schedules end before the year 3000)
    const far = { id: 'far', schedule: { cron: '0 3 * * *' }, start: '9999-12-31T00:00:00Z', tasks: [{ id: 'a' }] };
    await expectError(call('PUT', '/api/dags', { dags: [far] }), 400, 'validation_error', /dags\[0\]: start: cron schedule "0 3 \* \* \*" has no point from 9999-12-31T00:00:00.000Z before the year 3000/);
    await expectError(call('PUT', '/api/dags', { dags: { id: 'x' } }), 400, 'validation_error', /dags/);
    await expectError(call('PUT', '/api/dags', { dag: [] }), 400, 'validation_error', /dag/);
    await expectError(call('PUT', '/api/dags', undefined, '{"dags": ['), 400, 'bad_request', /invalid JSON/);
    await expectError(call('PUT', '/api/dags', undefined, '[]'), 400, 'bad_request');
    expect((await orrery.dags.list()).map((d) => d.id).sort()).toEqual(['cancelme', 'flaky', 'hourly', 'pipeline']);
  });

  it('POST /api/dags/{id}/trigger creates a manual run with params (201); 404 and 400 for bad input', async () => {
    const r = await call('POST', '/api/dags/pipeline/trigger', { params: { day: '2026-01-01' } });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ dag: 'pipeline', trigger: 'manual', params: { day: '2026-01-01' }, restarts: 0 });
    expect(r.body.execTs).toMatch(ISO_MS);
    pipelineRun = r.body;
    const trigger = await expectError(call('POST', '/api/dags/nope/trigger', {}), 404, 'not_found', /nope/);
    expect(trigger.details.map((d: { path: string }) => d.path)).toEqual(['id']); // the path parameter, as the other DAG routes name it
    await expectError(call('POST', '/api/dags/pipeline/trigger', { params: [1, 2] }), 400, 'validation_error', /params/);
    await expectError(call('POST', '/api/dags/pipeline/trigger', { params: 'x' }), 400, 'validation_error', /params/);
    await expectError(call('POST', '/api/dags/pipeline/trigger', { param: {} }), 400, 'validation_error', /param/);
    await expectError(call('POST', '/api/dags/pipeline/trigger', undefined, 'nope'), 400, 'bad_request');
    failedRun = (await call('POST', '/api/dags/flaky/trigger', {})).body;
    expect(failedRun.params).toEqual({});
  });

  it('GET /api/dag-runs/{run}: every task with status, attempts, duration, error and result', async () => {
    const done = await finished(pipelineRun.id);
    expect(done.status).toBe('success');
    // Tasks in a stable order (by id).
    expect(done.tasks.map((t: any) => [t.taskId, t.status, t.attempts, t.after])).toEqual([
      ['extract', 'success', 1, []],
      ['transform', 'success', 1, ['extract']],
      ['load', 'success', 1, ['transform']],
    ]);
    const load = done.tasks.find((t: any) => t.taskId === 'load');
    expect(load.result).toEqual({ rows: 6 });
    expect(load.durationMs).toBeGreaterThanOrEqual(0);
    expect(load.started).toMatch(ISO_MS);

    const failed = await finished(failedRun.id);
    expect(failed.status).toBe('failed');
    const byId = Object.fromEntries(failed.tasks.map((t: any) => [t.taskId, t]));
    expect([byId.boom.status, byId.after.status, byId.side.status]).toEqual(['failed', 'upstream_failed', 'success']);
    expect(byId.boom.error).toMatch(/boom on attempt 1/);

    await expectError(call('GET', '/api/dag-runs/999999'), 404, 'not_found', /999999/);
    await expectError(call('GET', '/api/dag-runs/abc'), 400, 'validation_error', /run/);
    await expectError(call('GET', '/api/dag-runs/0'), 400, 'validation_error', /run/);
  });

  it('GET /api/dag-runs/{run}/tasks/{task}/attempts: each attempt with its runs and their logs', async () => {
    const r = await call('GET', `/api/dag-runs/${pipelineRun.id}/tasks/extract/attempts`);
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(1);
    expect(r.body[0]).toMatchObject({ attempt: 1 });
    expect(r.body[0].runs).toHaveLength(1);
    expect(r.body[0].runs[0].logs).toEqual([{ id: expect.any(Number), at: expect.stringMatching(ISO_MS), level: 'info', message: 'extracting', attributes: { day: '2026-01-01' } }]);
    await expectError(call('GET', `/api/dag-runs/${pipelineRun.id}/tasks/nope/attempts`), 404, 'not_found', /nope/);
    await expectError(call('GET', '/api/dag-runs/999999/tasks/extract/attempts'), 404, 'not_found');
    await expectError(call('GET', `/api/dag-runs/x1/tasks/extract/attempts`), 400, 'validation_error');
  });

  it('POST /api/dag-runs/{run}/restart re-runs failed tasks only; 409 when the run is not failed', async () => {
    await expectError(call('POST', `/api/dag-runs/${pipelineRun.id}/restart`), 409, 'conflict', /success; only a failed run can be restarted/);
    await expectError(call('POST', '/api/dag-runs/999999/restart'), 404, 'not_found');
    await expectError(call('POST', '/api/dag-runs/-1/restart'), 400, 'validation_error');
    const r = await call('POST', `/api/dag-runs/${failedRun.id}/restart`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: failedRun.id, status: 'running', restarts: 1 });
    const again = await finished(failedRun.id);
    const byId = Object.fromEntries(again.tasks.map((t: any) => [t.taskId, t]));
    expect([byId.boom.status, byId.boom.attempts, byId.side.attempts]).toEqual(['failed', 2, 1]);
    const attempts = await call('GET', `/api/dag-runs/${failedRun.id}/tasks/boom/attempts`);
    expect(attempts.body.map((a: any) => [a.attempt, a.runs[0].logs[0].attributes])).toEqual([
      [1, { attempt: 1 }],
      [2, { attempt: 2 }],
    ]);
  });

  it('a failed attempt\'s task is out of the bin (dagAttempts=false) and its respawn is 409, pointing to the run\'s restart', async () => {
    const attempts = (await call('GET', `/api/dag-runs/${failedRun.id}/tasks/boom/attempts`)).body;
    const taskId = attempts[0].orreryTask as number;
    const all = await call('GET', '/api/tasks?status=disabled&disabledReason=retries_exhausted');
    expect(all.body.items.map((t: any) => t.id)).toContain(taskId);
    const bin = await call('GET', '/api/tasks?status=disabled&disabledReason=retries_exhausted&dagAttempts=false');
    expect(bin.status).toBe(200);
    expect(bin.body.items.map((t: any) => t.id)).not.toContain(taskId);
    await expectError(call('GET', '/api/tasks?dagAttempts=no'), 400, 'validation_error', /dagAttempts/);
    const e = await expectError(call('POST', '/api/tasks/respawn', { ids: [taskId] }), 409, 'conflict', new RegExp(`dag-run restart ${failedRun.id}`));
    expect(e.message).toMatch(new RegExp(`^task ${taskId} is attempt 1 of task "boom" in run ${failedRun.id} of DAG "flaky"; it runs only within its DAG run`));
    expect((await call('GET', `/api/tasks/${taskId}`)).body).toMatchObject({ status: 'disabled', disabledReason: 'retries_exhausted' });
  });

  it('GET /api/dags/{id}/runs: newest first with task counts, filtered and paged; 400 and 404', async () => {
    const second = (await call('POST', '/api/dags/pipeline/trigger', {})).body;
    await finished(second.id);
    const all = await call('GET', '/api/dags/pipeline/runs');
    expect(all.status).toBe(200);
    expect(all.body.map((r: any) => r.id)).toEqual([second.id, pipelineRun.id]);
    expect(all.body[0].tasks).toEqual({ success: 3 });
    expect((await call('GET', `/api/dags/pipeline/runs?limit=1`)).body.map((r: any) => r.id)).toEqual([second.id]);
    expect((await call('GET', `/api/dags/pipeline/runs?beforeId=${second.id}`)).body.map((r: any) => r.id)).toEqual([pipelineRun.id]);
    expect((await call('GET', '/api/dags/flaky/runs?status=failed')).body.map((r: any) => [r.id, r.tasks])).toEqual([[failedRun.id, { failed: 1, upstream_failed: 1, success: 1 }]]);
    expect((await call('GET', '/api/dags/flaky/runs?status=success')).body).toEqual([]);
    await expectError(call('GET', '/api/dags/flaky/runs?status=done'), 400, 'validation_error', /status/);
    await expectError(call('GET', '/api/dags/flaky/runs?limit=0'), 400, 'validation_error', /limit/);
    await expectError(call('GET', '/api/dags/flaky/runs?beforeId=x'), 400, 'validation_error', /beforeId/);
    await expectError(call('GET', '/api/dags/flaky/runs?sort=asc'), 400, 'validation_error', /sort/);
    expect((await expectError(call('GET', '/api/dags/nope/runs'), 404, 'not_found', /nope/)).details.map((d: { path: string }) => d.path)).toEqual(['id']);
  });

  it('GET /api/dags/{id}/grid: the latest runs by task, oldest first, tasks in dependency order; 400 and 404', async () => {
    const grid = await call('GET', '/api/dags/pipeline/grid');
    expect(grid.status).toBe(200);
    expect(grid.body.tasks).toEqual([
      { taskId: 'extract', after: [], current: true },
      { taskId: 'transform', after: ['extract'], current: true },
      { taskId: 'load', after: ['transform'], current: true },
    ]);
    const ids = (await call('GET', '/api/dags/pipeline/runs')).body.map((r: any) => r.id).reverse();
    expect(grid.body.runs.map((r: any) => r.id)).toEqual(ids);
    expect(grid.body.runs[0].cells.load).toEqual({ status: 'success', attempts: 1, durationMs: expect.any(Number) });
    expect((await call('GET', '/api/dags/pipeline/grid?limit=1')).body.runs.map((r: any) => r.id)).toEqual(ids.slice(-1));
    const flakyGrid = (await call('GET', '/api/dags/flaky/grid')).body;
    expect(flakyGrid.runs[0].id).toBe(failedRun.id);
    expect(Object.fromEntries(Object.entries(flakyGrid.runs[0].cells).map(([k, v]: [string, any]) => [k, v.status]))).toEqual({ boom: 'failed', after: 'upstream_failed', side: 'success' });
    await expectError(call('GET', '/api/dags/pipeline/grid?limit=101'), 400, 'validation_error', /limit/);
    await expectError(call('GET', '/api/dags/nope/grid'), 404, 'not_found', /nope/);
  });

  it('GET /api/dags: the summary (run counts, latest runs with task counts); GET /api/dags/{id} with recorded points', async () => {
    const list = await call('GET', '/api/dags');
    expect(list.status).toBe(200);
    const byId = Object.fromEntries(list.body.map((d: any) => [d.id, d]));
    expect(byId.pipeline).toMatchObject({ description: 'a small ETL', schedule: { kind: 'none' }, nextPoint: null, runs: { success: 2 } });
    expect(byId.pipeline.latest).toHaveLength(2);
    expect(byId.flaky.runs).toEqual({ failed: 1 });
    expect(byId.flaky.latest[0].tasks).toEqual({ failed: 1, upstream_failed: 1, success: 1 });
    expect((await call('GET', '/api/dags?latest=1')).body.find((d: any) => d.id === 'pipeline').latest).toHaveLength(1);
    await expectError(call('GET', '/api/dags?latest=-1'), 400, 'validation_error', /latest/);

    const pipe = await call('GET', '/api/dags/pipeline');
    expect(pipe.status).toBe(200);
    expect(pipe.body.tasks.find((t: any) => t.id === 'transform')).toEqual({ id: 'transform', after: ['extract'], retries: 2, retryDelayMs: 1000, timeoutMs: 60_000, type: 'orrery.dag' });
    expect(pipe.body.points.map((p: any) => p.kind)).toEqual(['triggered', 'triggered']);

    // Hourly from 5.5 hours ago without catch-up: the scheduler records the missed points as one skipped range.
    const hourlyDag = await waitFor(async () => {
      const r = await call('GET', '/api/dags/hourly');
      return r.body.points.length > 0 ? r.body : null;
    }, 'the hourly DAG points');
    expect(hourlyDag.schedule).toEqual({ kind: 'interval', everyMs: 3_600_000 });
    expect(hourlyDag.catchUp).toBe(false);
    const skipped = hourlyDag.points.find((p: any) => p.kind === 'skipped');
    expect(skipped).toMatchObject({ execTs: started.toISOString(), count: 6, run: null });
    expect(Date.parse(skipped.untilTs)).toBe(started.getTime() + 5 * 3_600_000);
    expect(Date.parse(hourlyDag.nextPoint)).toBe(started.getTime() + 6 * 3_600_000);
    await expectError(call('GET', '/api/dags/nope'), 404, 'not_found', /nope/);
    await expectError(call('GET', `/api/dags/${'x'.repeat(200)}`), 404, 'not_found'); // too long to be a DAG's: not found, as in the library
  });
});

describe('the DAG routes in the OpenAPI document', () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const compiled = new Map<string, ValidateFunction>();
  const validator = (key: string, schema: Record<string, unknown>) => {
    if (!compiled.has(key)) compiled.set(key, ajv.compile(schema));
    return compiled.get(key)!;
  };
  let doc: any;
  beforeAll(async () => {
    doc = (await (await app.request('/api/openapi.json')).json()) as any;
  });

  it('POST /api/dags/{id}/pause and /resume: the DAG shows paused with its reason; 400 and 404 for bad input', async () => {
    const paused = await call('POST', '/api/dags/pipeline/pause', { reason: 'warehouse migration' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ id: 'pipeline', paused: { reason: 'warehouse migration' } });
    expect((await call('GET', '/api/dags/pipeline')).body.paused).toMatchObject({ reason: 'warehouse migration' });
    await expectError(call('POST', '/api/dags/pipeline/pause', { reason: 7 }), 400, 'validation_error', /reason/);
    await expectError(call('POST', '/api/dags/nope/pause', {}), 404, 'not_found', /nope/);
    const resumed = await call('POST', '/api/dags/pipeline/resume');
    expect(resumed.status).toBe(200);
    expect(resumed.body.paused).toBeNull();
    await expectError(call('POST', '/api/dags/nope/resume'), 404, 'not_found', /nope/);
  });

  it('documents every DAG route, and every response above matches its documented schema', () => {
    for (const r of dagRoutes) {
      expect(apiRoutes).toContain(r);
      const op = doc.paths[oa(r.path)]?.[r.method];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      const mine = exchanges.filter((x) => x.template === oa(r.path) && x.method.toLowerCase() === r.method);
      expect(mine.some((x) => x.status < 300), `${r.method} ${r.path} success`).toBe(true);
      expect(mine.some((x) => x.status >= 400), `${r.method} ${r.path} error`).toBe(true);
    }
    const problems: string[] = [];
    let checked = 0;
    for (const x of exchanges) {
      const op = doc.paths[x.template!]?.[x.method.toLowerCase()];
      const resp = op?.responses[String(x.status)];
      if (!resp) {
        problems.push(`${x.method} ${x.path} -> ${x.status}: not documented`);
        continue;
      }
      const v = validator(`${x.method} ${x.template} ${x.status}`, resp.content['application/json'].schema);
      if (!v(x.body)) problems.push(`${x.method} ${x.path} -> ${x.status}: ${ajv.errorsText(v.errors)}`);
      checked++;
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it('accepted request bodies match the documented request schemas; the schemas are not vacuous', () => {
    let checked = 0;
    for (const x of exchanges.filter((x) => x.status < 300 && x.requestBody !== undefined && !x.raw)) {
      const schema = doc.paths[x.template!][x.method.toLowerCase()].requestBody.content['application/json'].schema;
      expect(validator(`${x.method} ${x.template} request`, schema)(x.requestBody), `${x.method} ${x.path}`).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(3);
    const run = validator('get run', doc.paths['/api/dag-runs/{run}'].get.responses['200'].content['application/json'].schema);
    const ok = exchanges.find((x) => x.template === '/api/dag-runs/{run}' && x.status === 200)!.body as any;
    expect(run(ok)).toBe(true);
    expect(run({ ...ok, status: 'exploded' })).toBe(false);
    expect(run({ ...ok, tasks: [{ ...ok.tasks[0], status: 'sleeping' }] })).toBe(false);
    expect(run({ ...ok, execTs: 5 })).toBe(false);
  });
});

describe('the DAG routes with a token', () => {
  it('answer 401 without the bearer token, and work with it', async () => {
    const secured = createHttpApp(orrery, { token: 'tok-dags' });
    for (const r of dagRoutes) {
      const path = `/api${r.path.replace(':id', 'pipeline').replace(':run', '1').replace(':task', 'extract')}`;
      const res = await secured.request(path, { method: r.method.toUpperCase(), ...(r.body ? { body: '{}' } : {}) });
      expect(res.status, `${r.method} ${r.path}`).toBe(401);
      expect(errorOf(await res.json()).code).toBe('unauthorized');
    }
    const ok = await secured.request('/api/dags', { headers: { authorization: 'Bearer tok-dags' } });
    expect(ok.status).toBe(200);
  });
});

describe('OrreryClient.dags over a real server', () => {
  let server: Server;
  let client: OrreryClient;
  beforeAll(async () => {
    const s = await startHttpServer(app, '127.0.0.1', 0);
    server = s.server;
    client = new OrreryClient(`http://127.0.0.1:${s.port}`);
  });
  afterAll(() => {
    client?.close();
    server?.close();
  });

  it('mirrors orrery.dags: register, list, get, trigger, runs, run, attempts, restart, with instants as Dates', async () => {
    expect((await client.dags.register([pipeline().toInput()]))[0]).toMatchObject({ id: 'pipeline', created: false, newVersion: false });
    const list = await client.dags.list(1);
    const pipe = list.find((d) => d.id === 'pipeline')!;
    expect(pipe.created).toBeInstanceOf(Date);
    expect(pipe.latest[0]!.execTs).toBeInstanceOf(Date);
    const got = await client.dags.get('hourly');
    expect(got.nextPoint).toBeInstanceOf(Date);
    expect(got.points[0]!.execTs).toBeInstanceOf(Date);
    const run = await client.dags.trigger('pipeline', { day: 'x' });
    expect(run.execTs).toBeInstanceOf(Date);
    expect(run.params).toEqual({ day: 'x' });
    const done = await waitFor(async () => {
      const r = await client.dags.run(run.id);
      return r.status === 'success' ? r : null;
    }, 'the client-triggered run');
    expect(done.tasks.map((t) => t.status)).toEqual(['success', 'success', 'success']);
    expect((await client.dags.runs('pipeline', { limit: 1 }))[0]!.id).toBe(run.id);
    // Both call forms of the library's runs, on both sides, with the same answers; get's latest too.
    for (const [lib, remote] of [
      [() => orrery.dags.runs({ dag: 'pipeline', status: 'success', limit: 1 }), () => client.dags.runs({ dag: 'pipeline', status: 'success', limit: 1 })],
      [() => orrery.dags.runs('pipeline', { status: 'failed' }), () => client.dags.runs('pipeline', { status: 'failed' })],
    ] as const) {
      const [a, b] = [await lib(), await remote()];
      expect(b.map((r) => [r.id, r.status])).toEqual(a.map((r) => [r.id, r.status]));
    }
    expect((await orrery.dags.runs('pipeline', { status: 'failed' })).every((r) => r.status === 'failed')).toBe(true);
    // A filter object with more beside it is refused on both sides (the client merged them; the library ignored the second); undefined keys count as left out.
    for (const side of [orrery.dags, client.dags]) {
      await expect(side.runs({ dag: 'pipeline' }, { limit: 1 })).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'filter' }] });
      expect((await side.runs({ dag: 'pipeline' }, { status: undefined })).length).toBeGreaterThan(0);
    }
    expect((await client.dags.get('pipeline', 1)).latest).toHaveLength(1);
    expect((await orrery.dags.get('pipeline', 1)).latest).toHaveLength(1);
    const grid = await client.dags.grid('pipeline', 1);
    expect(grid.runs.map((r) => r.id)).toEqual([run.id]);
    expect(grid.runs[0]!.execTs).toBeInstanceOf(Date);
    const [attempt] = await client.dags.attempts(run.id, 'transform');
    expect(attempt!.notBefore).toBeInstanceOf(Date);
    expect(attempt!.runs[0]!.logs[0]).toMatchObject({ level: 'warn', message: 'few rows', attributes: { rows: 3 } });
    await expect(client.dags.restart(run.id)).rejects.toMatchObject({ code: 'conflict' });
    await expect(client.dags.get('nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.dags.register([{ id: 'bad', tasks: [] }])).rejects.toMatchObject({ code: 'validation_error' });
  });
});
