import type { DagOverlap } from '../core/dag-overlap.js';
import type { DagRunStatus, DagRunTrigger, DagSchedule, DagTaskSpec, DagTaskStatus } from '../core/dag.js';
import type { AttemptState } from '../core/dag-progress.js';
import type { DagPointKind } from '../core/dag-schedule.js';
import type { DisabledReason, RunStatus, TaskStatus } from '../core/model.js';
import type { DagAttempt, DagPoint, DagRun, DagTaskRow, StoredDag } from './dag-store.js';
import { pauseFromRow, type Row } from './rows.js';

// Both stores: instants arrive as epoch ms (SQLite) or Date (PostgreSQL); JSON as text or parsed.
const num = (v: unknown): number => Number(v);
const date = (v: unknown): Date => new Date(Number(v instanceof Date ? v.getTime() : v));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
const jsonText = (v: unknown): unknown => (v === null || v === undefined ? null : JSON.parse(v as string));

export function dagFromRow(r: Row): StoredDag {
  return {
    id: r.id as string,
    description: r.description as string,
    version: r.version as string,
    schedule: json<DagSchedule>(r.schedule),
    start: date(r.start),
    catchUp: Boolean(r.catch_up),
    maxActiveRuns: num(r.max_active_runs),
    overlap: (r.overlap ?? 'allow') as DagOverlap,
    nextPoint: dateOrNull(r.next_point),
    created: date(r.created),
    updated: date(r.updated),
    paused: pauseFromRow(r),
  };
}

export function structureFromRow(r: Row): DagTaskSpec[] {
  return json<DagTaskSpec[]>(r.structure);
}

export function dagRunFromRow(r: Row): DagRun {
  return {
    id: num(r.id),
    dag: r.dag as string,
    version: r.version as string,
    execTs: date(r.exec_ts),
    trigger: r.trigger as DagRunTrigger,
    status: r.status as DagRunStatus,
    params: json<Record<string, unknown>>(r.params),
    rev: num(r.rev),
    restarts: num(r.restarts),
    created: date(r.created),
    started: dateOrNull(r.started),
    ended: dateOrNull(r.ended),
  };
}

export function dagPointFromRow(r: Row): DagPoint {
  return {
    id: num(r.id),
    dag: r.dag as string,
    kind: r.kind as DagPointKind,
    execTs: date(r.exec_ts),
    untilTs: dateOrNull(r.until_ts),
    count: num(r.count),
    run: r.run === null || r.run === undefined ? null : num(r.run),
    recorded: date(r.recorded),
  };
}

/**
 * An instance row joined with its current attempt (columns `a_orrery_task`) and that task's state
 * (`t_status`, `t_disabled_reason`, `t_id`) and latest run (`r_status`, `r_started`, `r_ended`, `r_result`, `r_error`).
 */
export function dagTaskFromRow(r: Row): DagTaskRow {
  const orreryTask = r.a_orrery_task === null || r.a_orrery_task === undefined ? null : num(r.a_orrery_task);
  let current: AttemptState | 'missing' | null = null;
  if (orreryTask !== null) {
    current =
      r.t_id === null || r.t_id === undefined
        ? 'missing'
        : {
            taskStatus: r.t_status as TaskStatus,
            disabledReason: (r.t_disabled_reason ?? null) as DisabledReason | null,
            runStatus: (r.r_status ?? null) as RunStatus | null,
            runStarted: dateOrNull(r.r_started),
            runEnded: dateOrNull(r.r_ended),
            result: jsonText(r.r_result),
            error: (r.r_error ?? null) as string | null,
          };
  }
  return {
    taskId: r.task_id as string,
    status: r.status as DagTaskStatus,
    attempt: num(r.attempt),
    retriesLeft: num(r.retries_left),
    lost: num(r.lost),
    started: dateOrNull(r.started),
    ended: dateOrNull(r.ended),
    error: (r.error ?? null) as string | null,
    result: jsonText(r.result),
    orreryTask,
    current,
  };
}

export function dagAttemptFromRow(r: Row): DagAttempt {
  return {
    run: num(r.run),
    taskId: r.task_id as string,
    attempt: num(r.attempt),
    orreryTask: num(r.orrery_task),
    notBefore: date(r.not_before),
    created: date(r.created),
  };
}

/** A task result as stored: JSON text (any JSON value round-trips, a bare string included). */
export function resultText(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}
