import type Database from 'better-sqlite3';
import type { RunStatus, TaskRun, TaskStatus } from '../../core/model.js';
import { keepsDedupeKey } from '../../core/dedupe-key.js';
import { invalid, shown } from '../../core/errors.js';
import { planConflict, replacementFor, replacementOf, REPLACED_ERROR, WITHDRAWN_STATUS } from '../../core/task-conflict.js';
import type { NewTask } from '../../core/validation.js';
import { runFromRow, scheduledForColumn, taskFromNew, taskFromRow, type Row } from '../rows.js';
import { firstDueOfNew } from '../../core/catch-up.js';
import { planDebounce, uniqueLookupBound, withinUniqueWindow } from '../../core/flow-control.js';
import type { CreatedTask } from '../store.js';
import { idAfterFloor } from './sqlite-id-floor.js';

/**
 * Task creation inside the store's write transaction: one prepared `INSERT ... ON CONFLICT (dedupe_key)
 * DO NOTHING` per task with positional parameters (a multi-row INSERT costs SQLite more per row),
 * then, for a task whose identity is held by an active task, what its `onConflict` asks for
 * (planConflict in core): return the holder, raise a ConflictError, or replace the holder's arguments
 * and next run (withdrawing its waiting run first).
 */
export class SqliteTaskWrites {
  private readonly s: ReturnType<typeof prepareTasks>;

  constructor(db: Database.Database) {
    this.s = prepareTasks(db);
  }

  insertTasksInTx(tasks: readonly NewTask[], at: Date): CreatedTask[] {
    try {
      return this.insertAll(tasks, at);
    } catch (e) {
      // A type deleted by another process after this one read it (its type cache holds it up to a
      // second): refused as an unknown type, as the check before the insert and PostgreSQL's answer it.
      if ((e as { code?: unknown }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        const gone = tasks.find((t) => this.s.typeExists.get(t.type) === undefined);
        if (gone) throw invalid('type', `unknown task type "${shown(gone.type)}"`);
      }
      throw e;
    }
  }

  private insertAll(tasks: readonly NewTask[], at: Date): CreatedTask[] {
    const now = at.getTime();
    const insert = this.s.insertTask;
    const out = new Array<CreatedTask>(tasks.length);
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i]!;
      if (t.unique !== undefined || t.debounce !== undefined) {
        const matched = this.flowControlMatch(t, at);
        if (matched !== null) {
          out[i] = matched;
          continue;
        }
      }
      const info = insert.run(...params(t, now));
      if (info.changes === 1) {
        out[i] = this.created(t, Number(info.lastInsertRowid), at);
        continue;
      }
      const holder = this.activeHolder(t.dedupeKey);
      if (holder !== undefined) {
        out[i] = this.resolveConflict(t, holder, now);
        continue;
      }
      // No active holder: the key was a finished task's, now given up.
      const again = insert.run(...params(t, now));
      if (again.changes !== 1) throw new Error(`task identity ${t.dedupeKey} is held by no task yet refused`);
      out[i] = this.created(t, Number(again.lastInsertRowid), at);
    }
    return out;
  }

  /**
   * The active task holding an identity key, or none. A task whose run's end completed or disabled
   * it keeps its key (the end does not write the dedupe index, core/dedupe-key.ts keepsDedupeKey):
   * it gives the key up here, to the equal task being created or respawned. In a write transaction.
   */
  activeHolder(key: string): Row | undefined {
    const row = this.s.taskByDedupe.get(key) as Row | undefined;
    if (row === undefined || keepsDedupeKey(row.status as TaskStatus)) return row;
    this.s.releaseKey.run(row.id);
    return undefined;
  }

  /** A task just inserted; a jittered first occurrence and flow-control keys are written now that it has its id. */
  private created(t: NewTask, id: number, at: Date): CreatedTask {
    const task = taskFromNew(t, id, at);
    const due = firstDueOfNew(t, id);
    if (due !== null || t.unique !== undefined || t.debounce !== undefined) {
      if (due !== null) task.nextRun = due;
      this.s.setCreated.run({ id, next_run: task.nextRun.getTime(), scheduled_for: scheduledForColumn(task), unique_key: t.unique?.key ?? null, debounce_key: t.debounce?.key ?? null });
    }
    return { task, created: true };
  }

  /**
   * A create with `unique` returns the latest task of its unique key created within its window; a
   * debounced create collapses into the waiting task of its debounce key (core/flow-control.ts). Null:
   * no match, the task is created.
   */
  private flowControlMatch(t: NewTask, at: Date): CreatedTask | null {
    if (t.unique !== undefined) {
      const row = this.s.latestUnique.get(t.unique.key, uniqueLookupBound(t.unique, at).getTime()) as Row | undefined;
      return row && withinUniqueWindow(taskFromRow(row).created, at, t.unique.forMs, t.unique.clocked) ? { task: taskFromRow(row), created: false } : null;
    }
    const row = this.s.waitingDebounced.get(t.debounce!.key) as Row | undefined;
    const plan = planDebounce(row ? taskFromRow(row) : null, at, replacementOf(t));
    if (plan.action === 'create') return null;
    const u = plan.update;
    const updated = this.s.replaceTask.get({ id: row!.id, arguments: JSON.stringify(u.arguments), next_run: u.nextRun.getTime(), scheduled_for: null, priority: u.priority, rank: u.priorityRank, ckey: u.concurrencyKey }) as Row;
    return { task: taskFromRow(updated), created: false, replaced: true };
  }

  /** A task whose identity is held by an active task (stored, or inserted earlier in this batch): what its onConflict asks for. */
  private resolveConflict(t: NewTask, holderRow: Row, now: number): CreatedTask {
    const holder = taskFromRow(holderRow);
    const current = holderRow.current_run === null ? null : (this.s.runById.get(holderRow.current_run) as Row | undefined);
    const plan = planConflict(holder, current ? (current.status as RunStatus) : null, t.onConflict ?? 'return', replacementFor(holder, t, new Date(now)));
    if (plan.action === 'return') return { task: holder, created: false };
    const withdrawn = plan.withdrawRun && current ? (this.s.withdrawRun.get({ id: current.id, status: WITHDRAWN_STATUS, ended: now, error: REPLACED_ERROR }) as Row | undefined) : undefined;
    // A run that is no longer waiting (started meanwhile) is left to finish: the task is returned unchanged.
    if (plan.withdrawRun && current && withdrawn === undefined) return { task: holder, created: false };
    const u = plan.update;
    const row = this.s.replaceTask.get({
      id: holder.id,
      arguments: JSON.stringify(u.arguments),
      next_run: u.nextRun.getTime(),
      scheduled_for: scheduledForColumn(u),
      priority: u.priority,
      rank: u.priorityRank,
      ckey: u.concurrencyKey,
    }) as Row;
    return { task: taskFromRow(row), created: false, replaced: true, ...(withdrawn ? { withdrawn: runFromRow(withdrawn) } : {}) };
  }

  /** Flags the started runs of a task (its current one, or one ended by the task having moved on) for cancellation. */
  requestCancelOfTask(taskId: number): TaskRun[] {
    return (this.s.cancelStartedOfTask.all(taskId) as Row[]).map(runFromRow);
  }
}

