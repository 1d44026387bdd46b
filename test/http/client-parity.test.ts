/** The typed client beside the library: the user's JSON returned as sent, bad values refused as the library refuses them, library-style calls. */
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageUnavailableError, ValidationError } from '../../src/core/errors.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { openHttp, type HttpHarness } from './http-helpers.js';

describe('OrreryClient beside the library', () => {
  let h: HttpHarness;
  let close: () => void = () => {};
  afterEach(async () => {
    close();
    await h?.close();
  });

  async function setup() {
    h = await openHttp({ metrics: null });
    const { server, port } = await startHttpServer(createHttpApp(h.orrery), '127.0.0.1', 0);
    close = () => server.close();
    return { orrery: h.orrery, client: new OrreryClient(`http://127.0.0.1:${port}`) };
  }

  it("returns the user's own JSON as sent: a kwarg, a result or metadata named like an instant stays a string", async () => {
    const { orrery, client } = await setup();
    await client.createTaskType({ name: 'job' });
    const stamp = '2026-01-01T00:00:00.000Z';
    const t = await client.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: { at: stamp, nested: { created: stamp } } } });
    expect(t.arguments.kwargs).toEqual({ at: stamp, nested: { created: stamp } });
    expect(t.nextRun).toBeInstanceOf(Date);
    expect((await client.getTask(t.id)).arguments).toEqual((await orrery.getTask(t.id))!.arguments);
    await orrery.scheduleDue({});
    const [c] = await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 1 });
    const ended = await client.endRun(c!.run.backendId, { status: 'eventful', worker: 'w', result: { started: stamp }, metadata: { ended: stamp } });
    expect(ended.run.result).toEqual({ started: stamp });
    expect(ended.run.metadata).toMatchObject({ ended: stamp });
    expect(ended.run.ended).toBeInstanceOf(Date);
  });

  it('refuses bad arguments as the library does: the same error class, path and message, and answers what it answers', async () => {
    const { orrery, client } = await setup();
    await client.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    const [waiting] = await orrery.scheduleDue({});
    const outcome = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: unknown) => ({ error: (e as Error).name, message: (e as Error).message, details: (e as ValidationError).details }));
    const same = async (call: (o: OrreryClient | typeof orrery) => Promise<unknown>) => {
      const lib = await outcome(call(orrery));
      expect(await outcome(call(client))).toEqual(lib);
      return lib;
    };
    for (const id of ['', '.', '..', 5 as never]) await same((o) => o.startRun(id, { worker: 'x' }));
    expect(await same((o) => o.findTasks({ limit: 0 }))).toMatchObject({ error: 'ValidationError' });
    await same((o) => o.findTasks({ cursor: 'x' }));
    await same((o) => o.findTasks({ statuss: 'x' } as never));
    for (const limit of [-1, 1.5, Number.NaN]) await same((o) => o.listPending('job', { limit }));
    expect(await same((o) => o.listPending(''))).toEqual({ ok: [] });
    expect(await same((o) => o.listPending(5 as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'type' }] });
    // A type of '' is refused, not taken for every type (the client dropped it and scheduled them all).
    expect(await same((o) => o.scheduleDue({ type: '' }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'type' }] });
    // A misspelt option is refused by both, not dropped (a respawn due now, a pause without its reason).
    expect(await same((o) => o.respawnTasks([t.id], { nextrun: new Date() } as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'options.nextrun' }] });
    expect(await same((o) => o.pauseTask(t.id, { reasn: 'x' } as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'options.reasn' }] });
    expect(await same((o) => o.pauseTaskType('job', { reasn: 'x' } as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'options.reasn' }] });
    expect(await same((o) => o.waitForTask(t.id, { signal: 'x' as never, timeoutMs: 0 }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'signal' }] });
    expect(await same((o) => o.searchTasks({ type: '' }))).toEqual({ ok: [] });
    expect(await same((o) => o.searchTasks({ type: 'x'.repeat(300) }))).toEqual({ ok: [] });
    expect(await same((o) => o.searchTasks({ type: 'x'.repeat(600) }))).toEqual({ ok: [] });
    await same((o) => o.findTasks({ type: 'x'.repeat(300) }));
    // Run searches too: the library's field and message (the client named the route's query.status), and
    // a type given as a number refused (the client sent it as text and answered an empty page).
    expect(await same((o) => o.searchRuns({ status: 'nope' }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'status' }] });
    expect(await same((o) => o.searchRuns({ type: 5 as never }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'type' }] });
    await same((o) => o.searchRuns({ limit: 0 }));
    // Bulk selections as well (core checkBulk): a Date as a filter's type ran the action over HTTP.
    expect(await same((o) => o.bulkTasks('disable', { filter: { type: new Date(0) as never } }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'filter.type' }] });
    expect(await same((o) => o.bulkTasks('explode' as never, { all: true }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'action' }] });
    await same((o) => o.bulkTasks('delete', { ids: [] }));
    await same((o) => o.bulkTasks('delete', { ids: [-1, -1] }));
    // Task ids as the library checks them (core checkId, checkIds): the same message, nothing sent.
    for (const id of ['x', 0, -1, 2 ** 53, 1.5] as never[]) {
      await same((o) => o.pauseTask(id));
      await same((o) => o.resumeTask(id));
      await same((o) => o.whyTask(id));
      await same((o) => o.getTaskWithRuns(id));
      await same((o) => o.disableTasks([id]));
      await same((o) => o.respawnTasks([id]));
      await same((o) => o.listRuns(id));
    }
    // No types to claim is no claim, as in the library (the route refuses the empty list); a lister id of '' is refused as the library refuses it.
    expect(await same((o) => o.claimRuns({ worker: 'w', types: [], limit: 1 }))).toEqual({ ok: [] });
    expect(await same((o) => o.visits.getLister(''))).toMatchObject({ error: 'ValidationError', details: [{ path: 'id' }] });
    // A type name too long to exist is not found, as in the library (the routes refused it as a bad path: a ValidationError).
    const long = 'x'.repeat(129);
    for (const call of [(o: OrreryClient | typeof orrery) => o.resumeTaskType(long), (o: OrreryClient | typeof orrery) => o.deleteTaskType(long), (o: OrreryClient | typeof orrery) => o.pauseTaskType(long), (o: OrreryClient | typeof orrery) => o.updateTaskType(long, { numRetries: 1 })]) {
      expect(await same(call)).toMatchObject({ error: 'NotFoundError' });
    }
    // An unknown DAG named as the library names it (dag), not by the route's path parameter (id).
    expect(await same((o) => o.dags.runs({ dag: 'nodag' }))).toMatchObject({ error: 'NotFoundError', details: [{ path: 'dag' }] });
    await same((o) => o.dags.trigger('nodag'));
    await same((o) => o.dags.grid('nodag'));
    await same((o) => o.dags.get('x'.repeat(129)));
    await same((o) => o.dags.trigger('x'.repeat(129)));
    await same((o) => o.dags.next('x'.repeat(129)));
    await same((o) => o.dags.backfill('x'.repeat(129), { from: new Date(0), to: new Date(0) }));
    await same((o) => o.dags.pause('x'.repeat(129)));
    await same((o) => o.dags.grid('x'.repeat(129)));
    // Visits, DAGs and previews checked as the library checks them (client-differential audit, 2026-12-07):
    // a Date as a visit's url or a lister's name was sent as its text and stored, invalid Dates were RangeErrors.
    const day = new Date('2024-06-01T00:00:00Z');
    expect(await same((o) => o.visits.recordVisit(day as never, 'git', 'successful'))).toMatchObject({ error: 'ValidationError', details: [{ path: 'url' }] });
    expect(await same((o) => o.visits.recordVisit('https://x', 'git', 'successful', day as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'snapshot' }] });
    expect(await same((o) => o.visits.getOrCreateLister(day as never))).toMatchObject({ error: 'ValidationError', details: [{ path: 'name' }] });
    await same((o) => o.visits.getOrCreateLister('l', day as never));
    await same((o) => o.visits.findLister(undefined as never));
    await same((o) => o.visits.getOriginVisits(null as never, 'git'));
    await same((o) => o.visits.getOriginVisits('https://x', 'git', { before: null as never }));
    await same((o) => o.visits.getMetricsHistory({ since: '2024-06-01T00:00:00Z' as never }));
    await same((o) => o.visits.getMetricsHistory({ since: new Date('nope') }));
    await same((o) => o.visits.getMetricsHistory({ limit: new Date('nope') as never }));
    // A Date as a DAG's pause reason is refused before anything is sent (it was stored as its text); the library names the unknown DAG first.
    expect(await outcome(client.dags.pause('nodag', { reason: day as never }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'reason' }] });
    await same((o) => o.dags.runs(null as never));
    // Without a DAG: the library lists every DAG's runs; the client says `dag` is required (http.md), not a TypeError.
    expect(await outcome(client.dags.runs())).toMatchObject({ error: 'ValidationError', details: [{ path: 'dag' }] });
    expect(await outcome(client.schedules.preview({ cron: new Date('nope') as never }))).toMatchObject({ error: 'ValidationError' });
    // A worker registration too (core workerInfo): a Date as the id registered a worker named by its text.
    expect(await same((o) => o.registerWorker({ id: new Date(0) as never, host: 'h', pid: 1, types: ['job'], concurrency: 1 }))).toMatchObject({ error: 'ValidationError', details: [{ path: 'id' }] });
    await same((o) => o.registerWorker({ id: 'w1', hostname: 'h' } as never));
    await same((o) => o.visits.getQueuePosition(5 as never));
    await same((o) => o.visits.getQueuePosition('Git'));
    await same((o) => o.visits.recordVisits([{ url: '', visitType: 'git', status: 'failed' }]));
    await same((o) => o.visits.recordVisits([{ url: 'https://x', visitType: 'git', status: 'failed', at: '2030-01-01T00:00:00Z' as never }]));
    await same((o) => o.visits.recordVisits([{ url: 'https://x', visitType: 'git', status: 'failed' }, { url: 'https://y', visitType: 'git', status: 'nope' as never }]));
    // Options the call does not know, and flags that are not booleans, refused by both before anything is done
    // (the client's bulk action with a misspelt dryRun ran for real).
    const path = (r: unknown) => (r as { details?: Array<{ path: string }> }).details?.[0]?.path;
    const refusedBoth = async (call: (o: OrreryClient | typeof orrery) => Promise<unknown>, p: string) => {
      const lib = await outcome(call(orrery));
      const cli = await outcome(call(client));
      expect([path(lib), path(cli)]).toEqual([p, p]);
    };
    await refusedBoth((o) => o.bulkTasks('disable', { ids: [t.id] }, { dryrun: true } as never), 'options.dryrun');
    await refusedBoth((o) => o.createTasksSummary([{ type: 'job', policy: 'oneshot' }], { ids: 'yes' } as never), 'ids');
    await refusedBoth((o) => o.createTasksSummary([{ type: 'job', policy: 'oneshot' }], { idz: true } as never), 'options.idz');
    await refusedBoth((o) => o.listPending('job', { limt: 5 } as never), 'options.limt');
    await refusedBoth((o) => o.listRuns(t.id, { lst: 5 } as never), 'options.lst');
    await refusedBoth((o) => o.scheduleDue({ typ: 'job' } as never), 'options.typ');
    await refusedBoth((o) => o.getRunLogs(waiting!.backendId, { aftr: 1 } as never), 'options.aftr');
    await refusedBoth((o) => o.startRun(waiting!.backendId, { worker: 'w2', metdata: {} } as never), 'options.metdata');
    await refusedBoth((o) => o.schedules.next(t.id, { cnt: 2 } as never), 'options.cnt');
    await refusedBoth((o) => o.schedules.next(t.id, { at: new Date('nope') }), 'at');
    // What JSON would lose (a Map written as {}, a function key left out) was stored by the client: refused as the library does (client audit).
    await refusedBoth((o) => o.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: { m: new Map([[1, 2]]) } } }), 'arguments.kwargs.m');
    await refusedBoth((o) => o.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: { f: () => 1, keep: 2 } } }), 'arguments.kwargs.f');
    // A Date outside the years 0000 to 9999 is refused before it is sent, naming the call's field (the route's 400 named query.at: client audit).
    const far = new Date('+010000-01-01T00:00:00Z');
    const farRefusal = (path: string) => ({ code: 'validation_error', details: [{ path, message: 'invalid ISO 8601 instant "+010000-01-01T00:00:00.000Z" (example: 2026-01-02T03:00:00Z)' }] });
    await expect(client.scheduleDue({ at: far })).rejects.toMatchObject(farRefusal('at'));
    await expect(client.schedules.next(t.id, { at: far })).rejects.toMatchObject(farRefusal('at'));
    await expect(client.listPending('job', { at: far })).rejects.toMatchObject(farRefusal('at'));
    await expect(client.visits.updateMetrics({ at: far })).rejects.toMatchObject(farRefusal('at'));
    await expect(client.bulkTasks('respawn', { all: true }, { nextRun: far, dryRun: true })).rejects.toMatchObject(farRefusal('nextRun'));
    await refusedBoth((o) => o.schedules.cancelBackfill(1, { at: 'soon' as never }), 'at');
    // `at` reaches the server: the same answer as the library's at that instant.
    const cron = await orrery.createTask({ type: 'job', schedule: { kind: 'cron', expr: '30 * * * *' }, nextRun: new Date('2026-01-01T01:30:00Z') });
    const when = new Date('2026-01-01T01:40:00Z');
    expect(await client.schedules.next(cron.id, { count: 2, at: when })).toEqual(await orrery.schedules.next(cron.id, { count: 2, at: when }));
    const l = await orrery.visits.getOrCreateLister('l');
    const badDate = new Date('nope');
    await refusedBoth((o) => o.visits.updateLister({ id: l.id, updated: l.updated.toISOString() as never }), 'updated');
    await refusedBoth((o) => o.visits.updateLister({ id: l.id, updated: l.updated, lastListingFinishedAt: '2026-01-01T00:00:00Z' as never }), 'lastListingFinishedAt');
    await refusedBoth((o) => o.visits.recordListedOrigins([{ listerId: l.id, url: 'x1', visitType: 'git', lastUpdate: badDate }]), 'origins[0].lastUpdate');
    await refusedBoth((o) => o.visits.recordListedOrigins([{ listerId: l.id, url: 'x1', visitType: 'git', lastUpdate: '2026-01-03T00:00:00Z' as never }]), 'origins[0].lastUpdate');
    await refusedBoth((o) => o.visits.recordListedOrigins(null as never), 'origins');
    await refusedBoth((o) => o.visits.recordListedOrigins([null] as never), 'origins[0]');
    await refusedBoth((o) => o.visits.setOriginsEnabled([{ url: 'x1', visitType: 'git' }], 'false' as never), 'enabled');
    await refusedBoth((o) => o.visits.getListedOrigins({ enabled: 'false' } as never), 'enabled');
    await refusedBoth((o) => o.visits.getMetrics({ fresh: 'false' } as never), 'fresh');
    await refusedBoth((o) => o.visits.recordVisits([{ url: 'x1', visitType: 'git', status: 'successful', snap: 's' } as never]), 'snap');
    await refusedBoth((o) => o.visits.getOriginVisits('x1', 'git', { limt: 5 } as never), 'filter.limt');
    expect((await orrery.visits.getListedOrigins({})).origins).toEqual([]);
    expect((await orrery.getTask(t.id))?.status).not.toBe('disabled');
    // metadata null is no metadata, as in the library
    const started = await client.startRun(waiting!.backendId, { worker: 'w2', metadata: null as never });
    expect(started).toMatchObject({ task: t.id, status: 'started', worker: 'w2', metadata: {} });
  });

  it('jobboard calls: a misspelt option is refused, due: false claims waiting runs only, and a misspelt end item is refused alone, as in the library', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const [a, b] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [1], kwargs: {} } }, { type: 'job', policy: 'oneshot', arguments: { args: [2], kwargs: {} } }]);
    // due: false was not sent: the client claimed due tasks directly, where the library claims nothing.
    expect(await client.claimRuns({ worker: 'w', types: ['job'], limit: 5, due: false } as never)).toEqual(await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 5, due: false }));
    const claimed = await client.claimRuns({ worker: 'w', types: ['job'], limit: 5, startNow: 5 });
    expect(claimed.map((c) => c.run.task).sort()).toEqual([a!.id, b!.id]);
    const path = (p: Promise<unknown>) => p.then(() => null, (e: { details?: Array<{ path: string }> }) => e.details?.[0]?.path);
    for (const board of [client, orrery]) {
      // A misspelt withdrawnOnly gave every run back.
      expect(await path(board.releaseRuns({ worker: 'w', backendIds: [claimed[0]!.run.backendId], withdrawnonly: true } as never))).toBe('options.withdrawnonly');
      expect(await path(board.claimRuns({ worker: 'w', types: ['job'], limit: 1, zzz: 1 } as never))).toBe('options.zzz');
      expect(await path(board.heldRuns('w', { zzz: 1 } as never))).toBe('options.zzz');
      expect(await path(board.abandonRun(claimed[0]!.run.backendId, { worker: 'w', reasn: 'x' } as never))).toBe('options.reasn');
    }
    // One misspelt item is refused alone; the other is ended (the client's request was refused whole).
    const outcomes = await client.endRuns([
      { backendId: claimed[0]!.run.backendId, status: 'eventful', worker: 'w', reslt: 1 } as never,
      { backendId: claimed[1]!.run.backendId, status: 'eventful', worker: 'w' },
    ]);
    expect(outcomes[0]).toMatchObject({ name: 'ValidationError', details: [{ path: 'items[0].reslt' }] });
    expect(outcomes[1]).toMatchObject({ run: { status: 'eventful' } });
    expect((await orrery.getRun(claimed[0]!.run.backendId))?.status).toBe('started');
    // Shapes the client read before checking (TypeErrors): named as the library names them.
    expect(await path(client.endRuns(null as never))).toBe('items');
    expect(await path(orrery.endRuns(null as never))).toBe('items');
    expect(await path(client.releaseRuns({ worker: 'w' } as never))).toBe('backendIds');
    expect(await path(orrery.releaseRuns({ worker: 'w' } as never))).toBe('backendIds');
  });

  it('refuses what JSON cannot carry with a ValidationError naming its place, sending nothing', async () => {
    const { orrery, client } = await setup();
    await client.createTaskType({ name: 'job' });
    const refused = async (p: Promise<unknown>, path: string) => {
      const e = await p.then(() => null, (x: unknown) => x);
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details[0]!.path).toBe(path);
    };
    await refused(client.createTask({ type: 'job', arguments: { args: [Number.NaN], kwargs: {} } }), 'arguments.args[0]');
    await refused(client.createTaskType({ name: 'other', defaultIntervalMs: Number.POSITIVE_INFINITY }), 'defaultIntervalMs');
    await refused(client.createTask({ type: 'job', arguments: { args: [undefined], kwargs: {} } }), 'arguments.args[0]');
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    await refused(client.createTask({ type: 'job', arguments: { args: [], kwargs: loop } }), 'arguments.kwargs.self');
    await refused(client.scheduleDue({ at: new Date('nope') }), 'at');
    await refused(client.archive({ before: new Date(Number.NaN) }), 'before');
    // JSON nested 100,000 deep: the library's limit, not a stack overflow in the client.
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const nested = await client.createTask({ type: 'job', arguments: { args: [deep], kwargs: {} } }).then(() => null, (x: unknown) => x);
    expect(nested).toBeInstanceOf(ValidationError);
    expect((nested as ValidationError).message).toMatch(/JSON nested deeper than 128 levels/);
    expect(await orrery.listTaskTypes()).toHaveLength(1);
    // 128 levels counted from the field, as the library counts them: the client counted from the body (a remote worker's 126-deep result was refused: DAG audit).
    await orrery.dags.register([{ id: 'deep', tasks: [{ id: 'a' }] }]);
    let params: Record<string, unknown> = { k: 1 };
    for (let i = 1; i < 128; i++) params = { k: params };
    expect((await orrery.dags.trigger('deep', params)).params).toEqual(params);
    expect((await client.dags.trigger('deep', params)).params).toEqual(params);
    expect((await orrery.findTasks({ type: 'job' })).tasks).toEqual([]);
  });

  it('takes the library forms: listTaskTypes(names), respawnTasks(ids, { nextRun }), pause with { reason, at }', async () => {
    const { orrery, client } = await setup();
    await client.createTaskType({ name: 'a' });
    await client.createTaskType({ name: 'b' });
    expect((await client.listTaskTypes(['b', 'nope'])).map((t) => t.name)).toEqual((await orrery.listTaskTypes(['b', 'nope'])).map((t) => t.name));
    expect(await client.pauseTaskType('a', { reason: 'deploy', at: new Date() })).toMatchObject({ paused: { reason: 'deploy' } });
    const t = await client.createTask({ type: 'b', policy: 'oneshot' });
    expect(await client.pauseTask(t.id, { reason: 'hold', at: new Date() })).toMatchObject({ paused: { reason: 'hold' } });
    await client.disableTasks([t.id]);
    const nextRun = new Date(Date.now() + 3_600_000);
    const [back] = await client.respawnTasks([t.id], { nextRun });
    expect(back!.nextRun).toEqual(nextRun);
  });

  it('backfill ranges given as zone-less text are UTC, as in the library, whatever the process\'s zone (they were read in it); bad text is refused naming the field', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'hourly' });
    const from = new Date(h.clock.now().getTime() - 6 * 3_600_000);
    const hour = (d: Date) => d.toISOString().slice(0, 13) + ':00'; // 2026-...T10:00, no zone
    const to = new Date(from.getTime() + 3 * 3_600_000);
    const zone = process.env.TZ;
    process.env.TZ = 'Asia/Kathmandu'; // +05:45
    try {
      for (const [who, o] of [['library', orrery], ['client', client]] as const) {
        const task = await o.createTask({ type: 'hourly', schedule: { kind: 'cron', expr: '0 * * * *' }, arguments: { args: [who], kwargs: {} } });
        const b = await o.schedules.backfill(task.id, { from: hour(from), to: hour(to) });
        expect([b.from, b.to], who).toEqual([new Date(hour(from) + ':00Z'), new Date(hour(to) + ':00Z')]);
        const bad = await o.schedules.backfill(task.id, { from: 'soon', to: hour(to) }).catch((e: unknown) => e);
        expect(bad, who).toBeInstanceOf(ValidationError);
        expect((bad as ValidationError).details[0]?.path, who).toBe('from');
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('the library refuses an invalid respawn instant and malformed log records with a ValidationError (not a database error)', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    await orrery.disableTasks([t.id]);
    await expect(orrery.respawnTasks([t.id], { nextRun: new Date('x') })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'nextRun' }] });
    await orrery.respawnTasks([t.id]);
    await orrery.scheduleDue({});
    const [c] = await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 1 });
    const id = c!.run.backendId;
    const ok = { at: new Date(), level: 'info' as const, message: 'm', attributes: {} };
    for (const [record, path] of [
      [{ ...ok, at: new Date('x') }, 'records[0].at'],
      [{ ...ok, level: 'loud' }, 'records[0].level'],
      [{ ...ok, fields: 1 }, 'records[0].fields'],
    ] as const) {
      await expect(orrery.appendRunLogs(id, [record as never])).rejects.toMatchObject({ code: 'validation_error', details: [{ path }] });
    }
    // The route's bounds, one rule for the library, the typed client and the route (the library took
    // 10,001 records and a message of any length: run data audit).
    for (const [records, message] of [
      [Array.from({ length: 10_001 }, () => ok), 'records: at most 10000 items'],
      [[{ ...ok, message: 'm'.repeat(100_001) }], 'records[0].message: at most 100000 characters'],
    ] as const) {
      await expect(orrery.appendRunLogs(id, records)).rejects.toMatchObject({ code: 'validation_error', message });
      await expect(client.appendRunLogs(id, records)).rejects.toMatchObject({ code: 'validation_error', message });
    }
    await orrery.appendRunLogs(id, [ok]);
    expect(await orrery.getRunLogs(id)).toHaveLength(1);
    // Reading the archive without a filter, or without its limit, reads 100 records, as the typed
    // client and GET /api/archive/runs do (it was refused, limit required); a filter that is not an object is named.
    expect(await orrery.readArchivedRuns()).toEqual([]);
    expect(await orrery.readArchivedTasks({ afterId: 1 })).toEqual([]);
    await expect(orrery.readArchivedRuns(null as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'filter' }] });
  });

  it('reads the archive and the due statistics with the same answers as the library (shapes audit, 2026-12-06)', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job', defaultIntervalMs: '1h' });
    await orrery.createTask({ type: 'job', arguments: { args: [1], kwargs: {} } });
    // `capped` on both: the library's dueStats had no such field.
    const due = await orrery.dueStats();
    expect(due).toEqual([{ type: 'job', due: 1, oldestDue: expect.any(Date), capped: false }]);
    expect(await client.stats.due()).toEqual(due);
    expect(await client.readArchivedRuns({})).toEqual(await orrery.readArchivedRuns({}));
    expect(await client.readArchivedTasks()).toEqual(await orrery.readArchivedTasks());
  });

  it('answers as the library: instants past the year 9999 revived as Dates, a run or type that cannot exist not found, a text startedAt refused (typed client audit)', async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const far = new Date(8.64e15);
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: far });
    // It came back as the text "+275760-09-13T00:00:00.000Z".
    expect((await client.getTask(t.id)).nextRun).toEqual(far);
    // `.` and `..` reached other paths ("no route PATCH /api/"); a backend id past 256 characters was the route's 400.
    for (const call of [() => client.updateTaskType('..', { maxRunning: 2 }), () => client.deleteTaskType('..'), () => client.pauseTaskType('.')]) {
      await expect(call()).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/^unknown task type "\.\.?"$/), details: [{ path: 'name', message: 'unknown task type' }] });
    }
    // So for DAG ids: `dags.next('.')` answered the DAG named "next", `dags.runs('.')` threw a TypeError (client audit).
    await orrery.dags.register([{ id: 'next', tasks: [{ id: 'a' }] }, { id: 'runs', tasks: [{ id: 'a' }] }]);
    for (const id of ['.', '..']) {
      const calls: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
        ['id', () => orrery.dags.next(id), () => client.dags.next(id)],
        ['id', () => orrery.dags.get(id), () => client.dags.get(id)],
        ['id', () => orrery.dags.grid(id), () => client.dags.grid(id)],
        ['id', () => orrery.dags.resume(id), () => client.dags.resume(id)],
        ['dag', () => orrery.dags.runs(id), () => client.dags.runs(id)],
      ];
      for (const [path, lib, cli] of calls) {
        const want = { code: 'not_found', message: `DAG "${id}" not found`, details: [{ path, message: 'unknown DAG' }] };
        await expect(lib()).rejects.toMatchObject(want);
        await expect(cli()).rejects.toMatchObject(want);
      }
    }
    const dagRun = await orrery.dags.trigger('next');
    await expect(client.dags.attempts(dagRun.id, '..')).rejects.toMatchObject({ code: 'not_found', details: [{ path: 'task' }] });
    await expect(orrery.dags.attempts(dagRun.id, '..')).rejects.toMatchObject({ code: 'not_found', details: [{ path: 'task' }] });
    for (const o of [orrery, client]) await expect(o.dags.attempts(dagRun.id, '')).rejects.toMatchObject({ code: 'not_found', message: `DAG run ${dagRun.id} has no task ""`, details: [{ path: 'task' }] });
    const long = 'x'.repeat(300);
    expect(await orrery.getRun(long)).toBeNull();
    await expect(client.getRun(long)).rejects.toMatchObject({ code: 'not_found' });
    for (const call of [() => client.cancelRun(long), () => client.startRun(long)]) await expect(call()).rejects.toMatchObject({ code: 'not_found', message: `run ${'x'.repeat(200)}... (300 characters) not found` });
    // A startedAt given as text was sent (and taken); the library refuses it.
    await orrery.createTask({ type: 'job', policy: 'oneshot' });
    const [c] = await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 1, due: true });
    const text = { status: 'eventful', worker: 'w', startedAt: '2020-01-01T00:00:00Z' } as never;
    await expect(orrery.endRun(c!.run.backendId, text)).rejects.toMatchObject({ code: 'validation_error', message: 'startedAt: must be a valid Date' });
    await expect(client.endRun(c!.run.backendId, text)).rejects.toMatchObject({ code: 'validation_error', message: 'startedAt: must be a valid Date' });
    expect((await orrery.getRun(c!.run.backendId))!.status).toBe('claimed');
  });

  it("batches longer than a route takes are sent in as many requests as it takes: 1,500 ends, 12,000 heartbeats and releases answer as the library's (http audit: a remote worker holding over 10,000 runs had every heartbeat refused)", async () => {
    const { orrery, client } = await setup();
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    await orrery.createTasks(Array.from({ length: 10_050 }, (_, i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await orrery.scheduleDue({});
    const held: string[] = [];
    while (held.length < 10_050) {
      const got = await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 5000, startNow: 0 });
      if (got.length === 0) break;
      held.push(...got.map((c) => c.run.backendId));
    }
    expect(held).toHaveLength(10_050);
    // 10,050 held plus 1,950 ids no run has: over the route's 10,000, the ones it holds renewed, the others lost.
    const missing = Array.from({ length: 1950 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const runs = [...held, ...missing].map((backendId) => ({ backendId }));
    const viaClient = await client.heartbeatRuns({ worker: 'w', runs });
    expect(viaClient.renewed).toBe(10_050);
    expect([...viaClient.lost].sort()).toEqual([...missing].sort());
    expect(await orrery.heartbeatRuns({ worker: 'w', runs })).toEqual({ renewed: viaClient.renewed, lost: expect.arrayContaining(viaClient.lost), cancelRequested: [] });
    // 1,500 ends: each answered, none refused for the batch's length.
    const ends = await client.endRuns(held.slice(0, 1500).map((backendId) => ({ backendId, status: 'eventful' as const, worker: 'w' })));
    expect(ends).toHaveLength(1500);
    expect(ends.every((e) => !(e instanceof Error) && e.run.status === 'eventful')).toBe(true);
    // 12,000 ids to release: the 8,550 still held go back.
    expect(await client.releaseRuns({ worker: 'w', backendIds: [...held.slice(1500), ...missing, ...missing.slice(0, 1450)] })).toBe(8550);
    expect(await orrery.releaseRuns({ worker: 'w', backendIds: held.slice(1500) })).toBe(0); // none held any more
  }, 120_000);

  it('empty input answers as the library does, without a request', async () => {
    const { orrery, client } = await setup();
    expect(await client.createTasks([])).toEqual(await orrery.createTasks([]));
    expect(await client.createTasksSummary([])).toEqual(await orrery.createTasksSummary([]));
    expect(await client.createTasksSummary([], { ids: true })).toEqual(await orrery.createTasksSummary([], { ids: true }));
    expect(await client.endRuns([])).toEqual(await orrery.endRuns([]));
    expect(await client.claimRuns({ worker: 'w', types: ['job'], limit: 0 })).toEqual(await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 0 }));
    // Not empty: still the server's answer.
    await expect(client.createTasks([{ type: 'nope' } as never])).rejects.toBeInstanceOf(ValidationError);
  });

  it('visits: empty input answers as the library does, without a request', async () => {
    const { orrery, client } = await setup();
    const lister = await orrery.visits.getOrCreateLister('l');
    // Nothing listens on this port: any request would fail with a StorageUnavailableError.
    const idle = createServer();
    await new Promise<void>((r) => idle.listen(0, '127.0.0.1', r));
    const port = (idle.address() as { port: number }).port;
    await new Promise((r) => idle.close(r));
    const away = new OrreryClient(`http://127.0.0.1:${port}`);
    expect(await away.visits.recordListedOrigins([])).toEqual(await orrery.visits.recordListedOrigins([]));
    expect(await away.visits.recordListedOrigins([], { at: new Date() })).toEqual([]);
    expect(await away.visits.setOriginsEnabled([], true)).toBe(await orrery.visits.setOriginsEnabled([], true));
    expect(await away.visits.setOriginsEnabled([], false)).toBe(0);
    expect(await away.visits.recordVisits([])).toEqual(await orrery.visits.recordVisits([]));
    expect(await away.visits.getListers([])).toEqual(await orrery.visits.getListers([]));
    expect(await away.listPending('job', { limit: 0 })).toEqual(await orrery.listPending('job', { limit: 0 }));
    expect(await away.searchTasks({ limit: 0 })).toEqual(await orrery.searchTasks({ limit: 0 }));
    // What the library refuses in an empty call is refused too: a bad instant, a lister that does not exist.
    await expect(away.visits.recordListedOrigins([], 'soon' as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'at' }] });
    await expect(away.visits.setOriginsEnabled([], true, 'x')).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'lister' }] });
    const missing = '00000000-0000-4000-8000-000000000000';
    await expect(orrery.visits.setOriginsEnabled([], true, missing)).rejects.toMatchObject({ code: 'not_found', details: [{ path: 'lister' }] });
    await expect(client.visits.setOriginsEnabled([], true, missing)).rejects.toMatchObject({ code: 'not_found', details: [{ path: 'lister' }] });
    expect(await client.visits.setOriginsEnabled([], true, lister.id)).toBe(await orrery.visits.setOriginsEnabled([], true, lister.id));
    away.close();
  });

  it('a server away is a StorageUnavailableError for imports too, and a 2xx answer that is not JSON an OrreryError', async () => {
    const odd = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy</html>'));
    await new Promise<void>((r) => odd.listen(0, '127.0.0.1', r));
    const port = (odd.address() as { port: number }).port;
    try {
      await expect(new OrreryClient(`http://127.0.0.1:${port}`).listTaskTypes()).rejects.toMatchObject({ code: 'bad_request', message: expect.stringMatching(/not JSON/) });
    } finally {
      await new Promise((r) => odd.close(r));
    }
    // The port is free now: nothing answers.
    await expect(new OrreryClient(`http://127.0.0.1:${port}`).importTasks('{"type":"job"}\n')).rejects.toBeInstanceOf(StorageUnavailableError);
  });

  it('an options object or filter given as null is a ValidationError naming it, as in the library, before any request', async () => {
    const { client } = await setup();
    const calls: Array<[string, () => Promise<unknown>, string]> = [
      ['searchRuns', () => client.searchRuns(null as never), 'filter'],
      ['searchTasks', () => client.searchTasks(null as never), 'filter'],
      ['findTasks', () => client.findTasks(null as never), 'filter'],
      ['listPending', () => client.listPending('job', null as never), 'options'],
      ['getTaskWithRuns', () => client.getTaskWithRuns(1, null as never), 'options'],
      ['pauseTask', () => client.pauseTask(1, null as never), 'options'],
      ['pauseTaskType', () => client.pauseTaskType('job', null as never), 'options'],
      ['getRunLogs', () => client.getRunLogs('x', null as never), 'options'],
      ['bulkTasks', () => client.bulkTasks('disable', { ids: [1] }, null as never), 'options'],
      ['createTasksSummary', () => client.createTasksSummary([{ type: 'job' }], null as never), 'options'],
      ['importTasks', () => client.importTasks('', null as never), 'options'],
      ['dags.next', () => client.dags.next('x', null as never), 'options'],
      ['dags.pause', () => client.dags.pause('x', null as never), 'options'],
      ['schedules.next', () => client.schedules.next(1, null as never), 'options'],
      ['stats.series', () => client.stats.series(null as never), 'options'],
      ['visits.getMetrics', () => client.visits.getMetrics(null as never), 'filter'],
      ['visits.getListedOrigins', () => client.visits.getListedOrigins(null as never), 'filter'],
      ['visits.getMetricsHistory', () => client.visits.getMetricsHistory(null as never), 'filter'],
      ['visits.getOriginVisits', () => client.visits.getOriginVisits('https://a.example', 'git', null as never), 'filter'],
      ['visits.updateMetrics', () => client.visits.updateMetrics(null as never), 'options'],
    ];
    for (const [name, call, path] of calls) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).details[0]?.path, name).toBe(path);
    }
  });
});
