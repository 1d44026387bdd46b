import { EventEmitter } from 'node:events';
import { LATEST_INSTANT_MS, checkDate, earlier } from '../core/instants.js';
import { ConflictError, NotFoundError, OrreryError, invalid, shown } from '../core/errors.js';
import { checkCallback, checkFlag, knownOptions, lastRunsOption, optionsObject, refuseUnknownKeys } from '../core/options.js';
import { checkClock } from './option-checks.js';
import { CREATE_OPTIONS, checkTypeNames, windowMinutes, type ImportSource } from '../core/call-checks.js';
import { checkArchiveFilter, requireRunId, requireWorker } from './service-checks.js';
import { pendingAfterCatchUp } from '../core/catch-up.js';
import { checkId, checkIds } from '../core/task-ids.js';
import { type RunLogRecord, type StoredRunLogRecord, type Task, type TaskRun, type TaskType } from '../core/model.js';
import { runLogQuery, type RunLogQuery } from '../core/run-logs.js';
import type { TaskInput, TaskTypeInput } from '../core/validation.js';
import { validatePauseReason } from '../core/json-checks.js';
import { assertStorable, checkTypeName } from '../core/storable.js';
import { openStore } from '../store/open-store.js';
import { whyTask } from './why-task.js';
import type { RegisteredWorker, WorkerInfo } from '../core/worker-registry.js';
import { listWorkers, registerWorker, stopWorker } from './workers.js';
import { withEffectiveRates } from './adaptive-limits.js';
import { fillSeries, seriesWindow, type RunSeries } from '../core/run-series.js';
import { encodeRunCursor, runSearch, type RunSearchInput } from '../core/run-search.js';
import { checkTaskFilter, pendingLimit, taskPage, taskSearch, type TaskSearchPage, type TaskSearchInput } from '../core/task-search.js';
import { checkBulk, type BulkAction, type BulkResult } from '../core/bulk.js';
import { runBulk, type BulkSelectionInput } from './bulk-tasks.js';
import type { WhyAnswer } from '../core/why.js';
import type { TaskTypeEdit } from '../core/task-type-edit.js';
import { taskTypeEdit, validation } from './input-parsers.js';
import type {
  CancelRunResult,
  ClaimOutcome,
  ClaimedRun,
  CreatedTask,
  EndRunResult,
  HeartbeatAnswer,
  HeartbeatItem,
  HeartbeatRunsAnswer,
  DueStats,
  QueueStats,
  RunRate,
  Store,
  TaskFilter,
} from '../store/store.js';
import { systemClock, type Clock } from './clock.js';
import { VirtualClock } from './virtual-clock.js';
import { holdingClock } from './virtual-store.js';
import type { ClaimOptions, EndRunOptions, Jobboard } from './jobboard.js';
import { DagService } from './dag-service.js';
import { BoardCalls, emitEnded, emitRuns } from './board-calls.js';
import { VisitService } from './visit-service.js';
import type { ImportOptions, TaskBatchSummary, TaskImportSummary } from './task-import.js';
import { TaskCreation } from './task-creation.js';
import { archiveSweep, type ArchiveOptions, type ArchiveSummary } from './archiving.js';
import { ScheduleService, caughtUpByResume } from './schedule-service.js';
import type { ArchivedRun, ArchivedRunFilter } from '../store/archive-store.js';

export type { At, CreateOptions, OpenOptions, OrreryEvents, RunEvent, TaskWithRuns, WorkerView } from './service-types.js';
import type { At, CreateOptions, OpenOptions, OrreryEvents, TaskWithRuns, WorkerView } from './service-types.js';
import { waitForTask, type WaitForTaskOptions } from './task-wait.js';
import type { TaskWait } from '../core/task-wait.js';

export type { EndRunOptions } from './jobboard.js';

export { MAX_BATCH } from './task-batch.js';

/** Due tasks per type are counted up to this many by `dueStats` (the metric and the dashboard show "100000+"). */
export const DUE_COUNT_CAP = 100_000;

/** Options of the readings over a window of minutes up to an instant. */
const WINDOW_OPTIONS = ['at', 'minutes'];
/** Options of an archiving sweep. */
const ARCHIVE_OPTIONS = ['at', 'before', 'to', 'table', 'batch', 'onProgress', 'signal'];

/**
 * The service layer: every operation of Orrery, validated, over one store. The CLI, the HTTP API and
 * the loops call this and nothing below it.
 */
