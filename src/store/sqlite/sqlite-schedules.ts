import type Database from 'better-sqlite3';
import { planLateTask } from '../../core/catch-up.js';
import { LATE_AFTER_MS } from '../../core/catch-up.js';
import { queueSlots } from '../../core/limits.js';
import type { TaskRun } from '../../core/model.js';
import { runFromRow, scheduledForColumn, taskFromRow, type Row } from '../rows.js';
import { backfillFromRow } from '../schedule-rows.js';
import type { BackfillStatus, CaughtUpTask, ScheduleStore, TaskBackfill } from '../schedule-store.js';
import type { StoreChange } from '../store.js';
import { timeOrderedUuid } from '../run-ids.js';
import { idAfterFloor } from './sqlite-id-floor.js';
import { QUEUED_OF_TYPE_SQLITE } from '../sql-lists.js';

/** What the schedule store needs from the SQLite store it belongs to. */
export interface SqliteScheduleHost {
  db: Database.Database;
  /** Runs `fn` in a write transaction (BEGIN IMMEDIATE). */
  write<T>(fn: () => T): Promise<T>;
  wake(change: StoreChange): void;
}

/** Catch-up of late cron and rrule tasks and task backfills on SQLite (ScheduleStore). */
export class SqliteSchedules implements ScheduleStore {
  private readonly s: ReturnType<typeof prepareSchedules>;

  constructor(private readonly host: SqliteScheduleHost) {
    this.s = prepareSchedules(host.db);
  }

  async catchUpLate(at: Date, limit: number, type?: string): Promise<CaughtUpTask[]> {
    // A read first: most passes find nothing late and take no write lock.
    if (this.lateRows(at, limit, type).length === 0) return [];
    const out = await this.host.write(() => this.catchUpInTx(at, limit, type));
    if (out.length > 0) this.host.wake({ kind: 'tasks-written', count: out.length });
    return out;
  }

  /**
   * The catch-up inside a write transaction the caller holds (and wakes for): each late cron or rrule
   * task moved to the occurrence its policy serves, or completed (core/catch-up.ts). A claim of due
   * tasks runs it first, in its own transaction.
   */
  catchUpInTx(at: Date, limit: number, type?: string): CaughtUpTask[] {
    const changed: CaughtUpTask[] = [];
    for (const row of this.lateRows(at, limit, type)) {
      const caught = this.catchUpRowInTx(row, at);
      if (caught) changed.push(caught);
    }
    return changed;
  }

  /**
   * The catch-up of one task (its row, read in the caller's write transaction) at `at`, as
   * PostgreSQL's catchUpRowInTx: null when it is not a late cron or rrule task waiting for its first
   * attempt (the resume of a paused task calls it for the task it resumed).
   */
  catchUpRowInTx(row: Row, at: Date): CaughtUpTask | null {
    const task = taskFromRow(row);
    if (task.status !== 'next_run_not_scheduled') return null;
    const plan = planLateTask(task, at); // null unless a cron or rrule task is late for its first attempt
    if (plan === null || task.schedule.kind === 'adaptive') return null;
    const done = plan.action === 'complete';
    const next = done ? task.nextRun : plan.nextRun;
    this.s.moveLate.run({
      id: task.id,
      old: task.nextRun.getTime(),
      status: done ? 'completed' : 'next_run_not_scheduled',
      next_run: next.getTime(),
      scheduled_for: done ? null : scheduledForColumn({ nextRun: next, scheduledFor: plan.scheduledFor }),
    });
    return { task: task.id, type: task.type, catchUp: task.schedule.catchUp ?? 'latest', missed: task.scheduledFor, serves: done ? null : plan.scheduledFor, nextRun: done ? null : next };
  }

  private lateRows(at: Date, limit: number, type: string | undefined): Row[] {
    const before = at.getTime() - LATE_AFTER_MS;
    return (type === undefined ? this.s.late.all(before, limit) : this.s.lateOfType.all(before, type, limit)) as Row[];
  }

  async createBackfill(task: number, from: Date, to: Date, first: Date, total: number, at: Date): Promise<{ backfill: TaskBackfill; created: boolean }> {
    // In the write transaction (one writer at a time, across processes): the check and the insert agree.
    return this.host.write(() => {
      const running = this.s.runningOfTask.get(task) as Row | undefined;
      if (running) return { backfill: backfillFromRow(running), created: false };
      return { backfill: backfillFromRow(this.s.insertBackfill.get(task, from.getTime(), to.getTime(), first.getTime(), total, at.getTime(), at.getTime()) as Row), created: true };
    });
  }

  async getBackfill(id: number): Promise<TaskBackfill | null> {
    const row = this.s.backfill.get(id) as Row | undefined;
    return row ? backfillFromRow(row) : null;
  }

  async listBackfills(task: number): Promise<TaskBackfill[]> {
    return (this.s.backfillsOfTask.all(task) as Row[]).map(backfillFromRow);
  }

  async runningBackfills(limit: number, afterId = 0): Promise<TaskBackfill[]> {
    return (this.s.running.all(afterId, limit) as Row[]).map(backfillFromRow);
  }

