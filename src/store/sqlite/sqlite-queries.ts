import { DAG_BACKEND } from '../../core/dag.js';
import type Database from 'better-sqlite3';
import type { TaskType } from '../../core/model.js';
import { RENEWED_LEASE, TASK_SET } from './sqlite-held-ends.js';
import type { Row } from '../rows.js';
import { idAfterFloor } from './sqlite-id-floor.js';
import { QUEUED_OF_TYPE_SQLITE, UNFINISHED_RUN_STATUSES_SQL, heldLeaseSqlite } from '../sql-lists.js';

/** A prepared statement (named here so the declarations of `prepare` can refer to it). */
export type Stmt = Database.Statement;

/**
 * Per type: waiting runs through task_runs_claimable, held runs through task_runs_leases (both partial
 * indexes, pinned like nextDue), dead letters through each type's disabled tasks (tasks_type_status);
 * DAG attempts are not dead letters (their DAG run's state machine owns them): 0 for DAG types.
 * Finished runs and idle tasks are never read. Exported so a test can EXPLAIN it.
 */
export const QUEUE_STATS_SQL = `
  WITH queued AS (SELECT type, count(*) AS n, min(scheduled) AS oldest FROM task_runs INDEXED BY task_runs_claimable
                  WHERE status = 'scheduled' GROUP BY type),
       leased AS (SELECT type, sum(status = 'started') AS n, sum(status = 'claimed') AS c FROM task_runs INDEXED BY task_runs_leases
                  WHERE status IN ('claimed', 'started') GROUP BY type)
  SELECT y.name AS type, coalesce(q.n, 0) AS scheduled, q.oldest AS oldest, coalesce(l.n, 0) AS running, coalesce(l.c, 0) AS claimed,
         CASE WHEN y.backend_name = '${DAG_BACKEND}' THEN 0 ELSE (SELECT count(*) FROM tasks INDEXED BY tasks_type_status
          WHERE type = y.name AND status = 'disabled' AND disabled_reason = 'dead_letter') END AS dead,
         (SELECT count(*) FROM tasks INDEXED BY tasks_paused WHERE type = y.name AND paused_at IS NOT NULL) AS paused
  FROM task_types y LEFT JOIN queued q ON q.type = y.name LEFT JOIN leased l ON l.type = y.name
  ORDER BY y.name`;

/** A task type as the named parameters of `insertType`. */
export function typeParams(t: TaskType) {
  return {
    name: t.name,
    description: t.description,
    backend_name: t.backendName,
    default_interval_ms: t.defaultIntervalMs,
    min_interval_ms: t.minIntervalMs,
    max_interval_ms: t.maxIntervalMs,
    backoff_factor: t.backoffFactor,
    max_queue_length: t.maxQueueLength,
    num_retries: t.numRetries,
    retry_delay_ms: t.retryDelayMs,
    timeout_ms: t.timeoutMs,
    lease_ms: t.leaseMs,
    max_abandons: t.maxAbandons,
    max_running: t.maxRunning,
    max_running_per_key: t.maxRunningPerKey,
    rate_limit_count: t.rateLimit?.count ?? null,
    rate_limit_per_ms: t.rateLimit?.perMs ?? null,
    rate_limit_per_key_count: t.rateLimitPerKey?.count ?? null,
    rate_limit_per_key_per_ms: t.rateLimitPerKey?.perMs ?? null,
    fair_share: t.fairShare === null ? null : JSON.stringify(t.fairShare),
    fifo_per_key: t.fifoPerKey ? 1 : 0,
  };
}

/** Names of the SqliteStore's prepared statements (spelled out so the declarations can name them). */
export type StatementName =
  | 'insertType' | 'allTypes' | 'typesByName' | 'taskById' | 'identityOf'
  | 'dueOfType' | 'anyDue' | 'typesDue' | 'nextDue' | 'disableTask' | 'respawnTask' | 'endBackfillsOfTask' | 'scheduledRunsOfTask' | 'heldRunOfTask' | 'keepLease'
  | 'cancelRun' | 'queuedOfType' | 'insertRun' | 'markScheduled' | 'startRun' | 'heartbeat'
  | 'requestCancel' | 'endRun' | 'updateTaskAfterRun' | 'expired' | 'nextLease' | 'queueStats'
  | 'runByBackendId' | 'heldBy' | 'runsOfTask' | 'lastRunsOfTask' | 'insertLog' | 'logsOfRun' | 'directClaimOf';

/**
 * The SqliteStore's prepared statements (claims: sqlite-claims.ts; task inserts: sqlite-tasks.ts).
 * Hot statements write their bound limit `LIMIT +?`: SQLite (3.53, STAT4) re-plans a statement whose
 * plain `LIMIT ?` parameter is bound again, 5 to 20 µs per execution even when it finds no row; an
 * expression as limit is not looked at by the planner (the plans here are fixed by their indexes).
 */