export class Orrery implements Jobboard {
  /**
   * Run events of this process (`run`: { event: 'scheduled' | 'started' | 'ended', run }), for live
   * views and metrics. Other processes' runs are not seen here.
   */
  readonly events: OrreryEvents = new EventEmitter();
  /** DAG workflows: definitions, runs, triggers and restarts (SPEC §3). */
  readonly dags: DagService = new DagService(this);
  /** Visit scheduling: listers, listed origins, visit stats, grabs, metrics (SPEC §4). */
  readonly visits: VisitService;
  /** Schedules: previews, task backfills, the catch-up of late cron and rrule tasks (docs/guide.md#schedules). */
  readonly schedules: ScheduleService = new ScheduleService(this);

  constructor(
    readonly store: Store,
    readonly clock: Clock = systemClock,
  ) {
    this.events.setMaxListeners(0);
    this.visits = new VisitService(store, clock);
    this.creation = new TaskCreation(store, (at) => this.instant(at), (runs) => emitRuns(this.events, 'ended', runs));
    this.board = new BoardCalls({ store, clock, events: this.events, schedules: this.schedules, instant: (at) => this.instant(at) });
  }

  private readonly creation: TaskCreation;

  private readonly board: BoardCalls;

  /** The current instant of this service's clock. */
  now(): Date {
    return this.clock.now();
  }

  /** Wakes a worker when runs were scheduled or tasks created (a worker claims due tasks itself). */
  onRunsScheduled(listener: () => void): () => void {
    const off = [this.store.listen('runs', listener), this.store.listen('tasks', listener)];
    return () => off.forEach((f) => f());
  }

  /** Wakes a worker when a cancel was requested for a run (its heartbeat then learns which); returns the unsubscribe function. */
  onCancelRequested(listener: () => void): () => void {
    return this.store.listen('cancel', listener);
  }

  /** Calls `listener` when a task type was edited, paused or resumed (in this process or, through wake-ups, another). */
  onTypesChanged(listener: () => void): () => void {
    return this.store.listen('types', listener);
  }

  private instant(at?: Date): Date {
    checkDate(at, 'at');
    return at ?? this.clock.now();
  }

  // --- task types -------------------------------------------------------------------------------
  /** Creates a task type; `ConflictError` if the name exists, `ValidationError` naming the bad field. */
  async createTaskType(input: TaskTypeInput, opts: At = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at']);
    const { validateTaskType } = await validation();
    return this.withRates({ ...(await this.store.createTaskType(validateTaskType(input), this.instant(opts.at))), paused: null });
  }

  /** A task type as answered: with the rates in force now (`effectiveRate`). */
  private async withRates(type: TaskType): Promise<TaskType> {
    return (await withEffectiveRates(this.store, [type], this.clock.now()))[0]!;
  }

  /**
   * Changes fields of a task type at runtime (intervals, factor, retries, retry delay, timeout, lease,
   * max abandons, queue length, limits, description); the whole type is validated again. Claims and
   * ends use it from the next one in this process, and within TYPE_CACHE_MS (1 s) in every other.
   */
  async updateTaskType(name: string, edit: TaskTypeEdit, opts: At = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at']);
    checkTypeName(name);
    const { editTaskType } = await taskTypeEdit();
    return this.writeTaskType(name, (current) => editTaskType(current, edit), opts);
  }

  /**
   * Pauses a task type: its due tasks are no longer scheduled nor claimed and its queued runs wait;
   * runs already started finish, runs a worker holds but has not begun are given back. Pausing a
   * paused type keeps its pause instant (and takes a new reason if one is given).
   */
  async pauseTaskType(name: string, opts: At & { reason?: string } = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at', 'reason']);
    checkTypeName(name);
    const reason = validatePauseReason(opts.reason);
    const at = this.instant(opts.at);
    return this.writeTaskType(name, (current) => {
      if (current.paused && (opts.reason === undefined || reason === current.paused.reason)) return null;
      return { ...current, paused: { at: current.paused?.at ?? at, reason } };
    }, opts);
  }

