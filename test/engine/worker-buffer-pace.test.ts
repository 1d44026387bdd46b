/**
 * The worker's buffer follows the pace of its slowest type (docs/operations.md, claim ahead): fast runs
 * of one type no longer hide slow runs of another, and a buffer grown while handlers were fast gives its
 * surplus back once slow runs show their pace, so idle workers take them (multi-process audit: a worker
 * of 2 slots held 38 runs of 5 s while another worker of the type sat idle). On virtual time.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';
import { stopOnVirtualTime, useTempOrrery } from './engine-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const open = useTempOrrery();

const oneshots = (type: string, n: number) => Array.from({ length: n }, (_, i) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));

describe("a worker's buffer and its handlers' pace", () => {
  it('gives back what it cannot begin within a third of the lease once a slow type shows its pace, after fast runs of another type grew it', async () => {
    const clock = new VirtualClock(T0);
    const { orrery, onCleanup } = await open({ clock });
    await orrery.createTaskType({ name: 'fast', leaseMs: '5s', maxQueueLength: null });
    await orrery.createTaskType({ name: 'slow', leaseMs: '5s', maxQueueLength: null });
    const worker = new Worker(orrery, {
      handlers: { fast: () => false, slow: async ({ signal }) => (await clock.sleep(5_000, signal), false) },
      id: 'w',
      concurrency: 2,
      prefetch: 500,
      clock,
    });
    const held = async () => (await orrery.store.queueStats(clock.now())).find((s) => s.type === 'slow')!;
    await orrery.createTasks(oneshots('fast', 50));
    worker.start();
    onCleanup(() => stopOnVirtualTime(worker, clock, 10_000));
    await clock.advance(1_000);
    expect(await orrery.searchTasks({ type: 'fast', status: 'completed' })).toHaveLength(50);

    // Fast handlers sized the buffer at its prefetch: the slow runs are claimed ahead, 2 begun.
    await orrery.createTasks(oneshots('slow', 40));
    await clock.advance(1_000);
    expect(await held()).toMatchObject({ running: 2, claimed: 38 });
    // Their first ends show 5 s a run: 2 slots begin nothing more within a third of a 5 s lease, so the
    // buffer goes back to the queue (no retry used) for other workers, and this one claims as it frees slots.
    await clock.advance(5_000);
    const after = await held();
    expect(after.claimed).toBe(0);
    expect(after.scheduled).toBeGreaterThanOrEqual(36);
    const runs = (await orrery.searchRuns({ type: 'slow', status: ['scheduled'] })).runs;
    expect(runs.every((r) => r.attempt === 1 && r.started === null)).toBe(true);
    // It goes on at its own pace: no more than its 2 slots (and nothing buffered) at a time.
    await clock.advance(5_000);
    expect(await held()).toMatchObject({ claimed: 0 });
    expect((await held()).running).toBeLessThanOrEqual(2);
    // Once the slow runs stop coming (a minute after the last), fast runs size the buffer again.
    await clock.advance(120_000);
    expect(await orrery.searchTasks({ type: 'slow', status: 'completed' })).toHaveLength(40);
    await clock.advance(61_000);
    const limits: number[] = [];
    const claim = orrery.claim.bind(orrery);
    orrery.claim = async (o) => (limits.push(o.limit), claim(o));
    await orrery.createTasks(oneshots('fast', 300));
    await clock.advance(2_000);
    expect(await orrery.searchTasks({ type: 'fast', status: 'completed' })).toHaveLength(350);
    // After a minute without any run ending, the first claim takes one round of slots (2 running, 2 buffered), then the pace sizes it.
    expect(limits[0]).toBeLessThanOrEqual(4);
    expect(Math.max(...limits)).toBeGreaterThan(100);
    // The fast pace is forgotten too after a minute without a run: slow runs coming then are claimed one round at a time.
    await clock.advance(61_000);
    await orrery.createTasks(oneshots('slow', 10));
    await clock.advance(500);
    expect(await held()).toMatchObject({ running: 2 });
    expect((await held()).claimed).toBeLessThanOrEqual(2);
  });

  it('logs what trims gave back at most once every 10 s, and at the stop what it had not said yet: the lines add up to every run given back', async () => {
    const clock = new VirtualClock(T0);
    const { orrery } = await open({ clock });
    await orrery.createTaskType({ name: 'fast', leaseMs: '5s', maxQueueLength: null });
    await orrery.createTaskType({ name: 'slow', leaseMs: '5s', maxQueueLength: null });
    await orrery.createTaskType({ name: 'mid', leaseMs: '5s', maxQueueLength: null });
    const lines: string[] = [];
    const logger = {
      error() {},
      warn() {},
      debug() {},
      info: (...a: unknown[]) => void lines.push(String(a.find((x) => typeof x === 'string'))),
      isLevelEnabled: () => true,
      child() {
        return logger;
      },
    };
    const worker = new Worker(orrery, {
      handlers: {
        fast: () => false,
        mid: async ({ signal }) => (await clock.sleep(1_500, signal), false),
        slow: async ({ signal }) => (await clock.sleep(5_000, signal), false),
      },
      id: 'w',
      concurrency: 2,
      prefetch: 500,
      clock,
      logger: logger as never,
    });
    // Releases counted where the worker gives runs back by trimming (its stop's give-back is logged apart).
    let released = 0;
    const release = orrery.releaseRuns.bind(orrery);
    let stopping = false;
    orrery.releaseRuns = async (o) => {
      const n = await release(o);
      if (!stopping) released += n;
      return n;
    };
    worker.start();
    // Fast runs grow the buffer; then mid runs (1.5 s) show a slower pace (a first trim, logged), then
    // slow runs (5 s) a slower one still (a second trim within 10 s: said at the stop).
    await orrery.createTasks(oneshots('fast', 50));
    await clock.advance(1_000);
    await orrery.createTasks([...oneshots('mid', 6), ...oneshots('slow', 20)]);
    await clock.advance(10_000);
    stopping = true;
    await stopOnVirtualTime(worker, clock, 10_000);
    const trims = lines.filter((l) => /^gave \d+ buffered runs? back to the queue: more than it can begin/.test(l));
    expect(trims).toHaveLength(2);
    expect(trims.map((l) => Number(/^gave (\d+)/.exec(l)![1])).reduce((a, b) => a + b, 0)).toBe(released);
  });
});
