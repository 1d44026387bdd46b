import type pg from 'pg';
import { OrreryError } from '../../core/errors.js';
import type { TaskUpdate } from '../../core/end-of-run.js';
import type { Task, TaskRun, TaskType } from '../../core/model.js';
import { planRunEnd } from '../../core/run-end.js';
import { runFromRow, taskFromRow, type Row } from '../rows.js';
import type { EndRunItem, EndRunResult } from '../store.js';
import { prepared } from './postgres-queries.js';

const TASK_COLUMNS = [
  'id', 'type', 'arguments', 'policy', 'schedule', 'next_run', 'current_interval_ms', 'status', 'disabled_reason', 'retries_left',
  'consecutive_abandons', 'priority', 'next_attempt', 'task_key', 'concurrency_key', 'created', 'current_run',
] as const;

/** Each run with its task (columns prefixed `t_`) and both rows' versions (xmin), read without locks. */
const READ = `SELECT r.*, r.xmin::text AS r_version, t.xmin::text AS t_version, ${TASK_COLUMNS.map((c) => `t.${c} AS t_${c}`).join(', ')}
  FROM task_runs r JOIN tasks t ON t.id = r.task WHERE r.backend_id = ANY($1)`;

/**
 * Writes the planned ends whose run and task are still the row versions that were read: the guard
 * locks both (FOR UPDATE re-checks a row updated meanwhile against its newest version), and only the
 * items it kept are written. Returns the ids of the runs written.
 */
const WRITE = `WITH x AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::jsonb[], $8::text[], $9::text[],
      $10::boolean[], $11::text[], $12::text[], $13::timestamptz[], $14::bigint[], $15::int[], $16::int[], $17::int[])
      AS x(rid, rv, tid, tv, status, ended, metadata, result, error, upd, t_status, t_reason, t_next_run, t_interval, t_retries, t_abandons, t_attempt)),
  ok AS (
    SELECT x.* FROM x JOIN task_runs r ON r.id = x.rid JOIN tasks t ON t.id = x.tid
    WHERE r.xmin = x.rv::xid AND t.xmin = x.tv::xid
    FOR UPDATE OF r, t),
  runs AS (
    UPDATE task_runs r SET status = ok.status, ended = ok.ended, metadata = ok.metadata, result = ok.result, error = ok.error, lease_expires_at = NULL
    FROM ok WHERE r.id = ok.rid),
  tasks AS (
    UPDATE tasks t SET status = ok.t_status, disabled_reason = ok.t_reason, next_run = ok.t_next_run, current_interval_ms = ok.t_interval,
      retries_left = ok.t_retries, consecutive_abandons = ok.t_abandons, next_attempt = ok.t_attempt, current_run = NULL,
      dedupe_key = CASE WHEN ok.t_status = 'next_run_not_scheduled' THEN t.dedupe_key ELSE NULL END
    FROM ok WHERE t.id = ok.tid AND ok.upd)
  SELECT rid FROM ok`;

interface Planned {
  index: number;
  run: TaskRun;
  runVersion: string;
  task: Task;
  taskVersion: string;
  update: TaskUpdate | null;
  result: EndRunResult;
}

/**
 * Ends a batch in two round trips and no transaction: read the runs and their tasks, plan every end
 * with the shared formula, then write them all in one guarded statement (each item is written only
 * if neither its run nor its task changed since the read). An item comes back null when it cannot be
 * decided this way: its run is missing, the plan refused it, a row changed in between, or it shares
 * a run or a task with another item; the caller ends those in the locking transaction
 * (`endRunsInTx`), which then decides with the rows locked, exactly as it would have alone.
 */
export async function endRunsOptimistic(
  pool: pg.Pool,
  items: readonly EndRunItem[],
  typeOf: (name: string) => Promise<TaskType>,
): Promise<Array<EndRunResult | null>> {
  const out: Array<EndRunResult | null> = items.map(() => null);
  const ids = items.map((i) => i.backendId);
  if (new Set(ids).size !== ids.length) return out;
  const rows = (await pool.query<Row>(prepared(READ, [ids]))).rows;
  const byBackendId = new Map(rows.map((r) => [r.backend_id as string, r]));
  if (new Set(rows.map((r) => Number(r.task))).size !== rows.length) return out;

  const planned: Planned[] = [];
  for (const [index, { backendId, req }] of items.entries()) {
    const row = byBackendId.get(backendId);
    if (!row) continue;
    const run = runFromRow(row);
    const taskRow: Row = Object.fromEntries(TASK_COLUMNS.map((c) => [c, row[`t_${c}`]]));
    const task = taskFromRow(taskRow);
    let plan;
    try {
      plan = planRunEnd(run, task, await typeOf(task.type), taskRow.current_run === null ? null : Number(taskRow.current_run), req);
    } catch (e) {
      if (e instanceof OrreryError) continue; // decided again under lock, where the refusal is final
      throw e;
    }
    const ended: TaskRun = { ...run, ...plan.run, leaseExpiresAt: null };
    const result: EndRunResult =
      plan.task === null
        ? { run: ended, task, taskUpdated: false, ...(plan.note ? { note: plan.note } : {}) }
        : { run: ended, task: { ...task, ...plan.task }, taskUpdated: true };
    planned.push({ index, run: ended, runVersion: row.r_version as string, task, taskVersion: row.t_version as string, update: plan.task, result });
  }
  if (planned.length === 0) return out;

  const u = (f: (t: TaskUpdate) => unknown) => planned.map((p) => (p.update === null ? null : f(p.update)));
  const written = (
    await pool.query<{ rid: number }>(
      prepared(WRITE, [
        planned.map((p) => p.run.id),
        planned.map((p) => p.runVersion),
        planned.map((p) => p.task.id),
        planned.map((p) => p.taskVersion),
        planned.map((p) => p.run.status),
        planned.map((p) => p.run.ended),
        planned.map((p) => JSON.stringify(p.run.metadata)),
        planned.map((p) => (p.run.result === null || p.run.result === undefined ? null : JSON.stringify(p.run.result))),
        planned.map((p) => p.run.error),
        planned.map((p) => p.update !== null),
        u((t) => t.status),
        u((t) => t.disabledReason),
        u((t) => t.nextRun),
        u((t) => t.currentIntervalMs),
        u((t) => t.retriesLeft),
        u((t) => t.consecutiveAbandons),
        u((t) => t.nextAttempt),
      ]),
    )
  ).rows;
  const done = new Set(written.map((w) => Number(w.rid)));
  for (const p of planned) if (done.has(p.run.id)) out[p.index] = p.result;
  return out;
}
