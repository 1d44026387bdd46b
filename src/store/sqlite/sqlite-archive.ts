import type Database from 'better-sqlite3';
import { StorageError } from '../../core/errors.js';
import type { Task } from '../../core/model.js';
import {
  archivedRunFromJson,
  archivedTaskFromJson,
  heldBackfillRunSql,
  heldDagAttemptSql,
  heldVisitSql,
  runRecordJson,
  type ArchiveBatch,
  type ArchiveBatchRequest,
  type ArchivedRun,
  type ArchivedRunFilter,
  type ArchiveStore,
} from '../archive-store.js';
import { logFromRow, runFromRow, taskFromRow, type Row } from '../rows.js';
import { idFloorRaiser } from './sqlite-id-floor.js';
import { FINISHED_TASK_STATUSES_SQL, UNFINISHED_RUN_STATUSES_SQL } from '../sql-lists.js';

/**
 * Finished runs that may go, in (ended, id) order from task_runs_finished. Never a task's current run
 * (unless the task itself goes: a finished one-shot task). The newest rows go too: each batch raises
 * the id floors first, so their ids are not handed out again (sqlite-id-floor.ts).
 */
const RUNS = `SELECT r.* FROM task_runs r INDEXED BY task_runs_finished
  WHERE r.ended IS NOT NULL AND r.ended < @before AND r.status NOT IN (${UNFINISHED_RUN_STATUSES_SQL})
    AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = r.task AND t.current_run = r.id
                    AND NOT (t.policy = 'oneshot' AND t.status IN (${FINISHED_TASK_STATUSES_SQL})))
    AND NOT ${heldDagAttemptSql('r.task')} AND NOT ${heldVisitSql('r.task')} AND NOT ${heldBackfillRunSql('r')}`;

/** Exported so a test can EXPLAIN the archiving queries. */
export const ARCHIVE_SQL = {
  runsFirst: `${RUNS} ORDER BY r.ended, r.id LIMIT @limit`,
  runsAfter: `${RUNS} AND r.ended >= @ce AND (r.ended > @ce OR r.id > @cid) ORDER BY r.ended, r.id LIMIT @limit`,
  /** Disabled one-shot tasks left without runs (disabled before they ran, or their runs went earlier). */
  idleTasks: `SELECT t.* FROM tasks t INDEXED BY tasks_status
    WHERE t.status = 'disabled' AND t.id > @after AND t.policy = 'oneshot' AND t.created < @before
      AND NOT EXISTS (SELECT 1 FROM task_runs x WHERE x.task = t.id)
      AND NOT ${heldDagAttemptSql('t.id')} AND NOT ${heldVisitSql('t.id')}
    ORDER BY t.id LIMIT @limit`,
} as const;

/** Archiving on SQLite: each batch is one BEGIN IMMEDIATE transaction (read, sink, copy, delete). */
export class SqliteArchive implements ArchiveStore {
  private readonly s: ReturnType<typeof prepare>;
  private readonly raiseIdFloors: ReturnType<typeof idFloorRaiser>;

  constructor(
    db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
  ) {
    this.s = prepare(db);
    this.raiseIdFloors = idFloorRaiser(db);
  }

  async archiveBatch(req: ArchiveBatchRequest): Promise<ArchiveBatch> {
    const before = req.before.getTime();
    return this.write(() => {
      const batch = req.after?.phase === 'tasks' ? this.idleTasks(before, req.after.id, req.limit) : this.finishedRuns(req, before);
      if (batch.runs.length === 0 && batch.tasks.length === 0) return batch;
      // The sink's state as committed by every archiver of this database (read in the write transaction).
      const progress = req.sink ? req.sink.write(batch, (this.s.getProgress.get(req.sink.key) as { value: string } | undefined)?.value ?? null) : undefined;
      const runIds = JSON.stringify(batch.runs.map((r) => r.run.id));
      const taskIds = JSON.stringify(batch.tasks.map((t) => t.id));
      if (req.table) this.copy(batch, req.at.getTime());
      this.raiseIdFloors(['tasks', 'task_runs', 'run_logs']);
      this.s.deleteLogs.run(runIds);
      const runs = this.s.deleteRuns.run(runIds).changes;
      const tasks = this.s.deleteTasks.run(taskIds).changes;
      if (runs !== batch.runs.length || tasks !== batch.tasks.length) {
        throw new StorageError(`archive batch deleted ${runs} runs and ${tasks} tasks instead of ${batch.runs.length} and ${batch.tasks.length}; undone`);
      }
      if (progress) this.s.setProgress.run(progress.key, progress.value, req.at.getTime());
      return batch;
    });
  }

