import {
  ConflictError,
  InvalidTransitionError,
  LeaseLostError,
  StaleDataError,
  NotFoundError,
  OrreryError,
  SchemaTooNewError,
  StorageError,
  StorageReadOnlyError,
  StorageUnavailableError,
  ValidationError,
  invalid,
  isNetworkError,
  type ErrorDetail,
} from '../core/errors.js';
import type { TaskTypeEdit } from '../core/task-type-edit.js';
import type { TaskSearchInput } from '../core/task-search.js';
import type { RunSearchInput } from '../core/run-search.js';
import type { BulkAction, BulkResult } from '../core/bulk.js';
import type { BulkSelectionInput } from '../core/bulk.js';
import type { WhyAnswer } from '../core/why.js';
import type { RunLogRecord, StoredRunLogRecord, Task, TaskRun, TaskType } from '../core/model.js';
import type { RunLogQuery } from '../core/run-logs.js';
import type { TaskInput, TaskTypeInput } from '../core/validation.js';
import type { ClaimOptions, Jobboard } from '../engine/jobboard.js';
import { MAX_HTTP_CLAIM } from '../core/claim-ahead.js';
import { utf8Length } from '../core/storable.js';
import type { RegisteredWorker, WorkerInfo } from '../core/worker-registry.js';
import type { EndRunOptions, TaskWithRuns } from '../engine/service.js';
import type { TaskBatchSummary, TaskImportSummary } from '../engine/task-import.js';
import type { ArchiveSummary } from '../engine/archiving.js';
import type { ArchivedRun, ArchivedRunFilter } from '../store/archive-store.js';
import type { CancelRunResult, ClaimedRun, EndRunResult, HeartbeatAnswer, HeartbeatItem, HeartbeatRunsAnswer } from '../store/store.js';

import { DagClient } from './dag-client.js';
import { ScheduleClient } from './schedule-client.js';
import { StatsClient } from './dashboard-client.js';
import { VisitClient } from './visit-client.js';
import { HttpError } from './errors.js';
import { apiTokenProblem, serverUrlProblem } from './connection-checks.js';
import { MAX_TIMER_MS, checkMs, lastRunsOption, optionsObject } from '../core/options.js';
import { DEFAULT_HTTP_WAIT_MS, type TaskWait } from '../core/task-wait.js';
import { checkId } from '../core/task-ids.js';
import { iso, parseApiJson, requestJson } from './client-json.js';


const ERRORS: Record<string, new (m: string, d: ErrorDetail[]) => OrreryError> = {
  validation_error: ValidationError,
  not_found: NotFoundError,
  conflict: ConflictError,
  invalid_transition: InvalidTransitionError,
  lease_lost: LeaseLostError,
  stale_data: StaleDataError,
  schema_too_new: SchemaTooNewError,
  // The storage errors carry no details over the wire (their constructors take a cause instead).
  storage_error: StorageError as unknown as new (m: string, d: ErrorDetail[]) => OrreryError,
  storage_read_only: StorageReadOnlyError as unknown as new (m: string, d: ErrorDetail[]) => OrreryError,
};

/**
 * Rebuilds the server's error as the same OrreryError class. The server's store unavailable (503
 * `storage_unavailable`), or a proxy in front of it failing (a 502, 503 or 504 without an Orrery
 * code), is a StorageUnavailableError: the worker retries it. Anything else, a 500 included, is an
 * error that surfaces (an HttpError with the server's code, `internal` for a bug).
 */
function toError(body: { error?: { code?: string; message?: string; details?: ErrorDetail[]; requestId?: string } } | null, status: number): Error {
  const e = body?.error;
  // A 5xx names the request id the server logged the error under.
  const rid = e?.requestId ? ` (request ${e.requestId})` : '';
  if (e?.code === 'storage_unavailable' || (GATEWAY.has(status) && !(e?.code && e.code in ERRORS))) {
    return new StorageUnavailableError(`orrery server answered ${status}: ${e?.message ?? 'no details'}${rid}`);
  }
  if (!e?.code) return new HttpError(status >= 500 ? 'internal' : 'bad_request', `orrery server answered ${status}: ${e?.message ?? 'no details'}${rid}`);
  const Cls = ERRORS[e.code];
  if (Cls) return new Cls(e.message ?? e.code, e.details ?? []);
  return new HttpError(e.code, status >= 500 ? `orrery server answered ${status}: ${e.message ?? e.code}${rid}` : (e.message ?? e.code), e.details ?? []);
}

/**
 * The most bytes of items one `POST /api/jobboard/end` or `/jobboard/logs` carries: the server's body
 * limit is 4 MB, so a batch past this goes in several requests.
 */
