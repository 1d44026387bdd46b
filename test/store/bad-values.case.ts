import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { T0, claimStarted, plus, useOrrery } from './fixtures.js';

/**
 * Library calls with values of the wrong JavaScript kind (found by a library fuzz audit): each is a
 * ValidationError naming the field, the same on both stores, and nothing is written; none crashes
 * the process (a circular value ran out of memory) or reaches the database driver.
 */
export function badValueCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('library calls with values of the wrong kind', () => {
    it('a call after close() is a StorageError saying the store is closed, not the driver\'s own words', async () => {
      const { orrery } = await setup([{ name: 'mail', defaultIntervalMs: '1h' }]);
      await orrery.createTask({ type: 'mail', policy: 'oneshot' }); // the task types are known to the service: only the store can refuse
      await orrery.close();
      // Imports and batches past 1,000 tasks, which SQLite writes on a connection of their own, too: they were written after close().
      const many = Array.from({ length: 1001 }, (_, i) => ({ type: 'mail', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));
      const calls = [
        () => orrery.createTask({ type: 'mail' }),
        () => orrery.searchTasks({}),
        () => orrery.claimRuns({ worker: 'w', types: ['mail'], limit: 1 }),
        () => orrery.importTasks('{"type":"mail","policy":"oneshot","arguments":{"args":["x"]}}\n'),
        () => orrery.createTasks(many),
        () => orrery.createTasksSummary(many),
      ];
      for (const call of calls) {
        await expect(call()).rejects.toMatchObject({ name: 'StorageError', code: 'storage_error', message: expect.stringContaining('the store is closed') });
      }
      await orrery.close(); // closing again does nothing
    });

    it('a NUL in a name that is looked up (type, worker) is a ValidationError naming it on both stores, not PostgreSQL\'s driver error', async () => {
      const { orrery } = await setup([{ name: 'o', defaultIntervalMs: '1h' }]);
      const nul = 'o\0x';
      const named = (path: string) => ({ name: 'ValidationError', details: [expect.objectContaining({ path })] });
      await expect(orrery.createTask({ type: nul, policy: 'oneshot' })).rejects.toMatchObject(named('type'));
      await expect(orrery.createTasks([{ type: 'o', policy: 'oneshot' }, { type: nul, policy: 'oneshot' }])).rejects.toMatchObject(named('tasks[1].type'));
      await expect(orrery.createTasksSummary([{ type: nul, policy: 'oneshot' }])).rejects.toMatchObject(named('tasks[0].type'));
      await expect(orrery.importTasks(lines([`${JSON.stringify({ type: nul, policy: 'oneshot' })}\n`]))).rejects.toMatchObject({ name: 'ValidationError', message: expect.stringContaining('line 1: type: must not contain NUL') });
      for (const call of [() => orrery.updateTaskType(nul, { description: 'x' }), () => orrery.pauseTaskType(nul), () => orrery.resumeTaskType(nul), () => orrery.deleteTaskType(nul), () => orrery.getTaskType(nul)]) {
        await expect(call()).rejects.toMatchObject(named('name'));
      }
      await expect(orrery.getTaskType(['o'] as never)).rejects.toMatchObject(named('name'));
      await expect(orrery.searchRuns({ worker: 'a\0' })).rejects.toMatchObject(named('worker'));
      await expect(orrery.searchRuns({ type: nul })).rejects.toMatchObject(named('type'));
      await expect(orrery.stopWorker('a\0')).rejects.toMatchObject(named('id'));
      await expect(orrery.bulkTasks('disable', { runs: { worker: 'a\0' } }, { dryRun: true })).rejects.toMatchObject(named('runs.worker'));
      // A type of the wrong kind in a task search: refused on both stores (SQLite's driver threw, PostgreSQL answered []).
      for (const type of [true, {}, ['o'], 5, nul]) await expect(orrery.searchTasks({ type } as never)).rejects.toMatchObject(named('type'));
      await expect(orrery.searchTasks({ dagAttempts: 'yes' } as never)).rejects.toMatchObject(named('dagAttempts'));
      for (const type of [true, ['o'], nul]) await expect(orrery.listPending(type as never)).rejects.toMatchObject(named('type'));
      const t = await orrery.createTask({ type: 'o', policy: 'oneshot' });
      await expect(orrery.waitForTask(t.id, { signal: 'x' as never, timeoutMs: 0 })).rejects.toMatchObject(named('signal'));
      expect((await orrery.searchTasks({})).map((x) => x.id)).toEqual([t.id]);
    });

    it('readings at the earliest and latest instants both stores hold answer on both (PostgreSQL failed with timestamp out of range: differential audit)', async () => {
      const { orrery } = await setup([{ name: 'o', defaultIntervalMs: '64d', rateLimit: '1/1h', rateLimitPerKey: '1/1h' }, { name: 'p' }]);
      const earliest = new Date(Date.UTC(-4713, 10, 24));
      const latest = new Date(8.64e15);
      const t = await orrery.createTask({ type: 'o', arguments: { args: ['min'] }, nextRun: earliest }, { at: earliest });
      // The runner's catch-up window, why's worker window, the rate windows and the stats' windows reach before it.
      expect((await orrery.scheduleDue({ at: earliest })).map((r) => r.task)).toEqual([t.id]);
      expect((await orrery.whyTask(t.id, { at: earliest })).task).toBe(t.id);
      expect((await orrery.runRates({ at: earliest, minutes: 1440 })).rates).toEqual([]);
      expect(await orrery.listWorkers({ at: earliest })).toEqual([]);
      // A worker registering then (its registry prunes before it) and a runner pass with a grace (review of the fix).
      expect((await orrery.registerWorker({ id: 'w', host: 'h', pid: 1, types: ['o'], concurrency: 1 }, { at: earliest })).startedAt).toEqual(earliest);
      await orrery.createTask({ type: 'p', policy: 'oneshot' }, { at: earliest });
      await expect(orrery.scheduleDue({ at: earliest, graceMs: 60_000, type: 'p' })).resolves.toBeInstanceOf(Array);
      // A claim of a rate-limited type (its windows reach before it; PostgreSQL failed: library differential audit).
      expect((await orrery.claim({ worker: 'w', types: ['o'], limit: 10, at: earliest })).runs.map((c) => c.run.task)).toEqual([t.id]);
      // Alerts taken for delivery just before the latest instant: their lease is held there (PostgreSQL failed).
      await expect(orrery.store.alerts.takeAlerts({ sources: ['task'], at: new Date(latest.getTime() - 1000), limit: 1, leaseMs: 60_000 })).resolves.toBeDefined();
      for (const at of [earliest, latest]) {
        for (const range of ['1h', '24h', '7d']) {
          const series = await orrery.runSeries({ at, range });
          expect(series.points.length).toBeGreaterThan(0);
          expect(series.since.getTime()).toBeGreaterThanOrEqual(earliest.getTime());
          expect(series.until.getTime()).toBeLessThanOrEqual(latest.getTime());
        }
      }
    });

    it('leases computed just before the latest instant are held there: runs claimed, started from outside and renewed read back (both stores read an invalid lease)', async () => {
      const { orrery } = await setup([{ name: 'o', leaseMs: '1h' }]);
      const latest = 8.64e15;
      const near = new Date(latest - 1000);
      let n = 0;
      const make = () => orrery.createTask({ type: 'o', policy: 'oneshot', arguments: { args: [(n += 1)] }, nextRun: near }, { at: near });
      const [a, b, c] = [await make(), await make(), await make()];
      const queued = await orrery.scheduleDue({ at: near, type: 'o' });
      expect(queued.map((r) => r.task).sort()).toEqual([a.id, b.id, c.id].sort());
      // Two runs claimed from the queue, one started from outside, one claimed from its due task directly.
      expect((await orrery.claim({ worker: 'w', types: ['o'], limit: 2, at: near })).runs.map((r) => r.run.task)).toEqual([a.id, b.id]);
      await orrery.startRun(queued.find((r) => r.task === c.id)!.backendId, { worker: 'x', at: near });
      const d = await make();
      expect((await orrery.claim({ worker: 'w', types: ['o'], limit: 1, at: near })).runs.map((r) => r.run.task)).toEqual([d.id]);
      const held = [...(await orrery.heldRuns('w')), ...(await orrery.heldRuns('x'))];
      expect(held.map((h) => h.run.task).sort()).toEqual([a.id, b.id, c.id, d.id].sort());
      for (const h of held) expect(h.run.leaseExpiresAt?.getTime()).toBe(latest);
      // Renewals one by one and in a batch (with a start reported).
      expect((await orrery.heartbeat(held[0]!.run.backendId, { worker: 'w', at: near })).leaseExpiresAt.getTime()).toBe(latest);
      await orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: held[1]!.run.backendId, startedAt: near }, { backendId: held[2]!.run.backendId }], at: near });
      for (const h of held) expect((await orrery.getRun(h.run.backendId))!.leaseExpiresAt?.getTime()).toBe(latest);
    });

    it('a misspelt option of respawn, pause, resume or disable is a ValidationError naming it, and nothing changes', async () => {
      const { orrery } = await setup([{ name: 'o', defaultIntervalMs: '1h' }]);
      const t = await orrery.createTask({ type: 'o', policy: 'oneshot' });
      await orrery.disableTasks([t.id]);
      const before = await orrery.getTask(t.id);
      const named = (path: string) => ({ name: 'ValidationError', details: [expect.objectContaining({ path })] });
      // Before: the respawn went ahead, due now; the pauses went ahead without their reason.
      await expect(orrery.respawnTasks([t.id], { nextrun: new Date('2099-01-01T00:00:00Z') } as never)).rejects.toMatchObject(named('options.nextrun'));
      await expect(orrery.pauseTask(t.id, { reasn: 'x' } as never)).rejects.toMatchObject(named('options.reasn'));
      await expect(orrery.pauseTaskType('o', { reasn: 'x' } as never)).rejects.toMatchObject(named('options.reasn'));
      await expect(orrery.resumeTask(t.id, { foo: 1 } as never)).rejects.toMatchObject(named('options.foo'));
      await expect(orrery.resumeTaskType('o', { foo: 1 } as never)).rejects.toMatchObject(named('options.foo'));
      await expect(orrery.disableTasks([t.id], { foo: 1 } as never)).rejects.toMatchObject(named('options.foo'));
      expect(await orrery.getTask(t.id)).toEqual(before);
      expect((await orrery.getTaskType('o'))?.paused).toBeNull();
    });

    it('every call refuses an option it does not know, naming it, and a flag that is not a boolean; nothing is written', async () => {
      const { orrery } = await setup([{ name: 'o', defaultIntervalMs: '1h' }]);
      const named = (path: string) => ({ name: 'ValidationError', details: [expect.objectContaining({ path })] });
      const t = await orrery.createTask({ type: 'o', policy: 'oneshot' });
      const x = { bogus: 1 } as never;
      const lines = async function* () { yield '{"type":"o","policy":"oneshot"}\n'; };
      const refused: Array<[string, () => Promise<unknown>]> = [
        ['options.bogus', () => orrery.createTask({ type: 'o', policy: 'oneshot' }, x)],
        ['options.bogus', () => orrery.createTasks([{ type: 'o', policy: 'oneshot' }], x)],
        ['options.bogus', () => orrery.createTasksSummary([{ type: 'o', policy: 'oneshot' }], x)],
        ['ids', () => orrery.createTasksSummary([{ type: 'o', policy: 'oneshot' }], { ids: 'yes' } as never)],
        ['options.bogus', () => orrery.importTasks(lines(), x)],
        ['ids', () => orrery.importTasks(lines(), { ids: 1 } as never)],
        ['options.bogus', () => orrery.createTaskType({ name: 'p' }, x)],
        ['options.bogus', () => orrery.updateTaskType('o', { maxRunning: 2 }, x)],
        ['options.bogus', () => orrery.deleteTaskType('o', x)],
        ['options.bogus', () => orrery.whyTask(t.id, x)],
        ['options.bogus', () => orrery.getTaskWithRuns(t.id, x)],
        ['options.bogus', () => orrery.listPending('o', x)],
        ['options.bogus', () => orrery.listRuns(t.id, x)],
        ['options.bogus', () => orrery.dueStats(x)],
        ['options.bogus', () => orrery.queueStats(x)],
        ['options.minute', () => orrery.runRates({ minute: 5 } as never)],
        ['options.bogus', () => orrery.listWorkers(x)],
        ['options.bogus', () => orrery.runSeries(x)],
        ['options.bogus', () => orrery.scheduleDue(x)],
        ['fill', () => orrery.scheduleDue({ fill: 'no' } as never)],
        ['refillFraction', () => orrery.scheduleDue({ refillFraction: 2 })],
        ['options.bogus', () => orrery.claimRuns({ worker: 'w', types: ['o'], limit: 1, bogus: 1 } as never)],
        ['due', () => orrery.claimRuns({ worker: 'w', types: ['o'], limit: 1, due: 'no' } as never)],
        ['options.withdrawnonly', () => orrery.releaseRuns({ worker: 'w', backendIds: ['b'], withdrawnonly: true } as never)],
        ['options.bogus', () => orrery.reapExpired(x)],
        ['options.bogus', () => orrery.schedules.next(t.id, x)],
        ['options.bogus', () => orrery.archive({ before: T0, bogus: 1 } as never)],
        ['table', () => orrery.archive({ before: T0, table: 'no' } as never)],
        // A dry run asked with anything but true ran the action for real (client audit).
        ['dryRun', () => orrery.bulkTasks('disable', { ids: [t.id] }, { dryRun: 'yes' } as never)],
        ['dryRun', () => orrery.bulkTasks('disable', { ids: [t.id] }, { dryRun: 1 } as never)],
        ['dryRun', () => orrery.visits.grabNextVisits('o', 1, 'oldest_scheduled_first', { dryRun: 'yes' } as never)],
      ];
      for (const [path, call] of refused) await expect(call(), path).rejects.toMatchObject(named(path));
      // A misspelt end option was dropped without a word (`retryAfter` for `retryAfterMs`): one item refused, the others ended.
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['o'], limit: 1 });
      await expect(orrery.endRun(c!.run.backendId, { status: 'failed', worker: 'w', retryAfter: 5 } as never)).rejects.toMatchObject(named('options.retryAfter'));
      await expect(orrery.endRun(c!.run.backendId, { status: 'failed', worker: 'w', throttle: 'x' } as never)).rejects.toMatchObject(named('throttle'));
      const [bad] = await orrery.endRuns([{ backendId: c!.run.backendId, status: 'eventful', worker: 'w', reslt: 1 } as never]);
      expect(bad).toMatchObject(named('items[0].reslt'));
      expect((await orrery.getRun(c!.run.backendId))?.status).toBe(c!.run.status); // not ended
      expect((await orrery.searchTasks({})).map((k) => k.id)).toEqual([t.id]);
      expect((await orrery.listTaskTypes()).map((k) => k.name)).toEqual(['o']);
      // answerWithinMs (a remote board's bound) is taken and ignored in process.
      expect(await orrery.heldRuns('w', { answerWithinMs: 1000 })).toHaveLength(1);
      const [ended] = await orrery.endRuns([{ backendId: c!.run.backendId, status: 'eventful', worker: 'w' }], { answerWithinMs: 1000 });
      expect(ended).toMatchObject({ run: { status: 'eventful' } });
    });

    it('a circular value is refused, not walked for ever', async () => {
      const { orrery } = await setup([{ name: 'mail', defaultIntervalMs: '1h' }]);
      const c: Record<string, unknown> = {};
      c.self = c;
      await expect(orrery.searchTasks({ type: c } as never)).rejects.toBeInstanceOf(ValidationError);
      await expect(orrery.createTask({ type: 'mail', arguments: { args: [], kwargs: { c } } })).rejects.toBeInstanceOf(ValidationError);
      const lister = await orrery.visits.getOrCreateLister('l');
      await expect(orrery.visits.updateLister({ id: lister.id, updated: lister.updated, currentState: c })).rejects.toMatchObject({ details: [{ message: expect.stringContaining('circular value') }] });
      // The same object twice (not inside itself) is fine.
      const shared = { a: 1 };
      await orrery.createTask({ type: 'mail', arguments: { args: [shared, shared], kwargs: {} } });
    });

    it('text a toJSON() returns is checked as JSON writes it: a NUL in it is refused on both stores', async () => {
      const { orrery } = await setup([{ name: 'mail', defaultIntervalMs: '1h' }]);
      class Nul {
        toJSON() {
          return 'a\u0000b';
        }
      }
      await expect(orrery.createTask({ type: 'mail', arguments: { args: [new Nul()], kwargs: {} } })).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'arguments.args[0]' }] });
      expect(await orrery.searchTasks({})).toEqual([]);
    });

    it('metadata, DAG params and log attributes that JSON writes as text or an array (a toJSON(), a Date) are refused, and the run stays readable', async () => {
      const { orrery } = await setup([{ name: 'mail', defaultIntervalMs: '1h' }]);
      await orrery.createTask({ type: 'mail', policy: 'oneshot' }, { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const [c] = await claimStarted(orrery, { worker: 'w', types: ['mail'], limit: 1, at: T0 });
      const b = c!.run.backendId;
      const named = (path: string) => ({ name: 'ValidationError', details: [expect.objectContaining({ path, message: 'must be a JSON object' })] });
      // Before: PostgreSQL stored the jsonb string "x" and getRun then threw a SyntaxError; SQLite stored "x".
      for (const metadata of [{ toJSON: () => 'x' }, { toJSON: () => [1] }, new Date(0)]) {
        await expect(orrery.endRun(b, { status: 'eventful', worker: 'w', metadata } as never)).rejects.toMatchObject(named('metadata'));
      }
      await expect(orrery.appendRunLogs(b, [{ at: T0, level: 'info', message: 'm', attributes: { toJSON: () => 's' } }] as never)).rejects.toMatchObject(named('records[0].attributes'));
      expect(await orrery.getRun(b)).toMatchObject({ status: 'started', metadata: {} });
      // An object written as an object passes.
      await orrery.endRun(b, { status: 'eventful', worker: 'w', metadata: { toJSON: () => ({ k: 1 }) } } as never);
      expect((await orrery.getRun(b))?.metadata).toEqual({ k: 1 });
    });

    it('holes in batch arrays, a Date as a filter and a lister name that is not text are ValidationErrors naming them on both stores (library edge audit)', async () => {
      const { orrery } = await setup([{ name: 'mail', defaultIntervalMs: '1h' }]);
      const named = (path: string) => ({ name: 'ValidationError', details: [expect.objectContaining({ path })] });
      const visit = { url: 'https://x', visitType: 'git', status: 'successful' };
      // eslint-disable-next-line no-sparse-arrays
      await expect(orrery.visits.recordVisits([visit, , visit] as never)).rejects.toMatchObject(named('visits[1]'));
      // eslint-disable-next-line no-sparse-arrays
      await expect(orrery.heartbeatRuns({ worker: 'w', runs: [{ backendId: 'a' }, , { backendId: 'b' }] } as never)).rejects.toMatchObject(named('runs[1]'));
      // eslint-disable-next-line no-sparse-arrays
      await expect(orrery.visits.setOriginsEnabled([{ url: 'https://x', visitType: 'git' }, ,] as never, false)).rejects.toMatchObject(named('origins[1]'));
      // eslint-disable-next-line no-sparse-arrays
      await expect(orrery.appendRunLogs('b', [{ at: T0, level: 'info', message: 'm' }, , { at: T0, level: 'info', message: 'n' }] as never)).rejects.toMatchObject(named('records[1]'));
      const lister = await orrery.visits.getOrCreateLister('l');
      const origin = { listerId: lister.id, url: 'https://x', visitType: 'git' };
      // eslint-disable-next-line no-sparse-arrays
      await expect(orrery.visits.recordListedOrigins([origin, , origin] as never)).rejects.toMatchObject(named('origins[1]'));
      for (const filter of [new Date()]) {
        await expect(orrery.readArchivedRuns(filter as never)).rejects.toMatchObject(named('filter'));
        await expect(orrery.readArchivedTasks(filter as never)).rejects.toMatchObject(named('filter'));
        await expect(orrery.dags.runs(filter as never)).rejects.toMatchObject(named('filter'));
        await expect(orrery.dags.runs('d', filter as never)).rejects.toMatchObject(named('filter'));
      }
      for (const name of [{}, 5, null, ['l']]) await expect(orrery.visits.findLister(name as never)).rejects.toMatchObject(named('name'));
      await expect(orrery.visits.findLister('l', 5 as never)).rejects.toMatchObject(named('instanceName'));
      // A visit's bad instant is named with its place in the batch.
      await expect(orrery.visits.recordVisits([visit, visit, { ...visit, at: new Date(NaN) }] as never)).rejects.toMatchObject(named('visits[2].at'));
      // An origin's extra arguments nest one level less than arguments: 127 (one of 128 blocked every scheduling pass).
      const deep = (n: number): unknown => (n === 0 ? 1 : { k: deep(n - 1) });
      await expect(orrery.visits.recordListedOrigins([{ ...origin, extraLoaderArguments: deep(128) }] as never)).rejects.toMatchObject(named('origins[0].extraLoaderArguments'));
      await orrery.visits.recordListedOrigins([{ ...origin, extraLoaderArguments: deep(127) }] as never);
    });

    it('an origin URL past 2,048 bytes of UTF-8 is refused on both stores before anything is written (PostgreSQL failed past its 2,704-byte index entry)', async () => {
      const { orrery } = await setup([]);
      const lister = await orrery.visits.getOrCreateLister('l');
      // Text that does not compress (PostgreSQL compresses a long index entry before it measures it).
      const noise = (n: number) => randomBytes(n).toString('base64url').slice(0, n);
      const at = (bytes: number, unit?: string) => `https://x.org/${unit ? unit.repeat(Math.floor((bytes - 14) / Buffer.byteLength(unit))) : noise(bytes - 14)}`;
      const longest = at(2048);
      expect(Buffer.byteLength(longest)).toBe(2048);
      await orrery.visits.recordListedOrigins([{ listerId: lister.id, url: longest, visitType: 'git' }]);
      await orrery.visits.recordVisit(longest, 'git', 'failed');
      for (const url of [at(2049 + 1), at(3000), at(4000, 'é'), at(2700, '€')]) {
        await expect(orrery.visits.recordListedOrigins([{ listerId: lister.id, url: 'https://ok', visitType: 'git' }, { listerId: lister.id, url, visitType: 'git' }]))
          .rejects.toMatchObject({ code: 'validation_error', message: expect.stringMatching(/^origins\[1\]\.url: must be a non-empty string of at most 2048 bytes of UTF-8/) });
        await expect(orrery.visits.recordVisit(url, 'git', 'failed')).rejects.toMatchObject({ code: 'validation_error' });
      }
      expect((await orrery.visits.getListedOrigins({ limit: 10 })).origins.map((o) => o.url)).toEqual([longest]);
    });

    it('a lister state that JSON writes as a string (a Date, a String object) is refused, and the lister stays readable', async () => {
      const { orrery } = await setup([]);
      const lister = await orrery.visits.getOrCreateLister('l');
      for (const bad of [new Date(T0), new String('abc')]) {
        await expect(orrery.visits.updateLister({ id: lister.id, updated: lister.updated, currentState: bad as never })).rejects.toMatchObject({ details: [{ path: 'currentState' }] });
      }
      expect(await orrery.visits.getLister(lister.id)).toEqual(lister);
      expect(await orrery.visits.listListers()).toHaveLength(1);
    });

    it('run ids, worker ids, end errors and abandon reasons that are not strings', async () => {
      const { orrery } = await setup([{ name: 'mail', defaultIntervalMs: '1h' }]);
      await orrery.createTask({ type: 'mail', arguments: { args: ['x'], kwargs: {} } });
      const [c] = await claimStarted(orrery, { worker: 'w1', types: ['mail'], limit: 1, at: plus(T0, 1) });
      const bid = c!.run.backendId;
      const refused = async (p: Promise<unknown>, path: string) => expect(p).rejects.toMatchObject({ name: 'ValidationError', details: [{ path }] });
      await refused(orrery.endRun(bid, { status: 'failed', worker: 'w1', error: { a: 1 } as never }), 'error');
      await refused(orrery.endRun(bid, { status: 'failed', worker: 'w1', error: 42 as never }), 'error');
      await refused(orrery.abandonRun(bid, { worker: 'w1', reason: { a: 1 } as never }), 'reason');
      await refused(orrery.heartbeat(bid, { worker: {} as never }), 'worker');
      await refused(orrery.heartbeatRuns({ worker: {} as never, runs: [{ backendId: bid }] }), 'worker');
      await refused(orrery.endRun({} as never, { status: 'failed', worker: 'w1' }), 'backendId');
      await refused(orrery.getRunLogs(['x'] as never), 'backendId');
      // The jobboard's options objects, left out or null, name what they expect.
      await refused((orrery.claimRuns as (o?: unknown) => Promise<unknown>)(), 'options');
      await refused(orrery.heartbeatRuns(null as never), 'options');
      await refused((orrery.endRun as (b: string) => Promise<unknown>)(bid), 'options');
      await refused((orrery.abandonRun as (b: string) => Promise<unknown>)(bid), 'options');
      await refused(orrery.endRuns(null as never), 'items');
      await refused(orrery.heartbeat(bid, null as never), 'options');
      await refused((orrery.heartbeat as (b: string) => Promise<unknown>)(bid), 'options');
      await refused(orrery.releaseRuns(null as never), 'options');
      await refused((orrery.releaseRuns as () => Promise<unknown>)(), 'options');
      // A bad item of endRuns is refused alone, as an invalid end is: the others go on.
      const [badItem] = await orrery.endRuns([null as never]);
      expect(badItem).toMatchObject({ name: 'ValidationError', details: [{ path: 'items[0]' }] });
      await refused(orrery.claimRuns({ worker: 'w1', types: ['mail'], limit: 1, startNow: 1e300 }), 'startNow');
      await refused(orrery.listPending('mail', { limit: 1e300 }), 'limit');
      await refused(orrery.listTaskTypes('abc' as never), 'names');
      await refused(orrery.searchRuns({ status: 5 as never }), 'status');
      await refused(orrery.searchRuns({ since: 5 as never }), 'since');
      await refused(orrery.scheduleDue({ graceMs: 'abc' as never }), 'graceMs');
      await refused(orrery.searchRuns({ since: new Date(-8.64e15) }), 'since');
      // One instant check everywhere (core requireInstant): before 4714 BC is refused on both stores.
      await refused(orrery.archive({ before: new Date(-8.64e15) }), 'before');
      await refused(orrery.visits.getMetricsHistory({ since: new Date(-8.64e15) }), 'since');
      await refused(orrery.findTasks({ nextRunFrom: new Date(-8.64e15) }), 'nextRunFrom');
      expect((await orrery.getRun(bid))!.status).toBe('started');
      await refused(orrery.dags.get('d', Buffer.from('hi') as never), 'latest');
      await refused(orrery.dags.runs({ limit: -1 }), 'limit');
      // Past 2147483647 the stores' own errors answered (SQLite's datatype mismatch, PostgreSQL's bigint syntax), or the limit was taken.
      for (const limit of [2_147_483_648, 1e300]) {
        await refused(orrery.searchTasks({ limit }), 'limit');
        await refused(orrery.readArchivedRuns({ limit }), 'limit');
        await refused(orrery.readArchivedTasks({ limit }), 'limit');
        await refused(orrery.dags.runs({ limit }), 'limit');
      }
      expect(await orrery.searchTasks({ limit: 0 })).toEqual([]);
      // A misspelt filter is named, not left out (every task would have matched it).
      await refused(orrery.findTasks({ typ: 'mail' } as never), 'typ');
      await refused(orrery.searchTasks({ statuss: 'completed' } as never), 'statuss');
      await refused(orrery.searchRuns({ workr: 'w1' } as never), 'workr');
      expect((await orrery.findTasks({ type: 'mail', status: undefined })).tasks.length).toBeGreaterThan(0);
      await refused(orrery.dags.runs({ beforeId: 1.5 }), 'beforeId');
      await refused(orrery.dags.runs({ status: true as never }), 'status');
    });
  });
}

/** Lines as the async source importTasks reads. */
async function* lines(texts: readonly string[]): AsyncIterable<string> {
  for (const t of texts) yield t;
}
