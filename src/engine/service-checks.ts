import { invalid } from '../core/errors.js';
import { checkFlag, refuseHoles, refuseUnknownKeys, requireOptions } from '../core/options.js';
import { INT4_MAX, assertStorable, assertText, checkCountLimit } from '../core/storable.js';
import { ABANDON_OPTIONS, CLAIM_OPTIONS, HEARTBEAT_RUNS_OPTIONS, RELEASE_OPTIONS } from '../core/jobboard-options.js';
import { checkDate } from '../core/instants.js';
import { BLANK_WORKER_ID, MAX_WORKER_ID } from '../core/worker-registry.js';
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
  // Blanks alone name no worker, as the registry and the CLI's --worker refuse them (core workerIdProblem).
  if (worker.trim() === '') throw invalid('worker', BLANK_WORKER_ID);
  if (worker.length > MAX_WORKER_ID) throw invalid('worker', `must be at most ${MAX_WORKER_ID} characters (a worker id)`);
  assertText(worker, 'worker');
}

/**
 * `answerWithinMs`: ignored in process, but of the right kind (a number of milliseconds, not negative).
 * Not bounded: a worker asks for a third of its longest lease, which may be years (a remote board
 * bounds its own wait).
 */
export function checkAnswerWithin(v: unknown): void {
  if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v) || v < 0)) throw invalid('answerWithinMs', 'must be a number of milliseconds, not negative');
}

/**
 * The jobboard calls' options as the library checks them, shared with the typed client (which checks
 * them before any request): the same error, field and message. `at` is the caller's instant.
 */

/** `claimRuns` / `claim`: `{ worker, types, limit, startNow?, due?, at?, answerWithinMs? }`. */
export function checkClaimOptions(opts: unknown): asserts opts is { worker: string; types: string[]; limit: number; startNow?: number; due?: boolean; at?: Date; answerWithinMs?: number } {
  requireOptions(opts, '{ worker, types, limit }');
  refuseUnknownKeys(opts as object, CLAIM_OPTIONS, 'options');
  const o = opts as { worker?: unknown; types?: unknown; limit?: unknown; startNow?: unknown; due?: unknown; at?: unknown; answerWithinMs?: unknown };
  if (!Number.isSafeInteger(o.limit) || (o.limit as number) < 0 || (o.limit as number) > INT4_MAX) throw invalid('limit', `must be an integer from 0 to ${INT4_MAX}`);
  if (o.startNow !== undefined && (!Number.isSafeInteger(o.startNow) || (o.startNow as number) < 0 || (o.startNow as number) > INT4_MAX)) throw invalid('startNow', `must be an integer from 0 to ${INT4_MAX}`);
  requireWorker(o.worker);
  if (!Array.isArray(o.types) || o.types.some((t) => typeof t !== 'string')) throw invalid('types', 'must be an array of task type names');
  assertStorable(o.types, 'types');
  checkFlag(o.due, 'due');
  checkAnswerWithin(o.answerWithinMs);
  checkDate(o.at, 'at');
}

/** `heartbeatRuns`: `{ worker, runs: [{ backendId, startedAt? }], at?, answerWithinMs? }`. */
export function checkHeartbeatRunsOptions(opts: unknown): asserts opts is { worker: string; runs: Array<{ backendId: string; startedAt?: Date }>; at?: Date; answerWithinMs?: number } {
  requireWorkerOptions(opts, '{ worker, runs }');
  refuseUnknownKeys(opts, HEARTBEAT_RUNS_OPTIONS, 'options');
  const o = opts as { runs?: unknown; at?: unknown; answerWithinMs?: unknown };
  checkAnswerWithin(o.answerWithinMs);
  if (!Array.isArray(o.runs)) throw invalid('runs', 'must be an array of { backendId, startedAt? }');
  refuseHoles(o.runs, 'runs');
  (o.runs as Array<{ backendId?: unknown; startedAt?: unknown } | null>).forEach((r, i) => {
    if (typeof r?.backendId !== 'string' || r.backendId === '') throw invalid(`runs[${i}].backendId`, 'a run backend id is required');
    assertText(r.backendId, `runs[${i}].backendId`);
    refuseUnknownKeys(r, ['backendId', 'startedAt'], `runs[${i}]`);
    checkDate(r.startedAt, `runs[${i}].startedAt`);
  });
  checkDate(o.at, 'at');
}

/** `releaseRuns`: `{ worker, backendIds, withdrawnOnly?, at?, answerWithinMs? }`. */
export function checkReleaseOptions(opts: unknown): asserts opts is { worker: string; backendIds: string[]; withdrawnOnly?: boolean; at?: Date; answerWithinMs?: number } {
  requireWorkerOptions(opts, '{ worker, backendIds }');
  refuseUnknownKeys(opts, RELEASE_OPTIONS, 'options');
  const o = opts as { backendIds?: unknown; withdrawnOnly?: unknown; at?: unknown; answerWithinMs?: unknown };
  checkAnswerWithin(o.answerWithinMs);
  if (!Array.isArray(o.backendIds) || o.backendIds.some((b) => typeof b !== 'string' || b === '')) {
    throw invalid('backendIds', 'must be an array of run backend ids');
  }
  assertStorable(o.backendIds, 'backendIds');
  checkFlag(o.withdrawnOnly, 'withdrawnOnly');
  checkDate(o.at, 'at');
}

/** `abandonRun(backendId, opts)`: the run's id, and `{ worker, reason?, startedAt?, at?, answerWithinMs? }`. */
export function checkAbandon(backendId: unknown, opts: unknown): asserts opts is { worker: string; reason?: string; startedAt?: Date | null; at?: Date; answerWithinMs?: number } {
  requireRunId(backendId);
  requireAbandonOptions(opts);
  refuseUnknownKeys(opts, ABANDON_OPTIONS, 'options');
  checkAnswerWithin((opts as { answerWithinMs?: unknown }).answerWithinMs);
  checkDate((opts as { at?: unknown }).at, 'at');
}