  /** Resumes a paused task type (unpaused: returned unchanged); its late cron and rrule tasks follow their catch-up policy at once (PostgreSQL's claims catch up at most once a second). */
  async resumeTaskType(name: string, opts: At = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at']);
    checkTypeName(name);
    let wasPaused = false;
    const resumed = await this.writeTaskType(name, (current) => ((wasPaused = current.paused !== null), wasPaused ? { ...current, paused: null } : null), opts);
    if (!wasPaused) return resumed;
    const caught = await this.schedules.catchUp(this.instant(opts.at), name); // before a claim takes them with their oldest missed occurrence
    if (caught.length > 0) this.events.emit('caughtUp', caught);
    return resumed;
  }

  /** Deletes a task type that has no tasks (ConflictError naming how many it has otherwise). */
  async deleteTaskType(name: string, opts: At = {}): Promise<void> {
    opts = knownOptions(opts, ['at']);
    checkTypeName(name);
    await this.store.deleteTaskType(name, this.instant(opts.at));
    this.creation.typeCache.forget(name);
  }

  private async requireTaskType(name: string): Promise<TaskType> {
    checkTypeName(name);
    const [t] = await this.store.getTaskTypes([name]);
    if (!t) throw new NotFoundError(`unknown task type "${shown(name)}"`, [{ path: 'name', message: 'unknown task type' }]);
    return t;
  }

  /** Applies `change` to the type as stored, in the store's write (null: left as it is); answers it with its effective rates. */
  private async writeTaskType(name: string, change: (current: TaskType) => TaskType | null, opts: At): Promise<TaskType> {
    const out = await this.store.updateTaskType(name, change, this.instant(opts.at));
    this.creation.typeCache.forget(name);
    return this.withRates(out);
  }

  /** Creates the type unless one of that name exists (also when another process creates it at the same moment); returns the stored type. */
  async ensureTaskType(input: TaskTypeInput, opts: At = {}): Promise<TaskType> {
    opts = knownOptions(opts, ['at']);
    const { validateTaskType } = await validation();
    const type = validateTaskType(input);
    const [existing] = await this.store.getTaskTypes([type.name]);
    if (existing) return this.withRates(existing);
    try {
      return this.withRates({ ...(await this.store.createTaskType(type, this.instant(opts.at))), paused: null });
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      const [raced] = await this.store.getTaskTypes([type.name]);
      if (!raced) throw e;
      return this.withRates(raced);
    }
  }

  /** The task types, or those of the given names (unknown names are left out). */
  async listTaskTypes(names?: readonly string[]): Promise<TaskType[]> {
    checkTypeNames(names);
    return withEffectiveRates(this.store, await this.store.getTaskTypes(names), this.clock.now());
  }

  /** A task type by name, or `null`. */
  async getTaskType(name: string): Promise<TaskType | null> {
    checkTypeName(name, 'name', true);
    const [t] = await this.store.getTaskTypes([name]);
    return t ? this.withRates(t) : null;
  }

  // --- tasks ------------------------------------------------------------------------------------
  /** Creates a task, or returns the equal active task (idempotent creation). */
  async createTask(input: TaskInput, opts: CreateOptions = {}): Promise<Task> {
    opts = knownOptions(opts, CREATE_OPTIONS);
    const [c] = await this.createTasksDetailed([input], opts, '');
    return c!.task;
  }

  /** Creates many tasks in one transaction; one invalid task rejects the whole batch and writes nothing. */
  async createTasks(inputs: readonly TaskInput[], opts: CreateOptions = {}): Promise<Task[]> {
    opts = knownOptions(opts, CREATE_OPTIONS);
    return (await this.createTasksDetailed(inputs, opts)).map((c) => c.task);
  }

  /**
   * Creates many tasks with each one's outcome (created, or the equal active task returned or replaced).
   * A batch larger than one chunk (1,000 tasks) is validated and written chunk by chunk, the event
   * loop running in between, still in one transaction: an invalid task (named `tasks[i].field`) or a
   * conflict rejects the batch and nothing is written.
   */
  async createTasksDetailed(inputs: readonly TaskInput[], opts: CreateOptions = {}, prefix = 'tasks'): Promise<CreatedTask[]> {
    opts = knownOptions(opts, CREATE_OPTIONS);
    return this.creation.detailed(inputs, opts, prefix);
  }

  /**
   * Creates many tasks like createTasks, answering counts (and with `ids: true` each task's id, in
   * input order) instead of the tasks: what a large batch should ask for.
   */
  async createTasksSummary(inputs: readonly TaskInput[], opts: CreateOptions & { ids?: boolean } = {}): Promise<TaskBatchSummary> {
    opts = knownOptions(opts, [...CREATE_OPTIONS, 'ids']);
    return this.creation.summary(inputs, opts);
  }

