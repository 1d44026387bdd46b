import { nextCalendarPoint, type NextPoint } from './catch-up.js';
import type { DisabledReason, RunEndStatus, Schedule, Task, TaskPolicy, TaskStatus, TaskType } from './model.js';
import { later } from './instants.js';
import { MAX_DURATION_MS } from './duration-limit.js';

/**
 * How a run came to its end: its holder ended it, its holder gave it back, its lease ran out, or it
 * was cancelled (`cancelRun`: a scheduled run at once, a started one by its worker once told).
 */
export type EndCause = 'end' | 'abandon' | 'lease-expired' | 'cancel';

export interface EndOfRunInput {
  task: Pick<Task, 'policy' | 'schedule' | 'nextRun' | 'currentIntervalMs' | 'retriesLeft' | 'consecutiveAbandons' | 'nextAttempt'> & { id?: number; scheduledFor?: Date };
  type: Pick<TaskType, 'minIntervalMs' | 'maxIntervalMs' | 'backoffFactor' | 'numRetries' | 'retryDelayMs' | 'maxAbandons'>;
  status: RunEndStatus;
  /** The run's `ended` instant (E). */
  ended: Date;
  cause: EndCause;
  /** A handler's `RetryAfter(ms)`: replaces the type's retry delay. */
  retryAfterMs?: number | null;
  /** The instant the run served (`TaskRun.scheduledFor`); default the task's `nextRun`. */
  served?: Date;
  /**
   * The run was made by a backfill: it served a past occurrence on the side, so the task keeps its
   * own schedule and counters, and is only free again (`next_run_not_scheduled`).
   */
  backfill?: boolean;
}

export interface TaskUpdate {
  status: TaskStatus;
  disabledReason: DisabledReason | null;
  nextRun: Date;
  currentIntervalMs: number | null;
  retriesLeft: number;
  consecutiveAbandons: number;
  nextAttempt: number;
  /** The instant the task's next run serves (TaskRun.scheduledFor of its next run). */
  scheduledFor: Date;
}

/** The end-of-run formula (SPEC §2.1): the task's new state after one of its runs ended. Pure. */
export function endOfRun(input: EndOfRunInput): TaskUpdate {
  const { task, type, status, ended, cause } = input;
  const served = input.served ?? task.nextRun;
  const keep: TaskUpdate = {
    status: 'next_run_not_scheduled',
    disabledReason: null,
    nextRun: task.nextRun,
    currentIntervalMs: task.currentIntervalMs,
    retriesLeft: task.retriesLeft,
    consecutiveAbandons: task.consecutiveAbandons,
    nextAttempt: task.nextAttempt,
    scheduledFor: task.scheduledFor ?? task.nextRun,
  };
  // A backfill run leaves the task as it found it (docs/guide.md#backfill).
  if (input.backfill) return keep;
  const next = () => nextRecurring(task.policy, task.schedule, task.currentIntervalMs, ended, task.nextRun, served, task.id ?? 0);

  if (status === 'eventful' || status === 'uneventful') {
    const base = { ...keep, retriesLeft: type.numRetries, consecutiveAbandons: 0, nextAttempt: 1 };
    if (task.policy === 'oneshot') return { ...base, status: 'completed' };
    if (task.schedule.kind === 'adaptive') {
      const interval = adaptInterval(task.currentIntervalMs, type, status === 'eventful');
      const nextRun = later(ended, interval);
      return { ...base, currentIntervalMs: interval, nextRun, scheduledFor: nextRun };
    }
    const p = next();
    // A finite rule (COUNT / UNTIL, endAt) that has no occurrence left completes its task.
    return p === null ? { ...base, status: 'completed' } : { ...base, ...p };
  }

  if (status === 'permfailed') return { ...keep, status: 'disabled', disabledReason: 'permfailed' };

  if (cause === 'cancel') {
    // The run is skipped, not failed: no retry consumed, no abandon counted, the interval unchanged.
    // A one-shot task has nothing left to do (disabled, `manual`: respawn brings it back); a recurring
    // one waits for its regular next run after the cancelled one.
    if (task.policy === 'oneshot') return { ...keep, status: 'disabled', disabledReason: 'manual' };
    const p = next();
    return p === null ? { ...keep, status: 'completed' } : { ...keep, ...p };
  }

  const abandons = status === 'lost' ? task.consecutiveAbandons + 1 : 0;
  if (status === 'lost' && abandons >= type.maxAbandons) {
    return { ...keep, consecutiveAbandons: abandons, status: 'disabled', disabledReason: 'dead_letter' };
  }
  if (cause === 'abandon') {
    // Given back by its holder: run again at once, no retry consumed, for the same instant.
    return { ...keep, consecutiveAbandons: abandons, nextRun: ended, scheduledFor: served };
  }
  // failed, or lost to an expired lease / cancelled before a claim: the failure rule.
  const failed = { ...keep, consecutiveAbandons: abandons };
  if (task.retriesLeft > 0) {
    const delay = input.retryAfterMs ?? type.retryDelayMs;
    return {
      ...failed,
      nextRun: later(ended, delay),
      retriesLeft: task.retriesLeft - 1,
      nextAttempt: task.nextAttempt + 1,
      // A retry serves the same instant (a cron task's occurrence) as the run that failed.
      scheduledFor: served,
    };
  }
  if (task.policy === 'oneshot') return { ...failed, status: 'disabled', disabledReason: 'retries_exhausted' };
  const p = next();
  if (p === null) return { ...failed, status: 'completed' };
  return { ...failed, retriesLeft: type.numRetries, nextAttempt: 1, ...p };
}

/**
 * Eventful runs divide the interval by the backoff factor, uneventful ones multiply it; clamped to
 * [min, max], rounded to whole ms. A type without intervals (all three cleared by an edit, after its
 * tasks were created) no longer adapts them: each keeps its interval (unclamped, it fell to 0 ms, a
 * task run again at once for ever, or grew past the 100-year limit). A single missing bound (never
 * stored: a type's bounds default to its interval) stands for the duration limits, 1 ms to 100 years.
 */
export function adaptInterval(
  current: number | null,
  type: Pick<TaskType, 'minIntervalMs' | 'maxIntervalMs' | 'backoffFactor'>,
  eventful: boolean,
): number {
  if (current === null) throw new Error('adaptive task without an interval');
  if (type.minIntervalMs === null && type.maxIntervalMs === null) return current;
  const raw = eventful ? current / type.backoffFactor : current * type.backoffFactor;
  const lo = type.minIntervalMs ?? 1;
  const hi = type.maxIntervalMs ?? MAX_DURATION_MS;
  return Math.round(Math.min(hi, Math.max(lo, raw)));
}

/** The regular next point of a recurring task: after its interval, or its schedule's next occurrence (core/catch-up.ts). */
function nextRecurring(policy: TaskPolicy, schedule: Schedule, interval: number | null, ended: Date, previous: Date, served: Date, taskId: number): NextPoint | null {
  if (schedule.kind === 'adaptive') {
    if (policy !== 'recurring' || interval === null) throw new Error('adaptive task without an interval');
    const nextRun = later(ended, interval);
    return { nextRun, scheduledFor: nextRun };
  }
  return nextCalendarPoint(schedule, taskId, served, ended, previous);
}
