import { PeriodicLoop, type LoopOptions } from './periodic-loop.js';
import type { Orrery } from './service.js';

export type ReaperOptions = LoopOptions;

/** Ends `lost` every started run whose lease expired (a worker that died or hung); its task follows §2.1. */
export class Reaper extends PeriodicLoop {
  constructor(orrery: Orrery, opts: ReaperOptions = {}) {
    super(orrery, 'reaper', opts);
  }

  protected async pass(): Promise<number> {
    const reaped = await this.orrery.reapExpired();
    for (const r of reaped) {
      this.log.warn(
        { backendId: r.run.backendId, task: r.task.id, worker: r.run.worker },
        `run ${r.run.backendId} of task ${r.task.id} lost: lease expired (worker ${r.run.worker ?? '?'}); task now ${r.task.status}`,
      );
    }
    const next = await this.orrery.store.nextLeaseExpiry();
    if (next === null) return this.maxSleepMs;
    return Math.max(1, Math.min(next.getTime() - this.orrery.clock.now().getTime() + 1, this.maxSleepMs));
  }
}
