/**
 * The typed client checks its arguments as the library does (docs/guide.md, end of "Library API"): an
 * option a call does not know, a value of the wrong kind, an instant given as text, each refused with
 * the library's error (same class, message and details) before any request is sent, so that nothing is
 * written. Every case runs the library's call and the client's on the same database and compares them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NotFoundError } from '../../src/core/errors.js';
import type { Task } from '../../src/core/model.js';
import type { Orrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { openHttp, type HttpHarness } from './http-helpers.js';

type Outcome = { ok: unknown } | { error: string; message: string; details: unknown };

const errorOf = (e: unknown) => ({ error: (e as Error).name, message: (e as Error).message, details: (e as { details?: unknown }).details });
async function outcome(f: () => unknown): Promise<Outcome> {
  try {
    const v = await f();
    // endRuns answers an error per item refused.
    return { ok: Array.isArray(v) ? v.map((x) => (x instanceof Error ? errorOf(x) : x)) : v };
  } catch (e) {
    return errorOf(e);
  }
}

describe('OrreryClient checks its arguments as the library does, before any request', () => {
  let h: HttpHarness;
  let close: () => void = () => {};
  afterEach(async () => {
    vi.restoreAllMocks();
    close();
    await h?.close();
  });

  interface World {
    orrery: Orrery;
    client: OrreryClient;
    task: Task;
    cron: Task;
    waiting: string;
    claimed: string;
    lister: string;
    other: string;
    url: string;
    /** Requests the client sent since the last reset. */
    requests: () => number;
    reset: () => void;
  }

  async function setup(): Promise<World> {
    h = await openHttp({ metrics: null });
    const { server, port } = await startHttpServer(createHttpApp(h.orrery), '127.0.0.1', 0);
    close = () => server.close();
    const orrery = h.orrery;
    await orrery.createTaskType({ name: 'job' });
    await orrery.createTaskType({ name: 'job2' });
    await orrery.createTaskType({ name: 'empty' });
    const task = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['a'], kwargs: {} } });
    const cron = await orrery.createTask({ type: 'job', arguments: { args: ['cron'], kwargs: {} }, schedule: { kind: 'cron', expr: '0 * * * *' } });
    await orrery.createTask({ type: 'job2', policy: 'oneshot' });
    const scheduled = await orrery.scheduleDue({});
    const waiting = scheduled.find((r) => r.task === task.id)!.backendId;
    const [c] = await orrery.claimRuns({ worker: 'w', types: ['job2'], limit: 1, due: false });
    const l = await orrery.visits.getOrCreateLister('l');
    const o = await orrery.visits.getOrCreateLister('o');
    const url = 'https://example.org/r';
    await orrery.visits.recordListedOrigins([{ listerId: l.id, url, visitType: 'git' }]);
    let sent = 0;
    const realFetch = globalThis.fetch;
    vi.spyOn(globalThis, 'fetch').mockImplementation((...args: Parameters<typeof fetch>) => {
      sent++;
      return realFetch(...args);
    });
    return { orrery, client: new OrreryClient(`http://127.0.0.1:${port}`), task, cron, waiting, claimed: c!.run.backendId, lister: l.id, other: o.id, url, requests: () => sent, reset: () => (sent = 0) };
  }

  /** What the library reads of everything a refused call could have written. */
  async function snapshot(w: World): Promise<unknown> {
    const o = w.orrery;
    return {
      types: await o.listTaskTypes(),
      tasks: await o.searchTasks({}),
      runs: await o.searchRuns({ limit: 1000 }),
      backfills: await o.schedules.backfills(w.cron.id),
      logs: await o.getRunLogs(w.claimed),
      archived: [await o.readArchivedRuns({}), await o.readArchivedTasks({})],
      listers: await o.visits.listListers(),
      origins: await o.visits.getListedOrigins({}),
      stats: await o.visits.getVisitStats([{ url: w.url, visitType: 'git' }]),
      metrics: await o.visits.getMetricsHistory({}),
    };
  }

  /**
   * The library refuses the call; the client refuses it with the same error, without a request; and
   * nothing was written (the library's reads are unchanged). Answers the error.
   */
  async function refusedAlike(w: World, lib: (o: Orrery) => unknown, cli: (c: OrreryClient) => unknown): Promise<Outcome> {
    const before = await snapshot(w);
    const l = await outcome(() => lib(w.orrery));
    expect(l, 'the library refuses it').toHaveProperty('error');
    w.reset();
    const c = await outcome(() => cli(w.client));
    // Soft: every case of a test is reported, each named by the client's call.
    const name = cli.toString();
    expect.soft(c, name).toEqual(l);
    expect.soft(w.requests(), `requests sent by ${name}`).toBe(0);
    expect.soft(await snapshot(w), `written by ${name}`).toEqual(before);
    return l;
  }

  const at = new Date('2030-01-01T00:00:00Z');
  const input = { type: 'job', policy: 'oneshot' as const, arguments: { args: ['new'], kwargs: {} } };

  it('1. calls that dropped their options take the library\'s, and refuse a key they do not know, naming it', async () => {
    const w = await setup();
    const att = { att: at } as never;
    const same = (lib: (o: Orrery) => unknown, cli: (c: OrreryClient) => unknown) => refusedAlike(w, lib, cli);
    expect(await same((o) => o.disableTasks([w.task.id], att), (c) => c.disableTasks([w.task.id], att))).toMatchObject({ error: 'ValidationError', message: 'options.att: unknown field (one of at)' });
    expect(await same((o) => o.createTask(input, att), (c) => c.createTask(input, att))).toMatchObject({ message: 'options.att: unknown field (one of at, traceContext)' });
    expect(await same((o) => o.createTask(input, at as never), (c) => c.createTask(input, at as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'options' }] });
    await same((o) => o.createTasks([input], att), (c) => c.createTasks([input], att));
    await same((o) => o.createTasks([], att), (c) => c.createTasks([], att));
    await same((o) => o.createTasksSummary([input], att), (c) => c.createTasksSummary([input], att));
    await same((o) => o.resumeTask(w.task.id, att), (c) => c.resumeTask(w.task.id, att));
    await same((o) => o.resumeTaskType('job', att), (c) => c.resumeTaskType('job', att));
    await same((o) => o.whyTask(w.task.id, att), (c) => c.whyTask(w.task.id, att));
    await same((o) => o.cancelRun(w.waiting, att), (c) => c.cancelRun(w.waiting, att));
    await same((o) => o.updateTaskType('job', { description: 'x' }, att), (c) => c.updateTaskType('job', { description: 'x' }, att));
    await same((o) => o.deleteTaskType('empty', att), (c) => c.deleteTaskType('empty', att));
    await same((o) => o.createTaskType({ name: 'fresh' }, att), (c) => c.createTaskType({ name: 'fresh' }, att));
    await same((o) => o.ensureTaskType({ name: 'fresh' }, att), (c) => c.ensureTaskType({ name: 'fresh' }, att));
    // Their `at`, which the server's clock stamps, is checked as the library checks it.
    const text = { at: '2030-01-01T00:00:00Z' } as never;
    expect(await same((o) => o.disableTasks([w.task.id], text), (c) => c.disableTasks([w.task.id], text))).toMatchObject({ message: 'at: must be a valid Date' });
    await same((o) => o.createTask(input, text), (c) => c.createTask(input, text));
    await same((o) => o.cancelRun(w.waiting, text), (c) => c.cancelRun(w.waiting, text));
    await same((o) => o.deleteTaskType('empty', text), (c) => c.deleteTaskType('empty', text));
    // A valid `at` is taken (not sent): the calls work.
    expect((await w.client.createTaskType({ name: 'fresh' }, { at })).name).toBe('fresh');
    expect((await w.client.ensureTaskType({ name: 'fresh' }, { at })).name).toBe('fresh');
    expect((await w.client.whyTask(w.task.id, { at })).task).toBe(w.task.id);
    expect((await w.client.disableTasks([w.task.id], { at }))[0]!.status).toBe('disabled');
  });

  it('2. options and fields passed through are checked key by key', async () => {
    const w = await setup();
    const range = { from: '2029-12-31T00:00:00Z', to: '2029-12-31T03:00:00Z' };
    expect(await refusedAlike(w, (o) => o.schedules.backfill(w.cron.id, { ...range, dryRun: true } as never), (c) => c.schedules.backfill(w.cron.id, { ...range, dryRun: true } as never))).toMatchObject({
      message: 'options.dryRun: unknown field (one of from, to)',
    });
    expect(await refusedAlike(w, (o) => o.visits.recordVisit(w.url, 'git', 'successful', 's', { att: at } as never), (c) => c.visits.recordVisit(w.url, 'git', 'successful', 's', { att: at } as never))).toMatchObject({
      message: 'options.att: unknown field (one of at)',
    });
    const beat = { worker: 'w', runs: [{ backendId: w.claimed, startdAt: at }] } as never;
    expect(await refusedAlike(w, (o) => o.heartbeatRuns(beat), (c) => c.heartbeatRuns(beat))).toMatchObject({ details: [{ path: 'runs[0].startdAt' }] });
    expect(await refusedAlike(w, (o) => o.runSeries({ rang: '24h' } as never), (c) => c.stats.series({ rang: '24h' } as never))).toMatchObject({ message: 'options.rang: unknown field (one of at, range, type)' });
  });

  it('3. instants the library takes as Dates only are refused as text or invalid Dates, not written', async () => {
    const w = await setup();
    const text = '2030-02-01T00:00:00Z';
    const same = (lib: (o: Orrery) => unknown, cli: (c: OrreryClient) => unknown) => refusedAlike(w, lib, cli);
    expect(await same((o) => o.archive({ before: text as never }), (c) => c.archive({ before: text as never }))).toMatchObject({ details: [{ path: 'before' }] });
    await same((o) => o.archive({ before: new Date(Number.NaN) }), (c) => c.archive({ before: new Date(Number.NaN) }));
    await same((o) => o.respawnTasks([w.task.id], { nextRun: text as never }), (c) => c.respawnTasks([w.task.id], { nextRun: text as never }));
    await same((o) => o.respawnTasks([w.task.id], { at: text as never }), (c) => c.respawnTasks([w.task.id], { at: text as never }));
    expect(await same((o) => o.startRun(w.waiting, { at: text as never }), (c) => c.startRun(w.waiting, { at: text as never }))).toMatchObject({ details: [{ path: 'at' }] });
    expect(await same((o) => o.abandonRun(w.claimed, { worker: 'w', startedAt: text as never }), (c) => c.abandonRun(w.claimed, { worker: 'w', startedAt: text as never }))).toMatchObject({ details: [{ path: 'startedAt' }] });
    const beat = { worker: 'w', runs: [{ backendId: w.claimed, startedAt: text as never }] };
    expect(await same((o) => o.heartbeatRuns(beat), (c) => c.heartbeatRuns(beat))).toMatchObject({ details: [{ path: 'runs[0].startedAt' }] });
    const record = [{ at: text as never, level: 'info' as const, message: 'm', attributes: {} }];
    await same((o) => o.appendRunLogs(w.claimed, record), (c) => c.appendRunLogs(w.claimed, record));
    await same((o) => o.bulkTasks('respawn', { ids: [w.task.id] }, { nextRun: text as never }), (c) => c.bulkTasks('respawn', { ids: [w.task.id] }, { nextRun: text as never }));
    await same((o) => o.bulkTasks('disable', { ids: [w.task.id] }, { nextRun: at }), (c) => c.bulkTasks('disable', { ids: [w.task.id] }, { nextRun: at }));
    await same((o) => o.scheduleDue({ at: text as never }), (c) => c.scheduleDue({ at: text as never }));
    await same((o) => o.pauseTaskType('job', { at: 'x' as never }), (c) => c.pauseTaskType('job', { at: 'x' as never }));
    await same((o) => o.pauseTask(w.task.id, { at: 'x' as never }), (c) => c.pauseTask(w.task.id, { at: 'x' as never }));
    await same((o) => o.claimRuns({ worker: 'w', types: ['job'], limit: 1, at: 'x' as never }), (c) => c.claimRuns({ worker: 'w', types: ['job'], limit: 1, at: 'x' as never } as never));
    await same((o) => o.visits.getOrCreateLister('n', '', { at: '2020' as never }), (c) => c.visits.getOrCreateLister('n', '', { at: '2020' as never }));
    await same((o) => o.visits.updateMetrics({ at: 'x' as never }), (c) => c.visits.updateMetrics({ at: 'x' as never }));
  });

  it('4. arguments of the wrong shape are ValidationErrors naming them, not TypeErrors', async () => {
    const w = await setup();
    const same = (lib: (o: Orrery) => unknown, cli: (c: OrreryClient) => unknown) => refusedAlike(w, lib, cli);
    expect(await same((o) => o.listTaskTypes(null as never), (c) => c.listTaskTypes(null as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'names' }] });
    expect(await same((o) => o.heartbeatRuns({ worker: 'w', runs: 5 as never }), (c) => c.heartbeatRuns({ worker: 'w', runs: 5 as never }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'runs' }] });
    await same((o) => o.heartbeatRuns({ worker: 'w', runs: [null as never] }), (c) => c.heartbeatRuns({ worker: 'w', runs: [null as never] }));
    expect(await same((o) => o.endRun(w.claimed, null as never), (c) => c.endRun(w.claimed, null as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'options' }] });
    const log = [{ at, level: 'info', mesage: 'm' }] as never;
    expect(await same((o) => o.appendRunLogs(w.claimed, log), (c) => c.appendRunLogs(w.claimed, log))).toMatchObject({ error: 'ValidationError' });
    await same((o) => o.appendRunLogs(w.claimed, 5 as never), (c) => c.appendRunLogs(w.claimed, 5 as never));
    // The library's preview is synchronous: its throw is taken as a refusal.
    expect(await same(async (o) => o.schedules.preview(null as never), (c) => c.schedules.preview(null as never))).toMatchObject({ error: 'ValidationError' });
    await same((o) => o.schedules.backfill(w.cron.id, null as never), (c) => c.schedules.backfill(w.cron.id, null as never));
    await same((o) => o.visits.getListers('x' as never), (c) => c.visits.getListers('x' as never));
    await same((o) => o.visits.getVisitStats([null as never]), (c) => c.visits.getVisitStats([null as never]));
    await same((o) => o.visits.setOriginsEnabled([null as never], true), (c) => c.visits.setOriginsEnabled([null as never], true));
    await same((o) => o.visits.setOriginsEnabled('x' as never, true), (c) => c.visits.setOriginsEnabled('x' as never, true));
    // endRuns refuses the item alone, as the library does: an outcome per item, nothing ended.
    const before = await snapshot(w);
    const lib = await outcome(() => w.orrery.endRuns([null as never]));
    w.reset();
    expect(await outcome(() => w.client.endRuns([null as never]))).toEqual(lib);
    expect(lib).toMatchObject({ ok: [{ error: 'ValidationError', details: [{ path: 'items[0]' }] }] });
    expect(w.requests()).toBe(0);
    expect(await snapshot(w)).toEqual(before);
  });

  it('5. values of the wrong type no longer change what the call does', async () => {
    const w = await setup();
    await refusedAlike(w, (o) => o.listTaskTypes('job' as never), (c) => c.listTaskTypes('job' as never));
    await refusedAlike(w, (o) => o.listTaskTypes([1] as never), (c) => c.listTaskTypes([1] as never));
    const claim = { worker: 'w', types: ['job'], limit: '1' as never };
    expect(await refusedAlike(w, (o) => o.claimRuns(claim), (c) => c.claimRuns(claim))).toMatchObject({ details: [{ path: 'limit' }] });
    // The right types still work, names matched whole.
    expect((await w.client.listTaskTypes(['job', 'jo'])).map((t) => t.name)).toEqual(['job']);
  });

  it('6. the smaller differences: the library\'s errors, not a lookup, a default or every row', async () => {
    const w = await setup();
    const same = (lib: (o: Orrery) => unknown, cli: (c: OrreryClient) => unknown) => refusedAlike(w, lib, cli);
    expect(await same((o) => o.getTaskType(123 as never), (c) => c.getTaskType(123 as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'name' }] });
    expect(await same((o) => o.dags.get(5 as never), (c) => c.dags.get(5 as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'id' }] });
    await same((o) => o.visits.getVisitStats([{ url: w.url, vistType: 'git' } as never]), (c) => c.visits.getVisitStats([{ url: w.url, vistType: 'git' } as never]));
    expect(await same((o) => o.visits.getListedOrigins({ lister: w.lister, listerId: w.other }), (c) => c.visits.getListedOrigins({ lister: w.lister, listerId: w.other }))).toMatchObject({ details: [{ path: 'lister' }] });
    await same((o) => o.visits.updateMetrics({ lister: '' }), (c) => c.visits.updateMetrics({ lister: '' }));
    await same((o) => o.runRates({ minutes: 0 }), (c) => c.stats.runRates(0));
    await same((o) => o.listWorkers({ minutes: 0 }), (c) => c.stats.workers(0));
    expect(await same((o) => o.runSeries({ type: '' }), (c) => c.stats.series({ type: '' }))).toMatchObject({ error: 'NotFoundError', details: [{ path: 'type' }] });
    expect(await same((o) => o.releaseRuns({ backendIds: [] } as never), (c) => c.releaseRuns({ backendIds: [] } as never))).toMatchObject({ details: [{ path: 'worker' }] });
    expect(await same((o) => o.updateTaskType('job', null as never), (c) => c.updateTaskType('job', null as never))).toMatchObject({ error: 'ValidationError' });
    // getTaskType(''): no type has that name; the client's NotFoundError (the library's null), not "no route".
    expect(await w.orrery.getTaskType('')).toBeNull();
    w.reset();
    const e = await w.client.getTaskType('').catch((x: unknown) => x);
    expect.soft(e).toBeInstanceOf(NotFoundError);
    expect.soft((e as Error).message).not.toMatch(/no route|older Orrery/);
    expect.soft(w.requests()).toBe(0);
    // A bulk filter's list of statuses is taken, as the library and findTasks take it.
    const sel = { filter: { status: ['next_run_not_scheduled' as const, 'next_run_scheduled' as const], type: 'job' } };
    const lib = await w.orrery.bulkTasks('disable', sel, { dryRun: true });
    expect(await outcome(() => w.client.bulkTasks('disable', sel, { dryRun: true }))).toEqual({ ok: lib });
    expect(lib.matched).toBeGreaterThan(0);
  });

  it('7. ids, instants, streams and cooldowns of the wrong kind (second library fuzz audit): the library\'s ValidationError, no request', async () => {
    const w = await setup();
    const same = (lib: (o: Orrery) => unknown, cli: (c: OrreryClient) => unknown) => refusedAlike(w, lib, cli);
    let deep: unknown = [];
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const d = deep as never;
    for (const id of [{}, new Date(), true, 10n, d] as never[]) {
      expect(await same((o) => o.dags.trigger(id), (c) => c.dags.trigger(id))).toMatchObject({ error: 'ValidationError', details: [{ path: 'id' }] });
      await same((o) => o.dags.grid(id), (c) => c.dags.grid(id));
      await same((o) => o.dags.next(id), (c) => c.dags.next(id));
      await same((o) => o.dags.backfill(id, { from: at, to: at }), (c) => c.dags.backfill(id, { from: at, to: at }));
      await same((o) => o.dags.pause(id), (c) => c.dags.pause(id));
      await same((o) => o.dags.resume(id), (c) => c.dags.resume(id));
    }
    // An empty id: the library's "a DAG id is required", not the route's 404 (the client sent POST /api/dags//pause).
    expect(await same((o) => o.dags.pause(''), (c) => c.dags.pause(''))).toMatchObject({ error: 'ValidationError', details: [{ path: 'id' }] });
    await same((o) => o.dags.resume(''), (c) => c.dags.resume(''));
    expect(await same((o) => o.dags.attempts(1, Symbol('x') as never), (c) => c.dags.attempts(1, Symbol('x') as never))).toMatchObject({ details: [{ path: 'task' }] });
    expect(await same((o) => o.dags.run(d), (c) => c.dags.run(d))).toMatchObject({ details: [{ path: 'run' }] });
    await same((o) => o.dags.cancel(d), (c) => c.dags.cancel(d));
    await same((o) => o.dags.restart(d), (c) => c.dags.restart(d));
    expect(await same(async (o) => o.schedules.preview({ cron: '0 0 * * *', from: new Date(Number.NaN) }), (c) => c.schedules.preview({ cron: '0 0 * * *', from: new Date(Number.NaN) }))).toMatchObject({ details: [{ path: 'from' }] });
    await same(async (o) => o.schedules.preview({ cron: '0 0 * * *', from: new Date(-8.64e15) }), (c) => c.schedules.preview({ cron: '0 0 * * *', from: new Date(-8.64e15) }));
    await same(async (o) => o.schedules.preview({ cron: '0 0 * * *', from: d }), (c) => c.schedules.preview({ cron: '0 0 * * *', from: d }));
    expect(await same((o) => o.schedules.next(d), (c) => c.schedules.next(d))).toMatchObject({ details: [{ path: 'id' }] });
    await same((o) => o.schedules.backfills(d), (c) => c.schedules.backfills(d));
    await same((o) => o.schedules.progress(d), (c) => c.schedules.progress(d));
    await same((o) => o.schedules.cancelBackfill(d), (c) => c.schedules.cancelBackfill(d));
    for (const source of [null, 5, {}, new Date()] as never[]) expect(await same((o) => o.importTasks(source), (c) => c.importTasks(source))).toMatchObject({ details: [{ path: 'source' }] });
    for (const cooldowns of [Symbol('x'), () => 1, Number.NaN] as never[]) {
      const opts = { dryRun: true, cooldowns };
      expect(await same((o) => o.visits.grabNextVisits('git', 1, 'oldest_scheduled_first', opts), (c) => c.visits.grabNextVisits('git', 1, 'oldest_scheduled_first', opts))).toMatchObject({ details: [{ path: 'cooldowns' }] });
    }
    const old = { id: w.lister, updated: new Date('-004714-01-01T00:00:00Z') };
    expect(await same((o) => o.visits.updateLister(old), (c) => c.visits.updateLister(old))).toMatchObject({ details: [{ path: 'updated' }] });
    expect(await same((o) => o.createTask(input, [] as never), (c) => c.createTask(input, [] as never))).toMatchObject({ details: [{ path: 'options' }] });
  });
});
