import type Database from 'better-sqlite3';
import { respawnRefusal, type BulkSkip } from '../../core/bulk.js';
import { dagAttemptRespawnRefusal } from '../../core/dag.js';
import { TASK_DISABLED_ERROR } from '../../core/give-back.js';
import { runEndInstant } from '../../core/run-end.js';
import { CANCELLED_ERROR, type Task, type TaskRun, type TaskType } from '../../core/model.js';
import { runFromRow, taskFromRow, type Row } from '../rows.js';
import { date, dateOrNull } from '../columns.js';
import type { BulkTaskOutcome, BulkTaskRequest, EndRunRequest, EndRunResult } from '../store.js';
import type { RespawnRefusal } from '../task-actions.js';
import type { prepare } from './sqlite-queries.js';
import type { SqliteTaskWrites } from './sqlite-tasks.js';
import { idFloorRaiser } from './sqlite-id-floor.js';


interface Deps {
  db: Database.Database;
  stmts: ReturnType<typeof prepare>;
  taskWrites: SqliteTaskWrites;
  typeOf: (name: string) => TaskType;
  endInTx: (run: TaskRun, req: EndRunRequest) => EndRunResult;
}

/**
 * What disable, respawn, cancel and delete do to one task, inside the caller's write transaction:
 * the single-task calls (`disableTasks`, `respawnTasks`) and the bulk batches (`bulkTasks`) share it.
 * Every refusal is decided before anything of the task is written, so a batch can skip a task and go on.
 */
export class SqliteTaskActions {
  private readonly s: ReturnType<typeof prepareActions>;
  private readonly raiseIdFloors: ReturnType<typeof idFloorRaiser>;

  constructor(private readonly d: Deps) {
    this.s = prepareActions(d.db);
    this.raiseIdFloors = idFloorRaiser(d.db);
  }

  /** The task's row, or null. */
  row(id: number): Row | null {
    return (this.d.stmts.taskById.get(id) as Row | undefined) ?? null;
  }

  /**
   * Disables a task that is not disabled (reason `manual`); returns how many held runs its workers must
   * drop or stop, and the waiting runs it ended.
   */
  disable(id: number, at: Date): { task: Task; stopping: number; withdrawn: TaskRun[] } {
    let stopping = 0;
    const withdrawn: TaskRun[] = [];
    // Waiting runs, and runs waiting in a worker's buffer (its next heartbeat drops them), end at once.
    for (const run of this.d.stmts.scheduledRunsOfTask.all(id) as Row[]) {
      const ended = runEndInstant({ scheduled: date(run.scheduled), started: dateOrNull(run.started) }, at);
      withdrawn.push(runFromRow(this.d.stmts.cancelRun.get({ id: run.id, ended: ended.getTime(), error: TASK_DISABLED_ERROR }) as Row));
      if (run.worker !== null) stopping += 1;
    }
    stopping += this.d.taskWrites.requestCancelOfTask(id).length;
    return { task: taskFromRow(this.d.stmts.disableTask.get(id) as Row), stopping, withdrawn };
  }

  /** Why the task cannot be respawned now, or null (a finished task's leftover hold on its identity is cleared on the way: activeHolder). */
  respawnRefusal(task: Task, at: Date): RespawnRefusal | null {
    const runHeld = this.d.stmts.heldRunOfTask.get({ task: task.id, at: at.getTime() }) !== undefined;
    const key = (this.d.stmts.identityOf.get(task.id) as { k: string }).k;
    const holder = this.d.taskWrites.activeHolder(key);
    const reason = respawnRefusal(task, { runHeld, equalActive: holder ? Number(holder.id) : null });
    return reason === null ? null : { reason, ...(reason === 'equal_active' ? { holder: Number(holder!.id) } : {}) };
  }

  /** Respawns a task `respawnRefusal` accepted: due at `nextRun`, retries refilled, its identity active again. */
  respawn(task: Task, nextRun: Date, at: Date): Task {
    const key = (this.d.stmts.identityOf.get(task.id) as { k: string }).k;
    const type = this.d.typeOf(task.type);
    // Its backfills still running were ended by its disable or completion (the runner's next pass would have said so).
    this.d.stmts.endBackfillsOfTask.run(at.getTime(), task.id);
    return taskFromRow(this.d.stmts.respawnTask.get({ id: task.id, next_run: nextRun.getTime(), retries: type.numRetries, key }) as Row);
  }

