import { ConflictError, NotFoundError, invalid } from '../core/errors.js';
import type { TaskTypeEdit } from '../core/task-type-edit.js';
import { MAX_TASK_PAGE, checkTaskFilter, pendingLimit, taskSearch, type TaskSearchInput, type TaskSearchPage } from '../core/task-search.js';
import { runSearch, type RunSearchInput } from '../core/run-search.js';
import { checkBulk, type BulkAction, type BulkResult, type BulkSelectionInput } from '../core/bulk.js';
import type { WhyAnswer } from '../core/why.js';
import type { StoredRunLogRecord, Task, TaskRun, TaskType } from '../core/model.js';
import type { RunLogQuery } from '../core/run-logs.js';
import type { TaskInput, TaskTypeInput } from '../core/validation.js';
import { checkTypeName } from '../core/storable.js';
import { CREATE_OPTIONS, checkEditObject, checkImportSource, checkTypeNames, importChunk, type ImportSource } from '../core/call-checks.js';
import { checkDate, requireInstant } from '../core/instants.js';
import { checkFlag, checkMs, knownOptions, lastRunsOption, optionsObject, refuseUnknownKeys } from '../core/options.js';
import { DEFAULT_HTTP_WAIT_MS, WAIT_OPTIONS, waitPollMs, waitSignal, type TaskWait } from '../core/task-wait.js';
import { checkId, checkIds } from '../core/task-ids.js';
import type { TaskWithRuns } from '../engine/service.js';
import type { TaskBatchSummary, TaskImportSummary } from '../engine/task-import.js';
import type { ArchiveSummary } from '../engine/archiving.js';
import type { ArchivedRun, ArchivedRunFilter } from '../store/archive-store.js';
import type { TaskFilter } from '../store/store.js';
import { ClientTransport, runPath, uploadSender } from './client-transport.js';
import { iso } from './client-json.js';
import { HttpError } from './errors.js';

/** A page of `GET /api/tasks` as the library's `findTasks` answers it: `{ tasks, nextCursor, partial }`. */
export type TaskPage = TaskSearchPage<Task>;

/** Longer than any task type's name (128 characters): the route's bound on a `type` filter. */
const MAX_TYPE_NAME = 256;

/**
 * A task type's path. `.` and `..`, which no type is named (a name begins with a letter or digit),
 * would be read by the URL as the path's own segments and reach another route: unknown, as the
 * library answers them.
 */
function typePath(name: string, rest = ''): string {
  if (name === '.' || name === '..') throw new NotFoundError(`unknown task type "${name}"`, [{ path: 'name', message: 'unknown task type' }]);
  return `/task-types/${encodeURIComponent(name)}${rest}`;
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

/** The library's `at` option of a call whose instant the server's clock stamps (docs/http.md#typed-client-orreryclient). */
export interface ClientAtOptions {
  /** The library's instant of the call: checked as the library checks it (a valid Date), not sent. */
  at?: Date;
}

/** The options of task creation, the library's (CreateOptions): checked as the library checks them, not sent. */
export interface ClientCreateOptions extends ClientAtOptions {
  /** The library's OpenTelemetry parent of the creation's span: taken, not sent (the server's span follows the request's `traceparent`). */
  traceContext?: unknown;
}

/** `{ at }` alone, checked as the library checks it: an unknown key or an `at` that is not a valid Date is a ValidationError. */
function atOnly(opts: ClientAtOptions | undefined): void {
  checkDate(knownOptions(opts, ['at']).at, 'at');
}

/** Task creation's options (with `more`), checked as the library checks them (a Date in their place names itself). */
function createOptions<T extends ClientCreateOptions>(opts: T | undefined, more: readonly string[] = []): T {
  const o = knownOptions(opts, [...CREATE_OPTIONS, ...more]);
  checkDate(o.at, 'at');
  return o;
}

/** Lists of a bulk action's `filter` and `runs` as the body takes them (comma-separated, as the query of `GET /api/tasks`); `priority: null` as `none`. */
function bulkBody(selection: BulkSelectionInput): BulkSelectionInput {
  if (selection === null || typeof selection !== 'object') return selection;
  const flat = (f: unknown) => (f === null || typeof f !== 'object' || Array.isArray(f) ? f : Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : k === 'priority' && v === null ? 'none' : v])));
  return { ...selection, ...(selection.filter !== undefined ? { filter: flat(selection.filter) } : {}), ...(selection.runs !== undefined ? { runs: flat(selection.runs) } : {}) } as BulkSelectionInput;
}

