import { retryingConflicts } from './postgres-errors.js';
import type pg from 'pg';
import { OrreryError } from '../../core/errors.js';
import type { Task, TaskRun, TaskType } from '../../core/model.js';
import { planRunEnd, type RunEndPlan } from '../../core/run-end.js';
import type { TaskUpdate } from '../../core/end-of-run.js';
import { alertPayload, pauseFromRow, taskFromRow, type Row } from '../rows.js';
import type { EndRunItem, EndRunResult } from '../store.js';
import { endRunsInTx, scheduledForInstant, updateTasks } from './postgres-ends.js';
import { arrayLiteral, type Cell } from './postgres-literals.js';
import { recordAlerts } from './postgres-alerts.js';
import { mayAlert, storedAlertOf, type TaskAlert } from '../../core/task-alert.js';
import { RepreparedStatement } from './postgres-prepared.js';

/**
 * The end of held runs in one statement, planned in TypeScript from the run and task the claim
 * returned: no read, no lock, no transaction. Each row is guarded (CASE, so the plan keeps to the
 * primary keys): the run must still be held by its worker with no cancellation asked, the task must
 * still have this run current with the formula's inputs unchanged. A refused run goes the careful
 * way (`endRunsInTx`, for its exact verdict); a run recorded whose task guard failed has only its
 * task finished the careful way. The task alert an end calls for (a retry, a failure for good: core
 * storedAlertOf) is inserted by the same statement (`a`) for the rows whose task it updated, so those
 * ends stay on this path; a task finished the careful way has its alert stored there. It is prepared on a doubling schedule (RepreparedStatement): a
 * generic plan cached on a pool connection while `task_runs` was small scanned the whole table on
 * every end once it had grown, and planning on every call cost about as much as the batch. Exported
 * so a test can check that its generic plan reads the primary keys on a table of realistic size.
 */
export const END_HELD = new RepreparedStatement(
  'orrery_end_held_v5',
  // Instants travel as epoch milliseconds (float8): cheaper to write in Node and to read here than text.
  `WITH x AS (SELECT run, status, to_timestamp(started_ms / 1000) AS started, to_timestamp(ended_ms / 1000) AS ended, metadata, result, error,
         worker, task, tstatus, reason, to_timestamp(next_run_ms / 1000) AS next_run, interval, retries, abandons, attempt,
         to_timestamp(old_next_run_ms / 1000) AS old_next_run, old_retries, old_abandons, old_attempt, to_timestamp(scheduled_for_ms / 1000) AS scheduled_for,
         alert_kind, alert
       FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::float8[], $5::jsonb[], $6::text[], $7::text[], $8::text[],
         $9::bigint[], $10::text[], $11::text[], $12::float8[], $13::bigint[], $14::int[], $15::int[], $16::int[],
         $17::float8[], $18::int[], $19::int[], $20::int[], $21::float8[], $22::text[], $23::jsonb[])
       AS u(run, status, started_ms, ended_ms, metadata, result, error, worker, task, tstatus, reason, next_run_ms, interval, retries, abandons, attempt,
            old_next_run_ms, old_retries, old_abandons, old_attempt, scheduled_for_ms, alert_kind, alert)),
     r AS (UPDATE task_runs r SET status = x.status, started = least(r.started, x.started), ended = x.ended, metadata = x.metadata,
             result = x.result, error = x.error, lease_expires_at = NULL
           FROM x WHERE r.id = x.run AND r.id = ANY($1::bigint[])
             AND CASE WHEN r.status IN ('claimed', 'started') AND r.worker = x.worker AND NOT r.cancel_requested THEN true ELSE false END
           RETURNING r.id),
     t AS (UPDATE tasks t SET status = x.tstatus, disabled_reason = x.reason, next_run = x.next_run, current_interval_ms = x.interval,
             retries_left = x.retries, consecutive_abandons = x.abandons, next_attempt = x.attempt, scheduled_for = x.scheduled_for, current_run = NULL,
             dedupe_key = CASE WHEN x.tstatus = 'next_run_not_scheduled' THEN t.dedupe_key ELSE NULL END
           FROM x JOIN r ON r.id = x.run
           WHERE t.id = x.task AND t.id = ANY($9::bigint[])
             AND CASE WHEN t.current_run = x.run AND t.status = 'next_run_scheduled' AND t.next_run = x.old_next_run
                   AND t.retries_left = x.old_retries AND t.consecutive_abandons = x.old_abandons AND t.next_attempt = x.old_attempt
                 THEN true ELSE false END
           RETURNING t.id, t.paused_at, t.paused_reason, x.run),
     a AS (INSERT INTO alerts (source, kind, payload, recorded, next_try)
           SELECT 'task', x.alert_kind, x.alert, x.ended, to_timestamp(0) FROM x JOIN t ON t.run = x.run WHERE x.alert_kind IS NOT NULL)
     SELECT 'r' AS k, id, NULL::timestamptz AS paused_at, NULL::text AS paused_reason FROM r
     UNION ALL SELECT 't' AS k, id, paused_at, paused_reason FROM t`,
);