export const MAX_ITEMS_REQUEST = 3 * 1024 * 1024;

/** About how many bytes an end item takes in a request: its result, error and metadata, plus the rest (at most a few hundred). */
function endItemSize(i: { result?: unknown; error?: string | null; metadata?: Record<string, unknown> }): number {
  let n = 512;
  if (i.result !== undefined && i.result !== null) n += utf8Length(JSON.stringify(i.result) ?? '');
  if (typeof i.error === 'string') n += utf8Length(JSON.stringify(i.error));
  if (i.metadata && Object.keys(i.metadata).length > 0) n += utf8Length(JSON.stringify(i.metadata));
  return n;
}

/** About how many bytes a log record takes in a request. */
function logRecordSize(r: RunLogRecord): number {
  return 128 + utf8Length(JSON.stringify(r.message)) + (r.attributes ? utf8Length(JSON.stringify(r.attributes)) : 0);
}

/** `items` cut into runs of consecutive items whose sizes add up to at most MAX_ITEMS_REQUEST (one item at least each). */
function chunks<T>(items: readonly T[], sizeOf: (x: T) => number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let size = 0;
  for (const x of items) {
    const n = sizeOf(x);
    if (cur.length > 0 && size + n > MAX_ITEMS_REQUEST) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(x);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** How long a request may wait for its answer unless the client is told otherwise (`timeoutMs`). */
export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000;

export interface OrreryClientOptions {
  /**
   * Milliseconds a request may take, from sending it to the end of its answer (default 60,000); `null`
   * for no limit of the client's own. A request past it is aborted and fails with a
   * StorageUnavailableError, which a worker retries. `importTasks` has no such limit.
   */
  timeoutMs?: number | null;
}

const CLOSED = Symbol('closed');
const TIMED_OUT = Symbol('timed out');
const closedError = () => new HttpError('client_closed', 'the client was closed');

/** Statuses a proxy or the server answers while the service or its database is away for now. */
const GATEWAY = new Set([502, 503, 504]);

/** A response body as JSON, or null when it is not (a proxy's HTML error page). */
function parseBody(text: string): unknown {
  if (!text) return null;
  try {
    return parseApiJson(text);
  } catch {
    return null;
  }
}

export interface TaskPage {
  /** The tasks of this page, by id. */
  items: Task[];
  /** Pass as `cursor` for the next page; `null` when this page is the last. */
  nextCursor: string | null;
  /** The page stopped at the scan bound (TASK_SCAN_LIMIT tasks examined) before `limit` matches: more may match after `nextCursor`. */
  partial: boolean;
}

/** Filters of `GET /api/tasks` (core/task-search.ts); lists may be arrays, instants Dates. */
export type TaskQueryFilter = Omit<TaskSearchInput, 'ids' | 'limit' | 'cursor'>;

/** A page of `GET /api/runs`: newest first; pass `nextCursor` back as `cursor`. */
export interface RunPage {
  items: TaskRun[];
  nextCursor: string | null;
}

/** Serialises filters into a query string: lists joined by commas, Dates as ISO, a null priority as `none`. */
function query(filter: Record<string, unknown>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filter)) {
    if (v === undefined) continue;
    q.set(k, v === null ? 'none' : v instanceof Date ? iso(v, k) : Array.isArray(v) ? v.join(',') : String(v));
  }
  return q.size ? `?${q}` : '';
}

/**
 * A typed client of the HTTP API (`new OrreryClient(url, token)`), mirroring the library: task types,
 * tasks (enqueue = create a one-shot task, dequeue = disable it), runs, and the jobboard, so an
 * `orrery worker --url` runs handlers without reaching the database.
 */
/** The signals of the server's event stream a client subscribes to. */
type ClientSignal = 'work' | 'cancel' | 'types';

export class OrreryClient implements Jobboard {
  /** The jobboard's limit per claim (`POST /api/jobboard/claim`): a worker asks for no more. */
  readonly maxClaim = MAX_HTTP_CLAIM;
  private readonly base: string;
  private readonly controllers = new Set<AbortController>();
  /** The subscriptions to the server's event stream, and the stream while any is open. */
  private readonly eventListeners: Record<ClientSignal, Set<() => void>> = { work: new Set(), cancel: new Set(), types: new Set() };
  private events: AbortController | null = null;
  /** Aborted by `close()`: every request in flight, and every later one, fails at once. */
  private readonly closing = new AbortController();
  private readonly timeoutMs: number | null;

