import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { TaskType } from '../../core/model.js';
import { storedAlertOf, type TaskAlert } from '../../core/task-alert.js';
import type { AlertSettlement, AlertStore, TakenTaskAlerts, WaitingTaskAlerts } from '../alert-store.js';
import { alertsInEndOrder, type Row } from '../rows.js';
import type { EndRunResult } from '../store.js';

/** The task alerts' outbox on SQLite (AlertStore); instants as epoch milliseconds. */
export class SqliteAlerts implements AlertStore {
  private readonly s: ReturnType<typeof prepareAlerts>;

  constructor(
    db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
    private readonly typeOf: (name: string) => TaskType,
  ) {
    this.s = prepareAlerts(db);
  }

  /** Stores the alert `r` calls for (none for most ends), inside the write transaction that records the end. */
  recordInTx(r: EndRunResult): void {
    const a = storedAlertOf(r.run, r.task, r.taskUpdated, this.typeOf);
    if (a) this.s.insert.run(...alertValues(a));
  }

  async takeTaskAlerts(req: { at: Date; limit: number; leaseMs: number }): Promise<TakenTaskAlerts> {
    const token = randomUUID();
    const at = req.at.getTime();
    const rows = await this.write(() => this.s.take.all({ at, until: at + req.leaseMs, limit: req.limit, token }) as Row[]);
    return { token, alerts: alertsInEndOrder(rows) };
  }

  async settleTaskAlerts(s: AlertSettlement): Promise<number> {
    if (s.done.length === 0 && s.retry.length === 0) return 0;
    return this.write(() => {
      let n = 0;
      for (const id of s.done) n += this.s.remove.run(id, s.token).changes;
      for (const r of s.retry) n += this.s.retry.run(r.retryAt.getTime(), r.error, r.id, s.token).changes;
      return n;
    });
  }

  async nextTaskAlertAt(): Promise<Date | null> {
    const row = this.s.next.get() as Row | undefined;
    return row ? new Date(Number(row.next_try)) : null;
  }

  async waitingTaskAlerts(): Promise<WaitingTaskAlerts> {
    const row = this.s.waiting.get() as Row;
    return { waiting: Number(row.count), oldestEnded: row.oldest === null ? null : new Date(Number(row.oldest)), failing: Number(row.failing ?? 0) };
  }

  async deleteTaskAlertsBefore(before: Date): Promise<number> {
    return this.write(() => this.s.deleteBefore.run(before.getTime()).changes);
  }
}

/** An alert's columns in the insert's order (the stores share it). */
export function alertValues(a: TaskAlert): [string, number, string, string, number, string, string | null, string | null, number | null, number, number] {
  const ended = a.ended.getTime();
  return [a.kind, a.taskId, a.type, a.backendId, a.attempt, a.status, a.error, a.disabledReason, a.nextRun ? a.nextRun.getTime() : null, ended, ended];
}

function prepareAlerts(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insert: p(`INSERT INTO task_alerts (kind, task, type, backend_id, attempt, status, error, disabled_reason, next_run, ended, next_try)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    take: p(`UPDATE task_alerts SET tries = tries + 1, first_try = coalesce(first_try, @at), next_try = @until, taken_by = @token
      WHERE id IN (SELECT id FROM task_alerts WHERE next_try <= @at ORDER BY next_try, id LIMIT @limit) RETURNING *`),
    remove: p('DELETE FROM task_alerts WHERE id = ? AND taken_by = ?'),
    retry: p('UPDATE task_alerts SET next_try = ?, last_error = ?, taken_by = NULL WHERE id = ? AND taken_by = ?'),
    next: p('SELECT next_try FROM task_alerts ORDER BY next_try, id LIMIT 1'),
    waiting: p('SELECT count(*) AS count, min(ended) AS oldest, sum(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END) AS failing FROM task_alerts'),
    deleteBefore: p('DELETE FROM task_alerts WHERE ended < ?'),
  };
}
