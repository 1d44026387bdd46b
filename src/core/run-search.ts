import { assertText, longerThan } from './storable.js';
import { invalid, shown } from './errors.js';
import { EARLIEST_INSTANT_MS, LATEST_INSTANT_MS, parseInstant, requireInstant } from './instants.js';
import { RUN_END_STATUSES, RUN_STATUSES, type RunStatus } from './model.js';
import { refuseUnknownKeys } from './options.js';

/**
 * Runs across tasks (`orrery run list`, `GET /api/runs`): newest first, by keyset pages. When every
 * status asked for is final, runs are ordered by `ended` (then id) and `since`/`until` bound `ended`:
 * the range is read from `task_runs_finished (ended, id)`. Otherwise they are ordered by id (creation
 * order) and `since`/`until` bound `scheduled`; waiting and held runs come from their partial indexes.
 */
export interface RunSearch {
  statuses: RunStatus[] | null;
  type: string | null;
  worker: string | null;
  since: Date | null;
  until: Date | null;
  limit: number;
  /** Where the previous page stopped (from `nextCursor`). */
  after: RunCursor | null;
  /** `ended` when every status is final, else `id`. */
  by: 'ended' | 'id';
}

export type RunCursor = { ended: number; id: number } | { id: number };

export const DEFAULT_RUN_PAGE = 100;
export const MAX_RUN_PAGE = 1000;

export interface RunSearchInput {
  status?: readonly string[] | string;
  type?: string;
  worker?: string;
  since?: Date | string;
  until?: Date | string;
  limit?: number;
  cursor?: string;
}

const FINAL = new Set<string>(RUN_END_STATUSES);
/** Statuses of the failures index (`task_runs_failures`): a search for only these reads that index. */
export const FAILURE_STATUSES = ['failed', 'permfailed', 'lost'] as const;

/** True when every status searched for is a failure: the page comes from the failures index. */
export function onlyFailures(s: RunSearch): boolean {
  return s.statuses !== null && s.statuses.every((x) => (FAILURE_STATUSES as readonly string[]).includes(x));
}

/** Validates a run search, naming the field of every problem (a ValidationError). */
/** The fields of a run search (`searchRuns`, `GET /api/runs`). */
export const RUN_SEARCH_FIELDS = ['status', 'type', 'worker', 'since', 'until', 'limit', 'cursor'] as const;

export function runSearch(input: RunSearchInput = {}): RunSearch {
  refuseUnknownKeys(input, RUN_SEARCH_FIELDS, '');
  if (input.status !== undefined && typeof input.status !== 'string' && !Array.isArray(input.status)) throw invalid('status', 'must be run statuses: an array, or comma-separated text');
  const raw: unknown[] = input.status === undefined ? [] : typeof input.status === 'string' ? input.status.split(',') : [...input.status];
  // Each item a status's name (a number or null was a TypeError here).
  for (const s of raw) if (typeof s !== 'string') throw invalid('status', `"${shown(s)}" is not a run status (one of ${RUN_STATUSES.join(', ')})`);
  const statuses = (raw as string[]).map((s) => s.trim()).filter((s) => s !== '');
  // Given, a status filter names one status at least: `?status=` is a mistake, not "any status".
  if (input.status !== undefined && statuses.length === 0) throw invalid('status', `must name a run status or a list of them (${RUN_STATUSES.join(', ')})`);
  for (const s of statuses) if (!(RUN_STATUSES as readonly string[]).includes(s)) throw invalid('status', `"${shown(s)}" is not a run status (one of ${RUN_STATUSES.join(', ')})`);
  const limit = input.limit ?? DEFAULT_RUN_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RUN_PAGE) throw invalid('limit', `must be an integer from 1 to ${MAX_RUN_PAGE}`);
  const when = (v: Date | string | undefined, path: string) => {
    if (v === undefined) return null;
    if (v instanceof Date) return requireInstant(v, path);
    if (typeof v !== 'string') throw invalid(path, 'must be a Date or an ISO 8601 instant');
    return parseInstant(v, path);
  };
  const since = when(input.since, 'since');
  const until = when(input.until, 'until');
  if (since && until && since.getTime() >= until.getTime()) throw invalid('until', 'must be after since');
  const by = statuses.length > 0 && statuses.every((s) => FINAL.has(s)) ? 'ended' : 'id';
  return {
    statuses: statuses.length > 0 ? [...new Set(statuses)] as RunStatus[] : null,
    type: text(input.type, 'type'),
    worker: text(input.worker, 'worker'),
    since,
    until,
    limit,
    after: input.cursor === undefined ? null : decodeRunCursor(input.cursor, by),
    by,
  };
}

function text(v: string | undefined, path: string): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v === '' || longerThan(v, 512)) throw invalid(path, 'must be a non-empty string of at most 512 characters');
  assertText(v, path); // PostgreSQL cannot compare a NUL: refused on both stores, as stored text refuses it
  return v;
}

/** The cursor of the page after `last` (the last run of a full page). */
export function encodeRunCursor(last: { id: number; ended: Date | null }, by: RunSearch['by']): string {
  const c: RunCursor = by === 'ended' ? { ended: last.ended!.getTime(), id: last.id } : { id: last.id };
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeRunCursor(text: string, by: RunSearch['by']): RunCursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid('cursor', 'is not a cursor of this listing (pass nextCursor from the previous page)');
  }
  const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  // An end instant both stores hold (a run may have ended before 1970: its cursor's instant is negative).
  const instant = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= EARLIEST_INSTANT_MS && n <= LATEST_INSTANT_MS;
  const o = c as { ended?: unknown; id?: unknown };
  if (c === null || typeof c !== 'object' || !ok(o.id) || (by === 'ended' ? !instant(o.ended) : o.ended !== undefined)) {
    throw invalid('cursor', 'is not a cursor of this listing (pass nextCursor from the previous page, with the same filters)');
  }
  return by === 'ended' ? { ended: o.ended as number, id: o.id as number } : { id: o.id as number };
}