  async startBackfillRun(id: number, point: Date, following: Date | null, at: Date): Promise<TaskRun | null> {
    const run = await this.host.write(() => {
      const b = this.s.backfill.get(id) as Row | undefined;
      if (!b || b.status !== 'running' || b.next_point !== point.getTime()) return null;
      const t = this.s.freeTask.get(b.task, at.getTime()) as Row | undefined;
      if (!t) return null;
      // The type's queue keeps its limit, as for a runner pass's picks.
      const max = t.max_queue_length as number | null;
      if (queueSlots(max, max === null ? 0 : (this.s.queuedOfType.get(t.type) as { n: number }).n, 1) < 1) return null;
      const row = this.s.insertRun.get({
        task: t.id, type: t.type, backend_id: timeOrderedUuid(at.getTime()), rank: t.priority_rank, scheduled: at.getTime(),
        ckey: t.concurrency_key ?? null, scheduled_for: point.getTime(), backfill: id,
      }) as Row;
      this.s.markScheduled.run(row.id, t.id);
      this.s.advance.run(following === null ? null : following.getTime(), at.getTime(), id);
      return runFromRow(row);
    });
    if (run) this.host.wake({ kind: 'runs-queued', count: 1 });
    return run;
  }

  async finishBackfill(id: number, status: Exclude<BackfillStatus, 'running'>, at: Date): Promise<TaskBackfill | null> {
    const row = await this.host.write(() => this.s.finish.get(status, at.getTime(), id, status) as Row | undefined);
    return row ? backfillFromRow(row) : null;
  }

  async backfillRuns(id: number): Promise<TaskRun[]> {
    return (this.s.runsOf.all(id) as Row[]).map(runFromRow);
  }
}

function prepareSchedules(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  // Late cron and rrule tasks, the most overdue first; with `ofType`, of one type only (its name bound after the instant).
  const late = (ofType: boolean) =>
    p(`SELECT * FROM tasks INDEXED BY tasks_calendar_due
      WHERE status = 'next_run_not_scheduled' AND schedule <> '{"kind":"adaptive"}' AND next_run < ? AND next_attempt = 1${ofType ? ' AND type = ?' : ''}
        AND paused_at IS NULL AND type NOT IN (SELECT name FROM task_types WHERE paused_at IS NOT NULL)
      ORDER BY next_run LIMIT +?`);
  return {
    late: late(false),
    lateOfType: late(true),
    // The dedupe key is left as it is, as by a run's end: a task completed here gives it up to the next equal task.
    moveLate: p(`UPDATE tasks SET status = @status, next_run = @next_run, scheduled_for = @scheduled_for
      WHERE id = @id AND status = 'next_run_not_scheduled' AND next_run = @old`),
    insertBackfill: p(`INSERT INTO task_backfills (task, from_ts, to_ts, next_point, total, status, created, updated)
      VALUES (?, ?, ?, ?, ?, 'running', ?, ?) RETURNING *`),
    backfill: p('SELECT * FROM task_backfills WHERE id = ?'),
    backfillsOfTask: p('SELECT * FROM task_backfills WHERE task = ? ORDER BY id DESC'),
    runningOfTask: p(`SELECT * FROM task_backfills WHERE task = ? AND status = 'running' ORDER BY id LIMIT 1`),
    queuedOfType: p(QUEUED_OF_TYPE_SQLITE),
    running: p(`SELECT * FROM task_backfills INDEXED BY task_backfills_running WHERE status = 'running' AND id > ? ORDER BY id LIMIT +?`),
    // Free: no run, not due itself, and neither it nor its type paused (a paused task gets no run, backfill or not).
    freeTask: p(`SELECT t.id, t.type, t.priority_rank, t.concurrency_key, (SELECT max_queue_length FROM task_types WHERE name = t.type) AS max_queue_length FROM tasks t
      WHERE t.id = ? AND t.status = 'next_run_not_scheduled' AND t.next_run > ? AND t.paused_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM task_types y WHERE y.name = t.type AND y.paused_at IS NOT NULL)`),
    insertRun: p(`INSERT INTO task_runs (id, task, type, backend_id, status, priority_rank, scheduled, attempt, concurrency_key, scheduled_for, backfill)
      VALUES (${idAfterFloor('task_runs')}, @task, @type, @backend_id, 'scheduled', @rank, @scheduled, 1, @ckey, @scheduled_for, @backfill) RETURNING *`),
    markScheduled: p(`UPDATE tasks SET status = 'next_run_scheduled', current_run = ? WHERE id = ?`),
    advance: p('UPDATE task_backfills SET next_point = ?, updated = ? WHERE id = ?'),
    // `done` only while no occurrence is left to run: a pause may have given one back meanwhile (rewindBackfills).
    finish: p(`UPDATE task_backfills SET status = ?, updated = ? WHERE id = ? AND status = 'running' AND (? <> 'done' OR next_point IS NULL) RETURNING *`),
    runsOf: p('SELECT * FROM task_runs INDEXED BY task_runs_backfill WHERE backfill = ? ORDER BY id'),
  };
}
