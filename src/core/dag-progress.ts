import { later } from './instants.js';
import { FINAL_DAG_TASK_STATUSES, topologicalOrder, type DagRunStatus, type DagTaskSpec, type DagTaskStatus } from './dag.js';
import type { DisabledReason, RunStatus, TaskStatus } from './model.js';

/** Where the jobboard task of a DAG task's current attempt stands. */
export interface AttemptState {
  taskStatus: TaskStatus;
  disabledReason: DisabledReason | null;
  /** The attempt task's latest run, if any. */
  runStatus: RunStatus | null;
  runStarted: Date | null;
  runEnded: Date | null;
  result: unknown;
  error: string | null;
}

/** A DAG task in one run, as stored. */
export interface InstanceState {
  taskId: string;
  status: DagTaskStatus;
  /** Attempts made so far (the number of the current one). */
  attempt: number;
  retriesLeft: number;
  /** Attempts lost in a row (worker gone): re-attempted without using a retry, up to MAX_LOST_ATTEMPTS. */
  lost: number;
  started: Date | null;
  ended: Date | null;
  error: string | null;
  result: unknown;
}

/** A DAG task in one run with its current attempt's jobboard state. */
export interface TaskInstance extends InstanceState {
  /** Null when the instance has no attempt; `missing` when the attempt's task is gone (archived). */
  current: AttemptState | 'missing' | null;
}

/** A change to one task of a run: its whole new stored state. */
export type InstanceChange = InstanceState;

/** A new attempt: a one-shot jobboard task not to run before `notBefore`. */
export interface NewAttempt {
  taskId: string;
  attempt: number;
  notBefore: Date;
  /** Results of the task's parents, by parent id. */
  upstream: Record<string, unknown>;
}

export interface DagAlert {
  kind: 'failed' | 'retry';
  taskId: string;
  attempt: number;
  error: string;
  /** For a retry: when the next attempt may start. */
  retryAt?: Date;
}

/** A DAG task's alert as a DAG notifier receives it (docs/dags.md#alerts): its run named. */
export interface DagTaskAlert extends DagAlert {
  /** The DAG id. */
  dag: string;
  /** The DAG run. */
  dagRunId: number;
  /** The run's schedule point (execution timestamp). */
  execTs: Date;
}

export interface ProgressPlan {
  changes: InstanceChange[];
  attempts: NewAttempt[];
  /** The run's new status, when it changes. */
  runStatus: DagRunStatus | null;
  /**
   * When the run ended, once it does: its last task's end (a step taken after a scheduler was down
   * records when the work ended, not when it was noticed), never after `now`.
   */
  runEnded: Date | null;
  alerts: DagAlert[];
}

const isFinal = (s: DagTaskStatus) => FINAL_DAG_TASK_STATUSES.includes(s);

/** An attempt lost this many times in a row (its worker died each time) fails: no endless cycling. */
export const MAX_LOST_ATTEMPTS = 3;

/**
 * One step of a running DAG run (SPEC §3), pure: reads each task's current attempt, moves finished
 * attempts to success, retry or failure, marks the descendants of failed tasks `upstream_failed`,
 * starts tasks whose parents all succeeded, and ends the run when nothing can progress.
 */
