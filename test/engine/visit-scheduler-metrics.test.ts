import { describe, expect, it } from 'vitest';
import { VisitScheduler } from '../../src/engine/visit-scheduler.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('VisitScheduler: periodic visit metrics', () => {
  const setup = useTempOrrery();

  it('updates the metrics on its first pass and then every metricsEveryMs, appending to their history', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'git' });
    const l = await orrery.visits.getOrCreateLister('forge');
    await orrery.visits.recordListedOrigins([{ listerId: l.id, url: 'https://forge/1', visitType: 'git' }]);
    const loop = new VisitScheduler(orrery, { queues: [{ visitType: 'git', size: 1 }], maxSleepMs: 20, metricsEveryMs: 100 });
    onCleanup(() => loop.stop());
    loop.start();
    const points = await waitFor(async () => {
      const [s] = await orrery.visits.getMetricsHistory();
      return s && s.points.length >= 3 ? s.points : null;
    }, 'three metrics points', 10_000, 20);
    expect(points[0]).toMatchObject({ originsKnown: 1, originsEnabled: 1 });
    // at most one point per interval
    for (let i = 1; i < points.length; i++) expect(points[i]!.at.getTime() - points[i - 1]!.at.getTime()).toBeGreaterThanOrEqual(100);
    await loop.stop();
    // runOnce (what --once prints) leaves the metrics alone; 0 turns the periodic update off
    const before = (await orrery.visits.getMetricsHistory())[0]!.points.length;
    await new VisitScheduler(orrery, { queues: [{ visitType: 'git' }] }).runOnce();
    const off = new VisitScheduler(orrery, { queues: [{ visitType: 'git' }], maxSleepMs: 10, metricsEveryMs: 0 });
    off.start();
    await new Promise((r) => setTimeout(r, 100));
    await off.stop();
    expect((await orrery.visits.getMetricsHistory())[0]!.points).toHaveLength(before);
    expect(() => new VisitScheduler(orrery, { queues: [{ visitType: 'git' }], metricsEveryMs: -1 })).toThrow(/metricsEveryMs/);
  });
});
