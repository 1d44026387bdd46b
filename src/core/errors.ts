import { MAX_DURATION_MS } from './duration-limit.js';

/** Every error Orrery raises on purpose carries a stable `code`; adapters map codes, never messages. */
export interface ErrorDetail {
  /** The field, as a dotted path (`tasks[3].type`, `schedule.expr`); empty for the input as a whole. */
  path: string;
  /** What is wrong with it. */
  message: string;
}

export class OrreryError extends Error {
  /** Stable error code (`validation_error`, `not_found`, `conflict`, ...) that adapters map to exit codes and HTTP statuses. */
  readonly code: string = 'orrery_error';
  /** Each problem with the field it concerns (validation errors name every bad field). */
  readonly details: ErrorDetail[];
  constructor(message: string, details: ErrorDetail[] = []) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

/** Input that can never succeed as given (bad field, bad duration, unknown status...). */
export class ValidationError extends OrreryError {
  override readonly code = 'validation_error';
}

/** A DAG whose dependencies loop; `cycle` is the loop as a path that ends where it starts. */
export class CycleError extends ValidationError {
  /** The loop of task ids, ending where it starts. */
  readonly cycle: string[];
  constructor(message: string, cycle: string[] = []) {
    super(message, [{ path: 'tasks', message: `cycle: ${cycle.join(' -> ')}` }]);
    this.cycle = cycle;
  }
}

export class NotFoundError extends OrreryError {
  override readonly code = 'not_found';
}

/** The request is valid but clashes with the current state (duplicate name, task already scheduled...). */
export class ConflictError extends OrreryError {
  override readonly code = 'conflict';
}

/**
 * A task whose identity an active task holds, created with `onConflict: 'error'`: `holder` is that
 * task's id. In a batch, the holder may be an earlier task of the same batch, whose id is rolled back
 * with it (the batch's message then names the row instead, engine/task-import.ts).
 */
export class TaskConflictError extends ConflictError {
  /** The id of the active task that holds the identity. */
  readonly holder: number;
  constructor(message: string, details: ErrorDetail[], holder: number) {
    super(message, details);
    this.holder = holder;
  }
}

/** A run or task state change that the state machine does not allow (ending a run twice...). */
export class InvalidTransitionError extends OrreryError {
  override readonly code = 'invalid_transition';
}

/** A heartbeat or end for a run this worker no longer holds. */
export class LeaseLostError extends OrreryError {
  override readonly code = 'lease_lost';
}

/** An optimistic update based on stale data (a lister whose `updated` instant no longer matches). */
export class StaleDataError extends OrreryError {
  override readonly code = 'stale_data';
}

/** The specification's names for two of them (`LeaseLost`, `StaleData`): the same classes. */
export { LeaseLostError as LeaseLost, StaleDataError as StaleData };

export class SchemaTooNewError extends OrreryError {
  override readonly code = 'schema_too_new';
}

/** The database could not be opened or read (missing directory, corrupt file...). */
export class StorageError extends OrreryError {
  override readonly code: string = 'storage_error';
  /** `cause`: the driver's error, when there is one. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
  }
}

/**
 * The database refuses writes from this process: a SQLite file (or its directory, or its -wal and -shm
 * files) this process may not write, a PostgreSQL standby or a role or database with
 * `default_transaction_read_only`. Retrying does not help until an operator fixes it, so a daemon does
 * not start on such a database (`startServer` checks it first, Store.assertWritable).
 */
export class StorageReadOnlyError extends StorageError {
  override readonly code = 'storage_read_only';
}

/**
 * The database is unavailable for now: the connection was refused, lost or timed out, the server is
 * shutting down or starting up, it has too many connections, a SQLite file is locked or busy past the
 * busy timeout, or the disk is full or failing. Each store's error translation raises it from its
 * driver's error codes (never message text), and the HTTP client raises it for a network failure or a
 * 502/503/504. It is the only error the worker and its run ends retry (docs/guarantees.md);
 * the driver's error is its `cause`.
 */
export class StorageUnavailableError extends StorageError {
  override readonly code = 'storage_unavailable';
}

/**
 * Node's error codes for a network failure (connection refused, reset or timed out, host or name
 * unreachable), and undici's for a socket closed or timed out under a fetch: the other side may be
 * back later.
 */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'EHOSTDOWN',
  'ENETUNREACH', 'ENETDOWN', 'ENETRESET',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED',
]);

/** True when `e` (or the errors it aggregates) carries a network failure's code. */
export function isNetworkError(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
  const inner = (e as { errors?: unknown }).errors; // AggregateError: every address of a host refused
  return Array.isArray(inner) && inner.length > 0 && inner.every(isNetworkError);
}

/** True for a StorageUnavailableError, or an error carrying its code (rebuilt elsewhere): worth retrying. */
export function isStorageUnavailable(e: unknown): boolean {
  return hasCode(e, 'storage_unavailable');
}

/** Thrown by a handler: the run ends `permfailed` and the task is disabled. */
export class PermanentFailure extends Error {
  constructor(message = 'permanent failure') {
    super(message);
    this.name = 'PermanentFailure';
  }
}

/**
 * Thrown by a handler: the run ends `failed` and the retry comes after `delayMs` instead of the type's
 * retry delay. With `{ throttle: true }` it also signals pressure downstream (a 429, a 503): the
 * effective rate of the run's type, or of its key, drops (docs/limits.md#adaptive-limits).
 */