  private finishedRuns(req: ArchiveBatchRequest, before: number): ArchiveBatch {
    const after = req.after?.phase === 'runs' ? req.after : null;
    const rows = (after
      ? this.s.runsAfter.all({ before, limit: req.limit, ce: after.ended.getTime(), cid: after.id })
      : this.s.runsFirst.all({ before, limit: req.limit })) as Row[];
    const runs = rows.map(runFromRow);
    const ids = JSON.stringify(runs.map((r) => r.id));
    const logs = new Map<number, ArchivedRun['logs']>(runs.map((r) => [r.id, []]));
    for (const l of this.s.logsOf.all(ids) as Row[]) logs.get(Number(l.run))!.push(logFromRow(l));
    const taskIds = JSON.stringify([...new Set(runs.map((r) => r.task))]);
    const tasks = runs.length ? (this.s.finishedTasks.all(taskIds, ids) as Row[]).map(taskFromRow) : [];
    const last = runs[runs.length - 1];
    return {
      runs: runs.map((run) => ({ run, logs: logs.get(run.id)! })),
      tasks,
      next: runs.length < req.limit ? { phase: 'tasks', id: 0 } : { phase: 'runs', ended: last!.ended!, id: last!.id },
    };
  }

  private idleTasks(before: number, after: number, limit: number): ArchiveBatch {
    const tasks = (this.s.idleTasks.all({ before, after, limit }) as Row[]).map(taskFromRow);
    return { runs: [], tasks, next: tasks.length < limit ? null : { phase: 'tasks', id: tasks[tasks.length - 1]!.id } };
  }

  private copy(batch: ArchiveBatch, at: number): void {
    for (const r of batch.runs) this.s.copyRun.run(r.run.id, r.run.task, r.run.ended!.getTime(), at, runRecordJson(r));
    for (const t of batch.tasks) this.s.copyTask.run(t.id, at, JSON.stringify(t));
  }

  async getProgress(key: string): Promise<string | null> {
    const row = this.s.getProgress.get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  async replaceProgress(key: string, expected: string | null, value: string, at: Date): Promise<boolean> {
    return this.write(() =>
      (expected === null ? this.s.insertProgress.run(key, value, at.getTime()) : this.s.replaceProgress.run(value, at.getTime(), key, expected)).changes === 1,
    );
  }

  async readArchivedRuns(f: ArchivedRunFilter): Promise<ArchivedRun[]> {
    const after = f.afterId ?? 0;
    const rows = (f.task !== undefined ? this.s.archivedRunsOfTask.all(f.task, after, f.limit) : this.s.archivedRuns.all(after, f.limit)) as Row[];
    return rows.map((r) => archivedRunFromJson(r.record));
  }

  async readArchivedTasks(f: ArchivedRunFilter): Promise<Task[]> {
    const after = f.afterId ?? 0;
    const rows = (f.task !== undefined ? this.s.archivedTask.all(f.task, after) : this.s.archivedTasks.all(after, f.limit)) as Row[];
    return rows.map((r) => archivedTaskFromJson(r.record));
  }
}

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const ids = 'SELECT value FROM json_each(?)';
  return {
    runsFirst: p(ARCHIVE_SQL.runsFirst),
    runsAfter: p(ARCHIVE_SQL.runsAfter),
    idleTasks: p(ARCHIVE_SQL.idleTasks),
    logsOf: p(`SELECT * FROM run_logs WHERE run IN (${ids}) ORDER BY run, id`),
    // The batch's tasks that go with it: finished one-shot tasks with no run outside the batch.
    finishedTasks: p(`SELECT t.* FROM tasks t WHERE t.id IN (${ids}) AND t.policy = 'oneshot' AND t.status IN (${FINISHED_TASK_STATUSES_SQL})
      AND NOT EXISTS (SELECT 1 FROM task_runs x WHERE x.task = t.id AND x.id NOT IN (${ids})) ORDER BY t.id`),
    deleteLogs: p(`DELETE FROM run_logs WHERE run IN (${ids})`),
    deleteRuns: p(`DELETE FROM task_runs WHERE id IN (${ids})`),
    deleteTasks: p(`DELETE FROM tasks WHERE id IN (${ids})`),
    copyRun: p('INSERT INTO archived_task_runs (id, task, ended, archived_at, record) VALUES (?, ?, ?, ?, ?)'),
    copyTask: p('INSERT INTO archived_tasks (id, archived_at, record) VALUES (?, ?, ?)'),
    getProgress: p('SELECT value FROM archive_progress WHERE key = ?'),
    insertProgress: p('INSERT INTO archive_progress (key, value, updated) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING'),
    replaceProgress: p('UPDATE archive_progress SET value = ?, updated = ? WHERE key = ? AND value = ?'),
    setProgress: p(`INSERT INTO archive_progress (key, value, updated) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated`),
    archivedRuns: p('SELECT record FROM archived_task_runs WHERE id > ? ORDER BY id LIMIT ?'),
    archivedRunsOfTask: p('SELECT record FROM archived_task_runs WHERE task = ? AND id > ? ORDER BY id LIMIT ?'),
    archivedTasks: p('SELECT record FROM archived_tasks WHERE id > ? ORDER BY id LIMIT ?'),
    archivedTask: p('SELECT record FROM archived_tasks WHERE id = ? AND id > ?'),
  };
}
