import type Database from 'better-sqlite3';
import { OrreryError } from '../../core/errors.js';
import type { Task, TaskType } from '../../core/model.js';
import { planRunEnd } from '../../core/run-end.js';
import type { TaskUpdate } from '../../core/end-of-run.js';
import { heartbeatAnswer } from '../heartbeat-answer.js';
import { scheduledForColumn, taskFromRow, type Row } from '../rows.js';
import type { EndRunItem, EndRunResult, HeartbeatItem, HeartbeatRunsAnswer } from '../store.js';
import { GIVEN_BACK_RETURNING } from './sqlite-give-back.js';
import { UNFINISHED_RUN_STATUSES_SQL, heldLeaseSqlite } from '../sql-lists.js';

/**
 * Runs held by workers on SQLite: the worker-wide heartbeat, giving claimed runs back, and the end of
 * a held run planned from what its claim returned. Every method runs inside the store's write
 * transaction; a guard that refuses changes nothing, so no savepoint is needed.
 */
export class SqliteHeldRuns {
  private readonly s: ReturnType<typeof prepareHeld>;

  constructor(
    db: Database.Database,
    private readonly typeOf: (name: string) => TaskType,
  ) {
    this.s = prepareHeld(db);
  }

  /** `startedAt` arrives capped at the heartbeat's instant; the statement floors it at the run's scheduled instant (core reportedStart). */
  heartbeatInTx(worker: string, items: readonly HeartbeatItem[], at: Date): HeartbeatRunsAnswer {
    const rows: Row[] = [];
    const renew: string[] = [];
    for (const i of items) {
      if (!i.startedAt) renew.push(i.backendId);
      else {
        const row = this.s.beat.get({ bid: i.backendId, worker, at: at.getTime(), started: i.startedAt.getTime() }) as Row | undefined;
        if (row) rows.push(row);
      }
    }
    // Plain renewals in one statement; each writes the lease only (one index to maintain instead of every index on status).
    if (renew.length === 1) {
      const row = this.s.renew.get({ bid: renew[0], worker, at: at.getTime() }) as Row | undefined;
      if (row) rows.push(row);
    } else if (renew.length > 1) rows.push(...(this.s.renewMany.all({ bids: JSON.stringify(renew), worker, at: at.getTime() }) as Row[]));
    return heartbeatAnswer(items, rows);
  }

  /** The runs given back, as GIVEN_BACK_RETURNING returns them (for settleGivenBack). */
  releaseInTx(worker: string, backendIds: readonly string[], withdrawnOnly = false): Row[] {
    const back: Row[] = [];
    for (const bid of backendIds) {
      const row = withdrawnOnly ? undefined : (this.s.release.get(bid, worker) as Row | undefined);
      if (row) back.push(row);
      this.s.letGo.run(bid, worker);
    }
    return back;
  }

  /** The claimed runs whose lease expired before `at`, given back, as GIVEN_BACK_RETURNING returns them. */
  releaseExpiredInTx(at: Date, limit: number): Row[] {
    return this.s.releaseExpired.all(at.getTime(), limit) as Row[];
  }

  /**
   * Ends one held run from its claim's snapshot: the run must still be held by the worker with no
   * cancellation asked, the task must still have it current with the formula's inputs unchanged.
   * Null when the run's guard refused (the caller takes the careful path for the exact verdict).
   */
  endInTx(item: EndRunItem): EndRunResult | null {
    const held = item.held;
    if (!held || held.run.backendId !== item.backendId || item.req.worker == null || item.req.cause !== 'end') return null;
    let plan;
    try {
      plan = planRunEnd(held.run, held.task, this.typeOf(held.task.type), held.run.id, item.req);
    } catch (e) {
      if (e instanceof OrreryError) return null;
      throw e;
    }
    if (plan.task === null) return null;
    const r = plan.run;
    // Positional parameters on the hot path, in the statement's order (binding by name cost about 0.1 us per parameter).
    const result = r.result === null || r.result === undefined ? null : JSON.stringify(r.result);
    const started = r.started ? r.started.getTime() : null;
    const ran = this.s.endRun.run(r.status, started, started, r.ended!.getTime(), JSON.stringify(r.metadata), result, r.error, held.run.id, item.req.worker);
    if (ran.changes === 0) return null;
    const run = { ...held.run, ...r, leaseExpiresAt: null };
    const t = held.task;
    const u = plan.task;
    // SET: the formula's output; WHERE: the task, its run still current, the formula's inputs as the claim
    // read them, and not paused (as the claim found it). A task paused while its run was held takes the
    // read below, which answers its pause as stored; so the common end needs no RETURNING (about 2 µs).
    // TASK_SET's order: status, reason, next run, interval, retries, abandons, attempt, scheduled for.
    const ended = this.s.endTask.run(
      u.status, u.disabledReason, u.nextRun.getTime(), u.currentIntervalMs, u.retriesLeft, u.consecutiveAbandons, u.nextAttempt, scheduledForColumn(u),
      t.id, held.run.id, t.nextRun.getTime(), t.retriesLeft, t.consecutiveAbandons, t.nextAttempt,
    ).changes;
    if (ended === 1) return { run, task: { ...t, ...plan.task, paused: null }, taskUpdated: true };
    // The task changed or was paused since the claim: the formula applies to its current state, or it has moved on.
    const row = this.s.task.get(t.id) as Row;
    const task: Task = taskFromRow(row);
    const again = planRunEnd(held.run, task, this.typeOf(task.type), row.current_run === null ? null : Number(row.current_run), item.req);
    if (again.task === null) return { run, task, taskUpdated: false, ...(again.note ? { note: again.note } : {}) };
    this.s.updateTask.run(taskParams(task.id, again.task));
    return { run, task: { ...task, ...again.task }, taskUpdated: true };
  }
}

