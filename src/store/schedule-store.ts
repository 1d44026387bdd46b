import type { CatchUp } from '../core/schedule-options.js';
import type { TaskRun } from '../core/model.js';

/** A cron or rrule task that the catch-up of late tasks moved (docs/guide.md#catch-up). */
export interface CaughtUpTask {
  task: number;
  type: string;
  catchUp: CatchUp;
  /** The occurrence it was waiting for. */
  missed: Date;
  /** The occurrence it serves now; null: its schedule has none left and it completed. */
  serves: Date | null;
  /** When that occurrence is due. */
  nextRun: Date | null;
}

export const BACKFILL_STATUSES = ['running', 'done', 'cancelled'] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

/** A task backfill: the occurrences of [from, to], each run once, in order, one at a time (docs/guide.md#backfill). */
export interface TaskBackfill {
  id: number;
  task: number;
  from: Date;
  to: Date;
  /** The next occurrence to get a run; null once every occurrence has had its run. */
  nextPoint: Date | null;
  /** How many occurrences the range holds. */
  total: number;
  /** `running` until its last run ended (`done`), or `cancelled` (by hand, or its task was disabled or completed). */
  status: BackfillStatus;
  created: Date;
  updated: Date;
}

/** Storage of schedule decisions: the catch-up of late cron and rrule tasks, and task backfills. */
export interface ScheduleStore {
  /**
   * Applies catch-up (core/catch-up.ts planLateTask) to cron and rrule tasks that are waiting to be
   * scheduled, are not retrying, belong to a type that is not paused, and whose due instant is more
   * than LATE_AFTER_MS before `at`: at most `limit` of them, the most overdue first, each guarded
   * against a concurrent change. Read from an index of waiting cron and rrule tasks only. With `type`,
   * only tasks of that type (a runner pass of one type, `task schedule -t`, leaves the others alone).
   */
  catchUpLate(at: Date, limit: number, type?: string): Promise<CaughtUpTask[]>;
  /**
   * Records a running backfill of `task` whose first occurrence is `first`, unless a backfill of the
   * task runs already: that one is answered, `created` false. Atomic: of calls made at once for one
   * task (in any process), one creates it.
   */
  createBackfill(task: number, from: Date, to: Date, first: Date, total: number, at: Date): Promise<{ backfill: TaskBackfill; created: boolean }>;
  getBackfill(id: number): Promise<TaskBackfill | null>;
  /** A task's backfills, newest first. */
  listBackfills(task: number): Promise<TaskBackfill[]>;
  /** Backfills still running, oldest first: up to `limit` of those with an id above `afterId` (a page). */
  runningBackfills(limit: number, afterId?: number): Promise<TaskBackfill[]>;
  /**
   * Gives a running backfill's next occurrence `point` its run, if the backfill still expects it and its
   * task is free (waiting for its own next run, which is not yet due at `at`) and its type's queue has
   * room (core queueSlots, as for the runner's picks): a `scheduled` run serving
   * `point`, which becomes the task's current run (so no other run of the task starts meanwhile); the
   * backfill moves on to `following` (null: that was its last). Null when the task is busy, the queue
   * full, or something changed meanwhile.
   */
  startBackfillRun(id: number, point: Date, following: Date | null, at: Date): Promise<TaskRun | null>;
  /**
   * Ends a running backfill (`done` or `cancelled`); null when it was no longer running, or for `done`
   * when an occurrence is left to run (a pause gave one back after the caller read it).
   */
  finishBackfill(id: number, status: Exclude<BackfillStatus, 'running'>, at: Date): Promise<TaskBackfill | null>;
  /** The runs a backfill made, oldest first. */
  backfillRuns(id: number): Promise<TaskRun[]>;
}
