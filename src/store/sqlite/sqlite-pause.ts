import type Database from 'better-sqlite3';
import { dagAttemptPauseRefusal } from '../../core/dag.js';
import { NotFoundError } from '../../core/errors.js';
import type { Task, TypePause } from '../../core/model.js';
import { taskFromRow, type Row } from '../rows.js';
import { idFloorRaiser } from './sqlite-id-floor.js';

/**
 * Pauses or resumes a task's schedule inside the caller's write transaction (`Store.setTaskPause`). A
 * run the task has waiting in the queue is taken back (it never ran); a run handed to a worker finishes.
 */
export function setTaskPauseInTx(db: Database.Database, id: number, pause: TypePause | null): Task {
  const row = db.prepare('SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
  if (!row) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: 'no such task' }]);
  const refusal = dagAttemptPauseRefusal(taskFromRow(row));
  if (refusal) throw refusal;
  if (pause && row.status === 'next_run_scheduled' && row.current_run !== null) {
    idFloorRaiser(db)(['task_runs']); // the run taken back may be the newest: its id is not handed out again
    const taken = db.prepare(`DELETE FROM task_runs WHERE id = ? AND status = 'scheduled'`).run(row.current_run);
    if (taken.changes > 0) db.prepare(`UPDATE tasks SET status = 'next_run_not_scheduled', current_run = NULL WHERE id = ?`).run(id);
  }
  const updated = db.prepare('UPDATE tasks SET paused_at = ?, paused_reason = ? WHERE id = ? RETURNING *').get(pause ? pause.at.getTime() : null, pause?.reason ?? null, id) as Row;
  return taskFromRow(updated);
}
