import { afterEach, describe, expect, it } from 'vitest';
import { openHttp, T0, type HttpHarness } from './http-helpers.js';

describe('HTTP: task types at runtime (docs/http.md)', () => {
  let h: HttpHarness;
  afterEach(async () => h.close());

  it('PATCH edits, /pause and /resume change the state, DELETE removes a type without tasks', async () => {
    h = await openHttp();
    expect((await h.call('POST', '/api/task-types', { name: 'fetch', maxRunning: 2 })).status).toBe(201);
    const edited = await h.call('PATCH', '/api/task-types/fetch', { maxRunning: null, numRetries: 3, rateLimit: '10/1m' });
    expect(edited.status).toBe(200);
    expect(edited.body).toMatchObject({ name: 'fetch', maxRunning: null, numRetries: 3, rateLimit: { count: 10, perMs: 60_000 }, paused: null });

    const paused = await h.call('POST', '/api/task-types/fetch/pause', { reason: 'upstream down' });
    expect(paused.status).toBe(200);
    expect(paused.body.paused).toEqual({ at: T0, reason: 'upstream down' });
    expect((await h.call('GET', '/api/task-types')).body[0].paused).toEqual({ at: T0, reason: 'upstream down' });
    expect((await h.call('POST', '/api/task-types/fetch/resume')).body.paused).toBeNull();

    const task = await h.call('POST', '/api/tasks', { type: 'fetch', policy: 'oneshot' });
    expect(task.status).toBe(201);
    // The task search by pause (GET /api/tasks?paused=true|false).
    expect((await h.call('POST', `/api/tasks/${task.body.id}/pause`, { reason: 'later' })).status).toBe(200);
    expect((await h.call('GET', '/api/tasks?paused=true')).body.items.map((t: { id: number }) => t.id)).toEqual([task.body.id]);
    expect((await h.call('GET', '/api/tasks?paused=false&type=fetch')).body.items).toEqual([]);
    expect((await h.call('GET', '/api/tasks?paused=yes')).status).toBe(400);
    const busy = await h.call('DELETE', '/api/task-types/fetch');
    expect(busy.status).toBe(409);
    expect(busy.body.error.message).toMatch(/still has 1 task/);

    expect((await h.call('POST', '/api/task-types', { name: 'spare' })).status).toBe(201);
    const gone = await h.call('DELETE', '/api/task-types/spare');
    expect(gone.status).toBe(204);
    expect(gone.text).toBe('');
    expect((await h.call('GET', '/api/task-types/spare')).status).toBe(404);
  });

  it('bad edits are 400 naming the field, unknown types 404; nothing changes', async () => {
    h = await openHttp();
    await h.call('POST', '/api/task-types', { name: 'fetch' });
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['PATCH', '/api/task-types/fetch', { backendName: 'x' }, 400, /backendName: cannot be changed/],
      ['PATCH', '/api/task-types/fetch', { leaseMs: 5 }, 400, /leaseMs: must be at least 1s/],
      ['PATCH', '/api/task-types/fetch', { nope: 1 }, 400, /nope/],
      ['PATCH', '/api/task-types/fetch', {}, 400, /nothing to change/],
      ['PATCH', '/api/task-types/fetch', { fairShare: { weights: { 'tenant-a': 0 } } }, 400, /"path":"fairShare\.weights\.tenant-a","message":"must be at least 1"/],
      ['PATCH', '/api/task-types/fetch', { fifoPerKey: true, maxRunningPerKey: 3 }, 400, /maxRunningPerKey: must be null or 1 with fifoPerKey/],
      ['PATCH', '/api/task-types/fetch', { rateLimitPerKey: '5' }, 400, /rateLimitPerKey: .*COUNT\/DURATION/],
      ['POST', '/api/task-types', { name: 'other', fairShare: 'yes' }, 400, /"path":"fairShare"/],
      ['PATCH', '/api/task-types/missing', { numRetries: 1 }, 404, /unknown task type/],
      ['POST', '/api/task-types/fetch/pause', { reason: 5 }, 400, /reason/],
      ['POST', '/api/task-types/fetch/pause', { why: 'x' }, 400, /why/],
      ['POST', '/api/task-types/missing/pause', {}, 404, /unknown task type/],
      ['DELETE', '/api/task-types/missing', undefined, 404, /unknown task type/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await h.call(method, path, body);
      expect([method, path, r.status]).toEqual([method, path, status]);
      expect(JSON.stringify(r.body)).toMatch(message);
    }
    expect((await h.call('GET', '/api/task-types/fetch')).body).toMatchObject({ backendName: 'fetch', leaseMs: 30_000, paused: null, fairShare: null, fifoPerKey: false, rateLimitPerKey: null });
    expect((await h.call('GET', '/api/task-types/other')).status).toBe(404);
  });

  it('the OpenAPI document describes the new operations', async () => {
    h = await openHttp();
    const doc = (await h.call('GET', '/api/openapi.json')).body;
    expect(Object.keys(doc.paths['/api/task-types/{name}'])).toEqual(expect.arrayContaining(['get', 'patch', 'delete']));
    expect(doc.paths['/api/task-types/{name}/pause'].post).toBeDefined();
    expect(doc.paths['/api/task-types/{name}/resume'].post).toBeDefined();
  });
});

describe('HTTP: runs across tasks (docs/http.md)', () => {
  let h: HttpHarness;
  afterEach(async () => h.close());

  it('GET /api/runs filters and pages; bad filters are 400 naming the field', async () => {
    h = await openHttp();
    await h.call('POST', '/api/task-types', { name: 'job' });
    for (const i of [1, 2, 3]) await h.call('POST', '/api/tasks', { type: 'job', policy: 'oneshot', arguments: { args: [i], kwargs: {} } });
    await h.call('POST', '/api/tasks/schedule', {});
    const page = await h.call('GET', '/api/runs?status=scheduled&limit=2');
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(2);
    expect(page.body.items.every((r: { status: string }) => r.status === 'scheduled')).toBe(true);
    const next = await h.call('GET', `/api/runs?status=scheduled&limit=2&cursor=${page.body.nextCursor}`);
    expect(next.body).toMatchObject({ items: [expect.objectContaining({ status: 'scheduled' })], nextCursor: null });
    expect((await h.call('GET', '/api/runs?status=failed')).body).toEqual({ items: [], nextCursor: null });
    for (const [q, field] of [
      ['status=done', 'status'],
      ['limit=0', 'limit'],
      ['since=soon', 'since'],
      ['cursor=zzz', 'cursor'],
      ['colour=red', 'colour'],
    ]) {
      const r = await h.call('GET', `/api/runs?${q}`);
      expect([q, r.status]).toEqual([q, 400]);
      expect(JSON.stringify(r.body.error)).toContain(field);
    }
  });
});