export class RetryAfter extends Error {
  /** Milliseconds from the end of the run to its retry. */
  readonly delayMs: number;
  /** The handler met pressure downstream: lower the rate (docs/limits.md#adaptive-limits). */
  readonly throttle: boolean;
  constructor(delayMs: number, options?: string | { message?: string; throttle?: boolean }) {
    const opts = typeof options === 'string' ? { message: options } : (options ?? {});
    // Its options checked as every call's are: a throttle of 'yes' was read as false, a misspelt option ignored.
    const optionProblem = retryAfterOptionsProblem(options);
    super(optionProblem === undefined && typeof opts.message === 'string' ? opts.message : `retry after ${delayMs} ms`);
    this.name = 'RetryAfter';
    if (optionProblem !== undefined) throw new ValidationError(`RetryAfter: ${optionProblem.path}: ${optionProblem.message}`, [optionProblem]);
    // Named as the field it becomes (delayMs), like every ValidationError's details.
    const problem = (message: string) => new ValidationError(`RetryAfter: delay ${message}, got ${delayMs}`, [{ path: 'delayMs', message }]);
    if (!Number.isFinite(delayMs) || delayMs < 0) throw problem('must be a non-negative number of ms');
    if (delayMs > MAX_DURATION_MS) throw problem(`must be at most 100 years (${MAX_DURATION_MS} ms)`);
    this.delayMs = Math.round(delayMs);
    this.throttle = opts.throttle === true;
  }
}

/** What is wrong with RetryAfter's second argument (a message, or `{ message?, throttle? }`), if anything. */
function retryAfterOptionsProblem(options: unknown): { path: string; message: string } | undefined {
  if (options === undefined || typeof options === 'string') return undefined;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return { path: 'options', message: 'must be a message or { message?, throttle? }' };
  for (const k of Object.keys(options)) if (k !== 'message' && k !== 'throttle') return { path: k, message: 'unknown option (RetryAfter takes message and throttle)' };
  const o = options as { message?: unknown; throttle?: unknown };
  if (o.message !== undefined && typeof o.message !== 'string') return { path: 'message', message: 'must be a string' };
  if (o.throttle !== undefined && typeof o.throttle !== 'boolean') return { path: 'throttle', message: 'must be a boolean' };
  return undefined;
}

/** The `code` of every OrreryError class above. */
export const ORRERY_ERROR_CODES = [
  'orrery_error',
  'validation_error',
  'not_found',
  'conflict',
  'invalid_transition',
  'lease_lost',
  'stale_data',
  'schema_too_new',
  'storage_error',
  'storage_unavailable',
  'storage_read_only',
] as const;

export type OrreryErrorCode = (typeof ORRERY_ERROR_CODES)[number];

/** True when `e` carries the string `code` given (an OrreryError, or one rebuilt by a remote client). */
export function hasCode<C extends OrreryErrorCode>(e: unknown, code: C): e is { code: C } {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === code;
}

/**
 * True for an OrreryError, or an error from elsewhere (a remote client, another copy of this module)
 * carrying one of OrreryError's codes: Orrery's verdict, as opposed to a failure to reach it.
 */
export function isOrreryError(e: unknown): e is { code: OrreryErrorCode } {
  if (e instanceof OrreryError) return true;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return typeof code === 'string' && (ORRERY_ERROR_CODES as readonly string[]).includes(code);
}

/** Longest string `shown` writes whole. */
const SHOWN_TEXT = 200;
/** Most items of an array `shown` writes. */
const SHOWN_ITEMS = 5;

/**
 * An offending value as an error message shows it, bounded whatever it is: a string cut at 200
 * characters, a number, boolean, bigint, symbol, null or undefined as written, a Date as ISO text, an
 * array as its first few items one level deep (`[1, 'a', an array, ...]`), anything else by its kind
 * (`an object`, `a function`, `a Map`). Never `String()` of an arbitrary value: a deeply nested array
 * overflows the stack there, a strict object's toString throws, a huge one makes a huge message.
 */
export function shown(v: unknown, depth = 0): string {
  switch (typeof v) {
    case 'string':
      return v.length > SHOWN_TEXT ? `${v.slice(0, SHOWN_TEXT)}... (${v.length} characters)` : v;
    case 'number': case 'boolean': case 'bigint': case 'undefined':
      return String(v);
    case 'symbol':
      return v.toString();
    case 'function':
      return 'a function';
  }
  if (v === null) return 'null';
  try {
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    if (Array.isArray(v)) {
      if (depth > 0) return 'an array';
      const items = v.slice(0, SHOWN_ITEMS).map((x: unknown) => (typeof x === 'string' ? JSON.stringify(shown(x)) : shown(x, 1)));
      return `[${items.join(', ')}${v.length > SHOWN_ITEMS ? `, ... (${v.length} items)` : ''}]`;
    }
    const name = (Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    if (typeof name === 'string' && name !== '' && name !== 'Object') return `a ${name}`;
  } catch {
    // a Proxy whose traps throw: its kind is all it shows
  }
  return 'an object';
}

/** Builds a ValidationError whose message names the field. */
export function invalid(path: string, message: string): ValidationError {
  return new ValidationError(path ? `${path}: ${message}` : message, [{ path, message }]);
}

/**
 * The path of a field as errors name it: `prefix.field[index].field` (`tasks[1].type`,
 * `query.limit`, `dags[0].tasks[2].after[0]`), whatever produced the segments.
 */
export function fieldPath(prefix: string, segments: readonly PropertyKey[]): string {
  let out = prefix;
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}
