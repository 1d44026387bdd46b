/**
 * The reaper's pass on virtual time, on both stores: it reads the earliest lease first and writes
 * only when one has expired (docs/guarantees.md, "The reaper"). While leases are live its passes make
 * no reapExpired call (the two writes: expired claimed runs given back, expired started runs ended);
 * once the worker holding a claimed and a started run is gone and the leases pass, the next pass
 * gives the claimed run back and ends the started one lost.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { Reaper } from '../../src/engine/reaper.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { createTestDatabase } from '../support/postgres.js';
import { useTempOrrery } from './engine-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function check(orrery: Orrery, clock: VirtualClock, onCleanup: (fn: () => Promise<void>) => void): Promise<void> {
  await orrery.createTaskType({ name: 'job', leaseMs: '1m', numRetries: 2 });
  const [a, b] = await orrery.createTasks([
    { type: 'job', policy: 'oneshot', arguments: { args: [1], kwargs: {} } },
    { type: 'job', policy: 'oneshot', arguments: { args: [2], kwargs: {} } },
  ]);
  // A worker that claims both (one started, one claimed ahead) and then vanishes.
  const claimed = await orrery.claimRuns({ worker: 'gone', types: ['job'], limit: 2, startNow: 1 });
  expect(claimed.map((c) => c.run.status).sort()).toEqual(['claimed', 'started']);

  // Counted at the service: each call gives expired claimed runs back and ends expired started runs (two writes).
  const calls = { reap: 0 };
  const reapExpired = orrery.reapExpired.bind(orrery);
  orrery.reapExpired = (opts) => (calls.reap++, reapExpired(opts));

  const reaper = new Reaper(orrery, { maxSleepMs: 1000 });
  reaper.start();
  onCleanup(() => reaper.stop()); // before the store closes
  await clock.advance(30_000);
  expect(calls.reap).toBe(0); // 30 passes, every lease still live: nothing written

  await clock.advance(40_000); // the leases expired at T0 + 60 s
  expect(calls.reap).toBeGreaterThanOrEqual(1);
  const byTask = new Map<number, string[]>();
  for (const t of [a!, b!]) byTask.set(t.id, (await orrery.listRuns(t.id)).map((r) => r.status));
  const started = claimed.find((c) => c.run.status === 'started')!;
  const ahead = claimed.find((c) => c.run.status === 'claimed')!;
  // The started run is lost (its task scheduled again); the claimed one is back in the queue, no retry used.
  expect(byTask.get(started.run.task)![0]).toBe('lost');
  expect(byTask.get(ahead.run.task)).toEqual(['scheduled']);
  expect((await orrery.getTask(ahead.run.task))!.retriesLeft).toBe(2);

  const settled = { ...calls };
  await clock.advance(30_000);
  expect(calls).toEqual(settled); // nothing held any more: reads only
}

describe('the reaper pass', () => {
  const sqlite = useTempOrrery();

  it('writes nothing while leases are live, and reaps once they expire (SQLite)', async () => {
    const clock = new VirtualClock(T0);
    const { orrery, onCleanup } = await sqlite({ clock });
    await check(orrery, clock, onCleanup);
  });

  it('writes nothing while leases are live, and reaps once they expire (PostgreSQL)', async () => {
    const db = await createTestDatabase('reaper_pass');
    const clock = new VirtualClock(T0);
    const orrery = await openOrrery({ db: db.url, clock });
    cleanups.push(() => db.drop());
    cleanups.push(() => orrery.close());
    await check(orrery, clock, (fn) => cleanups.push(fn));
  });
});
