/**
 * What a runner pass reads (docs/architecture.md, "Runner"): a pass woken by new tasks within a second
 * of the last catch-up of late tasks skips it (new tasks are never late; the timed passes still catch
 * up every time), and on PostgreSQL a runner beside its workers (one store, as in a daemon) knows
 * from their direct claims that it leaves the type to them, without reading the stored marker.
 */
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine/runner.js';
import { openOrrery } from '../../src/engine/service.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { createTestDatabase } from '../support/postgres.js';
import { useTempOrrery } from './engine-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('runner passes', () => {
  const sqlite = useTempOrrery();

  it('skip the catch-up of late tasks in a pass woken by new tasks right after one', async () => {
    const clock = new VirtualClock(T0);
    const { orrery, onCleanup } = await sqlite({ clock });
    await orrery.createTaskType({ name: 'job' });

    const catchUps: number[] = [];
    const passes: number[] = [];
    const catchUp = orrery.schedules.catchUp.bind(orrery.schedules);
    orrery.schedules.catchUp = (at) => (catchUps.push(at.getTime() - T0.getTime()), catchUp(at));
    const scheduleDue = orrery.scheduleDue.bind(orrery);
    orrery.scheduleDue = (opts) => (passes.push(clock.now().getTime() - T0.getTime()), scheduleDue(opts));

    // Tasks due in an hour: no pass schedules anything, so the passes are the first, the timed ones
    // (every 5 s here) and those woken by new tasks (20 ms after each).
    const later = new Date(T0.getTime() + 3_600_000);
    const create = (i: number) => orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: later, arguments: { args: [i], kwargs: {} } });
    const runner = new Runner(orrery, { maxSleepMs: 5_000 });
    runner.start();
    onCleanup(() => runner.stop()); // before the store closes
    await clock.advance(300);
    expect(passes).toEqual([0]);
    expect(catchUps).toEqual([0]); // the first pass catches up

    await create(1); // at 300: its pass at 320 comes 320 ms after the last catch-up, so it skips it
    await clock.advance(1_200);
    expect(passes).toEqual([0, 320]);
    expect(catchUps).toEqual([0]);

    await create(2); // at 1,500: its pass at 1,520, a second or more after the last catch-up, catches up
    await clock.advance(100);
    expect(passes).toEqual([0, 320, 1_520]);
    expect(catchUps).toEqual([0, 1_520]);

    await clock.advance(5_000); // a timed pass catches up whatever woke the runner before
    expect(passes).toEqual([0, 320, 1_520, 6_520]);
    expect(catchUps).toEqual([0, 1_520, 6_520]);
  });

  it('on PostgreSQL, leave a type its workers claim directly without reading the stored marker', async () => {
    const db = await createTestDatabase('runner_marker');
    const orrery = await openOrrery({ db: db.url });
    const other = await openOrrery({ db: db.url }); // a runner in another process: no direct claims of its own
    cleanups.push(() => db.drop());
    cleanups.push(() => orrery.close());
    cleanups.push(() => other.close());
    await orrery.createTaskType({ name: 'job' });
    await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    const claimed = await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 1 });
    expect(claimed.length).toBe(1); // claimed directly: the store recorded it

    const markerReads = (o: typeof orrery) => {
      const pool = (o.store as unknown as { pool: pg.Pool }).pool;
      const reads = { n: 0 };
      const query = pool.query.bind(pool) as (...a: unknown[]) => unknown;
      (pool as unknown as { query: unknown }).query = (...a: unknown[]) => {
        if (typeof a[0] === 'string' && a[0].includes('last_direct_claim AS t')) reads.n += 1;
        return query(...a);
      };
      return reads;
    };
    const here = markerReads(orrery);
    const there = markerReads(other);
    await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [2], kwargs: {} } });
    expect(await orrery.scheduleDue({ graceMs: 1000 })).toEqual([]); // left to the workers
    expect(here.n).toBe(0);
    expect(await other.scheduleDue({ graceMs: 1000 })).toEqual([]); // the stored marker says the same
    expect(there.n).toBe(1);
  });
});