export function planProgress(
  tasks: readonly DagTaskSpec[],
  instances: ReadonlyMap<string, TaskInstance>,
  now: Date,
  /** Tasks whose next attempt cannot be made, by task id, and why (their task type was deleted): they fail instead. */
  unstartable: ReadonlyMap<string, string> = new Map(),
): ProgressPlan {
  const plan: ProgressPlan = { changes: [], attempts: [], runStatus: null, runEnded: null, alerts: [] };
  const state = new Map<string, InstanceChange>();
  for (const [id, i] of instances) {
    state.set(id, { taskId: id, status: i.status, attempt: i.attempt, retriesLeft: i.retriesLeft, lost: i.lost, started: i.started, ended: i.ended, error: i.error, result: i.result });
  }
  const changed = new Set<string>();
  const set = (id: string, patch: Partial<InstanceChange>) => {
    state.set(id, { ...state.get(id)!, ...patch });
    changed.add(id);
  };
  // An attempt that cannot be made fails its task at once (no retry would fare better), and the run goes on without it.
  const cannotStart = (id: string, attempt: number, started: Date | null): boolean => {
    const why = unstartable.get(id);
    if (why === undefined) return false;
    const error = `attempt ${attempt}: ${why}`;
    set(id, { status: 'failed', attempt, started, ended: now, error });
    plan.alerts.push({ kind: 'failed', taskId: id, attempt, error });
    return true;
  };
  for (const spec of topologicalOrder(tasks)) {
    const inst = instances.get(spec.id);
    const cur = state.get(spec.id);
    if (!inst || !cur) continue;
    if (cur.status === 'pending') {
      const parents = spec.after.map((p) => state.get(p)!);
      if (parents.some((p) => p.status === 'failed' || p.status === 'upstream_failed')) {
        set(spec.id, { status: 'upstream_failed', ended: now });
      } else if (parents.every((p) => p.status === 'success' || p.status === 'skipped')) {
        const attempt = cur.attempt + 1;
        if (cannotStart(spec.id, attempt, cur.started)) continue;
        // `started` stays: null before a first attempt, its first attempt's start after a restart.
        set(spec.id, { status: 'scheduled', attempt, error: null, result: null, ended: null });
        plan.attempts.push({ taskId: spec.id, attempt, notBefore: now, upstream: Object.fromEntries(spec.after.map((p) => [p, state.get(p)!.result ?? null])) });
      }
      continue;
    }
    if (isFinal(cur.status) || inst.current === null) continue;
    if (inst.current === 'missing') {
      set(spec.id, { status: 'failed', ended: now, error: `attempt ${cur.attempt}: its jobboard task is gone (archived or deleted)` });
      plan.alerts.push({ kind: 'failed', taskId: spec.id, attempt: cur.attempt, error: state.get(spec.id)!.error! });
      continue;
    }
    const a = inst.current;
    if (a.taskStatus === 'completed') {
      set(spec.id, { status: 'success', started: cur.started ?? a.runStarted, ended: a.runEnded ?? now, result: a.result ?? null, error: null, lost: 0 });
    } else if (a.taskStatus === 'disabled') {
      const error = attemptError(a);
      const ended = a.runEnded ?? now;
      const upstream = () => Object.fromEntries(spec.after.map((p) => [p, state.get(p)!.result ?? null]));
      if (a.runStatus === 'lost' && a.disabledReason === 'retries_exhausted' && cur.lost + 1 < MAX_LOST_ATTEMPTS) {
        // Its worker died (lease expired): at-least-once, so run it again now; a retry is for failures.
        const attempt = cur.attempt + 1;
        if (cannotStart(spec.id, attempt, cur.started ?? a.runStarted)) continue;
        set(spec.id, { status: 'scheduled', attempt, lost: cur.lost + 1, error });
        plan.attempts.push({ taskId: spec.id, attempt, notBefore: now, upstream: upstream() });
      } else if (cur.retriesLeft > 0 && a.disabledReason !== 'permfailed' && a.disabledReason !== 'manual') {
        const attempt = cur.attempt + 1;
        if (cannotStart(spec.id, attempt, cur.started ?? a.runStarted)) continue;
        const retryAt = new Date(Math.max(later(ended, spec.retryDelayMs).getTime(), now.getTime()));
        set(spec.id, { status: 'up_for_retry', attempt, retriesLeft: cur.retriesLeft - 1, lost: 0, error, started: cur.started ?? a.runStarted });
        plan.attempts.push({ taskId: spec.id, attempt, notBefore: retryAt, upstream: Object.fromEntries(spec.after.map((p) => [p, state.get(p)!.result ?? null])) });
        plan.alerts.push({ kind: 'retry', taskId: spec.id, attempt: cur.attempt, error, retryAt });
      } else {
        set(spec.id, { status: 'failed', started: cur.started ?? a.runStarted, ended, error });
        plan.alerts.push({ kind: 'failed', taskId: spec.id, attempt: cur.attempt, error });
      }
    } else if (a.runStatus === 'started' && cur.status !== 'running') {
      set(spec.id, { status: 'running', started: cur.started ?? a.runStarted });
    }
  }
  plan.changes = [...changed].map((id) => state.get(id)!);
  const all = [...state.values()];
  if (all.every((i) => isFinal(i.status))) {
    plan.runStatus = all.every((i) => i.status === 'success' || i.status === 'skipped') ? 'success' : 'failed';
    const last = Math.max(...all.map((i) => i.ended?.getTime() ?? -Infinity));
    plan.runEnded = Number.isFinite(last) && last <= now.getTime() ? new Date(last) : now;
  }
  return plan;
}

function attemptError(a: AttemptState): string {
  if (a.disabledReason === 'manual') return a.error ?? 'its jobboard task was disabled by hand';
  if (a.disabledReason === 'dead_letter') return `dead-lettered: ${a.error ?? 'its worker was lost too many times'}`;
  return a.error ?? (a.runStatus ? `run ended ${a.runStatus}` : 'failed');
}

/**
 * Restart of a failed run (SPEC §3): failed and upstream-failed tasks go back to `pending` with their
 * retries restored; successes are kept. The progress step then re-runs them in dependency order. A
 * task keeps its first attempt's start (`started`, null if it never ran): its attempts keep counting
 * across restarts, and its duration runs from that start to its last attempt's end (docs/dags.md).
 */
export function planRestart(tasks: readonly DagTaskSpec[], instances: ReadonlyMap<string, TaskInstance>): InstanceChange[] {
  const out: InstanceChange[] = [];
  for (const spec of tasks) {
    const i = instances.get(spec.id);
    if (!i || (i.status !== 'failed' && i.status !== 'upstream_failed')) continue;
    out.push({ taskId: spec.id, status: 'pending', attempt: i.attempt, retriesLeft: spec.retries, lost: 0, started: i.started, ended: null, error: null, result: null });
  }
  return out;
}

/** The error every task a DAG run cancellation stops carries. */
export const DAG_CANCELLED_ERROR = 'cancelled';

/**
 * Cancellation of a whole run (docs/limits.md): every task not yet final (pending, scheduled,
 * running, up_for_retry) becomes `failed` with error `cancelled`, so the run ends `failed` and a
 * restart can re-run exactly those tasks; successes and earlier failures are kept. The caller then
 * cancels the live jobboard attempts of the tasks that had one.
 */
export function planCancel(instances: ReadonlyMap<string, TaskInstance>, now: Date): InstanceChange[] {
  const out: InstanceChange[] = [];
  for (const i of instances.values()) {
    if (isFinal(i.status)) continue;
    out.push({
      taskId: i.taskId, status: 'failed', attempt: i.attempt, retriesLeft: i.retriesLeft, lost: i.lost,
      started: i.started, ended: now, error: DAG_CANCELLED_ERROR, result: null,
    });
  }
  return out;
}
