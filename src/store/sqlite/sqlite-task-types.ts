import type Database from 'better-sqlite3';
import type { TaskType } from '../../core/model.js';
import { typeParams } from './sqlite-queries.js';
import { hasOrigins, hasTasks, unknownType } from '../task-types.js';

/**
 * Runtime changes of task types (docs/operations.md#pause-edit-and-delete-task-types): an edit or a
 * pause rewrites every column but the name and the backend name; a delete needs a type without tasks.
 */
export class SqliteTaskTypes {
  private readonly update: Database.Statement;
  private readonly counts: Database.Statement;
  private readonly origins: Database.Statement;
  private readonly remove: Database.Statement;
  /** The type's rows in the limits' ledgers and state: rate windows, fair-share cursor, adaptive rates. */
  private readonly ledgers: Database.Statement[];

  constructor(db: Database.Database) {
    this.update = db.prepare(`UPDATE task_types SET description = @description, default_interval_ms = @default_interval_ms,
      min_interval_ms = @min_interval_ms, max_interval_ms = @max_interval_ms, backoff_factor = @backoff_factor,
      max_queue_length = @max_queue_length, num_retries = @num_retries, retry_delay_ms = @retry_delay_ms, timeout_ms = @timeout_ms,
      lease_ms = @lease_ms, max_abandons = @max_abandons, max_running = @max_running, max_running_per_key = @max_running_per_key,
      rate_limit_count = @rate_limit_count, rate_limit_per_ms = @rate_limit_per_ms,
      rate_limit_per_key_count = @rate_limit_per_key_count, rate_limit_per_key_per_ms = @rate_limit_per_key_per_ms,
      fair_share = @fair_share, fifo_per_key = @fifo_per_key,
      paused_at = @paused_at, paused_reason = @paused_reason, updated = @updated WHERE name = @name`);
    this.counts = db.prepare(`SELECT count(*) AS n, count(*) FILTER (WHERE status IN ('next_run_not_scheduled', 'next_run_scheduled')) AS active
      FROM tasks INDEXED BY tasks_type_status WHERE type = ?`);
    this.origins = db.prepare('SELECT 1 FROM listed_origins WHERE visit_type = ? LIMIT 1');
    this.remove = db.prepare('DELETE FROM task_types WHERE name = ?');
    this.ledgers = ['rate_limit_starts', 'rate_limit_key_starts', 'fair_share_cursors', 'adaptive_rates'].map((t) => db.prepare(`DELETE FROM ${t} WHERE type = ?`));
  }

  /** Must run inside a write transaction. */
  updateInTx(type: TaskType, at: Date): void {
    const n = this.update.run({
      ...typeParams(type),
      paused_at: type.paused ? type.paused.at.getTime() : null,
      paused_reason: type.paused ? type.paused.reason : null,
      updated: at.getTime(),
    }).changes;
    if (n === 0) throw unknownType(type.name);
  }

  /** Must run inside a write transaction. */
  deleteInTx(name: string): void {
    const { n, active } = this.counts.get(name) as { n: number; active: number };
    if (n > 0) throw hasTasks(name, n, active);
    if (this.origins.get(name) !== undefined) throw hasOrigins(name);
    for (const l of this.ledgers) l.run(name);
    if (this.remove.run(name).changes === 0) throw unknownType(name);
  }
}
