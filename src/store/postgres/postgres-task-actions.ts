import type pg from 'pg';
import { respawnRefusal, type BulkSkip } from '../../core/bulk.js';
import { dagAttemptRespawnRefusal } from '../../core/dag.js';
import { TASK_DISABLED_ERROR } from '../../core/give-back.js';
import { runEndInstant } from '../../core/run-end.js';
import { ConflictError, NotFoundError, OrreryError } from '../../core/errors.js';
import { respawnError } from '../task-actions.js';
import { CANCELLED_ERROR, type Task, type TaskRun, type TaskType } from '../../core/model.js';
import { runFromRow, taskFromRow, type Row } from '../rows.js';
import type { BulkTaskOutcome, BulkTaskRequest } from '../store.js';
import { endRunsInTx } from './postgres-ends.js';
import { UNFINISHED_RUN_STATUSES_SQL } from '../sql-lists.js';

export type BulkBatchAnswer = BulkTaskOutcome & { stopping: number; cancelsHeld: boolean };

/**
 * One batch of a bulk action inside the caller's transaction, set-based: the tasks are locked in id
 * order, each is accepted or left alone with a reason exactly as the single-task call decides
 * (disableTasks, respawnTasks, cancelRun), then the accepted ones are written in a few statements.
 */
export async function bulkTasksInTx(c: pg.PoolClient, req: BulkTaskRequest, typeOf: (name: string) => Promise<TaskType>): Promise<BulkBatchAnswer> {
  const out: BulkBatchAnswer = { changed: [], skipped: [], ended: [], withdrawn: [], stopping: 0, cancelsHeld: false };
  if (req.action === 'cancel') return cancelCurrentRuns(c, req, typeOf, out);
  const rows = (await c.query<Row>('SELECT * FROM tasks WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [[...req.ids]])).rows;
  const found = new Map(rows.map((r) => [Number(r.id), r]));
  const accepted: number[] = [];
  const refusal = req.action === 'disable' ? disableRefusal : req.action === 'delete' ? await deleteRefusals(c, rows) : await respawnRefusals(c, rows, req.at);
  for (const id of req.ids) {
    const row = found.get(id);
    const reason = row ? refusal(taskFromRow(row)) : 'gone';
    if (reason) out.skipped.push({ id, reason });
    else accepted.push(id);
  }
  if (accepted.length === 0) return out;
  if (req.action === 'disable') {
    const done = await disableAll(c, accepted, req.at);
    out.stopping = done.stopping;
    out.withdrawn = done.withdrawn;
  }
  else if (req.action === 'delete') await deleteAll(c, accepted);
  else await respawnAll(c, accepted, req.nextRun, req.at);
  out.changed = accepted;
  return out;
}

/**
 * Disables tasks (reason `manual`), as disableTasks: waiting and buffered runs end cancelled (returned
 * as `withdrawn`), started ones are asked to stop; `stopping` counts the held runs workers must drop or stop.
 */
export async function disableAll(c: pg.PoolClient, ids: readonly number[], at: Date): Promise<{ stopping: number; withdrawn: TaskRun[] }> {
  // Each ends at `at`, or when it was scheduled if that is later (core runEndInstant): locked and read first, in id order.
  const waiting = (await c.query<Row>(`SELECT * FROM task_runs WHERE task = ANY($1::bigint[]) AND status IN ('scheduled', 'claimed') ORDER BY id FOR UPDATE`, [ids])).rows.map(runFromRow);
  const withdrawn = await c.query<Row>(
    // A run in a worker's buffer keeps its lease until that worker lets go of it (it may be beginning it): respawn waits.
    `UPDATE task_runs r SET status = 'lost', ended = x.ended, error = '${TASK_DISABLED_ERROR}',
       lease_expires_at = CASE WHEN r.status = 'claimed' THEN r.lease_expires_at END
     FROM unnest($1::bigint[], $2::timestamptz[]) AS x(id, ended)
     WHERE r.id = x.id AND r.status IN ('scheduled', 'claimed') RETURNING r.*`,
    [waiting.map((r) => r.id), waiting.map((r) => runEndInstant(r, at))],
  );
  const asked = await c.query(`UPDATE task_runs SET cancel_requested = true WHERE task = ANY($1::bigint[]) AND status = 'started' AND NOT cancel_requested`, [ids]);
  await c.query(`UPDATE tasks SET status = 'disabled', disabled_reason = 'manual', dedupe_key = NULL WHERE id = ANY($1::bigint[])`, [ids]);
  return { stopping: withdrawn.rows.filter((r) => r.worker !== null).length + (asked.rowCount ?? 0), withdrawn: withdrawn.rows.map(runFromRow) };
}

const disableRefusal = (t: Task): BulkSkip | null => (t.status === 'disabled' ? 'already_disabled' : null);

/**
 * The tasks among `ids` with a run a worker still holds: claimed or started, or ended while a worker
 * held it (withdrawn from its buffer by a disable or a cancel, or ended by someone else: core
 * holderEffect) that the worker has not let go of yet and whose lease has not run out.
 */
export async function tasksWithHeldRuns(c: pg.PoolClient, ids: readonly number[], at: Date): Promise<Set<number>> {
  const rows = (
    await c.query<Row>(
      `SELECT DISTINCT task FROM task_runs WHERE task = ANY($1::bigint[]) AND (status IN ('claimed', 'started') OR lease_expires_at > $2)`,
      [ids, at],
    )
  ).rows;
  return new Set(rows.map((r) => Number(r.task)));
}

/** respawnTasks' checks for a batch: DAG attempts, tasks with a run, and tasks an equal active task (or an earlier one of the batch) holds the identity of. */
async function respawnRefusals(c: pg.PoolClient, rows: Row[], at: Date): Promise<(t: Task) => BulkSkip | null> {
  const keys = rows.map((r) => r.identity_key as string);
  const holders = new Map(
    (await c.query<Row>('SELECT id, dedupe_key FROM tasks WHERE dedupe_key = ANY($1::text[])', [keys])).rows.map((r) => [r.dedupe_key as string, Number(r.id)]),
  );
  const keyOf = new Map(rows.map((r) => [Number(r.id), r.identity_key as string]));
  const held = await tasksWithHeldRuns(c, rows.map((r) => Number(r.id)), at);
  return (t) => {
    const key = keyOf.get(t.id)!;
    const reason = respawnRefusal(t, { runHeld: held.has(t.id), equalActive: holders.get(key) ?? null });
    if (reason === null) holders.set(key, t.id); // respawned first in this batch: an equal task later in it is a duplicate
    return reason;
  };
}

async function respawnAll(c: pg.PoolClient, ids: readonly number[], nextRun: Date, at: Date): Promise<void> {
  await endBackfillsOf(c, ids, at);
  await c.query(
    `UPDATE tasks SET status = 'next_run_not_scheduled', disabled_reason = NULL, next_run = $2, scheduled_for = NULL,
       retries_left = (SELECT num_retries FROM task_types WHERE name = tasks.type),
       consecutive_abandons = 0, next_attempt = 1, dedupe_key = identity_key WHERE id = ANY($1::bigint[])`,
    [ids, nextRun],
  );
}

/** Tasks that may go: not DAG attempts, no run waiting or running. */
async function deleteRefusals(c: pg.PoolClient, rows: Row[]): Promise<(t: Task) => BulkSkip | null> {
  const busy = new Set(
    (await c.query<Row>(`SELECT DISTINCT task FROM task_runs WHERE task = ANY($1::bigint[]) AND status IN ('scheduled', 'claimed', 'started')`, [rows.map((r) => r.id)])).rows.map(
      (r) => Number(r.task),
    ),
  );
  return (t) => (dagAttemptRespawnRefusal(t) ? 'dag_attempt' : t.status === 'next_run_scheduled' || busy.has(t.id) ? 'active_run' : null);
}

async function deleteAll(c: pg.PoolClient, ids: readonly number[]): Promise<void> {
  await c.query('DELETE FROM run_logs WHERE run IN (SELECT id FROM task_runs WHERE task = ANY($1::bigint[]))', [ids]);
  await c.query('DELETE FROM task_runs WHERE task = ANY($1::bigint[])', [ids]);
  await c.query('DELETE FROM tasks WHERE id = ANY($1::bigint[])', [ids]);
}

/**
 * Cancels the current run of each task, as cancelRun: runs are locked before their tasks (the order of
 * every end), a waiting or buffered run ends lost (cancelled) with the cancellation rule, a started
 * one is flagged cancelRequested.
 */
async function cancelCurrentRuns(c: pg.PoolClient, req: BulkTaskRequest, typeOf: (name: string) => Promise<TaskType>, out: BulkBatchAnswer): Promise<BulkBatchAnswer> {
  const current = (await c.query<Row>(`SELECT id, status, current_run FROM tasks WHERE id = ANY($1::bigint[])`, [[...req.ids]])).rows;
  const runOf = new Map(current.filter((t) => t.status === 'next_run_scheduled' && t.current_run !== null).map((t) => [Number(t.id), Number(t.current_run)]));
  const runs = (await c.query<Row>('SELECT id, task, backend_id, status FROM task_runs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [[...runOf.values()]])).rows;
  const runById = new Map(runs.map((r) => [Number(r.id), r]));
  const exists = new Set(current.map((t) => Number(t.id)));
  const started: number[] = [];
  const waiting: Array<{ id: number; backendId: string }> = [];
  const claimed: number[] = [];
  for (const id of req.ids) {
    const run = runById.get(runOf.get(id) ?? -1);
    if (!exists.has(id)) out.skipped.push({ id, reason: 'gone' });
    else if (run?.status === 'started') started.push(Number(run.id)), out.changed.push(id);
    else if (run?.status === 'scheduled' || run?.status === 'claimed') {
      if (run.status === 'claimed') (out.cancelsHeld = true), claimed.push(Number(run.id)); // its worker drops it from its buffer at its next heartbeat
      waiting.push({ id, backendId: run.backend_id as string });
    } else out.skipped.push({ id, reason: 'no_run' });
  }
  if (started.length > 0) {
    await c.query('UPDATE task_runs SET cancel_requested = true WHERE id = ANY($1::bigint[])', [started]);
    out.stopping = started.length;
  }
  if (waiting.length === 0) return out;
  const leases = await leasesOf(c, claimed);
  const ends = await endRunsInTx(c, waiting.map((w) => ({ backendId: w.backendId, req: { status: 'lost', at: req.at, cause: 'cancel', error: CANCELLED_ERROR } })), typeOf);
  await keepLeases(c, leases);
  ends.forEach((e, i) => {
    if (e instanceof OrreryError) out.skipped.push({ id: waiting[i]!.id, reason: 'no_run' });
    else (out.ended.push(e), out.changed.push(waiting[i]!.id));
  });
  return out;
}

/** The task, locked for the caller's transaction; NotFoundError when there is none. */
export async function lockTask(c: pg.PoolClient, id: number): Promise<Task> {
  const { rows } = await c.query<Row>('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0]) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: `no task ${id}` }]);
  return taskFromRow(rows[0]);
}

/** disableTasks in the caller's transaction, task by task in order; a task already disabled is returned as it is. */
export async function disableEach(c: pg.PoolClient, ids: readonly number[], at: Date): Promise<{ tasks: Task[]; withdrawn: TaskRun[]; stopping: number }> {
  const out = { tasks: [] as Task[], withdrawn: [] as TaskRun[], stopping: 0 };
  for (const id of ids) {
    const task = await lockTask(c, id);
    if (task.status === 'disabled') {
      out.tasks.push(task);
      continue;
    }
    const done = await disableAll(c, [id], at);
    out.stopping += done.stopping;
    out.withdrawn.push(...done.withdrawn);
    out.tasks.push(await lockTask(c, id));
  }
  return out;
}

/** respawnTasks in the caller's transaction, task by task in order; the first refusal throws (nothing is kept). */
export async function respawnEach(c: pg.PoolClient, ids: readonly number[], nextRun: Date, at: Date, typeOf: (name: string) => Promise<TaskType>): Promise<Task[]> {
  const tasks: Task[] = [];
  for (const id of ids) {
    const task = await lockTask(c, id);
    const [k] = (await c.query<Row>('SELECT identity_key FROM tasks WHERE id = $1', [id])).rows;
    const [holder] = (await c.query<Row>('SELECT id FROM tasks WHERE dedupe_key = $1 AND id <> $2', [k!.identity_key, id])).rows;
    const equalActive = holder ? Number(holder.id) : null;
    const reason = respawnRefusal(task, { runHeld: (await tasksWithHeldRuns(c, [id], at)).has(id), equalActive });
    if (reason) throw respawnError(task, { reason, ...(equalActive !== null ? { holder: equalActive } : {}) });
    const type = await typeOf(task.type);
    await endBackfillsOf(c, [id], at);
    const { rows } = await c
      .query<Row>(
        `UPDATE tasks SET status = 'next_run_not_scheduled', disabled_reason = NULL, next_run = $2, scheduled_for = NULL, retries_left = $3,
           consecutive_abandons = 0, next_attempt = 1, dedupe_key = identity_key WHERE id = $1 RETURNING *`,
        [id, nextRun, type.numRetries],
      )
      .catch((e: unknown) => {
        if ((e as { code?: string }).code !== '23505') throw e;
        throw new ConflictError(`task ${id} cannot be respawned: an equal task became active`, [{ path: 'id', message: 'equal to an active task' }]);
      });
    tasks.push(taskFromRow(rows[0]!));
  }
  return tasks;
}

/** A respawn ends the backfills the tasks' disable or completion ended (the runner's next pass would have said so). */
async function endBackfillsOf(c: pg.PoolClient, ids: readonly number[], at: Date): Promise<void> {
  await c.query(`UPDATE task_backfills SET status = 'cancelled', updated = $2 WHERE task = ANY($1::bigint[]) AND status = 'running'`, [ids, at]);
}

/** The leases of claimed runs about to be cancelled (their workers may be beginning them). */
export async function leasesOf(c: pg.PoolClient, runIds: readonly number[]): Promise<Row[]> {
  if (runIds.length === 0) return [];
  return (await c.query<Row>(`SELECT id, lease_expires_at FROM task_runs WHERE id = ANY($1::bigint[]) AND status = 'claimed'`, [runIds])).rows;
}

/** Gives cancelled buffered runs their lease back: held until their worker lets go of them (releaseRuns) or it runs out. */
export async function keepLeases(c: pg.PoolClient, leases: readonly Row[]): Promise<void> {
  if (leases.length === 0) return;
  await c.query(`UPDATE task_runs r SET lease_expires_at = x.l FROM unnest($1::bigint[], $2::timestamptz[]) AS x(id, l) WHERE r.id = x.id AND r.status NOT IN (${UNFINISHED_RUN_STATUSES_SQL})`, [
    leases.map((r) => r.id),
    leases.map((r) => r.lease_expires_at),
  ]);
}
