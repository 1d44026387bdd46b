import { later } from '../core/instants.js';
import type { NewTask } from '../core/validation.js';
import { sortedWeights } from '../core/json-checks.js';
import { DAG_ATTEMPT_KEY } from '../core/dag.js';
import type { RunSeriesBucket } from '../core/run-series.js';
import type { TaskAlert } from '../core/task-alert.js';
import type { NewAlert, StoredAlert } from './alert-store.js';
import type { DagTaskAlert } from '../core/dag-progress.js';
import type { Channel, ClaimedRun, EndRunResult, RunSeriesQuery } from './store.js';
import type { FairShare, RunEndStatus, DisabledReason, Priority, RunLogRecord, StoredRunLogRecord, RunStatus, Schedule, Task, TaskPolicy, TaskRun, TaskStatus, TaskType, TypePause, LogLevel } from '../core/model.js';
import { date, dateOrNull, json, ms, numOrNull, type Row } from './columns.js';

export type { Row } from './columns.js';

export function taskTypeFromRow(r: Row): TaskType {
  return {
    name: r.name as string,
    description: r.description as string,
    backendName: r.backend_name as string,
    defaultIntervalMs: numOrNull(r.default_interval_ms),
    minIntervalMs: numOrNull(r.min_interval_ms),
    maxIntervalMs: numOrNull(r.max_interval_ms),
    backoffFactor: ms(r.backoff_factor),
    maxQueueLength: numOrNull(r.max_queue_length),
    numRetries: ms(r.num_retries),
    retryDelayMs: ms(r.retry_delay_ms),
    timeoutMs: numOrNull(r.timeout_ms),
    leaseMs: ms(r.lease_ms),
    maxAbandons: ms(r.max_abandons),
    maxRunning: numOrNull(r.max_running),
    maxRunningPerKey: numOrNull(r.max_running_per_key),
    rateLimit: r.rate_limit_count === null || r.rate_limit_count === undefined ? null : { count: ms(r.rate_limit_count), perMs: ms(r.rate_limit_per_ms) },
    rateLimitPerKey:
      r.rate_limit_per_key_count === null || r.rate_limit_per_key_count === undefined ? null : { count: ms(r.rate_limit_per_key_count), perMs: ms(r.rate_limit_per_key_per_ms) },
    fairShare: r.fair_share === null || r.fair_share === undefined ? null : { weights: sortedWeights(json<FairShare>(r.fair_share).weights ?? {}) },
    fifoPerKey: r.fifo_per_key === true || r.fifo_per_key === 1,
    paused: pauseFromRow(r),
  };
}

export function taskFromRow(r: Row): Task {
  return {
    id: ms(r.id),
    type: r.type as string,
    arguments: json(r.arguments),
    policy: r.policy as TaskPolicy,
    schedule: json<Schedule>(r.schedule),
    nextRun: date(r.next_run),
    // NULL (or a claim's snapshot, which does not carry it): the task serves its due instant.
    scheduledFor: date(r.scheduled_for ?? r.next_run),
    currentIntervalMs: numOrNull(r.current_interval_ms),
    status: r.status as TaskStatus,
    disabledReason: (r.disabled_reason ?? null) as DisabledReason | null,
    retriesLeft: ms(r.retries_left),
    consecutiveAbandons: ms(r.consecutive_abandons),
    priority: (r.priority ?? null) as Priority | null,
    nextAttempt: ms(r.next_attempt),
    key: (r.task_key ?? null) as string | null,
    concurrencyKey: (r.concurrency_key ?? null) as string | null,
    created: date(r.created),
    paused: pauseFromRow(r),
  };
}

/** The pause columns (`paused_at`, `paused_reason`) of a task type, a task or a DAG row. */
export function pauseFromRow(r: Row): TypePause | null {
  return r.paused_at === null || r.paused_at === undefined ? null : { at: date(r.paused_at), reason: (r.paused_reason ?? '') as string };
}

