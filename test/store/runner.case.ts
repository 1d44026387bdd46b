import { describe, expect, it } from 'vitest';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, T0, plus, useOrrery, claimStarted } from './fixtures.js';

const args = (url: string) => ({ args: [url], kwargs: {} });

export function runnerCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('runner: scheduling due tasks', () => {
    it('schedules only due, waiting tasks, by priority, then nextRun, then id, in one step', async () => {
      const { orrery } = await setup();
      const mk = (u: string, nextRun: Date, priority: 'high' | 'normal' | 'low' | null = null) =>
        orrery.createTask({ type: 'load-git', arguments: args(u), nextRun, priority });
      const late = await mk('late', plus(T0, -1000));
      const none = await mk('none', plus(T0, -5000));
      const low = await mk('low', T0, 'low');
      const high2 = await mk('high2', plus(T0, -10), 'high');
      const high1 = await mk('high1', plus(T0, -20), 'high');
      const normal = await mk('normal', T0, 'normal');
      await mk('future', plus(T0, 1)); // not due
      const pending = await orrery.listPending('load-git', { at: T0 });
      const expected = [high1.id, high2.id, normal.id, low.id, none.id, late.id];
      expect(pending.map((t) => t.id)).toEqual(expected);
      const runs = await orrery.scheduleDue({ at: T0 });
      expect(runs.map((r) => r.task)).toEqual(expected);
      for (const r of runs) expect(r).toMatchObject({ status: 'scheduled', scheduled: T0, attempt: 1, started: null, worker: null });
      const tasks = await Promise.all(expected.map((id) => orrery.getTask(id)));
      expect(tasks.every((t) => t!.status === 'next_run_scheduled')).toBe(true);
      expect(await orrery.scheduleDue({ at: T0 })).toEqual([]);
      expect((await orrery.store.nextDueAt())!.toISOString()).toBe(plus(T0, 1).toISOString());
    });

    it('backend ids begin with the run\'s instant in milliseconds (version-7 layout), the same on both stores; before 1970 with 0', async () => {
      const { orrery } = await setup([{ name: 'job' }]);
      const prefix = (id: string) => id.slice(0, 8) + id.slice(9, 13);
      const at = new Date('2026-03-04T05:06:07.089Z');
      await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['now'], kwargs: {} } }, { at });
      const [run] = await orrery.scheduleDue({ at });
      expect(prefix(run!.backendId)).toBe(at.getTime().toString(16).padStart(12, '0'));
      expect(run!.backendId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      // An instant before 1970 has no place in the layout: 0, not a negative number's digits (they sorted after every later run on PostgreSQL).
      const old = new Date('0000-06-01T00:00:00Z');
      await orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: new Date('0000-01-01T00:00:00Z'), arguments: { args: ['old'], kwargs: {} } }, { at: T0 });
      const [early] = await orrery.scheduleDue({ at: old });
      expect(prefix(early!.backendId)).toBe('000000000000');
    });

    it('typesDue names the types (not paused) with a task (not paused) due by the instant, in one read', async () => {
      const { orrery } = await setup(['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, defaultIntervalMs: '1h' })));
      await orrery.createTask({ type: 'a', arguments: args('a'), nextRun: plus(T0, -1) });
      await orrery.createTask({ type: 'b', arguments: args('b'), nextRun: plus(T0, 1) }); // not due yet
      await orrery.createTask({ type: 'c', arguments: args('c'), nextRun: T0, priority: 'low' });
      const paused = await orrery.createTask({ type: 'd', arguments: args('d'), nextRun: T0 });
      await orrery.pauseTask(paused.id, { at: T0 });
      await orrery.createTask({ type: 'e', arguments: args('e'), nextRun: T0 });
      await orrery.pauseTaskType('e', { at: T0 });
      expect(await orrery.store.typesDue(T0)).toEqual(['a', 'c']);
      expect(await orrery.store.typesDue(plus(T0, 1))).toEqual(['a', 'b', 'c']);
      // A pass schedules the due types only, as before.
      expect((await orrery.scheduleDue({ at: T0 })).map((r) => r.type).sort()).toEqual(['a', 'c']);
      expect(await orrery.store.typesDue(T0)).toEqual([]);
    });

    it('fills only free queue slots: maxQueueLength counts runs waiting, not running', async () => {
      const { orrery } = await setup([{ name: 'q', defaultIntervalMs: '1h', maxQueueLength: 2 }]);
      await orrery.createTasks(Array.from({ length: 5 }, (_, i) => ({ type: 'q', arguments: args(`u${i}`) })));
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(2);
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(0);
      await claimStarted(orrery, { worker: 'w', types: ['q'], limit: 1, at: T0, due: false });
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(1);
      await claimStarted(orrery, { worker: 'w', types: ['q'], limit: 5, at: T0, due: false });
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(2);
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(0);
    });

    it('with a refill threshold, a queue that still holds runs waits until enough slots are free', async () => {
      const { orrery } = await setup([{ name: 'q', defaultIntervalMs: '1h', maxQueueLength: 10 }]);
      await orrery.createTasks(Array.from({ length: 30 }, (_, i) => ({ type: 'q', arguments: args(`u${i}`) })));
      expect(await orrery.scheduleDue({ at: T0, refillFraction: 0.2 })).toHaveLength(10); // empty queue: filled
      await claimStarted(orrery, { worker: 'w', types: ['q'], limit: 1, at: T0 });
      expect(await orrery.scheduleDue({ at: T0, refillFraction: 0.2 })).toHaveLength(0); // 1 free < 2
      expect(await orrery.store.scheduleDue('q', T0)).toHaveLength(1); // without a threshold: every free slot
      await claimStarted(orrery, { worker: 'w', types: ['q'], limit: 2, at: T0 });
      expect(await orrery.scheduleDue({ at: T0, refillFraction: 0.2 })).toHaveLength(2);
      await claimStarted(orrery, { worker: 'w', types: ['q'], limit: 10, at: T0 });
      expect(await orrery.scheduleDue({ at: T0, refillFraction: 0.5 })).toHaveLength(10);
    });

    it('an unbounded queue (null) schedules every due task', async () => {
      const { orrery } = await setup([{ name: 'u', defaultIntervalMs: '1h', maxQueueLength: null }]);
      await orrery.createTasks(Array.from({ length: 2500 }, (_, i) => ({ type: 'u', arguments: args(`u${i}`) })));
      // One pass fills every free slot (SPEC §2.2), in batches of 1,000 (before: 1,000 per pass).
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(2500);
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(0);
    });

    it('a bounded queue larger than a batch is filled in one pass; the runner daemon takes a batch per pass', async () => {
      const { orrery } = await setup([{ name: 'b', defaultIntervalMs: '1h', maxQueueLength: 1500 }]);
      await orrery.createTasks(Array.from({ length: 2200 }, (_, i) => ({ type: 'b', arguments: args(`u${i}`) })));
      expect(await orrery.scheduleDue({ at: T0, fill: false })).toHaveLength(1000);
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(500);
      await claimStarted(orrery, { worker: 'w', types: ['b'], limit: 1000, at: T0, due: false });
      expect(await orrery.scheduleDue({ at: T0 })).toHaveLength(700);
    });

    it('a maxQueueLength of 0 pauses the type', async () => {
      const { orrery } = await setup([{ name: 'paused', defaultIntervalMs: '1h', maxQueueLength: 0 }]);
      await orrery.createTask({ type: 'paused', arguments: args('a') });
      expect(await orrery.scheduleDue({ at: plus(T0, HOUR) })).toHaveLength(0);
    });

    it('two runners on the same database never schedule a task twice', async () => {
      const { orrery, another } = await setup();
      const second = await another();
      await orrery.createTasks(Array.from({ length: 300 }, (_, i) => ({ type: 'load-git', arguments: args(`u${i}`) })));
      const passes = await Promise.all([0, 1, 2, 3].map((i) => (i % 2 ? orrery : second).scheduleDue({ at: T0 })));
      const taskIds = passes.flat().map((r) => r.task);
      expect(taskIds).toHaveLength(300);
      expect(new Set(taskIds).size).toBe(300);
    });
  });
}
