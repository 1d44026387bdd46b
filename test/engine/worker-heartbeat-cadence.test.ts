/**
 * A worker renews the leases it holds every third of the shortest lease it has claimed (docs/guide.md,
 * step 3 of a run's life), on virtual time: a 5-minute lease is renewed every 100 s, not every 10 s;
 * once a run with a 30 s lease is claimed, every 10 s. A claim made while the worker held nothing
 * counts as a renewal of what it then holds. Its one timer ticks for those renewals and start marks
 * only (docs/architecture.md, one timer per worker), and its summary line comes with the first end
 * 10 s or more after the last line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';
import { StorageUnavailableError } from '../../src/core/errors.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const MIN = 60_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An Orrery on a SQLite file and a virtual clock, with a 5-minute-lease type `long` and `second` (a type of its own). */
async function setup(second: { name: string; leaseMs: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-cadence-'));
  const clock = new VirtualClock(T0);
  const orrery = await openOrrery({ db: `sqlite:${join(dir, 'orrery.db')}`, clock });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => orrery.close());
  await orrery.createTaskType({ name: 'long', leaseMs: '5m' });
  await orrery.createTaskType(second);
  return { clock, orrery };
}

/** Stops the worker at cleanup: its sleeping handlers are aborted, their ends written while virtual time moves on. */
function stopAtCleanup(worker: Worker, clock: VirtualClock): void {
  cleanups.push(async () => {
    const stopped = worker.stop(0);
    await clock.advance(MIN);
    await stopped;
  });
}

