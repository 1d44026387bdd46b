import { FINISHED_TASK_STATUSES, type Task, type TaskRun, type TaskStatus } from './model.js';
import { invalid } from './errors.js';
import { checkMs, MAX_TIMER_MS } from './options.js';

/**
 * What a wait for a task answers (`waitForTask`, `GET /api/tasks/{id}/wait`, `orrery task wait`):
 * whether the task finished, the task as it stands, and its newest run (null before its first).
 */
export interface TaskWait {
  finished: boolean;
  task: Task;
  run: TaskRun | null;
}

/** Whether a task is finished (core/model.ts FINISHED_TASK_STATUSES); a recurring task is finished only so. */
export function taskFinished(task: Pick<Task, 'status'>): boolean {
  return (FINISHED_TASK_STATUSES as readonly TaskStatus[]).includes(task.status);
}

/** The longest a single `GET /api/tasks/{id}/wait` holds its request (a client asks again for longer waits). */
export const MAX_HTTP_WAIT_MS = 60_000;
/** How long a `GET /api/tasks/{id}/wait` without `timeoutMs` holds its request. */
export const DEFAULT_HTTP_WAIT_MS = 30_000;
/** How often a wait reads the task again when no run event of this process says it may have changed. */
export const DEFAULT_WAIT_POLL_MS = 1000;

/** The options of waitForTask (OrreryClient's takes them too): another key is refused, naming it. */
export const WAIT_OPTIONS = ['timeoutMs', 'signal', 'pollMs'] as const;

/**
 * A wait's `signal`: absent, or an AbortSignal (anything with `aborted`, `addEventListener` and
 * `throwIfAborted`, so one from another realm is taken); else a ValidationError naming it (it was a
 * TypeError from inside the wait).
 */
export function waitSignal(v: unknown): AbortSignal | undefined {
  if (v === undefined) return undefined;
  const s = v as { aborted?: unknown; addEventListener?: unknown; throwIfAborted?: unknown } | null;
  if (s === null || typeof s !== 'object' || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function' || typeof s.throwIfAborted !== 'function') {
    throw invalid('signal', 'must be an AbortSignal');
  }
  return v as AbortSignal;
}

/** A wait's `pollMs`: 10 ms to the longest timer, default DEFAULT_WAIT_POLL_MS (ValidationError naming it otherwise). */
export function waitPollMs(v: unknown): number {
  return v === undefined ? DEFAULT_WAIT_POLL_MS : checkMs(v, 'pollMs', 10, MAX_TIMER_MS);
}
