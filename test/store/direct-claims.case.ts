import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/service.js';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, LOAD_GIT, T0, plus, useOrrery } from './fixtures.js';

const oneshot = (type: string, i: number, extra: Record<string, unknown> = {}) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, ...extra });

/** Workers claim due tasks without waiting for the runner (ClaimRequest.due; docs/architecture.md). */
export function directClaimCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('claims of due tasks (no runner in between)', () => {
    it('a type with maxQueueLength 0 is paused: neither the runner nor a claim of due tasks takes its tasks', async () => {
      const { orrery } = await setup([{ name: 'held', maxQueueLength: 0 }]);
      const t = await orrery.createTask(oneshot('held', 1, { nextRun: plus(T0, -10) }));
      expect(await orrery.scheduleDue({ at: T0 })).toEqual([]);
      expect((await orrery.claim({ worker: 'w1', types: ['held', 'load-git'], limit: 10, at: T0 })).runs).toEqual([]);
      expect(await orrery.getTask(t.id)).toMatchObject({ status: 'next_run_not_scheduled' });
      // Unpaused by raising the limit: the next claim takes it.
      await orrery.updateTaskType('held', { maxQueueLength: null });
      expect((await orrery.claim({ worker: 'w1', types: ['held'], limit: 10, at: T0 })).runs.map((c) => c.run.task)).toEqual([t.id]);
    });

    it('a claim given the clock stamps its runs with the instant it may write at, not the one read before a wait', async () => {
      // A claim that waited (for SQLite's write lock, for a PostgreSQL connection) recorded runs started
      // before they were queued, and leased them from before the wait: the lease could be over at the commit.
      const { orrery } = await setup();
      await orrery.createTask({ type: 'load-git', arguments: { args: ['queued'], kwargs: {} }, nextRun: plus(T0, -HOUR) });
      await orrery.scheduleDue({ at: T0 });
      await orrery.createTask(oneshot('load-git', 1, { nextRun: plus(T0, -10) }));
      const later = plus(T0, 10_000);
      const out = await orrery.store.claimRuns({ worker: 'w1', types: ['load-git'], limit: 5, at: T0, now: () => later, due: true, startNow: 5 });
      expect(out.runs).toHaveLength(2);
      const [fromQueue, direct] = [out.runs.find((c) => !out.created!.includes(c.run.id))!, out.runs.find((c) => out.created!.includes(c.run.id))!];
      expect(fromQueue.run).toMatchObject({ status: 'started', scheduled: T0, started: later, leaseExpiresAt: plus(later, 30_000) });
      expect(direct.run).toMatchObject({ status: 'started', scheduled: later, started: later, leaseExpiresAt: plus(later, 30_000) });
      expect(await orrery.getRun(direct.run.backendId)).toMatchObject({ scheduled: later, started: later, leaseExpiresAt: plus(later, 30_000) });
    });

    it('the runs of one claim of due tasks get distinct backend ids in the time-ordered layout, all with the claim instant', async () => {
      const { orrery } = await setup();
      await orrery.createTasks(Array.from({ length: 20 }, (_, i) => oneshot('load-git', i, { nextRun: plus(T0, -10) })));
      const out = await orrery.claim({ worker: 'w1', types: ['load-git'], limit: 20, at: T0 });
      const ids = out.runs.map((c) => c.run.backendId);
      expect(out.created).toHaveLength(20);
      expect(new Set(ids).size).toBe(20);
      const prefix = T0.getTime().toString(16).padStart(12, '0');
      for (const id of ids) {
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(id.replace('-', '').slice(0, 12)).toBe(prefix);
      }
    });

    it('takes waiting runs first, then due tasks in runner order; each gets a claimed run and is marked scheduled', async () => {
      const { orrery } = await setup();
      const queued = await orrery.createTask({ type: 'load-git', arguments: { args: ['queued'], kwargs: {} }, nextRun: plus(T0, -HOUR) });
      await orrery.scheduleDue({ at: T0 });
      const low = await orrery.createTask(oneshot('load-git', 1, { priority: 'low', nextRun: plus(T0, -10) }));
      const high = await orrery.createTask(oneshot('load-git', 2, { priority: 'high', nextRun: plus(T0, -5) }));
      const plain = await orrery.createTask(oneshot('load-git', 3, { nextRun: plus(T0, -20) }));
      const later = await orrery.createTask(oneshot('load-git', 4, { nextRun: plus(T0, HOUR) }));
      const events: RunEvent[] = [];
      orrery.events.on('run', (e) => events.push(e));

      const out = await orrery.claim({ worker: 'w1', types: ['load-git'], limit: 3, at: T0 });
      expect(new Set(out.runs.map((c) => c.run.task))).toEqual(new Set([queued.id, high.id, low.id]));
      expect(out.created).toHaveLength(2);
      const direct = out.runs.filter((c) => out.created!.includes(c.run.id));
      expect(new Set(direct.map((c) => c.run.task))).toEqual(new Set([high.id, low.id]));
      for (const c of direct) {
        expect(c.run).toMatchObject({ status: 'claimed', worker: 'w1', scheduled: T0, started: null, leaseExpiresAt: plus(T0, 30_000), attempt: 1 });
        expect(c).toMatchObject({ backendName: 'load-git', leaseMs: 30_000, timeoutMs: null });
        const task = (await orrery.getTask(c.run.task))!;
        expect(task.status).toBe('next_run_scheduled');
        expect(c.arguments).toEqual(task.arguments);
        // Both dialects build the claimed run and task without reading them back: exactly what they hold.
        expect(c.run).toEqual(await orrery.getRun(c.run.backendId));
        expect(c.task).toEqual(task);
      }
      expect(events.filter((e) => e.event === 'scheduled').map((e) => e.run.id).sort()).toEqual([...out.created!].sort());
      expect(events.filter((e) => e.event === 'claimed')).toHaveLength(3);

      // The next claim finds the remaining due task; the one not due yet stays with the runner.
      const next = await orrery.claim({ worker: 'w1', types: ['load-git'], limit: 5, at: T0 });
      expect(next.runs.map((c) => c.run.task)).toEqual([plain.id]);
      expect(await orrery.scheduleDue({ at: T0 })).toEqual([]);
      expect((await orrery.getTask(later.id))!.status).toBe('next_run_not_scheduled');
    });

    it('due tasks claimed directly get their runs, ids and places in the answer in runner order (both stores alike)', async () => {
      const { orrery } = await setup();
      const tasks = [];
      for (let i = 0; i < 5; i++) tasks.push(await orrery.createTask(oneshot('load-git', i, { nextRun: plus(T0, -10) })));
      const low = await orrery.createTask(oneshot('load-git', 9, { priority: 'low', nextRun: plus(T0, -100) }));
      const out = await orrery.claim({ worker: 'w1', types: ['load-git'], limit: 4, startNow: 1, at: T0 });
      expect(out.runs.map((c) => c.run.task)).toEqual([low.id, ...tasks.slice(0, 3).map((t) => t.id)]);
      const ids = out.runs.map((c) => c.run.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(out.runs.map((c) => c.run.status)).toEqual(['started', 'claimed', 'claimed', 'claimed']);
    });

    it('a claim without its types (plain JavaScript callers) is a ValidationError naming types, not a TypeError', async () => {
      const { orrery } = await setup();
      for (const types of [undefined, 'load-git', [1]]) {
        await expect(orrery.claim({ worker: 'w', limit: 1, types } as never)).rejects.toMatchObject({ name: 'ValidationError', message: 'types: must be an array of task type names' });
      }
    });

    it('a run claimed from a due task ends through the formula like any other', async () => {
      const { orrery } = await setup();
      const rec = await orrery.createTask({ type: 'load-git', arguments: { args: ['r'], kwargs: {} }, nextRun: T0 });
      const once = await orrery.createTask(oneshot('load-git', 1, { nextRun: T0 }));
      const out = await orrery.claim({ worker: 'w', types: ['load-git'], limit: 5, at: T0 });
      expect(out.runs).toHaveLength(2);
      for (const c of out.runs) await orrery.endRun(c.run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 1000) });
      expect((await orrery.getTask(once.id))!.status).toBe('completed');
      const r = (await orrery.getTask(rec.id))!;
      expect(r).toMatchObject({ status: 'next_run_not_scheduled', nextRun: plus(T0, 1000 + 12 * HOUR) });
      expect((await orrery.listRuns(rec.id)).map((x) => x.status)).toEqual(['eventful']);
    });

    it('concurrent claimers and the runner never take one task twice', async () => {
      const { orrery, another } = await setup();
      const others = [await another(), await another()];
      await orrery.createTasks(Array.from({ length: 60 }, (_, i) => oneshot('load-git', i, { nextRun: T0 })));
      const results = await Promise.all([
        orrery.claim({ worker: 'a', types: ['load-git'], limit: 25, at: T0 }),
        others[0]!.claim({ worker: 'b', types: ['load-git'], limit: 25, at: T0 }),
        others[1]!.scheduleDue({ at: T0 }),
      ]);
      const [a, b, scheduled] = results;
      // No run is handed out twice, and a task has one run whoever made it: a claimer may take from the
      // queue a run the runner queued in the meantime (the same run, listed by both).
      const claimed = [...a.runs, ...b.runs].map((c) => c.run.backendId);
      expect(new Set(claimed).size).toBe(claimed.length);
      const runOfTask = new Map<number, string>();
      for (const r of [...a.runs.map((c) => c.run), ...scheduled, ...b.runs.map((c) => c.run)]) {
        expect(runOfTask.get(r.task) ?? r.backendId).toBe(r.backendId);
        runOfTask.set(r.task, r.backendId);
      }
      // Whatever the runner queued and nobody claimed is claimed next; every task has exactly one run.
      const rest = await orrery.claim({ worker: 'c', types: ['load-git'], limit: 100, at: T0 });
      expect(a.runs.length + b.runs.length + rest.runs.length).toBe(60);
      const runs = await orrery.store.searchTasks({ type: 'load-git' });
      for (const t of runs) expect(await orrery.listRuns(t.id)).toHaveLength(1);
    });

    it('types with limits, and claims without `due`, leave due tasks to the runner', async () => {
      const { orrery } = await setup([LOAD_GIT, { name: 'narrow', maxRunning: 5 }]);
      await orrery.createTask(oneshot('narrow', 1, { nextRun: T0 }));
      const git = await orrery.createTask(oneshot('load-git', 2, { nextRun: T0 }));
      expect((await orrery.claim({ worker: 'w', types: ['narrow'], limit: 5, at: T0 })).runs).toEqual([]);
      expect(await orrery.store.claimRuns({ worker: 'w', types: ['load-git'], limit: 5, at: T0 })).toEqual({ runs: [], heldBack: false, retryAt: null });
      expect(await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 5, at: T0, due: false })).toEqual([]);
      const scheduled = await orrery.scheduleDue({ at: T0 });
      expect(scheduled.map((r) => r.type).sort()).toEqual(['load-git', 'narrow']);
      expect(scheduled.find((r) => r.type === 'load-git')!.task).toBe(git.id);
    });
  });
}
