import type pg from 'pg';
import type { RunEndStatus } from '../../core/model.js';
import type { RunSeriesBucket } from '../../core/run-series.js';
import { seriesBuckets } from '../rows.js';
import type { DueStats, RunRate, RunSeriesQuery, WorkerActivity } from '../store.js';

/** The dashboard's reads (see sqlite-stats.ts): ranges of task_runs_finished and the leased-runs index. */
export const STATS_QUERIES = {
  runRates: `SELECT type, status, floor(extract(epoch FROM (ended - $1::timestamptz)) / 60)::int AS bucket, count(*)::int AS n
     FROM task_runs WHERE ended >= $1 AND ended < $2
     GROUP BY type, status, bucket ORDER BY type COLLATE "C", bucket, status`,
  // The range charts' buckets (see sqlite-stats.ts RUN_SERIES_SQL): a range of task_runs_finished.
  runSeries: `WITH r AS MATERIALIZED (
       SELECT floor(extract(epoch FROM (ended - $1::timestamptz)) * 1000 / $3::bigint)::int AS b, status,
         CASE WHEN started IS NULL THEN NULL ELSE greatest(0, extract(epoch FROM (started - scheduled)) * 1000)::float8 END AS lat
       FROM task_runs WHERE ended >= $1 AND ended < $2 AND ($4::text IS NULL OR type = $4::text)
     ),
     l AS (SELECT b, lat, row_number() OVER (PARTITION BY b ORDER BY lat) AS rn, count(*) OVER (PARTITION BY b) AS n FROM r WHERE lat IS NOT NULL)
     SELECT 'n' AS kind, b, status, count(*)::int AS n, NULL::float8 AS v, NULL::float8 AS v2 FROM r GROUP BY b, status
     UNION ALL SELECT 'l', b, NULL, count(*)::int, avg(lat), max(lat) FROM r WHERE lat IS NOT NULL GROUP BY b
     UNION ALL SELECT 'p', b, NULL, n::int, lat, NULL FROM l WHERE rn = greatest(1, (95 * n + 99) / 100)`,
  workerActivity: `SELECT worker, sum(running)::int AS running, max(beat) AS beat, max(last_ended) AS last_ended, sum(ended_n)::int AS ended_n FROM (
       SELECT r.worker AS worker, 1 AS running, least(r.lease_expires_at - y.lease_ms * interval '1 millisecond', $2) AS beat,
              NULL::timestamptz AS last_ended, 0 AS ended_n
       FROM task_runs r JOIN task_types y ON y.name = r.type
       WHERE r.status IN ('claimed', 'started') AND r.worker IS NOT NULL
       UNION ALL
       SELECT worker, 0, NULL, ended, 1 FROM task_runs
       WHERE ended >= $1 AND ended < $2 AND worker IS NOT NULL AND status <> 'lost'
     ) w GROUP BY worker ORDER BY worker COLLATE "C"`,
  // Per type: due tasks no run serves yet, counted through tasks_due up to a cap, and the oldest due
  // instant (the first entry of each rank's range); types without any are left out.
  dueStats: `SELECT y.name AS type, d.n AS due, o.t AS oldest FROM task_types y
     CROSS JOIN LATERAL (SELECT count(*)::int AS n FROM (SELECT 1 FROM tasks WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL
       AND priority_rank = ANY(ARRAY[0, 1, 2, 3]::smallint[]) AND next_run <= $1 LIMIT $2) x) d
     CROSS JOIN LATERAL (SELECT min(f.next_run) AS t FROM unnest(ARRAY[0, 1, 2, 3]::smallint[]) AS rk(rank) CROSS JOIN LATERAL (
       SELECT next_run FROM tasks WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND priority_rank = rk.rank
       ORDER BY next_run, id LIMIT 1) f) o
     WHERE o.t <= $1 ORDER BY y.name COLLATE "C"`,
} as const;

type Row = Record<string, unknown>;

/** The dashboard's reads of the PostgreSQL store (run rates, workers). */
export class PostgresStats {
  constructor(private readonly pool: pg.Pool) {}

  async dueStats(at: Date, cap: number): Promise<DueStats[]> {
    const { rows } = await this.pool.query(STATS_QUERIES.dueStats, [at, cap]);
    return (rows as Row[]).map((r) => ({ type: r.type as string, due: Number(r.due), oldestDue: r.oldest as Date }));
  }

  async runSeries(q: RunSeriesQuery): Promise<RunSeriesBucket[]> {
    const { rows } = await this.pool.query(STATS_QUERIES.runSeries, [q.since, q.until, q.bucketMs, q.type]);
    return seriesBuckets(rows as Row[], q);
  }

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
