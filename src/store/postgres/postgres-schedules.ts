import { earlier } from '../../core/instants.js';
import type pg from 'pg';
import { LATE_AFTER_MS, planLateTask } from '../../core/catch-up.js';
import { queueSlots } from '../../core/limits.js';
import type { TaskRun } from '../../core/model.js';
import { runFromRow, taskFromRow, type Row } from '../rows.js';
import { backfillFromRow } from '../schedule-rows.js';
import type { BackfillStatus, CaughtUpTask, ScheduleStore, TaskBackfill } from '../schedule-store.js';
import type { StoreChange } from '../store.js';
import { HOT_QUERIES, TIME_ORDERED_UUID } from './postgres-queries.js';

/** What the schedule store needs from the PostgreSQL store it belongs to. */
export interface PostgresScheduleHost {
  pool: pg.Pool;
  tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  wake(change: StoreChange): void;
}

/**
 * Cron and rrule tasks waiting past their due instant (tasks_calendar_due), neither paused nor of a
 * paused type (a paused task waits with its nextRun; its resume catches it up), the most overdue
 * first; with `ofType`, of the type given as $3 only.
 */
const lateSql = (ofType: boolean) => `SELECT * FROM tasks
  WHERE status = 'next_run_not_scheduled' AND schedule <> '{"kind": "adaptive"}'::jsonb AND next_run < $1 AND next_attempt = 1${ofType ? ' AND type = $3' : ''}
    AND paused_at IS NULL AND type NOT IN (SELECT name FROM task_types WHERE paused_at IS NOT NULL)
  ORDER BY next_run LIMIT $2`;
const LATE = lateSql(false);
const LATE_OF_TYPE = lateSql(true);

/**
 * The catch-up of one late cron or rrule task (its row, locked by the caller's transaction) at `at`
 * (core/catch-up.ts): the policy's next run and the occurrence it serves, or completed, with the row as
 * it leaves it; null when it is not late.
 */
export async function catchUpRowInTx(c: pg.PoolClient, row: Row, at: Date): Promise<{ caught: CaughtUpTask; row: Row } | null> {
  const task = taskFromRow(row);
  if (task.schedule.kind === 'adaptive' || task.status !== 'next_run_not_scheduled' || task.nextAttempt !== 1) return null;
  if (task.nextRun.getTime() >= at.getTime() - LATE_AFTER_MS) return null;
  const plan = planLateTask(task, at);
  if (plan === null) return null;
  const done = plan.action === 'complete';
  const next = done ? task.nextRun : plan.nextRun;
  const served = done || plan.scheduledFor.getTime() === next.getTime() ? null : plan.scheduledFor;
  const { rows } = await c.query<Row>(
    `UPDATE tasks SET status = $2, next_run = $3, scheduled_for = $4,
       dedupe_key = CASE WHEN $2 = 'next_run_not_scheduled' THEN dedupe_key ELSE NULL END WHERE id = $1 RETURNING *`,
    [task.id, done ? 'completed' : 'next_run_not_scheduled', next, served],
  );
  const caught = { task: task.id, type: task.type, catchUp: task.schedule.catchUp ?? 'latest', missed: task.scheduledFor, serves: done ? null : plan.scheduledFor, nextRun: done ? null : next };
  return { caught, row: rows[0]! };
}

/** Catch-up of late cron and rrule tasks and task backfills on PostgreSQL (ScheduleStore). */
export class PostgresSchedules implements ScheduleStore {
  constructor(private readonly host: PostgresScheduleHost) {}

  private async rows(sql: string, params: unknown[]): Promise<Row[]> {
    return (await this.host.pool.query<Row>(sql, params)).rows;
  }

  async catchUpLate(at: Date, limit: number, type?: string): Promise<CaughtUpTask[]> {
    const before = earlier(at, LATE_AFTER_MS);
    const [sql, params] = type === undefined ? [LATE, [before, limit]] : [LATE_OF_TYPE, [before, limit, type]];
    // A read first: most passes find nothing late and lock nothing.
    if ((await this.rows(sql, params)).length === 0) return [];
    const out = await this.host.tx(async (c) => {
      const { rows } = await c.query<Row>(`${sql} FOR UPDATE SKIP LOCKED`, params);
      const changed: CaughtUpTask[] = [];
      for (const row of rows) {
        const late = await catchUpRowInTx(c, row, at);
        if (late) changed.push(late.caught);
      }
      return changed;
    });
    if (out.length > 0) this.host.wake({ kind: 'tasks-written', count: out.length });
    return out;
  }

