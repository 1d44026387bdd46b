import { afterEach, describe, expect, it } from 'vitest';
import type { DagInput } from '../../src/core/dag-input.js';
import { Orrery } from '../../src/engine/service.js';
import { ManualClock } from '../../src/engine/clock.js';
import type { StoreUnderTest } from './describe-store.js';
import { ConflictError, ValidationError } from '../../src/core/errors.js';
import { HOUR, LOAD_GIT, T0, plus, useOrrery, claimOne, claimStarted } from './fixtures.js';

interface Marker {
  dag: string;
  run: number;
  task: string;
  attempt: number;
  params: Record<string, unknown>;
  upstream: Record<string, unknown>;
  execTs: string;
}
type Outcome = { ok: unknown } | { fail: string } | { perm: string };

/**
 * Plays scheduler, runner and worker by hand on the manual clock: steps the DAG runs, schedules due
 * attempts, claims them and ends them with what `handle` says, until nothing moves.
 */
async function drive(orrery: Orrery, handle: (m: Marker) => Outcome, log: Marker[] = []): Promise<Marker[]> {
  for (let round = 0; round < 200; round++) {
    await orrery.dags.progressAll();
    await orrery.scheduleDue({});
    const claimed = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 1000 });
    if (claimed.length === 0) {
      const { outcomes } = await orrery.dags.progressAll();
      await orrery.scheduleDue({});
      const again = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 1 });
      if (again.length === 0 && outcomes.length === 0) return log;
      claimed.push(...again);
    }
    for (const c of claimed) {
      const m = c.arguments.kwargs['orrery.dag'] as Marker;
      log.push(m);
      const o = handle(m);
      if ('ok' in o) await orrery.endRun(c.run.backendId, { status: 'eventful', result: o.ok, worker: 'w' });
      else if ('fail' in o) await orrery.endRun(c.run.backendId, { status: 'failed', error: o.fail, worker: 'w' });
      else await orrery.endRun(c.run.backendId, { status: 'permfailed', error: o.perm, worker: 'w' });
    }
  }
  throw new Error('the DAG did not settle in 200 rounds');
}

const diamond: DagInput = {
  id: 'diamond',
  tasks: [{ id: 'a' }, { id: 'b', after: ['a'] }, { id: 'c', after: ['a'] }, { id: 'd', after: ['b', 'c'] }],
};

