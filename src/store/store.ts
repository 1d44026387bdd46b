import type { OrreryError } from '../core/errors.js';
import type { GiveBackOutcome } from '../core/give-back.js';
import type { TypeLoadFacts } from '../core/why.js';
import type { RunSearch } from '../core/run-search.js';
import type { RunLogQuery } from '../core/run-logs.js';
import type { AdaptiveState } from '../core/adaptive-rate.js';
import type { RunSeriesBucket } from '../core/run-series.js';
import type { TaskSearch, TaskSearchRows } from '../core/task-search.js';
import type { BulkAction, BulkBatchOutcome } from '../core/bulk.js';
import type { VisitStore } from './visit-store.js';
import type { RunEndRequest } from '../core/run-end.js';
import type {
  DisabledReason,
  LogLevel,
  Priority,
  RunEndStatus,
  RunLogRecord,
  StoredRunLogRecord,
  Task,
  TaskPolicy,
  TaskRun,
  TaskStatus,
  TaskType,
  TypePause,
} from '../core/model.js';
import type { NewTask } from '../core/validation.js';
import type { DagStore } from './dag-store.js';
import type { ArchiveStore } from './archive-store.js';
import type { ScheduleStore } from './schedule-store.js';
import type { WorkerStore } from './worker-store.js';
import type { AlertStore } from './alert-store.js';

/**
 * Wake-up channels: `tasks` when due work may exist, `runs` when runs were scheduled, `claimed` when queue
 * slots freed, `ended` when runs ended (this process only), `dags` when a DAG task's attempt ended,
 * `cancel` when a started run's cancellation was asked for (its worker checks its runs at once).
 */
export type { Channel, StoreChange } from '../core/wake-ups.js';
export type { RunLogQuery } from '../core/run-logs.js';
import type { Channel, StoreChange } from '../core/wake-ups.js';

export interface TaskFilter {
  /** Only tasks of this type. */
  type?: string;
  /** Only tasks in this status. */
  status?: TaskStatus;
  /** Only tasks of this priority (`null`: without one). */
  priority?: Priority | null;
  /** Only `recurring` or only `oneshot` tasks. */
  policy?: TaskPolicy;
  /** Only disabled tasks with this reason (`dead_letter` is the dead-letter bin). */
  disabledReason?: DisabledReason;
  /**
   * `false`: leave out DAG attempts (tasks of a type whose backend is the DAG executor), as the
   * dead-letter bin does; `true`: only those. Default: all tasks.
   */
  dagAttempts?: boolean;
  /** Only tasks with an id greater than this (cursor pagination by id). */
  afterId?: number;
  /** At most this many tasks. */
  limit?: number;
}

/** One batch of a bulk action (core/bulk.ts): its tasks are acted on in one transaction. */
export interface BulkTaskRequest {
  action: BulkAction;
  /** At most BULK_BATCH task ids. */
  ids: readonly number[];
  at: Date;
  /** respawn and redrive: when the tasks are due again. */
  nextRun: Date;
}

/** What one batch did: the ids changed, the ids left alone with why, and (cancel) the runs that ended. */
export interface BulkTaskOutcome extends BulkBatchOutcome {
  /** cancel: the waiting runs that ended cancelled (their run events); started runs were asked to stop instead. */
  ended: EndRunResult[];
  /** disable: the waiting runs of the disabled tasks, ended `lost` (their run events). */
  withdrawn: TaskRun[];
}