/** A planned task update as the named parameters of the SQLite task-update statements. */
export function taskParams(id: number, u: TaskUpdate) {
  return {
    id,
    status: u.status,
    reason: u.disabledReason,
    next_run: u.nextRun.getTime(),
    interval: u.currentIntervalMs,
    retries: u.retriesLeft,
    abandons: u.consecutiveAbandons,
    attempt: u.nextAttempt,
    scheduled_for: scheduledForColumn(u),
  };
}

/**
 * The columns a run's end sets on its task (the formula's output). Not the dedupe key: on SQLite a
 * task that completes or is disabled by its run's end keeps it, and an equal task created later
 * takes it over (`SqliteTaskWrites.activeHolder`). Dropping it here cost a random page of the dedupe
 * index (keyed by a hash) per end, and naming the column in SET at all rewrites its index entry, even
 * to the same value.
 */
export const TASK_SET = `status = @status, disabled_reason = @reason, next_run = @next_run, current_interval_ms = @interval,
  retries_left = @retries, consecutive_abandons = @abandons, next_attempt = @attempt, scheduled_for = @scheduled_for, current_run = NULL`;

/**
 * A renewal's lease: `@at` plus the type's lease, never earlier than the lease it renews (a late or
 * replayed heartbeat keeps the later expiry). Every renewal statement sets it so.
 */
export const RENEWED_LEASE = `lease_expires_at = max(coalesce(lease_expires_at, 0), ${heldLeaseSqlite('@at + (SELECT lease_ms FROM task_types WHERE name = task_runs.type)')})`;

/** Plain renewals of many held runs (backend ids as a JSON array): one unique-index lookup per id. */
export const RENEW_MANY_SQL = `UPDATE task_runs SET ${RENEWED_LEASE}
  WHERE backend_id IN (SELECT value FROM json_each(@bids)) AND status IN ('claimed', 'started') AND worker = @worker RETURNING backend_id, cancel_requested`;

function prepareHeld(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    beat: p(`UPDATE task_runs SET ${RENEWED_LEASE},
      started = CASE WHEN status = 'claimed' AND @started IS NOT NULL THEN max(@started, scheduled) ELSE started END,
      status = CASE WHEN status = 'claimed' AND @started IS NOT NULL THEN 'started' ELSE status END
      WHERE backend_id = @bid AND status IN ('claimed', 'started') AND worker = @worker RETURNING backend_id, cancel_requested`),
    renew: p(`UPDATE task_runs SET ${RENEWED_LEASE}
      WHERE backend_id = @bid AND status IN ('claimed', 'started') AND worker = @worker RETURNING backend_id, cancel_requested`),
    renewMany: p(RENEW_MANY_SQL),
    release: p(`UPDATE task_runs SET status = 'scheduled', worker = NULL, lease_expires_at = NULL, started = NULL
      WHERE backend_id = ? AND status IN ('claimed', 'started') AND worker = ? ${GIVEN_BACK_RETURNING}`),
    // A run withdrawn from this worker's buffer (disabled or cancelled while claimed) keeps its lease
    // until the worker lets go of it: until then its task cannot be respawned (core/bulk.ts respawnRefusal).
    letGo: p(`UPDATE task_runs SET lease_expires_at = NULL WHERE backend_id = ? AND status NOT IN (${UNFINISHED_RUN_STATUSES_SQL}) AND worker = ? AND lease_expires_at IS NOT NULL`),
    releaseExpired: p(`UPDATE task_runs SET status = 'scheduled', worker = NULL, lease_expires_at = NULL,
      metadata = json_set(metadata, '$."orrery.givenBack"', coalesce(json_extract(metadata, '$."orrery.givenBack"'), 0) + 1) WHERE id IN (
      SELECT id FROM task_runs INDEXED BY task_runs_leases WHERE status IN ('claimed', 'started') AND status = 'claimed' AND lease_expires_at < ?
      ORDER BY lease_expires_at LIMIT +?) ${GIVEN_BACK_RETURNING}`),
    // The earlier of the start stored and the one given (the handler's): a run given back and claimed
    // again by its worker was stamped started at that claim, after its handler had begun and ended.
    endRun: p(`UPDATE task_runs SET status = ?, started = min(coalesce(started, ?), coalesce(?, started)), ended = ?, metadata = ?, result = ?, error = ?, lease_expires_at = NULL
      WHERE id = ? AND status IN ('claimed', 'started') AND worker = ? AND cancel_requested = 0`),
    // TASK_SET's columns, bound by position in its order (held ends only).
    endTask: p(`UPDATE tasks SET ${TASK_SET.replace(/@\w+/g, '?')}
      WHERE id = ? AND current_run = ? AND status = 'next_run_scheduled' AND next_run = ? AND retries_left = ?
        AND consecutive_abandons = ? AND next_attempt = ? AND paused_at IS NULL`),
    task: p('SELECT * FROM tasks WHERE id = ?'),
    updateTask: p(`UPDATE tasks SET ${TASK_SET} WHERE id = @id`),
  };
}