export function dagCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);
  const open = async () => (await setup([])).orrery;
  const pairCleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (pairCleanups.length) await pairCleanups.pop()!();
  });
  /** A fresh store plus a second service on the same database (another process, as far as the store knows). */
  const setupPair = async (s: StoreUnderTest) => {
    const opened = await s.open();
    const clock = new ManualClock(T0);
    const orrery = new Orrery(opened.store, clock);
    const extra: Orrery[] = [];
    pairCleanups.push(async () => {
      for (const o of extra) await o.close();
      await orrery.close();
      await opened.cleanup();
    });
    return {
      orrery,
      openAnother: async () => {
        const o = new Orrery(await opened.openAnother(), clock);
        extra.push(o);
        return o;
      },
    };
  };

  describe('DAG workflows', () => {
    it('stores definitions with versions: unchanged, new structure, the orrery.dag type created', async () => {
      const orrery = await open();
      const [first] = await orrery.dags.register([diamond]);
      expect(first).toMatchObject({ id: 'diamond', created: true, newVersion: true });
      expect((await orrery.dags.register([diamond]))[0]).toMatchObject({ created: false, newVersion: false, version: first!.version });
      const changed = await orrery.dags.register([{ ...diamond, tasks: [...diamond.tasks, { id: 'e', after: ['d'] }] }]);
      expect(changed[0]!.newVersion).toBe(true);
      expect(changed[0]!.version).not.toBe(first!.version);
      expect((await orrery.getTaskType('orrery.dag'))?.backendName).toBe('orrery.dag');
      const [summary] = await orrery.dags.list();
      expect(summary!.tasks.map((t) => t.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
      // Back to the first structure: a new version for the DAG (its tasks changed), though stored before.
      expect((await orrery.dags.register([diamond]))[0]).toMatchObject({ created: false, newVersion: true, version: first!.version });
      expect((await orrery.dags.register([diamond]))[0]).toMatchObject({ created: false, newVersion: false, version: first!.version });
      expect((await orrery.dags.list())[0]!.tasks.map((t) => t.id)).toEqual(['a', 'b', 'c', 'd']);
    });

    it('refuses a DAG task type whose backend is not orrery.dag', async () => {
      const orrery = await open();
      await orrery.createTaskType({ name: 'plain', defaultIntervalMs: '1d' });
      await expect(orrery.dags.register([{ id: 'x', tasks: [{ id: 'a', type: 'plain' }] }])).rejects.toThrow('DAG tasks need a type whose backend is "orrery.dag"');
    });

    it('a refused definition among several writes nothing (no DAG, no DAG task type) and names its task', async () => {
      const orrery = await open();
      await orrery.createTaskType({ name: 'plain', defaultIntervalMs: '1d' });
      const defs = [
        { id: 'ok', tasks: [{ id: 'a', type: 'fresh' }] },
        { id: 'bad', tasks: [{ id: 'a', type: 'fresh' }, { id: 'b', type: 'plain' }] },
      ];
      const e = await orrery.dags.register(defs).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).message).toBe('dags[1]: tasks[1].type: task type "plain" has backend "plain"; DAG tasks need a type whose backend is "orrery.dag"');
      expect((e as ValidationError).details).toEqual([{ path: 'dags[1].tasks[1].type', message: expect.stringContaining('"plain"') }]);
      expect(await orrery.getTaskType('fresh')).toBeNull();
      expect(await orrery.dags.list()).toEqual([]);
      // A definition alone is named by its place in the list too.
      await expect(orrery.dags.register([defs[1]!])).rejects.toMatchObject({ details: [{ path: 'dags[0].tasks[1].type' }] });
      expect(await orrery.getTaskType('fresh')).toBeNull();
      // Both stored together, in one transaction, answered in the given order.
      const saved = await orrery.dags.register([{ id: 'z', tasks: [{ id: 'a' }] }, { id: 'm', tasks: [{ id: 'a' }] }]);
      expect(saved.map((d) => [d.id, d.created])).toEqual([['z', true], ['m', true]]);
    });

    it('runs a diamond: roots first, fan-out, join with both upstream results, params visible to every task', async () => {
      const orrery = await open();
      await orrery.dags.register([diamond]);
      const run = await orrery.dags.trigger('diamond', { day: '2026-01-01' });
      expect(run).toMatchObject({ status: 'scheduled', trigger: 'manual', params: { day: '2026-01-01' } });
      const log = await drive(orrery, (m) => ({ ok: `${m.task}:${Object.keys(m.upstream).sort().join('')}` }));
      expect(log.map((m) => m.task)).toEqual(['a', expect.any(String), expect.any(String), 'd']);
      expect(log.every((m) => m.params.day === '2026-01-01' && m.run === run.id && m.attempt === 1)).toBe(true);
      expect(log[3]!.upstream).toEqual({ b: 'b:a', c: 'c:a' });
      const detail = await orrery.dags.run(run.id);
      expect(detail.status).toBe('success');
      expect(detail.ended).toEqual(T0);
      expect(detail.tasks.map((t) => [t.taskId, t.status, t.attempts])).toEqual([['a', 'success', 1], ['b', 'success', 1], ['c', 'success', 1], ['d', 'success', 1]]);
      expect((await orrery.dags.runs({ dag: 'diamond' }))[0]!.tasks).toEqual({ success: 4 });
    });

    it('a failed task fails its descendants; the independent branch finishes; then the run fails', async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'split', tasks: [{ id: 'a' }, { id: 'b', after: ['a'] }, { id: 'c', after: ['b'] }, { id: 'x' }, { id: 'y', after: ['x'] }] }]);
      const run = await orrery.dags.trigger('split');
      const log = await drive(orrery, (m) => (m.task === 'a' ? { fail: 'a broke' } : { ok: 1 }));
      expect(log.map((m) => m.task).sort()).toEqual(['a', 'x', 'y']);
      const detail = await orrery.dags.run(run.id);
      expect(detail.status).toBe('failed');
      expect(Object.fromEntries(detail.tasks.map((t) => [t.taskId, t.status]))).toEqual({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed', x: 'success', y: 'success' });
      expect(detail.tasks[0]!.error).toBe('a broke');
    });

    it('an attempt of a task type deleted since the DAG was registered fails its task; other DAGs go on (task type audit: every pass failed, every DAG held)', async () => {
      const orrery = await open();
      await orrery.dags.register([
        { id: 'good', tasks: [{ id: 'a' }, { id: 'b', after: ['a'] }] },
        { id: 'bad', tasks: [{ id: 'a', type: 'rem.dag' }, { id: 'b', after: ['a'] }, { id: 'x' }] },
      ]);
      await orrery.deleteTaskType('rem.dag');
      const bad = await orrery.dags.trigger('bad');
      const good = await orrery.dags.trigger('good');
      await drive(orrery, () => ({ ok: 1 }));
      expect((await orrery.dags.run(good.id)).status).toBe('success');
      const detail = await orrery.dags.run(bad.id);
      expect(detail.status).toBe('failed');
      expect(Object.fromEntries(detail.tasks.map((t) => [t.taskId, t.status]))).toEqual({ a: 'failed', b: 'upstream_failed', x: 'success' });
      expect(detail.tasks.find((t) => t.taskId === 'a')).toMatchObject({
        attempts: 1,
        orreryTask: null,
        error: 'attempt 1: type: unknown task type "rem.dag" (deleted since the DAG was registered; register the DAG again to create it)',
      });
      // Registered again, the type is back and a restart runs the failed tasks.
      await orrery.dags.register([{ id: 'bad', tasks: [{ id: 'a', type: 'rem.dag' }, { id: 'b', after: ['a'] }, { id: 'x' }] }]);
      await orrery.dags.restart(bad.id);
      await orrery.dags.progressAll();
      expect((await orrery.dags.run(bad.id)).tasks.find((t) => t.taskId === 'a')).toMatchObject({ status: 'scheduled', attempts: 2, orreryTask: expect.any(Number) });
    });

    it('retries after the persisted delay, then succeeds; attempts keep their own runs and logs', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      await orrery.dags.register([{ id: 'flaky', tasks: [{ id: 'a', retries: 2, retryDelay: '10m' }, { id: 'b', after: ['a'] }] }]);
      const run = await orrery.dags.trigger('flaky');
      let calls = 0;
      await drive(orrery, (m) => (m.task === 'a' && ++calls === 1 ? { fail: 'first try fails' } : { ok: m.attempt }));
      let detail = await orrery.dags.run(run.id);
      expect(detail.status).toBe('running');
      expect(detail.tasks[0]).toMatchObject({ status: 'up_for_retry', attempts: 2, retriesLeft: 1, error: 'first try fails' });
      clock.advance(10 * 60_000 - 1); // one ms early: the retry is not due
      expect((await drive(orrery, () => ({ ok: 0 }))).length).toBe(0);
      clock.advance(1);
      const log = await drive(orrery, (m) => ({ ok: m.attempt }));
      expect(log.map((m) => [m.task, m.attempt])).toEqual([['a', 2], ['b', 1]]);
      detail = await orrery.dags.run(run.id);
      expect(detail.status).toBe('success');
      expect(detail.tasks[0]).toMatchObject({ status: 'success', attempts: 2, result: 2 });
      const attempts = await orrery.dags.attempts(run.id, 'a');
      expect(attempts.map((a) => [a.attempt, a.runs.map((r) => r.status)])).toEqual([[1, ['failed']], [2, ['eventful']]]);
    });

    it('attempts of DAG tasks stay out of the dead-letter bin and cannot be respawned by hand (issue 16)', async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await orrery.dags.register([{ id: 'binless', tasks: [{ id: 'a', retries: 1, retryDelay: 0 }] }]);
      const run = await orrery.dags.trigger('binless');
      let calls = 0;
      await drive(orrery, () => (++calls === 1 ? { fail: 'first try fails' } : { ok: 1 }));
      expect((await orrery.dags.run(run.id)).status).toBe('success');
      const [first] = await orrery.dags.attempts(run.id, 'a');
      const failed = (await orrery.getTask(first!.orreryTask))!;
      expect(failed).toMatchObject({ status: 'disabled', disabledReason: 'retries_exhausted' });
      // a plain task failed for good, for comparison: it is in the bin
      const plain = await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: { args: ['x'], kwargs: {} } });
      await orrery.disableTasks([plain.id]);
      const bin = { status: 'disabled', disabledReason: 'retries_exhausted' } as const;
      expect((await orrery.searchTasks(bin)).map((t) => t.id)).toEqual([failed.id]);
      expect(await orrery.searchTasks({ ...bin, dagAttempts: false })).toEqual([]);
      expect((await orrery.searchTasks({ status: 'disabled', dagAttempts: false })).map((t) => t.id)).toEqual([plain.id]);
      expect((await orrery.searchTasks({ status: 'disabled', dagAttempts: true })).map((t) => t.id)).toEqual([failed.id]);
      const err = await orrery.respawnTasks([failed.id]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect((err as Error).message).toBe(
        `task ${failed.id} is attempt 1 of task "a" in run ${run.id} of DAG "binless"; it runs only within its DAG run and cannot be respawned: ` +
          `restart the run instead (orrery dag-run restart ${run.id}, or POST /api/dag-runs/${run.id}/restart)`,
      );
      // refused as a whole: the plain task of the same request is not respawned either, nothing ran again
      await expect(orrery.respawnTasks([plain.id, failed.id])).rejects.toThrow(ConflictError);
      expect((await orrery.getTask(plain.id))!.status).toBe('disabled');
      expect((await orrery.getTask(failed.id))!).toMatchObject({ status: 'disabled', disabledReason: 'retries_exhausted' });
      expect(await drive(orrery, () => ({ ok: 2 }))).toEqual([]);
      expect((await orrery.respawnTasks([plain.id]))[0]!.status).toBe('next_run_not_scheduled');
    });

    it('a dead-lettered task of a DAG type is not counted as a dead letter in the queue stats', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, maxAbandons: 1 }]);
      await orrery.dags.register([{ id: 'one', tasks: [{ id: 'a' }] }]);
      const dagType = (await orrery.getTaskType('orrery.dag'))!;
      expect(dagType.maxAbandons).toBeGreaterThan(0);
      const clock = orrery.clock as ManualClock;
      const stray = await orrery.createTask({ type: 'orrery.dag', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
      for (let i = 0; i < dagType.maxAbandons; i++) {
        const run = await claimOne(orrery, stray.id, clock.now());
        await orrery.abandonRun(run.backendId, { worker: 'w1' });
      }
      const plain = await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: { args: ['y'], kwargs: {} } });
      await orrery.abandonRun((await claimOne(orrery, plain.id, clock.now())).backendId, { worker: 'w1' });
      expect((await orrery.getTask(stray.id))!.disabledReason).toBe('dead_letter');
      expect((await orrery.getTask(plain.id))!.disabledReason).toBe('dead_letter');
      const stats = new Map((await orrery.queueStats()).map((q) => [q.type, q.deadLettered]));
      expect(stats.get('orrery.dag')).toBe(0);
      expect(stats.get('load-git')).toBe(1);
    });

    it('retries exhausted: the task fails after its last retry, and restart re-runs only failed work, in order', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      await orrery.dags.register([{ id: 'r', tasks: [{ id: 'a' }, { id: 'b', after: ['a'], retries: 1, retryDelay: 1000 }, { id: 'c', after: ['b'] }] }]);
      const run = await orrery.dags.trigger('r');
      await drive(orrery, (m) => (m.task === 'b' ? { fail: `b attempt ${m.attempt}` } : { ok: m.task }));
      clock.advance(1000);
      await drive(orrery, (m) => (m.task === 'b' ? { fail: `b attempt ${m.attempt}` } : { ok: m.task }));
      let detail = await orrery.dags.run(run.id);
      expect(detail.status).toBe('failed');
      expect(detail.tasks.map((t) => [t.taskId, t.status, t.attempts])).toEqual([['a', 'success', 1], ['b', 'failed', 2], ['c', 'upstream_failed', 0]]);
      expect(detail.tasks[1]!.error).toBe('b attempt 2');

      expect(detail.tasks[1]).toMatchObject({ started: T0, ended: plus(T0, 1000), durationMs: 1000 });
      await expect(orrery.dags.restart(9999)).rejects.toThrow('not found');
      clock.advance(HOUR);
      const restarted = await orrery.dags.restart(run.id);
      expect(restarted).toMatchObject({ status: 'running', restarts: 1 });
      await expect(orrery.dags.restart(run.id)).rejects.toThrow('only a failed run can be restarted');
      const log = await drive(orrery, (m) => ({ ok: m.task }));
      expect(log.map((m) => [m.task, m.attempt])).toEqual([['b', 3], ['c', 1]]);
      detail = await orrery.dags.run(run.id);
      expect(detail.status).toBe('success');
      expect(detail.tasks[0]!.attempts).toBe(1); // a was not re-run
      // b keeps its first attempt's start: its duration spans its three attempts and the restart
      expect(detail.tasks[1]).toMatchObject({ attempts: 3, started: T0, ended: plus(T0, 1000 + HOUR), durationMs: 1000 + HOUR });
      expect(detail.tasks[2]).toMatchObject({ attempts: 1, started: plus(T0, 1000 + HOUR), durationMs: 0 });
      expect((await orrery.dags.grid('r')).runs[0]!.cells.b).toEqual({ status: 'success', attempts: 3, durationMs: 1000 + HOUR });
    });

    it('a permanent failure is not retried', async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'p', tasks: [{ id: 'a', retries: 5 }] }]);
      const run = await orrery.dags.trigger('p');
      const log = await drive(orrery, () => ({ perm: 'never' }));
      expect(log).toHaveLength(1);
      expect((await orrery.dags.run(run.id)).tasks[0]).toMatchObject({ status: 'failed', attempts: 1, retriesLeft: 5 });
    });

    it('fixed interval started late with catch-up: every missed point gets a run, in order, and is recorded', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      await orrery.dags.register([{ id: 'hourly', schedule: { every: '1h' }, start: plus(T0, -3 * HOUR), catchUp: true, tasks: [{ id: 'a' }] }]);
      const { created } = await orrery.dags.schedulePoints();
      expect(created.map((r) => [r.trigger, r.execTs])).toEqual([
        ['catch_up', plus(T0, -3 * HOUR)],
        ['catch_up', plus(T0, -2 * HOUR)],
        ['catch_up', plus(T0, -1 * HOUR)],
        ['schedule', T0],
      ]);
      expect((await orrery.dags.schedulePoints()).created).toEqual([]); // nothing twice
      clock.advance(HOUR);
      expect((await orrery.dags.schedulePoints()).created.map((r) => r.execTs)).toEqual([plus(T0, HOUR)]);
      const { points } = await orrery.dags.get('hourly');
      expect(points.map((p) => p.kind).reverse()).toEqual(['caught_up', 'caught_up', 'caught_up', 'scheduled', 'scheduled']);
    });

    it('without catch-up, missed points are recorded as skipped and the next future point is used; restart after downtime too', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      await orrery.dags.register([{ id: 'h', schedule: { every: '1h' }, start: plus(T0, -3 * HOUR), tasks: [{ id: 'a' }] }]);
      expect((await orrery.dags.schedulePoints()).created.map((r) => r.execTs)).toEqual([T0]);
      clock.advance(5 * HOUR + 30 * 60_000); // down for five and a half hours
      const after = await orrery.dags.schedulePoints();
      expect(after.created).toEqual([]);
      expect(after.nextAt).toEqual(plus(T0, 6 * HOUR));
      const { points } = await orrery.dags.get('h');
      expect(points.map((p) => [p.kind, p.execTs, p.untilTs, p.count]).reverse()).toEqual([
        ['skipped', plus(T0, -3 * HOUR), plus(T0, -HOUR), 3],
        ['scheduled', T0, null, 1],
        ['skipped', plus(T0, HOUR), plus(T0, 5 * HOUR), 5],
      ]);
    });

    /** The scheduler's schedule step, repeated while it says more points are due (as its pass does). */
    const scheduleAll = async (orrery: Orrery) => {
      for (let passes = 1; ; passes++) {
        const r = await orrery.dags.schedulePoints();
        if (!r.more) return passes;
        if (passes > 200) throw new Error('schedulePoints kept saying more');
      }
    };
    const pointsOf = async (orrery: Orrery, id: string) => (await orrery.dags.get(id)).points.map((p) => [p.kind, p.execTs, p.untilTs, p.count]).reverse();

    it('a ten-day outage of a minutely DAG is one skipped range of 14,400 points (issue 16)', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      clock.set('2027-05-31T23:00:00Z');
      await orrery.dags.register([{ id: 'm', schedule: { every: '1m' }, start: new Date('2027-06-01T00:00:00Z'), tasks: [{ id: 'a' }] }]);
      clock.set('2027-06-11T00:00:30Z');
      await scheduleAll(orrery);
      expect(await pointsOf(orrery, 'm')).toEqual([
        ['skipped', new Date('2027-06-01T00:00:00Z'), new Date('2027-06-10T23:59:00Z'), 14_400],
        ['scheduled', new Date('2027-06-11T00:00:00Z'), null, 1],
      ]);
    });

    it('a per-second DAG after a one-day outage: one skipped range, then the latest point runs', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      clock.set('2027-06-01T00:00:00Z');
      await orrery.dags.register([{ id: 's', schedule: { every: '1s' }, start: new Date('2027-06-01T00:00:00Z'), tasks: [{ id: 'a' }] }]);
      clock.set('2027-06-02T00:00:00Z');
      await scheduleAll(orrery);
      // the DAG's page lists the latest points only: the skipped range is read among all of them
      const points = (await orrery.store.dags.listDagPoints('s', 1000)).map((p) => [p.kind, p.execTs, p.untilTs, p.count]).reverse();
      // without catch-up every point but the latest was missed, the last minute's too (61 runs at once before)
      expect(points).toEqual([
        ['skipped', new Date('2027-06-01T00:00:00Z'), new Date('2027-06-01T23:59:59Z'), 86_400],
        ['scheduled', new Date('2027-06-02T00:00:00Z'), null, 1],
      ]);
    });

    it('a cron backlog longer than one pass walks is merged into one skipped range', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      clock.set('2027-05-31T23:00:00Z');
      await orrery.dags.register([{ id: 'c', schedule: { cron: '* * * * *', tz: 'UTC' }, start: new Date('2027-06-01T00:00:00Z'), tasks: [{ id: 'a' }] }]);
      clock.set('2027-06-04T00:00:30Z');
      expect(await scheduleAll(orrery)).toBeGreaterThan(1); // 4,320 late points: walked over several passes
      expect(await pointsOf(orrery, 'c')).toEqual([
        ['skipped', new Date('2027-06-01T00:00:00Z'), new Date('2027-06-03T23:59:00Z'), 4_320],
        ['scheduled', new Date('2027-06-04T00:00:00Z'), null, 1],
      ]);
    });

    it('skipped points of two outages with no point run between them are one range', async () => {
      const { orrery } = await setup([]);
      const clock = orrery.clock as ManualClock;
      await orrery.dags.register([{ id: 'h2', schedule: { every: '1h' }, start: plus(T0, -3 * HOUR), tasks: [{ id: 'a' }] }]);
      clock.advance(30 * 60_000);
      await scheduleAll(orrery); // -3h .. 0 are late
      clock.advance(3 * HOUR); // down again: +1h .. +3h are late too
      await scheduleAll(orrery);
      expect(await pointsOf(orrery, 'h2')).toEqual([['skipped', plus(T0, -3 * HOUR), plus(T0, 3 * HOUR), 7]]);
    });

    it('two schedulers on one database never record a point twice', async () => {
      const { orrery, openAnother } = await setupPair(sut);
      await orrery.dags.register([{ id: 'h', schedule: { every: '1h' }, start: plus(T0, -48 * HOUR), catchUp: true, tasks: [{ id: 'a' }] }]);
      const other = await openAnother();
      for (let i = 0; i < 3; i++) await Promise.all([orrery.dags.schedulePoints(), other.dags.schedulePoints()]);
      const runs = await orrery.dags.runs({ dag: 'h', limit: 1000 });
      expect(runs).toHaveLength(49);
      expect(new Set(runs.map((r) => r.execTs.getTime())).size).toBe(49);
    });

    it('two schedulers stepping the same runs create each attempt once', async () => {
      const { orrery, openAnother } = await setupPair(sut);
      await orrery.dags.register([{ id: 'wide', tasks: Array.from({ length: 50 }, (_, i) => ({ id: `t${i}` })) }]);
      const run = await orrery.dags.trigger('wide');
      const other = await openAnother();
      await Promise.all([orrery.dags.progressAll(), other.dags.progressAll(), orrery.dags.progressAll()]);
      await orrery.scheduleDue({});
      const claimed = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 1000 });
      expect(claimed).toHaveLength(50);
      expect((await orrery.dags.run(run.id)).tasks.every((t) => t.attempts === 1 && t.status === 'scheduled')).toBe(true);
    });

    it('keeps at most maxActiveRuns runs active per DAG; the others wait as scheduled', async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'lim', maxActiveRuns: 2, tasks: [{ id: 'a' }] }]);
      for (let i = 0; i < 4; i++) await orrery.dags.trigger('lim');
      await orrery.dags.progressAll();
      const statuses = (await orrery.dags.runs({ dag: 'lim' })).map((r) => r.status).sort();
      expect(statuses).toEqual(['running', 'running', 'scheduled', 'scheduled']);
      await drive(orrery, () => ({ ok: 1 }));
      expect((await orrery.dags.runs({ dag: 'lim' })).map((r) => r.status)).toEqual(['success', 'success', 'success', 'success']);
    });

    it("a run that ends while no scheduler runs records its last task's end, not the moment a scheduler noticed it", async () => {
      const { orrery, clock } = await setup([]);
      await orrery.dags.register([{ id: 'late', tasks: [{ id: 'a' }] }]);
      const run = await orrery.dags.trigger('late');
      await orrery.dags.progressAll();
      await orrery.scheduleDue({});
      const [a] = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 1 });
      clock.advance(1_000);
      await orrery.endRun(a!.run.backendId, { status: 'eventful', result: 1, worker: 'w' });
      clock.advance(HOUR); // the scheduler is down for an hour
      await orrery.dags.progressAll();
      expect(await orrery.dags.run(run.id)).toMatchObject({ status: 'success', ended: plus(T0, 1_000) });
    });

    it('archiving holds back the attempt of a DAG task the scheduler has not recorded yet, then takes it', async () => {
      const { orrery, clock } = await setup([]);
      await orrery.dags.register([{ id: 'arch', tasks: [{ id: 'x' }, { id: 'y', after: ['x'] }, { id: 'z' }] }]);
      const run = await orrery.dags.trigger('arch');
      await orrery.dags.progressAll(); // attempts of x and z on the jobboard
      const z = (await orrery.dags.run(run.id)).tasks.find((t) => t.taskId === 'z')!;
      await orrery.disableTasks([z.orreryTask!]); // disabled by hand before it ran: a task without runs
      await orrery.scheduleDue({});
      const [x] = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 1 });
      clock.advance(1_000);
      await orrery.endRun(x!.run.backendId, { status: 'eventful', result: 7, worker: 'w' });
      // The scheduler has not recorded either end: neither attempt task nor x's run goes.
      const held = await orrery.archive({ before: plus(clock.now(), 1_000) });
      expect([held.runs, held.tasks]).toEqual([0, 0]);
      await orrery.dags.progressAll();
      const detail = await orrery.dags.run(run.id);
      expect(Object.fromEntries(detail.tasks.map((t) => [t.taskId, [t.status, t.error]]))).toEqual({
        x: ['success', null], y: ['scheduled', null], z: ['failed', 'its jobboard task was disabled by hand'],
      });
      expect(detail.tasks.find((t) => t.taskId === 'x')!.result).toBe(7);
      // Recorded, they go with the next sweep (y's attempt, not yet run, stays).
      const taken = await orrery.archive({ before: plus(clock.now(), 1_000) });
      expect([taken.runs, taken.tasks]).toEqual([1, 2]);
      await drive(orrery, () => ({ ok: 1 }));
      expect(Object.fromEntries((await orrery.dags.run(run.id)).tasks.map((t) => [t.taskId, t.status]))).toEqual({ x: 'success', y: 'success', z: 'failed' });
    });

    it('a restart keeps the limit on running runs: the restarted run waits as scheduled while its DAG runs as many as it may', async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'one', maxActiveRuns: 1, tasks: [{ id: 'a' }] }]);
      const failed = await orrery.dags.trigger('one');
      await drive(orrery, () => ({ perm: 'no' }));
      expect((await orrery.dags.run(failed.id)).status).toBe('failed');
      const other = await orrery.dags.trigger('one');
      await orrery.dags.progressAll();
      expect((await orrery.dags.run(other.id)).status).toBe('running');
      const restarted = await orrery.dags.restart(failed.id);
      expect(restarted).toMatchObject({ status: 'scheduled', restarts: 1, ended: null });
      await orrery.dags.progressAll();
      expect((await orrery.dags.run(failed.id)).status).toBe('scheduled');
      // The running one ends; the restarted one starts in its turn and runs its failed task again.
      const log = await drive(orrery, () => ({ ok: 1 }));
      expect(log.map((m) => m.run)).toEqual([other.id, failed.id]);
      expect((await orrery.dags.runs({ dag: 'one' })).map((r) => r.status)).toEqual(['success', 'success']);
      // Under its limit, a restart runs again at once.
      const third = await orrery.dags.trigger('one');
      await drive(orrery, () => ({ perm: 'no' }));
      expect((await orrery.dags.restart(third.id)).status).toBe('running');
    });

    it('a pass that read the DAG before a pause committed records nothing once it is paused (DAG race audit: a run was created)', async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'hourly', schedule: { every: '1h' }, start: plus(T0, HOUR), tasks: [{ id: 'a' }] }]);
      const [before] = await orrery.store.dags.getDags(['hourly']);
      expect(before!.nextPoint).toEqual(plus(T0, HOUR));
      await orrery.dags.pause('hourly', { reason: 'hold' });
      // The pass's own write, as it would come after the pause: refused, nothing recorded.
      const point = { kind: 'scheduled' as const, execTs: plus(T0, HOUR), untilTs: null, count: 1 };
      expect(await orrery.store.dags.recordPoints('hourly', plus(T0, HOUR), [point], plus(T0, 2 * HOUR), plus(T0, HOUR))).toBeNull();
      expect(await orrery.dags.runs({ dag: 'hourly' })).toEqual([]);
      expect((await orrery.store.dags.getDags(['hourly']))[0]!.nextPoint).toEqual(plus(T0, HOUR));
    });

    it('restarts made at once, from two services on one database, keep the limit on running runs (race audit: six ran at once)', async () => {
      const { orrery, openAnother } = await setupPair(sut);
      await orrery.dags.register([{ id: 'one', maxActiveRuns: 1, tasks: [{ id: 'a' }] }]);
      const ids: number[] = [];
      for (let i = 0; i < 6; i++) {
        const r = await orrery.dags.trigger('one');
        await orrery.dags.cancel(r.id);
        ids.push(r.id);
      }
      const other = await openAnother();
      const answers = await Promise.all(ids.map((id, i) => (i % 2 === 0 ? orrery : other).dags.restart(id)));
      expect(answers.filter((r) => r.status === 'running')).toHaveLength(1);
      const runs = await orrery.dags.runs({ dag: 'one' });
      expect(runs.filter((r) => r.status === 'running')).toHaveLength(1);
      expect(runs.filter((r) => r.status === 'scheduled')).toHaveLength(5);
      // Schedulers of both services starting the waiting ones keep to it too.
      await Promise.all([orrery.dags.progressAll(), other.dags.progressAll(), orrery.dags.progressAll()]);
      expect((await orrery.dags.runs({ dag: 'one' })).filter((r) => r.status === 'running')).toHaveLength(1);
    });

    it('a cancel ends every live attempt of the run together: waiting, buffered in a worker and started ones, and disables a retry not yet due', async () => {
      const orrery = await open();
      const fan = { id: 'fan', tasks: [{ id: 'root' }, ...Array.from({ length: 30 }, (_, i) => ({ id: `t${i}`, after: ['root'], retries: 1 }))] };
      await orrery.dags.register([fan]);
      const run = await orrery.dags.trigger('fan');
      await orrery.dags.progressAll();
      await orrery.scheduleDue({});
      const [root] = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 1 });
      await orrery.endRun(root!.run.backendId, { status: 'eventful', result: 1, worker: 'w' });
      await orrery.dags.progressAll();
      await orrery.scheduleDue({});
      // A worker starts 2 and buffers 20; 8 wait in the queue. One started attempt fails: its retry is not yet due.
      const held = await orrery.claimRuns({ worker: 'w', types: ['orrery.dag'], limit: 22, startNow: 2 });
      expect(held.map((c) => c.run.status).filter((s) => s === 'claimed')).toHaveLength(20);
      await orrery.endRun(held[0]!.run.backendId, { status: 'failed', error: 'flaky', worker: 'w' });
      await orrery.dags.progressAll();
      await orrery.dags.cancel(run.id);
      const detail = await orrery.dags.run(run.id);
      expect(detail.status).toBe('failed');
      expect(detail.tasks.filter((t) => t.taskId !== 'root').every((t) => t.status === 'failed' && t.error === 'cancelled')).toBe(true);
      const runs = (await Promise.all(detail.tasks.filter((t) => t.orreryTask !== null && t.taskId !== 'root').map((t) => orrery.listRuns(t.orreryTask!)))).flat();
      expect(runs.filter((r) => r.status === 'scheduled' || r.status === 'claimed')).toEqual([]); // nothing left to begin
      expect(runs.filter((r) => r.status === 'started').every((r) => r.cancelRequested)).toBe(true);
      expect(await claimStarted(orrery, { worker: 'w2', types: ['orrery.dag'], limit: 100 })).toEqual([]);
      const tasks = await Promise.all(detail.tasks.filter((t) => t.orreryTask !== null).map((t) => orrery.getTask(t.orreryTask!)));
      expect(tasks.filter((t) => t!.status === 'next_run_not_scheduled')).toEqual([]); // the retry not yet due is disabled
    });

    it('a run keeps the version it started with when the definition changes', async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'v', tasks: [{ id: 'a' }] }]);
      const old = await orrery.dags.trigger('v');
      await orrery.dags.register([{ id: 'v', tasks: [{ id: 'a' }, { id: 'b', after: ['a'] }] }]);
      const fresh = await orrery.dags.trigger('v');
      const log = await drive(orrery, () => ({ ok: 1 }));
      expect(log.filter((m) => m.run === old.id).map((m) => m.task)).toEqual(['a']);
      expect(log.filter((m) => m.run === fresh.id).map((m) => m.task)).toEqual(['a', 'b']);
      expect((await orrery.dags.run(old.id)).version).not.toBe((await orrery.dags.run(fresh.id)).version);
    });

    it("a run of an older version runs its next attempts as the type its task has now (DAG audit: the old type was served by no worker, and the run waited forever)", async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'tv', tasks: [{ id: 'x' }, { id: 'y', after: ['x'] }] }]);
      const run = await orrery.dags.trigger('tv');
      await orrery.dags.progressAll();
      await orrery.scheduleDue({});
      const [x] = await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 10 });
      expect((x!.arguments.kwargs['orrery.dag'] as Marker).task).toBe('x');
      // The file now puts the DAG's tasks on a type of their own (its workers serve that type only).
      await orrery.dags.register([{ id: 'tv', defaults: { type: 'grp.dag' }, tasks: [{ id: 'x' }, { id: 'y', after: ['x'] }] }]);
      await orrery.endRun(x!.run.backendId, { status: 'eventful', result: 1, worker: 'w' });
      await orrery.dags.progressAll();
      await orrery.scheduleDue({});
      expect(await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 10 })).toEqual([]);
      const [y] = await claimStarted(orrery, { worker: 'w', types: ['grp.dag'], limit: 10 });
      expect(y!.arguments.kwargs['orrery.dag']).toMatchObject({ task: 'y', run: run.id, version: run.version });
      await orrery.endRun(y!.run.backendId, { status: 'eventful', result: 2, worker: 'w' });
      await orrery.dags.progressAll();
      expect(await orrery.dags.run(run.id)).toMatchObject({ status: 'success', version: run.version });
    });

    it('runs() refuses an unknown status and a second argument beside a filter object (client audit: [] and every run)', async () => {
      const orrery = await open();
      await orrery.dags.register([{ id: 'd', tasks: [{ id: 'a' }] }]);
      await orrery.dags.trigger('d');
      await orrery.dags.trigger('d');
      await expect(orrery.dags.runs('d', { status: 'nope' as never })).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'status' }] });
      await expect(orrery.dags.runs({ dag: 'd' }, { limit: 1 })).rejects.toMatchObject({ name: 'ValidationError', details: [{ path: 'filter' }] });
      expect(await orrery.dags.runs('d', { limit: 1 })).toHaveLength(1);
      expect(await orrery.dags.runs({ dag: 'd', limit: 1 })).toHaveLength(1);
      expect(await orrery.dags.runs({ dag: 'd', status: 'scheduled' })).toHaveLength(2);
    });

    it('rejects bad triggers', async () => {
      const orrery = await open();
      await orrery.dags.register([diamond]);
      await expect(orrery.dags.trigger('nope')).rejects.toThrow('DAG "nope" not found');
      await expect(orrery.dags.trigger('diamond', [1])).rejects.toThrow('params: must be a JSON object');
      await expect(orrery.dags.trigger('diamond', { n: Number.NaN })).rejects.toThrow('numbers must be finite');
      expect(await orrery.dags.runs({ dag: 'diamond' })).toEqual([]);
    });
  });
}

