import type Database from 'better-sqlite3';
import type { RunEndStatus } from '../../core/model.js';
import type { RunSeriesBucket } from '../../core/run-series.js';
import { seriesBuckets } from '../rows.js';
import type { DueStats, RunRate, RunSeriesQuery, WorkerActivity } from '../store.js';

/** Finished runs of the window per type, status and minute: a range of task_runs_finished (ended, id). */
export const RUN_RATES_SQL = `
  SELECT type, status, CAST((ended - @since) / 60000 AS INTEGER) AS bucket, count(*) AS n
  FROM task_runs INDEXED BY task_runs_finished
  WHERE ended >= @since AND ended < @at
  GROUP BY type, status, bucket ORDER BY type, bucket, status`;

/**
 * The range charts' buckets: runs ended in [since, until) from task_runs_finished (ended, id), counted
 * per bucket and final status; per bucket, the start latency (started - scheduled) of those that had
 * started: count, mean and max, and the 95th percentile by nearest rank (row ⌈0.95 n⌉ in latency order).
 */
export const RUN_SERIES_SQL = `
  WITH r AS MATERIALIZED (
    SELECT CAST((ended - @since) / @bucket AS INTEGER) AS b, status,
      CASE WHEN started IS NULL THEN NULL ELSE max(0, started - scheduled) END AS lat
    FROM task_runs INDEXED BY task_runs_finished
    WHERE ended >= @since AND ended < @until AND (@type IS NULL OR type = @type)
  ),
  l AS (SELECT b, lat, row_number() OVER (PARTITION BY b ORDER BY lat) AS rn, count(*) OVER (PARTITION BY b) AS n FROM r WHERE lat IS NOT NULL)
  SELECT 'n' AS kind, b, status, count(*) AS n, NULL AS v, NULL AS v2 FROM r GROUP BY b, status
  UNION ALL SELECT 'l', b, NULL, count(*), avg(lat), max(lat) FROM r WHERE lat IS NOT NULL GROUP BY b
  UNION ALL SELECT 'p', b, NULL, n, lat, NULL FROM l WHERE rn = max(1, (95 * n + 99) / 100)`;

/**
 * Workers from the runs they hold (task_runs_leases: leased runs only) and the runs they ended in the
 * window (task_runs_finished); a lease renewed at T by a claim or heartbeat ends at T + the type's lease.
 */
export const WORKER_ACTIVITY_SQL = `
  SELECT worker, sum(running) AS running, max(beat) AS beat, max(last_ended) AS last_ended, sum(ended_n) AS ended_n FROM (
    SELECT r.worker AS worker, 1 AS running, min(r.lease_expires_at - y.lease_ms, @at) AS beat, NULL AS last_ended, 0 AS ended_n
    FROM task_runs r INDEXED BY task_runs_leases JOIN task_types y ON y.name = r.type
    WHERE r.status IN ('claimed', 'started') AND r.worker IS NOT NULL
    UNION ALL
    SELECT worker, 0, NULL, ended, 1
    FROM task_runs INDEXED BY task_runs_finished
    WHERE ended >= @since AND ended < @at AND worker IS NOT NULL AND status <> 'lost'
  ) GROUP BY worker ORDER BY worker`;

/**
 * Per type: due tasks no run serves yet, counted through tasks_due (type, priority_rank, next_run) up
 * to a cap, and the oldest due instant (the first entry of each rank's range). Types without any are
 * left out.
 */
export const DUE_STATS_SQL = `
  SELECT y.name AS type,
    (SELECT count(*) FROM (SELECT 1 FROM tasks INDEXED BY tasks_due WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL
       AND priority_rank IN (0, 1, 2, 3) AND next_run <= @at LIMIT @cap)) AS due,
    (SELECT min(t) FROM (SELECT (SELECT next_run FROM tasks INDEXED BY tasks_due WHERE type = y.name AND status = 'next_run_not_scheduled' AND paused_at IS NULL
       AND priority_rank = rk.rank ORDER BY next_run LIMIT 1) AS t FROM (SELECT 0 AS rank UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) rk)) AS oldest
  FROM task_types y ORDER BY y.name`;

type Row = Record<string, unknown>;

/** The dashboard's reads of the SQLite store (run rates, workers). */
export class SqliteStats {
  private readonly rates: Database.Statement;
  private readonly workers: Database.Statement;
  private readonly due: Database.Statement;
  private readonly series: Database.Statement;

  constructor(db: Database.Database) {
    this.series = db.prepare(RUN_SERIES_SQL);
    this.due = db.prepare(DUE_STATS_SQL);
    this.rates = db.prepare(RUN_RATES_SQL);
    this.workers = db.prepare(WORKER_ACTIVITY_SQL);
  }

  runRates(since: Date, at: Date): RunRate[] {
    const s = since.getTime();
    return (this.rates.all({ since: s, at: at.getTime() }) as Row[]).map((r) => ({
      type: r.type as string,
      status: r.status as RunEndStatus,
      minute: new Date(s + Number(r.bucket) * 60_000),
      count: Number(r.n),
    }));
  }

  runSeries(q: RunSeriesQuery): RunSeriesBucket[] {
    const rows = this.series.all({ since: q.since.getTime(), until: q.until.getTime(), bucket: q.bucketMs, type: q.type }) as Row[];
    return seriesBuckets(rows, q);
  }

  dueStats(at: Date, cap: number): DueStats[] {
    return (this.due.all({ at: at.getTime(), cap }) as Row[])
      .filter((r) => r.oldest !== null && Number(r.oldest) <= at.getTime())
      .map((r) => ({ type: r.type as string, due: Number(r.due), oldestDue: new Date(Number(r.oldest)) }));
  }

  workerActivity(since: Date, at: Date): WorkerActivity[] {
    return (this.workers.all({ since: since.getTime(), at: at.getTime() }) as Row[]).map((r) => ({
      worker: r.worker as string,
      running: Number(r.running),
      lastHeartbeat: r.beat === null ? null : new Date(Number(r.beat)),
      lastEnded: r.last_ended === null ? null : new Date(Number(r.last_ended)),
      ended: Number(r.ended_n),
    }));
  }
}