export interface ClaimRequest {
  worker: string;
  types: readonly string[];
  limit: number;
  at: Date;
  /**
   * Also claim due tasks directly when waiting runs do not fill the limit: their runs are created
   * started, in the claim's transaction, as if the runner had scheduled them at `at` (types with
   * limits always go through the runner). Workers claim this way; the default is waiting runs only.
   */
  due?: boolean;
  /**
   * How many of the claimed runs the caller starts at once. The first `startNow` runs in claim order
   * are marked `started` at the claim (its instant is their start); the rest are `claimed` and wait in
   * the caller's buffer. Runs of types with limits (maxRunning, maxRunningPerKey, rateLimit) are taken
   * only within `startNow` and always started: a held run counts against its type's limits, so they
   * are never buffered. A worker claiming ahead passes its free slots here, so a run its handler may
   * crash on is recorded started before the handler begins. Absent: runs of limited types within
   * `limit`, started; the others `claimed` (core/limits.ts unlimitedStartBudget).
   */
  startNow?: number;
  /**
   * The clock, read again once the claim holds a limited type's lock (core/limits.ts limitedClaimAt):
   * its runs start at that instant, not at `at` read before the wait. Absent: `at` (a claim at a
   * given instant).
   */
  now?: () => Date;
}

/** A claimed run with what its worker needs to execute it. */
export interface ClaimedRun {
  run: TaskRun;
  arguments: Task['arguments'];
  backendName: string;
  leaseMs: number;
  timeoutMs: number | null;
  /**
   * The task as the claim left it (`next_run_scheduled`, this run current): the end of the run is
   * planned from it without reading the task again (stores check in the same write that it has not
   * changed since). Absent when the run was read back rather than claimed.
   */
  task?: Task;
  /**
   * The W3C trace context its task was created under, when it has one (docs/tracing.md): its run's
   * span is a child of it, or, for a recurring task (`link`), the root of a trace of its own linked to it.
   */
  trace?: { context: string; link: boolean };
}

/** One held run in a worker's heartbeat: with `startedAt`, its handler began then (claimed → started). */
export interface HeartbeatItem {
  backendId: string;
  startedAt?: Date | null;
}

/** What one heartbeat of all of a worker's runs found. */
export interface HeartbeatRunsAnswer {
  /** Runs whose lease was renewed. */
  renewed: number;
  /** Runs the worker no longer holds (ended, given back, reaped, cancelled): their handlers should stop. */
  lost: string[];
  /** Held runs whose cancellation was asked for. */
  cancelRequested: string[];
}

/** A rate a throttle signal lowered: the type's (key null) or a key's, its effective count after it. */
export interface ThrottledRate {
  type: string;
  key: string | null;
  count: number;
  perMs: number;
}

/** A stored adaptive state (key null: the type's own rate). */
export interface AdaptiveRateRow {
  type: string;
  key: string | null;
  state: AdaptiveState;
}

/** What a claim got, and whether limits held waiting runs back (docs/limits.md). */
export interface ClaimOutcome {
  runs: ClaimedRun[];
  /** A concurrency or rate limit kept some waiting run of the requested types from being claimed. */
  heldBack: boolean;
  /**
   * With `heldBack`: the earliest instant a rate limit lets another run start (the claimer may sleep
   * until then); null when only a running run ending can free a slot, or nothing was held back.
   */
  retryAt: Date | null;
  /** Ids of the claimed runs this claim created from due tasks (`due`), not taken from the queue. */
  created?: number[];
}

/** A heartbeat's answer: the new end of the lease, and whether the run's cancellation was asked for. */
export interface HeartbeatAnswer {
  leaseExpiresAt: Date;
  cancelRequested: boolean;
}

/** What `cancelRun` did: ended a waiting run at once, or asked a started run's worker to stop it. */
export interface CancelRunResult {
  outcome: 'ended' | 'requested';
  run: TaskRun;
  task: Task;
  /** With `ended`: the task followed the cancellation rule (false when it had moved on). */
  taskUpdated: boolean;
}

/** How one run ends (the shared domain request: status, instant, cause, holder, result...). */
export type EndRunRequest = RunEndRequest;

export interface EndRunItem {
  backendId: string;
  req: EndRunRequest;
  /**
   * The run and its task as the holder's claim returned them (`ClaimedRun.run` and `.task`): with it a
   * store may end the run without reading either row, guarded so that a run or task changed since
   * the claim takes the careful (locking) path. Only trusted in-process; the HTTP jobboard never sets it.
   */
  held?: { run: TaskRun; task: Task };
}

