import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { routes } from '../../src/http/routes.js';
import { SSE_MAX_BACKLOG, SSE_STALL_MS } from '../../src/http/app.js';
import { T0, UUID, errorOf, openHttp, type HttpHarness, type Reply } from './http-helpers.js';

/** Route templates answered with a 2xx somewhere in this file; the last test checks none is missing. */
const succeeded = new Set<string>();

let h: HttpHarness;
beforeEach(async () => {
  h = await openHttp();
});
afterEach(async () => {
  for (const x of h.log) if (x.template && x.status < 300) succeeded.add(`${x.method} ${x.template}`);
  await h.close();
});

const call = (method: string, path: string, body?: unknown, init?: { raw?: string; headers?: Record<string, string> }) => h.call(method, path, body, init);

const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();

const MAIL_TYPE = {
  name: 'mail',
  description: '',
  backendName: 'mail',
  defaultIntervalMs: 60_000,
  minIntervalMs: 60_000,
  maxIntervalMs: 60_000,
  backoffFactor: 1,
  maxQueueLength: 1000,
  numRetries: 0,
  retryDelayMs: 3_600_000,
  timeoutMs: null,
  leaseMs: 30_000,
  maxAbandons: 3,
  maxRunning: null,
  maxRunningPerKey: null,
  rateLimit: null,
  rateLimitPerKey: null,
  fairShare: null,
  fifoPerKey: false,
  paused: null,
  effectiveRate: null,
};

function taskJson(over: Record<string, unknown> = {}) {
  return {
    id: 1,
    type: 'mail',
    arguments: { args: [], kwargs: {} },
    policy: 'recurring',
    schedule: { kind: 'adaptive' },
    nextRun: T0,
    // an adaptive task serves its due instant
    scheduledFor: over.nextRun ?? T0,
    currentIntervalMs: 60_000,
    status: 'next_run_not_scheduled',
    disabledReason: null,
    retriesLeft: 0,
    consecutiveAbandons: 0,
    priority: null,
    nextAttempt: 1,
    key: null,
    concurrencyKey: null,
    created: T0,
    paused: null,
    ...over,
  };
}

function runJson(over: Record<string, unknown> = {}) {
  return {
    id: 1,
    task: 1,
    type: 'mail',
    backendId: expect.stringMatching(UUID),
    status: 'scheduled',
    scheduled: T0,
    scheduledFor: T0,
    started: null,
    ended: null,
    metadata: {},
    result: null,
    error: null,
    worker: null,
    leaseExpiresAt: null,
    attempt: 1,
    cancelRequested: false,
    ...over,
  };
}

/** Asserts an error reply: status, code, and (when given) the paths its details name. */
function expectError(r: Reply, status: number, code: string, paths?: string[]) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/json/);
  const e = errorOf(r.body);
  expect(e.code).toBe(code);
  expect(e.message.length).toBeGreaterThan(0);
  if (paths) expect(e.details.map((d) => d.path)).toEqual(paths);
  return e;
}

async function mailType(extra: Record<string, unknown> = {}) {
  const r = await call('POST', '/api/task-types', { name: 'mail', defaultIntervalMs: '1m', ...extra });
  expect(r.status).toBe(201);
  return r.body;
}

