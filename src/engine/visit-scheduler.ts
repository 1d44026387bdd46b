import { invalid, shown } from '../core/errors.js';
import { INT4_MAX } from '../core/storable.js';
import { refuseUnknownKeys } from '../core/options.js';
import { DEFAULT_POLICY_WEIGHTS, checkListerId, checkPolicyWeights, checkVisitType, usablePolicyWeights, validateCooldowns, type PolicyWeight, type VisitCooldowns } from '../core/visits.js';
import { PeriodicLoop, type LoopOptions } from './periodic-loop.js';
import type { Orrery } from './service.js';

/** One visit type's queue: how many visits may be in flight, and the policies that fill it. */
export interface VisitQueue {
  visitType: string;
  /** Visits in flight at most (one-shot tasks created and not yet recorded); default 1000. */
  size?: number;
  /** Weighted policies; default 40 oldest_scheduled_first / 40 never_visited_oldest_update_first / 20 origins_without_last_update. */
  policies?: readonly PolicyWeight[];
  /** Only origins of this lister. */
  lister?: string;
  cooldowns?: Partial<VisitCooldowns>;
}

export interface VisitSchedulerOptions extends LoopOptions {
  /** One queue per visit type (at least one): its size, policies, lister and cooldowns. */
  queues: readonly VisitQueue[];
  /** A queue is refilled once at least this fraction of it is free (default 0.1). */
  refillFraction?: number;
  /** Finished visits recorded per transaction (default 1000). */
  collectBatch?: number;
  /**
   * Recompute the visit metrics of every lister (appending a point to their history) on the first pass and
   * then at most this often (default 15 minutes; 0: never). Each update reads every listed origin.
   */
  metricsEveryMs?: number;
}

export const DEFAULT_METRICS_EVERY_MS = 15 * 60_000;

export interface VisitPassResult {
  /** Finished visits whose results were recorded. */
  recorded: number;
  /** One-shot visit tasks created, per visit type. */
  scheduled: Record<string, number>;
}

/**
 * The visit-scheduler (SPEC §4, the Software Heritage "schedule recurrent visits" loop): each pass first
 * records the results of finished visit tasks (each exactly once: the in-flight row is deleted in the
 * transaction that records it), then refills every visit type's queue with one-shot tasks of that type,
 * grabbed by weighted policies. Visits run through the normal jobboard.
 */
export class VisitScheduler extends PeriodicLoop {
  private readonly queues: Array<Required<Omit<VisitQueue, 'lister' | 'cooldowns'>> & Pick<VisitQueue, 'lister' | 'cooldowns'>>;
  private readonly refillFraction: number;
  private readonly collectBatch: number;
  private readonly metricsEveryMs: number;
  private metricsAt: number | null = null;
  private unlisten: (() => void) | null = null;