export function runFromRow(r: Row): TaskRun {
  return {
    id: ms(r.id),
    task: ms(r.task),
    type: r.type as string,
    backendId: r.backend_id as string,
    status: r.status as RunStatus,
    scheduled: date(r.scheduled),
    scheduledFor: date(r.scheduled_for ?? r.scheduled),
    started: dateOrNull(r.started),
    ended: dateOrNull(r.ended),
    metadata: json(r.metadata ?? '{}'),
    result: r.result === null || r.result === undefined ? null : json(r.result),
    error: (r.error ?? null) as string | null,
    worker: (r.worker ?? null) as string | null,
    leaseExpiresAt: dateOrNull(r.lease_expires_at),
    attempt: ms(r.attempt),
    cancelRequested: r.cancel_requested === true || r.cancel_requested === 1,
    ...(r.backfill === null || r.backfill === undefined ? {} : { backfill: ms(r.backfill) }),
  };
}

export function logFromRow(r: Row): RunLogRecord {
  return { at: date(r.at), level: r.level as LogLevel, message: r.message as string, attributes: json(r.attributes ?? '{}') };
}

/** A record of run_logs with its id (the cursor of live logs); archives keep the shape of logFromRow. */
export function storedLogFromRow(r: Row): StoredRunLogRecord {
  return { id: ms(r.id), ...logFromRow(r) };
}

/** `tasks.scheduled_for` of a task update: NULL when the task serves its due instant (the common case). */
export function scheduledForColumn(u: Pick<Task, 'nextRun' | 'scheduledFor'>): number | null {
  return u.scheduledFor.getTime() === u.nextRun.getTime() ? null : u.scheduledFor.getTime();
}

/** A task as just inserted, built from its validated input without reading it back. */
export function taskFromNew(t: NewTask, id: number, at: Date): Task {
  return {
    id,
    type: t.type,
    arguments: t.arguments,
    policy: t.policy,
    schedule: t.schedule,
    nextRun: t.nextRun,
    scheduledFor: t.scheduledFor ?? t.nextRun,
    currentIntervalMs: t.currentIntervalMs,
    status: 'next_run_not_scheduled',
    disabledReason: null,
    retriesLeft: t.retriesLeft,
    consecutiveAbandons: 0,
    priority: t.priority,
    nextAttempt: 1,
    key: t.key ?? null,
    concurrencyKey: t.concurrencyKey ?? null,
    created: at,
    paused: null,
  };
}

/** What a claim of a due task decided for its new run (the rest follows from the task, the type and the claim). */
export interface DueClaim {
  id: number;
  backendId: string;
  status: 'claimed' | 'started';
  worker: string;
  at: Date;
}

/**
 * The claimed run of a due task, built from the task the claim read and the type's execution fields
 * (those the claim used): the run row just inserted is not read back (both dialects insert exactly
 * this run). `task` is the task as read (due); the claimed run carries it as the claim left it,
 * scheduled.
 */
export function claimedFromDue(task: Task, type: Pick<TaskType, 'backendName' | 'leaseMs' | 'timeoutMs'>, c: DueClaim, traceContext: string | null): ClaimedRun {
  const run: TaskRun = {
    id: c.id,
    task: task.id,
    type: task.type,
    backendId: c.backendId,
    status: c.status,
    scheduled: c.at,
    scheduledFor: task.scheduledFor,
    started: c.status === 'started' ? c.at : null,
    ended: null,
    metadata: {},
    result: null,
    error: null,
    worker: c.worker,
    leaseExpiresAt: later(c.at, type.leaseMs),
    attempt: task.nextAttempt,
    cancelRequested: false,
  };
  const claimed: ClaimedRun = { run, arguments: task.arguments, backendName: type.backendName, leaseMs: type.leaseMs, timeoutMs: type.timeoutMs, task: { ...task, status: 'next_run_scheduled' } };
  if (traceContext != null) claimed.trace = traceOf(traceContext, task.policy);
  return claimed;
}

/**
 * A claimed due task from a row of PostgreSQL's claim of due tasks: the task's columns, the new run's
 * `run_id`, `run_backend_id` and `run_status`, and the type's execution fields (`y_`).
 */
export function claimedFromDueRow(r: Row, worker: string, at: Date): ClaimedRun {
  return claimedFromDue(
    taskFromRow(r),
    { backendName: r.y_backend_name as string, leaseMs: ms(r.y_lease_ms), timeoutMs: numOrNull(r.y_timeout_ms) },
    { id: ms(r.run_id), backendId: r.run_backend_id as string, status: r.run_status as DueClaim['status'], worker, at },
    (r.trace_context ?? null) as string | null,
  );
}

