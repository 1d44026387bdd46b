import type pg from 'pg';
import { nextPointAfterTakeBack } from '../../core/backfill.js';
import { dagAttemptPauseRefusal } from '../../core/dag.js';
import { NotFoundError, shown } from '../../core/errors.js';
import type { Task, TypePause } from '../../core/model.js';
import { dagFromRow } from '../dag-rows.js';
import type { StoredDag } from '../dag-store.js';
import { taskFromRow, type Row } from '../rows.js';
import { catchUpRowInTx } from './postgres-schedules.js';

/**
 * Pauses or resumes a task's schedule inside the caller's transaction (`Store.setTaskPause`). A run
 * the task has waiting in the queue is taken back (it never ran); a run handed to a worker finishes.
 */
export async function setTaskPauseInTx(c: pg.PoolClient, id: number, pause: TypePause | null, at: Date): Promise<Task> {
  const { rows } = await c.query<Row>('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0]) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: 'no such task' }]);
  const refusal = dagAttemptPauseRefusal(taskFromRow(rows[0]));
  if (refusal) throw refusal;
  if (pause && rows[0].status === 'next_run_scheduled' && rows[0].current_run !== null) {
    // Log records a backend wrote for the waiting run go with it (they held its row: a foreign-key failure).
    await c.query(`DELETE FROM run_logs WHERE run = $1 AND EXISTS (SELECT 1 FROM task_runs WHERE id = $1 AND status = 'scheduled')`, [rows[0].current_run]);
    const taken = await c.query<Row>(`DELETE FROM task_runs WHERE id = $1 AND status = 'scheduled' RETURNING backfill, scheduled_for`, [rows[0].current_run]);
    if ((taken.rowCount ?? 0) > 0) await c.query(`UPDATE tasks SET status = 'next_run_not_scheduled', current_run = NULL WHERE id = $1`, [id]);
    await rewindBackfills(c, taken.rows, pause.at);
  }
  const updated = await c.query<Row>('UPDATE tasks SET paused_at = $2, paused_reason = $3 WHERE id = $1 RETURNING *', [id, pause?.at ?? null, pause?.reason ?? null]);
  // A resumed cron or rrule task's occurrences missed during the pause follow its catch-up policy now,
  // in this transaction (unless its type is paused: the type's resume does it, engine/service.ts resumeTaskType): a claim of due tasks
  // woken by the resume must not take it with the oldest missed occurrence (PostgreSQL's claims catch
  // up at most once a second, engine/schedule-service.ts), and the resume answers with the task as it
  // will run (SQLite's resume does the same, sqlite-pause.ts).
  if (pause === null && rows[0].paused_at !== null) {
    const { rows: typePaused } = await c.query<Row>('SELECT 1 FROM task_types WHERE name = $1 AND paused_at IS NOT NULL', [updated.rows[0]!.type]);
    const late = typePaused.length === 0 ? await catchUpRowInTx(c, updated.rows[0]!, at) : null;
    if (late) return taskFromRow(late.row);
  }
  return taskFromRow(updated.rows[0]!);
}

/**
 * Backfill runs taken back from the queue without running (deleted): each gives its occurrence back
 * to its backfill, still running, which serves it again once the task may run (core/backfill.ts).
 */
export async function rewindBackfills(c: pg.PoolClient, taken: readonly Row[], at: Date): Promise<void> {
  for (const r of taken) {
    if (r.backfill == null) continue;
    const { rows } = await c.query<Row>(`SELECT next_point FROM task_backfills WHERE id = $1 AND status = 'running' FOR UPDATE`, [r.backfill]);
    if (!rows[0]) continue;
    await c.query('UPDATE task_backfills SET next_point = $2, updated = $3 WHERE id = $1', [r.backfill, nextPointAfterTakeBack(rows[0].next_point as Date | null, r.scheduled_for as Date), at]);
  }
}

/** Pauses or resumes a DAG (`DagStore.setDagPause`). */
export async function setDagPause(pool: pg.Pool, id: string, pause: TypePause | null, at: Date): Promise<StoredDag> {
  const { rows } = await pool.query<Row>('UPDATE dags SET paused_at = $2, paused_reason = $3, updated = $4 WHERE id = $1 RETURNING *', [id, pause?.at ?? null, pause?.reason ?? null, at]);
  if (!rows[0]) throw new NotFoundError(`DAG "${shown(id)}" not found`, [{ path: 'id', message: 'no such DAG' }]);
  return dagFromRow(rows[0]);
}