/**
 * The typed client's task types, tasks, task search and run reads, mirroring the library's
 * (OrreryClient adds the run lifecycle, the jobboard and the feature clients).
 */
export abstract class TaskClient extends ClientTransport {
  /** `GET /api/task-types`; with `names`, only those types (as the library: unknown names are left out). */
  async listTaskTypes(names?: readonly string[]): Promise<TaskType[]> {
    checkTypeNames(names); // as the library: a string would match by substring, a list of numbers nothing
    const all = await this.call<TaskType[]>('GET', '/task-types');
    if (names === undefined) return all;
    const wanted = new Set(names);
    return all.filter((t) => wanted.has(t.name));
  }
  /** `GET /api/task-types/{name}`; `NotFoundError` when there is none. */
  async getTaskType(name: string): Promise<TaskType> {
    checkTypeName(name, 'name', true); // as the library
    // No type has an empty name (the route has no such path): not found, as an unknown name.
    if (name === '') throw new NotFoundError('task type  not found', [{ path: 'name', message: 'no task type ' }]);
    return this.call('GET', typePath(name));
  }
  /** `POST /api/task-types`; `ConflictError` if the name exists. `at` is the library's (checked, not sent: the server's clock stamps it). */
  async createTaskType(input: TaskTypeInput, opts: ClientAtOptions = {}): Promise<TaskType> {
    atOnly(opts);
    return this.call('POST', '/task-types', input);
  }
  /** Creates a task type unless one of that name exists (also when another client creates it at the same moment); answers the stored type, not updated if it differs. */
  async ensureTaskType(input: TaskTypeInput, opts: ClientAtOptions = {}): Promise<TaskType> {
    atOnly(opts);
    try {
      return await this.createTaskType(input);
    } catch (e) {
      if (e instanceof ConflictError && typeof input.name === 'string') return this.getTaskType(input.name);
      throw e;
    }
  }
  /** `PATCH /api/task-types/{name}`: edits fields of a task type; `ValidationError` naming a bad field. */
  async updateTaskType(name: string, edit: TaskTypeEdit, opts: ClientAtOptions = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at']);
    checkTypeName(name);
    checkDate(opts.at, 'at');
    checkEditObject(edit);
    return this.call('PATCH', typePath(name), edit);
  }
  /** `POST /api/task-types/{name}/pause`: no new scheduling nor claims of the type. */
  async pauseTaskType(name: string, opts: { reason?: string; at?: Date } = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at', 'reason']);
    checkTypeName(name);
    // The server's clock stamps the pause: a library-style `at` is checked, not sent.
    checkDate(opts.at, 'at');
    return this.call('POST', typePath(name, '/pause'), opts.reason !== undefined ? { reason: opts.reason } : {});
  }
  /** `POST /api/task-types/{name}/resume`. */
  async resumeTaskType(name: string, opts: ClientAtOptions = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at']);
    checkTypeName(name);
    checkDate(opts.at, 'at');
    return this.call('POST', typePath(name, '/resume'), {});
  }
  /** `DELETE /api/task-types/{name}`: `ConflictError` while the type has tasks. */
  async deleteTaskType(name: string, opts: ClientAtOptions = {}): Promise<void> {
    opts = knownOptions(opts, ['at']);
    checkTypeName(name);
    checkDate(opts.at, 'at');
    await this.call('DELETE', typePath(name));
  }
  /** `POST /api/tasks/{id}/pause`: the task's schedule is held (a run waiting in the queue is taken back). */
  async pauseTask(id: number, opts: { reason?: string; at?: Date } = {}): Promise<Task> {
    opts = knownOptions(opts, ['at', 'reason']);
    checkId(id);
    checkDate(opts.at, 'at');
    return this.call('POST', `/tasks/${id}/pause`, opts.reason !== undefined ? { reason: opts.reason } : {});
  }
  /** `POST /api/tasks/{id}/resume`. */
  async resumeTask(id: number, opts: ClientAtOptions = {}): Promise<Task> {
    atOnly(opts);
    checkId(id);
    return this.call('POST', `/tasks/${id}/resume`, {});
  }
  /** `POST /api/tasks`: creates a task or returns the equal active one. */
  async createTask(input: TaskInput, opts: ClientCreateOptions = {}): Promise<Task> {
    createOptions(opts);
    return this.call('POST', '/tasks', input);
  }
  /** `POST /api/tasks/batch`: one transaction; one invalid task rejects the batch. */
  async createTasks(inputs: readonly TaskInput[], opts: ClientCreateOptions = {}): Promise<Task[]> {
    createOptions(opts);
    if (Array.isArray(inputs) && inputs.length === 0) return []; // as the library (the route wants one task at least)
    return (await this.call<{ tasks: Task[] }>('POST', '/tasks/batch', { tasks: inputs })).tasks;
  }
  /** Creates many tasks, answering counts (and with `ids: true` each task's id in input order) instead of the tasks. */
  async createTasksSummary(inputs: readonly TaskInput[], opts: ClientCreateOptions & { ids?: boolean } = {}): Promise<TaskBatchSummary> {
    opts = createOptions(opts, ['ids']);
    checkFlag(opts.ids, 'ids');
    if (Array.isArray(inputs) && inputs.length === 0) return { count: 0, created: 0, existing: 0, replaced: 0, ...(opts.ids ? { ids: [] } : {}) };
    return this.call('POST', `/tasks/batch?return=${opts.ids ? 'ids' : 'count'}`, { tasks: inputs });
  }
  /** Imports NDJSON tasks (POST /api/tasks/import), streaming `body` (text or bytes) to the server: all or nothing. */
  async importTasks(body: ImportSource, opts: { ids?: boolean } = {}): Promise<TaskImportSummary> {
    opts = knownOptions(opts, ['ids']);
    checkFlag(opts.ids, 'ids');
    checkImportSource(body); // as the library (null was a TypeError)
    const source = body as string | AsyncIterable<unknown> | Iterable<unknown>;
    const encoder = new TextEncoder();
    const chunks = (async function* () {
      if (typeof source === 'string') yield encoder.encode(source);
      else for await (const piece of source) yield importChunk(piece, encoder); // as the library: text or bytes
    })();
    const headers = { ...this.authHeader(), 'content-type': 'application/x-ndjson' };
    const summary = await this.exchange<TaskImportSummary>(`${this.base}/api/tasks/import${opts.ids ? '?return=ids' : ''}`, { method: 'POST', headers }, null, undefined, await uploadSender(chunks));
    return checkedSummary(summary, this.base);
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
   * `GET /api/tasks`: one page of a task search in id order, as the library's `findTasks` (type,
   * statuses, priority, next-run range, concurrency key, argument text...; `ids` is not a filter of
   * the route); pass `nextCursor` back as `cursor`.
   */
  async findTasks(input: TaskQueryFilter & { cursor?: string; limit?: number } = {}): Promise<TaskPage> {
    input = optionsObject(input, 'filter');
    taskSearch(input); // refused as the library refuses it, naming the same field, before any request
    // A type longer than any name (taskSearch refused an empty one), which the route refuses: none.
    if (typeof input.type === 'string' && input.type.length > MAX_TYPE_NAME) return { tasks: [], nextCursor: null, partial: false };
    const page = await this.call<{ items: Task[]; nextCursor: string | null; partial: boolean }>('GET', `/tasks${query(input as Record<string, unknown>)}`);
    return { tasks: page.items, nextCursor: page.nextCursor, partial: page.partial };
  }
  /**
   * As the library's `searchTasks`: the tasks matching every filter given (`type`, `status`,
   * `priority`, `policy`, `disabledReason`, `dagAttempts`) with an id above `afterId`, by id, at most
   * `limit` (all without it), read through `GET /api/tasks` a thousand at a time.
   */
  async searchTasks(filter: TaskFilter = {}): Promise<Task[]> {
    filter = optionsObject(filter, 'filter');
    checkTaskFilter(filter); // a misspelt filter is refused before any request, as in the library
    const { afterId, limit, ...rest } = filter;
    const out: Task[] = [];
    // A type no task type can be named (empty, or longer than any name): none, the library's answer
    // (the route refuses such a filter).
    if (typeof rest.type === 'string' && (rest.type === '' || rest.type.length > MAX_TYPE_NAME)) return out;
    // The route's cursor is the id a listing goes on after: ids are positive, of at most 15 digits.
    let cursor = afterId === undefined || afterId < 1 ? null : String(afterId);
    if (cursor !== null && cursor.length > 15) return out;
    while (limit === undefined || out.length < limit) {
      const want = limit === undefined ? MAX_TASK_PAGE : Math.min(MAX_TASK_PAGE, limit - out.length);
      const page = await this.findTasks({ ...rest, limit: want, ...(cursor !== null ? { cursor } : {}) });
      out.push(...page.tasks);
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    return out;
  }
  /**
   * `GET /api/tasks/pending`: due tasks of a type not yet scheduled, in the order the runner would
   * take them, as the library's `listPending` (`limit` default 1,000, at most 10,000 over HTTP; `at`:
   * due at this instant, default the server's now).
   */
  async listPending(type: string, opts: { limit?: number; at?: Date } = {}): Promise<Task[]> {
    opts = knownOptions(opts, ['at', 'limit']);
    checkTypeName(type, 'type', true);
    const limit = pendingLimit(opts.limit);
    // As the library: none asked, or a type no task can have (the route wants one and a name).
    if (limit === 0 || type === '') return [];
    const q = new URLSearchParams({ type: String(type) });
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.at !== undefined) q.set('at', iso(opts.at, 'at'));
    return this.call('GET', `/tasks/pending?${q}`);
  }
  /** `GET /api/runs`: runs across tasks, newest first, one page; pass `nextCursor` back as `cursor`. */
  async searchRuns(filter: RunSearchInput = {}): Promise<RunPage> {
    filter = optionsObject(filter, 'filter');
    // Checked as the library checks it (core runSearch), before anything is sent: the same field and
    // message (`status: "nope" is not a run status …`, not the route's `query.status`), and a value
    // the route would read as text (a type given as a number) refused, not sent. The cursor is the
    // server's to read (decoding it needs Node's Buffer, which the dashboard's browser has not).
    const { cursor: _cursor, ...rest } = filter;
    runSearch(rest);
    return this.call('GET', `/runs${query(filter as Record<string, unknown>)}`);
  }
  /**
   * `POST /api/tasks/bulk/{action}`: a bulk action on the tasks of a filter, ids, the tasks of runs, or
   * all; with `dryRun`, the count of what it would take (docs/http.md#bulk-actions).
   */
  async bulkTasks(action: BulkAction, selection: BulkSelectionInput, opts: { dryRun?: boolean; nextRun?: Date } = {}): Promise<BulkResult> {
    // A misspelt dryRun (`dryrun`) would have run the action for real.
    opts = knownOptions(opts, ['dryRun', 'nextRun']);
    // The action and the selection checked as the library checks them (core checkBulk), before anything
    // is sent: the same field and message, and a filter value the route would read as text (a Date as a
    // type) refused, not run.
    checkBulk(action, selection);
    if (opts.nextRun !== undefined) {
      // As the library: text would be read by the server, an instant the caller never gave as a Date.
      if (action !== 'respawn' && action !== 'redrive') throw invalid('nextRun', 'only applies to respawn and redrive');
      checkDate(opts.nextRun, 'nextRun');
    }
    return this.call('POST', `/tasks/bulk/${encodeURIComponent(action)}`, {
      ...bulkBody(selection),
      ...(opts.dryRun !== undefined ? { dryRun: opts.dryRun } : {}),
      ...(opts.nextRun ? { nextRun: opts.nextRun } : {}),
    });
  }
  /** `GET /api/tasks/{id}/why`: every gate between the task and a running handler (at the server's instant: `at` is checked, not sent). */
  async whyTask(id: number, opts: ClientAtOptions = {}): Promise<WhyAnswer> {
    atOnly(opts);
    checkId(id);
    return this.call('GET', `/tasks/${id}/why`);
  }
  /** `GET /api/tasks/{id}`: the task with its runs (with `opts.runs`, only its newest that many); `NotFoundError` when there is none. */
  async getTask(id: number, opts: { runs?: number } = {}): Promise<TaskWithRuns> {
    checkId(id); // as the library's task ids are checked: the same field and message, nothing sent
    const runs = lastRunsOption(knownOptions(opts, ['runs']).runs, 'runs');
    return this.call('GET', `/tasks/${id}${runs !== undefined ? `?runs=${runs}` : ''}`);
  }
  /** As the library's `getTaskWithRuns`: `GET /api/tasks/{id}`, the task with its runs (with `opts.runs`, its newest that many), or `null`. */
  async getTaskWithRuns(id: number, opts: { runs?: number } = {}): Promise<TaskWithRuns | null> {
    try {
      return await this.getTask(checkId(id), opts);
    } catch (e) {
      // The task's absence (the route names `id`), not a route an older server lacks.
      if (e instanceof NotFoundError && e.details.some((d) => d.path === 'id')) return null;
      throw e;
    }
  }
  /**
   * `GET /api/tasks/{id}/wait`, asked again until the task is finished or `timeoutMs` passes (each
   * request waits at most 30 s on the server): `{ finished, task, run }`, as `Orrery.waitForTask`.
   */
  async waitForTask(id: number, options?: { timeoutMs?: number; signal?: AbortSignal; pollMs?: number }): Promise<TaskWait> {
    checkId(id);
    const opts = optionsObject(options, 'options');
    refuseUnknownKeys(opts, WAIT_OPTIONS, 'options');
    // Taken as the library's is, checked, and not needed: the server's wait sees ends as they come.
    waitPollMs(opts.pollMs);
    waitSignal(opts.signal);
    const timeoutMs = opts.timeoutMs === undefined ? null : checkMs(opts.timeoutMs, 'timeoutMs');
    const deadline = timeoutMs === null ? null : Date.now() + timeoutMs;
    for (;;) {
      const waitMs = deadline === null ? DEFAULT_HTTP_WAIT_MS : Math.max(0, Math.min(DEFAULT_HTTP_WAIT_MS, Math.ceil(deadline - Date.now())));
      const init: RequestInit = { method: 'GET', headers: this.authHeader() };
      // The request's own timeout leaves the server its wait and 10 s more.
      const requestTimeout = this.timeoutMs === null ? null : Math.max(this.timeoutMs, waitMs + 10_000);
      const answer = await this.exchange<TaskWait>(`${this.base}/api/tasks/${id}/wait?timeoutMs=${waitMs}`, init, requestTimeout, opts.signal);
      if (answer.finished || (deadline !== null && Date.now() >= deadline)) return answer;
    }
  }
  /** `GET /api/tasks/{id}/runs`, oldest first (with `opts.last`, only the newest that many). */
  async listRuns(taskId: number, opts: { last?: number } = {}): Promise<TaskRun[]> {
    const last = lastRunsOption(knownOptions(opts, ['last']).last, 'last');
    checkId(taskId, 'taskId');
    return this.call('GET', `/tasks/${taskId}/runs${last !== undefined ? `?last=${last}` : ''}`);
  }
  /** `POST /api/tasks/disable`: disables tasks; a waiting run of each is cancelled. */
  async disableTasks(ids: number[], opts: ClientAtOptions = {}): Promise<Task[]> {
    atOnly(opts);
    checkIds(ids);
    return this.call('POST', '/tasks/disable', { ids });
  }
  /** `POST /api/tasks/respawn`: re-enables disabled or completed tasks, due at `nextRun` (default now). */
  async respawnTasks(ids: number[], opts?: Date | { nextRun?: Date; at?: Date }): Promise<Task[]> {
    // The library's `(ids, { nextRun, at })`, or a Date as `nextRun` (the client's first form); `at` is the server's clock.
    const o = opts instanceof Date ? { nextRun: opts } : knownOptions(opts, ['at', 'nextRun']);
    checkDate(o.at, 'at');
    checkDate(o.nextRun, 'nextRun');
    const nextRun = o.nextRun;
    checkIds(ids);
    return this.call('POST', '/tasks/respawn', { ids, ...(nextRun !== undefined ? { nextRun: nextRun } : {}) });
  }
  /** `POST /api/tasks/schedule`: one runner pass now (or for one type). */
  async scheduleDue(opts: { type?: string; at?: Date } = {}): Promise<TaskRun[]> {
    opts = knownOptions(opts, ['type', 'at']);
    checkDate(opts.at, 'at');
    if (opts.type !== undefined) checkTypeName(opts.type, 'type'); // as the library: '' is refused, not every type scheduled
    return this.call('POST', '/tasks/schedule', { ...(opts.type !== undefined ? { type: opts.type } : {}), ...(opts.at ? { at: opts.at } : {}) });
  }
  /** `POST /api/archive`: moves finished runs ended before `before` (and finished one-shot tasks) into the archive tables, in batches. */
  async archive(opts: { before: Date; batch?: number }): Promise<ArchiveSummary> {
    opts = knownOptions(opts, ['before', 'batch']);
    requireInstant(opts.before, 'before'); // as the library: text or an invalid Date is refused, not sent
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
    return this.call('GET', runPath(backendId));
  }
  /** `GET /api/runs/{backendId}/logs`: the run's handler log records, with `after` only those after that record id. */
  async getRunLogs(backendId: string, opts: RunLogQuery = {}): Promise<StoredRunLogRecord[]> {
    opts = knownOptions(opts, ['after', 'limit']);
    const q = new URLSearchParams();
    if (opts.after !== undefined) q.set('after', String(opts.after));
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    const qs = q.toString() ? `?${q}` : '';
    return this.call('GET', runPath(backendId, `/logs${qs}`));
  }
}

/** An import's answer as the server gives it: a summary of counts, or the server is not an Orrery server (its answer named). */
export function checkedSummary(answer: unknown, base: string): TaskImportSummary {
  const a = answer as Partial<Record<keyof TaskImportSummary, unknown>> | null;
  const counts = a !== null && typeof a === 'object' && !Array.isArray(a) && (['count', 'lines', 'created', 'existing', 'replaced', 'durationMs'] as const).every((k) => typeof a[k] === 'number');
  if (!counts) throw new HttpError('bad_request', `orrery server ${base} answered the import with ${JSON.stringify(answer)?.slice(0, 80) ?? 'nothing'}, not an import summary: is the URL an Orrery server's?`);
  return answer as TaskImportSummary;
}