export interface EndRunResult {
  run: TaskRun;
  task: Task;
  /** False when the task had moved on (disabled, respawned...): the run was recorded, the task left alone. */
  taskUpdated: boolean;
  note?: string;
}

export interface StartRunRequest {
  at: Date;
  worker: string;
  metadata?: Record<string, unknown>;
}

export interface CreatedTask {
  task: Task;
  /** False when an equal active task already existed and was returned instead (or replaced). */
  created: boolean;
  /** With `onConflict: 'replace'`: the existing task was updated (arguments, next run...). */
  replaced?: boolean;
  /** With `onConflict: 'replace'`: the waiting run the replacement ended (`lost`, `cancelled: replaced`), for its run event. */
  withdrawn?: TaskRun;
}

/** Where a chunked create (importTasks) reports what it wrote. */
export interface ChunkSink {
  /** One chunk's results, in order, once the chunk is written (not yet committed). */
  chunk(created: CreatedTask[]): void | Promise<void>;
  /** The store begins the whole transaction again: every result given so far was rolled back. */
  restart(): void;
}

/**
 * The queue of one task type at an instant (for metrics and dashboards). Every count is read from a
 * partial index over live rows only (waiting runs, leased runs) or from a type's disabled tasks, so
 * its cost does not grow with finished runs.
 */
/** Due tasks of one type that no run serves yet (status `next_run_not_scheduled`, `nextRun <= at`). */
export interface DueStats {
  type: string;
  /** How many, counted up to the reading's cap (a value equal to the cap means at least that many). */
  due: number;
  /** The earliest `nextRun` among them. */
  oldestDue: Date;
}

export interface QueueStats {
  type: string;
  /** Runs waiting to be claimed (status `scheduled`). */
  scheduled: number;
  /** Runs whose handler has begun (status `started`). */
  running: number;
  /** Runs claimed by workers and waiting in their buffers (status `claimed`). */
  claimed: number;
  /** The `scheduled` instant of the oldest waiting run; null when none waits. */
  oldestScheduled: Date | null;
  /** Tasks disabled with reason `dead_letter` (the dead-letter bin). */
  deadLettered: number;
  /** Tasks whose schedule is paused (`orrery task pause`). */
  pausedTasks: number;
}

/** Runs of one type that ended with one status within one minute (dashboards: runs per minute by outcome). */
export interface RunRate {
  type: string;
  status: RunEndStatus;
  /** Start of the minute, counted from the `since` of the query. */
  minute: Date;
  count: number;
}

/**
 * A worker as the runs show it: the runs it holds now, when it last renewed a lease (a claim or a
 * heartbeat: the lease end minus its type's lease), and when it last ended a run since the window start.
 */
/** How a type's runs load its limits and workers, for `orrery task why` (core/why.ts TypeLoadFacts). */
export interface TypeLoadRequest {
  type: string;
  at: Date;
  /** The task's concurrency key (runs held for it are counted), or null. */
  key: string | null;
  /** The task's queued run (runs ahead of it in claim order are counted), or null. */
  runId: number | null;
  /** The type's rate limit in force (starts in its window are counted), or null. */
  rate: { count: number; perMs: number } | null;
  /** The key's rate limit in force (`rateLimitPerKey`: the key's starts in its window are counted), or null. */
  keyRate?: { count: number; perMs: number } | null;
  /** Workers that renewed a lease of, or ended, a run of the type within this window are listed. */
  workerWindowMs: number;
}

/** What `Store.runSeries` reads: a window of whole buckets, of one type or every type (null). */
export interface RunSeriesQuery {
  since: Date;
  until: Date;
  bucketMs: number;
  type: string | null;
}

export interface WorkerActivity {
  worker: string;
  running: number;
  lastHeartbeat: Date | null;
  lastEnded: Date | null;
  /** Runs it ended since the window start. */
  ended: number;
}

export interface ScheduleDueOptions {
  limit?: number;
  minFree?: number;
  /**
   * The runner's grace (docs/guarantees.md): due tasks of a type without limits are left to workers,
   * who claim them directly, unless they have been due for longer than this and no worker claimed
   * directly from the type within it (`runnerCutoff` in core/claim-ahead.ts). Default 0: schedule at once.
   */
  graceMs?: number;
  /** With `graceMs`: leave every due task of types without limits to workers in this pass (a runner's first grace). */
  holdUnlimited?: boolean;
}

