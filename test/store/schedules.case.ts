import { describe, expect, it } from 'vitest';
import { dueAt } from '../../src/core/catch-up.js';
import { ConflictError } from '../../src/core/errors.js';
import type { Task } from '../../src/core/model.js';
import type { Orrery } from '../../src/engine/service.js';
import type { StoreUnderTest } from './describe-store.js';
import { DagScheduler } from '../../src/engine/dag-scheduler.js';
import { HOUR, T0, at, claimStarted, plus, useOrrery } from './fixtures.js';

/** One scheduler pass at a time, as the loop runs them. */
class OnePass extends DagScheduler {
  run(): Promise<number> {
    return this.pass();
  }
}

const CRON = { name: 'cron', numRetries: 1, retryDelayMs: '10m' };
const MAIL = { name: 'mail' };
const hh = (h: number, m = 0) => plus(T0, h * HOUR + m * 60_000);

/** Claims every due or waiting run of `type` at `when` like a worker (direct claims, started), returning them by task. */
async function claimAll(orrery: Orrery, type: string, when: Date) {
  const claimed = await orrery.claimRuns({ worker: 'w', types: [type], limit: 100, at: when });
  return new Map(claimed.map((c) => [c.run.task, c]));
}

/** An hourly cron task of type `cron` (named by its one argument), created at T0 with the schedule options given. */
function hourlyCron(orrery: Orrery, name: string, schedule: object) {
  return orrery.createTask({ type: 'cron', arguments: { args: [name] }, schedule: { kind: 'cron', expr: '0 * * * *', ...schedule } }, { at: T0 });
}

/** Ends a claimed run the way an in-process worker does (the held, one-statement path). */
async function endHeld(orrery: Orrery, c: Awaited<ReturnType<typeof claimAll>> extends Map<number, infer C> ? C : never, status: 'eventful' | 'failed', when: Date) {
  const [r] = await orrery.endRuns([{ backendId: c.run.backendId, status, worker: 'w', at: when, startedAt: when, ...(c.task ? { held: { run: c.run, task: c.task } } : {}) }]);
  if (r instanceof Error) throw r;
  return r!;
}

