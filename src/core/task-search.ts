import { invalid, shown } from './errors.js';
import { parseInstant, requireInstant } from './instants.js';
import { DISABLED_REASONS, PRIORITIES, TASK_POLICIES, TASK_STATUSES, priorityRank, type DisabledReason, type Priority, type TaskPolicy, type TaskStatus } from './model.js';
import { INT4_MAX, checkCountLimit, checkTypeName, longerThan, textProblem } from './storable.js';
import { refuseUnknownKeys } from './options.js';

/**
 * Server-side task search (`orrery task list`, `GET /api/tasks`, the dashboard): tasks in id order,
 * by keyset pages (the cursor is the id the previous page stopped at).
 *
 * Each page is read from the index its equality filters select (`searchPath`): the concurrency key
 * (`tasks_concurrency_key`), paused tasks (`tasks_paused`, which holds only those: by type, or all of
 * them sorted by id), the type and status (`tasks_type_status`, one id-ordered range per status,
 * merged), the status (`tasks_status`), or the primary key. The other filters (priority, policy,
 * disabled reason, DAG attempts, not paused, next-run range, argument text) are checked on the rows of
 * that range; a page examines at most TASK_SCAN_LIMIT of them, so a rare match never reads a whole table:
 * a page that reaches the bound before `limit` matches ends there (`partial`) with a cursor to go on.
 */
export interface TaskSearch {
  type: string | null;
  /** null: any status; `[]`: the filters contradict each other and nothing matches. */
  statuses: TaskStatus[] | null;
  /** The priority rank (0 high … 3 none), or null for any. */
  priorityRank: number | null;
  policy: TaskPolicy | null;
  /** Only disabled tasks with one of these reasons; null for any. */
  disabledReasons: DisabledReason[] | null;
  /** false: leave DAG attempts out; true: only those; null: both. */
  dagAttempts: boolean | null;
  /** true: only tasks whose schedule is paused (`pausedAt` set); false: only those not paused; null: both. */
  paused: boolean | null;
  /** `nextRun >= nextRunFrom`. */
  nextRunFrom: Date | null;
  /** `nextRun < nextRunBefore`. */
  nextRunBefore: Date | null;
  concurrencyKey: string | null;
  /** Argument text: a string value of args or kwargs (at any depth) contains it, or starts with it; ASCII case ignored. */
  args: { text: string; match: ArgsMatch } | null;
  /** Only these task ids (at most MAX_SEARCH_IDS; the library's bulk selections use it). */
  ids: number[] | null;
  limit: number;
  /** Tasks with an id above this one (the previous page's cursor). */
  afterId: number | null;
}

export const ARGS_MATCHES = ['substring', 'prefix'] as const;
export type ArgsMatch = (typeof ARGS_MATCHES)[number];

export const DEFAULT_TASK_PAGE = 100;
export const MAX_TASK_PAGE = 1000;
/** Most tasks of its index range one page examines when filters beyond the indexed ones are given. */
export const TASK_SCAN_LIMIT = 10_000;
export const MAX_SEARCH_IDS = 10_000;
const MAX_TEXT = 512;

export interface TaskSearchInput {
  type?: string;
  /** One status, several, or a comma-separated list. */
  status?: TaskStatus | readonly TaskStatus[] | string;
  /** A priority, or `none` / `null` for tasks without one. */
  priority?: Priority | 'none' | null;
  policy?: TaskPolicy;
  /** One reason, several, or a comma-separated list (implies status `disabled`). */
  disabledReason?: DisabledReason | readonly DisabledReason[] | string;
  dagAttempts?: boolean;
  /** true: only tasks whose schedule is paused; false: only those not paused. */
  paused?: boolean;
  nextRunFrom?: Date | string;
  nextRunBefore?: Date | string;
  concurrencyKey?: string;
  /** Argument text to look for (see TaskSearch.args). */
  args?: string;
  argsMatch?: ArgsMatch;
  ids?: readonly number[];
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
}

/** What a store answers for one page: the tasks, and where the scan stopped when it reached TASK_SCAN_LIMIT. */
export interface TaskSearchRows<T> {
  tasks: T[];
  /** The id of the last task examined when the page stopped at the scan bound; null otherwise. */
  scanEnd: number | null;
}

/** A page of a task search. */
export interface TaskSearchPage<T> {
  tasks: T[];
  /** Continue after this page (same filters); null on the last page. */
  nextCursor: string | null;
  /** The page stopped at the scan bound before `limit` matches: more may match after `nextCursor`. */
  partial: boolean;
}

