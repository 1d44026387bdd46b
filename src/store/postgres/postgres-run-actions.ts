import type pg from 'pg';
import { ConflictError, OrreryError } from '../../core/errors.js';
import { CANCELLED_ERROR, type TaskRun, type TaskType } from '../../core/model.js';
import { holderEffect } from '../../core/run-end.js';
import { runFromRow, taskFromRow, type Row } from '../rows.js';
import type { CancelRunResult, EndRunRequest, EndRunResult } from '../store.js';
import { endRunsInTx } from './postgres-ends.js';
import { keepLeases } from './postgres-task-actions.js';

type TypeOf = (name: string) => Promise<TaskType>;

/**
 * Cancels a run locked by the caller (docs/limits.md): a started run is flagged for its worker; a
 * waiting or buffered one ends `lost` (`cancelled`) at once, a buffered one keeping its lease until
 * its worker lets go of it (releaseRuns).
 */
export async function cancelLockedRun(c: pg.PoolClient, run: TaskRun, at: Date, typeOf: TypeOf): Promise<CancelRunResult> {
  if (run.status === 'started') {
    const { rows: [row] } = await c.query<Row>('UPDATE task_runs SET cancel_requested = true WHERE id = $1 RETURNING *', [run.id]);
    const { rows: [task] } = await c.query<Row>('SELECT * FROM tasks WHERE id = $1', [run.task]);
    return { outcome: 'requested', run: runFromRow(row!), task: taskFromRow(task!), taskUpdated: false };
  }
  if (run.status !== 'scheduled' && run.status !== 'claimed') {
    throw new ConflictError(`run ${run.backendId} already ended ${run.status}; nothing to cancel`, [{ path: 'backendId', message: `run is ${run.status}` }]);
  }
  // Read with the run: no second query for its lease.
  const leases = run.status === 'claimed' ? [{ id: run.id, lease_expires_at: run.leaseExpiresAt }] : [];
  const [r] = await endRunsInTx(c, [{ backendId: run.backendId, req: { status: 'lost', at, cause: 'cancel', error: CANCELLED_ERROR } }], typeOf);
  if (r instanceof OrreryError) throw r;
  // Its worker may be beginning it: the lease is kept until that worker lets go of it (releaseRuns).
  await keepLeases(c, leases);
  return { outcome: 'ended', run: { ...r!.run, leaseExpiresAt: run.status === 'claimed' ? run.leaseExpiresAt : r!.run.leaseExpiresAt }, task: r!.task, taskUpdated: r!.taskUpdated };
}

/**
 * Ends a run locked by the caller on behalf of someone else than its holder: what that does to the
 * worker holding it is core holderEffect's (a buffered run keeps its lease; the worker is told).
 */
export async function endLockedRun(c: pg.PoolClient, run: TaskRun, req: EndRunRequest, typeOf: TypeOf): Promise<{ result: EndRunResult; tellWorker: boolean }> {
  const [r] = await endRunsInTx(c, [{ backendId: run.backendId, req }], typeOf);
  if (r instanceof OrreryError) throw r;
  const effect = holderEffect(run, req);
  if (!effect.keepLease) return { result: r!, tellWorker: effect.tellWorker };
  await keepLeases(c, [{ id: run.id, lease_expires_at: run.leaseExpiresAt }]);
  return { result: { ...r!, run: { ...r!.run, leaseExpiresAt: run.leaseExpiresAt } }, tellWorker: effect.tellWorker };
}