async function task(body: Record<string, unknown>) {
  const r = await call('POST', '/api/tasks', body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as ReturnType<typeof taskJson>;
}

async function schedule(): Promise<Array<{ backendId: string; task: number }>> {
  const r = await call('POST', '/api/tasks/schedule', {});
  expect(r.status).toBe(200);
  return r.body;
}

async function claim(worker: string, limit = 10, types = ['mail']) {
  const r = await call('POST', '/api/jobboard/claim', { worker, types, limit, startNow: limit }); // a worker that begins them all
  expect(r.status).toBe(200);
  return r.body as Array<{ run: { backendId: string; task: number } }>;
}

describe('task types', () => {
  it('creates a type (201, defaults filled), lists it, gets it by name', async () => {
    const created = await call('POST', '/api/task-types', { name: 'mail', defaultIntervalMs: '1m' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(MAIL_TYPE);
    // SPEC §1.1's names of the durations are taken too; a type reads back with the Ms fields.
    const spec = await call('POST', '/api/task-types', { name: 'spec-names', defaultInterval: '1m', lease: '45s' });
    expect(spec.status, JSON.stringify(spec.body)).toBe(201);
    expect(spec.body).toMatchObject({ defaultIntervalMs: 60_000, leaseMs: 45_000 });
    expect((await call('PATCH', '/api/task-types/spec-names', { timeout: '5m' })).body).toMatchObject({ timeoutMs: 300_000 });
    expectError(await call('POST', '/api/task-types', { name: 'both', lease: '45s', leaseMs: 45_000 }), 400, 'validation_error', ['lease']);
    expect((await call('DELETE', '/api/task-types/spec-names')).status).toBeLessThan(300);

    const other = await call('POST', '/api/task-types', {
      name: 'report.daily',
      description: 'the daily report',
      backendName: 'reports',
      defaultIntervalMs: 'P1D',
      minIntervalMs: '1h',
      maxIntervalMs: 172_800_000,
      backoffFactor: 2,
      maxQueueLength: null,
      numRetries: 2,
      retryDelayMs: '90s',
      timeoutMs: '10m',
      leaseMs: 5000,
      maxAbandons: 5,
      maxRunning: 4,
      maxRunningPerKey: 1,
      rateLimit: '100/1m',
      rateLimitPerKey: '10/1s',
      fairShare: { weights: { 'tenant-b': 1, 'tenant-a': 3 } },
    });
    expect(other.status).toBe(201);
    expect(other.body).toEqual({
      name: 'report.daily',
      description: 'the daily report',
      backendName: 'reports',
      defaultIntervalMs: 86_400_000,
      minIntervalMs: 3_600_000,
      maxIntervalMs: 172_800_000,
      backoffFactor: 2,
      maxQueueLength: null,
      numRetries: 2,
      retryDelayMs: 90_000,
      timeoutMs: 600_000,
      leaseMs: 5000,
      maxAbandons: 5,
      maxRunning: 4,
      maxRunningPerKey: 1,
      rateLimit: { count: 100, perMs: 60_000 },
      rateLimitPerKey: { count: 10, perMs: 1000 },
      fairShare: { weights: { 'tenant-a': 3, 'tenant-b': 1 } },
      fifoPerKey: false,
      paused: null,
      effectiveRate: { type: { count: 100, perMs: 60_000 }, keys: [] },
    });

    const list = await call('GET', '/api/task-types');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([MAIL_TYPE, other.body]);

    const one = await call('GET', '/api/task-types/mail');
    expect(one.status).toBe(200);
    expect(one.body).toEqual(MAIL_TYPE);
    expect((await call('GET', '/api/task-types/report.daily')).body).toEqual(other.body);
  });

  it('lists nothing on an empty database', async () => {
    const r = await call('GET', '/api/task-types');
    expect(r.status).toBe(200);
    expect(r.body).toEqual([]);
  });

  it('409 for a duplicate name, and the first type is unchanged', async () => {
    await mailType();
    const dup = await call('POST', '/api/task-types', { name: 'mail', defaultIntervalMs: '5m' });
    expectError(dup, 409, 'conflict', ['name']);
    expect((await call('GET', '/api/task-types/mail')).body).toEqual(MAIL_TYPE);
  });

  it('404 for an unknown name, one longer than a type name may be included (as the library answers it)', async () => {
    expectError(await call('GET', '/api/task-types/nope'), 404, 'not_found');
    expectError(await call('GET', `/api/task-types/${'a'.repeat(129)}`), 404, 'not_found', ['name']);
    expectError(await call('DELETE', `/api/task-types/${'a'.repeat(129)}`), 404, 'not_found', ['name']);
    expectError(await call('PATCH', `/api/task-types/${'a'.repeat(129)}`, { numRetries: 1 }), 404, 'not_found', ['name']);
  });

  it('400 for bad JSON, empty and non-object bodies, wrong types, unknown fields, bad values', async () => {
    expectError(await call('POST', '/api/task-types', undefined, { raw: '{"name": "mail",' }), 400, 'bad_request');
    expectError(await call('POST', '/api/task-types', undefined, { raw: '' }), 400, 'bad_request');
    expectError(await call('POST', '/api/task-types', undefined, { raw: '   ' }), 400, 'bad_request');
    expectError(await call('POST', '/api/task-types'), 400, 'bad_request');
    for (const raw of ['null', '[]', '[{"name":"mail"}]', '42', '"mail"', 'true']) {
      expectError(await call('POST', '/api/task-types', undefined, { raw }), 400, 'bad_request');
    }
    expectError(await call('POST', '/api/task-types', { name: 5 }), 400, 'validation_error', ['name']);
    expectError(await call('POST', '/api/task-types', {}), 400, 'validation_error', ['name']);
    expectError(await call('POST', '/api/task-types', { name: 'mail', colour: 'red' }), 400, 'validation_error', ['colour']);
    expectError(await call('POST', '/api/task-types', { name: 'Mail Box' }), 400, 'validation_error', ['name']);
    expectError(await call('POST', '/api/task-types', { name: 'mail', leaseMs: true }), 400, 'validation_error', ['leaseMs']);
    expectError(await call('POST', '/api/task-types', { name: 'mail', numRetries: -1 }), 400, 'validation_error', ['numRetries']);
    expectError(await call('POST', '/api/task-types', { name: 'mail', numRetries: 1.5 }), 400, 'validation_error', ['numRetries']);
    expectError(await call('POST', '/api/task-types', { name: 'mail', defaultIntervalMs: 'soon' }), 400, 'validation_error', ['defaultIntervalMs']);
    expectError(await call('POST', '/api/task-types', { name: 'mail', backoffFactor: 0 }), 400, 'validation_error', ['backoffFactor']);
    expectError(await call('POST', '/api/task-types', { name: 'mail', leaseMs: 10 }), 400, 'validation_error', ['leaseMs']);
    // Several problems are all reported.
    const many = expectError(await call('POST', '/api/task-types', { name: 'X', leaseMs: 'x', maxAbandons: 0, zzz: 1 }), 400, 'validation_error');
    expect(many.details.map((d) => d.path).sort()).toEqual(['leaseMs', 'maxAbandons', 'name', 'zzz']);
    expect((await call('GET', '/api/task-types')).body).toEqual([]);
  });
});

describe('tasks', () => {
  it('creates a task (201), and the same task again returns it (200, same id) without a second row', async () => {
    await mailType();
    const first = await call('POST', '/api/tasks', { type: 'mail', arguments: { args: [1], kwargs: { to: 'a@example.org' } } });
    expect(first.status).toBe(201);
    expect(first.body).toEqual(taskJson({ arguments: { args: [1], kwargs: { to: 'a@example.org' } } }));

    const again = await call('POST', '/api/tasks', { type: 'mail', arguments: { kwargs: { to: 'a@example.org' }, args: [1] } });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const other = await call('POST', '/api/tasks', { type: 'mail', arguments: { args: [2] }, priority: 'high', policy: 'oneshot', nextRun: '2030-01-02T00:00:00+01:00' });
    expect(other.status).toBe(201);
    expect(other.body).toEqual(
      taskJson({ id: 2, arguments: { args: [2], kwargs: {} }, priority: 'high', policy: 'oneshot', nextRun: '2030-01-01T23:00:00.000Z', currentIntervalMs: null }),
    );

    const cron = await call('POST', '/api/tasks', { type: 'mail', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' } });
    expect(cron.status).toBe(201);
    expect(cron.body).toEqual(taskJson({ id: 3, schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' }, nextRun: '2030-01-01T03:00:00.000Z', currentIntervalMs: null }));

    const page = await call('GET', '/api/tasks');
    expect(page.body.items.map((t: { id: number }) => t.id)).toEqual([1, 2, 3]);
  });

  it('400 for bad task bodies, naming the field', async () => {
    await mailType();
    expectError(await call('POST', '/api/tasks', undefined, { raw: '{"type":' }), 400, 'bad_request');
    expectError(await call('POST', '/api/tasks', undefined, { raw: '' }), 400, 'bad_request');
    expectError(await call('POST', '/api/tasks', undefined, { raw: '[{"type":"mail"}]' }), 400, 'bad_request');
    expectError(await call('POST', '/api/tasks', { type: 'nope' }), 400, 'validation_error', ['type']);
    expectError(await call('POST', '/api/tasks', { type: 5 }), 400, 'validation_error', ['type']);
    expectError(await call('POST', '/api/tasks', {}), 400, 'validation_error', ['type']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', urgent: true }), 400, 'validation_error', ['urgent']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', arguments: { args: 'x' } }), 400, 'validation_error', ['arguments.args']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', arguments: { kwargs: [] } }), 400, 'validation_error', ['arguments.kwargs']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', arguments: { args: [], extra: 1 } }), 400, 'validation_error', ['arguments.extra']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', priority: 'urgent' }), 400, 'validation_error', ['priority']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', policy: 'sometimes' }), 400, 'validation_error', ['policy']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', nextRun: 'tomorrow' }), 400, 'validation_error', ['nextRun']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', retriesLeft: -1 }), 400, 'validation_error', ['retriesLeft']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', schedule: { kind: 'cron', expr: 'never' } }), 400, 'validation_error', ['schedule.expr']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', schedule: 'daily' }), 400, 'validation_error', ['schedule']);
    expectError(await call('POST', '/api/tasks', undefined, { raw: '{"type":"mail","arguments":{"args":[1e999]}}' }), 400, 'validation_error', ['arguments.args[0]']);
    expect((await call('GET', '/api/tasks')).body).toEqual({ items: [], nextCursor: null, partial: false });
  });

  it('a task key with onConflict: return (200), replace (200, updated), error (409)', async () => {
    await mailType();
    const first = await call('POST', '/api/tasks', { type: 'mail', policy: 'oneshot', key: 'digest-42', concurrencyKey: 'smtp-a', arguments: { args: [1], kwargs: {} } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ key: 'digest-42', concurrencyKey: 'smtp-a' });
    const same = await call('POST', '/api/tasks', { type: 'mail', policy: 'oneshot', key: 'digest-42', arguments: { args: [2], kwargs: {} } });
    expect([same.status, same.body.id, same.body.arguments.args]).toEqual([200, first.body.id, [1]]);
    const replaced = await call('POST', '/api/tasks', { type: 'mail', policy: 'oneshot', key: 'digest-42', onConflict: 'replace', arguments: { args: [3], kwargs: {} } });
    expect([replaced.status, replaced.body.id, replaced.body.arguments.args, replaced.body.concurrencyKey]).toEqual([200, first.body.id, [3], null]);
    expectError(await call('POST', '/api/tasks', { type: 'mail', policy: 'oneshot', key: 'digest-42', onConflict: 'error' }), 409, 'conflict', ['key']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', onConflict: 'merge' }), 400, 'validation_error', ['onConflict']);
    expectError(await call('POST', '/api/tasks', { type: 'mail', key: '' }), 400, 'validation_error', ['key']);
  });

  it('batch: creates all in one go (201), and one bad task rejects the whole batch and writes nothing', async () => {
    await mailType();
    const ok = await call('POST', '/api/tasks/batch', {
      tasks: [{ type: 'mail', arguments: { args: [1] } }, { type: 'mail', arguments: { args: [2] } }, { type: 'mail', arguments: { args: [1] } }],
    });
    expect(ok.status).toBe(201);
    expect(ok.body.created).toBe(2);
    expect(ok.body.tasks).toEqual([
      taskJson({ id: 1, arguments: { args: [1], kwargs: {} } }),
      taskJson({ id: 2, arguments: { args: [2], kwargs: {} } }),
      taskJson({ id: 1, arguments: { args: [1], kwargs: {} } }),
    ]);

    // Re-sending existing tasks creates nothing.
    const same = await call('POST', '/api/tasks/batch', { tasks: [{ type: 'mail', arguments: { args: [2] } }] });
    expect(same.status).toBe(201);
    expect(same.body).toEqual({ tasks: [taskJson({ id: 2, arguments: { args: [2], kwargs: {} } })], created: 0 });

    const before = (await call('GET', '/api/tasks')).body;
    const bad = await call('POST', '/api/tasks/batch', {
      tasks: [{ type: 'mail', arguments: { args: [3] } }, { type: 'nope' }, { type: 'mail', arguments: { args: [4] } }],
    });
    expectError(bad, 400, 'validation_error', ['tasks[1].type']);
    const bad2 = await call('POST', '/api/tasks/batch', { tasks: [{ type: 'mail', arguments: { args: [5] } }, { type: 'mail', arguments: { args: [6] }, priority: 7 }] });
    expectError(bad2, 400, 'validation_error', ['tasks[1].priority']);
    expectError(await call('POST', '/api/tasks/batch', { tasks: [{ type: 'mail' }, null] }), 400, 'validation_error', ['tasks[1]']);
    expect((await call('GET', '/api/tasks')).body).toEqual(before);
    expect(before.items).toHaveLength(2);

    expectError(await call('POST', '/api/tasks/batch', { tasks: [] }), 400, 'validation_error', ['tasks']);
    expectError(await call('POST', '/api/tasks/batch', { tasks: { type: 'mail' } }), 400, 'validation_error', ['tasks']);
    expectError(await call('POST', '/api/tasks/batch', [{ type: 'mail' }]), 400, 'validation_error');
    expectError(await call('POST', '/api/tasks/batch', { tasks: [{ type: 'mail' }], dryRun: true }), 400, 'validation_error', ['dryRun']);
    expectError(await call('POST', '/api/tasks/batch', undefined, { raw: '{"tasks":[' }), 400, 'bad_request');
  });

  it('gets a task with its runs, and its runs; 400 for bad ids, 404 for unknown ones', async () => {
    await mailType();
    await task({ type: 'mail', arguments: { args: [1] } });
    const plain = await call('GET', '/api/tasks/1');
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ ...taskJson({ arguments: { args: [1], kwargs: {} } }), runs: [] });
    expect((await call('GET', '/api/tasks/1/runs')).body).toEqual([]);
    const why = await call('GET', '/api/tasks/1/why');
    expect(why.status).toBe(200);
    expect(why.body).toMatchObject({ task: 1, at: T0, state: 'blocked', heldBy: 'workers' });
    expect(why.body.gates).toHaveLength(12);
    expect((await call('GET', '/api/tasks/9999/why')).status).toBe(404);
    const wait = await call('GET', '/api/tasks/1/wait?timeoutMs=0');
    expect(wait.status).toBe(200);
    expect(wait.body).toEqual({ finished: false, task: taskJson({ arguments: { args: [1], kwargs: {} } }), run: null });
    expect((await call('GET', '/api/tasks/9999/wait?timeoutMs=0')).status).toBe(404);
    expect((await call('GET', '/api/runs?type=mail')).body).toEqual({ items: [], nextCursor: null });

    const [run] = await schedule();
    const withRuns = await call('GET', '/api/tasks/1');
    expect(withRuns.body).toEqual({
      ...taskJson({ arguments: { args: [1], kwargs: {} }, status: 'next_run_scheduled' }),
      runs: [runJson({ backendId: run!.backendId })],
    });
    const runs = await call('GET', '/api/tasks/1/runs');
    expect(runs.status).toBe(200);
    expect(runs.body).toEqual([runJson({ backendId: run!.backendId })]);
    // Only the newest N runs: `runs=N` on the task, `last=N` on its runs.
    expect((await call('GET', '/api/tasks/1?runs=1')).body).toMatchObject({ runs: [runJson({ backendId: run!.backendId })] });
    expect((await call('GET', '/api/tasks/1/runs?last=5')).body).toEqual([runJson({ backendId: run!.backendId })]);
    for (const bad of ['0', '-1', '1.5', 'x', '100001']) {
      expectError(await call('GET', `/api/tasks/1?runs=${bad}`), 400, 'validation_error', ['query.runs']);
      expectError(await call('GET', `/api/tasks/1/runs?last=${bad}`), 400, 'validation_error', ['query.last']);
    }

    for (const bad of ['abc', '0', '-1', '1.5', '1e3', '01', '%20', '9999999999999999', 'null']) {
      expectError(await call('GET', `/api/tasks/${bad}`), 400, 'validation_error', ['id']);
      expectError(await call('GET', `/api/tasks/${bad}/runs`), 400, 'validation_error', ['id']);
    }
    expectError(await call('GET', '/api/tasks/999'), 404, 'not_found');
    expectError(await call('GET', '/api/tasks/999999999999999/runs'), 404, 'not_found');
  });

  it('searches with filters; 400 for bad query parameters', async () => {
    await mailType();
    await call('POST', '/api/task-types', { name: 'sync', defaultIntervalMs: '1h' });
    await task({ type: 'mail', arguments: { args: [1] }, priority: 'high' });
    await task({ type: 'sync', arguments: { args: [2] }, policy: 'oneshot' });
    await task({ type: 'mail', arguments: { args: [3] } });
    await call('POST', '/api/tasks/disable', { ids: [3] });

    const ids = async (q: string) => {
      const r = await call('GET', `/api/tasks${q}`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return (r.body.items as { id: number }[]).map((t) => t.id);
    };
    expect(await ids('')).toEqual([1, 2, 3]);
    expect(await ids('?type=mail')).toEqual([1, 3]);
    expect(await ids('?type=nope')).toEqual([]);
    expect(await ids('?priority=high')).toEqual([1]);
    expect(await ids('?priority=none')).toEqual([2, 3]);
    expect(await ids('?policy=oneshot')).toEqual([2]);
    expect(await ids('?status=disabled')).toEqual([3]);
    expect(await ids('?status=disabled&disabledReason=manual')).toEqual([3]);
    expect(await ids('?disabledReason=permfailed')).toEqual([]);
    expect(await ids('?type=mail&status=next_run_not_scheduled')).toEqual([1]);
    expect(await ids('?cursor=1')).toEqual([2, 3]);
    expect(await ids('?limit=1000')).toEqual([1, 2, 3]);
    expect(await ids('?status=disabled,next_run_not_scheduled&type=mail')).toEqual([1, 3]);
    expect(await ids('?args=1')).toEqual([]); // numbers are not argument text
    expect(await ids(`?nextRunFrom=${encodeURIComponent(T0)}&nextRunBefore=2100-01-01T00:00:00Z`)).toEqual([1, 2, 3]);
    expect(await ids('?concurrencyKey=k')).toEqual([]);

    expectError(await call('GET', '/api/tasks?status=sleeping'), 400, 'validation_error', ['query.status']);
    expectError(await call('GET', '/api/tasks?priority=urgent'), 400, 'validation_error', ['query.priority']);
    expectError(await call('GET', '/api/tasks?policy=x'), 400, 'validation_error', ['query.policy']);
    expectError(await call('GET', '/api/tasks?disabledReason=x'), 400, 'validation_error', ['query.disabledReason']);
    expectError(await call('GET', '/api/tasks?type='), 400, 'validation_error', ['query.type']);
    for (const limit of ['0', '-1', '1001', 'abc', '1.5', '', 'Infinity']) {
      expectError(await call('GET', `/api/tasks?limit=${limit}`), 400, 'validation_error', ['query.limit']);
    }
    for (const cursor of ['abc', '-1', '1.5', '', '9999999999999999']) {
      expectError(await call('GET', `/api/tasks?cursor=${cursor}`), 400, 'validation_error', ['query.cursor']);
    }
    expectError(await call('GET', '/api/tasks?colour=red'), 400, 'validation_error', ['query.colour']);
    expectError(await call('GET', '/api/tasks?status=disabled,'), 400, 'validation_error', ['query.status']);
    // A repeated parameter would keep its first value only: refused, lists go comma-separated
    expectError(await call('GET', '/api/tasks?status=disabled&status=next_run_not_scheduled'), 400, 'validation_error', ['query.status']);
    expectError(await call('GET', '/api/runs?limit=5&limit=6'), 400, 'validation_error', ['query.limit']);
    // Whole numbers in decimal digits only (Number() would read these as 16, 100, 5 and 0).
    for (const limit of ['0x10', '1e2', '%205', '', '+5']) {
      expectError(await call('GET', `/api/runs?limit=${limit}`), 400, 'validation_error', ['query.limit']);
    }
    expect((await call('GET', '/api/runs?limit=010')).status).toBe(200);
    // Path ids: up to 2^53 - 1 as in bodies (a 16-digit id was refused as malformed).
    expectError(await call('GET', '/api/tasks/9007199254740991'), 404, 'not_found');
    for (const id of ['9007199254740992', '01', '1e3', '0']) expectError(await call('GET', `/api/tasks/${id}`), 400, 'validation_error', ['id']);
    expectError(await call('GET', '/api/tasks?argsMatch=regex&args=x'), 400, 'validation_error', ['query.argsMatch']);
    expectError(await call('GET', '/api/tasks?argsMatch=prefix'), 400, 'validation_error', ['query.argsMatch']);
    expectError(await call('GET', '/api/tasks?nextRunFrom=soon'), 400, 'validation_error', ['query.nextRunFrom']);
  });

  it('paginates with cursor / nextCursor without repeating or skipping', async () => {
    await mailType();
    await call('POST', '/api/task-types', { name: 'sync', defaultIntervalMs: '1h' });
    const r = await call('POST', '/api/tasks/batch', {
      tasks: Array.from({ length: 25 }, (_, i) => ({ type: i % 3 === 0 ? 'sync' : 'mail', arguments: { args: [i] } })),
    });
    expect(r.body.created).toBe(25);
    const all = (r.body.tasks as { id: number }[]).map((t) => t.id);
    const syncIds = (r.body.tasks as { id: number; type: string }[]).filter((t) => t.type === 'sync').map((t) => t.id);

    const walk = async (query: string, limit: number) => {
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: Reply = await call('GET', `/api/tasks?limit=${limit}${query}${cursor !== null ? `&cursor=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        const items = res.body.items as { id: number }[];
        expect(items.length).toBeLessThanOrEqual(limit);
        if (res.body.nextCursor !== null) {
          expect(items).toHaveLength(limit);
          expect(res.body.nextCursor).toBe(String(items[items.length - 1]!.id));
        }
        seen.push(...items.map((t) => t.id));
        cursor = res.body.nextCursor;
        pages++;
        expect(pages).toBeLessThan(100);
      } while (cursor !== null);
      return { seen, pages };
    };

    for (const limit of [1, 5, 7, 24, 25, 26, 1000]) {
      const { seen, pages } = await walk('', limit);
      expect(seen).toEqual(all);
      expect(new Set(seen).size).toBe(seen.length);
      // A full last page is followed by an empty one, which ends the walk.
      expect(pages).toBe(Math.floor(25 / limit) + 1);
    }
    const filtered = await walk('&type=sync', 3);
    expect(filtered.seen).toEqual(syncIds);
  });

  it('disables tasks (their waiting runs are cancelled) and respawns them; 409 when a run is scheduled', async () => {
    await mailType();
    await task({ type: 'mail', arguments: { args: [1] } });
    await task({ type: 'mail', arguments: { args: [2] } });
    const runs = await schedule();
    expect(runs).toHaveLength(2);

    // A task with a scheduled run cannot be respawned.
    expectError(await call('POST', '/api/tasks/respawn', { ids: [1] }), 409, 'conflict');

    const disabled = await call('POST', '/api/tasks/disable', { ids: [1] });
    expect(disabled.status).toBe(200);
    expect(disabled.body).toEqual([taskJson({ arguments: { args: [1], kwargs: {} }, status: 'disabled', disabledReason: 'manual' })]);
    const run = await call('GET', `/api/runs/${runs[0]!.backendId}`);
    expect(run.body).toMatchObject({ status: 'lost', ended: T0, started: null });

    // Disabling again is harmless.
    expect((await call('POST', '/api/tasks/disable', { ids: [1] })).status).toBe(200);

    const respawned = await call('POST', '/api/tasks/respawn', { ids: [1], nextRun: '2030-01-05T12:00:00Z' });
    expect(respawned.status).toBe(200);
    expect(respawned.body).toEqual([taskJson({ arguments: { args: [1], kwargs: {} }, nextRun: '2030-01-05T12:00:00.000Z' })]);

    await call('POST', '/api/tasks/disable', { ids: [1] });
    h.clock.advance(5000);
    const now = await call('POST', '/api/tasks/respawn', { ids: [1] });
    expect(now.body[0]).toMatchObject({ id: 1, status: 'next_run_not_scheduled', nextRun: at(5000), disabledReason: null });

    // Unknown ids: 404 and nothing changes.
    expectError(await call('POST', '/api/tasks/disable', { ids: [2, 99] }), 404, 'not_found');
    expect((await call('GET', '/api/tasks/2')).body.status).toBe('next_run_scheduled');
    expectError(await call('POST', '/api/tasks/respawn', { ids: [99] }), 404, 'not_found');

    for (const body of [{ ids: [] }, { ids: ['1'] }, { ids: [0] }, { ids: [-3] }, { ids: [1.5] }, { ids: 1 }, {}, { ids: [1], force: true }]) {
      expectError(await call('POST', '/api/tasks/disable', body), 400, 'validation_error');
      expectError(await call('POST', '/api/tasks/respawn', body), 400, 'validation_error');
    }
    expectError(await call('POST', '/api/tasks/respawn', { ids: [1], nextRun: 'later' }), 400, 'validation_error', ['nextRun']);
    expectError(await call('POST', '/api/tasks/disable', { ids: [1], force: true }), 400, 'validation_error', ['force']);
  });

  it('schedules due tasks (all types, one type, at an instant); 404 for an unknown type', async () => {
    await mailType();
    await call('POST', '/api/task-types', { name: 'sync', defaultIntervalMs: '1h' });
    await task({ type: 'mail', arguments: { args: [1] } });
    await task({ type: 'sync', arguments: { args: [2] } });
    await task({ type: 'mail', arguments: { args: [3] }, policy: 'oneshot', nextRun: at(3_600_000) });

    const mail = await call('POST', '/api/tasks/schedule', { type: 'mail' });
    expect(mail.status).toBe(200);
    expect(mail.body).toEqual([runJson()]);
    const later = await call('POST', '/api/tasks/schedule', { at: at(3_600_000) });
    expect(later.status).toBe(200);
    const byTask = [...later.body].sort((x: { task: number }, y: { task: number }) => x.task - y.task);
    expect(byTask).toEqual([
      runJson({ id: expect.any(Number), task: 2, type: 'sync', scheduled: at(3_600_000) }),
      runJson({ id: expect.any(Number), task: 3, scheduled: at(3_600_000), scheduledFor: at(3_600_000) }),
    ]);
    expect((await call('POST', '/api/tasks/schedule', {})).body).toEqual([]);

    expectError(await call('POST', '/api/tasks/schedule', { type: 'nope' }), 404, 'not_found', ['type']);
    expectError(await call('POST', '/api/tasks/schedule', { at: 'now' }), 400, 'validation_error', ['at']);
    expectError(await call('POST', '/api/tasks/schedule', { type: '' }), 400, 'validation_error', ['type']);
    expectError(await call('POST', '/api/tasks/schedule', { type: 7 }), 400, 'validation_error', ['type']);
    expectError(await call('POST', '/api/tasks/schedule', { when: 'now' }), 400, 'validation_error', ['when']);
  });

  it('lists the pending tasks of a type in the runner\'s order (not taken for a task id); 400 for bad query parameters', async () => {
    await mailType();
    await task({ type: 'mail', arguments: { args: [1] }, nextRun: at(60_000) });
    await task({ type: 'mail', arguments: { args: [2] } });
    await task({ type: 'mail', arguments: { args: [3] }, priority: 'high' });
    const pending = await call('GET', '/api/tasks/pending?type=mail');
    expect(pending.status, JSON.stringify(pending.body)).toBe(200);
    expect(pending.body.map((t: { id: number }) => t.id)).toEqual((await h.orrery.listPending('mail')).map((t) => t.id));
    expect(pending.body.map((t: { id: number }) => t.id)).toEqual([3, 2]);
    expect((await call('GET', '/api/tasks/pending?type=mail&limit=1')).body.map((t: { id: number }) => t.id)).toEqual([3]);
    expect((await call('GET', `/api/tasks/pending?type=mail&at=${at(60_000)}`)).body.map((t: { id: number }) => t.id)).toEqual([3, 2, 1]);
    expect((await call('GET', '/api/tasks/pending?type=nope')).body).toEqual([]);
    expectError(await call('GET', '/api/tasks/pending'), 400, 'validation_error', ['query.type']);
    expectError(await call('GET', '/api/tasks/pending?type=mail&limit=0'), 400, 'validation_error', ['query.limit']);
    expectError(await call('GET', '/api/tasks/pending?type=mail&at=soon'), 400, 'validation_error', ['query.at']);
  });
});

