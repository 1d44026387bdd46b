import type { Timer } from './clock.js';
import { AlertSender, delivery } from './alert-sender.js';
import { checkNotifier, logNotifier, type DagNotifier } from './dag-notifier.js';
import { invalid } from '../core/errors.js';
import { PeriodicLoop, type LoopOptions } from './periodic-loop.js';
import type { Orrery } from './service.js';
import type { DagStepOutcome } from './dag-service.js';

export interface DagSchedulerOptions extends LoopOptions {
  /**
   * Delivers the stored DAG task alerts, whichever scheduler's step recorded them, at least once
   * (docs/dags.md#alerts). Default: none; they wait in the store for a scheduler that has one.
   */
  notifier?: DagNotifier;
  /** Also log the retries its steps record, at warn level (failures are always logged, at error level). */
  logRetries?: boolean;
  /** A schedule point older than this when reached is late (caught up or skipped). */
  latenessMs?: number;
}

/** Attempt ends arriving within this window wake the scheduler once. */
const WAKE_COALESCE_MS = 5;

/**
 * The DAG scheduler (SPEC §3): records due schedule points (runs, catch-up, skips), starts waiting runs
 * under each DAG's active-run limit, and moves running runs on as their tasks' attempts end. All its
 * state is in the database, so any number of schedulers may run and a restarted one continues.
 */
export class DagScheduler extends PeriodicLoop {
  private unlisten: Array<() => void> = [];
  private wakeTimer: Timer | null = null;
  private readonly alerts: AlertSender | null;
  /** Logs the failures (and, with logRetries, the retries) this scheduler's steps record, as they are recorded. */
  private readonly stepLog: DagNotifier;

  constructor(
    orrery: Orrery,
    private readonly opts: DagSchedulerOptions = {},
  ) {
    super(orrery, 'dag scheduler', opts);
    if (opts.notifier !== undefined) checkNotifier(opts.notifier, 'notifier');
    if (opts.logRetries !== undefined && typeof opts.logRetries !== 'boolean') throw invalid('logRetries', 'must be a boolean');
    this.stepLog = logNotifier(this.log, { retries: opts.logRetries ?? false });
    this.alerts = opts.notifier ? new AlertSender(orrery, delivery('dag', opts.notifier), this.log) : null;
  }

  protected override onStart(): void {
    const soon = () => {
      this.wakeTimer ??= this.orrery.clock.setTimer(WAKE_COALESCE_MS, () => {
        this.wakeTimer = null;
        this.wake();
      });
    };
    this.unlisten = [this.orrery.store.listen('dags', soon)];
    this.alerts?.start();
  }

  protected override onStop(): void {
    this.wakeTimer?.cancel();
    this.unlisten.forEach((u) => u());
  }

  /** Stops scheduling, then the DAG alerts (stopAlerts). */
  override async stop(): Promise<void> {
    await super.stop();
    await this.stopAlerts();
  }

  /** Stops scheduling only: the DAG alerts go on until stopAlerts (a Daemon stops them after its worker). */
  async stopScheduling(): Promise<void> {
    await super.stop();
  }

  /** Stops delivering DAG alerts, waiting up to 10 s for those being sent; the others stay stored. */
  async stopAlerts(): Promise<void> {
    await this.alerts?.stop();
  }

  protected async pass(): Promise<number> {
    const dags = this.orrery.dags;
    // The runs move first, so that a due point's overlap policy (skip, bufferOne, cancelOther) sees
    // them as they stand: a run whose last attempt ended meanwhile (during a pause, say) is finished,
    // not an active run to skip for or to cancel.
    const progressed = await dags.progressAll();
    this.report(progressed.outcomes);
    const points = await dags.schedulePoints(this.opts.latenessMs);
    for (const r of points.created) this.log.info({ dag: r.dag, dagRunId: r.id }, `DAG ${r.dag}: run ${r.id} for ${r.execTs.toISOString()} (${r.trigger})`);
    // The new runs start in the same pass.
    const started = points.created.length > 0 ? await dags.progressAll() : { outcomes: [], more: false };
    this.report(started.outcomes);
    if (points.more || progressed.more || started.more) return 0;
    const until = points.nextAt === null ? Infinity : points.nextAt.getTime() - this.orrery.now().getTime();
    return Math.max(0, Math.min(until + 1, this.maxSleepMs));
  }

  private report(outcomes: readonly DagStepOutcome[]): void {
    for (const o of outcomes) {
      for (const a of o.alerts) void (a.kind === 'failed' ? this.stepLog.onFailure(a) : this.stepLog.onRetry?.(a));
      if (o.run.status === 'success' || o.run.status === 'failed') this.log.info({ dag: o.run.dag, dagRunId: o.run.id }, `DAG ${o.run.dag}: run ${o.run.id} ${o.run.status}`);
    }
  }

}
