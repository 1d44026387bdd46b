/**
 * `Worker.running` (the `running` of /healthz and of the summary line) counts handlers executing,
 * that is the slots taken (docs/cli.md): a handler whose run already ended (its timeout, a
 * cancellation) while it ignores its abort signal still holds its slot, for at most one lease.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import { Worker } from '../../src/engine/worker.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('Worker.running', () => {
  it('counts a handler that ignores its abort signal until its slot is released', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-running-'));
    const clock = new VirtualClock(T0);
    const orrery = await openOrrery({ db: `sqlite:${join(dir, 'orrery.db')}`, clock });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => orrery.close());
    await orrery.createTaskType({ name: 'stubborn', timeout: '1s', leaseMs: '5s' });
    // Never looks at its signal: it goes on for a minute whatever happens to its run.
    const worker = new Worker(orrery, { handlers: { stubborn: async () => (await clock.sleep(60_000), true) }, id: 'w', concurrency: 1, clock, registry: false });
    worker.start();
    cleanups.push(async () => {
      const stopped = worker.stop(0);
      await clock.advance(120_000);
      await stopped;
    });
    const task = await orrery.createTask({ type: 'stubborn', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    await clock.advance(500);
    expect(worker.running).toBe(1);

    await clock.advance(1_000); // its timeout: the run ends failed, the handler goes on
    const [run] = (await orrery.getTaskWithRuns(task.id))!.runs;
    expect(run).toMatchObject({ status: 'failed', error: 'timeout after 1s' });
    expect(worker.running).toBe(1);

    await clock.advance(5_000); // one lease later the slot is released
    expect(worker.running).toBe(0);
  });
});
