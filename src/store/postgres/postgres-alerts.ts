import { later } from '../../core/instants.js';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { OrreryError } from '../../core/errors.js';
import type { TaskType } from '../../core/model.js';
import { mayAlert, storedAlertOf } from '../../core/task-alert.js';
import type { AlertSettlement, AlertSource, AlertStore, NewAlert, StoredAlert, TakenAlerts, WaitingAlerts } from '../alert-store.js';
import { alertFromRow, alertPayload, alertsInOrder, type Row } from '../rows.js';
import type { EndRunResult } from '../store.js';

/**
 * Stores the task alerts the ends call for (core storedAlertOf), in the caller's transaction; most
 * batches call for none and send nothing.
 */
export async function recordAlerts(c: pg.PoolClient, results: ReadonlyArray<EndRunResult | OrreryError>, typeOf: (name: string) => Promise<TaskType>): Promise<void> {
  const ended = results.filter((r): r is EndRunResult => !(r instanceof OrreryError) && mayAlert(r.run.status));
  if (ended.length === 0) return;
  // The rule's type lookups are synchronous: the types of the few ends that may alert are read first.
  const types = new Map<string, TaskType>();
  for (const r of ended) if (!types.has(r.task.type)) types.set(r.task.type, await typeOf(r.task.type));
  const alerts: NewAlert[] = [];
  for (const r of ended) {
    const alert = storedAlertOf(r.run, r.task, r.taskUpdated, (name) => types.get(name)!);
    if (alert) alerts.push({ source: 'task', alert, recorded: alert.ended });
  }
  await insertAlerts(c, alerts);
}

/** Stores alerts in the caller's transaction (a run's end, a DAG step), in one statement. */
export async function insertAlerts(c: pg.PoolClient, alerts: readonly NewAlert[]): Promise<void> {
  if (alerts.length === 0) return;
  await c.query(
    `INSERT INTO alerts (source, kind, payload, recorded, next_try)
     SELECT source, kind, payload, recorded, to_timestamp(0) FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::timestamptz[]) AS x(source, kind, payload, recorded)`,
    [alerts.map((a) => a.source), alerts.map((a) => a.alert.kind), alerts.map(alertPayload), alerts.map((a) => a.recorded)],
  );
}

/** The alerts' outbox on PostgreSQL (AlertStore): senders on many machines take disjoint alerts (SKIP LOCKED). */
export class PostgresAlerts implements AlertStore {
  constructor(private readonly pool: pg.Pool) {}

  async takeAlerts(req: { sources: readonly AlertSource[]; at: Date; limit: number; leaseMs: number }): Promise<TakenAlerts> {
    const token = randomUUID();
    const { rows } = await this.pool.query<Row>(
      `UPDATE alerts a SET tries = a.tries + 1, first_try = coalesce(a.first_try, $1), next_try = $2, taken_by = $3
       WHERE a.id IN (SELECT id FROM alerts WHERE next_try <= $1 AND source = ANY($5::text[]) ORDER BY next_try, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING a.*`,
      [req.at, later(req.at, req.leaseMs), token, req.limit, req.sources],
    );
    return { token, alerts: alertsInOrder(rows) };
  }

  async settleAlerts(s: AlertSettlement): Promise<number> {
    if (s.done.length === 0 && s.retry.length === 0) return 0;
    const { rows } = await this.pool.query<{ n: string }>(
      `WITH d AS (DELETE FROM alerts WHERE id = ANY($1::bigint[]) AND taken_by = $2 RETURNING 1),
            r AS (UPDATE alerts a SET next_try = x.retry_at, last_error = x.error, taken_by = NULL
                  FROM unnest($3::bigint[], $4::timestamptz[], $5::text[]) AS x(id, retry_at, error)
                  WHERE a.id = x.id AND a.taken_by = $2 RETURNING 1)
       SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM r) AS n`,
      [s.done, s.token, s.retry.map((r) => r.id), s.retry.map((r) => r.retryAt), s.retry.map((r) => r.error)],
    );
    return Number(rows[0]!.n);
  }

  async nextAlertAt(sources: readonly AlertSource[]): Promise<Date | null> {
    const { rows } = await this.pool.query<Row>('SELECT next_try FROM alerts WHERE source = ANY($1::text[]) ORDER BY next_try, id LIMIT 1', [sources]);
    return rows[0] ? (rows[0].next_try as Date) : null;
  }

  async waitingAlerts(): Promise<WaitingAlerts> {
    const { rows } = await this.pool.query<Row>('SELECT count(*) AS count, min(recorded) AS oldest, count(last_error) AS failing FROM alerts');
    const r = rows[0]!;
    return { waiting: Number(r.count), failing: Number(r.failing), oldest: (r.oldest as Date | null) ?? null };
  }

  async listAlerts(limit: number): Promise<StoredAlert[]> {
    return (await this.pool.query<Row>('SELECT * FROM alerts ORDER BY next_try, id LIMIT $1', [limit])).rows.map(alertFromRow);
  }

  async deleteAlertsBefore(before: Date): Promise<number> {
    return (await this.pool.query('DELETE FROM alerts WHERE recorded < $1', [before])).rowCount ?? 0;
  }
}