/** The storage port, named after domain operations. Every mutating call takes the instant `at`. */
export interface Store {
  readonly url: string;
  /** DAG workflows (SPEC §3). */
  readonly dags: DagStore;
  /** Archiving of finished runs and one-shot tasks (SPEC §5). */
  readonly archive: ArchiveStore;
  readonly visits: VisitStore;
  /** Catch-up of late cron and rrule tasks, and task backfills (docs/guide.md#schedules). */
  readonly schedules: ScheduleStore;
  /** The worker registry: who runs, idle or busy, and who stopped (docs/operations.md#workers). */
  readonly workers: WorkerStore;
  /** The task alerts' outbox, written with the ends that call for an alert (docs/guide.md#alerts). */
  readonly alerts: AlertStore;
  /**
   * True when `claimRuns` with `due` runs the catch-up of late cron and rrule tasks (`schedules.catchUpLate`)
   * inside its own transaction, first: the service then makes no catch-up call of its own before a claim.
   */
  readonly catchesUpInClaims?: boolean;
  close(): Promise<void>;
  /**
   * Throws StorageReadOnlyError when this process may not write the database (and writes nothing):
   * `startServer` checks it before starting any loop, so a daemon on a read-only database says so
   * and stops instead of retrying its passes.
   */
  assertWritable(): Promise<void>;

  createTaskType(type: TaskType, at: Date): Promise<TaskType>;
  getTaskTypes(names?: readonly string[]): Promise<TaskType[]>;
  /**
   * Edits, pauses or resumes a type: `change` gets the type as stored, read in the write's own
   * transaction with its row locked, so edits made at once each apply to what the others wrote (none
   * is lost), and returns it changed (every field but `name` and `backendName`, which never change),
   * or null to leave it as it is; it may throw to refuse (nothing written). Answers the type as it is
   * then. NotFoundError for an unknown name. Every process sees it within TYPE_CACHE_MS.
   */
  updateTaskType(name: string, change: (current: TaskType) => TaskType | null, at: Date): Promise<TaskType>;
  /** Deletes a type that has no tasks and names no listed origins (ConflictError otherwise, naming the count). */
  deleteTaskType(name: string, at: Date): Promise<void>;
  /** The load of a type's limits and workers at an instant (`orrery task why`). */
  typeLoad(req: TypeLoadRequest): Promise<TypeLoadFacts>;

  createTasks(tasks: readonly NewTask[], at: Date): Promise<CreatedTask[]>;
  /**
   * Creates the tasks of `chunks()` in ONE transaction written chunk by chunk, the event loop running
   * between chunks: all of them or, when the chunks or the sink throw or a write fails, none (the
   * error propagates). `sink.chunk` gets each chunk's results in order, once that chunk is written
   * (the store may have read the next chunk already: PostgreSQL sends it while this one runs);
   * nothing else is kept. PostgreSQL writes the whole transaction again from a new `chunks()` when it
   * ends in a deadlock or a serialization failure (5 attempts in all), after `sink.restart()` (what
   * the sink was given was rolled back). On SQLite the write lock is held until the commit (this
   * process's other writes wait for it), so neither the chunks nor the sink may wait for a write of
   * this store.
   */
  importTasks(chunks: () => AsyncIterable<readonly NewTask[]>, at: Date, sink: ChunkSink): Promise<void>;
  getTask(id: number): Promise<Task | null>;
  searchTasks(filter: TaskFilter): Promise<Task[]>;
  /**
   * One keyset page of a task search, in id order, read from the index its path names and bounded by
   * TASK_SCAN_LIMIT rows of that range when other filters are checked (core/task-search.ts).
   */
  findTasks(search: TaskSearch): Promise<TaskSearchRows<Task>>;
  /**
   * One batch of a bulk action in one transaction: each task is disabled, respawned, cancelled or
   * deleted as the single-task call would, or left alone with a reason (it changed since it was
   * selected, or the action refuses it); one refusal never undoes the others.
   */
  bulkTasks(req: BulkTaskRequest): Promise<BulkTaskOutcome>;
  listPending(type: string, at: Date, limit: number): Promise<Task[]>;
  /**
   * Disables tasks: waiting runs are cancelled at once (`withdrawn`: ended `lost`, for their run
   * events), a started current run is asked to stop (cancelRequested).
   */
  disableTasks(ids: readonly number[], at: Date): Promise<{ tasks: Task[]; withdrawn: TaskRun[] }>;
  respawnTasks(ids: readonly number[], nextRun: Date, at: Date): Promise<Task[]>;
  /**
   * Pauses (`pause` set) or resumes (null) a task's schedule. Pausing takes back a run waiting in the
   * queue (deleted: it never ran; the task is due again as it was); a run handed to a worker finishes.
   * NotFoundError for an unknown id.
   */
  setTaskPause(id: number, pause: TypePause | null, at: Date): Promise<Task>;

