import { describe, expect, it } from 'vitest';
import type { StoreUnderTest } from './describe-store.js';
import { LOAD_GIT, T0, plus, useOrrery, claimStarted } from './fixtures.js';

const args = (url: string) => ({ args: [url], kwargs: {} });
const MIN = 60_000;

export function dashboardStatsCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('dashboard stats: run rates and workers', () => {
    it('counts ended runs per type, status and minute of the window, and lists workers with their last heartbeat', async () => {
      const { orrery } = await setup([LOAD_GIT, { name: 'other', defaultIntervalMs: '1h' }]);
      await orrery.createTasks(['a', 'b', 'c'].map((u) => ({ type: 'load-git', arguments: args(u) })));
      await orrery.createTask({ type: 'other', arguments: args('o') });
      await orrery.scheduleDue({ at: T0 });
      const w1 = await claimStarted(orrery, { worker: 'w1', types: ['load-git'], limit: 3, at: plus(T0, 1000) });
      expect(w1).toHaveLength(3);
      await orrery.endRun(w1[0]!.run.backendId, { status: 'eventful', worker: 'w1', at: plus(T0, 30_000) });
      await orrery.endRun(w1[1]!.run.backendId, { status: 'failed', worker: 'w1', at: plus(T0, 90_000) });
      await orrery.heartbeat(w1[2]!.run.backendId, { worker: 'w1', at: plus(T0, 100_000) });
      const [w2] = await claimStarted(orrery, { worker: 'w2', types: ['other'], limit: 1, at: plus(T0, 2 * MIN) });
      await orrery.endRun(w2!.run.backendId, { status: 'uneventful', worker: 'w2', at: plus(T0, 2 * MIN + 5000) });

      expect(await orrery.store.runRates(T0, plus(T0, 5 * MIN))).toEqual([
        { type: 'load-git', status: 'eventful', minute: T0, count: 1 },
        { type: 'load-git', status: 'failed', minute: plus(T0, MIN), count: 1 },
        { type: 'other', status: 'uneventful', minute: plus(T0, 2 * MIN), count: 1 },
      ]);
      // The window is [since, at): runs that ended before or at its end are left out.
      expect(await orrery.store.runRates(plus(T0, MIN), plus(T0, 2 * MIN))).toEqual([{ type: 'load-git', status: 'failed', minute: plus(T0, MIN), count: 1 }]);

      expect(await orrery.store.workerActivity(T0, plus(T0, 5 * MIN))).toEqual([
        { worker: 'w1', running: 1, lastHeartbeat: plus(T0, 100_000), lastEnded: plus(T0, 90_000), ended: 2 },
        { worker: 'w2', running: 0, lastHeartbeat: null, lastEnded: plus(T0, 2 * MIN + 5000), ended: 1 },
      ]);
      // Outside the window, a worker is known only by the runs it holds.
      expect(await orrery.store.workerActivity(plus(T0, 3 * MIN), plus(T0, 5 * MIN))).toEqual([
        { worker: 'w1', running: 1, lastHeartbeat: plus(T0, 100_000), lastEnded: null, ended: 0 },
      ]);
    });

    it("the service's window ends at the next minute boundary after its instant: a run ended at that instant counts, also on a boundary (alerts audit)", async () => {
      const { orrery } = await setup([LOAD_GIT]);
      await orrery.createTask({ type: 'load-git', arguments: args('a') });
      await orrery.scheduleDue({ at: T0 });
      const [c] = await claimStarted(orrery, { worker: 'w', types: ['load-git'], limit: 1, at: T0 });
      const end = plus(T0, 2 * MIN); // on a minute boundary
      await orrery.endRun(c!.run.backendId, { status: 'eventful', worker: 'w', at: end });
      const onIt = await orrery.runRates({ at: end, minutes: 1 });
      expect([onIt.since, onIt.at]).toEqual([end, plus(end, MIN)]);
      expect(onIt.rates).toEqual([{ type: 'load-git', status: 'eventful', minute: end, count: 1 }]);
      // Within the minute: the same window.
      expect((await orrery.runRates({ at: plus(end, 59_999), minutes: 1 })).at).toEqual(plus(end, MIN));
    });

    it("a lease from before the type's leaseMs was lowered reads as renewed at the instant asked about at the latest, never after it (http audit)", async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, leaseMs: '10m' }]);
      await orrery.createTask({ type: 'load-git', arguments: args('a') });
      await orrery.scheduleDue({ at: T0 });
      await claimStarted(orrery, { worker: 'w', types: ['load-git'], limit: 1, at: T0 });
      await orrery.updateTaskType('load-git', { leaseMs: 1000 }, { at: plus(T0, 1000) });
      // Its expiry (T0 + 10 min) minus the new lease was T0 + 9m59s: ten minutes ahead of the instant asked about.
      expect(await orrery.store.workerActivity(T0, plus(T0, 30_000))).toEqual([{ worker: 'w', running: 1, lastHeartbeat: plus(T0, 30_000), lastEnded: null, ended: 0 }]);
    });

    it('ignores runs that ended lost (reaped leases are no sign of life) in the worker list', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, leaseMs: '1s' }]);
      await orrery.createTask({ type: 'load-git', arguments: args('a') });
      await orrery.scheduleDue({ at: T0 });
      await claimStarted(orrery, { worker: 'gone', types: ['load-git'], limit: 1, at: T0 });
      await orrery.reapExpired({ at: plus(T0, 10_000) });
      expect(await orrery.store.workerActivity(T0, plus(T0, MIN))).toEqual([]);
      expect(await orrery.store.runRates(T0, plus(T0, MIN))).toEqual([{ type: 'load-git', status: 'lost', minute: T0, count: 1 }]);
    });

    it('series: runs ended per bucket and status over a range, with start latency mean, p95 and max; of one type or all', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, numRetries: 0 }, { name: 'other', defaultIntervalMs: '1h' }]);
      // 20 load-git runs scheduled at T0 and started 1 s, 2 s, ... 20 s later; ended in two minutes.
      await orrery.createTasks(Array.from({ length: 20 }, (_, i) => ({ type: 'load-git', arguments: args(`u${i}`) })));
      await orrery.createTask({ type: 'other', arguments: args('o') });
      await orrery.scheduleDue({ at: T0 });
      for (let i = 1; i <= 20; i++) {
        const [c] = await claimStarted(orrery, { worker: 'w', types: ['load-git'], limit: 1, at: plus(T0, i * 1000) });
        await orrery.endRun(c!.run.backendId, { status: i % 5 === 0 ? 'failed' : 'eventful', worker: 'w', at: plus(T0, (i <= 10 ? 30 : 90) * 1000) });
      }
      const [o] = await claimStarted(orrery, { worker: 'w', types: ['other'], limit: 1, at: plus(T0, 100) });
      await orrery.endRun(o!.run.backendId, { status: 'uneventful', worker: 'w', at: plus(T0, 2 * MIN) });
      // A waiting run cancelled before it started: ended (lost), without a latency.
      const [late] = await orrery.createTasks([{ type: 'other', arguments: args('never'), policy: 'oneshot' }]);
      const [waiting] = await orrery.scheduleDue({ type: 'other', at: plus(T0, 2 * MIN) });
      expect(waiting!.task).toBe(late!.id);
      await orrery.cancelRun(waiting!.backendId, { at: plus(T0, 2 * MIN + 1000) });

      const buckets = await orrery.store.runSeries({ since: T0, until: plus(T0, 5 * MIN), bucketMs: MIN, type: null });
      expect(buckets).toEqual([
        // latencies 1..10 s: mean 5.5 s, p95 = 10th of 10 (nearest rank ⌈9.5⌉)
        { at: T0, ended: { eventful: 8, failed: 2 }, started: 10, latencyMeanMs: 5500, latencyP95Ms: 10_000, latencyMaxMs: 10_000 },
        { at: plus(T0, MIN), ended: { eventful: 8, failed: 2 }, started: 10, latencyMeanMs: 15_500, latencyP95Ms: 20_000, latencyMaxMs: 20_000 },
        { at: plus(T0, 2 * MIN), ended: { uneventful: 1, lost: 1 }, started: 1, latencyMeanMs: 100, latencyP95Ms: 100, latencyMaxMs: 100 },
      ]);
      // One type; the window is [since, until).
      expect(await orrery.store.runSeries({ since: T0, until: plus(T0, MIN), bucketMs: 30_000, type: 'load-git' })).toEqual([
        { at: plus(T0, 30_000), ended: { eventful: 8, failed: 2 }, started: 10, latencyMeanMs: 5500, latencyP95Ms: 10_000, latencyMaxMs: 10_000 },
      ]);
      expect(await orrery.store.runSeries({ since: T0, until: plus(T0, 5 * MIN), bucketMs: MIN, type: 'nope' })).toEqual([]);

      // The service fills every bucket of the range, zeros included.
      const series = await orrery.runSeries({ range: '1h', at: plus(T0, 2 * MIN + 5000) });
      expect(series).toMatchObject({ range: '1h', since: plus(T0, 3 * MIN - 60 * MIN), until: plus(T0, 3 * MIN), bucketMs: MIN, type: null });
      expect(series.points).toHaveLength(60);
      expect(series.points.slice(-3).map((p) => p.ended)).toEqual([
        { eventful: 8, uneventful: 0, failed: 2, permfailed: 0, lost: 0 },
        { eventful: 8, uneventful: 0, failed: 2, permfailed: 0, lost: 0 },
        { eventful: 0, uneventful: 1, failed: 0, permfailed: 0, lost: 1 },
      ]);
      expect(series.points[0]).toEqual({ at: series.since, ended: { eventful: 0, uneventful: 0, failed: 0, permfailed: 0, lost: 0 }, started: 0, latencyMeanMs: null, latencyP95Ms: null, latencyMaxMs: null });
      expect((await orrery.runSeries({ range: '7d', type: 'other', at: plus(T0, 2 * MIN) })).points).toHaveLength(168);
      await expect(orrery.runSeries({ range: '2h' })).rejects.toThrow(/range: must be one of 1h, 24h, 7d/);
      await expect(orrery.runSeries({ type: 'nope' })).rejects.toThrow(/unknown task type "nope"/);
    });
  });
}
