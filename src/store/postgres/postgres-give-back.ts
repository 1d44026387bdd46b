import type pg from 'pg';
import { OrreryError } from '../../core/errors.js';
import { giveBackFate, PAUSED_GIVE_BACK_ERROR, TASK_DISABLED_ERROR, type GiveBackFate, type GiveBackOutcome } from '../../core/give-back.js';
import { CANCELLED_ERROR, type TaskRun, type TaskStatus, type TaskType } from '../../core/model.js';
import { runFromRow, type Row } from '../rows.js';
import type { EndRunResult } from '../store.js';
import { endRunsInTx } from './postgres-ends.js';
import { rewindBackfills } from './postgres-pause.js';

/**
 * Settles runs just put back in the queue by a give-back (rows of GIVEN_BACK_RETURNING, postgres-queries.ts), in the same
 * transaction, as core/give-back.ts decides: a paused task's run is taken back (given back by its
 * worker) or kept as a loss (found expired by a reaper, `reaped`); a disabled task's run and a run
 * whose cancellation was asked end cancelled. Returns how many stay queued, and the ends it made.
 */
export async function settleGivenBack(
  c: pg.PoolClient,
  rows: readonly Row[],
  at: Date,
  typeOf: (name: string) => Promise<TaskType>,
  reaped: boolean,
): Promise<GiveBackOutcome<EndRunResult>> {
  const of = (fate: GiveBackFate) =>
    rows.filter((r) => giveBackFate({ cancelRequested: r.cancel_requested === true, taskStatus: r.task_status as TaskStatus, taskPaused: r.task_paused === true, reaped }) === fate);
  const back = of('take-back');
  const withdrawn = of('withdraw');
  if (back.length > 0) {
    // Given back by its worker: its handler never began, so it never ran (a remote worker's log records, if any, go with it).
    await c.query(`DELETE FROM run_logs WHERE run = ANY($1::bigint[])`, [back.map((r) => r.id)]);
    const taken = await c.query<Row>(`DELETE FROM task_runs WHERE id = ANY($1::bigint[]) AND status = 'scheduled' RETURNING backfill, scheduled_for`, [back.map((r) => r.id)]);
    await rewindBackfills(c, taken.rows, at);
  }
  const lost = { withdrawn: [] as TaskRun[], disabled: [] as TaskRun[] };
  if (withdrawn.length > 0) {
    // Its handler may have begun: the run stays as a loss (its log and give-back count kept), and no formula runs.
    lost.withdrawn = await endedRuns(c, `UPDATE task_runs SET status = 'lost', ended = $2, error = $3 WHERE id = ANY($1::bigint[]) AND status = 'scheduled' RETURNING *`, [
      withdrawn.map((r) => r.id),
      at,
      PAUSED_GIVE_BACK_ERROR,
    ]);
  }
  const waiting = [...back, ...withdrawn];
  if (waiting.length > 0) {
    await c.query(
      `UPDATE tasks t SET status = 'next_run_not_scheduled', current_run = NULL FROM unnest($1::bigint[], $2::bigint[]) AS x(task, run)
       WHERE t.id = x.task AND t.current_run = x.run`,
      [waiting.map((r) => r.task), waiting.map((r) => r.id)],
    );
  }
  const disabled = of('cancel-disabled');
  if (disabled.length > 0) {
    lost.disabled = await endedRuns(c, `UPDATE task_runs SET status = 'lost', ended = $2, error = $3 WHERE id = ANY($1::bigint[]) AND status = 'scheduled' RETURNING *`, [
      disabled.map((r) => r.id),
      at,
      TASK_DISABLED_ERROR,
    ]);
  }
  const cancelled = of('cancel');
  const ended: EndRunResult[] = [];
  if (cancelled.length > 0) {
    const items = cancelled.map((r) => ({ backendId: String(r.backend_id), req: { status: 'lost' as const, at, cause: 'cancel' as const, error: CANCELLED_ERROR } }));
    for (const r of await endRunsInTx(c, items, typeOf)) {
      if (r instanceof OrreryError) throw r;
      ended.push(r);
    }
  }
  return { queued: rows.length - waiting.length - disabled.length - cancelled.length, ended, ...lost };
}

/** The runs a give-back's update ended, in id order. */
async function endedRuns(c: pg.PoolClient, sql: string, params: unknown[]): Promise<TaskRun[]> {
  return (await c.query<Row>(sql, params)).rows.map(runFromRow).sort((a, b) => a.id - b.id);
}
