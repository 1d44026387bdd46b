import { DAG_TASK_STATUSES_HOLDING_ATTEMPT } from '../core/dag.js';
import { sqlStrings } from './sql-lists.js';
import type { RunLogRecord, Task, TaskRun } from '../core/model.js';

/**
 * SQL (both dialects) true when the task whose id is the expression `task` is the current attempt of
 * a DAG task the scheduler has not recorded yet (core archiveHoldsAttempt): archiving leaves it and
 * its runs. The statuses are constants of the code, never user input.
 */
export function heldDagAttemptSql(task: string): string {
  const statuses = sqlStrings(DAG_TASK_STATUSES_HOLDING_ATTEMPT);
  return `EXISTS (SELECT 1 FROM dag_task_attempts a JOIN dag_task_instances i ON i.run = a.run AND i.task_id = a.task_id
      WHERE a.orrery_task = ${task} AND i.attempt = a.attempt AND i.status IN (${statuses}))`;
}

/**
 * SQL (both dialects) true when the run whose row is the alias `run` belongs to a backfill still
 * running: its progress (`task backfills`, `GET /api/backfills/{id}`, `--follow`) is counted from its
 * runs, so archiving leaves them until the backfill is done or cancelled.
 */
export function heldBackfillRunSql(run: string): string {
  return `(${run}.backfill IS NOT NULL AND EXISTS (SELECT 1 FROM task_backfills b WHERE b.id = ${run}.backfill AND b.status = 'running'))`;
}

/**
 * SQL (both dialects) true when the task whose id is the expression `task` is a visit the
 * visit-scheduler handed out and has not recorded yet (its row in visits_in_flight): its result is
 * read from the task's last run, so archiving leaves the task and its runs until it is recorded.
 */
export function heldVisitSql(task: string): string {
  return `EXISTS (SELECT 1 FROM visits_in_flight v WHERE v.task_id = ${task})`;
}

/**
 * Where the next archiving batch starts. Finished runs are taken in (ended, id) order; once none is
 * left before the cut-off, disabled one-shot tasks without runs are taken in id order.
 */
export type ArchiveCursor = { phase: 'runs'; ended: Date; id: number } | { phase: 'tasks'; id: number };

export interface ArchivedRun {
  run: TaskRun;
  /** The run's log records, oldest first. */
  logs: RunLogRecord[];
}

/** One batch, read and deleted in one transaction. */
export interface ArchiveBatch {
  /** Finished runs, in (ended, id) order. */
  runs: ArchivedRun[];
  /** Finished one-shot tasks (completed or disabled) none of whose runs is left after this batch. */
  tasks: Task[];
  /** Where the next batch starts; null when nothing is left before the cut-off. */
  next: ArchiveCursor | null;
}

/** A progress value recorded in the batch's own transaction (e.g. the byte offset of a JSONL file). */
export interface ArchiveProgressUpdate {
  key: string;
  value: string;
}

export interface ArchiveBatchRequest {
  /** Only runs ended strictly before this instant (and tasks created before it) are archived. */
  before: Date;
  /** Null for the first batch of a sweep. */
  after: ArchiveCursor | null;
  /** Most runs per batch (in the tasks phase: most tasks per batch). */
  limit: number;
  /** When the archive happens (recorded as `archived_at` in the archive tables). */
  at: Date;
  /** Copy the batch into the archive tables (`archived_task_runs`, `archived_tasks`). */
  table: boolean;
  /** Where the batch is written besides (a JSONL file), inside its transaction. */
  sink?: ArchiveSink;
}

/**
 * A batch's writer outside the database (a JSONL file), whose state is the progress value recorded
 * under `key`. Batches take turns (PostgreSQL's advisory lock, SQLite's write lock), so the value read
 * in the batch's own transaction is what every archiver of the database has committed to the sink:
 * two archivers writing one file each continue where the other stopped.
 */
export interface ArchiveSink {
  key: string;
  /**
   * Called inside the batch's transaction, after the rows are read and `key`'s value (`committed`,
   * null if none) is read, before anything is deleted; only for a non-empty batch. It must be
   * synchronous (SQLite transactions cannot span an await); throwing undoes the whole batch. What it
   * returns is recorded in the same transaction.
   */
  write(batch: ArchiveBatch, committed: string | null): ArchiveProgressUpdate;
}

export interface ArchivedRunFilter {
  /** Only runs of this task. */
  task?: number;
  /** Only records with a larger id (keyset pagination). */
  afterId?: number;
  limit: number;
}

/**
 * Moves finished work out of the live tables. A batch never touches a live run (scheduled or
 * started), a task's current run, a task that is not a finished one-shot task, or the current
 * attempt of a DAG task not yet final (heldDagAttemptSql) and its runs; run logs go with
 * their run, a task goes with its last run. Deleting in (ended, id) keyset order means a batch never
 * repeats or skips a row, whatever the number of runs per task.
 */
export interface ArchiveStore {
  archiveBatch(req: ArchiveBatchRequest): Promise<ArchiveBatch>;
  getProgress(key: string): Promise<string | null>;
  /**
   * Records `value` under `key` if the value there is still `expected` (null: none yet); false when
   * another process changed it first (read it again). Batches record theirs in their transaction.
   */
  replaceProgress(key: string, expected: string | null, value: string, at: Date): Promise<boolean>;
  /** Runs from the archive tables, by id. */
  readArchivedRuns(filter: ArchivedRunFilter): Promise<ArchivedRun[]>;
  /** Tasks from the archive tables, by id (`task` selects one task). */
  readArchivedTasks(filter: ArchivedRunFilter): Promise<Task[]>;
}

/** The JSON text of an archived run as stored and exported (Dates as ISO 8601 strings). */
export function runRecordJson(r: ArchivedRun): string {
  return JSON.stringify({ run: r.run, logs: r.logs });
}

/** Revives an archived run from its stored JSON (jsonb objects or text). */
export function archivedRunFromJson(v: unknown): ArchivedRun {
  const o = (typeof v === 'string' ? JSON.parse(v) : v) as { run: Record<string, unknown>; logs: Array<Record<string, unknown>> };
  const d = (x: unknown) => (x === null || x === undefined ? null : new Date(x as string));
  const run = o.run;
  return {
    run: { ...run, scheduled: d(run.scheduled)!, scheduledFor: d(run.scheduledFor ?? run.scheduled)!, started: d(run.started), ended: d(run.ended), leaseExpiresAt: d(run.leaseExpiresAt) } as TaskRun,
    logs: o.logs.map((l) => ({ ...l, at: d(l.at)! }) as RunLogRecord),
  };
}

export function archivedTaskFromJson(v: unknown): Task {
  const t = (typeof v === 'string' ? JSON.parse(v) : v) as Record<string, unknown>;
  return { ...t, nextRun: new Date(t.nextRun as string), scheduledFor: new Date((t.scheduledFor ?? t.nextRun) as string), created: new Date(t.created as string) } as Task;
}
