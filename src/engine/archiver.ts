import { earlier } from '../core/instants.js';
import { archivedCounts, checkArchiveBatch, type ArchiveSummary } from './archiving.js';
import { ArchiveFile } from './archive-file.js';
import { checkMs, requireOptions } from '../core/options.js';
import { MAX_DURATION_MS } from '../core/duration-limit.js';
import { PeriodicLoop, type LoopOptions } from './periodic-loop.js';
import type { Orrery } from './service.js';

const HOUR = 3_600_000;

export interface ArchiverOptions extends Omit<LoopOptions, 'maxSleepMs'> {
  /** Runs ended longer ago than this are archived (`orrery serve --retention 30d`). */
  retentionMs: number;
  /** Time between sweeps; default a tenth of the retention, at least 1 s and at most 1 h. */
  everyMs?: number;
  /**
   * Append to this JSONL file instead of the archive tables. Checked when the archiver is built, as
   * `orrery.archive({ to })` checks it: a missing directory, a directory, a file it may not write.
   */
  to?: string;
  /** Runs per batch (one transaction each): an integer from 1 to 100000, default 1000. */
  batch?: number;
}

/**
 * Retention: sweeps finished runs older than `retentionMs` (and finished one-shot tasks) into the
 * archive, again and again. A sweep goes batch by batch, letting the other loops run in between;
 * stopping ends it between two batches, and the next sweep picks up what is left.
 */
export class Archiver extends PeriodicLoop {
  /** The last finished sweep (for status pages). */
  lastSweep: (ArchiveSummary & { at: Date }) | null = null;
  private abort = new AbortController();

  constructor(
    orrery: Orrery,
    private readonly opts: ArchiverOptions,
  ) {
    super(orrery, 'archiver', { maxSleepMs: sweepEvery(opts), ...(opts.logger ? { logger: opts.logger } : {}) });
    // Refused now, as `orrery.archive` refuses them, rather than by every sweep (logged, often to a silent logger).
    checkArchiveBatch(opts.batch);
    if (opts.to !== undefined) ArchiveFile.check(opts.to);
  }

  override async stop(): Promise<void> {
    this.abort.abort();
    await super.stop();
  }

  protected override onStart(): void {
    this.abort = new AbortController();
  }

  protected async pass(): Promise<number> {
    const at = this.orrery.now();
    const before = earlier(at, this.opts.retentionMs);
    const summary = await this.orrery.archive({
      before,
      at,
      signal: this.abort.signal,
      ...(this.opts.to !== undefined ? { to: this.opts.to } : {}),
      ...(this.opts.batch !== undefined ? { batch: this.opts.batch } : {}),
    });
    this.lastSweep = { ...summary, at };
    if (summary.runs + summary.tasks > 0) {
      this.log.info(
        { runs: summary.runs, logs: summary.logs, tasks: summary.tasks, durationMs: summary.durationMs },
        `archived ${archivedCounts(summary)} ended before ${before.toISOString()} to ${summary.file ?? 'the archive tables'}`,
      );
    }
    return this.maxSleepMs; // the sweep interval (sweepEvery)
  }
}

/** How often the archiver sweeps (`everyMs`, else a tenth of the retention, from 1 s to an hour), the retention checked first. */
function sweepEvery(opts: ArchiverOptions): number {
  requireOptions(opts, '{ retentionMs, to?, batch?, everyMs? }');
  // At most 100 years: a sweep's cut-off (now less the retention) must stay an instant both stores hold.
  const retentionMs = checkMs(opts.retentionMs, 'retentionMs', 1, MAX_DURATION_MS);
  return opts.everyMs === undefined ? Math.min(HOUR, Math.max(1000, Math.floor(retentionMs / 10))) : checkMs(opts.everyMs, 'everyMs', 10);
}
