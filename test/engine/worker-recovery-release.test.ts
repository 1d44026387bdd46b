import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import type { Jobboard } from '../../src/engine/jobboard.js';
import { Worker } from '../../src/engine/worker.js';
import { stopOnVirtualTime, useTempOrrery } from './engine-helpers.js';

/**
 * A claim recovery (the second look after a lost claim answer) while a buffer trim's give-back is on
 * its way: the runs being given back are still this worker's in the store, and must not be taken for
 * runs it does not know and run (review: they were, and a release committing first runs them twice).
 */
describe('Worker: a claim recovery during a give-back in flight', () => {
  const setup = useTempOrrery();
  it('does not take back the runs being given back', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'fast', maxQueueLength: null, leaseMs: '30s', numRetries: 0 });
    await orrery.createTaskType({ name: 'slow', maxQueueLength: null, leaseMs: '30s', numRetries: 0 });
    let loseNext = false;
    const releases: Array<{ ids: string[]; from: number; to: number }> = [];
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      claimRuns: async (req: Parameters<Jobboard['claimRuns']>[0]) => {
        const out = await orrery.claimRuns(req);
        if (loseNext && out.length > 0) {
          loseNext = false;
          throw new StorageUnavailableError('answer lost (test)');
        }
        return out;
      },
      releaseRuns: async (opts: Parameters<Jobboard['releaseRuns']>[0]) => {
        const entry = { ids: [...opts.backendIds], from: clock.now().getTime(), to: Infinity };
        releases.push(entry);
        await new Promise<void>((r) => clock.setTimer(8_000, r)); // a slow answer: committed 8 s later
        const n = await orrery.releaseRuns(opts);
        entry.to = clock.now().getTime();
        return n;
      },
    });
    let slowDone: () => void = () => {};
    const lines: Array<{ msg: string; vt: number }> = [];
    const logger = pino({ level: 'info', base: undefined, mixin: () => ({ vt: clock.now().getTime() }) }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    // A fast type keeps the buffer's pace short (so a trim gives runs back), a slow handler holds a slot.
    const w = new Worker(board, { concurrency: 2, prefetch: 10, types: ['fast', 'slow'], pollMs: 10_000, clock, logger, handlers: {
      fast: () => new Promise<boolean>((r) => clock.setTimer(1_000, () => r(false))),
      slow: () => new Promise<boolean>((r) => (slowDone = () => r(false))),
    } });
    w.start();
    await orrery.createTasks([{ type: 'fast', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    await clock.advance(12_000);
    await orrery.createTasks([{ type: 'slow', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    await clock.advance(12_000);
    expect(w.running).toBe(1);
    for (let k = 0; k < 4; k++) {
      await orrery.createTasks([{ type: 'fast', policy: 'oneshot', arguments: { args: [100 + k], kwargs: {} } }]);
      await clock.advance(12_000);
    }
    // A claim whose answer is lost, then the slow handler settles: a trim gives runs back slowly while the recovery looks again.
    loseNext = true;
    await orrery.createTasks(Array.from({ length: 12 }, (_, i) => ({ type: 'fast', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    for (let i = 0; i < 5; i++) await clock.advance(1_000);
    slowDone();
    for (let i = 0; i < 40; i++) await clock.advance(1_000);
    // No run taken back while its give-back was on its way.
    const recovered = lines.flatMap((l) => {
      const id = /^run (\S+): claimed before the connection was lost/.exec(l.msg)?.[1];
      return id ? [{ id, at: l.vt }] : [];
    });
    expect(recovered.length).toBeGreaterThan(0);
    expect(releases.length).toBeGreaterThan(0);
    const clash = recovered.filter((r) => releases.some((g) => g.ids.includes(r.id) && g.from <= r.at && r.at < g.to));
    expect(clash).toEqual([]);
    await stopOnVirtualTime(w, clock, 60_000);
  }, 60_000);
});
