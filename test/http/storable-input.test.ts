/**
 * Input neither store can hold the same way (NUL, lone surrogates, integers beyond a 4-byte column)
 * is refused at the boundary, identically on SQLite and PostgreSQL: HTTP 400 naming the field, the
 * library's ValidationError naming the same field, and nothing written (issue 16, item 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/engine/clock.js';
import { silentLogger } from '../../src/engine/logger.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { createTestDatabase } from '../support/postgres.js';
import { errorOf, T0 } from './http-helpers.js';

const INT4_MAX = 2_147_483_647;
const BIG = 1_000_000_000_000;
const NUL_KEY = 'arguments.kwargs["a\\u0000"]';

/** [what, method, path, body, the field the 400 names] */
const HTTP_CASES: Array<[string, string, string, unknown, string]> = [
  ['numRetries of 1e12', 'POST', '/api/task-types', { name: 'p1', numRetries: BIG }, 'numRetries'],
  ['maxAbandons of 1e12', 'POST', '/api/task-types', { name: 'p2', maxAbandons: BIG }, 'maxAbandons'],
  ['maxRunning of 1e12', 'POST', '/api/task-types', { name: 'p3', maxRunning: BIG }, 'maxRunning'],
  ['maxRunningPerKey of 1e12', 'POST', '/api/task-types', { name: 'p4', maxRunningPerKey: BIG }, 'maxRunningPerKey'],
  ['maxQueueLength of 2^31', 'POST', '/api/task-types', { name: 'p5', maxQueueLength: INT4_MAX + 1 }, 'maxQueueLength'],
  ['a rate limit count of 1e12', 'POST', '/api/task-types', { name: 'p6', rateLimit: { count: BIG, perMs: 1000 } }, 'rateLimit.count'],
  ['a NUL in a description', 'POST', '/api/task-types', { name: 'p7', description: 'a\u0000b' }, 'description'],
  ['retriesLeft of 2^53-1', 'POST', '/api/tasks', { type: 'mail', retriesLeft: Number.MAX_SAFE_INTEGER }, 'retriesLeft'],
  ['a NUL in args', 'POST', '/api/tasks', { type: 'mail', arguments: { args: ['a\u0000b'] } }, 'arguments.args[0]'],
  ['a NUL in a kwargs key', 'POST', '/api/tasks', { type: 'mail', arguments: { kwargs: { 'a\u0000': 1 } } }, NUL_KEY],
  ['a lone high surrogate in args', 'POST', '/api/tasks', { type: 'mail', arguments: { args: ['x\ud800'] } }, 'arguments.args[0]'],
  ['a lone low surrogate deep in kwargs', 'POST', '/api/tasks', { type: 'mail', arguments: { kwargs: { a: [{ b: '\udc00' }] } } }, 'arguments.kwargs.a[0].b'],
  ['a NUL in a task key', 'POST', '/api/tasks', { type: 'mail', key: 'k\u0000' }, 'key'],
  ['a NUL in a concurrency key', 'POST', '/api/tasks', { type: 'mail', concurrencyKey: '\u0000' }, 'concurrencyKey'],
  ['a NUL in a task type name', 'POST', '/api/tasks', { type: 'ma\u0000il' }, 'type'],
  ['a NUL in the second task of a batch', 'POST', '/api/tasks/batch', { tasks: [{ type: 'mail', arguments: { args: [9] } }, { type: 'mail', key: 'k\u0000' }] }, 'tasks[1].key'],
  ['a task id beyond 2^53', 'POST', '/api/tasks/disable', { ids: [2 ** 60] }, 'ids[0]'],
  ['a NUL in a query parameter', 'GET', '/api/tasks?type=a%00b', undefined, 'query.type'],
  ['a NUL in a path parameter', 'GET', '/api/task-types/a%00b', undefined, 'name'],
  ['a NUL in a run id', 'GET', '/api/runs/x%00y/logs', undefined, 'backendId'],
  ['a NUL in a DAG id', 'GET', '/api/dags/d%00', undefined, 'id'],
  ['an archive afterId beyond 2^53', 'GET', '/api/archive/runs?afterId=1e30', undefined, 'query.afterId'],
  ['a NUL in a lister name', 'POST', '/api/listers', { name: 'lister\u0000' }, 'name'],
  ['a NUL in a listed origin url', 'GET', '/api/origins/stats?url=https://a%00&visitType=git', undefined, 'query.url'],
  ['a NUL in a claiming worker id', 'POST', '/api/jobboard/claim', { worker: 'w\u0000', types: ['mail'], limit: 1 }, 'worker'],
  ['a NUL in a heartbeat worker id', 'POST', '/api/jobboard/heartbeat', { backendId: 'x', worker: 'w\u0000' }, 'worker'],
  ['a NUL in an ended run\'s result key', 'POST', '/api/jobboard/end', { items: [{ backendId: 'x', worker: 'w', status: 'eventful', result: { 'k\u0000': 1 } }] }, 'items[0].result["k\\u0000"]'],
  ['a NUL in DAG trigger params', 'POST', '/api/dags/d1/trigger', { params: { a: '\u0000' } }, 'params.a'],
];

