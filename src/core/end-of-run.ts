import { maxDate } from './instants.js';
import type { DisabledReason, RunEndStatus, Schedule, Task, TaskPolicy, TaskStatus, TaskType } from './model.js';
import { nextOccurrenceOrNull } from './schedule.js';

/**
 * How a run came to its end: its holder ended it, its holder gave it back, its lease ran out, or it
 * was cancelled (`cancelRun`: a scheduled run at once, a started one by its worker once told).
 */
export type EndCause = 'end' | 'abandon' | 'lease-expired' | 'cancel';

export interface EndOfRunInput {
  task: Pick<Task, 'policy' | 'schedule' | 'nextRun' | 'currentIntervalMs' | 'retriesLeft' | 'consecutiveAbandons' | 'nextAttempt'>;
  type: Pick<TaskType, 'minIntervalMs' | 'maxIntervalMs' | 'backoffFactor' | 'numRetries' | 'retryDelayMs' | 'maxAbandons'>;
  status: RunEndStatus;
  /** The run's `ended` instant (E). */
  ended: Date;
  cause: EndCause;
  /** A handler's `RetryAfter(ms)`: replaces the type's retry delay. */
  retryAfterMs?: number | null;
}

export interface TaskUpdate {
  status: TaskStatus;
  disabledReason: DisabledReason | null;
  nextRun: Date;
  currentIntervalMs: number | null;
  retriesLeft: number;
  consecutiveAbandons: number;
  nextAttempt: number;
}

/** The end-of-run formula (SPEC §2.1): the task's new state after one of its runs ended. Pure. */
export function endOfRun(input: EndOfRunInput): TaskUpdate {
  const { task, type, status, ended, cause } = input;
  const keep: TaskUpdate = {
    status: 'next_run_not_scheduled',
    disabledReason: null,
    nextRun: task.nextRun,
    currentIntervalMs: task.currentIntervalMs,
    retriesLeft: task.retriesLeft,
    consecutiveAbandons: task.consecutiveAbandons,
    nextAttempt: task.nextAttempt,
  };

  if (status === 'eventful' || status === 'uneventful') {
    const base = { ...keep, retriesLeft: type.numRetries, consecutiveAbandons: 0, nextAttempt: 1 };
    if (task.policy === 'oneshot') return { ...base, status: 'completed' };
    if (task.schedule.kind === 'adaptive') {
      const interval = adaptInterval(task.currentIntervalMs, type, status === 'eventful');
      return { ...base, currentIntervalMs: interval, nextRun: new Date(ended.getTime() + interval) };
    }
    const next = nextOccurrenceOrNull(task.schedule, maxDate(ended, task.nextRun));
    // A finite rule (COUNT / UNTIL) that has no occurrence left completes its task.
    return next === null ? { ...base, status: 'completed' } : { ...base, nextRun: next };
  }

  if (status === 'permfailed') return { ...keep, status: 'disabled', disabledReason: 'permfailed' };

  if (cause === 'cancel') {
    // The run is skipped, not failed: no retry consumed, no abandon counted, the interval unchanged.
    // A one-shot task has nothing left to do (disabled, `manual`: respawn brings it back); a recurring
    // one waits for its regular next run after the cancelled one.
    if (task.policy === 'oneshot') return { ...keep, status: 'disabled', disabledReason: 'manual' };
    const next = nextRecurring(task.policy, task.schedule, task.currentIntervalMs, ended, task.nextRun);
    return next === null ? { ...keep, status: 'completed' } : { ...keep, nextRun: next };
  }

  const abandons = status === 'lost' ? task.consecutiveAbandons + 1 : 0;
  if (status === 'lost' && abandons >= type.maxAbandons) {
    return { ...keep, consecutiveAbandons: abandons, status: 'disabled', disabledReason: 'dead_letter' };
  }
  if (cause === 'abandon') {
    // Given back by its holder: run again at once, no retry consumed.
    return { ...keep, consecutiveAbandons: abandons, nextRun: ended };
  }
  // failed, or lost to an expired lease / cancelled before a claim: the failure rule.
  const failed = { ...keep, consecutiveAbandons: abandons };
  if (task.retriesLeft > 0) {
    const delay = input.retryAfterMs ?? type.retryDelayMs;
    return {
      ...failed,
      nextRun: new Date(ended.getTime() + delay),
      retriesLeft: task.retriesLeft - 1,
      nextAttempt: task.nextAttempt + 1,
    };
  }
  if (task.policy === 'oneshot') return { ...failed, status: 'disabled', disabledReason: 'retries_exhausted' };
  const next = nextRecurring(task.policy, task.schedule, task.currentIntervalMs, ended, task.nextRun);
  if (next === null) return { ...failed, status: 'completed' };
  return { ...failed, retriesLeft: type.numRetries, nextAttempt: 1, nextRun: next };
}

/** Eventful runs divide the interval by the backoff factor, uneventful ones multiply it; clamped to [min, max]. */
export function adaptInterval(
  current: number | null,
  type: Pick<TaskType, 'minIntervalMs' | 'maxIntervalMs' | 'backoffFactor'>,
  eventful: boolean,
): number {
  if (current === null) throw new Error('adaptive task without an interval');
  const raw = eventful ? current / type.backoffFactor : current * type.backoffFactor;
  const lo = type.minIntervalMs ?? raw;
  const hi = type.maxIntervalMs ?? raw;
  return Math.round(Math.min(hi, Math.max(lo, raw)));
}

function nextRecurring(policy: TaskPolicy, schedule: Schedule, interval: number | null, ended: Date, previous: Date): Date | null {
  if (policy === 'recurring' && schedule.kind === 'adaptive') {
    if (interval === null) throw new Error('adaptive task without an interval');
    return new Date(ended.getTime() + interval);
  }
  return nextOccurrenceOrNull(schedule, maxDate(ended, previous));
}