interface Deps {
  pool: pg.Pool;
  tx: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;
  /**
   * A task type (cached). Inside a transaction it is read through that transaction's connection: a
   * second connection asked of the pool while the first holds row locks deadlocked the pool once as
   * many ends as its connections waited for one (HTTP ends all take the careful path).
   */
  typeOf: (name: string, c?: pg.PoolClient) => Promise<TaskType>;
}

interface Fast {
  i: number;
  item: EndRunItem;
  run: TaskRun;
  task: Task;
  plan: RunEndPlan & { task: TaskUpdate };
  /** The task alert the end stores with it (core storedAlertOf), or null. */
  alert: TaskAlert | null;
}

/** Ends a batch of runs, each in input order with its own outcome (`Store.endRuns`). */
export async function endHeldRuns(items: readonly EndRunItem[], deps: Deps): Promise<Array<EndRunResult | OrreryError>> {
  const out: Array<EndRunResult | OrreryError> = new Array(items.length);
  const seen = new Map<string, number>();
  for (const { backendId } of items) seen.set(backendId, (seen.get(backendId) ?? 0) + 1);
  const fast: Fast[] = [];
  const careful: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const held = item.held;
    // A run ended twice in one batch is planned in order, the careful way.
    if (!held || held.run.backendId !== item.backendId || seen.get(item.backendId)! > 1 || item.req.worker == null || item.req.cause !== 'end') {
      careful.push(i);
      continue;
    }
    let plan: RunEndPlan;
    let type: TaskType;
    try {
      type = await deps.typeOf(held.task.type);
      plan = planRunEnd(held.run, held.task, type, held.run.id, item.req);
    } catch (e) {
      if (!(e instanceof OrreryError)) throw e;
      careful.push(i); // the store's own state gives the exact verdict
      continue;
    }
    if (plan.task === null) {
      careful.push(i);
      continue;
    }
    // The alert the end calls for (most call for none) is stored by the same statement, if it updates the task.
    const alert = mayAlert(plan.run.status) ? storedAlertOf({ ...held.run, ...plan.run }, { ...held.task, ...plan.task }, true, () => type) : null;
    fast.push({ i, item, run: held.run, task: held.task, plan: plan as Fast['plan'], alert });
  }

  const taskOnly: Fast[] = [];
  if (fast.length > 0) {
    const values = endValues(fast);
    const rows = (await retryingConflicts(() => END_HELD.query<Row>(deps.pool, values))).rows;
    const runs = new Set<number>();
    // Each updated task's pause as stored: not among the formula's inputs, so a task paused while its run was held ends here too.
    const tasks = new Map<number, Row>();
    for (const r of rows) {
      if (r.k === 'r') runs.add(Number(r.id));
      else tasks.set(Number(r.id), r);
    }
    for (const f of fast) {
      const t = tasks.get(f.task.id);
      if (!runs.has(f.run.id)) careful.push(f.i);
      else if (t) out[f.i] = { run: endedRun(f), task: { ...f.task, ...f.plan.task, paused: pauseFromRow(t) }, taskUpdated: true };
      else taskOnly.push(f);
    }
  }
  if (careful.length > 0 || taskOnly.length > 0) {
    careful.sort((a, b) => a - b);
    await deps.tx(async (c) => {
      const ended = await endRunsInTx(c, careful.map((i) => items[i]!), (name) => deps.typeOf(name, c));
      careful.forEach((i, k) => (out[i] = ended[k]!));
      for (const [f, r] of await finishTasks(c, taskOnly, (name) => deps.typeOf(name, c))) out[f.i] = r;
    });
  }
  return out;
}