export function scheduleCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('schedules: catch-up, jitter and run.scheduledFor (docs/guide.md#schedules)', () => {
    it('after downtime: none skips to the next occurrence, latest serves the latest, all serves each in order within its window', async () => {
      const { orrery } = await setup([CRON]);
      const none = await hourlyCron(orrery, 'none', { catchUp: 'none' });
      const latest = await hourlyCron(orrery, 'latest', {});
      const all = await hourlyCron(orrery, 'all', { catchUp: 'all' });
      const windowed = await hourlyCron(orrery, 'all-2h', { catchUp: 'all', catchUpWindow: '2h' });
      // Nothing ran from 00:00 to 04:30.
      const runs = new Map((await orrery.scheduleDue({ at: hh(4, 30) })).map((r) => [r.task, r]));
      expect(runs.has(none.id)).toBe(false);
      expect(await orrery.getTask(none.id)).toMatchObject({ nextRun: hh(5), scheduledFor: hh(5), status: 'next_run_not_scheduled' });
      expect(runs.get(latest.id)?.scheduledFor).toEqual(hh(4));
      expect(runs.get(all.id)?.scheduledFor).toEqual(hh(0));
      expect(runs.get(windowed.id)?.scheduledFor).toEqual(hh(3));
      // all: each missed occurrence once, in order, as its runs end
      const served: string[] = [];
      for (let i = 0, when = hh(4, 31); i < 5; i++, when = plus(when, 60_000)) {
        const c = (await claimAll(orrery, 'cron', when)).get(all.id)!;
        served.push(c.run.scheduledFor.toISOString().slice(11, 16));
        await endHeld(orrery, c, 'eventful', when);
      }
      expect(served).toEqual(['00:00', '01:00', '02:00', '03:00', '04:00']);
      expect(await orrery.getTask(all.id)).toMatchObject({ scheduledFor: hh(5), nextRun: hh(5) });
    });

    it('a paused cron task is not caught up while paused; its resume applies its catch-up policy (audit, 2026-12-05)', async () => {
      const { orrery } = await setup([CRON]);
      const none = await hourlyCron(orrery, 'none', { catchUp: 'none' });
      const latest = await hourlyCron(orrery, 'latest', {});
      for (const t of [none, latest]) await orrery.pauseTask(t.id, { at: T0 });
      expect(await orrery.scheduleDue({ at: hh(4, 30) })).toEqual([]);
      // Paused: it waits with its nextRun, untouched by the catch-up.
      for (const t of [none, latest]) expect(await orrery.getTask(t.id)).toMatchObject({ nextRun: hh(0), scheduledFor: hh(0) });
      // The resume answers with the task caught up, on both stores (SQLite answered its stale 00:00),
      // and says so to this process's runner (its log line), as the runner's own catch-up does.
      const caught: unknown[] = [];
      orrery.events.on('caughtUp', (tasks) => caught.push(...tasks));
      expect(await orrery.resumeTask(none.id, { at: hh(4, 30) })).toMatchObject({ nextRun: hh(5), scheduledFor: hh(5), paused: null });
      expect(await orrery.resumeTask(latest.id, { at: hh(4, 30) })).toMatchObject({ nextRun: hh(4, 30), scheduledFor: hh(4) });
      expect(caught).toEqual([
        { task: none.id, type: 'cron', catchUp: 'none', missed: hh(0), serves: hh(5), nextRun: hh(5) },
        { task: latest.id, type: 'cron', catchUp: 'latest', missed: hh(0), serves: hh(4), nextRun: hh(4, 30) },
      ]);
      expect(await orrery.getTask(latest.id)).toMatchObject({ nextRun: hh(4, 30), scheduledFor: hh(4) });
      const runs = new Map((await orrery.scheduleDue({ at: hh(4, 30) })).map((r) => [r.task, r]));
      expect(runs.has(none.id)).toBe(false);
      expect(await orrery.getTask(none.id)).toMatchObject({ nextRun: hh(5) });
      expect(runs.get(latest.id)?.scheduledFor).toEqual(hh(4));
    });

    it.each([
      ['task', (o: Orrery, ids: number[], at: Date) => Promise.all(ids.map((id) => o.pauseTask(id, { at }))), (o: Orrery, ids: number[], at: Date) => Promise.all(ids.map((id) => o.resumeTask(id, { at })))],
      ['task type', (o: Orrery, _ids: number[], at: Date) => o.pauseTaskType('cron', { at }), (o: Orrery, _ids: number[], at: Date) => o.resumeTaskType('cron', { at })],
    ] as const)('a resumed %s: its late cron tasks claimed at once by a worker that caught up a moment ago serve their catch-up policy (PostgreSQL audit)', async (_what, pause, resume) => {
      const { orrery } = await setup([CRON]);
      const none = await hourlyCron(orrery, 'none', { catchUp: 'none' });
      const latest = await hourlyCron(orrery, 'latest', {});
      await pause(orrery, [none.id, latest.id], T0);
      // A worker's claim catches up (the paused tasks are left alone) ...
      expect((await orrery.claim({ worker: 'w', types: ['cron'], limit: 10, at: hh(4, 30) })).runs).toEqual([]);
      await resume(orrery, [none.id, latest.id], hh(4, 30));
      // ... and its next claim, woken by the resume within the second, takes what the policy says, not 00:00.
      const claimed = (await orrery.claim({ worker: 'w', types: ['cron'], limit: 10, at: plus(hh(4, 30), 500) })).runs;
      expect(claimed.map((c) => [c.run.task, c.run.scheduledFor])).toEqual([[latest.id, hh(4)]]);
      expect(await orrery.getTask(none.id)).toMatchObject({ nextRun: hh(5), scheduledFor: hh(5) });
    });

    it('a runner pass of one type catches up only that type: a late cron task of another type keeps its occurrence', async () => {
      const { orrery } = await setup([CRON, MAIL]);
      const cron = await orrery.createTask({ type: 'cron', arguments: { args: ['c'] }, schedule: { kind: 'cron', expr: '0 * * * *' } }, { at: T0 });
      const mailCron = await orrery.createTask({ type: 'mail', arguments: { args: ['m'] }, schedule: { kind: 'cron', expr: '0 * * * *' } }, { at: T0 });
      const when = hh(4, 30);
      const runs = await orrery.scheduleDue({ type: 'mail', at: when });
      expect(runs.map((r) => [r.task, r.scheduledFor])).toEqual([[mailCron.id, hh(4)]]);
      expect(await orrery.getTask(cron.id)).toMatchObject({ nextRun: cron.nextRun, scheduledFor: cron.scheduledFor, status: 'next_run_not_scheduled' });
      // A pass of every type then catches it up.
      expect((await orrery.scheduleDue({ at: when })).map((r) => [r.task, r.scheduledFor])).toEqual([[cron.id, hh(4)]]);
    });

    it('list-pending shows late tasks as the runner will catch them up: in the order it schedules them, without those it moves on', async () => {
      const { orrery } = await setup([CRON]);
      const none = await hourlyCron(orrery, 'none', { catchUp: 'none' });
      const latest = await hourlyCron(orrery, 'latest', {});
      const all = await hourlyCron(orrery, 'all', { catchUp: 'all' });
      // Due at 04:29:10 and 04:29:30, less than a minute ago, so not late: they come before the late ones, now due at 04:30.
      const early = await orrery.createTask({ type: 'cron', arguments: { args: ['early'] }, nextRun: plus(hh(4, 29), 10_000), schedule: { kind: 'cron', expr: '0 * * * *' } }, { at: T0 });
      const later = await orrery.createTask({ type: 'cron', arguments: { args: ['later'] }, nextRun: plus(hh(4, 29), 30_000), schedule: { kind: 'cron', expr: '0 * * * *' } }, { at: T0 });
      const when = hh(4, 30);
      const pending = await orrery.listPending('cron', { at: when });
      expect(pending.map((t) => t.id)).toEqual([early.id, later.id, latest.id, all.id]);
      expect(pending.find((t) => t.id === latest.id)).toMatchObject({ nextRun: when, scheduledFor: hh(4) });
      expect(pending.map((t) => t.id)).not.toContain(none.id);
      // A limit smaller than the late tasks still gives the runner's first ones.
      expect((await orrery.listPending('cron', { at: when, limit: 1 })).map((t) => t.id)).toEqual([early.id]);
      expect((await orrery.listPending('cron', { at: when, limit: 3 })).map((t) => t.id)).toEqual([early.id, later.id, latest.id]);
      // Nothing was written: the runner's pass then schedules exactly that list, in that order.
      expect(await orrery.getTask(none.id)).toMatchObject({ nextRun: T0 });
      expect((await orrery.scheduleDue({ at: when })).map((r) => r.task)).toEqual(pending.map((t) => t.id));
    });

    it('task next lists the occurrences the runs will serve: a late task as the catch-up moves it, and after a late retry the occurrences that pass before it are skipped', async () => {
      const { orrery, clock } = await setup([CRON]);
      const none = await hourlyCron(orrery, 'none', { catchUp: 'none' });
      const latest = await hourlyCron(orrery, 'latest', {});
      const atOf = async (id: number) => (await orrery.schedules.next(id, { count: 3 })).occurrences.map((o) => [o.at.toISOString(), o.due.toISOString()]);
      // At 04:30, nothing having run: none skips to 05:00 (it listed 00:00, 01:00, 02:00); latest serves 04:00 at once.
      clock.set(hh(4, 30));
      expect(await atOf(none.id)).toEqual([[hh(5), hh(5)], [hh(6), hh(6)], [hh(7), hh(7)]].map((p) => p.map((d) => d.toISOString())));
      expect(await atOf(latest.id)).toEqual([[hh(4), hh(4, 30)], [hh(5), hh(5)], [hh(6), hh(6)]].map((p) => p.map((d) => d.toISOString())));
      // The 04:00 run fails at 04:31 with a retry 3 hours later: 05:00 to 07:00 pass before it (it listed them, due before the retry).
      const [run] = await orrery.scheduleDue({ type: 'cron', at: hh(4, 30) }).then((rs) => rs.filter((r) => r.task === latest.id));
      await orrery.startRun(run!.backendId, { worker: 'w', at: hh(4, 30) });
      await orrery.endRun(run!.backendId, { status: 'failed', worker: 'w', retryAfterMs: 3 * HOUR, at: hh(4, 31) });
      expect(await atOf(latest.id)).toEqual([[hh(4), hh(7, 31)], [hh(8), hh(8)], [hh(9), hh(9)]].map((p) => p.map((d) => d.toISOString())));
    });

    it('a claim of due tasks catches late tasks up first, with no runner pass: none is not claimed, latest serves the latest occurrence', async () => {
      const { orrery } = await setup([CRON]);
      const none = await hourlyCron(orrery, 'none', { catchUp: 'none' });
      const latest = await hourlyCron(orrery, 'latest', {});
      const claimed = await claimAll(orrery, 'cron', hh(4, 30));
      expect([...claimed.keys()]).toEqual([latest.id]);
      expect(claimed.get(latest.id)!.run.scheduledFor).toEqual(hh(4));
      expect(await orrery.getTask(none.id)).toMatchObject({ nextRun: hh(5), scheduledFor: hh(5), status: 'next_run_not_scheduled' });
    });

    it('jitter: due later by a per-task offset, the same read from any process; runs serve the occurrence, retries too', async () => {
      const { orrery, another } = await setup([CRON]);
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '0 * * * *', jitter: '30m' } }, { at: plus(T0, 1) });
      expect(t.scheduledFor).toEqual(hh(1));
      expect(t.nextRun).toEqual(dueAt(t.schedule, t.id, hh(1)));
      expect(await (await another()).getTask(t.id)).toMatchObject({ nextRun: t.nextRun, scheduledFor: hh(1) });
      expect(await claimAll(orrery, 'cron', plus(t.nextRun, -1))).toEqual(new Map()); // not due before its jittered instant
      const first = (await claimAll(orrery, 'cron', t.nextRun)).get(t.id)!;
      expect(first.run.scheduledFor).toEqual(hh(1));
      const ok = await endHeld(orrery, first, 'eventful', plus(t.nextRun, 1000));
      expect(ok.task).toMatchObject({ scheduledFor: hh(2), nextRun: dueAt(t.schedule, t.id, hh(2)) });
      const second = (await claimAll(orrery, 'cron', ok.task.nextRun)).get(t.id)!;
      const failed = await endHeld(orrery, second, 'failed', plus(ok.task.nextRun, 1000));
      expect(failed.task).toMatchObject({ scheduledFor: hh(2), nextRun: plus(ok.task.nextRun, 1000 + 600_000) });
      const [retry] = await orrery.scheduleDue({ at: failed.task.nextRun });
      expect(retry).toMatchObject({ task: t.id, attempt: 2, scheduledFor: hh(2) });
    });

    it('a task the catch-up completes (its schedule ended while nothing ran) lets an equal task be created again', async () => {
      const { orrery } = await setup([CRON]);
      const input = { type: 'cron', arguments: { args: ['ended'] }, schedule: { kind: 'cron' as const, expr: '0 * * * *', endAt: hh(2).toISOString(), catchUp: 'none' as const } };
      const t = await orrery.createTask(input, { at: T0 });
      expect(await orrery.scheduleDue({ at: hh(4, 30) })).toEqual([]);
      expect((await orrery.getTask(t.id))!.status).toBe('completed');
      const again = await orrery.createTask(input, { at: T0 }); // the same task, as created before its schedule ended
      expect(again.id).not.toBe(t.id);
      expect(again.status).toBe('next_run_not_scheduled');
    });

    it('bounds: no occurrence before startAt or after endAt; the task completes after its last one', async () => {
      const { orrery } = await setup([CRON]);
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '0 * * * *', startAt: hh(2).toISOString(), endAt: hh(3).toISOString(), exclude: ['2026-01-01T02:00:00Z'] } }, { at: T0 });
      expect(t.nextRun).toEqual(hh(3));
      const c = (await claimAll(orrery, 'cron', hh(3))).get(t.id)!;
      expect((await endHeld(orrery, c, 'eventful', hh(3, 1))).task.status).toBe('completed');
    });
  });

  describe('next and backfill at a given instant (SPEC §2: every operation that depends on time takes at)', () => {
    it('next plans a late task from `at`; backfill and its cancel take `at` as now (calendar audit: refused, or ignored)', async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' }, nextRun: hh(1, 30) });
      // Late at 10:00 (by the clock), not at 01:40: the catch-up moves it to the latest occurrence, 09:30.
      expect((await orrery.schedules.next(t.id, { count: 1 })).occurrences.map((o) => o.at)).toEqual([hh(9, 30)]);
      expect((await orrery.schedules.next(t.id, { count: 2, at: hh(1, 40) })).occurrences.map((o) => o.at)).toEqual([hh(1, 30), hh(2, 30)]);
      // A range ending after `at` is in its future; one ending before is fine, and the backfill is made at `at`.
      await expect(orrery.schedules.backfill(t.id, { from: hh(0).toISOString(), to: hh(5).toISOString() }, { at: hh(4) })).rejects.toThrow(/to/);
      const b = await orrery.schedules.backfill(t.id, { from: hh(0).toISOString(), to: hh(3).toISOString() }, { at: hh(4) });
      expect(b).toMatchObject({ total: 3, created: hh(4), updated: hh(4) });
      expect(await orrery.schedules.cancelBackfill(b.id, { at: hh(4, 1) })).toMatchObject({ status: 'cancelled', updated: hh(4, 1) });
      await expect(orrery.schedules.next(t.id, { at: 'soon' as never })).rejects.toThrow(/^at: /);
      await expect(orrery.schedules.backfill(t.id, { from: hh(0).toISOString(), to: hh(3).toISOString() }, { when: hh(4) } as never)).rejects.toThrow(/^options\.when: unknown field/);
    });
  });

  describe('backfill (docs/guide.md#backfill)', () => {
    it("runs each occurrence once, in order, one at a time, in the gaps of the task's own runs", async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      const b = await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(4, 30).toISOString() });
      expect(b).toMatchObject({ task: t.id, total: 3, nextPoint: hh(2, 30), status: 'running' });
      await expect(orrery.schedules.backfill(t.id, { from: hh(5).toISOString(), to: hh(6).toISOString() })).rejects.toBeInstanceOf(ConflictError);
      const step = async (when: Date) => (await orrery.scheduleDue({ at: when })).map((r) => `${r.scheduledFor.toISOString().slice(11, 16)}${r.backfill ? ' backfill' : ''}`);
      const finish = async (when: Date) => {
        const [c] = [...(await claimAll(orrery, 'cron', when)).values()];
        await endHeld(orrery, c!, 'eventful', when);
      };
      expect(await step(hh(10))).toEqual(['02:30 backfill']);
      expect(await step(hh(10))).toEqual([]); // one at a time
      await finish(hh(10, 1));
      expect(await orrery.getTask(t.id)).toMatchObject({ status: 'next_run_not_scheduled', nextRun: hh(10, 30), scheduledFor: hh(10, 30) });
      expect(await step(hh(10, 2))).toEqual(['03:30 backfill']);
      await finish(hh(10, 29));
      expect(await step(hh(10, 30))).toEqual(['10:30']); // the task's own run first
      await finish(hh(10, 31));
      expect(await step(hh(10, 32))).toEqual(['04:30 backfill']);
      await finish(hh(10, 33));
      expect(await step(hh(10, 34))).toEqual([]);
      const p = await orrery.schedules.progress(b.id);
      expect(p).toMatchObject({ status: 'done', nextPoint: null });
      expect(p.runs.map((r) => [r.scheduledFor.toISOString().slice(11, 16), r.status, r.backfill])).toEqual([
        ['02:30', 'eventful', b.id],
        ['03:30', 'eventful', b.id],
        ['04:30', 'eventful', b.id],
      ]);
      expect(await orrery.getTask(t.id)).toMatchObject({ nextRun: hh(11, 30), retriesLeft: 1, nextAttempt: 1 });
      // a cancelled backfill gives no further run
      const c = await orrery.schedules.backfill(t.id, { from: hh(5).toISOString(), to: hh(7).toISOString() });
      expect((await orrery.schedules.cancelBackfill(c.id)).status).toBe('cancelled');
      expect(await step(hh(10, 35))).toEqual([]);
      expect((await orrery.schedules.backfills(t.id)).map((x) => x.status)).toEqual(['cancelled', 'done']);
    });

    it("archiving leaves the runs of a backfill still running (its progress counts them), and takes them once it is done (archiving audit: ended 0 of 3)", async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      const b = await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(3, 30).toISOString() });
      const finish = async (when: Date) => {
        await orrery.scheduleDue({ at: when });
        const [c] = [...(await claimAll(orrery, 'cron', when)).values()];
        await endHeld(orrery, c!, 'eventful', when);
      };
      await finish(hh(10, 1)); // 02:30
      const archived = await orrery.archive({ before: hh(20), table: true, at: hh(10, 2) });
      expect(archived.runs).toBe(0);
      expect((await orrery.schedules.progress(b.id)).runs.map((r) => r.status)).toEqual(['eventful']);
      await finish(hh(10, 3)); // 03:30
      await orrery.scheduleDue({ at: hh(10, 4) }); // the pass that finds it done
      expect((await orrery.schedules.progress(b.id)).status).toBe('done');
      expect((await orrery.archive({ before: hh(20), table: true, at: hh(10, 5) })).runs).toBe(2);
    });

    it('backfills asked at once, on one store and on two, make one: the others are conflicts naming it (backfill audit: three ran at once)', async () => {
      const { orrery, clock, another } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      const other = await another();
      const asks = [orrery, orrery, other, other].map((o, i) => o.schedules.backfill(t.id, { from: hh(1 + i).toISOString(), to: hh(5).toISOString() }));
      const settled = await Promise.allSettled(asks);
      const made = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(made).toHaveLength(1);
      for (const r of settled) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'ConflictError', message: `backfill ${made[0]!.id} of task ${t.id} is still running` });
      }
      expect((await orrery.schedules.backfills(t.id)).map((b) => b.status)).toEqual(['running']);
    });

    it("a backfill's runs keep to the type's maxQueueLength, 0 included (backfill audit: they were queued past it)", async () => {
      const { orrery, clock } = await setup([{ ...CRON, maxQueueLength: 1 }]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      const other = await orrery.createTask({ type: 'cron', arguments: { args: ['other'] }, policy: 'oneshot' });
      await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(3, 30).toISOString() });
      const step = async (when: Date) => (await orrery.scheduleDue({ at: when })).map((r) => (r.backfill ? `${r.scheduledFor.toISOString().slice(11, 16)} backfill` : `task ${r.task}`));
      // The queue's one place goes to the first taker; the backfill waits while it is full.
      const first = await step(hh(10));
      expect(first).toHaveLength(1);
      expect(await step(hh(10))).toEqual([]);
      const queued = (await orrery.listRuns(first[0] === `task ${other.id}` ? other.id : t.id))[0]!;
      await orrery.claim({ worker: 'w', types: ['cron'], limit: 1, at: hh(10, 1) });
      expect((await orrery.getRun(queued.backendId))!.status).toBe('claimed');
      expect(await step(hh(10, 1))).toEqual(first[0] === `task ${other.id}` ? ['02:30 backfill'] : [`task ${other.id}`]);
      // A limit of 0 pauses the type: no backfill run either.
      await orrery.updateTaskType('cron', { maxQueueLength: 0 });
      await orrery.claim({ worker: 'w', types: ['cron'], limit: 5, at: hh(10, 2) });
      const held = await orrery.heldRuns('w');
      for (const h of held) await orrery.endRun(h.run.backendId, { status: 'eventful', worker: 'w', at: hh(10, 3) });
      expect(await step(hh(10, 4))).toEqual([]);
      expect(held.length).toBeGreaterThan(0);
      expect((await orrery.searchRuns({ type: 'cron', status: 'scheduled' })).runs).toEqual([]);
    });

    it('a paused task, or a task of a paused type, gets no backfill run until resumed (audit, 2026-12-05)', async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(3, 30).toISOString() });
      const step = async (when: Date) => (await orrery.scheduleDue({ at: when })).map((r) => `${r.scheduledFor.toISOString().slice(11, 16)}${r.backfill ? ' backfill' : ''}`);
      await orrery.pauseTask(t.id, { reason: 'hold' });
      expect(await step(hh(10))).toEqual([]);
      expect((await orrery.listRuns(t.id)).length).toBe(0);
      await orrery.resumeTask(t.id);
      await orrery.pauseTaskType('cron', { reason: 'deploy' });
      expect(await step(hh(10, 1))).toEqual([]);
      await orrery.resumeTaskType('cron');
      expect(await step(hh(10, 2))).toEqual(['02:30 backfill']);
    });

    it('a backfill run taken back by a pause (it never ran) is made again on resume: no occurrence is skipped (HTTP audit, 2026-12-06)', async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      const b = await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(3, 30).toISOString() });
      const step = async (when: Date) => (await orrery.scheduleDue({ at: when })).map((r) => `${r.scheduledFor.toISOString().slice(11, 16)}${r.backfill ? ' backfill' : ''}`);
      expect(await step(hh(10))).toEqual(['02:30 backfill']);
      expect(await orrery.schedules.progress(b.id)).toMatchObject({ nextPoint: hh(3, 30) });
      // Paused while its run waits: the run is taken back, and the backfill will serve 02:30 again.
      await orrery.pauseTask(t.id, { reason: 'hold' });
      expect(await orrery.schedules.progress(b.id)).toMatchObject({ status: 'running', nextPoint: hh(2, 30), runs: [] });
      expect(await step(hh(10, 1))).toEqual([]);
      await orrery.resumeTask(t.id);
      expect(await step(hh(10, 2))).toEqual(['02:30 backfill']);
      // The last occurrence too: taken back after the backfill had made its last run (next point none), it comes back.
      const [c] = [...(await claimAll(orrery, 'cron', hh(10, 3))).values()];
      await endHeld(orrery, c!, 'eventful', hh(10, 3));
      expect(await step(hh(10, 4))).toEqual(['03:30 backfill']);
      expect(await orrery.schedules.progress(b.id)).toMatchObject({ nextPoint: null });
      await orrery.pauseTask(t.id);
      await orrery.resumeTask(t.id);
      expect(await step(hh(10, 5))).toEqual(['03:30 backfill']);
      const [d] = [...(await claimAll(orrery, 'cron', hh(10, 6))).values()];
      await endHeld(orrery, d!, 'eventful', hh(10, 6));
      await step(hh(10, 7));
      const p = await orrery.schedules.progress(b.id);
      expect(p).toMatchObject({ status: 'done', nextPoint: null });
      expect(p.runs.map((r) => [r.scheduledFor.toISOString().slice(11, 16), r.status])).toEqual([
        ['02:30', 'eventful'],
        ['03:30', 'eventful'],
      ]);
    });

    it('a runner pass that read the backfill before a pause gave its last occurrence back cannot mark it done (review, 2026-12-06)', async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      const b = await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(2, 30).toISOString() });
      await orrery.scheduleDue({ at: hh(10) }); // its one occurrence gets its run: next point none
      expect(await orrery.schedules.progress(b.id)).toMatchObject({ nextPoint: null });
      await orrery.pauseTask(t.id); // the run is taken back, the occurrence given back
      // What a pass that had read "next point none" before the pause then does: its done is refused.
      expect(await orrery.store.schedules.finishBackfill(b.id, 'done', hh(10, 1))).toBeNull();
      expect(await orrery.schedules.progress(b.id)).toMatchObject({ status: 'running', nextPoint: hh(2, 30) });
      await orrery.resumeTask(t.id);
      expect((await orrery.scheduleDue({ at: hh(10, 2) })).map((r) => r.backfill)).toEqual([b.id]);
      // A cancel still ends it whatever its next point.
      expect(await orrery.store.schedules.finishBackfill(b.id, 'cancelled', hh(10, 3))).toMatchObject({ status: 'cancelled' });
    });

    it('every running backfill gets its pass: the backfills of 100 paused tasks do not hold back a 101st (backfill audit, 2026-12-06)', async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const tasks = await orrery.createTasks(Array.from({ length: 101 }, (_, i) => ({ type: 'cron', arguments: { args: [i], kwargs: {} }, schedule: { kind: 'cron' as const, expr: '30 * * * *' } })));
      for (const t of tasks) await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(3).toISOString() });
      for (const t of tasks.slice(0, 100)) await orrery.pauseTask(t.id);
      const runs = await orrery.scheduleDue({ at: hh(10, 1) });
      expect(runs.map((r) => [r.task, r.backfill != null])).toEqual([[tasks[100]!.id, true]]);
    });

    it('a task disabled and respawned before the runner\'s next pass has its backfill cancelled, not resumed (backfill audit, 2026-12-06)', async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const [t, u] = await orrery.createTasks([1, 2].map((i) => ({ type: 'cron', arguments: { args: [i], kwargs: {} }, schedule: { kind: 'cron' as const, expr: '30 * * * *' } })));
      const b = await orrery.schedules.backfill(t!.id, { from: hh(2).toISOString(), to: hh(4).toISOString() });
      const c = await orrery.schedules.backfill(u!.id, { from: hh(2).toISOString(), to: hh(4).toISOString() });
      await orrery.disableTasks([t!.id, u!.id]);
      await orrery.respawnTasks([t!.id]);
      await orrery.bulkTasks('respawn', { ids: [u!.id] });
      expect((await orrery.schedules.progress(b.id)).status).toBe('cancelled');
      expect((await orrery.schedules.progress(c.id)).status).toBe('cancelled');
      expect((await orrery.scheduleDue({ at: hh(10, 1) })).filter((r) => r.backfill != null)).toEqual([]);
    });

    it('a backfill run a worker gives back unbegun to its paused task is made again on resume', async () => {
      const { orrery, clock } = await setup([CRON]);
      clock.set(hh(10));
      const t = await orrery.createTask({ type: 'cron', schedule: { kind: 'cron', expr: '30 * * * *' } });
      const b = await orrery.schedules.backfill(t.id, { from: hh(2).toISOString(), to: hh(2, 30).toISOString() });
      await orrery.scheduleDue({ at: hh(10) });
      const [held] = await orrery.claimRuns({ worker: 'w1', types: ['cron'], limit: 1, startNow: 0, due: false, at: hh(10) });
      expect(held!.run).toMatchObject({ status: 'claimed', backfill: b.id });
      await orrery.pauseTask(t.id); // a claimed run stays with its worker
      await orrery.releaseRuns({ worker: 'w1', backendIds: [held!.run.backendId], at: hh(10, 1) });
      expect(await orrery.getRun(held!.run.backendId)).toBeNull(); // taken back: it never ran
      expect(await orrery.schedules.progress(b.id)).toMatchObject({ status: 'running', nextPoint: hh(2, 30), runs: [] });
      await orrery.resumeTask(t.id);
      expect((await orrery.scheduleDue({ at: hh(10, 2) })).map((r) => [r.scheduledFor.toISOString().slice(11, 16), r.backfill])).toEqual([['02:30', b.id]]);
    });
  });

  describe('flow control at creation (docs/limits.md)', () => {
    it('unique: a create within the window returns the task created in it, whatever its status; at the boundary or with a window of zero, a new task', async () => {
      const { orrery } = await setup([MAIL]);
      const create = (args: unknown[], when: Date, unique: object) => orrery.createTasksDetailed([{ type: 'mail', policy: 'oneshot', arguments: { args }, unique: { for: '1h', ...unique } }], { at: when }, '');
      const [first] = await create(['a'], T0, {});
      await orrery.disableTasks([first!.task.id], { at: T0 });
      const [again] = await create(['a'], plus(T0, HOUR - 1), {});
      expect(again).toMatchObject({ created: false, task: { id: first!.task.id, status: 'disabled' } });
      expect((await create(['b'], plus(T0, 1), {}))[0]!.created).toBe(true); // other arguments
      expect((await create(['a'], plus(T0, HOUR), {}))[0]!.created).toBe(true); // the window's end
      const last = await create(['a'], plus(T0, 2 * HOUR), { for: 0 });
      expect(last[0]!.created).toBe(true);
      // The window is (at - for, at]: a create replayed at an earlier instant matches the task of its own window, never a later one.
      const replayed = await create(['a'], plus(T0, HOUR / 2), {});
      expect(replayed[0]).toMatchObject({ created: false, task: { id: first!.task.id } });
    });

    it('unique: concurrent creates from two processes give one task', async () => {
      const { orrery, another } = await setup([MAIL]);
      const other = await another();
      // distinct next runs: without `unique` these would be four tasks
      const input = { type: 'mail', policy: 'oneshot' as const, arguments: { args: ['same'] }, unique: { for: '1h' } };
      const made = await Promise.all([orrery, other, orrery, other].map((o, i) => o.createTask({ ...input, nextRun: plus(T0, HOUR + i) }, { at: T0 })));
      expect(new Set(made.map((t) => t.id)).size).toBe(1);
    });

    it('unique: a create at the clock\'s reading matches a task of the key created after that reading (a concurrent create that took the lock first)', async () => {
      const { orrery, another, clock } = await setup([MAIL]);
      const other = await another();
      const input = { type: 'mail', policy: 'oneshot' as const, arguments: { args: ['race'] }, unique: { for: '1h' } };
      // The other process read a later clock and committed first; this one read the clock before it got the lock.
      const first = await other.createTask({ ...input, nextRun: plus(T0, HOUR) }, { at: plus(T0, 5) });
      clock.set(T0);
      const late = await orrery.createTasksDetailed([{ ...input, nextRun: plus(T0, HOUR + 1) }]);
      expect(late[0]).toMatchObject({ created: false, task: { id: first.id } });
      // A create at a given instant (a replay) still matches only its own window (at - for, at].
      const replay = await orrery.createTasksDetailed([{ ...input, nextRun: plus(T0, HOUR + 2) }], { at: T0 }, '');
      expect(replay[0]!.created).toBe(true);
      // Bounded: a task created more than a minute after the reading (a replay into the future), or any with for: 0, is not matched.
      const later = await other.createTask({ ...input, arguments: { args: ['later'] }, nextRun: plus(T0, HOUR) }, { at: plus(T0, 61_000) });
      expect((await orrery.createTasksDetailed([{ ...input, arguments: { args: ['later'] }, nextRun: plus(T0, HOUR + 3) }]))[0]!.task.id).not.toBe(later.id);
      const zero = { ...input, arguments: { args: ['zero'] }, unique: { for: '0s' } };
      const z = await other.createTask({ ...zero, nextRun: plus(T0, HOUR) }, { at: plus(T0, 5) });
      expect((await orrery.createTasksDetailed([{ ...zero, nextRun: plus(T0, HOUR + 4) }]))[0]!.task.id).not.toBe(z.id);
    });

    it('debounce: creates within the period collapse into one task due a period after the last, with its arguments', async () => {
      const { orrery } = await setup([MAIL]);
      const create = (arg: string, when: Date) => orrery.createTasksDetailed([{ type: 'mail', arguments: { args: [arg] }, debounce: { key: 'user-1', period: '30s' } }], { at: when }, '');
      const [a] = await create('a', T0);
      expect(a).toMatchObject({ created: true, task: { policy: 'oneshot', nextRun: plus(T0, 30_000) } });
      const [b] = await create('b', plus(T0, 29_999));
      expect(b).toMatchObject({ created: false, replaced: true, task: { id: a!.task.id, arguments: { args: ['b'] }, nextRun: plus(T0, 59_999) } });
      // once its period has passed (it is due), a create starts a new task
      const [c] = await create('c', plus(T0, 59_999));
      expect(c!.created).toBe(true);
      expect(c!.task.id).not.toBe(a!.task.id);
      const [other] = await orrery.createTasksDetailed([{ type: 'mail', arguments: { args: ['x'] }, debounce: { key: 'user-2', period: '30s' } }], { at: plus(T0, 60_000) }, '');
      expect(other!.created).toBe(true);
      const tasks: Task[] = await orrery.searchTasks({ type: 'mail' });
      expect(tasks.map((t) => t.arguments.args[0])).toEqual(['b', 'c', 'x']);
      // A debounced task is matched by its key only (limits.md): a plain create equal to it is a task of its own.
      const [plain] = await orrery.createTasksDetailed([{ type: 'mail', policy: 'oneshot', arguments: { args: ['x'] }, nextRun: other!.task.nextRun }], { at: plus(T0, 60_001) }, '');
      expect(plain!.created).toBe(true);
      expect(plain!.task.id).not.toBe(other!.task.id);
    });

    it('debounce at one instant: a period of 0 makes a task of each create; a period collapses them, the last one\'s arguments kept (alone or in one batch)', async () => {
      const { orrery } = await setup([MAIL]);
      const row = (arg: string, key: string, period: string) => ({ type: 'mail', arguments: { args: [arg] }, debounce: { key, period } });
      for (const arg of ['z0', 'z1']) await orrery.createTasksDetailed([row(arg, 'zero', '0s')], { at: T0 }, '');
      const batch = await orrery.createTasksDetailed([row('b0', 'zero-batch', '0s'), row('b1', 'zero-batch', '0s'), row('c0', 'period', '30s'), row('c1', 'period', '30s')], { at: T0 }, '');
      expect(batch.map((c) => [c.created, c.replaced ?? false])).toEqual([[true, false], [true, false], [true, false], [false, true]]);
      const tasks: Task[] = await orrery.searchTasks({ type: 'mail' });
      expect(tasks.map((t) => t.arguments.args[0])).toEqual(['z0', 'z1', 'b0', 'b1', 'c1']);
    });
  });

  describe('DAGs: overlap policies and backfill (docs/dags.md)', () => {
    const hourlyDag = (id: string, overlap: string) => ({ id, schedule: { cron: '0 * * * *' }, start: T0, overlap, tasks: [{ id: 'a' }] });

    it('skip, bufferOne and cancelOther while a run is active; allow up to maxActiveRuns', async () => {
      const { orrery, clock } = await setup([]);
      await orrery.dags.register(['skip', 'bufferOne', 'cancelOther', 'allow'].map((p) => hourlyDag(p, p)) as never);
      for (let h = 0; h <= 2; h++) {
        clock.set(hh(h));
        await orrery.dags.schedulePoints();
        await orrery.dags.progressAll();
      }
      const state = async (dag: string) => (await orrery.dags.runs({ dag })).map((r) => `${r.execTs.toISOString().slice(11, 13)}:${r.status}`).reverse();
      expect(await state('skip')).toEqual(['00:running']);
      expect(await state('bufferOne')).toEqual(['00:running', '01:scheduled']);
      expect(await state('cancelOther')).toEqual(['00:failed', '01:failed', '02:running']);
      expect(await state('allow')).toEqual(['00:running', '01:running', '02:running']);
      expect((await orrery.dags.get('skip')).points.map((p) => `${p.kind}x${p.count}`)).toEqual(['skippedx2', 'scheduledx1']);
    });

    it('a scheduler pass records the ends of active runs before a due point applies its overlap policy: cancelOther does not cancel a run whose work ended (during a pause, say)', async () => {
      const { orrery, clock } = await setup([]);
      await orrery.dags.register([hourlyDag('co', 'cancelOther'), hourlyDag('sk', 'skip')] as never);
      const pass = new OnePass(orrery);
      clock.set(hh(0));
      await pass.run();
      await orrery.scheduleDue({});
      // Both runs' only attempts end before the next point; no pass saw those ends yet.
      for (const c of await claimStarted(orrery, { worker: 'w', types: ['orrery.dag'], limit: 10 })) {
        await orrery.endRun(c.run.backendId, { status: 'eventful', result: 1, worker: 'w' });
      }
      clock.set(hh(1));
      await pass.run();
      const state = async (dag: string) => (await orrery.dags.runs({ dag })).map((r) => `${r.execTs.toISOString().slice(11, 13)}:${r.status}`).reverse();
      expect(await state('co')).toEqual(['00:success', '01:running']);
      expect(await state('sk')).toEqual(['00:success', '01:running']); // not skipped for a run that had ended
    });

    it('backfill: a waiting run per point in the range, with params, started in order under the limit', async () => {
      const { orrery, clock } = await setup([]);
      clock.set(hh(10));
      await orrery.dags.register([{ ...hourlyDag('b', 'bufferOne'), start: hh(10) }] as never);
      const runs = await orrery.dags.backfill('b', { from: hh(2).toISOString(), to: hh(4).toISOString(), params: { why: 'fix' } });
      expect(runs.map((r) => [r.execTs.toISOString().slice(11, 13), r.trigger, r.status, r.params])).toEqual([
        ['02', 'backfill', 'scheduled', { why: 'fix' }],
        ['03', 'backfill', 'scheduled', { why: 'fix' }],
        ['04', 'backfill', 'scheduled', { why: 'fix' }],
      ]);
      await orrery.dags.progressAll();
      expect((await orrery.dags.runs({ dag: 'b' })).map((r) => r.status).reverse()).toEqual(['running', 'scheduled', 'scheduled']);
    });
  });
}
