import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { invalid } from '../core/errors.js';
import { checkCallback, checkFlag } from '../core/options.js';
import { requireInstant } from '../core/instants.js';
import type { ArchiveCursor } from '../store/archive-store.js';
import type { Store } from '../store/store.js';
import { ArchiveFile } from './archive-file.js';

export const DEFAULT_ARCHIVE_BATCH = 1000;
export const MAX_ARCHIVE_BATCH = 100_000;

export interface ArchiveOptions {
  /** Runs ended strictly before this instant go (and finished one-shot tasks whose runs all went). */
  before: Date;
  /** Append to this JSONL file. */
  to?: string;
  /** Copy into the archive tables; default: true without `to`, false with it. */
  table?: boolean;
  /** Runs per batch (one transaction each); default 1000. */
  batch?: number;
  /** Called after each committed batch with the totals so far. */
  onProgress?: (progress: ArchiveSummary) => void;
  /** Stops between batches (what is committed stays archived; the next sweep goes on from there). */
  signal?: AbortSignal;
}

/** `3000 runs (120 log records) and 1 task`: what an archive moved, each noun agreeing with its count. */
export function archivedCounts(p: { runs: number; logs: number; tasks: number }): string {
  const n = (x: number, what: string) => `${x} ${what}${x === 1 ? '' : 's'}`;
  return `${n(p.runs, 'run')} (${n(p.logs, 'log record')}) and ${n(p.tasks, 'task')}`;
}

export interface ArchiveSummary {
  before: Date;
  file: string | null;
  table: boolean;
  /** Runs, their log records, and tasks archived and deleted so far. */
  runs: number;
  logs: number;
  tasks: number;
  batches: number;
  /** Stored alerts (task and DAG) about instants before the cut-off, deleted (sent or not) once the sweep completed. */
  alerts: number;
  /** False when stopped (signal) before everything before the cut-off was archived. */
  complete: boolean;
  durationMs: number;
}

/** Runs per archive batch (`batch`, `--batch`): left out, or an integer from 1 to MAX_ARCHIVE_BATCH; a ValidationError otherwise. */
export function checkArchiveBatch(batch: unknown): number | undefined {
  if (batch === undefined) return undefined;
  if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1 || batch > MAX_ARCHIVE_BATCH) throw invalid('batch', `must be an integer from 1 to ${MAX_ARCHIVE_BATCH}`);
  return batch;
}

/**
 * One sweep: batches of finished runs in (ended, id) keyset order, then disabled one-shot tasks
 * without runs, each batch read, written, copied and deleted in one transaction, until none is left
 * before the cut-off. Deleting what each batch read makes a sweep idempotent: an interrupted one is
 * resumed by sweeping again.
 */
export async function archiveSweep(store: Store, opts: ArchiveOptions, at: Date): Promise<ArchiveSummary> {
  requireInstant(opts.before, 'before');
  const limit = checkArchiveBatch(opts.batch) ?? DEFAULT_ARCHIVE_BATCH;
  checkFlag(opts.table, 'table');
  checkCallback(opts.onProgress, 'onProgress');
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw invalid('signal', 'must be an AbortSignal');
  const table = opts.table ?? opts.to === undefined;
  if (!table && opts.to === undefined) throw invalid('table', 'archiving needs a file or the archive table (or both)');
  const started = performance.now();
  const summary: ArchiveSummary = { before: opts.before, file: opts.to ?? null, table, runs: 0, logs: 0, tasks: 0, batches: 0, alerts: 0, complete: false, durationMs: 0 };
  const file = opts.to !== undefined ? await ArchiveFile.open(opts.to, store.archive, store, at) : null;
  try {
    let cursor: ArchiveCursor | null = null;
    for (;;) {
      if (opts.signal?.aborted) break;
      const batch = await store.archive.archiveBatch({
        before: opts.before,
        after: cursor,
        limit,
        at,
        table,
        ...(file ? { sink: { key: file.key, write: (b, committed) => file.write(b, opts.before, at, committed) } } : {}),
      });
      file?.committed();
      cursor = batch.next;
      if (batch.runs.length + batch.tasks.length > 0) {
        summary.batches += 1;
        summary.runs += batch.runs.length;
        summary.tasks += batch.tasks.length;
        summary.logs += batch.runs.reduce((n, r) => n + r.logs.length, 0);
        summary.durationMs = Math.round(performance.now() - started);
        opts.onProgress?.({ ...summary });
      }
      // SQLite runs each batch synchronously: let timers, I/O and other loops in between.
      if (cursor === null) {
        summary.alerts = await store.alerts.deleteAlertsBefore(opts.before);
        summary.complete = true;
        break;
      }
      await yieldToEventLoop();
    }
  } finally {
    file?.close();
  }
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}