  /**
   * One runner pass for one type: fills free queue slots with due tasks, atomically. With
   * `minFree`, a queue that still holds runs is left alone until at least that many slots are free
   * (checked before any lock is taken), so runners do not fight over every single freed slot.
   */
  scheduleDue(type: string, at: Date, opts?: ScheduleDueOptions): Promise<TaskRun[]>;
  /** Earliest nextRun among tasks waiting to be scheduled, for the runner's sleep. */
  nextDueAt(): Promise<Date | null>;
  /**
   * The types (not paused) with a task due by `at`, in one read: a runner pass schedules only these,
   * instead of probing every type (2,000 types: 2,000 probes a pass).
   */
  typesDue(at: Date): Promise<string[]>;

  /**
   * Claims waiting runs of the requested types, oldest first, within every type's limits (maxRunning,
   * maxRunningPerKey, rateLimit, rateLimitPerKey, fifoPerKey), counted in the claim's own transaction;
   * the keys of a type with fair shares take turns (docs/limits.md).
   */
  claimRuns(req: ClaimRequest): Promise<ClaimOutcome>;
  /**
   * A handler's throttle signal (docs/limits.md#adaptive-limits): lowers the effective rate of the type,
   * or of the run's concurrency key (`throttleScope` in core/adaptive-rate.ts), as `throttled` decides,
   * serialised with the type's claims. Returns the rate lowered, or null when the type has no rate to
   * lower or the signal changed nothing (a decrease within the last window).
   */
  throttleRate(type: string, key: string | null, at: Date): Promise<ThrottledRate | null>;
  /** The adaptive states of the types named (of every type without names), for display. */
  adaptiveRates(types?: readonly string[]): Promise<AdaptiveRateRow[]>;
  /** Claimed and started runs held by `worker`: how a worker recovers a claim whose reply it never received. */
  heldRuns(worker: string): Promise<ClaimedRun[]>;
  startRun(backendId: string, req: StartRunRequest): Promise<TaskRun>;
  heartbeat(backendId: string, worker: string, at: Date): Promise<HeartbeatAnswer>;
  /**
   * One statement for all of a worker's held runs: renews their leases and marks those whose handler
   * began (`startedAt`) started. Runs it no longer holds are listed as lost, never an error.
   */
  heartbeatRuns(worker: string, items: readonly HeartbeatItem[], at: Date): Promise<HeartbeatRunsAnswer>;
  /**
   * Gives runs whose handlers never began back to the queue at once (claimed ones, and ones started at
   * the claim that the worker had not run yet): back to `scheduled`, no retry consumed, no abandon
   * counted. Runs `worker` does not hold are left alone. Returns how many went back. Runs among them
   * withdrawn from `worker` (cancelled or disabled while claimed, their lease kept) are let go: their
   * lease is cleared. With `withdrawnOnly`, nothing is given back (the worker may hold them again).
   */
  releaseRuns(worker: string, backendIds: readonly string[], at: Date, withdrawnOnly?: boolean): Promise<GiveBackOutcome<EndRunResult>>;
  /**
   * Gives claimed runs whose lease expired before `at` back to the queue, as `releaseRuns` (the reaper),
   * counting it in the run's metadata (`"orrery.givenBack"`): a handler that began less than a start-mark
   * interval before its worker vanished may have run (docs/guarantees.md).
   */
  releaseExpiredClaims(at: Date, limit?: number): Promise<GiveBackOutcome<EndRunResult>>;
  /**
   * Cancels a run: a scheduled one ends `failed` (`cancelled`) at once; a started one is flagged
   * `cancelRequested` (its worker learns it from its heartbeat or the `cancel` channel). A finished
   * run is an InvalidTransitionError.
   */
  cancelRun(backendId: string, at: Date): Promise<CancelRunResult>;
  endRun(backendId: string, req: EndRunRequest): Promise<EndRunResult>;
  /**
   * Ends several runs in one transaction (runs that finish together: one commit instead of many).
   * Each item gets its own outcome, in input order: the result, or the OrreryError refusing that end
   * (not found, ended twice, not the holder); one refused end does not undo the others.
   */
  endRuns(items: readonly EndRunItem[]): Promise<Array<EndRunResult | OrreryError>>;
  /** Ends `lost` every started run whose lease expired before `at` (claimed ones: releaseExpiredClaims). */
  reapExpired(at: Date, limit?: number): Promise<EndRunResult[]>;
  /** Earliest lease expiry among held (claimed or started) runs, for the reaper's sleep. */
  nextLeaseExpiry(): Promise<Date | null>;