describe('runs', () => {
  it('gets a run; 404 for an unknown backend id, one longer than 256 characters included (as the library: it was a 400)', async () => {
    await mailType();
    await task({ type: 'mail' });
    const [run] = await schedule();
    const r = await call('GET', `/api/runs/${run!.backendId}`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual(runJson({ backendId: run!.backendId }));
    expectError(await call('GET', '/api/runs/nope'), 404, 'not_found', ['backendId']);
    expectError(await call('GET', `/api/runs/${'x'.repeat(257)}`), 404, 'not_found', ['backendId']);
    expectError(await call('GET', '/api/runs/nope/logs'), 404, 'not_found');
  });

  it('starts and ends a run from outside; 409 to start twice, 422 to end twice, 404 for unknown runs', async () => {
    await mailType();
    await task({ type: 'mail' });
    const [run] = await schedule();
    const id = run!.backendId;

    // Ending a run that never started is not a valid transition.
    expectError(await call('POST', `/api/runs/${id}/end`, { status: 'eventful' }), 422, 'invalid_transition');

    const started = await call('POST', `/api/runs/${id}/start`, { worker: 'ext-1', metadata: { host: 'a' } });
    expect(started.status).toBe(200);
    expect(started.body).toEqual(runJson({ backendId: id, status: 'started', started: T0, worker: 'ext-1', metadata: { host: 'a' }, leaseExpiresAt: at(30_000) }));
    expectError(await call('POST', `/api/runs/${id}/start`, {}), 409, 'conflict');

    // Another worker cannot end it.
    expectError(await call('POST', `/api/runs/${id}/end`, { status: 'eventful', worker: 'ext-2' }), 409, 'lease_lost');

    h.clock.advance(2000);
    const ended = await call('POST', `/api/runs/${id}/end`, { status: 'eventful', worker: 'ext-1', result: { sent: 3 }, metadata: { took: 2 } });
    expect(ended.status).toBe(200);
    expect(ended.body).toMatchObject({
      run: runJson({ backendId: id, status: 'eventful', started: T0, ended: at(2000), worker: 'ext-1', metadata: { host: 'a', took: 2 }, result: { sent: 3 } }),
      task: taskJson({ nextRun: at(62_000) }),
      taskUpdated: true,
    });

    const twice = await call('POST', `/api/runs/${id}/end`, { status: 'failed' });
    expectError(twice, 422, 'invalid_transition');
    expect((await call('GET', `/api/runs/${id}`)).body.status).toBe('eventful');

    expectError(await call('POST', '/api/runs/nope/start', {}), 404, 'not_found');
    expectError(await call('POST', '/api/runs/nope/end', { status: 'eventful' }), 404, 'not_found');
    expectError(await call('POST', `/api/runs/${id}/end`, { status: 'finished' }), 400, 'validation_error', ['status']);
    expectError(await call('POST', `/api/runs/${id}/end`, {}), 400, 'validation_error', ['status']);
    expectError(await call('POST', `/api/runs/${id}/end`, { status: 'failed', retryAfterMs: -5 }), 400, 'validation_error', ['retryAfterMs']);
    expectError(await call('POST', `/api/runs/${id}/end`, { status: 'failed', retryAfterMs: Number.MAX_SAFE_INTEGER }), 400, 'validation_error', ['retryAfterMs']);
    expectError(await call('POST', `/api/runs/${id}/end`, { status: 'failed', at: 'yesterday' }), 400, 'validation_error', ['at']);
    expectError(await call('POST', `/api/runs/${id}/end`, { status: 'failed', error: 5 }), 400, 'validation_error', ['error']);
    expectError(await call('POST', `/api/runs/${id}/start`, { metadata: [1] }), 400, 'validation_error', ['metadata']);
    expectError(await call('POST', `/api/runs/${id}/start`, { worker: '' }), 400, 'validation_error', ['worker']);
    expectError(await call('POST', `/api/runs/${id}/start`, { host: 'x' }), 400, 'validation_error', ['host']);
    expectError(await call('POST', `/api/runs/${'y'.repeat(300)}/start`, {}), 404, 'not_found', ['backendId']);
  });

  it('cancels a waiting run at once and asks a started one to stop; 409 once ended, 404 unknown', async () => {
    await mailType({ numRetries: 2 });
    await task({ type: 'mail', arguments: { args: ['a'], kwargs: {} } });
    await task({ type: 'mail', arguments: { args: ['b'], kwargs: {} } });
    const [waiting, other] = await schedule();
    h.clock.advance(1000);
    const c = await call('POST', `/api/runs/${waiting!.backendId}/cancel`, {});
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({
      outcome: 'ended',
      run: runJson({ id: expect.any(Number), task: waiting!.task, backendId: waiting!.backendId, status: 'lost', error: 'cancelled', ended: at(1000) }),
      task: { id: waiting!.task, status: 'next_run_not_scheduled', retriesLeft: 2, nextRun: at(61_000) },
      taskUpdated: true,
    });
    expectError(await call('POST', `/api/runs/${waiting!.backendId}/cancel`, {}), 409, 'conflict', ['backendId']);

    await call('POST', `/api/runs/${other!.backendId}/start`, { worker: 'w1' });
    const asked = await call('POST', `/api/runs/${other!.backendId}/cancel`, { at: at(2000) });
    expect(asked.body).toMatchObject({ outcome: 'requested', run: { status: 'started', cancelRequested: true }, taskUpdated: false });
    const hb = await call('POST', '/api/jobboard/heartbeat', { backendId: other!.backendId, worker: 'w1' });
    expect(hb.body).toEqual({ leaseExpiresAt: at(31_000), cancelRequested: true });
    const ended = await call('POST', '/api/jobboard/end', { items: [{ backendId: other!.backendId, worker: 'w1', status: 'failed', error: 'cancelled' }] });
    expect(ended.body.outcomes[0].ok).toMatchObject({ run: { status: 'failed', error: 'cancelled' }, task: { retriesLeft: 2 } });

    expectError(await call('POST', '/api/runs/nope/cancel', {}), 404, 'not_found');
    expectError(await call('POST', `/api/runs/${other!.backendId}/cancel`, { at: 'soon' }), 400, 'validation_error', ['at']);
  });

  it('a failed run with retries is retried after retryAfterMs', async () => {
    await mailType({ numRetries: 2 });
    await task({ type: 'mail' });
    const [run] = await schedule();
    await call('POST', `/api/runs/${run!.backendId}/start`, {});
    const ended = await call('POST', `/api/runs/${run!.backendId}/end`, { status: 'failed', error: 'smtp down', retryAfterMs: 90_000 });
    expect(ended.status).toBe(200);
    expect(ended.body.run).toMatchObject({ status: 'failed', error: 'smtp down' });
    // the retry serves the same instant as the run that failed
    expect(ended.body.task).toEqual(taskJson({ retriesLeft: 1, nextAttempt: 2, nextRun: at(90_000), scheduledFor: T0 }));
  });

  it('appends log records and reads them back; 404 for unknown runs, 400 for bad records', async () => {
    await mailType();
    await task({ type: 'mail' });
    const [run] = await schedule();
    const id = run!.backendId;
    expect((await call('GET', `/api/runs/${id}/logs`)).body).toEqual([]);

    const appended = await call('POST', '/api/jobboard/logs', {
      backendId: id,
      records: [
        { at: '2030-01-01T00:00:01Z', level: 'info', message: 'connecting', attributes: { host: 'smtp' } },
        { at: '2030-01-01T01:00:02.5+01:00', level: 'error', message: 'refused' },
      ],
    });
    expect(appended.status).toBe(204);
    expect(appended.text).toBe('');
    await call('POST', '/api/jobboard/logs', { backendId: id, records: [{ at: '2030-01-01T00:00:03Z', level: 'debug', message: 'retry', attributes: {} }] });

    const logs = await call('GET', `/api/runs/${id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body).toEqual([
      { id: expect.any(Number), at: '2030-01-01T00:00:01.000Z', level: 'info', message: 'connecting', attributes: { host: 'smtp' } },
      { id: expect.any(Number), at: '2030-01-01T00:00:02.500Z', level: 'error', message: 'refused', attributes: {} },
      { id: expect.any(Number), at: '2030-01-01T00:00:03.000Z', level: 'debug', message: 'retry', attributes: {} },
    ]);
    // Following: only the records after a cursor (the last id read), a page at a time.
    const [first, second, third] = logs.body as Array<{ id: number; message: string }>;
    const after = await call('GET', `/api/runs/${id}/logs?after=${first!.id}&limit=1`);
    expect(after.body).toEqual([expect.objectContaining({ id: second!.id, message: 'refused' })]);
    expect((await call('GET', `/api/runs/${id}/logs?after=${third!.id}`)).body).toEqual([]);
    expectError(await call('GET', `/api/runs/${id}/logs?after=-1`), 400, 'validation_error', ['query.after']);
    expectError(await call('GET', `/api/runs/${id}/logs?limit=0`), 400, 'validation_error', ['query.limit']);
    expectError(await call('GET', `/api/runs/${id}/logs?since=1`), 400, 'validation_error', ['query.since']);

    expectError(await call('POST', '/api/jobboard/logs', { backendId: 'nope', records: [{ at: T0, level: 'info', message: 'x' }] }), 404, 'not_found');
    expectError(await call('POST', '/api/jobboard/logs', { backendId: id, records: [{ at: T0, level: 'loud', message: 'x' }] }), 400, 'validation_error', ['records[0].level']);
    expectError(await call('POST', '/api/jobboard/logs', { backendId: id, records: [{ at: 'noon', level: 'info', message: 'x' }] }), 400, 'validation_error', ['records[0].at']);
    expectError(await call('POST', '/api/jobboard/logs', { backendId: id, records: [{ at: T0, level: 'info' }] }), 400, 'validation_error', ['records[0].message']);
    expectError(await call('POST', '/api/jobboard/logs', { backendId: id, records: [{ at: T0, level: 'info', message: 'x', tag: 1 }] }), 400, 'validation_error', ['records[0].tag']);
    expectError(await call('POST', '/api/jobboard/logs', { backendId: id }), 400, 'validation_error', ['records']);
    expect((await call('GET', `/api/runs/${id}/logs`)).body).toHaveLength(3);
  });
});

describe('jobboard', () => {
  it('claim -> held -> heartbeat -> end with per-item outcomes -> task state', async () => {
    await mailType({ numRetries: 1 });
    await task({ type: 'mail', arguments: { args: [1] } });
    await task({ type: 'mail', arguments: { args: [2] }, priority: 'high' });
    await task({ type: 'mail', arguments: { args: [3] } });
    await schedule();

    // Claim ahead: two runs, the first started at once, the second claimed into the worker's buffer.
    const claimed = await call('POST', '/api/jobboard/claim', { worker: 'w1', types: ['mail', 'other'], limit: 2, startNow: 1 });
    expect(claimed.status).toBe(200);
    expect(claimed.body).toEqual([
      {
        run: runJson({ id: expect.any(Number), task: 2, status: 'started', started: T0, worker: 'w1', leaseExpiresAt: at(30_000) }),
        arguments: { args: [2], kwargs: {} },
        backendName: 'mail',
        leaseMs: 30_000,
        timeoutMs: null,
      },
      {
        run: runJson({ id: expect.any(Number), task: 1, status: 'claimed', started: null, worker: 'w1', leaseExpiresAt: at(30_000) }),
        arguments: { args: [1], kwargs: {} },
        backendName: 'mail',
        leaseMs: 30_000,
        timeoutMs: null,
      },
    ]);
    const [a, b] = claimed.body.map((c: { run: { backendId: string } }) => c.run.backendId) as [string, string];

    const held = await call('POST', '/api/jobboard/held', { worker: 'w1' });
    expect(held.status).toBe(200);
    expect(held.body.map((c: { run: { backendId: string } }) => c.run.backendId).sort()).toEqual([a, b].sort());
    expect((await call('POST', '/api/jobboard/held', { worker: 'w2' })).body).toEqual([]);

    const third = (await call('POST', '/api/jobboard/claim', { worker: 'w2', types: ['mail'], limit: 10, startNow: 0 })).body as Array<{ run: { backendId: string; task: number; status: string } }>;
    expect(third[0]!.run.status).toBe('claimed');
    expect(third).toHaveLength(1);
    expect(third[0]!.run.task).toBe(3);
    expect(await claim('w3')).toEqual([]);

    // One heartbeat for all of a worker's runs: begun ones are marked started; others' runs are lost to it.
    // (a start reported after the heartbeat's instant would be recorded at it: the clock stands at T0 here)
    const beat = await call('POST', '/api/jobboard/heartbeat-runs', { worker: 'w1', runs: [{ backendId: b, startedAt: T0 }, { backendId: third[0]!.run.backendId }] });
    const w2Run = third[0]!.run.backendId;
    expect(beat.status).toBe(200);
    expect(beat.body).toEqual({ renewed: 1, lost: [third[0]!.run.backendId], cancelRequested: [] });
    expect((await call('GET', `/api/runs/${b}`)).body).toMatchObject({ status: 'started', started: T0 });
    expectError(await call('POST', '/api/jobboard/heartbeat-runs', { worker: 'w1', runs: [{ backendId: b, startedAt: 'soon' }] }), 400, 'validation_error', ['runs[0].startedAt']);
    // Giving a claimed run back: it waits in the queue again, and is claimed like any other.
    expect((await call('POST', '/api/jobboard/release', { worker: 'w2', backendIds: [w2Run] })).body).toEqual({ released: 1 });
    expect((await call('GET', `/api/runs/${third[0]!.run.backendId}`)).body).toMatchObject({ status: 'scheduled', worker: null });
    expectError(await call('POST', '/api/jobboard/release', { worker: '', backendIds: [] }), 400, 'validation_error', ['worker']);
    expect((await claim('w2')).map((c) => c.run.task)).toEqual([3]);

    h.clock.advance(10_000);
    const hb = await call('POST', '/api/jobboard/heartbeat', { backendId: a, worker: 'w1' });
    expect(hb.status).toBe(200);
    expect(hb.body).toEqual({ leaseExpiresAt: at(40_000), cancelRequested: false });
    expect((await call('GET', `/api/runs/${a}`)).body.leaseExpiresAt).toBe(at(40_000));

    // A worker that does not hold the run: lease_lost.
    expectError(await call('POST', '/api/jobboard/heartbeat', { backendId: a, worker: 'w2' }), 409, 'lease_lost');
    expectError(await call('POST', '/api/jobboard/heartbeat', { backendId: 'nope', worker: 'w1' }), 404, 'not_found'); // an unknown run, not a lost lease

    h.clock.advance(1000);
    const end = await call('POST', '/api/jobboard/end', {
      items: [
        { backendId: a, worker: 'w1', status: 'eventful', result: { n: 1 }, startedAt: at(500) },
        { backendId: b, worker: 'w2', status: 'uneventful' },
        { backendId: 'nope', worker: 'w1', status: 'eventful' },
        { backendId: b, worker: 'w1', status: 'failed', error: 'boom', metadata: { attempt: 'first' } },
      ],
    });
    expect(end.status).toBe(200);
    const outcomes = end.body.outcomes as Array<{ ok?: any; error?: any }>;
    expect(outcomes).toHaveLength(4);
    expect(outcomes[0]!.ok).toMatchObject({
      run: { backendId: a, status: 'eventful', started: T0, ended: at(11_000), result: { n: 1 }, worker: 'w1', leaseExpiresAt: null }, // started at the claim
      task: taskJson({ id: 2, arguments: { args: [2], kwargs: {} }, priority: 'high', nextRun: at(71_000), retriesLeft: 1 }),
      taskUpdated: true,
    });
    expect(errorOf(outcomes[1]).code).toBe('lease_lost');
    expect(errorOf(outcomes[2]).code).toBe('not_found');
    expect(outcomes[3]!.ok).toMatchObject({
      run: { backendId: b, status: 'failed', error: 'boom', metadata: { attempt: 'first' } },
      task: { id: 1, status: 'next_run_not_scheduled', retriesLeft: 0, nextAttempt: 2, nextRun: at(11_000 + 3_600_000) },
    });

    // The tasks' state after the end.
    expect((await call('GET', '/api/tasks/2')).body).toMatchObject({ status: 'next_run_not_scheduled', nextRun: at(71_000), runs: [{ status: 'eventful' }] });
    expect((await call('GET', '/api/tasks/1')).body).toMatchObject({ status: 'next_run_not_scheduled', retriesLeft: 0, runs: [{ status: 'failed' }] });
    expect((await call('POST', '/api/jobboard/held', { worker: 'w1' })).body).toEqual([]);

    // Ending again: per-item invalid_transition in /jobboard/end, 422 in /runs/:id/end.
    const again = await call('POST', '/api/jobboard/end', { items: [{ backendId: a, worker: 'w1', status: 'eventful' }] });
    expect(again.status).toBe(200);
    expect(errorOf(again.body.outcomes[0]).code).toBe('invalid_transition');
    expectError(await call('POST', `/api/runs/${a}/end`, { status: 'eventful', worker: 'w1' }), 422, 'invalid_transition');
    expectError(await call('POST', '/api/jobboard/heartbeat', { backendId: a, worker: 'w1' }), 409, 'lease_lost');
  });

  it('abandon gives a held run back: it ends lost, its task is due again at once', async () => {
    await mailType();
    await task({ type: 'mail' });
    await schedule();
    const [c] = await claim('w1');
    const id = c!.run.backendId;
    h.clock.advance(4000);

    expectError(await call('POST', '/api/jobboard/abandon', { backendId: id, worker: 'w2' }), 409, 'lease_lost');
    expectError(await call('POST', '/api/jobboard/abandon', { backendId: 'nope', worker: 'w1' }), 404, 'not_found');

    const r = await call('POST', '/api/jobboard/abandon', { backendId: id, worker: 'w1', reason: 'shutting down' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      run: runJson({ backendId: id, status: 'lost', started: T0, ended: at(4000), worker: 'w1', error: 'shutting down' }),
      task: taskJson({ nextRun: at(4000), scheduledFor: T0, consecutiveAbandons: 1 }),
      taskUpdated: true,
    });
    expectError(await call('POST', '/api/jobboard/abandon', { backendId: id, worker: 'w1' }), 422, 'invalid_transition');

    // Due again at once: the next pass schedules it.
    const next = await schedule();
    expect(next).toHaveLength(1);
    expect(next[0]!.task).toBe(1);
    // A scheduled run (waiting in the queue) is held by no worker: abandoning it is a lost lease.
    expectError(await call('POST', '/api/jobboard/abandon', { backendId: next[0]!.backendId, worker: 'w1' }), 409, 'lease_lost');

    expectError(await call('POST', '/api/jobboard/abandon', { backendId: id }), 400, 'validation_error', ['worker']);
    expectError(await call('POST', '/api/jobboard/abandon', { backendId: id, worker: 'w1', reason: 5 }), 400, 'validation_error', ['reason']);
  });

  it('a route whose body fields are all optional takes no body as {}; one with a required field still needs one', async () => {
    await mailType();
    await task({ type: 'mail' });
    const [run] = await schedule();
    const r = await call('POST', `/api/runs/${run!.backendId}/cancel`, undefined, { raw: '', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ outcome: 'ended', run: { status: 'lost', error: 'cancelled' } });
    expectError(await call('POST', '/api/jobboard/abandon', undefined, { raw: '' }), 400, 'bad_request');
    expectError(await call('POST', '/api/tasks/bulk/disable', undefined, { raw: '' }), 400, 'validation_error');
  });

  it('abandon of a claimed run records the startedAt it carries', async () => {
    await mailType();
    await task({ type: 'mail' });
    await schedule();
    const r = await call('POST', '/api/jobboard/claim', { worker: 'w1', types: ['mail'], limit: 10, startNow: 0 });
    const id = (r.body as Array<{ run: { backendId: string; status: string } }>)[0]!.run.backendId;
    expectError(await call('POST', '/api/jobboard/abandon', { backendId: id, worker: 'w1', startedAt: 'soon' }), 400, 'validation_error', ['startedAt']);
    h.clock.advance(4000);
    const a = await call('POST', '/api/jobboard/abandon', { backendId: id, worker: 'w1', startedAt: at(1000) });
    expect(a.status).toBe(200);
    expect(a.body.run).toMatchObject({ status: 'lost', started: at(1000), ended: at(4000) });
  });

  it('a claim naming a type that does not exist claims nothing of it, without an error (http.md)', async () => {
    await mailType();
    await task({ type: 'mail' });
    expect((await call('POST', '/api/jobboard/claim', { worker: 'w1', types: ['no-such-type'], limit: 10 })).body).toEqual([]);
    const both = await call('POST', '/api/jobboard/claim', { worker: 'w1', types: ['no-such-type', 'mail'], limit: 10 });
    expect(both.status).toBe(200);
    expect((both.body as Array<{ run: { type: string } }>).map((c) => c.run.type)).toEqual(['mail']);
  });

  it('400 for malformed jobboard requests', async () => {
    await mailType();
    const bad: Array<[string, unknown, string[]]> = [
      ['/api/jobboard/claim', { worker: 'w', types: ['mail'], limit: 0 }, ['limit']],
      ['/api/jobboard/claim', { worker: 'w', types: ['mail'], limit: 1001 }, ['limit']],
      ['/api/jobboard/claim', { worker: 'w', types: ['mail'], limit: 1.5 }, ['limit']],
      ['/api/jobboard/claim', { worker: 'w', types: ['mail'], limit: '2' }, ['limit']],
      ['/api/jobboard/claim', { worker: 'w', types: [], limit: 1 }, ['types']],
      ['/api/jobboard/claim', { worker: 'w', types: 'mail', limit: 1 }, ['types']],
      ['/api/jobboard/claim', { worker: '', types: ['mail'], limit: 1 }, ['worker']],
      ['/api/jobboard/claim', { types: ['mail'], limit: 1 }, ['worker']],
      ['/api/jobboard/claim', { worker: 'w', types: ['mail'], limit: 1, lease: 5 }, ['lease']],
      ['/api/jobboard/held', {}, ['worker']],
      ['/api/jobboard/held', { worker: 5 }, ['worker']],
      ['/api/jobboard/heartbeat', { backendId: 'x' }, ['worker']],
      ['/api/jobboard/heartbeat', { backendId: ['x'], worker: 'w' }, ['backendId']],
      ['/api/jobboard/end', { items: [] }, ['items']],
      ['/api/jobboard/end', { items: [{ backendId: 'x', worker: 'w', status: 'done' }] }, ['items[0].status']],
      // A holder does not end its run lost (SPEC §2.3): it abandons it.
      ['/api/jobboard/end', { items: [{ backendId: 'x', worker: 'w', status: 'lost' }] }, ['items[0].status']],
      ['/api/jobboard/end', { items: [{ backendId: 'x', status: 'eventful' }] }, ['items[0].worker']],
      ['/api/jobboard/end', { items: [{ backendId: 'x', worker: 'w', status: 'eventful', at: T0 }] }, ['items[0].at']],
      ['/api/jobboard/end', { items: {} }, ['items']],
      ['/api/jobboard/abandon', { worker: 'w' }, ['backendId']],
    ];
    for (const [path, body, paths] of bad) expectError(await call('POST', path, body), 400, 'validation_error', paths);
    for (const path of ['/api/jobboard/claim', '/api/jobboard/held', '/api/jobboard/heartbeat', '/api/jobboard/end', '/api/jobboard/abandon', '/api/jobboard/logs']) {
      expectError(await call('POST', path, undefined, { raw: '{' }), 400, 'bad_request');
      expectError(await call('POST', path), 400, 'bad_request');
      expectError(await call('POST', path, undefined, { raw: '[]' }), 400, 'validation_error');
    }
  });
});

describe('instants in requests', () => {
  it('an instant without an offset, or a date alone, is read as UTC by every route that takes one (the archive\'s before excepted)', async () => {
    await mailType();
    await task({ type: 'mail', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    await call('POST', '/api/tasks/disable', { ids: [1] });
    const respawned = await call('POST', '/api/tasks/respawn', { ids: [1], nextRun: '2030-01-02' });
    expect(respawned.status, JSON.stringify(respawned.body)).toBe(200);
    expect(respawned.body[0].nextRun).toBe('2030-01-02T00:00:00.000Z');
    await call('POST', '/api/tasks/disable', { ids: [1] });
    const bulk = await call('POST', '/api/tasks/bulk/respawn', { ids: [1], nextRun: '2030-01-01T00:00:30' });
    expect(bulk.status, JSON.stringify(bulk.body)).toBe(200);
    expect((await call('GET', '/api/tasks/1')).body.nextRun).toBe('2030-01-01T00:00:30.000Z');
    h.clock.advance(60_000);
    const scheduled = await call('POST', '/api/tasks/schedule', { at: '2030-01-01 00:00:40' });
    expect(scheduled.status, JSON.stringify(scheduled.body)).toBe(200);
    expect(scheduled.body).toEqual([runJson({ scheduled: '2030-01-01T00:00:40.000Z', scheduledFor: '2030-01-01T00:00:30.000Z', id: scheduled.body[0].id })]);
    const claimed = await call('POST', '/api/jobboard/claim', { worker: 'w1', types: ['mail'], limit: 1, startNow: 0 });
    const c = claimed.body[0];
    const beat = await call('POST', '/api/jobboard/heartbeat-runs', { worker: 'w1', runs: [{ backendId: c!.run.backendId, startedAt: '2030-01-01T00:00:50' }] });
    expect(beat.status, JSON.stringify(beat.body)).toBe(200);
    expect((await call('GET', `/api/runs/${c!.run.backendId}`)).body.started).toBe('2030-01-01T00:00:50.000Z');
    const visits = await call('GET', '/api/origins/visits?url=https%3A%2F%2Fx.example&visitType=git&before=2030-01-02');
    expect(visits.status, JSON.stringify(visits.body)).toBe(200);
    for (const q of ['status=', 'status=,', 'status=%20']) expectError(await call('GET', `/api/runs?${q}`), 400, 'validation_error', ['query.status']);
    // Still refused: what is not an instant, and a day past the end of its month.
    for (const bad of ['soon', '2030-02-30', '2030-01-01T25:00:00', ' 2030-01-01']) {
      expectError(await call('POST', '/api/tasks/schedule', { at: bad }), 400, 'validation_error', ['at']);
    }
    // The archive's cut-off needs its offset, and its refusal says so (it said only "must be an ISO 8601 instant").
    for (const bad of ['2030-01-01T00:00:00', '2030-01-01']) {
      const r = await call('POST', '/api/archive', { before: bad });
      expectError(r, 400, 'validation_error', ['before']);
      expect(r.body.error.details[0].message).toContain('with its offset');
    }
  });
});

describe('other errors', () => {
  it('404 for unknown routes and for methods a route does not have, in the error shape', async () => {
    for (const [method, path] of [
      ['GET', '/api/nothing'],
      ['GET', '/api'],
      ['GET', '/'],
      ['GET', '/api/tasks/1/extra'],
      ['GET', '/api/tasks/'],
      ['PUT', '/api/tasks'],
      ['DELETE', '/api/tasks/1'],
      ['PATCH', '/api/tasks/1'],
      ['GET', '/api/jobboard/claim'],
      ['POST', '/api/tasks/1'],
      ['POST', '/api/task-types/mail'],
      ['OPTIONS', '/api/tasks'],
    ] as const) {
      const r = await call(method, path);
      expectError(r, 404, 'not_found');
    }
  });

  it('413 for a body over the limit', async () => {
    const r = await call('POST', '/api/jobboard/held', undefined, { raw: JSON.stringify({ worker: 'x'.repeat(5 * 1024 * 1024) }) });
    expectError(r, 413, 'payload_too_large');
  });

  it('400, not 500, for deeply nested JSON', async () => {
    await mailType();
    await task({ type: 'mail' });
    const [run] = await schedule();
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    for (const [path, raw] of [
      ['/api/tasks', `{"type":"mail","arguments":{"args":${deep(5000)}}}`],
      ['/api/tasks/batch', `{"tasks":[{"type":"mail","arguments":{"args":${deep(100_000)}}}]}`],
      [`/api/runs/${run!.backendId}/start`, `{"metadata":{"a":${deep(5000)}}}`],
      [`/api/runs/${run!.backendId}/end`, `{"status":"failed","result":${deep(5000)}}`],
      ['/api/jobboard/logs', `{"backendId":"${run!.backendId}","records":[{"at":"${T0}","level":"info","message":"x","attributes":{"a":${deep(5000)}}}]}`],
    ] as const) {
      expectError(await call('POST', path, undefined, { raw }), 400, 'bad_request');
    }
    expect((await call('GET', `/api/runs/${run!.backendId}`)).body.status).toBe('scheduled');
    // Moderate nesting is fine.
    expect((await call('POST', '/api/tasks', undefined, { raw: `{"type":"mail","arguments":{"args":${deep(50)}}}` })).status).toBe(201);
    // The limit counts from the field, as the library's does (arguments is level 1): 128 levels pass on every route
    // (the body's envelope was counted too: 127 passed on /api/tasks, 126 in a batch), 129 is refused naming the field.
    const args = (levels: number, i: number) => `{"type":"mail","policy":"oneshot","nextRun":"2030-01-0${i}T00:00:00Z","arguments":{"kwargs":{},"args":${deep(levels - 1)}}}`;
    expect((await call('POST', '/api/tasks', undefined, { raw: args(128, 1) })).status).toBe(201);
    expect((await call('POST', '/api/tasks/batch', undefined, { raw: `{"tasks":[${args(128, 2)}]}` })).status).toBe(201);
    expect((await call('POST', '/api/tasks/import', undefined, { raw: `${args(128, 3)}\n`, headers: { 'content-type': 'application/x-ndjson' } })).status).toBe(201);
    expectError(await call('POST', '/api/tasks', undefined, { raw: args(129, 4) }), 400, 'validation_error', ['arguments']);
  });

  it('/healthz answers, /metrics is 404 when not enabled', async () => {
    const r = await call('GET', '/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
    expectError(await call('GET', '/metrics'), 404, 'not_found');
  });

  it('/api/openapi.json is served', async () => {
    const r = await call('GET', '/api/openapi.json');
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe('3.1.0');
  });
});

describe('GET /api/events (server-sent events)', () => {
  interface SseEvent {
    event: string;
    data: string;
  }

  /** Reads SSE events from a response body, one at a time, failing after `timeoutMs`. */
  function sseReader(res: Response) {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const next = async (timeoutMs = 5000): Promise<SseEvent> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const sep = buffer.indexOf('\n\n');
        if (sep >= 0) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          const ev: SseEvent = { event: 'message', data: '' };
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) ev.event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          ev.data = data.join('\n');
          return ev;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error('timed out waiting for an SSE event');
        let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out waiting for an SSE event')), left);
          }),
        ]).finally(() => clearTimeout(timer));
        if (chunk.done) throw new Error('the event stream ended');
        buffer += decoder.decode(chunk.value, { stream: true });
      }
    };
    /** The next event other than `work` (wake-ups for workers, interleaved with the run events). */
    const nextRunOrReady = async (timeoutMs = 5000): Promise<SseEvent> => {
      for (;;) {
        const e = await next(timeoutMs);
        if (e.event !== 'work') return e;
      }
    };
    return { next: nextRunOrReady, raw: next, cancel: () => reader.cancel() };
  }

  it('sends one `work` event when tasks are created or runs scheduled, so remote workers claim at once', async () => {
    await mailType();
    const sse = sseReader(await h.app.request('/api/events'));
    try {
      expect(await sse.raw()).toEqual({ event: 'ready', data: '{}' });
      await task({ type: 'mail', arguments: { args: ['w'] } });
      expect(await sse.raw()).toEqual({ event: 'work', data: '{}' });
      const [run] = await schedule();
      const events = [await sse.raw(), await sse.raw()].map((e) => e.event).sort();
      expect(events).toEqual(['run', 'work']);
      expect(run).toBeDefined();
    } finally {
      await sse.cancel();
    }
  });

  it('streams ready, then scheduled, started and ended run events', async () => {
    await mailType();
    await task({ type: 'mail', arguments: { args: [1] } });

    const res = await h.app.request('/api/events');
    h.log.push({ method: 'GET', path: '/api/events', template: '/api/events', requestBody: undefined, raw: false, status: res.status, body: null, contentType: res.headers.get('content-type') });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const sse = sseReader(res);
    try {
      expect(await sse.next()).toEqual({ event: 'ready', data: '{}' });
      expect(h.orrery.events.listenerCount('run')).toBe(1);

      const [run] = await schedule();
      const [claimed] = await claim('w1');
      expect(claimed!.run.backendId).toBe(run!.backendId);
      h.clock.advance(1500);
      await call('POST', '/api/jobboard/end', { items: [{ backendId: run!.backendId, worker: 'w1', status: 'uneventful' }] });

      const events = [await sse.next(), await sse.next(), await sse.next()];
      expect(events.map((e) => e.event)).toEqual(['run', 'run', 'run']);
      const data = events.map((e) => JSON.parse(e.data));
      expect(data).toEqual([
        { event: 'scheduled', run: runJson({ backendId: run!.backendId }) },
        { event: 'started', run: runJson({ backendId: run!.backendId, status: 'started', started: T0, worker: 'w1', leaseExpiresAt: at(30_000) }) },
        { event: 'ended', run: runJson({ backendId: run!.backendId, status: 'uneventful', started: T0, ended: at(1500), worker: 'w1' }) },
      ]);
    } finally {
      await sse.cancel();
    }
    // Closing the stream unsubscribes it.
    for (let i = 0; i < 50 && h.orrery.events.listenerCount('run') > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.orrery.events.listenerCount('run')).toBe(0);
  });

  it('two streams both see the same events', async () => {
    await mailType();
    await task({ type: 'mail' });
    const s1 = sseReader(await h.app.request('/api/events'));
    const s2 = sseReader(await h.app.request('/api/events'));
    try {
      expect((await s1.next()).event).toBe('ready');
      expect((await s2.next()).event).toBe('ready');
      const [run] = await schedule();
      for (const s of [s1, s2]) {
        const e = await s.next();
        expect(e.event).toBe('run');
        expect(JSON.parse(e.data)).toMatchObject({ event: 'scheduled', run: { backendId: run!.backendId } });
      }
    } finally {
      await s1.cancel();
      await s2.cancel();
    }
  });

  it(`keeps a client through a burst of events, and disconnects one that took none for ${SSE_STALL_MS} ms with ${SSE_MAX_BACKLOG} waiting`, async () => {
    const big = { event: 'scheduled', run: { backendId: 'x', padding: 'p'.repeat(10_000) } };
    // A burst (one pass scheduling thousands of runs) to a client that reads: every event arrives.
    const reading = sseReader(await h.app.request('/api/events'));
    try {
      expect((await reading.raw()).event).toBe('ready');
      for (let i = 0; i < SSE_MAX_BACKLOG * 3; i++) h.orrery.events.emit('run', big as never);
      for (let i = 0; i < SSE_MAX_BACKLOG * 3; i++) expect((await reading.raw()).event).toBe('run');
    } finally {
      await reading.cancel();
    }
    // A client that stopped reading after `ready`: events wait; once it has taken none for the stall
    // time with the backlog full, it is disconnected and its stream ends.
    const res = await h.app.request('/api/events');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('event: ready');
    expect(h.orrery.events.listenerCount('run')).toBe(1);
    for (let i = 0; i < SSE_MAX_BACKLOG * 2; i++) h.orrery.events.emit('run', big as never);
    expect(h.orrery.events.listenerCount('run')).toBe(1); // a burst: not yet a stall
    h.clock.advance(SSE_STALL_MS + 1);
    h.orrery.events.emit('run', big as never);
    expect(h.orrery.events.listenerCount('run')).toBe(0);
    let bytes = 0;
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      bytes += chunk.value.byteLength;
    }
    expect(bytes).toBeLessThan((SSE_MAX_BACKLOG * 2 + 10) * 10_100);
  });

  it('disconnects a stalled client once events have stopped too (checked every second), and a HEAD subscribes nothing', async () => {
    const before = h.orrery.events.listenerCount('run');
    for (let i = 0; i < 20; i++) {
      const head = await h.app.request('/api/events', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/);
    }
    expect(h.orrery.events.listenerCount('run')).toBe(before); // a probe leaves no subscriber behind
    const big = { event: 'scheduled', run: { backendId: 'x', padding: 'p'.repeat(10_000) } };
    const res = await h.app.request('/api/events');
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('event: ready');
    for (let i = 0; i < SSE_MAX_BACKLOG * 2; i++) h.orrery.events.emit('run', big as never);
    expect(h.orrery.events.listenerCount('run')).toBe(before + 1);
    // Let the stream take what it can before the client's buffer is full (its writes settle on later turns).
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    h.clock.advance(SSE_STALL_MS + 1); // no event after this: the check finds the stall by itself
    await vi.waitFor(() => expect(h.orrery.events.listenerCount('run')).toBe(before), { timeout: 5_000, interval: 50 });
    await reader.cancel();
  });
});

describe('coverage', () => {
  it('every route in the route table answered a 2xx in this file', () => {
    const missing = routes.map((r) => `${r.method.toUpperCase()} /api${r.path.replace(/:(\w+)/g, '{$1}')}`).filter((k) => !succeeded.has(k));
    expect(missing).toEqual([]);
    expect(succeeded.has('GET /api/events')).toBe(true);
  });
});