interface Opened {
  orrery: Orrery;
  app: ReturnType<typeof createHttpApp>;
  close(): Promise<void>;
}

async function openSqlite(): Promise<Opened> {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-storable-'));
  const orrery = await openOrrery({ db: `sqlite:${join(dir, 'o.db')}`, clock: new ManualClock(T0) });
  return { orrery, app: createHttpApp(orrery, { logger: silentLogger }), close: async () => { await orrery.close(); rmSync(dir, { recursive: true, force: true }); } };
}

async function openPostgres(): Promise<Opened> {
  const db = await createTestDatabase('storable');
  const orrery = await openOrrery({ db: db.url, clock: new ManualClock(T0) });
  return { orrery, app: createHttpApp(orrery, { logger: silentLogger }), close: async () => { await orrery.close(); await db.drop(); } };
}

/** Everything a refused request could have written, read through the library. */
async function snapshot(o: Orrery): Promise<unknown> {
  return {
    types: (await o.listTaskTypes()).map((t) => t.name),
    tasks: (await o.searchTasks({})).map((t) => [t.id, t.retriesLeft, t.key, t.status]),
    listers: (await o.visits.listListers()).map((l) => l.name),
    dagRuns: (await o.dags.runs({ dag: 'd1' })).length,
  };
}

for (const [name, open] of [['SQLite', openSqlite], ['PostgreSQL', openPostgres]] as const) {
  describe(`input a store cannot hold, on ${name}`, () => {
    let s: Opened;
    let runId = '';
    beforeAll(async () => {
      s = await open();
      await s.orrery.createTaskType({ name: 'mail', defaultIntervalMs: 60_000 });
      await s.orrery.createTask({ type: 'mail', arguments: { args: [1] } });
      await s.orrery.dags.register([{ id: 'd1', tasks: [{ id: 'a' }] }]);
      runId = (await s.orrery.scheduleDue()).filter((r) => r.type === 'mail').map((r) => r.backendId)[0]!;
    });
    afterAll(async () => {
      await s?.close();
    });

    it('HTTP: 400 naming the field for every case, and nothing written', async () => {
      const before = await snapshot(s.orrery);
      const wrong: string[] = [];
      for (const [what, method, path, body, field] of HTTP_CASES) {
        const res = await s.app.request(path, {
          method,
          ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
        });
        const text = await res.text();
        if (res.status !== 400) {
          wrong.push(`${what}: ${res.status} ${text}`);
          continue;
        }
        const e = errorOf(JSON.parse(text));
        if (e.details[0]?.path !== field) wrong.push(`${what}: named ${e.details[0]?.path} (${e.message}), not ${field}`);
      }
      expect(wrong).toEqual([]);
      expect(await snapshot(s.orrery)).toEqual(before);
    });

    it('the library: a ValidationError naming the same field, and nothing written', async () => {
      const o = s.orrery;
      const before = await snapshot(o);
      const cases: Array<[string, () => Promise<unknown>, string]> = [
        ['numRetries of 1e12', () => o.createTaskType({ name: 'p1', numRetries: BIG }), 'numRetries'],
        ['maxRunning of 1e12', () => o.createTaskType({ name: 'p3', maxRunning: BIG }), 'maxRunning'],
        ['a rate limit of 1e12/1m', () => o.createTaskType({ name: 'p6', rateLimit: `${BIG}/1m` }), 'rateLimit'],
        ['retriesLeft of 2^53-1', () => o.createTask({ type: 'mail', retriesLeft: Number.MAX_SAFE_INTEGER }), 'retriesLeft'],
        ['a NUL in args', () => o.createTask({ type: 'mail', arguments: { args: ['a\u0000b'] } }), 'arguments.args[0]'],
        ['a NUL in a kwargs key', () => o.createTask({ type: 'mail', arguments: { kwargs: { 'a\u0000': 1 } } }), NUL_KEY],
        ['a lone surrogate in args', () => o.createTask({ type: 'mail', arguments: { args: ['\ud800'] } }), 'arguments.args[0]'],
        ['a NUL in a task key of a batch', () => o.createTasks([{ type: 'mail', arguments: { args: [9] } }, { type: 'mail', key: 'k\u0000' }]), 'tasks[1].key'],
        ['a NUL in a search filter', () => o.searchTasks({ type: 'a\u0000b' }), 'type'],
        ['a NUL in a task type name', () => o.getTaskType('a\u0000b'), 'name'],
        ['a NUL in a run id', () => o.getRun('x\u0000'), 'backendId'],
        ['a NUL in a lister name', () => o.visits.getOrCreateLister('lister\u0000'), 'name'],
        ['a NUL in a listed origin url', () => o.visits.getVisitStats([{ url: 'https://a\u0000', visitType: 'git' }]), 'origins[0].url'],
        ['a NUL in a claiming worker id', () => o.claimRuns({ worker: 'w\u0000', types: ['mail'], limit: 1 }), 'worker'],
        ['a NUL in a result key', () => o.endRun(runId, { status: 'eventful', worker: 'w', result: { 'k\u0000': 1 } }), 'result["k\\u0000"]'],
        ['a NUL in run metadata', () => o.startRun(runId, { metadata: { a: 'x\u0000' } }), 'metadata.a'],
        ['a NUL in DAG trigger params', () => o.dags.trigger('d1', { a: '\u0000' }), 'params.a'],
        ['a task id beyond 2^53', () => o.getTask(2 ** 60), 'id'],
        ['a DAG run id beyond 2^53', () => o.dags.run(1e20), 'run'],
      ];
      const wrong: string[] = [];
      for (const [what, call, field] of cases) {
        try {
          await call();
          wrong.push(`${what}: accepted`);
        } catch (e) {
          if (!(e instanceof ValidationError)) wrong.push(`${what}: ${String(e)}`);
          else if (e.details[0]?.path !== field) wrong.push(`${what}: named ${e.details[0]?.path} (${e.message}), not ${field}`);
        }
      }
      expect(wrong).toEqual([]);
      expect(await snapshot(o)).toEqual(before);
    });

    it('accepts the limits themselves and well-formed surrogate pairs, and reads them back unchanged', async () => {
      const t = await s.orrery.createTaskType({ name: `edge-${name.toLowerCase()}`, numRetries: INT4_MAX, maxAbandons: INT4_MAX, maxRunning: INT4_MAX, maxQueueLength: INT4_MAX });
      expect([t.numRetries, t.maxAbandons, t.maxRunning, t.maxQueueLength]).toEqual([INT4_MAX, INT4_MAX, INT4_MAX, INT4_MAX]);
      const res = await s.app.request('/api/tasks', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: t.name, policy: 'oneshot', retriesLeft: INT4_MAX, arguments: { args: ['😀 \ud83d\ude00'], kwargs: { 'ключ😀': 'ok' } } }),
      });
      expect(res.status).toBe(201);
      const task = (await res.json()) as { id: number };
      const stored = (await s.orrery.getTask(task.id))!;
      expect(stored.retriesLeft).toBe(INT4_MAX);
      expect(stored.arguments).toEqual({ args: ['😀 😀'], kwargs: { 'ключ😀': 'ok' } });
    });
  });
}