  /** Listers, listed origins, visits and metrics, mirroring `orrery.visits`. */
  readonly visits: VisitClient = new VisitClient(<T>(method: 'GET' | 'POST', path: string, body?: unknown) => this.call<T>(method, path, body));
  /** Dashboard views: queues, run rates, workers. */
  readonly stats: StatsClient = new StatsClient(<T>(method: 'GET', path: string) => this.call<T>(method, path));
  /** Schedules: previews and task backfills, mirroring `orrery.schedules`. */
  readonly schedules: ScheduleClient = new ScheduleClient(<T>(method: 'GET' | 'POST', path: string, body?: unknown) => this.call<T>(method, path, body));
  /** DAGs and DAG runs, mirroring `orrery.dags`. */
  readonly dags: DagClient = new DagClient(<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => this.call<T>(method, path, body));

  constructor(
    url: string,
    private readonly token: string | null = null,
    options: OrreryClientOptions = {},
  ) {
    this.base = serverBase(url);
    if (token !== null && token !== undefined) {
      const problem = apiTokenProblem(token);
      if (problem) throw invalid('token', problem);
    }
    options = optionsObject(options);
    const t = options.timeoutMs === undefined ? DEFAULT_CLIENT_TIMEOUT_MS : options.timeoutMs;
    // At most what a timer takes (about 24.8 days): a longer one fired at once and every request timed out.
    if (t !== null && !(Number.isSafeInteger(t) && t > 0 && t <= MAX_TIMER_MS)) {
      throw new ValidationError(`timeoutMs: must be a positive whole number of milliseconds up to ${MAX_TIMER_MS}, or null, not ${String(t)}`, [
        { path: 'timeoutMs', message: `must be a positive whole number of milliseconds up to ${MAX_TIMER_MS}, or null` },
      ]);
    }
    this.timeoutMs = t;
  }

