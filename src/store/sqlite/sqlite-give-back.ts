import type Database from 'better-sqlite3';
import { giveBackFate, PAUSED_GIVE_BACK_ERROR, TASK_DISABLED_ERROR, type GiveBackOutcome } from '../../core/give-back.js';
import { CANCELLED_ERROR, type TaskRun, type TaskStatus } from '../../core/model.js';
import { runFromRow, type Row } from '../rows.js';
import type { EndRunRequest, EndRunResult } from '../store.js';
import { idFloorRaiser } from './sqlite-id-floor.js';
import { rewindBackfills } from './sqlite-pause.js';

/** What a give-back's requeue returns of each run: the run, and what decides its fate (core/give-back.ts). */
export const GIVEN_BACK_RETURNING = `RETURNING *, (SELECT t.status FROM tasks t WHERE t.id = task_runs.task) AS task_status,
      (SELECT t.paused_at IS NOT NULL FROM tasks t WHERE t.id = task_runs.task) AS task_paused`;

/**
 * Settles runs just put back in the queue by a give-back (rows of GIVEN_BACK_RETURNING), in the same
 * write transaction, as core/give-back.ts decides: a paused task's run is taken back (given back by
 * its worker) or kept as a loss (found expired by a reaper, `reaped`); a disabled task's run and a
 * run whose cancellation was asked end cancelled. Returns how many stay queued, and the ends it made.
 */
export function settleGivenBack(
  db: Database.Database,
  rows: readonly Row[],
  at: Date,
  endInTx: (run: TaskRun, req: EndRunRequest) => EndRunResult,
  reaped: boolean,
): GiveBackOutcome<EndRunResult> {
  let queued = 0;
  const ended: EndRunResult[] = [];
  const withdrawn: TaskRun[] = [];
  const disabled: TaskRun[] = [];
  for (const r of rows) {
    const fate = giveBackFate({ cancelRequested: r.cancel_requested === 1, taskStatus: r.task_status as TaskStatus, taskPaused: r.task_paused === 1, reaped });
    if (fate === 'queue') queued++;
    else if (fate === 'take-back' || fate === 'withdraw') {
      if (fate === 'take-back') {
        // Given back by its worker: its handler never began, so it never ran (a remote worker's log records, if any, go with it).
        idFloorRaiser(db)(['task_runs', 'run_logs']); // the rows taken back may be the newest: their ids are not handed out again
        db.prepare('DELETE FROM run_logs WHERE run = ?').run(r.id);
        rewindBackfills(db, db.prepare(`DELETE FROM task_runs WHERE id = ? AND status = 'scheduled' RETURNING backfill, scheduled_for`).all(r.id) as Row[], at);
      } else {
        // Its handler may have begun: the run stays as a loss (its log and give-back count kept), and no formula runs.
        const lost = db.prepare(`UPDATE task_runs SET status = 'lost', ended = ?, error = ? WHERE id = ? AND status = 'scheduled' RETURNING *`).get(at.getTime(), PAUSED_GIVE_BACK_ERROR, r.id) as Row | undefined;
        if (lost) withdrawn.push(runFromRow(lost));
      }
      db.prepare(`UPDATE tasks SET status = 'next_run_not_scheduled', current_run = NULL WHERE id = ? AND current_run = ?`).run(r.task, r.id);
    } else if (fate === 'cancel-disabled') {
      const lost = db.prepare(`UPDATE task_runs SET status = 'lost', ended = ?, error = ? WHERE id = ? AND status = 'scheduled' RETURNING *`).get(at.getTime(), TASK_DISABLED_ERROR, r.id) as Row | undefined;
      if (lost) disabled.push(runFromRow(lost));
    } else ended.push(endInTx(runFromRow(r), { status: 'lost', at, cause: 'cancel', error: CANCELLED_ERROR }));
  }
  return { queued, ended, withdrawn, disabled };
}
