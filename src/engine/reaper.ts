import { PeriodicLoop, type LoopOptions } from './periodic-loop.js';
import type { Orrery } from './service.js';

export type ReaperOptions = LoopOptions;

/** Ends `lost` every started run whose lease expired (a worker that died or hung); its task follows §2.1. */
export class Reaper extends PeriodicLoop {
  constructor(orrery: Orrery, opts: ReaperOptions = {}) {
    super(orrery, 'reaper', opts);
  }

  protected async pass(): Promise<number> {
    // One read first (the earliest lease held, from the partial lease index): a pass with nothing
    // expired writes nothing and takes no lock, instead of two write transactions (one on SQLite
    // holding the write lock) and, on PostgreSQL, seven round trips every second in every process.
    const first = await this.orrery.store.nextLeaseExpiry();
    if (first === null) return this.maxSleepMs;
    if (first.getTime() < this.orrery.clock.now().getTime()) await this.reap();
    else return this.sleepUntil(first);
    const next = await this.orrery.store.nextLeaseExpiry();
    return next === null ? this.maxSleepMs : this.sleepUntil(next);
  }

  private async reap(): Promise<void> {
    const reaped = await this.orrery.reapExpired();
    for (const r of reaped) {
      this.log.warn(
        { backendId: r.run.backendId, task: r.task.id, worker: r.run.worker },
        // A run whose cancellation was asked for ends failed (`cancelled (lease expired at ...)`), not lost.
        r.run.status === 'lost'
          ? `run ${r.run.backendId} of task ${r.task.id} lost: lease expired (worker ${r.run.worker ?? '?'}); task now ${r.task.status}`
          : `run ${r.run.backendId} of task ${r.task.id} ended ${r.run.status}: ${r.run.error ?? 'lease expired'} (worker ${r.run.worker ?? '?'}); task now ${r.task.status}`,
      );
    }
  }

  /** Until just after a lease expires (leases are expired strictly after their instant), at most maxSleepMs. */
  private sleepUntil(at: Date): number {
    return Math.max(1, Math.min(at.getTime() - this.orrery.clock.now().getTime() + 1, this.maxSleepMs));
  }
}
