import type { CalendarOptions, CalendarOptionsInput } from './schedule-options.js';

/** Domain objects. Their JSON form (Dates serialise as ISO 8601 UTC with ms) is the public JSON shape (SPEC §6.3). */

export const TASK_POLICIES = ['recurring', 'oneshot'] as const;
export type TaskPolicy = (typeof TASK_POLICIES)[number];

export const TASK_STATUSES = ['next_run_not_scheduled', 'next_run_scheduled', 'completed', 'disabled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
/**
 * The statuses of a finished task, one that will not run again by itself: `completed` (a one-shot task
 * that succeeded, a schedule with no occurrence left) or `disabled` (retries exhausted, a permanent
 * failure, dead-lettered, disabled by hand). Stores build their SQL lists from it (store/sql-lists.ts).
 */
export const FINISHED_TASK_STATUSES = ['completed', 'disabled'] as const satisfies readonly TaskStatus[];

export const DISABLED_REASONS = ['manual', 'permfailed', 'retries_exhausted', 'dead_letter'] as const;
export type DisabledReason = (typeof DISABLED_REASONS)[number];

export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Ordering rank used by the runner and the jobboard: high, normal, low, then no priority. */
export function priorityRank(p: Priority | null): number {
  return p === null ? 3 : PRIORITIES.indexOf(p);
}

export const RUN_STATUSES = ['scheduled', 'claimed', 'started', 'eventful', 'uneventful', 'failed', 'permfailed', 'lost'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export type RunEndStatus = Exclude<RunStatus, 'scheduled' | 'claimed' | 'started'>;
/** Runs a worker holds under a lease: claimed (in its buffer, or begun but not yet marked) and started. */
export const HELD_RUN_STATUSES = ['claimed', 'started'] as const;
export const RUN_END_STATUSES = ['eventful', 'uneventful', 'failed', 'permfailed', 'lost'] as const satisfies readonly RunEndStatus[];
/**
 * How the holder of a run ends it through the jobboard (SPEC §2.3); `lost` is not among them: a holder
 * gives a run back with abandon, and the reaper ends the runs of holders that vanished.
 */
export const HOLDER_END_STATUSES = ['eventful', 'uneventful', 'failed', 'permfailed'] as const satisfies readonly RunEndStatus[];

/**
 * Allowed run transitions (SPEC §1.3). Final states have none. A claimed run waits in its worker's
 * buffer; `started` is set when its handler begins. A run whose handler began and ended between two
 * of its worker's writes goes from `claimed` to its end in one write, which records the handler's
 * start instant too (`claimed → final`). `claimed → scheduled` gives a run that never ran back to
 * the queue (its worker stopped, or its lease expired) without consuming a retry; so does
 * `started → scheduled` for a run started at its claim whose worker gave it back unrun.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  scheduled: ['claimed', 'started', 'lost'],
  claimed: ['scheduled', 'started', 'eventful', 'uneventful', 'failed', 'permfailed', 'lost'],
  // started -> scheduled: a run started at its claim whose worker gave it back before running it.
  started: ['scheduled', 'eventful', 'uneventful', 'failed', 'permfailed', 'lost'],
  eventful: [],
  uneventful: [],
  failed: [],
  permfailed: [],
  lost: [],
};

/**
 * The error of a cancelled run (docs/limits.md): a waiting or buffered run ends `lost` at once (the
 * table's `scheduled | claimed → lost`), a started one ends `failed` once its worker has stopped it.
 */
export const CANCELLED_ERROR = 'cancelled';

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return RUN_TRANSITIONS[from].includes(to);
}

/** A run held by a worker under a lease (claimed or started). */
export function isHeldRunStatus(s: RunStatus): boolean {
  return s === 'claimed' || s === 'started';
}

export function isFinalRunStatus(s: RunStatus): boolean {
  return RUN_TRANSITIONS[s].length === 0;
}

/**
 * A task's schedule as stored: `tz` filled in, an rrule anchored (it has a DTSTART), the options of a
 * cron or rrule schedule in their normal form (durations in milliseconds, instants as ISO 8601 text,
 * options at their default left out).
 */
export type Schedule =
  | { kind: 'adaptive' }
  | ({ kind: 'cron'; expr: string; tz: string } & CalendarOptions)
  | ({ kind: 'rrule'; rule: string } & CalendarOptions);

/** A cron or rrule schedule (the schedules with occurrences). */
export type CalendarSchedule = Exclude<Schedule, { kind: 'adaptive' }>;

/**
 * A task's schedule as given at creation (`TaskInput.schedule`): adaptive (the default; `null` too),
 * a cron expression in an IANA zone (`tz` defaults to `UTC`), or an RFC 5545 rule (anchored at the
 * creation instant when it has no DTSTART), with the options of docs/guide.md#schedules (catch-up,
 * jitter, bounds, exclusions). Validated at creation (a `ValidationError` naming the field, e.g.
 * `schedule.expr`, `schedule.tz`, `schedule.rule` or `schedule.jitter`).
 */
export type ScheduleInput =
  | { kind: 'adaptive' }
  | ({ kind: 'cron'; /** five or six fields, e.g. `0 9 * * 1-5` */ expr: string; /** IANA zone; default `UTC` */ tz?: string } & CalendarOptionsInput)
  | ({ kind: 'rrule'; /** RFC 5545 text, e.g. `FREQ=DAILY;BYHOUR=9` */ rule: string } & CalendarOptionsInput);

export interface TaskType {
  name: string;
  description: string;
  backendName: string;
  defaultIntervalMs: number | null;
  minIntervalMs: number | null;
  maxIntervalMs: number | null;
  backoffFactor: number;
  maxQueueLength: number | null;
  numRetries: number;
  retryDelayMs: number;
  timeoutMs: number | null;
  leaseMs: number;
  maxAbandons: number;
  /** Most runs of this type started (running) at once, across all workers; null = unbounded. */
  maxRunning: number | null;
  /** Most running runs per task `concurrencyKey`; null = unbounded. Tasks without a key are not limited per key. */
  maxRunningPerKey: number | null;
  /** At most `count` runs of this type start within any `perMs` window (sliding); null = no rate limit. */
  rateLimit: { count: number; perMs: number } | null;
  /**
   * At most `count` runs per task `concurrencyKey` start within any `perMs` window (sliding); null = none.
   * Tasks without a key are not limited per key.
   */
  rateLimitPerKey: { count: number; perMs: number } | null;
  /**
   * Concurrency keys take turns at claims, `weights[key]` runs per turn (1 for a key not listed; runs
   * without a key are one more group of weight 1); null = claim order across keys (docs/limits.md).
   */
  fairShare: FairShare | null;
  /** One held run per concurrency key at a time, keys taking turns, a key's runs in claim order. */
  fifoPerKey: boolean;
  /**
   * The rates in force now, as handlers' throttle signals left them (docs/limits.md#adaptive-limits);
   * filled by the service's reads of task types, absent on types read from the store.
   */
  effectiveRate?: EffectiveRates | null;
  /**
   * Set while the type is paused: its runs are neither scheduled nor claimed (running runs finish).
   * Absent or null: running normally.
   */
  paused?: TypePause | null;
}

/** Fair shares between the concurrency keys of a type: runs per turn of each listed key (others: 1). */
export interface FairShare {
  weights: Record<string, number>;
}

/** A type's rate limits as throttle signals left them at an instant (docs/limits.md#adaptive-limits). */
export interface EffectiveRates {
  /** The type's effective `rateLimit` (runs per `perMs`, not rounded); null without a rate limit. */
  type: { count: number; perMs: number } | null;
  /** Keys whose effective `rateLimitPerKey` is below the configured one (the most throttled first, at most 100). */
  keys: Array<{ key: string; count: number; perMs: number }>;
}

/** Why and since when a task type, a task or a DAG is paused (`orrery task-type|task|dag pause`). */
export interface TypePause {
  at: Date;
  reason: string;
}

export interface TaskArguments {
  args: unknown[];
  kwargs: Record<string, unknown>;
}

export interface Task {
  id: number;
  type: string;
  arguments: TaskArguments;
  policy: TaskPolicy;
  schedule: Schedule;
  nextRun: Date;
  /**
   * The instant the task's next run serves: its occurrence for a cron or rrule task (`nextRun` is
   * later by the schedule's jitter, or by a retry's delay), else its due instant when it was set.
   */
  scheduledFor: Date;
  currentIntervalMs: number | null;
  status: TaskStatus;
  disabledReason: DisabledReason | null;
  retriesLeft: number;
  consecutiveAbandons: number;
  priority: Priority | null;
  /** Attempt number the next run of this task will carry. */
  nextAttempt: number;
  /** The task's identity within its type when given (onConflict compares keys); null = identity is its definition. */
  key: string | null;
  /** Runs of tasks sharing a key count against their type's `maxRunningPerKey`; null = no key. */
  concurrencyKey: string | null;
  created: Date;
  /**
   * Set while the task's schedule is paused (`orrery task pause`): it is neither scheduled nor claimed
   * (a run already handed to a worker finishes). Null, or absent on tasks built before it was read.
   */
  paused?: TypePause | null;
}

export interface TaskRun {
  id: number;
  task: number;
  type: string;
  backendId: string;
  status: RunStatus;
  scheduled: Date;
  /**
   * The instant this run serves: the occurrence of a cron or rrule task (a backfill's too), else the
   * instant its task was due. Handlers read it as `run.scheduledFor`.
   */
  scheduledFor: Date;
  started: Date | null;
  ended: Date | null;
  metadata: Record<string, unknown>;
  result: unknown;
  error: string | null;
  worker: string | null;
  leaseExpiresAt: Date | null;
  attempt: number;
  /** A cancellation was asked for while the run was started; its worker stops it and it ends `failed` (`cancelled`). */
  cancelRequested: boolean;
  /** Set on a run made by a task backfill: the backfill's id (docs/guide.md#backfill). */
  backfill?: number;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface RunLogRecord {
  at: Date;
  level: LogLevel;
  message: string;
  attributes: Record<string, unknown>;
}

/** A log record as stored: `id` increases in the order records reach the store (the cursor of `getRunLogs({ after })`). */
export interface StoredRunLogRecord extends RunLogRecord {
  id: number;
}
