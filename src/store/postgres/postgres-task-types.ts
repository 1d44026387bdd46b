import type pg from 'pg';
import type { TaskType } from '../../core/model.js';
import { hasOrigins, hasTasks, unknownType } from '../task-types.js';

/**
 * Runtime changes of task types (docs/operations.md#pause-edit-and-delete-task-types): an edit or a
 * pause rewrites every column but the name and the backend name; a delete needs a type without tasks.
 */
export async function updateTaskTypeRow(c: pg.Pool | pg.PoolClient, type: TaskType, at: Date): Promise<void> {
  const r = await c.query(
    `UPDATE task_types SET description = $2, default_interval_ms = $3, min_interval_ms = $4, max_interval_ms = $5, backoff_factor = $6,
       max_queue_length = $7, num_retries = $8, retry_delay_ms = $9, timeout_ms = $10, lease_ms = $11, max_abandons = $12,
       max_running = $13, max_running_per_key = $14, rate_limit_count = $15, rate_limit_per_ms = $16,
       paused_at = $17, paused_reason = $18, updated = $19,
       rate_limit_per_key_count = $20, rate_limit_per_key_per_ms = $21, fair_share = $22::jsonb, fifo_per_key = $23 WHERE name = $1`,
    [
      type.name, type.description, type.defaultIntervalMs, type.minIntervalMs, type.maxIntervalMs, type.backoffFactor,
      type.maxQueueLength, type.numRetries, type.retryDelayMs, type.timeoutMs, type.leaseMs, type.maxAbandons,
      type.maxRunning, type.maxRunningPerKey, type.rateLimit?.count ?? null, type.rateLimit?.perMs ?? null,
      type.paused?.at ?? null, type.paused?.reason ?? null, at,
      type.rateLimitPerKey?.count ?? null, type.rateLimitPerKey?.perMs ?? null, type.fairShare === null ? null : JSON.stringify(type.fairShare), type.fifoPerKey,
    ],
  );
  if (r.rowCount === 0) throw unknownType(type.name);
}

/** In the caller's transaction: the type row is locked first, so no task of it can be inserted meanwhile. */
export async function deleteTaskTypeRow(c: pg.PoolClient, name: string): Promise<void> {
  const lock = await c.query('SELECT 1 FROM task_types WHERE name = $1 FOR UPDATE', [name]);
  if (lock.rowCount === 0) throw unknownType(name);
  const { rows } = await c.query<{ n: number; active: number }>(
    `SELECT count(*)::int AS n, (count(*) FILTER (WHERE status IN ('next_run_not_scheduled', 'next_run_scheduled')))::int AS active
     FROM tasks WHERE type = $1`,
    [name],
  );
  if (rows[0]!.n > 0) throw hasTasks(name, rows[0]!.n, rows[0]!.active);
  if ((await c.query('SELECT 1 FROM listed_origins WHERE visit_type = $1 LIMIT 1', [name])).rowCount! > 0) throw hasOrigins(name);
  for (const table of ['rate_limit_starts', 'rate_limit_key_starts', 'fair_share_cursors', 'adaptive_rates']) await c.query(`DELETE FROM ${table} WHERE type = $1`, [name]);
  await c.query('DELETE FROM task_types WHERE name = $1', [name]);
}
