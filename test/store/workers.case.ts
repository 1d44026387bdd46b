import { describe, expect, it } from 'vitest';
import { NotFoundError, ValidationError } from '../../src/core/errors.js';
import { WORKER_KEEP_MS } from '../../src/core/worker-registry.js';
import type { StoreUnderTest } from './describe-store.js';
import { T0, claimStarted, plus, useOrrery } from './fixtures.js';

const info = (id: string, types: string[] = ['mail'], extra: Record<string, unknown> = {}) => ({ id, host: 'vm-1', pid: 4242, types, concurrency: 4, ...extra });
const MIN = 60_000;

/** Issue 18: the worker registry (docs/operations.md#workers): registrations, refreshes, stops, the prune rule and the listing. */
export function workerRegistryCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('the worker registry', () => {
    it('registers, refreshes (keeping its start), stops, and a stopped id that registers again starts anew; seen by every process', async () => {
      const { orrery, another } = await setup([{ name: 'mail' }]);
      const other = await another();
      expect(await orrery.registerWorker(info('w1', ['mail', 'sms', 'mail']), { at: T0 })).toEqual({ ...info('w1', ['mail', 'sms']), startedAt: T0, lastSeen: T0, stoppedAt: null });
      const refreshed = await other.registerWorker(info('w1', ['mail'], { concurrency: 8 }), { at: plus(T0, 10_000) });
      expect(refreshed).toMatchObject({ types: ['mail'], concurrency: 8, startedAt: T0, lastSeen: plus(T0, 10_000), stoppedAt: null });

      const stopped = await other.stopWorker('w1', { at: plus(T0, 15_000) });
      expect(stopped).toMatchObject({ startedAt: T0, lastSeen: plus(T0, 15_000), stoppedAt: plus(T0, 15_000) });
      const [view] = await orrery.listWorkers({ at: plus(T0, 20_000) });
      expect(view).toMatchObject({ worker: 'w1', registered: true, liveness: 'stopped', running: 0, host: 'vm-1', pid: 4242, types: ['mail'], concurrency: 8, startedAt: T0, stoppedAt: plus(T0, 15_000), lastSeen: plus(T0, 15_000) });

      // The same id registers again (a new process given the same --id): a new start, no longer stopped.
      expect(await orrery.registerWorker(info('w1'), { at: plus(T0, MIN) })).toMatchObject({ startedAt: plus(T0, MIN), stoppedAt: null });
      expect((await other.listWorkers({ at: plus(T0, MIN) }))[0]).toMatchObject({ liveness: 'alive', stoppedAt: null });
      // Listed at an instant before its start, it was not there yet (audit, 2026-12-05: status --at showed it alive).
      expect(await other.listWorkers({ at: plus(T0, MIN - 1) })).toEqual([]);
      // Nor by runs it ended after that instant in the same minute (status audit: listed unregistered, and alive).
      await orrery.registerWorker(info('w2'), { at: plus(T0, 2 * MIN + 30_000) });
      await orrery.createTasks([{ type: 'mail', policy: 'oneshot' as const }], { at: T0 });
      const [r] = await orrery.scheduleDue({ at: plus(T0, 2 * MIN + 30_000) });
      await orrery.startRun(r!.backendId, { worker: 'w2', at: plus(T0, 2 * MIN + 35_000) });
      await orrery.endRun(r!.backendId, { status: 'eventful', worker: 'w2', at: plus(T0, 2 * MIN + 40_000) });
      expect((await other.listWorkers({ at: plus(T0, 2 * MIN + 20_000) })).map((w) => w.worker)).toEqual(['w1']);
      await expect(orrery.stopWorker('nobody')).rejects.toBeInstanceOf(NotFoundError);
      await expect(orrery.stopWorker('')).rejects.toBeInstanceOf(ValidationError);
    });

    it('the last `minutes` run back from the instant itself: a worker seen just before a minute boundary is listed after it; judged at an instant before its stop, it was running', async () => {
      const { orrery } = await setup([{ name: 'mail' }]);
      const boundary = new Date(Math.ceil(T0.getTime() / MIN) * MIN + MIN);
      await orrery.registerWorker(info('w1'), { at: new Date(boundary.getTime() - 2_000) });
      // Before: the window began a minute before the next boundary, so 2 s after its refresh it was gone from the list.
      expect((await orrery.listWorkers({ at: boundary, minutes: 1 })).map((w) => [w.worker, w.liveness])).toEqual([['w1', 'alive']]);
      expect(await orrery.listWorkers({ at: new Date(boundary.getTime() + MIN - 1_000), minutes: 1 })).toEqual([]);
      // A graceful stop later than the instant judged: it was running then (it said stopped).
      await orrery.stopWorker('w1', { at: new Date(boundary.getTime() + 30 * MIN) });
      expect((await orrery.listWorkers({ at: boundary, minutes: 1 })).map((w) => [w.worker, w.liveness])).toEqual([['w1', 'alive']]);
    });

    it('refuses a bad description naming the field, and stores nothing', async () => {
      const { orrery } = await setup([]);
      for (const [bad, message] of [
        [info(''), /^id: /],
        [info('w', ['mail'], { pid: 1.5 }), /^pid: /],
        [info('w', ['mail'], { concurrency: 0 }), /^concurrency: /],
        [info('w', ['a\u0000b']), /^types\[0\]: /],
        [info('w', ['mail'], { extra: true }), /^extra: unknown field/],
      ] as const) {
        await expect(orrery.registerWorker(bad as never)).rejects.toThrow(message);
      }
      expect(await orrery.listWorkers()).toEqual([]);
    });

    it('lists idle registered workers with the workers the runs name: alive first, then stale, gone and stopped', async () => {
      const { orrery } = await setup([{ name: 'mail', defaultIntervalMs: '1h' }]);
      await orrery.registerWorker(info('idle'), { at: plus(T0, 9 * MIN) });
      await orrery.registerWorker(info('quiet'), { at: plus(T0, 8 * MIN) });
      await orrery.registerWorker(info('old'), { at: plus(T0, 2 * MIN) });
      await orrery.registerWorker(info('done'), { at: plus(T0, MIN) });
      await orrery.stopWorker('done', { at: plus(T0, 2 * MIN) });
      // A worker that keeps no registry row, known by the run it holds.
      await orrery.createTask({ type: 'mail', arguments: { args: [], kwargs: {} } }, { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      await claimStarted(orrery, { worker: 'external', types: ['mail'], limit: 1, at: plus(T0, 9 * MIN) });

      const views = await orrery.listWorkers({ at: plus(T0, 9 * MIN + 10_000) });
      expect(views.map((w) => [w.worker, w.liveness, w.registered, w.running])).toEqual([
        ['external', 'alive', false, 1],
        ['idle', 'alive', true, 0],
        ['quiet', 'stale', true, 0],
        ['old', 'gone', true, 0],
        ['done', 'stopped', true, 0],
      ]);
      expect(views[0]).toMatchObject({ host: null, pid: null, types: null, concurrency: null, startedAt: null, stoppedAt: null });
      // The window: registered workers seen within it (or holding runs).
      expect((await orrery.listWorkers({ at: plus(T0, 9 * MIN + 10_000), minutes: 5 })).map((w) => w.worker)).toEqual(['external', 'idle', 'quiet']);
    });

    it('lists workers of one liveness, and the types each handles, in code point order, as every listing by name (docs/postgres.md)', async () => {
      const { orrery } = await setup([]);
      // UTF-16 order put the emoji (two surrogates) before U+FF5A.
      for (const id of ['zz-😀', 'zz-ｚ', 'zz-a', 'zz-Z']) await orrery.registerWorker(info(id, ['t-😀', 't-ｚ', 't-a']), { at: T0 });
      const views = await orrery.listWorkers({ at: plus(T0, 1_000) });
      expect(views.map((w) => w.worker)).toEqual(['zz-Z', 'zz-a', 'zz-ｚ', 'zz-😀']);
      expect(views[0]!.types).toEqual(['t-a', 't-ｚ', 't-😀']);
    });

    it(`a worker that starts deletes the rows last seen more than ${WORKER_KEEP_MS / 86_400_000} days before; a refresh does not`, async () => {
      const { orrery } = await setup([]);
      await orrery.registerWorker(info('ancient'), { at: T0 });
      await orrery.registerWorker(info('recent'), { at: plus(T0, 2 * 86_400_000) });
      await orrery.registerWorker(info('recent'), { at: plus(T0, WORKER_KEEP_MS + 1) }); // a refresh: nothing pruned
      const all = async () => (await orrery.store.workers.listWorkers(new Date(0))).map((w) => w.id);
      expect(await all()).toEqual(['ancient', 'recent']);
      await orrery.registerWorker(info('new'), { at: plus(T0, WORKER_KEEP_MS + 1) });
      expect(await all()).toEqual(['new', 'recent']);
    });

    it('"why": an idle registered worker handling the type counts as live; a stopped one does not, and is named', async () => {
      const { orrery } = await setup([{ name: 'mail' }, { name: 'sms' }]);
      const task = await orrery.createTask({ type: 'mail', policy: 'oneshot', arguments: { args: [], kwargs: {} } }, { at: T0 });
      await orrery.registerWorker(info('sms-only', ['sms']), { at: T0 });
      const gate = async (at: Date) => (await orrery.whyTask(task.id, { at })).gates.find((g) => g.gate === 'workers')!;
      expect(await gate(T0)).toMatchObject({ verdict: 'hold' });
      await orrery.registerWorker(info('w1', ['mail']), { at: T0 });
      expect(await gate(plus(T0, 4 * MIN))).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/: w1$/) });
      // Not refreshed for more than 5 minutes: gone, no longer counted.
      expect(await gate(plus(T0, 6 * MIN))).toMatchObject({ verdict: 'hold' });
      await orrery.registerWorker(info('w1', ['mail']), { at: plus(T0, 6 * MIN) });
      await orrery.stopWorker('w1', { at: plus(T0, 7 * MIN) });
      expect(await gate(plus(T0, 7 * MIN))).toMatchObject({ verdict: 'hold', detail: expect.stringMatching(/\(stopped: w1 at 2026-01-01T00:07:00.000Z\)/) });
      // A worker the runs name is not counted once it stopped after its last run.
      await orrery.registerWorker(info('w2', []), { at: plus(T0, 7 * MIN) });
      const other = await orrery.createTask({ type: 'mail', policy: 'oneshot', arguments: { args: [2], kwargs: {} } }, { at: T0 });
      await orrery.scheduleDue({ at: plus(T0, 7 * MIN) });
      const [held] = await claimStarted(orrery, { worker: 'w2', types: ['mail'], limit: 1, at: plus(T0, 7 * MIN) });
      await orrery.endRun(held!.run.backendId, { status: 'eventful', worker: 'w2', at: plus(T0, 7 * MIN + 1000) });
      const still = held!.run.task === other.id ? task : other;
      expect((await orrery.whyTask(still.id, { at: plus(T0, 7 * MIN + 2000) })).gates.find((g) => g.gate === 'workers')).toMatchObject({ verdict: 'pass', detail: expect.stringMatching(/w2/) });
      await orrery.stopWorker('w2', { at: plus(T0, 7 * MIN + 3000) });
      expect((await orrery.whyTask(still.id, { at: plus(T0, 7 * MIN + 4000) })).gates.find((g) => g.gate === 'workers')).toMatchObject({ verdict: 'hold' });
    });
  });
}
