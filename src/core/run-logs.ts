import { invalid } from './errors.js';

/** Which of a run's log records to read (`getRunLogs`): a page after a cursor, for live logs. */
export interface RunLogQuery {
  /** Only records with an id greater than this (the id of the last record already read). */
  after?: number;
  /** At most this many records (default: all). */
  limit?: number;
}

/** The most records one read of a run's log returns when a limit is given. */
export const MAX_LOG_PAGE = 10_000;

/** Validates a log read, naming the field of a problem (a ValidationError). */
export function runLogQuery(input: RunLogQuery = {}): RunLogQuery {
  const { after, limit } = input;
  if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) throw invalid('after', 'must be a non-negative integer (a log record id)');
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_LOG_PAGE)) throw invalid('limit', `must be an integer from 1 to ${MAX_LOG_PAGE}`);
  return { ...(after !== undefined ? { after } : {}), ...(limit !== undefined ? { limit } : {}) };
}