/** Validates a task search, naming the field of every problem (a ValidationError). */
/** The fields of a task search (`findTasks`, `GET /api/tasks`); a bulk action's filter takes them less the paging ones. */
export const TASK_SEARCH_FIELDS = ['type', 'status', 'priority', 'policy', 'disabledReason', 'dagAttempts', 'paused', 'nextRunFrom', 'nextRunBefore', 'concurrencyKey', 'args', 'argsMatch', 'ids', 'limit', 'cursor'] as const;

export function taskSearch(input: TaskSearchInput = {}): TaskSearch {
  if (input === null || typeof input !== 'object') throw invalid('', 'a task search must be an object');
  // A misspelt filter (`typ`) would otherwise be left out without a word: every task would match it.
  refuseUnknownKeys(input, TASK_SEARCH_FIELDS, '');
  const statuses = list(input.status, TASK_STATUSES, 'status', 'a task status');
  const reasons = list(input.disabledReason, DISABLED_REASONS, 'disabledReason', 'a disabled reason');
  const limit = input.limit ?? DEFAULT_TASK_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_PAGE) throw invalid('limit', `must be an integer from 1 to ${MAX_TASK_PAGE}`);
  const from = when(input.nextRunFrom, 'nextRunFrom');
  const before = when(input.nextRunBefore, 'nextRunBefore');
  if (from && before && from.getTime() >= before.getTime()) throw invalid('nextRunBefore', 'must be after nextRunFrom');
  if (input.policy !== undefined && !(TASK_POLICIES as readonly string[]).includes(input.policy)) throw invalid('policy', `must be one of ${TASK_POLICIES.join(', ')}`);
  if (input.dagAttempts !== undefined && typeof input.dagAttempts !== 'boolean') throw invalid('dagAttempts', 'must be true or false');
  if (input.paused !== undefined && typeof input.paused !== 'boolean') throw invalid('paused', 'must be true or false');
  if (input.argsMatch !== undefined && !(ARGS_MATCHES as readonly string[]).includes(input.argsMatch)) throw invalid('argsMatch', `must be one of ${ARGS_MATCHES.join(', ')}`);
  const argsText = text(input.args, 'args');
  if (input.argsMatch !== undefined && argsText === null) throw invalid('argsMatch', 'only applies with args');
  // A disabled reason implies the status `disabled`.
  const narrowed = reasons === null ? statuses : (statuses ?? ['disabled']).filter((s) => s === 'disabled');
  return {
    type: text(input.type, 'type'),
    statuses: narrowed,
    priorityRank: priority(input.priority),
    policy: input.policy ?? null,
    disabledReasons: reasons,
    dagAttempts: input.dagAttempts ?? null,
    paused: input.paused ?? null,
    nextRunFrom: from,
    nextRunBefore: before,
    concurrencyKey: text(input.concurrencyKey, 'concurrencyKey'),
    args: argsText === null ? null : { text: lowerAscii(argsText), match: input.argsMatch ?? 'substring' },
    ids: ids(input.ids),
    limit,
    afterId: input.cursor === undefined ? null : decodeTaskCursor(input.cursor),
  };
}

/** ASCII letters lowercased, every other character kept: the same in JavaScript, SQLite and PostgreSQL. */
export function lowerAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** How a page is read: which index range, and whether other filters are checked on its rows (bounded). */
export interface SearchPath {
  index: 'ids' | 'concurrency_key' | 'paused' | 'type_status' | 'status' | 'id';
  /** type_status and status: one id-ordered range per status, merged. */
  statuses: TaskStatus[];
  /** Filters checked on the rows of the range: the page examines at most TASK_SCAN_LIMIT of them. */
  bounded: boolean;
}

export function searchPath(s: TaskSearch): SearchPath {
  const others =
    s.priorityRank !== null || s.policy !== null || s.disabledReasons !== null || s.dagAttempts !== null ||
    s.nextRunFrom !== null || s.nextRunBefore !== null || s.args !== null || s.paused === false;
  // A list of ids bounds the page by itself.
  if (s.ids !== null) return { index: 'ids', statuses: [], bounded: false };
  if (s.concurrencyKey !== null) return { index: 'concurrency_key', statuses: [], bounded: others || s.paused === true || s.type !== null || s.statuses !== null };
  // Paused tasks are few (a partial index of them only), so their index beats the type's and the status's.
  if (s.paused === true) return { index: 'paused', statuses: [], bounded: others || s.statuses !== null };
  if (s.type !== null) return { index: 'type_status', statuses: s.statuses ?? [...TASK_STATUSES], bounded: others };
  if (s.statuses !== null) return { index: 'status', statuses: s.statuses, bounded: others };
  return { index: 'id', statuses: [], bounded: others };
}