  /**
   * Imports tasks from NDJSON (one task per line, the fields of createTask; blank lines ignored) read
   * from a byte stream once: every line is validated before anything is written (a bad line throws a
   * ValidationError naming its number and field, `line 7: type: ...`), then all are written in one
   * transaction, chunk by chunk. Memory stays bounded whatever the number of lines (see
   * docs/http.md#post-apitasksimport).
   */
  async importTasks(source: ImportSource, opts: ImportOptions = {}): Promise<TaskImportSummary> {
    opts = knownOptions(opts, ['at', 'ids', 'onProgress']);
    return this.creation.import(source, opts);
  }

  /**
   * "Why isn't it running?": walks every gate between the task and a running handler, in order
   * (status, DAG, type pause, due, queue length, limits, workers, its run) and names the first that
   * holds it and until when (docs/operations.md#why-isnt-it-running).
   */
  async whyTask(id: number, opts: At = {}): Promise<WhyAnswer> {
    opts = knownOptions(opts, ['at']);
    return whyTask(this.store, checkId(id), this.instant(opts.at));
  }

  /**
   * Runs across tasks, newest first, one page at a time: filters by status, type, worker and time
   * (`ended` when every status asked for is final, else `scheduled`); `nextCursor` (null on the last
   * page) continues the listing with the same filters (docs/operations.md#runs-across-tasks).
   */
  async searchRuns(input: RunSearchInput = {}): Promise<{ runs: TaskRun[]; nextCursor: string | null }> {
    input = optionsObject(input, 'filter');
    const s = runSearch(input);
    const runs = await this.store.searchRuns(s);
    return { runs, nextCursor: runs.length === s.limit ? encodeRunCursor(runs[runs.length - 1]!, s.by) : null };
  }

  /**
   * Tasks matching a search, one keyset page in id order: by type, status, priority, policy, disabled
   * reason, next-run range, concurrency key and argument text (a string value of args or kwargs that
   * contains, or starts with, the text). A page examines at most TASK_SCAN_LIMIT tasks of the index
   * range its type, status or key select; `partial` says it stopped there (docs/operations.md#task-search).
   */
  async findTasks(input: TaskSearchInput = {}): Promise<TaskSearchPage<Task>> {
    input = optionsObject(input, 'filter');
    const s = taskSearch(input);
    return taskPage(s, await this.store.findTasks(s));
  }

  /**
   * A bulk action on the tasks a selection names (a filter, ids, the tasks of runs, or all), each task
   * handled as its single-task action would (docs/operations.md#bulk-actions): read and written in
   * batches of 1,000 tasks, one transaction each, the event loop running in between. `dryRun` counts
   * what the action would take and writes nothing. Tasks it refuses are counted in `skipped` by reason.
   */
  async bulkTasks(action: BulkAction, selection: BulkSelectionInput, opts: At & { dryRun?: boolean; nextRun?: Date; onProgress?: (p: BulkResult) => void } = {}): Promise<BulkResult> {
    opts = optionsObject(opts, 'options');
    const checked = checkBulk(action, selection);
    refuseUnknownKeys(opts, ['at', 'dryRun', 'nextRun', 'onProgress'], 'options');
    checkFlag(opts.dryRun, 'dryRun'); // 'yes' ran the action for real
    checkCallback(opts.onProgress, 'onProgress'); // a number was called once a batch was written: a TypeError
    const at = this.instant(opts.at);
    if (opts.nextRun !== undefined) {
      if (checked.action !== 'respawn' && checked.action !== 'redrive') throw invalid('nextRun', 'only applies to respawn and redrive');
      checkDate(opts.nextRun, 'nextRun');
    }
    return runBulk(this.store, checked.action, checked.search, checked.runs, {
      at,
      dryRun: opts.dryRun === true,
      ...(opts.nextRun !== undefined ? { nextRun: opts.nextRun } : {}),
      ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
      onEnded: (ended) => emitEnded(this.events, ended),
      onWithdrawn: (runs) => emitRuns(this.events, 'ended', runs),
    });
  }

  /** A task by id, or `null`. */
  async getTask(id: number): Promise<Task | null> {
    return this.store.getTask(checkId(id));
  }

