import type Database from 'better-sqlite3';
import { nextPointAfterTakeBack } from '../../core/backfill.js';
import { dagAttemptPauseRefusal } from '../../core/dag.js';
import { NotFoundError } from '../../core/errors.js';
import type { Task, TypePause } from '../../core/model.js';
import { taskFromRow, type Row } from '../rows.js';
import { idFloorRaiser } from './sqlite-id-floor.js';
import type { SqliteSchedules } from './sqlite-schedules.js';

/**
 * Pauses or resumes a task's schedule inside the caller's write transaction (`Store.setTaskPause`). A
 * run the task has waiting in the queue is taken back (it never ran); a run handed to a worker finishes.
 */
export function setTaskPauseInTx(db: Database.Database, id: number, pause: TypePause | null, at: Date, schedules: SqliteSchedules): Task {
  const row = db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
  if (!row) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: 'no such task' }]);
  const refusal = dagAttemptPauseRefusal(taskFromRow(row));
  if (refusal) throw refusal;
  if (pause && row.status === 'next_run_scheduled' && row.current_run !== null) {
    idFloorRaiser(db)(['task_runs']); // the run taken back may be the newest: its id is not handed out again
    // Log records a backend wrote for the waiting run go with it (they held its row: a foreign-key failure).
    db.prepare(`DELETE FROM run_logs WHERE run = ? AND EXISTS (SELECT 1 FROM task_runs WHERE id = ? AND status = 'scheduled')`).run(row.current_run, row.current_run);
    const taken = db.prepare(`DELETE FROM task_runs WHERE id = ? AND status = 'scheduled' RETURNING backfill, scheduled_for`).all(row.current_run) as Row[];
    if (taken.length > 0) db.prepare(`UPDATE tasks SET status = 'next_run_not_scheduled', current_run = NULL WHERE id = ?`).run(id);
    rewindBackfills(db, taken, pause.at);
  }
  const updated = db.prepare('UPDATE tasks SET paused_at = ?, paused_reason = ? WHERE id = ? RETURNING *').get(pause ? pause.at.getTime() : null, pause?.reason ?? null, id) as Row;
  // A resumed cron or rrule task's occurrences missed during the pause follow its catch-up policy now,
  // in this transaction, as on PostgreSQL (unless its type is paused: the type's resume does it), so
  // the resume answers with the run the task will really make next.
  if (pause === null && row.paused_at !== null) {
    const typePaused = db.prepare('SELECT 1 FROM task_types WHERE name = ? AND paused_at IS NOT NULL').get(updated.type);
    if (typePaused === undefined && schedules.catchUpRowInTx(updated, at)) return taskFromRow(db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row);
  }
  return taskFromRow(updated);
}

/**
 * Backfill runs taken back from the queue without running (deleted): each gives its occurrence back
 * to its backfill, still running, which serves it again once the task may run (core/backfill.ts).
 */
export function rewindBackfills(db: Database.Database, taken: readonly Row[], at: Date): void {
  for (const r of taken) {
    if (r.backfill == null) continue;
    const b = db.prepare(`SELECT next_point FROM task_backfills WHERE id = ? AND status = 'running'`).get(r.backfill) as { next_point: number | null } | undefined;
    if (!b) continue;
    const point = nextPointAfterTakeBack(b.next_point === null ? null : new Date(b.next_point), new Date(r.scheduled_for as number));
    db.prepare('UPDATE task_backfills SET next_point = ?, updated = ? WHERE id = ?').run(point.getTime(), at.getTime(), r.backfill);
  }
}