/**
 * A claimed run from a run row joined with its task's arguments and its type's execution fields,
 * aliased `t_arguments`, `y_backend_name`, `y_lease_ms`, `y_timeout_ms`; with `t_trace_context` (and
 * `t_policy` or `t_trace_policy`), its task's trace context.
 */
export function claimedFromRow(r: Row): ClaimedRun {
  const run = runFromRow(r);
  const args = json<Task['arguments']>(r.t_arguments);
  const claimed: ClaimedRun = { run, arguments: args, backendName: r.y_backend_name as string, leaseMs: ms(r.y_lease_ms), timeoutMs: numOrNull(r.y_timeout_ms) };
  if (r.t_policy !== undefined) claimed.task = claimedTask(r, run, args);
  if (r.t_trace_context != null) claimed.trace = traceOf(r.t_trace_context as string, (r.t_policy ?? r.t_trace_policy) as TaskPolicy);
  return claimed;
}

/** A claimed run's trace (ClaimedRun.trace): the runs of a recurring task start traces of their own, linked. */
export function traceOf(context: string, policy: TaskPolicy): NonNullable<ClaimedRun['trace']> {
  return { context, link: policy === 'recurring' };
}

/** The task columns a claim returns with the prefix `t_` (CLAIM_TASK_COLUMNS on PostgreSQL, claimContext on SQLite). */
const CLAIM_TASK_KEYS = ['policy', 'schedule', 'next_run', 'current_interval_ms', 'retries_left', 'consecutive_abandons', 'priority', 'next_attempt', 'task_key', 'concurrency_key', 'created', 'scheduled_for'] as const;

/** The task of a claimed run, from the claim's `t_` columns: scheduled, with this run current. */
function claimedTask(r: Row, run: TaskRun, args: Task['arguments']): Task {
  const row: Row = { id: run.task, type: run.type, arguments: args, status: 'next_run_scheduled', disabled_reason: null };
  for (const k of CLAIM_TASK_KEYS) row[k] = r[`t_${k}`];
  return taskFromRow(row);
}


/** The buckets from the rows of the series query (both dialects answer the same rows). */
export function seriesBuckets(rows: readonly Row[], q: RunSeriesQuery): RunSeriesBucket[] {
  const out = new Map<number, RunSeriesBucket>();
  const bucket = (b: number) => {
    let x = out.get(b);
    if (!x) out.set(b, (x = { at: new Date(q.since.getTime() + b * q.bucketMs), ended: {}, started: 0, latencyMeanMs: null, latencyP95Ms: null, latencyMaxMs: null }));
    return x;
  };
  for (const r of rows) {
    const x = bucket(Number(r.b));
    if (r.kind === 'n') x.ended[r.status as RunEndStatus] = Number(r.n);
    else if (r.kind === 'l') {
      x.started = Number(r.n);
      x.latencyMeanMs = Math.round(Number(r.v));
      x.latencyMaxMs = Math.round(Number(r.v2));
    } else x.latencyP95Ms = Math.round(Number(r.v));
  }
  return [...out.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
}

/** An alert's payload column: its fields as JSON (instants as ISO strings). */
export function alertPayload(a: NewAlert): string {
  return JSON.stringify(a.alert);
}

/** Stored alerts (the `alerts` rows a take returned, in any order), in the order they were stored. */
export function alertsInOrder(rows: readonly Row[]): StoredAlert[] {
  return rows.map(alertFromRow).sort((a, b) => a.id - b.id);
}

/** A stored alert (the `alerts` table of either store), its payload's instants revived. */
export function alertFromRow(r: Row): StoredAlert {
  const p = json<Record<string, unknown>>(r.payload);
  const base = { id: ms(r.id), recorded: date(r.recorded), tries: ms(r.tries), firstTry: dateOrNull(r.first_try), lastError: (r.last_error as string | null) ?? null, nextTry: date(r.next_try) };
  if (r.source === 'dag') {
    const alert = { ...p, execTs: new Date(p.execTs as string) } as unknown as DagTaskAlert;
    if (typeof p.retryAt === 'string') alert.retryAt = new Date(p.retryAt);
    return { ...base, source: 'dag', alert };
  }
  const alert = { ...p, ended: new Date(p.ended as string), nextRun: typeof p.nextRun === 'string' ? new Date(p.nextRun) : null } as unknown as TaskAlert;
  return { ...base, source: 'task', alert };
}