  constructor(orrery: Orrery, opts: VisitSchedulerOptions) {
    super(orrery, 'visit-scheduler', { maxSleepMs: 5000, ...opts });
    // Every option checked here, not on each pass (each pass failed on it, for ever): a misspelt one is refused.
    refuseUnknownKeys(opts, ['queues', 'refillFraction', 'collectBatch', 'metricsEveryMs', 'maxSleepMs', 'logger'], '');
    if (!Array.isArray(opts.queues)) throw invalid('queues', 'must be an array of queues ({ visitType, size?, policies?, lister?, cooldowns? })');
    if (opts.queues.length === 0) throw invalid('queues', 'at least one visit type is required');
    this.queues = opts.queues.map((q, i) => {
      if (q === null || typeof q !== 'object' || Array.isArray(q)) throw invalid(`queues[${i}]`, 'must be an object { visitType, size?, policies?, lister?, cooldowns? }');
      refuseUnknownKeys(q, ['visitType', 'size', 'policies', 'lister', 'cooldowns'], `queues[${i}]`);
      if (q.lister !== undefined) checkListerId(q.lister, `queues[${i}].lister`);
      if (q.cooldowns !== undefined) validateCooldowns(q.cooldowns, `queues[${i}].cooldowns`);
      const size = q.size ?? 1000;
      if (!Number.isInteger(size) || size < 1 || size > INT4_MAX) throw invalid(`queues[${i}].size`, `must be an integer from 1 to ${INT4_MAX}`);
      const policies = q.policies ?? DEFAULT_POLICY_WEIGHTS;
      checkPolicyWeights(policies, `queues[${i}].policies`);
      if (policies.length === 0) throw invalid(`queues[${i}].policies`, 'at least one policy with a positive weight is required');
      // Checked here, not on every pass: each pass would fail on it.
      usablePolicyWeights(policies, q.lister !== undefined, `queues[${i}].lister`);
      return { visitType: checkVisitType(q.visitType, `queues[${i}].visitType`), size, policies, lister: q.lister, cooldowns: q.cooldowns };
    });
    // A visit type's queue is counted by its type (countInFlight): two queues of one type would share it.
    this.queues.forEach((q, i) => {
      const first = this.queues.findIndex((o) => o.visitType === q.visitType);
      if (first !== i) throw invalid(`queues[${i}].visitType`, `"${shown(q.visitType)}" already has a queue (queues[${first}]): one queue per visit type`);
    });
    this.refillFraction = opts.refillFraction ?? 0.1;
    if (!(this.refillFraction > 0 && this.refillFraction <= 1)) throw invalid('refillFraction', 'must be in (0, 1]');
    this.collectBatch = opts.collectBatch ?? 1000;
    if (!Number.isSafeInteger(this.collectBatch) || this.collectBatch < 1 || this.collectBatch > 10_000) throw invalid('collectBatch', 'must be an integer from 1 to 10000');
    this.metricsEveryMs = opts.metricsEveryMs ?? DEFAULT_METRICS_EVERY_MS;
    if (!Number.isFinite(this.metricsEveryMs) || this.metricsEveryMs < 0) throw invalid('metricsEveryMs', 'must be a non-negative number of milliseconds (0: never)');
  }

  protected override onStart(): void {
    // Runs ending in this process wake the loop (other processes' ends are found by polling).
    this.unlisten = this.orrery.store.listen('ended', () => this.wake());
  }

  protected override onStop(): void {
    this.unlisten?.();
  }

  /** One pass: record finished visits, then refill the queues. */
  async runOnce(at?: Date): Promise<VisitPassResult> {
    const visits = this.orrery.visits;
    let recorded = 0;
    for (;;) {
      const done = await visits.collectFinishedVisits(this.collectBatch);
      // Only results that changed the stats: a run cancelled before it started, or a late or duplicate result, records nothing.
      recorded += done.filter((d) => d.recorded?.applied === true).length;
      if (done.length < this.collectBatch) break;
    }
    const scheduled: Record<string, number> = {};
    for (const q of this.queues) {
      scheduled[q.visitType] = 0; // every queue is reported, 0 when it had no room to refill
      const free = q.size - (await visits.countInFlight(q.visitType));
      if (free <= 0 || (free < q.size && free < Math.ceil(q.size * this.refillFraction))) continue;
      // The room is counted again in the pass's transaction: other schedulers may be filling the queue too.
      const out = await visits.scheduleVisits(q.visitType, free, q.policies, {
        queueSize: q.size,
        ...(at ? { at } : {}),
        ...(q.lister !== undefined ? { lister: q.lister } : {}),
        ...(q.cooldowns ? { cooldowns: q.cooldowns } : {}),
      });
      scheduled[q.visitType] = out.tasks.length;
    }
    return { recorded, scheduled };
  }

  protected async pass(): Promise<number> {
    const { recorded, scheduled } = await this.runOnce();
    const created = Object.values(scheduled).reduce((s, n) => s + n, 0);
    if (recorded > 0 || created > 0) this.log.info({ recorded, scheduled }, `recorded ${recorded} visit${recorded === 1 ? '' : 's'}, scheduled ${created}`);
    await this.updateMetricsWhenDue();
    return this.maxSleepMs;
  }

  /** The loop's periodic update-metrics (not part of `runOnce`, which `--once` prints). */
  private async updateMetricsWhenDue(): Promise<void> {
    const now = this.orrery.now().getTime();
    if (this.metricsEveryMs === 0 || (this.metricsAt !== null && now - this.metricsAt < this.metricsEveryMs)) return;
    this.metricsAt = now;
    const m = await this.orrery.visits.updateMetrics({ at: new Date(now) });
    this.log.debug({ pairs: m.length }, `updated the visit metrics of ${m.length} lister and visit type pair${m.length === 1 ? '' : 's'}`);
  }
}
