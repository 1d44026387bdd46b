import { TaskConflictError } from './errors.js';
import type { Priority, RunStatus, Task, TaskArguments } from './model.js';
import type { NewTask, OnConflict } from './validation.js';

/** What an incoming task would change on the active task it collides with. */
export interface Replacement {
  arguments: TaskArguments;
  nextRun: Date;
  /** The instant the next run serves (Task.scheduledFor): `nextRun` unless a calendar task keeps its own. */
  scheduledFor: Date;
  priority: Priority | null;
  priorityRank: number;
  concurrencyKey: string | null;
}

export type ConflictPlan =
  /** Return the existing task unchanged (`return`, or `replace` of a task whose run has started). */
  | { action: 'return' }
  /** Update the existing task; with `withdrawRun`, its waiting run ends first (`lost`, `cancelled: replaced`). */
  | { action: 'replace'; withdrawRun: boolean; update: Replacement };

export const REPLACED_ERROR = 'cancelled: replaced';
/**
 * The status a waiting run withdrawn by a replacement ends with: `lost`, the `scheduled → lost`
 * transition of a cancellation (SPEC §1.3), as `cancelRun` ends a waiting run. It never ran, so it
 * is not a failure; the task takes the replacement instead of an end-of-run update.
 */
export const WITHDRAWN_STATUS = 'lost' satisfies RunStatus;

/** What an incoming task would change on the active task it collides with. */
export function replacementOf(t: Pick<NewTask, 'arguments' | 'nextRun' | 'priority' | 'priorityRank' | 'concurrencyKey'>): Replacement {
  return { arguments: t.arguments, nextRun: t.nextRun, scheduledFor: t.nextRun, priority: t.priority, priorityRank: t.priorityRank, concurrencyKey: t.concurrencyKey ?? null };
}

/**
 * What a `replace` writes on the task `held` it collides with at `at` (docs/limits.md): the new
 * arguments, priority and concurrency key, and the next run given; without one, `replace` keeps the
 * held task's schedule, so the next run comes from it, not from the incoming task's (ignored)
 * schedule: a cron or rrule task keeps its next occurrence (its owed one, when a withdrawn run served
 * it), an adaptive one runs now.
 */
export function replacementFor(held: Pick<Task, 'schedule' | 'nextRun' | 'scheduledFor'>, t: Pick<NewTask, 'arguments' | 'nextRun' | 'nextRunDefaulted' | 'priority' | 'priorityRank' | 'concurrencyKey'>, at: Date): Replacement {
  const r = replacementOf(t);
  if (!t.nextRunDefaulted) return r;
  if (held.schedule.kind === 'adaptive') return { ...r, nextRun: at, scheduledFor: at };
  return { ...r, nextRun: held.nextRun, scheduledFor: held.scheduledFor };
}

/**
 * Creating a task whose identity (its `key` within its type, or else its whole definition) is held
 * by an active task (docs/limits.md):
 * - `return`: the existing task is returned unchanged;
 * - `error`: a ConflictError naming the existing task;
 * - `replace`: a task waiting for its next run takes the new arguments, next run, priority and
 *   concurrency key; one whose run waits in the jobboard has that run withdrawn and then does the
 *   same; one whose run a worker holds (claimed in its buffer, or started) is returned unchanged.
 * `currentRunStatus` is the status of the task's current run (null when it has none).
 */
export function planConflict(existing: Task, currentRunStatus: RunStatus | null, mode: OnConflict, incoming: Replacement): ConflictPlan {
  if (mode === 'return') return { action: 'return' };
  if (mode === 'error') {
    const what = existing.key !== null ? `key "${existing.key}"` : 'the same definition';
    throw new TaskConflictError(`task ${existing.id} of type ${existing.type} with ${what} is active (${existing.status}); nothing created`, [
      { path: existing.key !== null ? 'key' : 'arguments', message: `conflicts with active task ${existing.id}` },
    ], existing.id);
  }
  if (existing.status === 'next_run_not_scheduled') return { action: 'replace', withdrawRun: false, update: incoming };
  // A run a worker holds is left to it, in its buffer (claimed) too: its handler may have begun
  // already (a start is recorded up to a quarter second later), and withdrawing it would run both
  // the old arguments and the new.
  if (existing.status === 'next_run_scheduled' && currentRunStatus === 'scheduled') return { action: 'replace', withdrawRun: true, update: incoming };
  return { action: 'return' };
}
