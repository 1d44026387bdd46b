/**
 * What a refused request's `details` say (docs/http.md "Errors"): one detail per field, its first
 * problem, in plain words (`required`, `must be a string`, `must be at most N`), never zod's default
 * text (`Invalid input: expected string, received undefined`), whether the route's contract or the
 * library found it; the library's own messages are kept as they are.
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

const ZOD_DEFAULT = /received|expected (string|number|int|array|object|record|boolean)|Invalid (input|option)|Too (big|small)/;

async function detailsOf(method: string, path: string, body: unknown) {
  const r = await h.call(method, path, body);
  expect(r.status, JSON.stringify(r.body)).toBe(400);
  return errorOf(r.body);
}

describe('validation details', () => {
  it('a missing field is `required`, from the library (a task type) and from a contract (a claim, log records)', async () => {
    expect(await detailsOf('POST', '/api/task-types', {})).toEqual({ code: 'validation_error', message: 'name: required', details: [{ path: 'name', message: 'required' }] });
    expect((await detailsOf('POST', '/api/jobboard/claim', { worker: 'w' })).details).toEqual([
      { path: 'types', message: 'required' },
      { path: 'limit', message: 'required' },
    ]);
    const logs = await detailsOf('POST', '/api/jobboard/logs', { backendId: 'b', records: [{ level: 'info', message: 'm' }] });
    expect(logs.details).toEqual([{ path: 'records[0].at', message: 'required' }]);
    expect((await detailsOf('POST', '/api/tasks', {})).details).toEqual([{ path: 'type', message: 'required' }]);
    expect((await detailsOf('GET', '/api/tasks/pending', undefined)).details).toEqual([{ path: 'query.type', message: 'required' }]);
  });

  it('a wrong type or a value out of bounds is said in plain words', async () => {
    expect((await detailsOf('POST', '/api/jobboard/claim', { worker: 5, types: 'a', limit: '3' })).details).toEqual([
      { path: 'worker', message: 'must be a string' },
      { path: 'types', message: 'must be an array' },
      { path: 'limit', message: 'must be a number' },
    ]);
    expect((await detailsOf('POST', '/api/jobboard/claim', { worker: 'w', types: ['a'], limit: 1.5 })).details).toEqual([{ path: 'limit', message: 'must be an integer' }]);
    expect((await detailsOf('POST', '/api/tasks', { type: 5 })).details).toEqual([{ path: 'type', message: 'must be a string' }]);
    expect((await detailsOf('POST', '/api/tasks', { type: 'mail', priority: 'urgent' })).details).toEqual([{ path: 'priority', message: 'must be "high", "normal" or "low"' }]);
    expect((await detailsOf('POST', '/api/dags/d/trigger', { params: [1] })).details).toEqual([{ path: 'params', message: 'must be an object' }]);
    // The library's own wording is kept.
    expect((await detailsOf('POST', '/api/task-types', { name: 'mail', numRetries: -1, leaseMs: 5 })).details).toEqual([
      { path: 'numRetries', message: 'must not be negative' },
      { path: 'leaseMs', message: 'must be at least 1s' },
    ]);
  });

  it('a field that breaks two checks gets one detail, the first', async () => {
    const e = await detailsOf('POST', '/api/tasks/disable', { ids: [9007199254740992] });
    expect(e).toEqual({ code: 'validation_error', message: 'ids[0]: must be at most 9007199254740991', details: [{ path: 'ids[0]', message: 'must be at most 9007199254740991' }] });
  });

  it('no route answers zod default text for an empty body or wrong field types', async () => {
    const fill = (p: string) => p.replace(/:(\w+)/g, (_m, n: string) => (n === 'action' ? 'pause' : n === 'name' ? 'mail' : '1'));
    const seen: string[] = [];
    for (const r of apiRoutes.filter((r) => r.body && !r.streamBody)) {
      const shape = (r.body as { shape?: Record<string, unknown> }).shape ?? {};
      const bodies: unknown[] = [{}, ...Object.keys(shape).flatMap((k) => [{ [k]: 5 }, { [k]: 'x' }, { [k]: {} }, { [k]: [5] }])];
      for (const body of bodies) {
        const res = await h.call(r.method.toUpperCase(), `/api${fill(r.path)}`, body);
        if (res.status !== 400) continue;
        const e = errorOf(res.body);
        for (const d of e.details) seen.push(`${r.method} ${r.path} ${JSON.stringify(body)} ${d.path}: ${d.message}`);
        expect(new Set(e.details.map((d) => d.path)).size, JSON.stringify(e)).toBe(e.details.length);
      }
    }
    expect(seen.length).toBeGreaterThan(200);
    expect(seen.filter((s) => ZOD_DEFAULT.test(s))).toEqual([]);
  });
});
