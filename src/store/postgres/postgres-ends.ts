import type pg from 'pg';
import type { TaskUpdate } from '../../core/end-of-run.js';
import { NotFoundError, OrreryError, shown } from '../../core/errors.js';
import type { Task, TaskRun, TaskType } from '../../core/model.js';
import { planRunEnd } from '../../core/run-end.js';
import { runFromRow, taskFromRow, type Row } from '../rows.js';
import { recordAlerts } from './postgres-alerts.js';
import type { EndRunItem, EndRunResult } from '../store.js';

interface TaskState {
  task: Task;
  currentRun: number | null;
}

/**
 * Ends a batch of runs inside the caller's transaction: locks the runs and their tasks (in id order,
 * so concurrent batches cannot deadlock), plans every end with the shared formula, then writes all
 * runs and all tasks in two statements. Items are planned in order, so a run ended twice in one
 * batch, or two runs of one task, behave exactly as they would one after the other.
 */
export async function endRunsInTx(
  c: pg.PoolClient,
  items: readonly EndRunItem[],
  typeOf: (name: string) => Promise<TaskType>,
): Promise<Array<EndRunResult | OrreryError>> {
  if (items.length === 0) return [];
  const runRows = (await c.query<Row>('SELECT * FROM task_runs WHERE backend_id = ANY($1) ORDER BY id FOR UPDATE', [[...new Set(items.map((i) => i.backendId))]])).rows;
  const runs = new Map(runRows.map((r) => [r.backend_id as string, runFromRow(r)]));
  const taskIds = [...new Set([...runs.values()].map((r) => r.task))];
  const taskRows = (await c.query<Row>('SELECT * FROM tasks WHERE id = ANY($1) ORDER BY id FOR UPDATE', [taskIds])).rows;
  const tasks = new Map<number, TaskState>(
    taskRows.map((r) => [Number(r.id), { task: taskFromRow(r), currentRun: r.current_run === null ? null : Number(r.current_run) }]),
  );

  const endedRuns = new Map<number, TaskRun>();
  const taskUpdates = new Map<number, TaskUpdate>();
  const out: Array<EndRunResult | OrreryError> = [];
  for (const { backendId, req } of items) {
    const run = runs.get(backendId);
    if (!run) {
      out.push(new NotFoundError(`run ${shown(backendId)} not found`, [{ path: 'backendId', message: `no run ${shown(backendId)}` }]));
      continue;
    }
    const state = tasks.get(run.task)!;
    let plan;
    try {
      plan = planRunEnd(run, state.task, await typeOf(state.task.type), state.currentRun, req);
    } catch (e) {
      if (e instanceof OrreryError) {
        out.push(e);
        continue;
      }
      throw e;
    }
    const ended: TaskRun = { ...run, ...plan.run, leaseExpiresAt: null };
    runs.set(backendId, ended);
    endedRuns.set(ended.id, ended);
    if (plan.task === null) {
      out.push({ run: ended, task: state.task, taskUpdated: false, ...(plan.note ? { note: plan.note } : {}) });
      continue;
    }
    state.task = { ...state.task, ...plan.task };
    state.currentRun = null;
    taskUpdates.set(state.task.id, plan.task);
    out.push({ run: ended, task: state.task, taskUpdated: true });
  }

  const er = [...endedRuns.values()];
  if (er.length > 0) {
    await c.query(
      `UPDATE task_runs r SET status = x.status, ended = x.ended, metadata = x.metadata, result = x.result, error = x.error, lease_expires_at = NULL,
         started = least(r.started, x.started)
       FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::text[], $6::text[], $7::timestamptz[])
         AS x(id, status, ended, metadata, result, error, started)
       WHERE r.id = x.id`,
      [
        er.map((r) => r.id),
        er.map((r) => r.status),
        er.map((r) => r.ended),
        er.map((r) => JSON.stringify(r.metadata)),
        er.map((r) => (r.result === null || r.result === undefined ? null : JSON.stringify(r.result))),
        er.map((r) => r.error),
        er.map((r) => r.started),
      ],
    );
  }
  await updateTasks(c, [...taskUpdates.entries()]);
  await recordAlerts(c, out, typeOf);
  return out;
}

/** Writes planned task updates (after their runs ended) in one statement. */
export async function updateTasks(c: pg.PoolClient, tu: ReadonlyArray<[number, TaskUpdate]>): Promise<void> {
  if (tu.length > 0) {
    await c.query(
      `UPDATE tasks t SET status = x.status, disabled_reason = x.reason, next_run = x.next_run, current_interval_ms = x.interval,
         retries_left = x.retries, consecutive_abandons = x.abandons, next_attempt = x.attempt, scheduled_for = x.scheduled_for, current_run = NULL,
         dedupe_key = CASE WHEN x.status = 'next_run_not_scheduled' THEN t.dedupe_key ELSE NULL END
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::int[], $7::int[], $8::int[], $9::timestamptz[])
         AS x(id, status, reason, next_run, interval, retries, abandons, attempt, scheduled_for)
       WHERE t.id = x.id`,
      [
        tu.map(([id]) => id),
        tu.map(([, u]) => u.status),
        tu.map(([, u]) => u.disabledReason),
        tu.map(([, u]) => u.nextRun),
        tu.map(([, u]) => u.currentIntervalMs),
        tu.map(([, u]) => u.retriesLeft),
        tu.map(([, u]) => u.consecutiveAbandons),
        tu.map(([, u]) => u.nextAttempt),
        tu.map(([, u]) => scheduledForInstant(u)),
      ],
    );
  }
}

/** `tasks.scheduled_for` of a task update: NULL when the task serves its due instant (the common case). */
export function scheduledForInstant(u: TaskUpdate): Date | null {
  return u.scheduledFor.getTime() === u.nextRun.getTime() ? null : u.scheduledFor;
}
