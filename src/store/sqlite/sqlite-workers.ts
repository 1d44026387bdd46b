import type Database from 'better-sqlite3';
import type { RegisteredWorker, WorkerInfo } from '../../core/worker-registry.js';
import type { Row } from '../rows.js';
import type { RecordedWorker, WorkerStore } from '../worker-store.js';

/** The worker registry on SQLite (WorkerStore): the `workers` table, instants as epoch ms, types as a JSON array. */
export class SqliteWorkers implements WorkerStore {
  private readonly s: ReturnType<typeof prepareWorkers>;

  constructor(
    db: Database.Database,
    private readonly write: <T>(fn: () => T) => Promise<T>,
  ) {
    this.s = prepareWorkers(db);
  }

  async recordWorker(w: WorkerInfo, at: Date): Promise<RecordedWorker> {
    const row = await this.write(() => this.s.record.get({ ...w, types: JSON.stringify(w.types), at: at.getTime() }) as Row);
    const worker = workerFromRow(row);
    return { worker, started: worker.startedAt.getTime() === at.getTime() };
  }

  async stopWorker(id: string, at: Date): Promise<RegisteredWorker | null> {
    const row = await this.write(() => this.s.stop.get({ at: at.getTime(), id }) as Row | undefined);
    return row ? workerFromRow(row) : null;
  }

  async listWorkers(seenSince: Date, ids: readonly string[] = []): Promise<RegisteredWorker[]> {
    return (this.s.list.all(seenSince.getTime(), JSON.stringify(ids)) as Row[]).map(workerFromRow);
  }

  async pruneWorkers(before: Date): Promise<number> {
    return this.write(() => this.s.prune.run(before.getTime()).changes);
  }
}

function workerFromRow(r: Row): RegisteredWorker {
  return {
    id: r.id as string,
    host: r.host as string,
    pid: Number(r.pid),
    types: JSON.parse(r.types as string) as string[],
    concurrency: Number(r.concurrency),
    startedAt: new Date(Number(r.started_at)),
    lastSeen: new Date(Number(r.last_seen)),
    stoppedAt: r.stopped_at === null ? null : new Date(Number(r.stopped_at)),
  };
}

function prepareWorkers(db: Database.Database) {
  return {
    record: db.prepare(`INSERT INTO workers (id, host, pid, types, concurrency, started_at, last_seen, stopped_at)
      VALUES (@id, @host, @pid, @types, @concurrency, @at, @at, NULL)
      ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, types = excluded.types, concurrency = excluded.concurrency,
        started_at = CASE WHEN workers.stopped_at IS NULL THEN workers.started_at ELSE excluded.started_at END,
        last_seen = excluded.last_seen, stopped_at = NULL
      RETURNING *`),
    stop: db.prepare('UPDATE workers SET stopped_at = @at, last_seen = @at WHERE id = @id RETURNING *'),
    list: db.prepare('SELECT * FROM workers WHERE last_seen >= ? OR id IN (SELECT value FROM json_each(?)) ORDER BY id'),
    prune: db.prepare('DELETE FROM workers WHERE last_seen < ?'),
  };
}
