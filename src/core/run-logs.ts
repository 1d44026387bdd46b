import { refuseHoles } from './options.js';
import { invalid } from './errors.js';
import { checkDate } from './instants.js';
import { LOG_LEVELS, type RunLogRecord } from './model.js';
import { assertJson, assertJsonObject } from './json-checks.js';

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

const RECORD_FIELDS = new Set(['at', 'level', 'message', 'attributes']);

/**
 * Checks log records a handler or client appends (the checks `POST /api/jobboard/logs` makes): each
 * a valid `at`, a known `level`, a text `message`, an object of `attributes`, nothing else; a
 * ValidationError naming `records[i].field` otherwise.
 */
export function checkLogRecords(records: readonly RunLogRecord[]): void {
  if (!Array.isArray(records)) throw invalid('records', 'must be an array of log records');
  if (records.length > MAX_LOG_APPEND) throw invalid('records', `at most ${MAX_LOG_APPEND} items`);
  refuseHoles(records, 'records');
  records.forEach((r, i) => {
    const at = `records[${i}]`;
    if (r === null || typeof r !== 'object') throw invalid(at, 'must be a log record { at, level, message, attributes }');
    const unknown = Object.keys(r).find((k) => !RECORD_FIELDS.has(k));
    if (unknown !== undefined) throw invalid(`${at}.${unknown}`, 'unknown field');
    if (r.at == null) throw invalid(`${at}.at`, 'must be a valid Date');
    checkDate(r.at, `${at}.at`);
    if (!(LOG_LEVELS as readonly string[]).includes(r.level)) throw invalid(`${at}.level`, `must be one of ${LOG_LEVELS.join(', ')}`);
    if (typeof r.message !== 'string') throw invalid(`${at}.message`, 'must be text');
    if (r.message.length > MAX_LOG_MESSAGE) throw invalid(`${at}.message`, `at most ${MAX_LOG_MESSAGE} characters`);
    if (r.attributes !== undefined) assertJsonObject(r.attributes, `${at}.attributes`);
    // Storable text, finite numbers, and nesting within the limit every interface applies (MAX_JSON_NESTING).
    assertJson({ message: r.message, attributes: r.attributes ?? {} }, at);
  });
}

/** The most characters of a log record's message the jobboard takes; a handler's longer one keeps its start and end. */
export const MAX_LOG_MESSAGE = 100_000;

/** The most log records one append takes (`appendRunLogs`, `POST /api/jobboard/logs`). */
export const MAX_LOG_APPEND = 10_000;
