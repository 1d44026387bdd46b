import type pg from 'pg';
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
import { FINISHED_TASK_STATUSES_SQL, UNFINISHED_RUN_STATUSES_SQL } from '../sql-lists.js';

/**
 * Finished runs that may go, in (ended, id) order from task_runs_finished; never a task's current run
 * unless the task itself goes (a finished one-shot task). SKIP LOCKED: two archivers never take the
 * same run, and a run a writer still holds (a late log append) waits for the next sweep.
 */
const RUNS = `SELECT r.* FROM task_runs r
  WHERE r.ended IS NOT NULL AND r.ended < $1 AND r.status NOT IN (${UNFINISHED_RUN_STATUSES_SQL})
    AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = r.task AND t.current_run = r.id
                    AND NOT (t.policy = 'oneshot' AND t.status IN (${FINISHED_TASK_STATUSES_SQL})))
    AND NOT ${heldDagAttemptSql('r.task')} AND NOT ${heldVisitSql('r.task')} AND NOT ${heldBackfillRunSql('r')}`;

/** Exported so a test can EXPLAIN the archiving queries. */
export const ARCHIVE_SQL = {
  runsFirst: `${RUNS} ORDER BY r.ended, r.id LIMIT $2 FOR UPDATE OF r SKIP LOCKED`,
  runsAfter: `${RUNS} AND (r.ended, r.id) > ($3::timestamptz, $4::bigint) ORDER BY r.ended, r.id LIMIT $2 FOR UPDATE OF r SKIP LOCKED`,
  /** Disabled one-shot tasks left without runs (disabled before they ran, or their runs went earlier). */
  idleTasks: `SELECT t.* FROM tasks t
    WHERE t.status = 'disabled' AND t.id > $1 AND t.policy = 'oneshot' AND t.created < $2
      AND NOT EXISTS (SELECT 1 FROM task_runs x WHERE x.task = t.id)
      AND NOT ${heldDagAttemptSql('t.id')} AND NOT ${heldVisitSql('t.id')}
    ORDER BY t.id LIMIT $3 FOR UPDATE SKIP LOCKED`,
  /** The batch's tasks that go with it: finished one-shot tasks with no run outside the batch (locked against a respawn). */
  finishedTasks: `SELECT t.* FROM tasks t WHERE t.id = ANY($1::bigint[]) AND t.policy = 'oneshot' AND t.status IN (${FINISHED_TASK_STATUSES_SQL})
      AND NOT EXISTS (SELECT 1 FROM task_runs x WHERE x.task = t.id AND x.id <> ALL($2::bigint[]))
    ORDER BY t.id FOR UPDATE OF t`,
} as const;

type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

/**
 * Batches take turns (a transaction-level advisory lock): a task goes with the batch that deletes its
 * last run, which a batch can only tell once the batches before it have committed. Two archivers
 * deleting a task's last runs side by side would each see the other's runs and leave the task behind.
 */
const ARCHIVE_LOCK = 0x6f7272657280;

/** Archiving on PostgreSQL: each batch is one transaction (read and lock, sink, copy, delete). */
export class PostgresArchive implements ArchiveStore {

  constructor(
    private readonly pool: pg.Pool,
    private readonly tx: Tx,
  ) {}