function endedRun(f: Fast): TaskRun {
  return { ...f.run, ...f.plan.run, leaseExpiresAt: null };
}

/**
 * Runs recorded by the one-statement end whose task changed since the claim: the task is locked and
 * the formula applied to its current state, or left alone when it has moved on (planRunEnd's rule).
 */
async function finishTasks(c: pg.PoolClient, list: readonly Fast[], typeOf: (name: string) => Promise<TaskType>): Promise<Array<[Fast, EndRunResult]>> {
  if (list.length === 0) return [];
  const ids = [...new Set(list.map((f) => f.task.id))].sort((a, b) => a - b);
  const rows = (await c.query<Row>('SELECT * FROM tasks WHERE id = ANY($1) ORDER BY id FOR UPDATE', [ids])).rows;
  const current = new Map(rows.map((r) => [Number(r.id), { task: taskFromRow(r), run: r.current_run === null ? null : Number(r.current_run) }]));
  const out: Array<[Fast, EndRunResult]> = [];
  const updates: Array<[number, TaskUpdate]> = [];
  for (const f of list) {
    const state = current.get(f.task.id)!;
    const plan = planRunEnd(f.run, state.task, await typeOf(state.task.type), state.run, f.item.req);
    if (plan.task === null) {
      out.push([f, { run: endedRun(f), task: state.task, taskUpdated: false, ...(plan.note ? { note: plan.note } : {}) }]);
      continue;
    }
    updates.push([state.task.id, plan.task]);
    out.push([f, { run: endedRun(f), task: { ...state.task, ...plan.task }, taskUpdated: true }]);
  }
  await updateTasks(c, updates);
  await recordAlerts(c, out.map(([, r]) => r), typeOf);
  return out;
}

/** The statement's parameters as text literals (instants as epoch milliseconds), so the driver encodes nothing. */
function endValues(fast: readonly Fast[]): string[] {
  const col = (fn: (f: Fast) => Cell) => arrayLiteral(fast.map(fn));
  const instant = (d: Date | null) => (d === null ? null : d.getTime());
  return [
    col((f) => f.run.id),
    col((f) => f.plan.run.status),
    col((f) => instant(f.plan.run.started)),
    col((f) => instant(f.plan.run.ended)),
    col((f) => JSON.stringify(f.plan.run.metadata)),
    col((f) => (f.plan.run.result === null || f.plan.run.result === undefined ? null : JSON.stringify(f.plan.run.result))),
    col((f) => f.plan.run.error),
    col((f) => f.item.req.worker ?? null),
    col((f) => f.task.id),
    col((f) => f.plan.task.status),
    col((f) => f.plan.task.disabledReason),
    col((f) => instant(f.plan.task.nextRun)),
    col((f) => f.plan.task.currentIntervalMs),
    col((f) => f.plan.task.retriesLeft),
    col((f) => f.plan.task.consecutiveAbandons),
    col((f) => f.plan.task.nextAttempt),
    col((f) => instant(f.task.nextRun)),
    col((f) => f.task.retriesLeft),
    col((f) => f.task.consecutiveAbandons),
    col((f) => f.task.nextAttempt),
    col((f) => instant(scheduledForInstant(f.plan.task))),
    col((f) => f.alert?.kind ?? null),
    col((f) => (f.alert ? alertPayload({ source: 'task', alert: f.alert, recorded: f.alert.ended }) : null)),
  ];
}
