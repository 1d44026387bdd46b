import type pg from 'pg';
import type { RegisteredWorker, WorkerInfo } from '../../core/worker-registry.js';
import type { Row } from '../rows.js';
import type { RecordedWorker, WorkerStore } from '../worker-store.js';

const RECORD = `INSERT INTO workers (id, host, pid, types, concurrency, started_at, last_seen, stopped_at)
  VALUES ($1, $2, $3, $4, $5, $6, $6, NULL)
  ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, types = excluded.types, concurrency = excluded.concurrency,
    started_at = CASE WHEN workers.stopped_at IS NULL THEN workers.started_at ELSE excluded.started_at END,
    last_seen = excluded.last_seen, stopped_at = NULL
  RETURNING *`;

/** The worker registry on PostgreSQL (WorkerStore): the `workers` table. */
export class PostgresWorkers implements WorkerStore {
  constructor(private readonly pool: pg.Pool) {}

  async recordWorker(w: WorkerInfo, at: Date): Promise<RecordedWorker> {
    const { rows } = await this.pool.query<Row>(RECORD, [w.id, w.host, w.pid, w.types, w.concurrency, at]);
    const worker = workerFromRow(rows[0]!);
    return { worker, started: worker.startedAt.getTime() === at.getTime() };
  }

  async stopWorker(id: string, at: Date): Promise<RegisteredWorker | null> {
    const { rows } = await this.pool.query<Row>('UPDATE workers SET stopped_at = $1, last_seen = $1 WHERE id = $2 RETURNING *', [at, id]);
    return rows[0] ? workerFromRow(rows[0]) : null;
  }

  async listWorkers(seenSince: Date, ids: readonly string[] = []): Promise<RegisteredWorker[]> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM workers WHERE last_seen >= $1 OR id = ANY($2::text[]) ORDER BY id COLLATE "C"', [seenSince, ids]);
    return rows.map(workerFromRow);
  }

  async pruneWorkers(before: Date): Promise<number> {
    return (await this.pool.query('DELETE FROM workers WHERE last_seen < $1', [before])).rowCount ?? 0;
  }
}

function workerFromRow(r: Row): RegisteredWorker {
  return {
    id: r.id as string,
    host: r.host as string,
    pid: Number(r.pid),
    types: r.types as string[],
    concurrency: Number(r.concurrency),
    startedAt: r.started_at as Date,
    lastSeen: r.last_seen as Date,
    stoppedAt: (r.stopped_at as Date | null) ?? null,
  };
}