  async archiveBatch(req: ArchiveBatchRequest): Promise<ArchiveBatch> {
    return this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [ARCHIVE_LOCK]);
      const batch = req.after?.phase === 'tasks' ? await this.idleTasks(c, req, req.after.id) : await this.finishedRuns(c, req);
      if (batch.runs.length === 0 && batch.tasks.length === 0) return batch;
      // The sink's state as committed by every archiver of this database (read under the turn's lock).
      const progress = req.sink
        ? req.sink.write(batch, (await c.query<{ value: string }>('SELECT value FROM archive_progress WHERE key = $1', [req.sink.key])).rows[0]?.value ?? null)
        : undefined;
      const runIds = batch.runs.map((r) => r.run.id);
      const taskIds = batch.tasks.map((t) => t.id);
      if (req.table) await this.copy(c, batch, req.at);
      await c.query('DELETE FROM run_logs WHERE run = ANY($1::bigint[])', [runIds]);
      const runs = (await c.query('DELETE FROM task_runs WHERE id = ANY($1::bigint[])', [runIds])).rowCount;
      const tasks = (await c.query('DELETE FROM tasks WHERE id = ANY($1::bigint[])', [taskIds])).rowCount;
      if (runs !== runIds.length || tasks !== taskIds.length) {
        throw new StorageError(`archive batch deleted ${runs} runs and ${tasks} tasks instead of ${runIds.length} and ${taskIds.length}; undone`);
      }
      if (progress) await setProgress(c, progress.key, progress.value, req.at);
      return batch;
    });
  }

  private async finishedRuns(c: pg.PoolClient, req: ArchiveBatchRequest): Promise<ArchiveBatch> {
    const after = req.after?.phase === 'runs' ? req.after : null;
    const { rows } = after
      ? await c.query<Row>(ARCHIVE_SQL.runsAfter, [req.before, req.limit, after.ended, after.id])
      : await c.query<Row>(ARCHIVE_SQL.runsFirst, [req.before, req.limit]);
    const runs = rows.map(runFromRow);
    const ids = runs.map((r) => r.id);
    const logs = new Map<number, ArchivedRun['logs']>(runs.map((r) => [r.id, []]));
    if (ids.length) {
      const found = await c.query<Row>('SELECT * FROM run_logs WHERE run = ANY($1::bigint[]) ORDER BY run, id', [ids]);
      for (const l of found.rows) logs.get(Number(l.run))!.push(logFromRow(l));
    }
    const taskIds = [...new Set(runs.map((r) => r.task))];
    const tasks = ids.length ? (await c.query<Row>(ARCHIVE_SQL.finishedTasks, [taskIds, ids])).rows.map(taskFromRow) : [];
    const last = runs[runs.length - 1];
    return {
      runs: runs.map((run) => ({ run, logs: logs.get(run.id)! })),
      tasks,
      next: runs.length < req.limit ? { phase: 'tasks', id: 0 } : { phase: 'runs', ended: last!.ended!, id: last!.id },
    };
  }

  private async idleTasks(c: pg.PoolClient, req: ArchiveBatchRequest, after: number): Promise<ArchiveBatch> {
    const tasks = (await c.query<Row>(ARCHIVE_SQL.idleTasks, [after, req.before, req.limit])).rows.map(taskFromRow);
    return { runs: [], tasks, next: tasks.length < req.limit ? null : { phase: 'tasks', id: tasks[tasks.length - 1]!.id } };
  }

  private async copy(c: pg.PoolClient, batch: ArchiveBatch, at: Date): Promise<void> {
    if (batch.runs.length) {
      await c.query(
        `INSERT INTO archived_task_runs (id, task, ended, archived_at, record)
         SELECT id, task, ended, $4, record FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $5::json[]) AS x(id, task, ended, record)`,
        [batch.runs.map((r) => r.run.id), batch.runs.map((r) => r.run.task), batch.runs.map((r) => r.run.ended), at, batch.runs.map(runRecordJson)],
      );
    }
    if (batch.tasks.length) {
      await c.query(
        `INSERT INTO archived_tasks (id, archived_at, record) SELECT id, $2, record FROM unnest($1::bigint[], $3::json[]) AS x(id, record)`,
        [batch.tasks.map((t) => t.id), at, batch.tasks.map((t) => JSON.stringify(t))],
      );
    }
  }

  async getProgress(key: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ value: string }>('SELECT value FROM archive_progress WHERE key = $1', [key]);
    return rows[0]?.value ?? null;
  }

  async replaceProgress(key: string, expected: string | null, value: string, at: Date): Promise<boolean> {
    const { rowCount } = expected === null
      ? await this.pool.query('INSERT INTO archive_progress (key, value, updated) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING', [key, value, at])
      : await this.pool.query('UPDATE archive_progress SET value = $2, updated = $3 WHERE key = $1 AND value = $4', [key, value, at, expected]);
    return rowCount === 1;
  }

  async readArchivedRuns(f: ArchivedRunFilter): Promise<ArchivedRun[]> {
    const { rows } = f.task !== undefined
      ? await this.pool.query<Row>('SELECT record FROM archived_task_runs WHERE task = $1 AND id > $2 ORDER BY id LIMIT $3', [f.task, f.afterId ?? 0, f.limit])
      : await this.pool.query<Row>('SELECT record FROM archived_task_runs WHERE id > $1 ORDER BY id LIMIT $2', [f.afterId ?? 0, f.limit]);
    return rows.map((r) => archivedRunFromJson(r.record));
  }

  async readArchivedTasks(f: ArchivedRunFilter): Promise<Task[]> {
    const { rows } = f.task !== undefined
      ? await this.pool.query<Row>('SELECT record FROM archived_tasks WHERE id = $1 AND id > $2', [f.task, f.afterId ?? 0])
      : await this.pool.query<Row>('SELECT record FROM archived_tasks WHERE id > $1 ORDER BY id LIMIT $2', [f.afterId ?? 0, f.limit]);
    return rows.map((r) => archivedTaskFromJson(r.record));
  }
}

async function setProgress(c: pg.PoolClient, key: string, value: string, at: Date): Promise<void> {
  await c.query(
    `INSERT INTO archive_progress (key, value, updated) VALUES ($1, $2, $3)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
    [key, value, at],
  );
}
