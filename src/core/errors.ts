/** Every error Orrery raises on purpose carries a stable `code`; adapters map codes, never messages. */
export interface ErrorDetail {
  path: string;
  message: string;
}

export class OrreryError extends Error {
  readonly code: string = 'orrery_error';
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

export class SchemaTooNewError extends OrreryError {
  override readonly code = 'schema_too_new';
}

/** The database could not be opened or read (missing directory, corrupt file, full disk...). */
export class StorageError extends OrreryError {
  override readonly code = 'storage_error';
}

/** Thrown by a handler: the run ends `permfailed` and the task is disabled. */
export class PermanentFailure extends Error {
  constructor(message = 'permanent failure') {
    super(message);
    this.name = 'PermanentFailure';
  }
}

/** Thrown by a handler: the run ends `failed` and the retry comes after `delayMs` instead of the type's retry delay. */
export class RetryAfter extends Error {
  readonly delayMs: number;
  constructor(delayMs: number, message?: string) {
    super(message ?? `retry after ${delayMs} ms`);
    this.name = 'RetryAfter';
    if (!Number.isFinite(delayMs) || delayMs < 0) throw new ValidationError(`RetryAfter: delay must be a non-negative number of ms, got ${delayMs}`);
    this.delayMs = Math.round(delayMs);
  }
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

/** Builds a ValidationError whose message names the field. */
export function invalid(path: string, message: string): ValidationError {
  return new ValidationError(path ? `${path}: ${message}` : message, [{ path, message }]);
}
