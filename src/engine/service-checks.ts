import { invalid } from '../core/errors.js';
import { refuseUnknownKeys, requireOptions } from '../core/options.js';
import { assertText, checkCountLimit } from '../core/storable.js';
import { checkDate } from '../core/instants.js';
import { MAX_WORKER_ID } from '../core/worker-registry.js';
import type { ArchivedRunFilter } from '../store/archive-store.js';

/** The checks of the arguments of the service's calls that no other module shares. */

/** Archived records a read returns when its filter gives no `limit` (as `GET /api/archive/runs`). */
export const DEFAULT_ARCHIVE_PAGE = 100;

/** An archive listing's filter: ids integers, `limit` DEFAULT_ARCHIVE_PAGE when left out, no other field. */
export function checkArchiveFilter(f: Partial<ArchivedRunFilter> = {}): ArchivedRunFilter {
  if (f === null || typeof f !== 'object' || Array.isArray(f) || f instanceof Date) throw invalid('filter', 'must be an object { task?, afterId?, limit? }');
  refuseUnknownKeys(f, ['task', 'afterId', 'limit'], 'filter');
  if (f.task !== undefined && !Number.isSafeInteger(f.task)) throw invalid('task', 'must be a task id');
  if (f.afterId !== undefined && !Number.isSafeInteger(f.afterId)) throw invalid('afterId', 'must be an integer');
  const limit = f.limit ?? DEFAULT_ARCHIVE_PAGE;
  checkCountLimit(limit);
  return { ...f, limit };
}

/** A run's backend id as every run operation takes it: a non-empty storable string. */
export function requireRunId(backendId: unknown): asserts backendId is string {
  if (typeof backendId !== 'string' || backendId === '') throw invalid('backendId', 'a run backend id is required');
  assertText(backendId, 'backendId');
}

/** A jobboard call's options object (`shape` names what it holds) with its worker id. */
export function requireWorkerOptions(opts: unknown, shape: string): asserts opts is { worker: string } {
  requireOptions(opts, shape);
  requireWorker((opts as { worker?: unknown }).worker);
}

/** The options of `abandonRun`: `{ worker, reason?, startedAt? }`, each named when wrong. */
export function requireAbandonOptions(opts: unknown): asserts opts is { worker: string; reason?: string; startedAt?: Date | null } {
  requireWorkerOptions(opts, '{ worker, reason? }');
  const o = opts as { reason?: unknown; startedAt?: unknown };
  if (o.reason != null && typeof o.reason !== 'string') throw invalid('reason', 'must be a string');
  assertText(o.reason, 'reason');
  checkDate(o.startedAt, 'startedAt');
}

/** One item of an `endRuns` call: an object with a run backend id, else a ValidationError naming `items[i]` (that item alone is refused). */
export function requireEndItem(item: unknown, i: number): void {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw invalid(`items[${i}]`, 'must be an object { backendId, status, ... }');
  assertText((item as { backendId?: unknown }).backendId, 'backendId');
}

/** A worker id a jobboard call names: a non-empty string Orrery can store. */
export function requireWorker(worker: unknown): asserts worker is string {
  if (!worker) throw invalid('worker', 'a worker id is required');
  if (typeof worker !== 'string') throw invalid('worker', 'must be a string (the worker id)');
  if (worker.length > MAX_WORKER_ID) throw invalid('worker', `must be at most ${MAX_WORKER_ID} characters (a worker id)`);
  assertText(worker, 'worker');
}