  /** A task with its runs (oldest first; with `opts.runs`, only its newest that many), or `null`. */
  async getTaskWithRuns(id: number, opts: { runs?: number } = {}): Promise<TaskWithRuns | null> {
    checkId(id);
    const last = lastRunsOption(knownOptions(opts, ['runs']).runs, 'runs');
    const task = await this.store.getTask(id);
    return task ? { ...task, runs: await this.store.listRuns(id, last) } : null;
  }

  /** Tasks matching the filter, ordered by id; page with `afterId` and `limit`. */
  async searchTasks(filter: TaskFilter = {}): Promise<Task[]> {
    filter = optionsObject(filter, 'filter');
    assertStorable(filter, '');
    checkTaskFilter(filter);
    return this.store.searchTasks(filter);
  }

  /** Due tasks of a type not yet scheduled, in the order the runner would take them. */
  async listPending(type: string, opts: At & { limit?: number } = {}): Promise<Task[]> {
    opts = knownOptions(opts, ['at', 'limit']);
    checkTypeName(type, 'type', true);
    const limit = pendingLimit(opts.limit);
    if (limit === 0) return [];
    const at = this.instant(opts.at);
    // Late cron and rrule tasks are shown as the runner's catch-up will move them (core/catch-up.ts).
    for (let fetch = limit; ; fetch *= 2) {
      const due = await this.store.listPending(type, at, fetch);
      const pending = pendingAfterCatchUp(due, due.length < fetch, at, limit);
      if (pending !== null) return pending;
    }
  }

  /** Disables tasks (reason `manual`); a waiting run of each is cancelled. Returns the tasks as stored. */
  async disableTasks(ids: readonly number[], opts: At = {}): Promise<Task[]> {
    opts = knownOptions(opts, ['at']);
    const { tasks, withdrawn } = await this.store.disableTasks(checkIds(ids), this.instant(opts.at));
    emitRuns(this.events, 'ended', withdrawn);
    return tasks;
  }

  /** Re-enables disabled or completed tasks, due at `nextRun` (default now), retries refilled; `ConflictError` for a task with a run waiting or held. */
  async respawnTasks(ids: readonly number[], opts: At & { nextRun?: Date } = {}): Promise<Task[]> {
    opts = knownOptions(opts, ['at', 'nextRun']);
    const at = this.instant(opts.at);
    checkDate(opts.nextRun, 'nextRun');
    return this.store.respawnTasks(checkIds(ids), opts.nextRun ?? at, at);
  }