  /**
   * One entry per task type, by name, zeros included: waiting and running runs, the oldest waiting
   * run, dead-lettered tasks. `at` is the instant of the reading (stores read their current state).
   */
  queueStats(at: Date): Promise<QueueStats[]>;
  /**
   * Per type with due tasks: how many are due at `at` and not yet queued (counted up to `cap`, so a
   * reading stays cheap with millions due), and the oldest due instant.
   */
  dueStats(at: Date, cap: number): Promise<DueStats[]>;
  /**
   * Runs that ended in [since, at), counted per type, final status and minute. Read from the index of
   * finished runs by end time (task_runs_finished), so the cost follows the runs of the window only.
   */
  runRates(since: Date, at: Date): Promise<RunRate[]>;
  /**
   * Workers holding leases now (from the index of leased runs) or that ended runs in [since, at) (from
   * task_runs_finished), by worker id; runs the reaper ended are not a sign of life and do not count.
   */
  workerActivity(since: Date, at: Date): Promise<WorkerActivity[]>;
  /**
   * The range charts: runs that ended in [since, until), per bucket of `bucketMs` from `since` (of one
   * type, or all), counted per final status, with the start latency (started − scheduled) of those
   * that had started. Only buckets with ended runs; a range of task_runs_finished, like runRates.
   */
  runSeries(query: RunSeriesQuery): Promise<RunSeriesBucket[]>;

  getRun(backendId: string): Promise<TaskRun | null>;
  /** A task's runs, oldest first; with `last`, only its newest `last` runs (still oldest first). */
  listRuns(taskId: number, last?: number): Promise<TaskRun[]>;
  /** Runs across tasks, newest first, one keyset page (core/run-search.ts says the order and the index). */
  searchRuns(search: RunSearch): Promise<TaskRun[]>;
  appendRunLogs(backendId: string, records: readonly RunLogRecord[]): Promise<void>;
  /**
   * A run's log records in the order they were appended, with their ids: those after the record id
   * `after` (default: from the first), at most `limit` (default: all). Read from the index (run, id).
   */
  getRunLogs(backendId: string, opts?: RunLogQuery): Promise<StoredRunLogRecord[]>;

  /** Wakes the loops a committed change concerns (core/wake-ups.ts decides which). */
  wake(change: StoreChange): void;
  listen(channel: Channel, listener: () => void): () => void;
}

export type { LogLevel };
