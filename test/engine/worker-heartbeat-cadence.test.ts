/**
 * A worker renews the leases it holds every third of the shortest lease it has claimed (docs/guide.md,
 * step 3 of a run's life), on virtual time: a 5-minute lease is renewed every 100 s, not every 10 s;
 * once a run with a 30 s lease is claimed, every 10 s. A claim made while the worker held nothing
 * counts as a renewal of what it then holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const MIN = 60_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('heartbeat cadence', () => {
  it('follows the shortest lease claimed: every 100 s for 5-minute leases, every 10 s once a 30 s lease is held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-cadence-'));
    const clock = new VirtualClock(T0);
    const orrery = await openOrrery({ db: `sqlite:${join(dir, 'orrery.db')}`, clock });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => orrery.close());
    await orrery.createTaskType({ name: 'long', leaseMs: '5m' });
    await orrery.createTaskType({ name: 'short', leaseMs: '30s' });
    const beats: number[] = [];
    const heartbeatRuns = orrery.heartbeatRuns.bind(orrery);
    orrery.heartbeatRuns = (o) => (beats.push(clock.now().getTime() - T0.getTime()), heartbeatRuns(o));
    const sleep = async ({ signal }: { signal: AbortSignal }) => (await clock.sleep(20 * MIN, signal), false);
    const worker = new Worker(orrery, { handlers: { long: sleep, short: sleep }, id: 'w', concurrency: 2, clock });
    worker.start();
    // Stopping aborts the sleeping handlers; their ends are written while virtual time moves on.
    cleanups.push(async () => {
      const stopped = worker.stop(0);
      await clock.advance(MIN);
      await stopped;
    });
    await orrery.createTask({ type: 'long', policy: 'oneshot', arguments: { args: [], kwargs: {} } });

    await clock.advance(10 * MIN);
    // Claimed at once into a free slot: the claim set the lease, so the first renewal is 100 s later.
    expect(beats.length).toBeGreaterThanOrEqual(5);
    expect(beats.length).toBeLessThanOrEqual(6);
    expect(beats[0]).toBeGreaterThanOrEqual(90_000);
    for (let i = 1; i < beats.length; i++) expect(beats[i]! - beats[i - 1]!).toBeGreaterThanOrEqual(90_000);
    for (let i = 1; i < beats.length; i++) expect(beats[i]! - beats[i - 1]!).toBeLessThanOrEqual(100_000);
    const run = (await orrery.searchRuns({ limit: 1 })).runs[0]!;
    expect(run.leaseExpiresAt!.getTime() - clock.now().getTime()).toBeGreaterThan(3 * MIN);

    beats.length = 0;
    await orrery.createTask({ type: 'short', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    await clock.advance(2 * MIN);
    expect(beats.length).toBeGreaterThanOrEqual(11);
    for (let i = 1; i < beats.length; i++) expect(beats[i]! - beats[i - 1]!).toBeLessThanOrEqual(10_000);
    for (const r of (await orrery.searchRuns({ limit: 10 })).runs) expect(r.leaseExpiresAt!.getTime()).toBeGreaterThan(clock.now().getTime());
  });
});
