/**
 * A path some route spells out is that route's: with another method it is no route (404 `no route
 * METHOD PATH`, docs/http.md "Errors"), never a path parameter of a third route refused as such
 * (`GET /api/tasks/batch` was `400 id: must be a task id`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/http/api-routes.js';
import { errorOf, openHttp, type HttpHarness } from './http-helpers.js';

let h: HttpHarness;
beforeEach(async () => {
  h = await openHttp();
});
afterEach(async () => {
  await h.close();
});

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

async function expectNoRoute(method: string, path: string) {
  const r = await h.call(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
  expect(r.status, `${method} ${path}: ${JSON.stringify(r.body)}`).toBe(404);
  expect(errorOf(r.body)).toEqual({ code: 'not_found', message: `no route ${method} ${path}`, details: [] });
}

describe('a known path with another method', () => {
  it('GET on the fixed paths under /api/tasks is 404 no route, not a bad task id', async () => {
    for (const p of ['batch', 'disable', 'respawn', 'schedule', 'import', 'bulk']) await expectNoRoute('GET', `/api/tasks/${p}`);
  });

  it('every route path without parameters, with each method it does not declare, is 404 no route', async () => {
    let checked = 0;
    for (const r of apiRoutes.filter((r) => !r.path.includes(':'))) {
      for (const m of METHODS) {
        if (apiRoutes.some((x) => x.path === r.path && x.method.toUpperCase() === m)) continue;
        await expectNoRoute(m, `/api${r.path}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(150);
  });

  it('a fixed segment is not a parameter deeper in a path either', async () => {
    await expectNoRoute('GET', '/api/tasks/batch/runs');
    await expectNoRoute('GET', '/api/tasks/import/why');
    await expectNoRoute('POST', '/api/tasks/disable/pause');
  });

  it('parameter routes still take their values, and refuse bad ones as before', async () => {
    await expectNoRoute('DELETE', '/api/tasks/1');
    const missing = await h.call('GET', '/api/tasks/7');
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).message).toBe('task 7 not found');
    const bad = await h.call('GET', '/api/tasks/abc');
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).details).toEqual([{ path: 'id', message: 'must be a task id' }]);
    expect((await h.call('POST', '/api/task-types', { name: 'mail', defaultIntervalMs: '1m' })).status).toBe(201);
    expect((await h.call('GET', '/api/tasks/pending?type=mail')).status).toBe(200);
  });
});
