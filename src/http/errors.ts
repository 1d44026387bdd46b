import { OrreryError, StorageUnavailableError } from '../core/errors.js';

export interface ErrorBody {
  /** `requestId` is set on 5xx answers: the id under which the server logged the error. */
  error: { code: string; message: string; details: { path: string; message: string }[]; requestId?: string };
}

/** One place maps error codes to HTTP statuses: input 400, unknown ids 404, conflicts 409, invalid transitions 422. */
const STATUS: Record<string, number> = {
  validation_error: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  lease_lost: 409,
  stale_data: 409,
  invalid_transition: 422,
  payload_too_large: 413,
  request_timeout: 408,
  headers_too_large: 431,
  unsupported_media_type: 415,
  schema_too_new: 503,
  storage_error: 503,
  storage_unavailable: 503,
  storage_read_only: 503,
};

/** A request the HTTP layer itself refuses (bad JSON, bad path parameter...). */
export class HttpError extends OrreryError {
  override readonly code: string;
  constructor(code: string, message: string, details: { path: string; message: string }[] = []) {
    super(message, details);
    this.code = code;
  }
}

export function toErrorResponse(e: unknown): { status: number; body: ErrorBody } {
  // The stores translate their drivers' transient errors (connection lost, busy, disk full) into this.
  if (e instanceof StorageUnavailableError) {
    return { status: 503, body: { error: { code: e.code, message: 'the database is unavailable; retry later', details: [] } } };
  }
  if (e instanceof OrreryError) {
    return { status: STATUS[e.code] ?? 400, body: { error: { code: e.code, message: e.message, details: e.details } } };
  }
  // Not Orrery's verdict: a bug. Not the client's fault, and not worth retrying as it is.
  return { status: 500, body: { error: { code: 'internal', message: 'internal error', details: [] } } };
}
