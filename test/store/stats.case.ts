import { describe, expect, it } from 'vitest';
import type { QueueStats } from '../../src/store/store.js';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, LOAD_GIT, T0, plus, useOrrery, claimStarted } from './fixtures.js';

const args = (url: string) => ({ args: [url], kwargs: {} });
const empty = (type: string): QueueStats => ({ type, scheduled: 0, running: 0, claimed: 0, oldestScheduled: null, deadLettered: 0, pausedTasks: 0 });

export function statsCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('queue stats (metrics)', () => {
    it('due stats: due tasks no run serves yet per type, counted up to a cap, with the oldest due instant', async () => {
      const { orrery } = await setup([LOAD_GIT, { name: 'idle', defaultIntervalMs: '1h' }, { name: 'other', defaultIntervalMs: '1h' }]);
      expect(await orrery.store.dueStats(T0, 100)).toEqual([]);
      await orrery.createTasks(
        [0, 1, 2, 3, 4].map((i) => ({ type: 'load-git', arguments: args(`u${i}`), nextRun: plus(T0, i * 1000), priority: i === 4 ? ('high' as const) : null })),
        { at: T0 },
      );
      await orrery.createTask({ type: 'other', arguments: args('o'), nextRun: plus(T0, 2000) }, { at: T0 });
      await orrery.createTask({ type: 'idle', arguments: args('later'), nextRun: plus(T0, HOUR) }, { at: T0 }); // not due
      expect(await orrery.store.dueStats(plus(T0, 4000), 100)).toEqual([
        { type: 'load-git', due: 5, oldestDue: T0 },
        { type: 'other', due: 1, oldestDue: plus(T0, 2000) },
      ]);
      // Counted up to the cap; the oldest is still exact.
      expect((await orrery.store.dueStats(plus(T0, 4000), 3))[0]).toEqual({ type: 'load-git', due: 3, oldestDue: T0 });
      // Queued tasks are served by a run: no longer due-not-queued.
      await orrery.scheduleDue({ at: plus(T0, 4000), type: 'other' });
      expect(await orrery.store.dueStats(plus(T0, 4000), 100)).toEqual([{ type: 'load-git', due: 5, oldestDue: T0 }]);
      expect(await orrery.store.dueStats(plus(T0, 500), 100)).toEqual([{ type: 'load-git', due: 1, oldestDue: T0 }]);
      // The library says whether a count reached the cap, as GET /api/stats/due and the typed client do.
      expect(await orrery.dueStats({ at: plus(T0, 500) })).toEqual([{ type: 'load-git', due: 1, oldestDue: T0, capped: false }]);
    });

    it('lists every type by name, zeros included, before any task exists', async () => {
      const { orrery } = await setup([LOAD_GIT, { name: 'idle', defaultIntervalMs: '1h' }]);
      expect(await orrery.store.queueStats(T0)).toEqual([empty('idle'), empty('load-git')]);
    });

    it('counts waiting and leased runs and the oldest waiting run per type; finished and cancelled runs do not count', async () => {
      const { orrery } = await setup([LOAD_GIT, { name: 'idle', defaultIntervalMs: '1h' }, { name: 'other', defaultIntervalMs: '1h' }]);
      const [a, b] = await orrery.createTasks([
        { type: 'load-git', arguments: args('a') },
        { type: 'load-git', arguments: args('b') },
      ]);
      await orrery.createTask({ type: 'other', arguments: args('o') });
      await orrery.createTask({ type: 'load-git', arguments: args('later'), nextRun: plus(T0, HOUR) }); // not due: no run
      await orrery.scheduleDue({ at: T0 });
      const c = await orrery.createTask({ type: 'load-git', arguments: args('c') });
      const d = await orrery.createTask({ type: 'load-git', arguments: args('d') }, { at: plus(T0, 30_000) });
      await orrery.scheduleDue({ at: plus(T0, 60_000) });
      expect(await orrery.store.queueStats(plus(T0, 60_000))).toEqual([
        empty('idle'),
        { type: 'load-git', scheduled: 4, running: 0, claimed: 0, oldestScheduled: T0, deadLettered: 0, pausedTasks: 0 },
        { type: 'other', scheduled: 1, running: 0, claimed: 0, oldestScheduled: T0, deadLettered: 0, pausedTasks: 0 },
      ]);

      // Claims take (priority, scheduled, id) order: a and b (scheduled at T0) go first.
      const claimed = await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 2, at: plus(T0, 120_000) });
      expect(claimed.map((x) => x.run.task).sort()).toEqual([a!.id, b!.id].sort());
      let [, loadGit] = await orrery.store.queueStats(plus(T0, 120_000));
      expect(loadGit).toEqual({ type: 'load-git', scheduled: 2, running: 2, claimed: 0, oldestScheduled: plus(T0, 60_000), deadLettered: 0, pausedTasks: 0 });

      await orrery.endRun(claimed[0]!.run.backendId, { status: 'eventful', worker: 'w1', at: plus(T0, 130_000) });
      await orrery.disableTasks([c.id]); // cancels its waiting run (ends it lost)
      [, loadGit] = await orrery.store.queueStats(plus(T0, 130_000));
      expect(loadGit).toEqual({ type: 'load-git', scheduled: 1, running: 1, claimed: 0, oldestScheduled: plus(T0, 60_000), deadLettered: 0, pausedTasks: 0 });

      await orrery.endRun(claimed[1]!.run.backendId, { status: 'failed', worker: 'w1', at: plus(T0, 140_000) });
      await claimStarted(orrery, { worker: 'w2', types: ['load-git', 'other'], limit: 5, at: plus(T0, 150_000) });
      expect(await orrery.store.queueStats(plus(T0, 150_000))).toEqual([
        empty('idle'),
        { type: 'load-git', scheduled: 0, running: 1, claimed: 0, oldestScheduled: null, deadLettered: 0, pausedTasks: 0 },
        { type: 'other', scheduled: 0, running: 1, claimed: 0, oldestScheduled: null, deadLettered: 0, pausedTasks: 0 },
      ]);
      expect((await orrery.listRuns(d.id))[0]!.status).toBe('started');
    });

    it('counts dead-lettered tasks per type, not tasks disabled for other reasons', async () => {
      const fragile = { name: 'fragile', defaultIntervalMs: '1h', leaseMs: '10s', maxAbandons: 1 };
      const { orrery } = await setup([LOAD_GIT, fragile]);
      const tasks = await orrery.createTasks(['x', 'y', 'z', 'perm'].map((u) => ({ type: 'fragile', arguments: args(u) })));
      const manual = await orrery.createTask({ type: 'fragile', arguments: args('manual') }, { at: plus(T0, HOUR) });
      await orrery.scheduleDue({ at: T0 });
      const claimed = await claimStarted(orrery, { worker: 'w', types: ['fragile'], limit: 10, at: T0 });
      expect(claimed).toHaveLength(4);
      const perm = claimed.find((x) => x.run.task === tasks[3]!.id)!;
      await orrery.endRun(perm.run.backendId, { status: 'permfailed', worker: 'w', at: plus(T0, 1000) });
      await orrery.disableTasks([manual.id]);
      // The other three stop heartbeating: the reaper ends them lost and, with maxAbandons 1, dead-letters their tasks.
      const reaped = await orrery.reapExpired({ at: plus(T0, 11_000) });
      expect(reaped.map((r) => r.task.disabledReason)).toEqual(['dead_letter', 'dead_letter', 'dead_letter']);
      expect(await orrery.store.queueStats(plus(T0, 11_000))).toEqual([
        { type: 'fragile', scheduled: 0, running: 0, claimed: 0, oldestScheduled: null, deadLettered: 3, pausedTasks: 0 },
        empty('load-git'),
      ]);
      await orrery.respawnTasks([tasks[0]!.id], { at: plus(T0, 12_000) });
      const [stats] = await orrery.store.queueStats(plus(T0, 12_000));
      expect(stats!.deadLettered).toBe(2);
    });
  });
}
