import { optionsObject, requireOptions } from '../core/options.js';
import { silentLogger, type Logger } from './logger.js';
import { checkClock, checkHandlers, checkLoopsRunOptions, checkOrrery, checkWorkerRunOptions, childLogger } from './option-checks.js';
import { Reaper } from './reaper.js';
import { DagScheduler } from './dag-scheduler.js';
import type { DagNotifier } from './dag-notifier.js';
import type { TaskNotifier } from './task-notifier.js';
import { AlertSender, delivery } from './alert-sender.js';
import { Runner } from './runner.js';
import type { Orrery } from './service.js';
import { Worker, type WorkerOptions } from './worker.js';

export interface DaemonOptions {
  /** Run the runner (due tasks into the jobboard) and the DAG scheduler. */
  runner?: boolean;
  /** The runner's grace for due tasks of types without limits (RunnerOptions.graceMs). */
  runnerGraceMs?: number;
  /** Run the reaper (expired leases end runs `lost`). */
  reaper?: boolean;
  /** Run a worker with these options (its logger is the daemon's); `null` or absent: none. */
  worker?: Omit<WorkerOptions, 'logger'> | null;
  /** Longest sleep of the runner, reaper and DAG scheduler between passes (default 1000). */
  maxSleepMs?: number;
  /** Default: silent; each loop logs through a child tagged with its name. */
  logger?: Logger;
  /**
   * DAG alerts: the DAG scheduler (beside the runner) delivers the stored DAG alerts through it,
   * whichever scheduler recorded them (docs/dags.md#alerts). Default: none (the scheduler logs the
   * failures its steps record, at error level, either way).
   */
  dagNotifier?: DagNotifier;
  /** The DAG scheduler also logs the DAG task retries its steps record, at warn level. */
  logDagRetries?: boolean;
  /**
   * Task alerts (default: none): this process delivers the alerts stored with run ends, whichever
   * process recorded them: a task disabled for good by its run's end (and, with `onRetry`, a failed
   * run whose task runs again), docs/guide.md#alerts.
   */
  taskNotifier?: TaskNotifier;
}

/** The loops one process runs: runner (with the DAG scheduler), reaper and a worker, started and stopped together. */
export class Daemon {
  /** The runner, or `null`. */
  readonly runner: Runner | null;
  /** The reaper, or `null`. */
  readonly reaper: Reaper | null;
  /** The worker, or `null`. */
  readonly worker: Worker | null;
  /** The DAG scheduler (runs with the runner), or `null`. */
  readonly dagScheduler: DagScheduler | null;

  constructor(orrery: Orrery, opts: DaemonOptions) {
    checkOrrery(orrery);
    requireOptions(opts, '{ runner?, reaper?, worker?, ... }');
    // Every option checked before any loop is built, whether its loop runs or not, and named as given
    // here (`runnerGraceMs`, `worker.concurrency`): startServer's checks of the same options.
    checkLoopsRunOptions(opts);
    if (opts.worker !== undefined && opts.worker !== null) {
      const w = optionsObject(opts.worker, 'worker');
      checkHandlers(w.handlers, 'worker.handlers');
      checkWorkerRunOptions(w, 'worker');
      checkClock(w.clock, 'worker.clock');
    }
    const logger = opts.logger ?? silentLogger;
    const sleep = opts.maxSleepMs !== undefined ? { maxSleepMs: opts.maxSleepMs } : {};
    this.runner = opts.runner
      ? new Runner(orrery, { ...sleep, logger: childLogger(logger, { loop: 'runner' }), ...(opts.runnerGraceMs !== undefined ? { graceMs: opts.runnerGraceMs } : {}) })
      : null;
    this.reaper = opts.reaper ? new Reaper(orrery, { ...sleep, logger: childLogger(logger, { loop: 'reaper' }) }) : null;
    this.dagScheduler = opts.runner
      ? new DagScheduler(orrery, { ...sleep, logger: childLogger(logger, { loop: 'dags' }), ...(opts.dagNotifier ? { notifier: opts.dagNotifier } : {}), ...(opts.logDagRetries ? { logRetries: true } : {}) })
      : null;
    this.worker = opts.worker ? new Worker(orrery, { ...opts.worker, logger: childLogger(logger, { loop: 'worker' }) }) : null;
    const notifier = opts.taskNotifier;
    this.newAlertSender = notifier ? () => new AlertSender(orrery, delivery('task', notifier), childLogger(logger, { loop: 'alerts' })) : null;
  }

  private readonly newAlertSender: (() => AlertSender) | null;
  private alertSender: AlertSender | null = null;

  /** Starts every loop; returns at once. */
  start(): void {
    if (this.newAlertSender && this.alertSender === null) {
      this.alertSender = this.newAlertSender();
      this.alertSender.start();
    }
    this.reaper?.start();
    this.runner?.start();
    this.dagScheduler?.start();
    this.worker?.start();
  }

  /**
   * Stops the runner and the reaper (no new scheduling) and the worker at once: it stops claiming,
   * lets running handlers finish within the grace period, counted from this call, and abandons the
   * rest, whose tasks are left due at once. A loop's pass still waiting for the database does not
   * hold the worker's grace back.
   */
  async stop(graceMs?: number): Promise<void> {
    await this.stopLoops(graceMs);
    // After the worker: the alerts of its last runs' ends are sent now rather than by the next process.
    await this.stopAlerts();
  }

  /** `stop` but the task alerts, which go on for ends recorded meanwhile (startServer's HTTP jobboard, until it closes). */
  async stopLoops(graceMs?: number): Promise<void> {
    // Together: the worker's grace starts now, not once the other loops' passes answered (a frozen
    // database held it back until the stop's bound, its handlers never aborted).
    await Promise.all([this.runner?.stop(), this.reaper?.stop(), this.dagScheduler?.stopScheduling(), this.worker?.stop(graceMs)]);
  }

  /** Stops sending task alerts, waiting up to 10 s for those being sent (the last step of `stop`); the others stay stored. */
  async stopAlerts(): Promise<void> {
    const sender = this.alertSender;
    this.alertSender = null;
    await Promise.all([sender?.stop(), this.dagScheduler?.stopAlerts()]);
  }
}
