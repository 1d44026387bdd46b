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

    it('ignores runs that ended lost (reaped leases are no sign of life) in the worker list', async () => {
      const { orrery } = await setup([{ ...LOAD_GIT, leaseMs: '1s' }]);
      await orrery.createTask({ type: 'load-git', arguments: args('a') });
      await orrery.scheduleDue({ at: T0 });
      await claimStarted(orrery, { worker: 'gone', types: ['load-git'], limit: 1, at: T0 });
      await orrery.reapExpired({ at: plus(T0, 10_000) });
      expect(await orrery.store.workerActivity(T0, plus(T0, MIN))).toEqual([]);
      expect(await orrery.store.runRates(T0, plus(T0, MIN))).toEqual([{ type: 'load-git', status: 'lost', minute: T0, count: 1 }]);
    });
  });
}
