/**
 * A worker's one timer ticks to renew leases and to mark runs started, not on a fixed 10 s beat
 * (docs/architecture.md, one timer per worker): with 5-minute leases a worker holding a long run
 * ticks every 100 s, and its summary line comes with the first end 10 s or more after the last line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
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

describe('worker tick', () => {
  it('ticks at renewals only while it holds a long run, and logs its summary line with an end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-tick-'));
    const clock = new VirtualClock(T0);
    const orrery = await openOrrery({ db: `sqlite:${join(dir, 'orrery.db')}`, clock });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => orrery.close());
    await orrery.createTaskType({ name: 'long', leaseMs: '5m' });
    await orrery.createTaskType({ name: 'quick', leaseMs: '5m' });
    const lines: Array<{ at: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push({ at: clock.now().getTime() - T0.getTime(), msg: JSON.parse(s).msg as string }) });
    const sleeping = (ms: number) => async ({ signal }: { signal: AbortSignal }) => (await clock.sleep(ms, signal), false);
    // Polls every 30 minutes and no registry row (refreshed every 10 s): only the worker's tick and its runs' sleeps move the clock.
    const worker = new Worker(orrery, { handlers: { long: sleeping(20 * MIN), quick: sleeping(1000) }, id: 'w', concurrency: 2, clock, pollMs: 30 * MIN, logger, registry: false });
    worker.start();
    cleanups.push(async () => {
      const stopped = worker.stop(0);
      await clock.advance(MIN);
      await stopped;
    });
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
});
