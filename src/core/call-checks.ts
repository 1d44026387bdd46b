import { invalid, shown } from './errors.js';
import { checkInteger, refuseUnknownKeys, requireOptions } from './options.js';
import { assertStorable, assertText } from './storable.js';
import { parseInstant, requireInstant } from './instants.js';

/**
 * Checks of call arguments that the library (`Orrery` and its services) and the typed HTTP client
 * (`OrreryClient`) share, so that both refuse the same input with the same error, field and message,
 * the client before any request. Pure and light: the client, the dashboard's bundle and a worker import
 * them (no zod, no luxon).
 */

/** The options of task creation (`createTask`, `createTasks`, `createTasksDetailed`, and with `ids` `createTasksSummary`). */
export const CREATE_OPTIONS = ['at', 'traceContext'];

/** `listTaskTypes(names)`: left out, or an array of names Orrery can store. */
export function checkTypeNames(names: unknown): void {
  if (names === undefined) return;
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw invalid('names', 'must be an array of task type names');
  assertStorable(names, 'names');
}

/** A task type's edit (`updateTaskType(name, edit)`): an object of the fields to change. */
export function checkEditObject(given: unknown): void {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) throw invalid('', 'an edit must be an object of the fields to change');
}

/** The window of the readings over minutes before an instant (`runRates`, `listWorkers`): 1 to 1440, default 60. */
export function windowMinutes(minutes: unknown): number {
  return minutes === undefined ? 60 : checkInteger(minutes, 'minutes', 1, 1440);
}

/** The fields of a schedule preview (`schedules.preview`). */
export const PREVIEW_FIELDS = new Set(['cron', 'tz', 'rrule', 'count', 'from']);

/** A schedule preview's input: an object of PREVIEW_FIELDS only (its values are the preview's to check). */
export function checkPreviewShape(input: unknown): void {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw invalid('', 'a preview takes an object: { cron, tz } or { rrule }, with count and from');
  // A field it does not take (endAt, exclude: a task's bounds) is refused, not silently left out.
  for (const k of Object.keys(input)) if (!PREVIEW_FIELDS.has(k)) throw invalid(k, `unknown field (a preview takes ${[...PREVIEW_FIELDS].join(', ')}; a task's bounds and exclusions apply in its own preview, orrery.schedules.next)`);
}

/**
 * A preview's `from`: left out, now; a Date checked as every instant given as a Date (a valid one, not
 * before 4714-11-24 BC: an Invalid Date reached croner or rrule as a TypeError or RangeError); text
 * read as ISO 8601; anything else refused naming `from`.
 */
export function previewFrom(from: unknown, now: Date): Date {
  if (from === undefined) return now;
  if (from instanceof Date) return requireInstant(from, 'from');
  if (typeof from !== 'string') throw invalid('from', 'must be a Date or an ISO 8601 instant');
  return parseInstant(from, 'from');
}

/** A backfill's range (`{ from, to }`, a DAG's with `params`): an object with no other key (a misspelt one would be ignored, `dryRun` would run it for real). */
export function checkRangeKeys(input: unknown, keys: readonly string[]): void {
  requireOptions(input, `{ ${keys.join(', ')} }`);
  refuseUnknownKeys(input as object, keys, 'options');
}

/** `dags.get(id, latest)`: a DAG id (a string Orrery can store) and 0 to 100 latest runs. */
export function checkDagGet(id: unknown, latest: unknown): void {
  if (typeof id !== 'string') throw invalid('id', 'must be a DAG id (a string)');
  assertText(id, 'id');
  checkDagLatest(latest);
}

/** `dags.list(latest)` and `dags.get(id, latest)`: how many latest runs per DAG, 0 to 100 (as the routes' `latest`). */
export function checkDagLatest(latest: unknown): void {
  if (!(Number.isSafeInteger(latest) && (latest as number) >= 0 && (latest as number) <= 100)) throw invalid('latest', 'must be an integer from 0 to 100');
}

/**
 * `dags.runs(given, more)`: the DAG id with the rest beside it (`runs('etl', { status })`), or
 * everything in one filter object; a filter object with more beside it is refused (its limit was
 * ignored). Keys given as undefined count as left out.
 */
export function dagRunsFilter<F extends object>(given: string | F, more: object): F | (Record<string, unknown> & { dag: string }) {
  if (more === null || typeof more !== 'object' || more instanceof Date) throw invalid('filter', 'must be an object { status, limit, beforeId }');
  if (typeof given === 'string') return { ...more, dag: given };
  if (Object.values(more).some((v) => v !== undefined)) {
    throw invalid('filter', 'give the DAG id with the rest as runs(id, { status, limit, beforeId }), or everything in runs({ dag, status, limit, beforeId })');
  }
  return given;
}

/**
 * The DAG id a call names (`dags.grid`, `trigger`, `backfill`, `next`, `pause`, `resume`): a string
 * Orrery can store. Anything else is a ValidationError naming `path` on both stores (a number or an
 * object reached the driver: a TypeError on SQLite, not found on PostgreSQL).
 */
export function checkDagId(id: unknown, path = 'id'): string {
  if (typeof id !== 'string') throw invalid(path, 'must be a DAG id (a string)');
  assertText(id, path);
  return id;
}

/** A DAG id that names a stored DAG, so not empty (pause, resume and the other calls that read the DAG first). */
export function checkRequiredDagId(id: unknown, path = 'id'): string {
  if (checkDagId(id, path) === '') throw invalid(path, 'a DAG id is required');
  return id as string;
}

/** A DAG run id (`dags.run`, `attempts`, `cancel`, `restart`): a positive integer. */
export function checkDagRunId(runId: unknown, path = 'run'): number {
  if (!Number.isSafeInteger(runId) || (runId as number) <= 0) throw invalid(path, 'must be a DAG run id (a positive integer)');
  return runId as number;
}

/** A task of a DAG (`dags.attempts(runId, task)`): its id within the DAG, a string Orrery can store. */
export function checkDagTaskId(task: unknown, path = 'task'): string {
  if (typeof task !== 'string') throw invalid(path, "must be a DAG task's id (a string)");
  assertText(task, path);
  return task;
}

/** What `importTasks` reads: NDJSON text, or an async iterable or iterable of its text or byte chunks. */
export type ImportSource = string | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

/**
 * `importTasks(source)`: NDJSON as text, or a stream of it (an async iterable, or an iterable, of text
 * or byte chunks: a file's read stream, stdin, a request body). Anything else is a ValidationError
 * naming `source` (null or an object was a TypeError: not async iterable).
 */
export function checkImportSource(source: unknown): void {
  if (typeof source === 'string') return;
  let iterable = false;
  try {
    const s = source as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown } | null;
    iterable = s !== null && typeof s === 'object' && (typeof s[Symbol.asyncIterator] === 'function' || typeof s[Symbol.iterator] === 'function');
  } catch {
    // a Proxy whose traps throw: not a stream
  }
  if (!iterable) throw invalid('source', `must be NDJSON text or a stream of it (an async iterable of text or byte chunks), not ${shown(source)}`);
}

/** A chunk an import's stream yields, as bytes: text (as UTF-8) or bytes (a Uint8Array, a Buffer); else a ValidationError naming `source`. */
export function importChunk(piece: unknown, encoder: TextEncoder): Uint8Array {
  if (typeof piece === 'string') return encoder.encode(piece);
  if (piece instanceof Uint8Array) return piece;
  throw invalid('source', `yields chunks of text or bytes (a Uint8Array), not ${shown(piece)}`);
}