  /**
   * Pauses a task's schedule: it is neither scheduled nor claimed until resumed; a run it has waiting in
   * the queue is taken back, a run already handed to a worker finishes. Pausing a paused task keeps its
   * pause instant (and takes a new reason if one is given). ConflictError for a DAG attempt (pause its DAG).
   */
  async pauseTask(id: number, opts: At & { reason?: string } = {}): Promise<Task> {
    opts = knownOptions(opts, ['at', 'reason']);
    const current = await this.store.getTask(checkId(id));
    if (!current) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: 'no such task' }]);
    const reason = validatePauseReason(opts.reason);
    if (current.paused && (opts.reason === undefined || reason === current.paused.reason)) return current;
    const at = this.instant(opts.at);
    return this.store.setTaskPause(id, { at: current.paused?.at ?? at, reason }, at);
  }

  /** Resumes a paused task: due again at its next run (at once when that has passed). Unpaused: returned unchanged. */
  async resumeTask(id: number, opts: At = {}): Promise<Task> {
    opts = knownOptions(opts, ['at']);
    const current = await this.store.getTask(checkId(id));
    if (!current) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: 'no such task' }]);
    if (!current.paused) return current;
    const resumed = await this.store.setTaskPause(id, null, this.instant(opts.at));
    // The store caught it up in the resume (a late cron or rrule task): the runner of this process logs it.
    const caught = caughtUpByResume(current, resumed);
    if (caught) this.events.emit('caughtUp', [caught]);
    return resumed;
  }

  /** A task's runs, oldest first; with `opts.last`, only its newest that many (a task may have hundreds of thousands). */
  async listRuns(taskId: number, opts: { last?: number } = {}): Promise<TaskRun[]> {
    checkId(taskId, 'taskId');
    return this.store.listRuns(taskId, lastRunsOption(knownOptions(opts, ['last']).last, 'last'));
  }

  /** Waits until the task is finished (completed or disabled) or `timeoutMs` passes: `{ finished, task, run }` (engine/task-wait.ts). */
  waitForTask(id: number, opts?: WaitForTaskOptions): Promise<TaskWait> {
    return waitForTask(this, id, opts);
  }

  /** A run by backend id, or `null`. */
  async getRun(backendId: string): Promise<TaskRun | null> {
    requireRunId(backendId);
    return this.store.getRun(backendId);
  }

  /**
   * A run's handler log records in the order they reached the store, each with its `id`: with `after`,
   * only the records after that id (what a follower has not read yet); with `limit`, at most that many.
   */
  async getRunLogs(backendId: string, opts: RunLogQuery = {}): Promise<StoredRunLogRecord[]> {
    opts = knownOptions(opts, ['after', 'limit']);
    requireRunId(backendId);
    return this.store.getRunLogs(backendId, runLogQuery(opts));
  }

  // --- dashboards ------------------------------------------------------------------------------
  /** Every task type's queue now: waiting and running runs, the oldest waiting run, dead letters. */
  /**
   * Per type with due tasks that no run serves yet (due but not queued): how many, counted up to
   * DUE_COUNT_CAP (a count equal to the cap means at least that many), and the oldest due instant.
   */
  async dueStats(opts: At = {}): Promise<Array<DueStats & { capped: boolean }>> {
    opts = knownOptions(opts, ['at']);
    // `capped`, as GET /api/stats/due and the typed client answer: the count reached the cap.
    return (await this.store.dueStats(this.instant(opts.at), DUE_COUNT_CAP)).map((d) => ({ ...d, capped: d.due >= DUE_COUNT_CAP }));
  }

  /** Every task type's queue: waiting, claimed and running runs, the oldest waiting run, dead letters. */
  async queueStats(opts: At = {}): Promise<QueueStats[]> {
    opts = knownOptions(opts, ['at']);
    return this.store.queueStats(this.instant(opts.at));
  }

  /** Runs ended per type, final status and minute, over the `minutes` (1 to 1440, default 60) before `at`. */
  async runRates(opts: At & { minutes?: number } = {}): Promise<{ since: Date; at: Date; rates: RunRate[] }> {
    opts = knownOptions(opts, WINDOW_OPTIONS);
    const { since, at } = this.window(opts);
    return { since, at, rates: await this.store.runRates(since, at) };
  }

  /**
   * Workers registered and seen within the `minutes` (1 to 1440, default 60) before `at` (stopped ones
   * too), holding runs now, or that ended runs in that window, with their latest sign of life and their
   * liveness: alive, stale, gone or stopped (docs/operations.md#workers); alive ones first.
   */
  async listWorkers(opts: At & { minutes?: number } = {}): Promise<WorkerView[]> {
    opts = knownOptions(opts, WINDOW_OPTIONS);
    const now = this.instant(opts.at);
    const { since, at } = this.window({ ...opts, at: now });
    // Seen in the last `minutes` before `now` itself: the minute-aligned window (of ended runs) starts up
    // to a minute later, and left out workers seen at the end of the previous minute, alive ones too.
    return listWorkers(this.store, since, at, now, earlier(now, windowMinutes(opts.minutes) * 60_000));
  }

  /** The same as `listWorkers` (its former name). */
  async workerActivity(opts: At & { minutes?: number } = {}): Promise<WorkerView[]> {
    opts = knownOptions(opts, WINDOW_OPTIONS);
    return this.listWorkers(opts);
  }

  /**
   * Registers a worker, or refreshes its registry row: workers call it at start and every
   * WORKER_REFRESH_MS (10 s), busy or idle; a worker that (re)starts prunes rows not seen for a week (`answerWithinMs`: ignored in process).
   */
  async registerWorker(worker: WorkerInfo, opts: At & { answerWithinMs?: number } = {}): Promise<RegisteredWorker> {
    opts = knownOptions(opts, ['at', 'answerWithinMs']);
    const row = await registerWorker(this.store, worker, this.instant(opts.at));
    this.events.emit('worker', row.id); // a sign of life, as a claim or a heartbeat
    return row;
  }

  /** Marks a registered worker stopped (its graceful stop); NotFoundError for an unknown id. (`answerWithinMs`: ignored in process.) */
  async stopWorker(id: string, opts: At & { answerWithinMs?: number } = {}): Promise<RegisteredWorker> {
    opts = knownOptions(opts, ['at', 'answerWithinMs']);
    return stopWorker(this.store, id, this.instant(opts.at));
  }

  /**
   * The range charts (GET /api/stats/series): runs ended per bucket and final status over `range`
   * (`1h`, `24h` or `7d`; default `1h`) before `at`, with their start latency, of one type or all.
   */
  async runSeries(opts: At & { range?: string; type?: string } = {}): Promise<RunSeries> {
    opts = knownOptions(opts, ['at', 'range', 'type']);
    const window = seriesWindow(opts.range ?? '1h', this.instant(opts.at));
    if (opts.type !== undefined) checkTypeName(opts.type, 'type', true);
    const type = opts.type ?? null;
    if (type !== null && (await this.store.getTaskTypes([type])).length === 0) {
      throw new NotFoundError(`unknown task type "${shown(type)}"`, [{ path: 'type', message: 'unknown task type' }]);
    }
    return fillSeries(window, type, await this.store.runSeries({ since: window.since, until: window.until, bucketMs: window.bucketMs, type }));
  }

  private window(opts: At & { minutes?: number }): { since: Date; at: Date } {
    const minutes = windowMinutes(opts.minutes);
    const at = this.instant(opts.at);
    // Whole minutes: the buckets of successive readings line up. The window ends at the next minute
    // boundary after `at` (a run ended at `at` itself counts, also on a boundary), held at the latest
    // instant (where the window's end, exclusive, leaves out a run ended at it).
    const end = new Date(Math.min(Math.floor(at.getTime() / 60_000) * 60_000 + 60_000, LATEST_INSTANT_MS));
    return { since: earlier(end, minutes * 60_000), at: end };
  }

  // --- the runner -------------------------------------------------------------------------------
  /**
   * One runner pass: the catch-up of late cron and rrule tasks, the next occurrence of each running
   * backfill (docs/guide.md#schedules), then due tasks; of one type (`type`: the others are left
   * alone), or of every type; returns the runs created. `refillFraction` (a library option; the
   * runner fills every free slot) leaves a bounded queue that still holds runs alone until that
   * fraction of it is free.
   */
  scheduleDue(opts: At & { type?: string; refillFraction?: number; graceMs?: number; holdUnlimited?: boolean; catchUp?: boolean; fill?: boolean } = {}): Promise<TaskRun[]> {
    return this.board.scheduleDue(opts);
  }

  // --- the jobboard (board-calls.ts) ------------------------------------------------------------
  /** Claims waiting runs for a worker within the types' limits (a lease each; `due: true` also claims due tasks directly). The jobboard call workers make. */
  async claimRuns(opts: At & ClaimOptions & { due?: boolean }): Promise<ClaimedRun[]> {
    return (await this.board.claim(opts)).runs;
  }

  /**
   * Claims within the types' limits (maxRunning, maxRunningPerKey, rateLimit) and says whether runs
   * were held back, and when a rate limit next lets one start.
   */
  claim(opts: At & ClaimOptions & { due?: boolean }): Promise<ClaimOutcome> {
    return this.board.claim(opts);
  }

  /** One heartbeat for all of a worker's held runs; those with `startedAt` are marked started (docs/guarantees.md). */
  heartbeatRuns(opts: At & { worker: string; runs: readonly HeartbeatItem[]; answerWithinMs?: number }): Promise<HeartbeatRunsAnswer> {
    return this.board.heartbeatRuns(opts);
  }

  /** Gives claimed runs whose handlers never began back to the queue: no retry consumed, no abandon counted. */
  releaseRuns(opts: At & { worker: string; backendIds: readonly string[]; withdrawnOnly?: boolean; answerWithinMs?: number }): Promise<number> {
    return this.board.releaseRuns(opts);
  }

  /** Claimed and started runs this worker holds (claim recovery after a lost reply). */
  async heldRuns(worker: string, opts?: { answerWithinMs?: number }): Promise<ClaimedRun[]> {
    requireWorker(worker);
    if (opts !== undefined) knownOptions(opts, ['answerWithinMs']);
    return this.store.heldRuns(worker);
  }

  /** Marks a scheduled run started from outside (an external execution backend); it holds its type's lease. */
  startRun(backendId: string, opts: At & { worker?: string; metadata?: unknown } = {}): Promise<TaskRun> {
    return this.board.startRun(backendId, opts);
  }

  /** Extends the holder's lease; the answer says whether the run's cancellation was asked for. */
  heartbeat(backendId: string, opts: At & { worker: string; answerWithinMs?: number }): Promise<HeartbeatAnswer> {
    return this.board.heartbeat(backendId, opts);
  }

  /**
   * Cancels a run (docs/limits.md): a waiting (scheduled or claimed) run ends `lost` with error
   * `cancelled` at once, and its task skips that run (no retry consumed); a started run is flagged and its
   * worker, told through its next heartbeat or the `cancel` wake-up, aborts the handler and ends it `failed`.
   */
  cancelRun(backendId: string, opts: At = {}): Promise<CancelRunResult> {
    return this.board.cancelRun(backendId, opts);
  }

  /** Ends a run (status, result or error) and applies the end-of-run formula to its task; `InvalidTransitionError` when already ended, `LeaseLostError` when held by another worker. */
  endRun(backendId: string, opts: EndRunOptions): Promise<EndRunResult> {
    return this.board.endRun(backendId, opts);
  }

  /**
   * Ends several runs in one transaction; each gets its own outcome in input order (the result, or
   * the error refusing that end). Workers use it to record runs that finish together in one commit.
   */
  endRuns(items: ReadonlyArray<{ backendId: string } & EndRunOptions>, opts?: { answerWithinMs?: number }): Promise<Array<EndRunResult | OrreryError>> {
    return this.board.endRuns(items, opts);
  }

  /** The holder gives a run back (shutdown): a started one ends `lost`, its task due at once; `startedAt` as in an end. */
  abandonRun(backendId: string, opts: At & { worker: string; reason?: string; startedAt?: Date | null; answerWithinMs?: number }): Promise<EndRunResult> {
    return this.board.abandonRun(backendId, opts);
  }

  /**
   * The reaper's pass: started runs whose lease expired end `lost`; claimed runs whose lease expired
   * (their worker vanished before starting them) go back to the queue without consuming a retry.
   */
  reapExpired(opts: At = {}): Promise<EndRunResult[]> {
    return this.board.reapExpired(opts);
  }

  /** Appends handler log records to a run. */
  appendRunLogs(backendId: string, records: readonly RunLogRecord[], opts?: { answerWithinMs?: number }): Promise<void> {
    return this.board.appendRunLogs(backendId, records, opts);
  }

  // --- archiving (SPEC §5) ------------------------------------------------------------------------
  /** Moves finished runs (with their logs) and finished one-shot tasks older than `before` to a JSONL file and/or the archive tables. */
  async archive(opts: ArchiveOptions & At): Promise<ArchiveSummary> {
    return archiveSweep(this.store, (opts = knownOptions(opts, ARCHIVE_OPTIONS)), this.instant(opts.at));
  }

  /** Archived runs from the archive tables, by id (`limit` default 100). */
  async readArchivedRuns(filter: Partial<ArchivedRunFilter> = {}): Promise<ArchivedRun[]> {
    return this.store.archive.readArchivedRuns(checkArchiveFilter(filter));
  }

  /** Archived tasks from the archive tables, by id (`limit` default 100). */
  async readArchivedTasks(filter: Partial<ArchivedRunFilter> = {}): Promise<Task[]> {
    return this.store.archive.readArchivedTasks(checkArchiveFilter(filter));
  }

  /** Closes the database (after the loops stopped). */
  close(): Promise<void> {
    return this.store.close();
  }
}

/** Opens Orrery on a database: `openOrrery({ db: 'sqlite:./orrery.db' })`. */
export async function openOrrery(opts: OpenOptions = {}): Promise<Orrery> {
  opts = optionsObject(opts, 'options', 'db');
  refuseUnknownKeys(opts, ['db', 'clock'], 'options');
  if (opts.db !== undefined && (typeof opts.db !== 'string' || opts.db.trim() === '')) throw invalid('db', 'must be a database URL (sqlite:PATH or postgres://...)');
  checkClock(opts.clock);
  const fromEnv = opts.db === undefined && !!process.env.ORRERY_DB;
  // A bad URL is named where it came from: the option, or the environment variable.
  const store = await openStore(opts.db ?? (process.env.ORRERY_DB || undefined), fromEnv ? { field: '$ORRERY_DB' } : {});
  // On a virtual clock, time waits for every store call in flight (a query to a database server).
  return new Orrery(opts.clock instanceof VirtualClock ? holdingClock(store, opts.clock) : store, opts.clock ?? systemClock);
}