/** The page a store's rows make: the cursor after the last task, or after the scan bound. */
export function taskPage<T extends { id: number }>(s: TaskSearch, rows: TaskSearchRows<T>): TaskSearchPage<T> {
  const last = rows.tasks[rows.tasks.length - 1];
  if (rows.tasks.length >= s.limit) return { tasks: rows.tasks, nextCursor: String(last!.id), partial: false };
  if (rows.scanEnd !== null) return { tasks: rows.tasks, nextCursor: String(rows.scanEnd), partial: true };
  return { tasks: rows.tasks, nextCursor: null, partial: false };
}

export function decodeTaskCursor(cursor: string): number {
  // A task id: any whole number a JavaScript number holds exactly (the CLI's --after takes one as given).
  if (typeof cursor !== 'string' || !/^\d{1,16}$/.test(cursor) || Number(cursor) > Number.MAX_SAFE_INTEGER) throw invalid('cursor', 'is not a cursor of this listing (pass nextCursor from the previous page)');
  return Number(cursor);
}

function list<T extends string>(v: T | readonly T[] | string | undefined, allowed: readonly T[], path: string, what: string): T[] | null {
  if (v === undefined) return null;
  const raw = typeof v === 'string' ? v.split(',') : Array.isArray(v) ? v : null;
  if (raw === null) throw invalid(path, `must be ${what} or a list of them`);
  const items = raw.map((x) => (typeof x === 'string' ? x.trim() : x));
  if (items.length === 0) throw invalid(path, `must be ${what} or a list of them`);
  for (const x of items) if (!(allowed as readonly unknown[]).includes(x)) throw invalid(path, `"${shown(x)}" is not ${what} (one of ${allowed.join(', ')})`);
  return [...new Set(items)] as T[];
}

function priority(p: TaskSearchInput['priority']): number | null {
  if (p === undefined) return null;
  if (p === null || p === 'none') return priorityRank(null);
  if (!(PRIORITIES as readonly string[]).includes(p)) throw invalid('priority', `must be one of ${PRIORITIES.join(', ')} or none`);
  return priorityRank(p);
}

function text(v: unknown, path: string): string | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || v === '' || longerThan(v, MAX_TEXT)) throw invalid(path, `must be a non-empty string of at most ${MAX_TEXT} characters`);
  const problem = textProblem(v);
  if (problem) throw invalid(path, problem);
  return v;
}

function when(v: Date | string | undefined, path: string): Date | null {
  if (v === undefined) return null;
  if (v instanceof Date) return requireInstant(v, path);
  if (typeof v !== 'string') throw invalid(path, 'must be an ISO 8601 instant');
  return parseInstant(v, path);
}

function ids(v: readonly number[] | undefined): number[] | null {
  if (v === undefined) return null;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_SEARCH_IDS) throw invalid('ids', `must be a list of 1 to ${MAX_SEARCH_IDS} task ids`);
  v.forEach((id, i) => {
    if (!Number.isSafeInteger(id) || id <= 0) throw invalid(`ids[${i}]`, `"${shown(id)}" is not a task id`);
  });
  return [...new Set(v)].sort((a, b) => a - b);
}

/**
 * Checks the plain filter of `searchTasks` (store TaskFilter): each field one of its values, so a
 * misspelt status is a ValidationError naming it, as `findTasks` refuses it, not an empty answer.
 */
export function checkTaskFilter(f: { type?: unknown; status?: unknown; priority?: unknown; policy?: unknown; disabledReason?: unknown; dagAttempts?: unknown; afterId?: unknown; limit?: unknown }): void {
  refuseUnknownKeys(f, ['type', 'status', 'priority', 'policy', 'disabledReason', 'dagAttempts', 'afterId', 'limit'], '');
  const oneOf = (v: unknown, allowed: readonly unknown[], path: string) => {
    if (v !== undefined && !allowed.includes(v)) throw invalid(path, `must be one of ${allowed.join(', ')}`);
  };
  if (f.type !== undefined) checkTypeName(f.type, 'type', true);
  if (f.dagAttempts !== undefined && typeof f.dagAttempts !== 'boolean') throw invalid('dagAttempts', 'must be true or false');
  oneOf(f.status, TASK_STATUSES, 'status');
  if (f.priority !== null) oneOf(f.priority, PRIORITIES, 'priority');
  oneOf(f.policy, TASK_POLICIES, 'policy');
  oneOf(f.disabledReason, DISABLED_REASONS, 'disabledReason');
  if (f.afterId !== undefined && !Number.isSafeInteger(f.afterId)) throw invalid('afterId', 'must be an integer');
  if (f.limit !== undefined) checkCountLimit(f.limit);
}

/** `listPending`'s limit (the library's and the typed client's): an integer from 0 to INT4_MAX, default 1,000. */
export function pendingLimit(limit: unknown): number {
  const n = limit ?? 1000;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > INT4_MAX) throw invalid('limit', `must be an integer from 0 to ${INT4_MAX}`);
  return n;
}
