import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { OrreryError } from '../../core/errors.js';
import type { TaskType } from '../../core/model.js';
import { storedAlertOf, type TaskAlert } from '../../core/task-alert.js';
import type { AlertSettlement, AlertStore, TakenTaskAlerts, WaitingTaskAlerts } from '../alert-store.js';
import { alertsInEndOrder, type Row } from '../rows.js';
import type { EndRunResult } from '../store.js';

/**
 * Stores the alerts the ends call for (core storedAlertOf), in the caller's transaction, in one
 * statement; most batches call for none and send nothing.
 */
export async function recordAlerts(c: pg.PoolClient, results: ReadonlyArray<EndRunResult | OrreryError>, typeOf: (name: string) => Promise<TaskType>): Promise<void> {
  const types = new Map<string, TaskType>();
  const alerts: TaskAlert[] = [];
  for (const r of results) {
    if (r instanceof OrreryError) continue;
    // The rule reads the type only for an end that calls for an alert: it is awaited for those alone.
    const a = storedAlertOf(r.run, r.task, r.taskUpdated, () => ({ backendName: '' }));
    if (!a) continue;
    if (!types.has(a.type)) types.set(a.type, await typeOf(a.type));
    if (storedAlertOf(r.run, r.task, r.taskUpdated, (name) => types.get(name)!)) alerts.push(a);
  }
  if (alerts.length === 0) return;
  await c.query(
    `INSERT INTO task_alerts (kind, task, type, backend_id, attempt, status, error, disabled_reason, next_run, ended, next_try)
     SELECT kind, task, type, backend_id, attempt, status, error, reason, next_run, ended, ended
     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
       AS x(kind, task, type, backend_id, attempt, status, error, reason, next_run, ended)`,
    [
      alerts.map((a) => a.kind),
      alerts.map((a) => a.taskId),
      alerts.map((a) => a.type),
      alerts.map((a) => a.backendId),
      alerts.map((a) => a.attempt),
      alerts.map((a) => a.status),
      alerts.map((a) => a.error),
      alerts.map((a) => a.disabledReason),
      alerts.map((a) => a.nextRun),
      alerts.map((a) => a.ended),
    ],
  );
}

/** The task alerts' outbox on PostgreSQL (AlertStore): senders on many machines take disjoint alerts (SKIP LOCKED). */
export class PostgresAlerts implements AlertStore {
  constructor(private readonly pool: pg.Pool) {}

  async takeTaskAlerts(req: { at: Date; limit: number; leaseMs: number }): Promise<TakenTaskAlerts> {
    const token = randomUUID();
    const { rows } = await this.pool.query<Row>(
      `UPDATE task_alerts a SET tries = a.tries + 1, first_try = coalesce(a.first_try, $1), next_try = $2, taken_by = $3
       WHERE a.id IN (SELECT id FROM task_alerts WHERE next_try <= $1 ORDER BY next_try, id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING a.*`,
      [req.at, new Date(req.at.getTime() + req.leaseMs), token, req.limit],
    );
    return { token, alerts: alertsInEndOrder(rows) };
  }

  async settleTaskAlerts(s: AlertSettlement): Promise<number> {
    if (s.done.length === 0 && s.retry.length === 0) return 0;
    const { rows } = await this.pool.query<{ n: string }>(
      `WITH d AS (DELETE FROM task_alerts WHERE id = ANY($1::bigint[]) AND taken_by = $2 RETURNING 1),
            r AS (UPDATE task_alerts a SET next_try = x.retry_at, last_error = x.error, taken_by = NULL
                  FROM unnest($3::bigint[], $4::timestamptz[], $5::text[]) AS x(id, retry_at, error)
                  WHERE a.id = x.id AND a.taken_by = $2 RETURNING 1)
       SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM r) AS n`,
      [s.done, s.token, s.retry.map((r) => r.id), s.retry.map((r) => r.retryAt), s.retry.map((r) => r.error)],
    );
    return Number(rows[0]!.n);
  }

  async nextTaskAlertAt(): Promise<Date | null> {
    const { rows } = await this.pool.query<Row>('SELECT next_try FROM task_alerts ORDER BY next_try, id LIMIT 1');
    return rows[0] ? (rows[0].next_try as Date) : null;
  }

  async waitingTaskAlerts(): Promise<WaitingTaskAlerts> {
    const { rows } = await this.pool.query<Row>('SELECT count(*) AS count, min(ended) AS oldest, count(last_error) AS failing FROM task_alerts');
    const r = rows[0]!;
    return { waiting: Number(r.count), oldestEnded: (r.oldest as Date | null) ?? null, failing: Number(r.failing) };
  }

  async deleteTaskAlertsBefore(before: Date): Promise<number> {
    return (await this.pool.query('DELETE FROM task_alerts WHERE ended < $1', [before])).rowCount ?? 0;
  }
}