  /** One batch of a bulk action, in the caller's write transaction. */
  batch(req: BulkTaskRequest): BulkTaskOutcome & { stopping: number; cancelsHeld: boolean } {
    const out: BulkTaskOutcome & { stopping: number; cancelsHeld: boolean } = { changed: [], skipped: [], ended: [], withdrawn: [], stopping: 0, cancelsHeld: false };
    // Deleted rows' ids are never handed out again: the floors go up to the largest ids first.
    if (req.action === 'delete') this.raiseIdFloors(['tasks', 'task_runs', 'run_logs']);
    for (const id of req.ids) {
      const row = this.row(id);
      const skip = (reason: BulkSkip) => out.skipped.push({ id, reason });
      if (!row) {
        skip('gone');
        continue;
      }
      const task = taskFromRow(row);
      if (req.action === 'disable') {
        if (task.status === 'disabled') skip('already_disabled');
        else {
          const done = this.disable(id, req.at);
          out.stopping += done.stopping;
          out.withdrawn.push(...done.withdrawn);
          out.changed.push(id);
        }
      } else if (req.action === 'respawn' || req.action === 'redrive') {
        const refusal = this.respawnRefusal(task, req.at);
        if (refusal) skip(refusal.reason);
        else (this.respawn(task, req.nextRun, req.at), out.changed.push(id));
      } else if (req.action === 'cancel') {
        const reason = this.cancel(row, req.at, out);
        if (reason) skip(reason);
        else out.changed.push(id);
      } else {
        const reason = this.deleteRefusal(task);
        if (reason) skip(reason);
        else (this.s.deleteLogs.run(id), this.s.deleteRuns.run(id), this.s.deleteTask.run(id), out.changed.push(id));
      }
    }
    return out;
  }

  /** Cancels the task's current run as `cancelRun` does; the reason it has none otherwise. */
  private cancel(row: Row, at: Date, out: { ended: EndRunResult[]; stopping: number; cancelsHeld: boolean }): BulkSkip | null {
    if (row.status !== 'next_run_scheduled' || row.current_run === null) return 'no_run';
    const runRow = this.s.runById.get(row.current_run) as Row | undefined;
    if (!runRow) return 'no_run';
    const run = runFromRow(runRow);
    if (run.status === 'started') {
      this.d.stmts.requestCancel.run(run.id);
      out.stopping += 1;
      return null;
    }
    if (run.status !== 'scheduled' && run.status !== 'claimed') return 'no_run';
    if (run.status === 'claimed') out.cancelsHeld = true; // its worker drops it from its buffer at its next heartbeat
    out.ended.push(this.d.endInTx(run, { status: 'lost', at, cause: 'cancel', error: CANCELLED_ERROR }));
    // Its worker may be beginning it: the lease is kept until that worker lets go of it (releaseRuns).
    if (run.status === 'claimed') this.d.stmts.keepLease.run({ id: run.id, lease: run.leaseExpiresAt?.getTime() ?? null });
    return null;
  }

  private deleteRefusal(task: Task): BulkSkip | null {
    if (dagAttemptRespawnRefusal(task)) return 'dag_attempt';
    if (task.status === 'next_run_scheduled' || this.s.unfinishedRun.get(task.id)) return 'active_run';
    return null;
  }
}

function prepareActions(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    runById: p('SELECT * FROM task_runs WHERE id = ?'),
    unfinishedRun: p(`SELECT 1 FROM task_runs WHERE task = ? AND status IN ('scheduled', 'claimed', 'started') LIMIT 1`),
    deleteLogs: p('DELETE FROM run_logs WHERE run IN (SELECT id FROM task_runs WHERE task = ?)'),
    deleteRuns: p('DELETE FROM task_runs WHERE task = ?'),
    deleteTask: p('DELETE FROM tasks WHERE id = ?'),
  };
}
