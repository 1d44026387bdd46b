import { silentLogger, type Logger } from './logger.js';
import { Reaper } from './reaper.js';
import { DagScheduler } from './dag-scheduler.js';
import type { DagNotifier } from './dag-notifier.js';
import { Runner } from './runner.js';
import type { Orrery } from './service.js';
import { Worker, type WorkerOptions } from './worker.js';

export interface DaemonOptions {
  runner?: boolean;
  /** The runner's grace for due tasks of types without limits (RunnerOptions.graceMs). */
  runnerGraceMs?: number;
  reaper?: boolean;
  worker?: Omit<WorkerOptions, 'logger'> | null;
  maxSleepMs?: number;
  logger?: Logger;
  /** DAG alerts (default: logged at error level). The DAG scheduler runs beside the runner. */
  dagNotifier?: DagNotifier;
}

/** The loops one process runs: runner (with the DAG scheduler), reaper and a worker, started and stopped together. */
export class Daemon {
  readonly runner: Runner | null;
  readonly reaper: Reaper | null;
  readonly worker: Worker | null;
  readonly dagScheduler: DagScheduler | null;

  constructor(orrery: Orrery, opts: DaemonOptions) {
    const logger = opts.logger ?? silentLogger;
    const sleep = opts.maxSleepMs !== undefined ? { maxSleepMs: opts.maxSleepMs } : {};
    this.runner = opts.runner
      ? new Runner(orrery, { ...sleep, logger: logger.child({ loop: 'runner' }), ...(opts.runnerGraceMs !== undefined ? { graceMs: opts.runnerGraceMs } : {}) })
      : null;
    this.reaper = opts.reaper ? new Reaper(orrery, { ...sleep, logger: logger.child({ loop: 'reaper' }) }) : null;
    this.dagScheduler = opts.runner
      ? new DagScheduler(orrery, { ...sleep, logger: logger.child({ loop: 'dags' }), ...(opts.dagNotifier ? { notifier: opts.dagNotifier } : {}) })
      : null;
    this.worker = opts.worker ? new Worker(orrery, { ...opts.worker, logger: logger.child({ loop: 'worker' }) }) : null;
  }

  start(): void {
    this.reaper?.start();
    this.runner?.start();
    this.dagScheduler?.start();
    this.worker?.start();
  }

  /**
   * Runner and reaper first (no new scheduling), then the worker: it stops claiming, lets running
   * handlers finish within the grace period and abandons the rest, whose tasks are left due at once.
   */
  async stop(graceMs?: number): Promise<void> {
    await Promise.all([this.runner?.stop(), this.reaper?.stop(), this.dagScheduler?.stop()]);
    await this.worker?.stop(graceMs);
  }
}