  private async call<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, timeoutMs: number | null = this.timeoutMs): Promise<T> {
    const init = {
      method,
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: requestJson(body) } : {}),
    };
    return this.exchange<T>(`${this.base}/api${path}`, init, timeoutMs);
  }

  /**
   * One request and its JSON answer: a network failure is a StorageUnavailableError (worth retrying),
   * an error status the server's error rebuilt (toError), a 2xx answer that is not JSON an HttpError.
   */
  private async exchange<T>(url: string, init: RequestInit, timeoutMs: number | null = this.timeoutMs, signal?: AbortSignal): Promise<T> {
    if (this.closing.signal.aborted) throw closedError();
    signal?.throwIfAborted();
    // One controller per request: aborted by close() or by the timeout, whichever comes first.
    const abort = new AbortController();
    const onClose = () => abort.abort(CLOSED);
    this.closing.signal.addEventListener('abort', onClose);
    const timer = timeoutMs === null ? null : setTimeout(() => abort.abort(TIMED_OUT), timeoutMs);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { ...init, signal: signal ? AbortSignal.any([abort.signal, signal]) : abort.signal });
      text = await res.text();
    } catch (e) {
      if (abort.signal.reason === CLOSED) throw closedError();
      if (signal?.aborted) throw signal.reason;
      if (abort.signal.reason === TIMED_OUT) {
        throw new StorageUnavailableError(`orrery server ${this.base} did not answer within ${timeoutMs} ms`, { cause: e });
      }
      // fetch fails with a TypeError whose cause carries the network error's code.
      const cause = (e as { cause?: unknown }).cause;
      const code = (cause as { code?: string } | undefined)?.code ?? (e as { code?: string }).code;
      if (isNetworkError(e) || isNetworkError(cause) || (e instanceof TypeError && e.message === 'fetch failed' && !isSetupError(code))) {
        throw new StorageUnavailableError(`orrery server ${this.base} unreachable (${code ?? 'network error'})`, { cause: e });
      }
      if (isSetupError(code)) {
        // TLS to a plain HTTP server, a certificate refused: a misconfiguration, not an outage to wait out.
        throw new Error(`orrery server ${this.base} cannot be used over TLS (${code}): is it a plain http:// server, or is its certificate not trusted here?`, { cause: e });
      }
      throw e;
    } finally {
      if (timer !== null) clearTimeout(timer);
      this.closing.signal.removeEventListener('abort', onClose);
    }
    if (!res.ok) {
      const body = parseBody(text) as { error?: { code?: string; message?: string } } | null;
      // A route the server does not have: an older Orrery, or a URL whose path leads elsewhere.
      if (res.status === 404 && body?.error?.code === 'not_found' && body.error.message?.startsWith('no route')) {
        body.error.message = `orrery server ${this.base}: ${body.error.message} (is it an older Orrery, or does the URL's path lead elsewhere?)`;
      }
      throw toError(body as never, res.status);
    }
    if (!text) return null as T;
    try {
      return parseApiJson(text) as T;
    } catch {
      // The dashboard's page answers every path outside /api: a URL whose path leads there, not to the API.
      if (/^\s*</.test(text)) {
        throw new HttpError('bad_request', `orrery server ${this.base} answered ${res.status} with a web page, not JSON: give the server's root URL (http://host:port), under which the API is /api`);
      }
      throw new HttpError('bad_request', `orrery server answered ${res.status} with a body that is not JSON: ${text.slice(0, 80)}`);
    }
  }

  /** The client's clock (the jobboard's instant; the server stamps its own). */
  now(): Date {
    return new Date();
  }

  // --- task types and tasks ---------------------------------------------------------------------
  /** `GET /api/task-types`; with `names`, only those types (as the library: unknown names are left out). */
  async listTaskTypes(names?: readonly string[]): Promise<TaskType[]> {
    const all = await this.call<TaskType[]>('GET', '/task-types');
    return names === undefined ? all : all.filter((t) => names.includes(t.name));
  }
  /** `GET /api/task-types/{name}`; `NotFoundError` when there is none. */
  getTaskType(name: string): Promise<TaskType> {
    return this.call('GET', `/task-types/${encodeURIComponent(name)}`);
  }
  /** `POST /api/task-types`; `ConflictError` if the name exists. */
  createTaskType(input: TaskTypeInput): Promise<TaskType> {
    return this.call('POST', '/task-types', input);
  }
  /** Creates a task type unless one of that name exists (also when another client creates it at the same moment); answers the stored type, not updated if it differs. */
  async ensureTaskType(input: TaskTypeInput): Promise<TaskType> {
    try {
      return await this.createTaskType(input);
    } catch (e) {
      if (e instanceof ConflictError && typeof input.name === 'string') return this.getTaskType(input.name);
      throw e;
    }
  }
  /** `PATCH /api/task-types/{name}`: edits fields of a task type; `ValidationError` naming a bad field. */
  updateTaskType(name: string, edit: TaskTypeEdit): Promise<TaskType> {
    return this.call('PATCH', `/task-types/${encodeURIComponent(name)}`, edit);
  }
  /** `POST /api/task-types/{name}/pause`: no new scheduling nor claims of the type. */
  async pauseTaskType(name: string, opts: { reason?: string; at?: Date } = {}): Promise<TaskType> {
    opts = optionsObject(opts, 'options');
    // The server's clock stamps the pause: a library-style `at` is not sent.
    return this.call('POST', `/task-types/${encodeURIComponent(name)}/pause`, opts.reason !== undefined ? { reason: opts.reason } : {});
  }
  /** `POST /api/task-types/{name}/resume`. */
  resumeTaskType(name: string): Promise<TaskType> {
    return this.call('POST', `/task-types/${encodeURIComponent(name)}/resume`, {});
  }
  /** `DELETE /api/task-types/{name}`: `ConflictError` while the type has tasks. */
  async deleteTaskType(name: string): Promise<void> {
    await this.call('DELETE', `/task-types/${encodeURIComponent(name)}`);
  }
  /** `POST /api/tasks/{id}/pause`: the task's schedule is held (a run waiting in the queue is taken back). */
  async pauseTask(id: number, opts: { reason?: string; at?: Date } = {}): Promise<Task> {
    opts = optionsObject(opts, 'options');
    return this.call('POST', `/tasks/${id}/pause`, opts.reason !== undefined ? { reason: opts.reason } : {});
  }
  /** `POST /api/tasks/{id}/resume`. */
  resumeTask(id: number): Promise<Task> {
    return this.call('POST', `/tasks/${id}/resume`, {});
  }
  /** `POST /api/tasks`: creates a task or returns the equal active one. */
  createTask(input: TaskInput): Promise<Task> {
    return this.call('POST', '/tasks', input);
  }
  /** `POST /api/tasks/batch`: one transaction; one invalid task rejects the batch. */
  async createTasks(inputs: readonly TaskInput[]): Promise<Task[]> {
    if (Array.isArray(inputs) && inputs.length === 0) return []; // as the library (the route wants one task at least)
    return (await this.call<{ tasks: Task[] }>('POST', '/tasks/batch', { tasks: inputs })).tasks;
  }
  /** Creates many tasks, answering counts (and with `ids: true` each task's id in input order) instead of the tasks. */
  async createTasksSummary(inputs: readonly TaskInput[], opts: { ids?: boolean } = {}): Promise<TaskBatchSummary> {
    opts = optionsObject(opts, 'options');
    if (Array.isArray(inputs) && inputs.length === 0) return { count: 0, created: 0, existing: 0, replaced: 0, ...(opts.ids ? { ids: [] } : {}) };
    return this.call('POST', `/tasks/batch?return=${opts.ids ? 'ids' : 'count'}`, { tasks: inputs });
  }
  /** Imports NDJSON tasks (POST /api/tasks/import), streaming `body` (text or bytes) to the server: all or nothing. */
  async importTasks(body: string | AsyncIterable<Uint8Array>, opts: { ids?: boolean } = {}): Promise<TaskImportSummary> {
    opts = optionsObject(opts, 'options');
    const it = typeof body === 'string' ? null : body[Symbol.asyncIterator]();
    const stream = it === null ? (body as string) : new ReadableStream<Uint8Array>({
      async pull(c) {
        const r = await it.next();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
    });
    return this.exchange<TaskImportSummary>(`${this.base}/api/tasks/import${opts.ids ? '?return=ids' : ''}`, {
      method: 'POST',
      headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), 'content-type': 'application/x-ndjson' },
      body: stream,
      duplex: 'half',
    } as RequestInit, null);
  }
  /** The Indico Client's enqueue: a one-shot task, due now unless `nextRun` says otherwise. */
  enqueue(type: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}, nextRun?: Date): Promise<Task> {
    return this.createTask({ type, policy: 'oneshot', arguments: { args, kwargs }, ...(nextRun ? { nextRun } : {}) });
  }
  /** The Indico Client's dequeue: disable the task (a waiting run is cancelled). */
  async dequeue(taskId: number): Promise<Task> {
    return (await this.disableTasks([taskId]))[0]!;
  }
  /**
   * `GET /api/tasks`: one page of a task search in id order (type, statuses, priority, next-run range,
   * concurrency key, argument text...); pass `nextCursor` back as `cursor`.
   */
  async searchTasks(filter: TaskQueryFilter & { cursor?: string; limit?: number } = {}): Promise<TaskPage> {
    filter = optionsObject(filter, 'filter');
    return this.call('GET', `/tasks${query(filter as Record<string, unknown>)}`);
  }
  /** `GET /api/runs`: runs across tasks, newest first, one page; pass `nextCursor` back as `cursor`. */
  async searchRuns(filter: RunSearchInput = {}): Promise<RunPage> {
    filter = optionsObject(filter, 'filter');
    return this.call('GET', `/runs${query(filter as Record<string, unknown>)}`);
  }
  /**
   * `POST /api/tasks/bulk/{action}`: a bulk action on the tasks of a filter, ids, the tasks of runs, or
   * all; with `dryRun`, the count of what it would take (docs/http.md#bulk-actions).
   */
  async bulkTasks(action: BulkAction, selection: BulkSelectionInput, opts: { dryRun?: boolean; nextRun?: Date } = {}): Promise<BulkResult> {
    opts = optionsObject(opts, 'options');
    return this.call('POST', `/tasks/bulk/${encodeURIComponent(action)}`, {
      ...selection,
      ...(opts.dryRun !== undefined ? { dryRun: opts.dryRun } : {}),
      ...(opts.nextRun ? { nextRun: opts.nextRun } : {}),
    });
  }
  /** `GET /api/tasks/{id}/why`: every gate between the task and a running handler. */
  whyTask(id: number): Promise<WhyAnswer> {
    return this.call('GET', `/tasks/${id}/why`);
  }
  /** `GET /api/tasks/{id}`: the task with its runs (with `opts.runs`, only its newest that many); `NotFoundError` when there is none. */
  async getTask(id: number, opts: { runs?: number } = {}): Promise<TaskWithRuns> {
    const runs = lastRunsOption(optionsObject(opts, 'options').runs, 'runs');
    return this.call('GET', `/tasks/${id}${runs !== undefined ? `?runs=${runs}` : ''}`);
  }
  /**
   * `GET /api/tasks/{id}/wait`, asked again until the task is finished or `timeoutMs` passes (each
   * request waits at most 30 s on the server): `{ finished, task, run }`, as `Orrery.waitForTask`.
   */
  async waitForTask(id: number, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<TaskWait> {
    checkId(id);
    const opts = optionsObject(options, 'options');
    const timeoutMs = opts.timeoutMs === undefined ? null : checkMs(opts.timeoutMs, 'timeoutMs');
    const deadline = timeoutMs === null ? null : Date.now() + timeoutMs;
    for (;;) {
      const waitMs = deadline === null ? DEFAULT_HTTP_WAIT_MS : Math.max(0, Math.min(DEFAULT_HTTP_WAIT_MS, Math.ceil(deadline - Date.now())));
      const init: RequestInit = { method: 'GET', headers: this.token ? { authorization: `Bearer ${this.token}` } : {} };
      // The request's own timeout leaves the server its wait and 10 s more.
      const requestTimeout = this.timeoutMs === null ? null : Math.max(this.timeoutMs, waitMs + 10_000);
      const answer = await this.exchange<TaskWait>(`${this.base}/api/tasks/${id}/wait?timeoutMs=${waitMs}`, init, requestTimeout, opts.signal);
      if (answer.finished || (deadline !== null && Date.now() >= deadline)) return answer;
    }
  }
  /** `GET /api/tasks/{id}/runs`, oldest first (with `opts.last`, only the newest that many). */
  async listRuns(taskId: number, opts: { last?: number } = {}): Promise<TaskRun[]> {
    const last = lastRunsOption(optionsObject(opts, 'options').last, 'last');
    return this.call('GET', `/tasks/${taskId}/runs${last !== undefined ? `?last=${last}` : ''}`);
  }
  /** `POST /api/tasks/disable`: disables tasks; a waiting run of each is cancelled. */
  disableTasks(ids: number[]): Promise<Task[]> {
    return this.call('POST', '/tasks/disable', { ids });
  }
  /** `POST /api/tasks/respawn`: re-enables disabled or completed tasks, due at `nextRun` (default now). */
  async respawnTasks(ids: number[], opts?: Date | { nextRun?: Date; at?: Date }): Promise<Task[]> {
    // The library's `(ids, { nextRun, at })`, or a Date as `nextRun` (the client's first form); `at` is the server's clock.
    const nextRun = opts instanceof Date ? opts : opts?.nextRun;
    return this.call('POST', '/tasks/respawn', { ids, ...(nextRun !== undefined ? { nextRun: nextRun } : {}) });
  }
  /** `POST /api/tasks/schedule`: one runner pass now (or for one type). */
  async scheduleDue(opts: { type?: string; at?: Date } = {}): Promise<TaskRun[]> {
    opts = optionsObject(opts, 'options');
    return this.call('POST', '/tasks/schedule', { ...(opts.type ? { type: opts.type } : {}), ...(opts.at ? { at: opts.at } : {}) });
  }
  /** `POST /api/archive`: moves finished runs ended before `before` (and finished one-shot tasks) into the archive tables, in batches. */
  async archive(opts: { before: Date; batch?: number }): Promise<ArchiveSummary> {
    const s = await this.call<ArchiveSummary & { before: string }>('POST', '/archive', { before: opts.before, ...(opts.batch !== undefined ? { batch: opts.batch } : {}) });
    return { ...s, before: new Date(s.before) };
  }
  /** `GET /api/archive/runs`: archived runs with their logs, by id (`afterId` pages; `limit` default 100). */
  async readArchivedRuns(filter: Partial<ArchivedRunFilter> = {}): Promise<ArchivedRun[]> {
    filter = optionsObject(filter, 'filter');
    return this.call('GET', `/archive/runs${query(filter as Record<string, unknown>)}`);
  }
  /** `GET /api/archive/tasks`: archived one-shot tasks, by id. */
  async readArchivedTasks(filter: Partial<ArchivedRunFilter> = {}): Promise<Task[]> {
    filter = optionsObject(filter, 'filter');
    return this.call('GET', `/archive/tasks${query(filter as Record<string, unknown>)}`);
  }
  /** `GET /api/runs/{backendId}`; `NotFoundError` when there is none. */
  getRun(backendId: string): Promise<TaskRun> {
    return this.call('GET', `/runs/${encodeURIComponent(backendId)}`);
  }
  /** `GET /api/runs/{backendId}/logs`: the run's handler log records, with `after` only those after that record id. */
  async getRunLogs(backendId: string, opts: RunLogQuery = {}): Promise<StoredRunLogRecord[]> {
    opts = optionsObject(opts, 'options');
    const q = new URLSearchParams();
    if (opts.after !== undefined) q.set('after', String(opts.after));
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    const qs = q.toString() ? `?${q}` : '';
    return this.call('GET', `/runs/${encodeURIComponent(backendId)}/logs${qs}`);
  }
  /** Cancels a run: a scheduled one ends at once, a started one's worker is asked to stop it. */
  cancelRun(backendId: string): Promise<CancelRunResult> {
    return this.call('POST', `/runs/${encodeURIComponent(backendId)}/cancel`, {});
  }
  /** `POST /api/runs/{backendId}/end`: ends a run and applies the end-of-run formula to its task. */
  async endRun(backendId: string, opts: EndRunOptions): Promise<EndRunResult> {
    const { at, ...rest } = opts;
    return this.call('POST', `/runs/${encodeURIComponent(backendId)}/end`, { ...rest, ...(at ? { at: at } : {}) });
  }

  // --- the jobboard -----------------------------------------------------------------------------
  /** `POST /api/jobboard/claim`: claims waiting runs for a worker, each under a lease. */
  async claimRuns(opts: ClaimOptions): Promise<ClaimedRun[]> {
    if (opts.limit === 0) return []; // as the library
    const body = { worker: opts.worker, types: opts.types, limit: Math.min(opts.limit, MAX_HTTP_CLAIM), ...(opts.startNow !== undefined ? { startNow: Math.min(opts.startNow, MAX_HTTP_CLAIM) } : {}) };
    // The answer is waited for no longer than the worker asks (a lost answer is recovered through heldRuns).
    const within = opts.answerWithinMs;
    const timeout = within === undefined ? this.timeoutMs : this.timeoutMs === null ? within : Math.min(this.timeoutMs, within);
    return this.call('POST', '/jobboard/claim', body, timeout);
  }
  /** `POST /api/jobboard/heartbeat-runs`: renews all of a worker's held runs at once. */
  async heartbeatRuns(opts: { worker: string; runs: readonly HeartbeatItem[] }): Promise<HeartbeatRunsAnswer> {
    return this.call('POST', '/jobboard/heartbeat-runs', { worker: opts.worker, runs: opts.runs.map((r) => ({ backendId: r.backendId, ...(r.startedAt ? { startedAt: r.startedAt } : {}) })) });
  }
  /** `POST /api/jobboard/release`: gives claimed runs that never began back to the queue. */
  async releaseRuns(opts: { worker: string; backendIds: readonly string[]; withdrawnOnly?: boolean }): Promise<number> {
    if (opts.backendIds.length === 0) return 0;
    return (
      await this.call<{ released: number }>('POST', '/jobboard/release', { worker: opts.worker, backendIds: opts.backendIds, ...(opts.withdrawnOnly ? { withdrawnOnly: true } : {}) })
    ).released;
  }
  /** `POST /api/jobboard/held`: the claimed and started runs a worker holds. */
  heldRuns(worker: string): Promise<ClaimedRun[]> {
    return this.call('POST', '/jobboard/held', { worker });
  }
  /** `POST /api/jobboard/heartbeat`: renews one run's lease; the answer says whether its cancellation was asked for. */
  async heartbeat(backendId: string, opts: { worker: string }): Promise<HeartbeatAnswer> {
    const a = await this.call<{ leaseExpiresAt: Date; cancelRequested?: boolean }>('POST', '/jobboard/heartbeat', { backendId, worker: opts.worker });
    return { leaseExpiresAt: a.leaseExpiresAt, cancelRequested: a.cancelRequested === true };
  }
  /** `POST /api/jobboard/end`: ends many runs; each gets its result or the error that refused it. */
  async endRuns(items: ReadonlyArray<{ backendId: string } & EndRunOptions>): Promise<Array<EndRunResult | OrreryError>> {
    if (Array.isArray(items) && items.length === 0) return []; // as the library
    // The server's clock stamps the end: remote worker clocks do not decide instants.
    const sent = items.map(({ at: _at, held: _held, startedAt, ...rest }) => ({ ...rest, worker: rest.worker ?? undefined, ...(startedAt ? { startedAt: startedAt } : {}) }));
    // Sent in requests of at most MAX_ITEMS_REQUEST bytes of items (the server takes bodies of 4 MB):
    // a batch of ends with large results would otherwise be refused whole.
    const out: Array<EndRunResult | OrreryError> = [];
    for (const part of chunks(sent, endItemSize)) {
      const { outcomes } = await this.call<{ outcomes: Array<{ ok: EndRunResult } | { error: { code: string; message: string; details: ErrorDetail[] } }> }>('POST', '/jobboard/end', { items: part });
      for (const o of outcomes) out.push('ok' in o ? o.ok : (toError(o, 400) as OrreryError));
    }
    return out;
  }
  /** `POST /api/jobboard/abandon`: ends a held run `lost` because its worker gives it up; `startedAt`: when its handler began. */
  async abandonRun(backendId: string, opts: { worker: string; reason?: string; startedAt?: Date | null }): Promise<EndRunResult> {
    const body = { backendId, worker: opts.worker, ...(opts.reason ? { reason: opts.reason } : {}), ...(opts.startedAt ? { startedAt: opts.startedAt } : {}) };
    return this.call('POST', '/jobboard/abandon', body);
  }
  /** `POST /api/jobboard/logs`: appends handler log records to a run. */
  async appendRunLogs(backendId: string, records: readonly RunLogRecord[]): Promise<void> {
    // In requests of at most MAX_ITEMS_REQUEST bytes of records, as ends: one large record never takes the others down.
    for (const part of chunks(records, logRecordSize)) await this.call('POST', '/jobboard/logs', { backendId, records: part.map((r) => ({ ...r, at: r.at })) });
  }

  /** `POST /api/jobboard/workers`: registers a worker, or refreshes its registry row (docs/operations.md#workers). */
  registerWorker(worker: WorkerInfo): Promise<RegisteredWorker> {
    return this.call('POST', '/jobboard/workers', worker);
  }
  /** `POST /api/jobboard/workers/stop`: marks a registered worker stopped (its graceful stop). */
  stopWorker(id: string): Promise<RegisteredWorker> {
    return this.call('POST', '/jobboard/workers/stop', { id });
  }

  /** Listens to the server's event stream; scheduled runs and created tasks call `listener` (reconnects after failures). */
  onRunsScheduled(listener: () => void): () => void {
    return this.onEvent('work', listener);
  }

  /** Listens to the server's event stream; a cancel asked for (a run, a task disabled) calls `listener`, as on a database jobboard. */
  onCancelRequested(listener: () => void): () => void {
    return this.onEvent('cancel', listener);
  }

  /** Listens to the server's event stream; a task type edited, paused or resumed calls `listener`, as on a database jobboard. */
  onTypesChanged(listener: () => void): () => void {
    return this.onEvent('types', listener);
  }

  /** One event stream (`GET /api/events`) for every subscription of this client, open while any is. */
  private onEvent(kind: ClientSignal, listener: () => void): () => void {
    this.eventListeners[kind].add(listener);
    if (!this.events) this.events = this.openEvents();
    return () => {
      this.eventListeners[kind].delete(listener);
      if (Object.values(this.eventListeners).every((set) => set.size === 0) && this.events) {
        this.events.abort();
        this.controllers.delete(this.events);
        this.events = null;
      }
    };
  }

  private openEvents(): AbortController {
    const controller = new AbortController();
    this.controllers.add(controller);
    const call = (kind: ClientSignal) => {
      for (const l of [...this.eventListeners[kind]]) l();
    };
    const loop = async () => {
      while (!controller.signal.aborted) {
        try {
          const res = await fetch(`${this.base}/api/events`, { headers: this.token ? { authorization: `Bearer ${this.token}` } : {}, signal: controller.signal });
          if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
          const decoder = new TextDecoder();
          let buffer = '';
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            buffer += decoder.decode(chunk, { stream: true });
            let i: number;
            while ((i = buffer.indexOf('\n\n')) >= 0) {
              const frame = buffer.slice(0, i);
              buffer = buffer.slice(i + 2);
              if (/^event: work$/m.test(frame) || (/^event: run$/m.test(frame) && /"event":"scheduled"/.test(frame))) call('work');
              else if (/^event: cancel$/m.test(frame)) call('cancel');
              else if (/^event: types$/m.test(frame)) call('types');
            }
          }
        } catch {
          // server restarting or unreachable: polling and heartbeats cover the gap
        }
        if (!controller.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
      }
    };
    void loop();
    return controller;
  }

  /**
   * Stops the wake-up stream (`onRunsScheduled`, `onCancelRequested`, `onTypesChanged`) and aborts the requests in flight: they, and every
   * later call, reject with an OrreryError of code `client_closed`. Stop a worker before closing its client.
   */
  close(): void {
    for (const c of this.controllers) c.abort();
    this.controllers.clear();
    this.events = null;
    for (const set of Object.values(this.eventListeners)) set.clear();
    this.closing.abort();
  }
}

/**
 * The server's address from a URL a user gives: trailing slashes dropped, and the API's own address
 * as `orrery serve` prints it at start (`http://HOST:PORT/api`) taken as the server's.
 */
export function serverBase(url: string): string {
  const problem = serverUrlProblem(url);
  if (problem) throw invalid('url', problem);
  return url.replace(/\/+$/, '').replace(/\/api$/, '');
}

/** Codes of a connection that can never work as configured: TLS and certificate errors (OpenSSL's and Node's). */
function isSetupError(code: string | undefined): boolean {
  return code !== undefined && /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|ERR_OSSL_)/.test(code);
}
