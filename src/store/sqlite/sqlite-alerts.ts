import { LATEST_INSTANT_MS } from '../../core/instants.js';
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { TaskType } from '../../core/model.js';
import { storedAlertOf } from '../../core/task-alert.js';
import type { AlertSettlement, AlertSource, AlertStore, NewAlert, StoredAlert, TakenAlerts, WaitingAlerts } from '../alert-store.js';
import { alertFromRow, alertPayload, alertsInOrder, type Row } from '../rows.js';
import type { EndRunResult } from '../store.js';

/** The alerts' outbox on SQLite (AlertStore); instants as epoch milliseconds. */
export class SqliteAlerts implements AlertStore {
  private readonly s: ReturnType<typeof prepareAlerts>;

  constructor(
    db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
    private readonly typeOf: (name: string) => TaskType,
  ) {
    this.s = prepareAlerts(db);
  }

  /** Stores the task alert `r` calls for (none for most ends), inside the write transaction that records the end. */
  recordInTx(r: EndRunResult): void {
    const alert = storedAlertOf(r.run, r.task, r.taskUpdated, this.typeOf);
    if (alert) this.insertInTx({ source: 'task', alert, recorded: alert.ended });
  }

  /** Stores an alert inside the caller's write transaction (a run's end, a DAG step). */
  insertInTx(a: NewAlert): void {
    // Due at once (next_try 0, on PostgreSQL the epoch), whatever instant it reports: a run ended with a future `at` alerts now.
    this.s.insert.run(a.source, a.alert.kind, alertPayload(a), a.recorded.getTime(), 0);
  }

  async takeAlerts(req: { sources: readonly AlertSource[]; at: Date; limit: number; leaseMs: number }): Promise<TakenAlerts> {
    const token = randomUUID();
    const at = req.at.getTime();
    const rows = await this.write(() => this.s.take.all({ at, until: Math.min(at + req.leaseMs, LATEST_INSTANT_MS), limit: req.limit, token, sources: JSON.stringify(req.sources) }) as Row[]);
    return { token, alerts: alertsInOrder(rows) };
  }

  async settleAlerts(s: AlertSettlement): Promise<number> {
    if (s.done.length === 0 && s.retry.length === 0) return 0;
    return this.write(() => {
      let n = 0;
      for (const id of s.done) n += this.s.remove.run(id, s.token).changes;
      for (const r of s.retry) n += this.s.retry.run(r.retryAt.getTime(), r.error, r.id, s.token).changes;
      return n;
    });
  }

  async nextAlertAt(sources: readonly AlertSource[]): Promise<Date | null> {
    const row = this.s.next.get(JSON.stringify(sources)) as Row | undefined;
    return row ? new Date(Number(row.next_try)) : null;
  }

  async waitingAlerts(): Promise<WaitingAlerts> {
    const row = this.s.waiting.get() as Row;
    return { waiting: Number(row.count), failing: Number(row.failing ?? 0), oldest: row.oldest === null ? null : new Date(Number(row.oldest)) };
  }

  async listAlerts(limit: number): Promise<StoredAlert[]> {
    return (this.s.list.all(limit) as Row[]).map(alertFromRow);
  }

  async deleteAlertsBefore(before: Date): Promise<number> {
    return this.write(() => this.s.deleteBefore.run(before.getTime()).changes);
  }
}

function prepareAlerts(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insert: p('INSERT INTO alerts (source, kind, payload, recorded, next_try) VALUES (?, ?, ?, ?, ?)'),
    take: p(`UPDATE alerts SET tries = tries + 1, first_try = coalesce(first_try, @at), next_try = @until, taken_by = @token
      WHERE id IN (SELECT id FROM alerts WHERE next_try <= @at AND source IN (SELECT value FROM json_each(@sources)) ORDER BY next_try, id LIMIT @limit) RETURNING *`),
    remove: p('DELETE FROM alerts WHERE id = ? AND taken_by = ?'),
    retry: p('UPDATE alerts SET next_try = ?, last_error = ?, taken_by = NULL WHERE id = ? AND taken_by = ?'),
    next: p('SELECT next_try FROM alerts WHERE source IN (SELECT value FROM json_each(?)) ORDER BY next_try, id LIMIT 1'),
    waiting: p('SELECT count(*) AS count, min(recorded) AS oldest, sum(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END) AS failing FROM alerts'),
    deleteBefore: p('DELETE FROM alerts WHERE recorded < ?'),
    list: p('SELECT * FROM alerts ORDER BY next_try, id LIMIT ?'),
  };
}
