import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, HOUR, T0, at, claimOne, plus, useOrrery, claimStarted } from './fixtures.js';

const args = (url: string) => ({ args: [url], kwargs: {} });

export function taskCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('task types', () => {
    it('stores every field with its defaults', async () => {
      const { orrery } = await setup([]);
      await orrery.createTaskType({ name: 'plain' });
      expect(await orrery.getTaskType('plain')).toEqual({
        name: 'plain',
        description: '',
        backendName: 'plain',
        defaultIntervalMs: null,
        minIntervalMs: null,
        maxIntervalMs: null,
        backoffFactor: 1,
        maxQueueLength: 1000,
        numRetries: 0,
        retryDelayMs: HOUR,
        timeoutMs: null,
        leaseMs: 30_000,
        maxAbandons: 3,
        maxRunning: null,
        maxRunningPerKey: null,
        rateLimit: null,
        rateLimitPerKey: null,
        fairShare: null,
        fifoPerKey: false,
        paused: null,
        effectiveRate: null,
      });
    });

    it('rejects a duplicate name and invalid combinations, writing nothing', async () => {
      const { orrery } = await setup();
      await expect(orrery.createTaskType({ name: 'load-git' })).rejects.toBeInstanceOf(ConflictError);
      await expect(orrery.createTaskType({ name: 'x', defaultIntervalMs: '1d', minIntervalMs: '2d' })).rejects.toThrow(/minIntervalMs/);
      await expect(orrery.createTaskType({ name: 'y', backoffFactor: 0 })).rejects.toThrow(/backoffFactor/);
      await expect(orrery.createTaskType({ name: 'z', bogus: 1 } as never)).rejects.toThrow(/bogus: unknown field/);
      expect((await orrery.listTaskTypes()).map((t) => t.name)).toEqual(['load-git']);
    });
  });

  describe('task creation', () => {
    it('fills currentInterval, retriesLeft, status and nextRun from the type and the clock', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('https://a') });
      expect(t).toMatchObject({
        type: 'load-git',
        policy: 'recurring',
        schedule: { kind: 'adaptive' },
        nextRun: T0,
        currentIntervalMs: DAY,
        status: 'next_run_not_scheduled',
        disabledReason: null,
        retriesLeft: 2,
        consecutiveAbandons: 0,
        priority: null,
      });
      expect(await orrery.getTask(t.id)).toEqual(t);
    });

    it('is idempotent: an equal active task is returned, not inserted', async () => {
      const { orrery } = await setup();
      const a = await orrery.createTask({ type: 'load-git', arguments: { args: ['u'], kwargs: { x: 1, y: 2 } } });
      const b = await orrery.createTask({ type: 'load-git', arguments: { args: ['u'], kwargs: { y: 2, x: 1 } }, nextRun: plus(T0, DAY) });
      expect(b.id).toBe(a.id);
      const high = await orrery.createTask({ type: 'load-git', arguments: { args: ['u'], kwargs: { x: 1, y: 2 } }, priority: 'high' });
      expect(high.id).not.toBe(a.id);
      const once1 = await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: args('u'), nextRun: T0 });
      const once2 = await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: args('u'), nextRun: plus(T0, 1) });
      const once3 = await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: args('u'), nextRun: T0 });
      expect(once2.id).not.toBe(once1.id);
      expect(once3.id).toBe(once1.id);
      expect(await orrery.searchTasks({})).toHaveLength(4);
    });

    it('inserts again once the equal task is completed or disabled', async () => {
      const { orrery } = await setup();
      const a = await orrery.createTask({ type: 'load-git', arguments: args('u') });
      await orrery.disableTasks([a.id]);
      const b = await orrery.createTask({ type: 'load-git', arguments: args('u') });
      expect(b.id).not.toBe(a.id);
      const o = await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: args('v'), nextRun: T0 });
      const run = await claimOne(orrery, o.id, T0);
      await orrery.endRun(run.backendId, { status: 'eventful', at: plus(T0, 1000) });
      const o2 = await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: args('v'), nextRun: T0 });
      expect(o2.id).not.toBe(o.id);
    });

    it('a finished task gives its identity over to an equal task created or respawned later (held and careful ends alike)', async () => {
      const { orrery } = await setup();
      const make = () => orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: args('w'), nextRun: T0 });
      const a = await make();
      // Ended the way an in-process worker ends it (the claim's snapshot held): completed.
      const [c] = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 10, at: T0 });
      const [ended] = await orrery.endRuns([{ backendId: c!.run.backendId, status: 'uneventful', worker: 'w', at: plus(T0, 1000), startedAt: T0, ...(c!.task ? { held: { run: c!.run, task: c!.task } } : {}) }]);
      expect(ended).toMatchObject({ task: { id: a.id, status: 'completed' } });
      const b = await make();
      expect(b.id).not.toBe(a.id);
      expect((await make()).id).toBe(b.id);
      await expect(orrery.respawnTasks([a.id])).rejects.toThrow(new RegExp(`equal task ${b.id} is active`));
      // b completes by the careful path; then a can be respawned, holds its identity again, and is the equal task.
      const run = await claimOne(orrery, b.id, T0);
      await orrery.endRun(run.backendId, { status: 'eventful', at: plus(T0, 2000) });
      const [back] = await orrery.respawnTasks([a.id], { nextRun: plus(T0, HOUR) });
      expect(back).toMatchObject({ id: a.id, status: 'next_run_not_scheduled' });
      expect((await make()).id).toBe(a.id);
      expect((await orrery.createTasks([{ type: 'load-git', policy: 'oneshot', arguments: args('w'), nextRun: T0 }]))[0]!.id).toBe(a.id);
    });

    it('creates a batch in one transaction; one bad row rejects it all', async () => {
      const { orrery } = await setup();
      const good = Array.from({ length: 2000 }, (_, i) => ({ type: 'load-git', arguments: args(`https://x/${i}`) }));
      const err = await orrery.createTasks([...good, { type: 'nope' }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toBe('tasks[2000].type: unknown task type "nope"');
      const bad = await orrery
        .createTasks([...good, { type: 'load-git', policy: 'recurring', schedule: { kind: 'cron', expr: '* * *', tz: 'UTC' } }])
        .catch((e: unknown) => e);
      expect((bad as Error).message).toMatch(/^tasks\[2000\]\.schedule\.expr: invalid cron/);
      expect(await orrery.searchTasks({})).toHaveLength(0);
      const created = await orrery.createTasks([...good, good[0]!]);
      expect(created).toHaveLength(2001);
      expect(created[2000]!.id).toBe(created[0]!.id);
      expect(await orrery.searchTasks({ limit: 5000 })).toHaveLength(2000);
    });

    it('rejects schedules that do not fit the policy or the type', async () => {
      const { orrery } = await setup([{ name: 'once-only' }]);
      await expect(orrery.createTask({ type: 'once-only', arguments: args('a') })).rejects.toThrow(/policy: task type "once-only" has no defaultInterval/);
      await expect(orrery.createTask({ type: 'once-only', policy: 'oneshot', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' } })).rejects.toThrow(
        /schedule: a oneshot task runs once/,
      );
      const cron = await orrery.createTask({ type: 'once-only', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' } });
      expect(cron.nextRun.toISOString()).toBe('2026-01-01T02:00:00.000Z');
      expect(cron.currentIntervalMs).toBeNull();
    });
  });

  describe('search, disable, respawn', () => {
    it('a disabled task whose run is still held cannot be respawned (single or bulk) until that run ends: never two runs at once', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('held'), nextRun: T0 });
      const [c] = await claimStarted(orrery, { worker: 'w', types: ['load-git'], limit: 1, at: T0 });
      await orrery.disableTasks([t.id], { at: plus(T0, 1000) });
      expect((await orrery.getTask(t.id))!.status).toBe('disabled');
      await expect(orrery.respawnTasks([t.id], { at: plus(T0, 2000) })).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/still has a run held by a worker/) });
      const bulk = await orrery.bulkTasks('respawn', { ids: [t.id] }, { at: plus(T0, 2000) });
      expect(bulk).toMatchObject({ changed: 0, skipped: { active_run: 1 } });
      expect((await orrery.getTask(t.id))!.status).toBe('disabled');
      // Its worker stops it (cancelled): now it may come back.
      await orrery.endRun(c!.run.backendId, { status: 'failed', worker: 'w', error: 'cancelled', at: plus(T0, 3000) });
      const [back] = await orrery.respawnTasks([t.id], { at: plus(T0, 4000) });
      expect(back).toMatchObject({ status: 'next_run_not_scheduled', nextRun: plus(T0, 4000) });
    });

    it('a misspelt searchTasks filter is a ValidationError naming it, as findTasks refuses it, not an empty answer', async () => {
      const { orrery } = await setup();
      await orrery.createTask({ type: 'load-git', arguments: args('x') });
      for (const [filter, path] of [[{ status: 'nope' }, 'status'], [{ priority: 'urgent' }, 'priority'], [{ policy: 'sometimes' }, 'policy'], [{ disabledReason: 'bored' }, 'disabledReason'], [{ afterId: 1.5 }, 'afterId']] as const) {
        await expect(orrery.searchTasks(filter as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path }] });
      }
      expect(await orrery.searchTasks({ priority: null })).toHaveLength(1);
    });

    it('filters and paginates by id without repeats or gaps', async () => {
      const { orrery } = await setup();
      await orrery.createTasks(Array.from({ length: 25 }, (_, i) => ({ type: 'load-git', arguments: args(`u${i}`), priority: i % 5 === 0 ? ('high' as const) : null })));
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const page = await orrery.searchTasks({ afterId: after, limit: 7 });
        if (page.length === 0) break;
        seen.push(...page.map((t) => t.id));
        after = page[page.length - 1]!.id;
      }
      expect(seen).toEqual([...Array(25).keys()].map((i) => i + 1));
      expect(await orrery.searchTasks({ priority: 'high' })).toHaveLength(5);
      expect(await orrery.searchTasks({ priority: null })).toHaveLength(20);
      expect(await orrery.searchTasks({ status: 'disabled' })).toHaveLength(0);
    });

    it('disable cancels a waiting run; respawn makes the task due again with fresh retries', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('u') });
      const [run] = await orrery.scheduleDue({ at: T0 });
      const [disabled] = await orrery.disableTasks([t.id], { at: plus(T0, 5) });
      expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'manual' });
      expect(await orrery.getRun(run!.backendId)).toMatchObject({ status: 'lost', error: 'cancelled: task disabled', ended: plus(T0, 5) });
      expect(await claimStarted(orrery, { worker: 'w', types: ['load-git'], limit: 10, at: T0 })).toHaveLength(0);
      const [back] = await orrery.respawnTasks([t.id], { nextRun: at('2026-02-01T00:00:00Z') });
      expect(back).toMatchObject({ status: 'next_run_not_scheduled', disabledReason: null, retriesLeft: 2, nextRun: at('2026-02-01T00:00:00Z') });
    });

    it('respawn refuses a task with a run in flight, an unknown id, or one equal to an active task', async () => {
      const { orrery } = await setup();
      const t = await orrery.createTask({ type: 'load-git', arguments: args('u') });
      await orrery.scheduleDue({ at: T0 });
      await expect(orrery.respawnTasks([t.id])).rejects.toBeInstanceOf(ConflictError);
      await expect(orrery.disableTasks([t.id, 999])).rejects.toBeInstanceOf(NotFoundError);
      expect((await orrery.getTask(t.id))!.status).toBe('next_run_scheduled'); // the batch was rejected whole
      await orrery.disableTasks([t.id]);
      const twin = await orrery.createTask({ type: 'load-git', arguments: args('u') });
      await expect(orrery.respawnTasks([t.id])).rejects.toThrow(new RegExp(`equal task ${twin.id} is active`));
    });
  });
}
