import type pg from 'pg';
import type { RunEndStatus } from '../../core/model.js';
import type { RunRate, WorkerActivity } from '../store.js';

/** The dashboard's reads (see sqlite-stats.ts): ranges of task_runs_finished and the leased-runs index. */
export const STATS_QUERIES = {
  runRates: `SELECT type, status, floor(extract(epoch FROM (ended - $1::timestamptz)) / 60)::int AS bucket, count(*)::int AS n
     FROM task_runs WHERE ended >= $1 AND ended < $2
     GROUP BY type, status, bucket ORDER BY type, bucket, status`,
  workerActivity: `SELECT worker, sum(running)::int AS running, max(beat) AS beat, max(last_ended) AS last_ended, sum(ended_n)::int AS ended_n FROM (
       SELECT r.worker AS worker, 1 AS running, r.lease_expires_at - y.lease_ms * interval '1 millisecond' AS beat,
              NULL::timestamptz AS last_ended, 0 AS ended_n
       FROM task_runs r JOIN task_types y ON y.name = r.type
       WHERE r.status IN ('claimed', 'started') AND r.worker IS NOT NULL
       UNION ALL
       SELECT worker, 0, NULL, ended, 1 FROM task_runs
       WHERE ended >= $1 AND ended < $2 AND worker IS NOT NULL AND status <> 'lost'
     ) w GROUP BY worker ORDER BY worker`,
} as const;

type Row = Record<string, unknown>;

/** The dashboard's reads of the PostgreSQL store (run rates, workers). */
export class PostgresStats {
  constructor(private readonly pool: pg.Pool) {}

  async runRates(since: Date, at: Date): Promise<RunRate[]> {
    const { rows } = await this.pool.query(STATS_QUERIES.runRates, [since, at]);
    return (rows as Row[]).map((r) => ({
      type: r.type as string,
      status: r.status as RunEndStatus,
      minute: new Date(since.getTime() + Number(r.bucket) * 60_000),
      count: Number(r.n),
    }));
  }

  async workerActivity(since: Date, at: Date): Promise<WorkerActivity[]> {
    const { rows } = await this.pool.query(STATS_QUERIES.workerActivity, [since, at]);
    return (rows as Row[]).map((r) => ({
      worker: r.worker as string,
      running: Number(r.running),
      lastHeartbeat: (r.beat as Date | null) ?? null,
      lastEnded: (r.last_ended as Date | null) ?? null,
      ended: Number(r.ended_n),
    }));
  }
}