  async createBackfill(task: number, from: Date, to: Date, first: Date, total: number, at: Date): Promise<{ backfill: TaskBackfill; created: boolean }> {
    return this.host.tx(async (c) => {
      // The task's row lock serialises the creates of its backfills (NO KEY UPDATE: run inserts' foreign-key checks pass).
      await c.query('SELECT 1 FROM tasks WHERE id = $1 FOR NO KEY UPDATE', [task]);
      const { rows: running } = await c.query<Row>(`SELECT * FROM task_backfills WHERE task = $1 AND status = 'running' ORDER BY id LIMIT 1`, [task]);
      if (running[0]) return { backfill: backfillFromRow(running[0]), created: false };
      const { rows } = await c.query<Row>(
        `INSERT INTO task_backfills (task, from_ts, to_ts, next_point, total, status, created, updated) VALUES ($1, $2, $3, $4, $5, 'running', $6, $6) RETURNING *`,
        [task, from, to, first, total, at],
      );
      return { backfill: backfillFromRow(rows[0]!), created: true };
    });
  }

  async getBackfill(id: number): Promise<TaskBackfill | null> {
    const [row] = await this.rows('SELECT * FROM task_backfills WHERE id = $1', [id]);
    return row ? backfillFromRow(row) : null;
  }

  async listBackfills(task: number): Promise<TaskBackfill[]> {
    return (await this.rows('SELECT * FROM task_backfills WHERE task = $1 ORDER BY id DESC', [task])).map(backfillFromRow);
  }

  async runningBackfills(limit: number, afterId = 0): Promise<TaskBackfill[]> {
    return (await this.rows(`SELECT * FROM task_backfills WHERE status = 'running' AND id > $2 ORDER BY id LIMIT $1`, [limit, afterId])).map(backfillFromRow);
  }

  async startBackfillRun(id: number, point: Date, following: Date | null, at: Date): Promise<TaskRun | null> {
    const run = await this.host.tx(async (c) => {
      const { rows: b } = await c.query<Row>(`SELECT next_point, task FROM task_backfills WHERE id = $1 AND status = 'running' FOR UPDATE`, [id]);
      if (!b[0] || (b[0].next_point as Date | null)?.getTime() !== point.getTime()) return null;
      // The task is locked like the runner's pick: a runner or claim taking it meanwhile skips it, and we skip it if taken.
      const { rows: t } = await c.query<Row>(
        // Neither it nor its type paused: a paused task gets no run, backfill or not.
        `SELECT t.id, t.type, t.priority_rank, t.concurrency_key FROM tasks t WHERE t.id = $1 AND t.status = 'next_run_not_scheduled' AND t.next_run > $2
           AND t.paused_at IS NULL AND NOT EXISTS (SELECT 1 FROM task_types y WHERE y.name = t.type AND y.paused_at IS NOT NULL)
         FOR UPDATE OF t SKIP LOCKED`,
        [b[0].task, at],
      );
      if (!t[0]) return null;
      // The type's queue keeps its limit (locked as a runner pass locks it, so the count and the insert agree).
      const { rows: y } = await c.query<Row>('SELECT max_queue_length FROM task_types WHERE name = $1 FOR NO KEY UPDATE', [t[0].type]);
      const max = (y[0]?.max_queue_length ?? null) as number | null;
      const queued = max === null ? 0 : ((await c.query<Row>(HOT_QUERIES.queued, [t[0].type])).rows[0]!.n as number);
      if (queueSlots(max, queued, 1) < 1) return null;
      const { rows } = await c.query<Row>(
        `INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, attempt, concurrency_key, scheduled_for, backfill)
         VALUES ($1, $2, ${TIME_ORDERED_UUID('$3::timestamptz')}, 'scheduled', $4, $3, 1, $5, $6, $7) RETURNING *`,
        [t[0].id, t[0].type, at, t[0].priority_rank, t[0].concurrency_key ?? null, point, id],
      );
      await c.query(`UPDATE tasks SET status = 'next_run_scheduled', current_run = $2 WHERE id = $1`, [t[0].id, rows[0]!.id]);
      await c.query('UPDATE task_backfills SET next_point = $2, updated = $3 WHERE id = $1', [id, following, at]);
      return runFromRow(rows[0]!);
    });
    if (run) this.host.wake({ kind: 'runs-queued', count: 1 });
    return run;
  }

  async finishBackfill(id: number, status: Exclude<BackfillStatus, 'running'>, at: Date): Promise<TaskBackfill | null> {
    // `done` only while no occurrence is left to run: a pause may have given one back meanwhile (rewindBackfills).
    const [row] = await this.rows(`UPDATE task_backfills SET status = $2, updated = $3 WHERE id = $1 AND status = 'running' AND ($2 <> 'done' OR next_point IS NULL) RETURNING *`, [id, status, at]);
    return row ? backfillFromRow(row) : null;
  }

  async backfillRuns(id: number): Promise<TaskRun[]> {
    return (await this.rows('SELECT * FROM task_runs WHERE backfill = $1 ORDER BY id', [id])).map(runFromRow);
  }
}
