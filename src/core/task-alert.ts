import { DAG_BACKEND, dagAttemptOf } from './dag.js';
import { type DisabledReason, type Task, type TaskRun, type TaskType } from './model.js';
import { endedCancelled } from './run-end.js';

/** The reasons a run's end disables its task for good (a manual disable is no failure). */
const FAILED_FOR_GOOD: ReadonlySet<DisabledReason> = new Set(['permfailed', 'retries_exhausted', 'dead_letter']);

/**
 * A task's run that failed (docs/guide.md#alerts): `failed` when its end disabled the task for good
 * (permfailed, retries exhausted, or dead-lettered after too many lost runs), `retry` when the
 * handler failed and the task runs again at `nextRun`. A lost run whose task goes on (a worker that
 * died or gave its run up at a shutdown) is no alert: the reaper's log and metrics count those.
 */
export interface TaskAlert {
  kind: 'failed' | 'retry';
  taskId: number;
  type: string;
  /** The run that failed. */
  backendId: string;
  attempt: number;
  /** How the run ended. */
  status: 'failed' | 'permfailed' | 'lost';
  error: string | null;
  /** Why the task is disabled (`failed` alerts), else null. */
  disabledReason: DisabledReason | null;
  /** When the task runs again (`retry` alerts), else null. */
  nextRun: Date | null;
  /** When the run ended. */
  ended: Date;
}

/**
 * The alert a run's end calls for, from the run and its task as the end left them; null for a run
 * that succeeded, a cancellation, an end that did not update the task (it had moved on), and a task
 * disabled by hand. DAG attempts are left to the DAG alerts (the caller knows their types).
 */
export function taskAlertOf(run: TaskRun, task: Task, taskUpdated: boolean): TaskAlert | null {
  if (!taskUpdated || run.task !== task.id || !mayAlert(run.status)) return null;
  if (endedCancelled(run)) return null;
  const base = { taskId: task.id, type: task.type, backendId: run.backendId, attempt: run.attempt, status: run.status, error: run.error, ended: run.ended ?? new Date(0) };
  if (task.status === 'disabled') {
    if (task.disabledReason === null || !FAILED_FOR_GOOD.has(task.disabledReason)) return null;
    return { kind: 'failed', ...base, disabledReason: task.disabledReason, nextRun: null };
  }
  if (task.status === 'completed' || run.status !== 'failed') return null;
  return { kind: 'retry', ...base, disabledReason: null, nextRun: task.nextRun };
}

/** Whether a run that ended so may call for an alert (a success never does): a cheap first test on the hot path. */
export function mayAlert(status: TaskRun['status']): status is TaskAlert['status'] {
  return status === 'failed' || status === 'permfailed' || status === 'lost';
}

/** An alert in a log line: `task 42 (send-mail) run … attempt 3 failed`. */
export function describeAlert(a: TaskAlert): string {
  return `task ${a.taskId} (${a.type}) run ${a.backendId} attempt ${a.attempt} ${a.status}`;
}

/**
 * The alert a run's end stores with it (docs/guide.md#alerts): taskAlertOf's, except for DAG attempts
 * (a type served by the DAG backend), which the DAG alerts report. Both stores write it in the
 * transaction that records the end.
 */
export function storedAlertOf(run: TaskRun, task: Task, taskUpdated: boolean, typeOf: (name: string) => Pick<TaskType, 'backendName'>): TaskAlert | null {
  // Most ends succeed: they return before the type is looked up.
  if (!mayAlert(run.status)) return null;
  const alert = taskAlertOf(run, task, taskUpdated);
  // A DAG attempt has the DAG alerts; a task of a DAG type made by hand is no attempt: its own alert.
  return alert && !(typeOf(task.type).backendName === DAG_BACKEND && dagAttemptOf(task.arguments.kwargs) !== null) ? alert : null;
}