/**
 * Due tasks of a type in runner order, the four priority ranks in one statement: SQLite walks
 * tasks_due rank by rank in index order (no sort) and stops at the limit. It reads the columns a task
 * is built from (rows.ts taskFromRow) and those a claim or the runner needs beside (priority_rank,
 * trace_context); not the identity and dedupe keys, which every claimed task would otherwise carry as
 * two long strings. It is prepared in raw mode (rows as arrays) and each row becomes an object literal
 * in dueRow: better-sqlite3 builds a row object property by property through V8's API, which cost
 * about 2.5 µs of a claim's 5 per task with these 21 columns, and gives objects slower to read.
 */
/** The types with a due task (the runner pass's filter): one probe of tasks_due per type, inside one statement. */
export const TYPES_DUE_SQL = `SELECT y.name FROM task_types y WHERE y.paused_at IS NULL AND EXISTS (SELECT 1 FROM tasks INDEXED BY tasks_due
  WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank IN (0, 1, 2, 3) AND next_run <= ?) ORDER BY y.name`;

/**
 * A worker's held runs (claim recovery): from the partial index of leased runs, which holds the held
 * runs alone. Without ANALYZE the planner walked all of task_runs in id order for the ORDER BY, a
 * cost that grew with the finished runs (25-65 ms at 210,000).
 */
export const HELD_BY_SQL = `SELECT r.*, t.arguments AS t_arguments, t.trace_context AS t_trace_context, t.policy AS t_trace_policy, y.backend_name AS y_backend_name, y.lease_ms AS y_lease_ms, y.timeout_ms AS y_timeout_ms
  FROM task_runs r INDEXED BY task_runs_leases JOIN tasks t ON t.id = r.task JOIN task_types y ON y.name = r.type
  WHERE r.status IN ('claimed', 'started') AND r.worker = ? ORDER BY r.id`;

export const DUE_OF_TYPE_SQL = `SELECT id, type, arguments, policy, schedule, next_run, scheduled_for, current_interval_ms, status, disabled_reason,
  retries_left, consecutive_abandons, priority, priority_rank, next_attempt, task_key, concurrency_key, created, paused_at, paused_reason, trace_context
  FROM tasks WHERE type = ? AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank IN (0, 1, 2, 3)
  AND next_run <= ? ORDER BY priority_rank, next_run, id LIMIT +?`;

/** One raw row of DUE_OF_TYPE_SQL as the row object its column names give (checked against the statement in a test). */
export function dueRow(v: unknown[]): Row {
  return {
    id: v[0], type: v[1], arguments: v[2], policy: v[3], schedule: v[4], next_run: v[5], scheduled_for: v[6], current_interval_ms: v[7],
    status: v[8], disabled_reason: v[9], retries_left: v[10], consecutive_abandons: v[11], priority: v[12], priority_rank: v[13],
    next_attempt: v[14], task_key: v[15], concurrency_key: v[16], created: v[17], paused_at: v[18], paused_reason: v[19], trace_context: v[20],
  };
}

