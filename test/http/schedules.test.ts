/**
 * The schedule routes (previews, backfills) and the schedule and flow-control fields of POST
 * /api/tasks over a real SQLite file: each route answers a success, an error and a 401, and every
 * response matches the OpenAPI document.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import { previewOf } from '../../src/engine/schedule-service.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scheduleRoutes } from '../../src/http/schedule-routes.js';
import { T0, errorOf, openHttp, type HttpHarness } from './http-helpers.js';
import { BAD_RRULES } from '../support/bad-rrules.js';

const TOKEN = 'schedules-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const oa = (path: string) => `/api${path.replace(/:(\w+)/g, '{$1}')}`;
const at = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
const H = 3_600_000;

let h: HttpHarness;
let doc: { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>> };
const call = (method: string, path: string, body?: unknown) => h.call(method, path, body, { headers: auth });
async function expectStatus(p: ReturnType<typeof call>, status: number) {
  const r = await p;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body;
}

beforeAll(async () => {
  h = await openHttp({ token: TOKEN });
  doc = (await call('GET', '/api/openapi.json')).body;
  h.clock.set(at(10 * H));
  await expectStatus(call('POST', '/api/task-types', { name: 'report', numRetries: 0 }), 201);
  await expectStatus(call('POST', '/api/task-types', { name: 'mail' }), 201);
});
afterAll(async () => {
  await h?.close();
});

describe('schedules over HTTP', () => {
  it('a cron task with catch-up, jitter, bounds and exclusions; its next occurrences; bad options name the field and write nothing', async () => {
    const task = await expectStatus(
      call('POST', '/api/tasks', {
        type: 'report',
        schedule: { kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Paris', catchUp: 'all', catchUpWindow: '2d', jitter: '5m', startAt: at(0), exclude: ['2030-01-03'] },
      }),
      201,
    );
    expect(task.schedule).toEqual({ kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Paris', catchUp: 'all', catchUpWindowMs: 2 * 86_400_000, jitterMs: 300_000, startAt: at(0), exclude: ['2030-01-03'] });
    expect(task.scheduledFor).toBe('2030-01-02T01:30:00.000Z');
    const next = await expectStatus(call('GET', `/api/tasks/${task.id}/next?count=3`), 200);
    expect(next.occurrences.map((o: { at: string }) => o.at)).toEqual(['2030-01-02T01:30:00.000Z', '2030-01-04T01:30:00.000Z', '2030-01-05T01:30:00.000Z']);
    expect(next.occurrences[0].due).toBe(task.nextRun);
    for (const [schedule, path] of [
      [{ catchUp: 'sometimes' }, 'schedule.catchUp'],
      [{ jitter: '2d' }, 'schedule.jitter'],
      [{ catchUpWindow: '-1h' }, 'schedule.catchUpWindow'],
      [{ startAt: at(2 * H), endAt: at(H) }, 'schedule.endAt'],
    ] as const) {
      const e = errorOf(await expectStatus(call('POST', '/api/tasks', { type: 'report', arguments: { args: [path] }, schedule: { kind: 'cron', expr: '0 * * * *', ...schedule } }), 400));
      expect(e.details[0]?.path).toBe(path);
    }
    expect((await call('GET', '/api/tasks?type=report')).body.items).toHaveLength(1);
    await expectStatus(call('GET', `/api/tasks/${task.id}/next?count=0`), 400);
    await expectStatus(call('GET', '/api/tasks/4040/next'), 404);
    // A disabled task has no next occurrence, in its schedule's zone all the same.
    await expectStatus(call('POST', '/api/tasks/disable', { ids: [task.id] }), 200);
    expect(await expectStatus(call('GET', `/api/tasks/${task.id}/next`), 200)).toEqual({ task: task.id, zone: 'Europe/Paris', occurrences: [] });
  });

  it('previews mark the DST changes', async () => {
    const p = await expectStatus(call('GET', `/api/schedules/preview?cron=${encodeURIComponent('30 2 * * *')}&tz=Europe/Paris&from=2030-03-30T00:00:00Z&count=2`), 200);
    expect(p).toEqual({
      zone: 'Europe/Paris',
      occurrences: [
        { at: '2030-03-30T01:30:00.000Z', due: '2030-03-30T01:30:00.000Z', local: '2030-03-30T02:30:00.000+01:00', dst: null },
        { at: '2030-03-31T01:00:00.000Z', due: '2030-03-31T01:00:00.000Z', local: '2030-03-31T03:00:00.000+02:00', dst: 'skipped' },
      ],
    });
    const r = await expectStatus(call('GET', `/api/schedules/preview?rrule=${encodeURIComponent('DTSTART;TZID=Europe/Paris:20301027T023000\nRRULE:FREQ=DAILY;COUNT=1')}`), 200);
    expect(r.occurrences[0].dst).toBe('repeated-first');
    expect(errorOf(await expectStatus(call('GET', '/api/schedules/preview?cron=61+*+*+*+*'), 400)).details[0]?.path).toBe('query.cron');
    expect(errorOf(await expectStatus(call('GET', '/api/schedules/preview?cron=*+*+*+*+*&rrule=FREQ=DAILY'), 400)).details[0]?.path).toBe('query.cron');
    // RFC 5545: a rule needs FREQ, gives each part once, and COUNT or UNTIL, not both; refused as the CLI and the library refuse it.
    for (const [rule, why] of BAD_RRULES) {
      const e = errorOf(await expectStatus(call('GET', `/api/schedules/preview?rrule=${encodeURIComponent(rule)}&from=2026-01-01`), 400));
      expect(e.details[0]?.path, rule).toBe('query.rrule');
      expect(e.message).toContain(`invalid rrule ${JSON.stringify(rule)}: ${why}`);
      const t = errorOf(await expectStatus(call('POST', '/api/tasks', { type: 'report', schedule: { kind: 'rrule', rule } }), 400));
      expect(t.details[0]?.path, rule).toBe('schedule.rule');
      expect(t.message).toContain(why);
    }
  });

  it("the library's bare preview refuses a field it does not take (a task's endAt, exclude), naming it", () => {
    const now = new Date(T0);
    expect(() => previewOf({ cron: '0 * * * *', endAt: '2026-01-01T12:00:00Z' } as never, now)).toThrow(/^endAt: unknown field/);
    expect(() => previewOf({ cron: '0 * * * *', exclude: ['2026-01-02'] } as never, now)).toThrow(/^exclude: unknown field/);
    expect(previewOf({ cron: '0 * * * *', count: 2, from: now }, now).occurrences).toHaveLength(2);
  });

  it('task backfill: create, progress, list, cancel; errors for the future, an unknown task, and a second one', async () => {
    // due at 10:30: free now, so the backfill's first occurrence runs at once
    const task = await expectStatus(call('POST', '/api/tasks', { type: 'report', arguments: { args: ['bf'] }, schedule: { kind: 'cron', expr: '30 * * * *' } }), 201);
    const b = await expectStatus(call('POST', `/api/tasks/${task.id}/backfill`, { from: at(H), to: at(3 * H) }), 201);
    expect(b).toMatchObject({ task: task.id, total: 2, status: 'running', nextPoint: at(1.5 * H) });
    await expectStatus(call('POST', `/api/tasks/${task.id}/backfill`, { from: at(H), to: at(2 * H) }), 409);
    expect(errorOf(await expectStatus(call('POST', `/api/tasks/${task.id}/backfill`, { from: at(H), to: at(20 * H) }), 400)).details[0]?.path).toBe('to');
    await expectStatus(call('POST', '/api/tasks/4040/backfill', { from: at(H), to: at(2 * H) }), 404);
    const runs = await expectStatus(call('POST', '/api/tasks/schedule', { type: 'report' }), 200);
    expect(runs.find((r: { task: number }) => r.task === task.id)).toMatchObject({ scheduledFor: at(1.5 * H), backfill: b.id });
    const progress = await expectStatus(call('GET', `/api/backfills/${b.id}`), 200);
    expect(progress.runs).toHaveLength(1);
    await expectStatus(call('GET', '/api/backfills/4040'), 404);
    expect(await expectStatus(call('GET', `/api/tasks/${task.id}/backfills`), 200)).toHaveLength(1);
    await expectStatus(call('GET', '/api/tasks/x/backfills'), 400);
    expect(await expectStatus(call('POST', `/api/backfills/${b.id}/cancel`), 200)).toMatchObject({ status: 'cancelled' });
    await expectStatus(call('POST', `/api/backfills/${b.id}/cancel`), 409);
    // `at`: the instant the backfill is made at (its range may not end after it), and next's from (they were refused: unknown field).
    expect(errorOf(await expectStatus(call('POST', `/api/tasks/${task.id}/backfill`, { from: at(H), to: at(3 * H), at: at(2 * H) }), 400)).details[0]?.path).toBe('to');
    expect(await expectStatus(call('POST', `/api/tasks/${task.id}/backfill`, { from: at(H), to: at(3 * H), at: at(4 * H) }), 201)).toMatchObject({ created: at(4 * H) });
    const late = await call('POST', '/api/tasks', { type: 'report', arguments: { args: ['late'] }, schedule: { kind: 'cron', expr: '30 * * * *' }, nextRun: at(1.5 * H) });
    expect((await expectStatus(call('GET', `/api/tasks/${late.body.id}/next?count=1&at=${encodeURIComponent(at(1.6 * H))}`), 200)).occurrences[0].at).toBe(at(1.5 * H));
    expect((await expectStatus(call('GET', `/api/tasks/${late.body.id}/next?count=1`), 200)).occurrences[0].at).toBe(at(9.5 * H));
    await expectStatus(call('GET', `/api/tasks/${late.body.id}/next?at=soon`), 400);
  });

  it('unique and debounce at creation', async () => {
    const u = { type: 'mail', policy: 'oneshot', arguments: { args: ['u'] }, unique: { for: '1h' } };
    const first = await expectStatus(call('POST', '/api/tasks', u), 201);
    expect((await expectStatus(call('POST', '/api/tasks', { ...u, nextRun: at(11 * H) }), 200)).id).toBe(first.id);
    const d = { type: 'mail', arguments: { args: ['d1'] }, debounce: { key: 'k', period: '1m' } };
    const one = await expectStatus(call('POST', '/api/tasks', d), 201);
    const two = await expectStatus(call('POST', '/api/tasks', { ...d, arguments: { args: ['d2'] } }), 200);
    expect(two).toMatchObject({ id: one.id, arguments: { args: ['d2'] } });
    expect(errorOf(await expectStatus(call('POST', '/api/tasks', { ...d, policy: 'recurring' }), 400)).details[0]?.path).toBe('policy');
  });

  it('DAGs: next points and backfill', async () => {
    await expectStatus(call('PUT', '/api/dags', { dags: [{ id: 'daily', schedule: { cron: '0 6 * * *' }, start: at(0), overlap: 'bufferOne', tasks: [{ id: 'a' }] }] }), 200);
    const next = await expectStatus(call('GET', '/api/dags/daily/next?count=2'), 200);
    expect(next).toMatchObject({ dag: 'daily', zone: 'UTC', occurrences: [{ at: '2030-01-01T06:00:00.000Z' }, { at: '2030-01-02T06:00:00.000Z' }] });
    await expectStatus(call('GET', '/api/dags/nope/next'), 404);
    const bf = await expectStatus(call('POST', '/api/dags/daily/backfill', { from: '2029-12-30T00:00:00Z', to: '2029-12-31T23:59:59Z', params: { p: 1 } }), 201);
    expect(bf.runs.map((r: { execTs: string; trigger: string }) => [r.execTs, r.trigger])).toEqual([
      ['2029-12-30T06:00:00.000Z', 'backfill'],
      ['2029-12-31T06:00:00.000Z', 'backfill'],
    ]);
    expect(errorOf(await expectStatus(call('POST', '/api/dags/daily/backfill', { from: '2029-12-30T00:00:00Z', to: '2029-12-30T01:00:00Z' }), 400)).details[0]?.path).toBe('from');
    expect((await expectStatus(call('GET', '/api/dags/daily'), 200)).overlap).toBe('bufferOne');
  });

  it('every schedule route answered a success, an error and a 401, each response as documented', async () => {
    for (const r of scheduleRoutes) {
      const res = await h.call(r.method.toUpperCase(), `/api${r.path.replace(/:id/, '1')}`, r.method === 'post' ? {} : undefined);
      expect(res.status).toBe(401);
    }
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
    const problems: string[] = [];
    for (const r of scheduleRoutes) {
      const mine = h.log.filter((x) => x.template === oa(r.path) && x.method === r.method.toUpperCase());
      expect(mine.some((x) => x.status < 300), `${r.method} ${r.path} success`).toBe(true);
      expect(mine.some((x) => x.status >= 400 && x.status !== 401), `${r.method} ${r.path} error`).toBe(true);
      expect(mine.some((x) => x.status === 401), `${r.method} ${r.path} 401`).toBe(true);
    }
    for (const x of h.log) {
      const schema = x.template ? doc.paths[x.template]?.[x.method.toLowerCase()]?.responses[String(x.status)]?.content?.['application/json']?.schema : undefined;
      if (!schema || x.template === '/api/openapi.json') continue;
      const v = ajv.compile(schema);
      if (!v(x.body)) problems.push(`${x.method} ${x.path} -> ${x.status}: ${ajv.errorsText(v.errors)}`);
    }
    expect(problems).toEqual([]);
  });
});
