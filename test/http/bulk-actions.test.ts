import { afterEach, describe, expect, it } from 'vitest';
import { openHttp, type HttpHarness } from './http-helpers.js';

describe('HTTP: bulk actions (docs/http.md#bulk-actions)', () => {
  let h: HttpHarness;
  afterEach(async () => h.close());

  it('POST /api/tasks/bulk/{action} counts with dryRun, then acts; the OpenAPI document describes it', async () => {
    h = await openHttp({ token: 'secret' });
    const auth = { headers: { authorization: 'Bearer secret' } };
    await h.call('POST', '/api/task-types', { name: 'job' }, auth);
    await h.call('POST', '/api/tasks/batch', { tasks: [1, 2, 3].map((i) => ({ type: 'job', policy: 'oneshot', arguments: { args: [`u${i}`], kwargs: {} } })) }, auth);
    const dry = await h.call('POST', '/api/tasks/bulk/disable', { filter: { type: 'job', args: 'u2' }, dryRun: true }, auth);
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual({ action: 'disable', dryRun: true, matched: 1, changed: 0, skipped: {}, batches: 1 });
    const done = await h.call('POST', '/api/tasks/bulk/disable', { filter: { type: 'job', status: 'next_run_not_scheduled' } }, auth);
    expect(done.body).toMatchObject({ matched: 3, changed: 3 });
    const respawned = await h.call('POST', '/api/tasks/bulk/respawn', { ids: [1, 2], nextRun: '2030-06-01T00:00:00Z' }, auth);
    expect(respawned.body).toMatchObject({ action: 'respawn', matched: 2, changed: 2 });
    expect((await h.call('GET', '/api/tasks?status=disabled', undefined, auth)).body.items.map((t: { id: number }) => t.id)).toEqual([3]);
    expect((await h.call('POST', '/api/tasks/bulk/delete', { all: true }, { headers: {} })).status).toBe(401);

    const doc = (await h.call('GET', '/api/openapi.json', undefined, auth)).body;
    const op = doc.paths['/api/tasks/bulk/{action}'].post;
    expect(op.parameters[0].schema.enum).toEqual(['respawn', 'redrive', 'disable', 'cancel', 'delete']);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401']));
  });

  it('bad selections and actions are 400 naming the field; nothing changes', async () => {
    h = await openHttp();
    await h.call('POST', '/api/task-types', { name: 'job' });
    await h.call('POST', '/api/tasks', { type: 'job', policy: 'oneshot' });
    const cases: Array<[string, unknown, string]> = [
      ['explode', { all: true }, 'action'],
      ['disable', {}, 'filter'],
      ['disable', { filter: {} }, 'filter'],
      ['disable', { filter: { type: 'job' }, all: true }, 'all'],
      ['disable', { filter: { status: 'nope' } }, 'filter.status'],
      ['disable', { filter: { limit: 3 } }, 'filter.limit'],
      ['disable', { ids: [] }, 'ids'],
      ['disable', { all: true, nextRun: '2030-01-01T00:00:00Z' }, 'nextRun'],
      ['respawn', { runs: { status: 'done' } }, 'runs.status'],
      ['respawn', { all: true, nextRun: 'soon' }, 'nextRun'],
    ];
    for (const [action, body, path] of cases) {
      const r = await h.call('POST', `/api/tasks/bulk/${action}`, body);
      expect([action, JSON.stringify(body), r.status]).toEqual([action, JSON.stringify(body), 400]);
      expect(r.body.error.details[0].path).toBe(path);
    }
    expect((await h.call('GET', '/api/tasks?status=next_run_not_scheduled')).body.items).toHaveLength(1);
  });
});