describe('heartbeat cadence', () => {
  it('follows the shortest lease claimed: every 100 s for 5-minute leases, every 10 s once a 30 s lease is held', async () => {
    const { clock, orrery } = await setup({ name: 'short', leaseMs: '30s' });
    const beats: number[] = [];
    const heartbeatRuns = orrery.heartbeatRuns.bind(orrery);
    orrery.heartbeatRuns = (o) => (beats.push(clock.now().getTime() - T0.getTime()), heartbeatRuns(o));
    const sleep = async ({ signal }: { signal: AbortSignal }) => (await clock.sleep(20 * MIN, signal), false);
    const worker = new Worker(orrery, { handlers: { long: sleep, short: sleep }, id: 'w', concurrency: 2, clock });
    worker.start();
    stopAtCleanup(worker, clock);
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

  it('ticks at renewals only while it holds a long run, and logs its summary line with an end', async () => {
    const { clock, orrery } = await setup({ name: 'quick', leaseMs: '5m' });
    const lines: Array<{ at: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push({ at: clock.now().getTime() - T0.getTime(), msg: JSON.parse(s).msg as string }) });
    const sleeping = (ms: number) => async ({ signal }: { signal: AbortSignal }) => (await clock.sleep(ms, signal), false);
    // Polls every 30 minutes and no registry row (refreshed every 10 s): only the worker's tick and its runs' sleeps move the clock.
    const worker = new Worker(orrery, { handlers: { long: sleeping(20 * MIN), quick: sleeping(1000) }, id: 'w', concurrency: 2, clock, pollMs: 30 * MIN, logger, registry: false });
    worker.start();
    stopAtCleanup(worker, clock);
    await orrery.createTask({ type: 'long', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    await clock.advance(1000);
    const steps = clock.steps;
    await clock.advance(10 * MIN);
    // A renewal every 100 s (6 in 10 minutes) and nothing else: a tick every 10 s would make 60 steps.
    expect(clock.steps - steps).toBeGreaterThanOrEqual(5);
    expect(clock.steps - steps).toBeLessThanOrEqual(8);
    expect(lines.filter((l) => l.msg.startsWith('ended '))).toEqual([]);

    // Halfway between renewals, a quick run ends while the long one is still held: its line comes at its
    // end (the last line, or tick, was 10 s or more before), not at the next renewal.
    await clock.advance(50_000);
    const before = clock.now().getTime() - T0.getTime();
    await orrery.createTask({ type: 'quick', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    await clock.advance(5000);
    const ended = lines.filter((l) => l.msg.startsWith('ended '));
    expect(ended.map((l) => l.msg)).toEqual(['ended 1 run (1 uneventful); 1 running, 0 buffered']);
    expect(ended[0]!.at - before).toBeGreaterThanOrEqual(1000);
    expect(ended[0]!.at - before).toBeLessThan(1500);
  });

  it('logs its summary line at most every 10 s when short runs come one at a time, and owes none of them', async () => {
    const { clock, orrery } = await setup({ name: 'quick', leaseMs: '1s' });
    const lines: Array<{ at: number; msg: string; ended?: number }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push({ at: clock.now().getTime(), ...(JSON.parse(s) as { msg: string; ended?: number }) }) });
    const worker = new Worker(orrery, { handlers: { long: async () => false, quick: async ({ signal }) => (await clock.sleep(150, signal), true) }, id: 'w', concurrency: 2, clock, logger, registry: false });
    worker.start();
    stopAtCleanup(worker, clock);
    // One run at a time: each ends, and the worker holds nothing until the next comes 400 ms later.
    for (let i = 0; i < 15; i++) {
      await orrery.createTask({ type: 'quick', policy: 'oneshot', arguments: { args: [i], kwargs: {} } });
      await clock.advance(400);
    }
    await clock.advance(20_000);
    const ended = lines.filter((l) => l.msg.startsWith('ended '));
    expect(ended.length).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < ended.length; i++) expect(ended[i]!.at - ended[i - 1]!.at).toBeGreaterThanOrEqual(10_000);
    // The line owed when the last run ended came once 10 s had passed: every end is in some line.
    expect(ended.reduce((n, l) => n + l.ended!, 0)).toBe(15);
  });
  it('logs failing heartbeats once, then every 10 s with the count, and once when they succeed again (not at every 250 ms tick)', async () => {
    const { clock, orrery } = await setup({ name: 'short', leaseMs: '30s' });
    const lines: Array<{ at: number; level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push({ at: clock.now().getTime(), ...(JSON.parse(s) as { level: number; msg: string }) }) });
    let down = false;
    const heartbeatRuns = orrery.heartbeatRuns.bind(orrery);
    orrery.heartbeatRuns = (o) => (down ? Promise.reject(new StorageUnavailableError('the SQLite database is unavailable (SQLITE_BUSY)')) : heartbeatRuns(o));
    const worker = new Worker(orrery, {
      handlers: { long: async () => false, short: async ({ signal }) => (await clock.sleep(20 * MIN, signal), false) },
      id: 'w', concurrency: 1, clock, logger, registry: false, pollMs: 30 * MIN,
    });
    // Two runs in one claim: the first starts at the claim and ends at once; the second begins from the
    // buffer, so its start is marked by the next heartbeat, which the tick (every 250 ms) sends until one succeeds.
    await orrery.createTask({ type: 'long', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    await orrery.createTask({ type: 'short', policy: 'oneshot', arguments: { args: [2], kwargs: {} } });
    down = true;
    worker.start();
    stopAtCleanup(worker, clock);
    await clock.advance(60_000);
    const failing = lines.filter((l) => /^heartbeat of \d+ held run\(s\)/.test(l.msg));
    expect(failing[0]!.msg).toBe('heartbeat of 1 held run(s) failed: the SQLite database is unavailable (SQLITE_BUSY)');
    expect(failing.length).toBeGreaterThanOrEqual(5); // once, then every 10 s for a minute
    expect(failing.length).toBeLessThanOrEqual(7);
    expect(failing[1]!.msg).toMatch(/^heartbeat of 1 held run\(s\) still failing after \d+ attempts over 10 s: /);
    for (let i = 1; i < failing.length; i++) expect(failing[i]!.at - failing[i - 1]!.at).toBeGreaterThanOrEqual(10_000);
    down = false;
    await clock.advance(1000);
    expect(lines.filter((l) => /^heartbeat succeeded again after \d+ failed attempts over /.test(l.msg))).toHaveLength(1);
    expect((await orrery.searchRuns({ limit: 10 })).runs.find((r) => r.status === 'started')).toBeDefined();
  });
  it('a failed renewal is tried again a tenth of the lease later: an outage of two thirds of a lease begun just after a renewal loses no lease', async () => {
    const { clock, orrery } = await setup({ name: 'short', leaseMs: '30s' });
    let down = false;
    const beats: Array<{ at: number; ok: boolean }> = [];
    const heartbeatRuns = orrery.heartbeatRuns.bind(orrery);
    orrery.heartbeatRuns = (o) => {
      beats.push({ at: clock.now().getTime(), ok: !down });
      return down ? Promise.reject(new StorageUnavailableError('the SQLite database is unavailable (SQLITE_BUSY)')) : heartbeatRuns(o);
    };
    const worker = new Worker(orrery, {
      handlers: { long: async () => false, short: async ({ signal }) => (await clock.sleep(20 * MIN, signal), false) },
      id: 'w', concurrency: 1, clock, logger: pino({ level: 'silent' }), registry: false, pollMs: 30 * MIN,
    });
    await orrery.createTask({ type: 'short', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    worker.start();
    stopAtCleanup(worker, clock);
    await clock.advance(25_000);
    const lastOk = beats.filter((b) => b.ok).at(-1)!.at;
    // Down from just after a renewal for 20 s (two thirds of the lease); back 2 s before the lease would end.
    down = true;
    await clock.advance(lastOk + 20_000 - clock.now().getTime());
    const during = beats.filter((b) => !b.ok);
    down = false;
    await clock.advance(4_000);
    // Before: tried every 10 s only, so the first try after the outage came as the lease ran out
    expect(during.length).toBeGreaterThanOrEqual(4);
    const renewed = beats.find((b) => b.ok && b.at > lastOk + 20_000)!;
    expect(renewed.at).toBeLessThan(lastOk + 30_000);
    const [run] = (await orrery.searchRuns({ type: 'short' })).runs;
    expect(run).toMatchObject({ status: 'started', worker: 'w' });
    expect(run!.leaseExpiresAt!.getTime()).toBeGreaterThan(clock.now().getTime());
  });

  it('after a failed claim waits its whole back-off, however often wake-ups come (new tasks, its own slots)', async () => {
    const { clock, orrery } = await setup({ name: 'short', leaseMs: '30s' });
    const claims: number[] = [];
    orrery.claim = async () => {
      claims.push(clock.now().getTime() - T0.getTime());
      throw new StorageUnavailableError('the SQLite database is unavailable (SQLITE_IOERR)');
    };
    const logger = pino({ level: 'silent' });
    const worker = new Worker(orrery, { handlers: { long: async () => false, short: async () => false }, id: 'w', concurrency: 1, clock, logger, registry: false, pollMs: 100 });
    worker.start();
    stopAtCleanup(worker, clock);
    // A task created every 50 ms: each sends the wake-up a worker claims on.
    for (let i = 0; i < 120; i++) {
      await orrery.createTask({ type: 'short', policy: 'oneshot', arguments: { args: [i], kwargs: {} } });
      await clock.advance(50);
    }
    // 6 s: back-offs of 200, 400, 800, 1600 and 3200 ms after the first claim, so 5 or 6 claims, not 120.
    expect(claims.length).toBeGreaterThanOrEqual(5);
    expect(claims.length).toBeLessThanOrEqual(6);
    const gaps = claims.slice(1).map((t, i) => t - claims[i]!);
    expect(gaps.slice(0, 4)).toEqual([200, 400, 800, 1600]);
  });
});