export function prepare(db: Database.Database): Record<StatementName, Stmt> {
  const p = (sql: string): Stmt => db.prepare(sql);
  return {
    insertType: p(`INSERT INTO task_types (name, description, backend_name, default_interval_ms, min_interval_ms, max_interval_ms,
      backoff_factor, max_queue_length, num_retries, retry_delay_ms, timeout_ms, lease_ms, max_abandons,
      max_running, max_running_per_key, rate_limit_count, rate_limit_per_ms, rate_limit_per_key_count, rate_limit_per_key_per_ms,
      fair_share, fifo_per_key, created)
      VALUES (@name, @description, @backend_name, @default_interval_ms, @min_interval_ms, @max_interval_ms, @backoff_factor,
      @max_queue_length, @num_retries, @retry_delay_ms, @timeout_ms, @lease_ms, @max_abandons,
      @max_running, @max_running_per_key, @rate_limit_count, @rate_limit_per_ms, @rate_limit_per_key_count, @rate_limit_per_key_per_ms,
      @fair_share, @fifo_per_key, @created)`),
    allTypes: p('SELECT * FROM task_types ORDER BY name'),
    typesByName: p('SELECT * FROM task_types WHERE name IN (SELECT value FROM json_each(?)) ORDER BY name'),
    taskById: p('SELECT * FROM tasks WHERE id = ?'),
    identityOf: p('SELECT identity_key AS k FROM tasks WHERE id = ?'),
    dueOfType: p(DUE_OF_TYPE_SQL).raw(true),
    anyDue: p(`SELECT 1 FROM tasks WHERE type = ? AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank IN (0, 1, 2, 3) AND next_run <= ? LIMIT 1`),
    // The earliest next run of the waiting tasks of types that are not paused (the runner's sleep): the
    // first entry of one tasks_due range per type and rank (a paused type's tasks may be due by the
    // million). Pinned: without ANALYZE the planner may prefer tasks_status and read every waiting task.
    // The types with a due task: one probe of tasks_due per type (and rank), inside one statement.
    typesDue: p(TYPES_DUE_SQL),
    nextDue: p(`SELECT min((SELECT next_run FROM tasks INDEXED BY tasks_due WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL
          AND priority_rank = rk.rank ORDER BY next_run, id LIMIT 1)) AS t
        FROM task_types y, (SELECT 0 AS rank UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) rk WHERE y.paused_at IS NULL`),
    disableTask: p(`UPDATE tasks SET status = 'disabled', disabled_reason = 'manual', dedupe_key = NULL WHERE id = ? RETURNING *`),
    respawnTask: p(`UPDATE tasks SET status = 'next_run_not_scheduled', disabled_reason = NULL, next_run = @next_run, scheduled_for = NULL,
      retries_left = @retries, consecutive_abandons = 0, next_attempt = 1, dedupe_key = @key WHERE id = @id RETURNING *`),
    // A respawn ends the backfills the task's disable or completion ended (the runner would have, at its next pass).
    endBackfillsOfTask: p(`UPDATE task_backfills SET status = 'cancelled', updated = ? WHERE task = ? AND status = 'running'`),
    scheduledRunsOfTask: p(`SELECT id, worker, scheduled, started FROM task_runs WHERE task = ? AND status IN ('scheduled', 'claimed')`),
    // Held: claimed or started, or ended while a worker held it (withdrawn from its buffer, or ended by someone else) and that
    // worker may still be beginning or running it: its lease is kept until it lets go (core holderEffect).
    heldRunOfTask: p(`SELECT id FROM task_runs WHERE task = @task AND (status IN ('claimed', 'started') OR lease_expires_at > @at) LIMIT 1`),
    cancelRun: p(`UPDATE task_runs SET status = 'lost', ended = @ended, error = @error,
      lease_expires_at = CASE WHEN status = 'claimed' THEN lease_expires_at END WHERE id = @id RETURNING *`),
    keepLease: p(`UPDATE task_runs SET lease_expires_at = @lease WHERE id = @id AND status NOT IN (${UNFINISHED_RUN_STATUSES_SQL})`),
    queuedOfType: p(QUEUED_OF_TYPE_SQLITE),
    insertRun: p(`INSERT INTO task_runs (id, task, type, backend_id, status, priority_rank, scheduled, attempt, concurrency_key, scheduled_for)
      VALUES (${idAfterFloor('task_runs')}, @task, @type, @backend_id, 'scheduled', @rank, @scheduled, @attempt, @ckey, @scheduled_for) RETURNING *`),
    markScheduled: p(`UPDATE tasks SET status = 'next_run_scheduled', current_run = ? WHERE id = ?`),
    startRun: p(`UPDATE task_runs SET status = 'started', worker = @worker, started = @at, metadata = @metadata,
      lease_expires_at = ${heldLeaseSqlite('@at + (SELECT lease_ms FROM task_types WHERE name = task_runs.type)')}
      WHERE backend_id = @backend_id RETURNING *`),
    heartbeat: p(`UPDATE task_runs SET ${RENEWED_LEASE}
      WHERE backend_id = @backend_id AND status IN ('claimed', 'started') AND worker = @worker RETURNING lease_expires_at, cancel_requested`),
    requestCancel: p(`UPDATE task_runs SET cancel_requested = 1 WHERE id = ? RETURNING *`),
    endRun: p(`UPDATE task_runs SET status = @status, ended = @ended, metadata = @metadata, result = @result, error = @error,
      started = min(coalesce(started, @started), coalesce(@started, started)), lease_expires_at = NULL WHERE id = @id RETURNING *`),
    updateTaskAfterRun: p(`UPDATE tasks SET ${TASK_SET} WHERE id = @id RETURNING *`),
    expired: p(`SELECT * FROM task_runs INDEXED BY task_runs_leases WHERE status IN ('claimed', 'started') AND status = 'started'
      AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT +?`),
    nextLease: p(`SELECT min(lease_expires_at) AS t FROM task_runs INDEXED BY task_runs_leases WHERE status IN ('claimed', 'started')`),
    queueStats: p(QUEUE_STATS_SQL),
    runByBackendId: p('SELECT * FROM task_runs WHERE backend_id = ?'),
    heldBy: p(HELD_BY_SQL),
    runsOfTask: p('SELECT * FROM task_runs WHERE task = ? ORDER BY id'),
    // The newest runs, from the end of task_runs_task (task, id), put back in id order.
    lastRunsOfTask: p('SELECT * FROM (SELECT * FROM task_runs WHERE task = ? ORDER BY id DESC LIMIT ?) ORDER BY id'),
    insertLog: p(`INSERT INTO run_logs (id, run, at, level, message, attributes) VALUES (${idAfterFloor('run_logs')}, ?, ?, ?, ?, ?)`),
    logsOfRun: p('SELECT * FROM run_logs WHERE run = ? AND id > ? ORDER BY id LIMIT ?'),
    directClaimOf: p('SELECT last_direct_claim AS t FROM task_types WHERE name = ?'),
  };
}