/** The insert's parameters for a task. */
const params = (t: NewTask, now: number) =>
  [
    t.type, JSON.stringify(t.arguments), t.policy, scheduleJson(t.schedule), t.nextRun.getTime(), t.currentIntervalMs, t.retriesLeft,
    t.priority, t.priorityRank, t.dedupeKey, t.dedupeKey, t.key ?? null, t.concurrencyKey ?? null, now, t.traceContext ?? null,
  ] as const;

const ADAPTIVE_JSON = JSON.stringify({ kind: 'adaptive' });
const scheduleJson = (s: NewTask['schedule']) => (s.kind === 'adaptive' ? ADAPTIVE_JSON : JSON.stringify(s));

function prepareTasks(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    // The index predicate in the conflict target matches tasks_dedupe whether it is whole or partial.
    insertTask: p(`INSERT INTO tasks (id, type, arguments, policy, schedule, next_run, current_interval_ms, status, retries_left,
      priority, priority_rank, identity_key, dedupe_key, task_key, concurrency_key, created, trace_context)
      VALUES (${idAfterFloor('tasks')}, ?, ?, ?, ?, ?, ?, 'next_run_not_scheduled', ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`),
    taskByDedupe: p('SELECT * FROM tasks WHERE dedupe_key = ?'),
    releaseKey: p('UPDATE tasks SET dedupe_key = NULL WHERE id = ?'),
    runById: p('SELECT id, status FROM task_runs WHERE id = ?'),
    typeExists: p('SELECT 1 FROM task_types WHERE name = ?'),
    withdrawRun: p(`UPDATE task_runs SET status = @status, ended = @ended, error = @error WHERE id = @id AND status = 'scheduled' RETURNING *`),
    replaceTask: p(`UPDATE tasks SET arguments = @arguments, next_run = @next_run, scheduled_for = @scheduled_for, priority = @priority, priority_rank = @rank,
      concurrency_key = @ckey, status = 'next_run_not_scheduled', current_run = NULL WHERE id = @id RETURNING *`),
    setCreated: p(`UPDATE tasks SET next_run = @next_run, scheduled_for = @scheduled_for, unique_key = @unique_key, debounce_key = @debounce_key WHERE id = @id`),
    latestUnique: p(`SELECT * FROM tasks INDEXED BY tasks_unique WHERE unique_key = ? AND created <= ? ORDER BY created DESC, id DESC LIMIT 1`),
    waitingDebounced: p(`SELECT * FROM tasks INDEXED BY tasks_debounce WHERE debounce_key = ? AND status = 'next_run_not_scheduled'
      ORDER BY next_run DESC, id DESC LIMIT 1`),
    cancelStartedOfTask: p(`UPDATE task_runs SET cancel_requested = 1 WHERE task = ? AND status = 'started' AND cancel_requested = 0 RETURNING *`),
  };
}
