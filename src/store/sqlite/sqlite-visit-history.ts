import type Database from 'better-sqlite3';
import type { Row } from '../rows.js';
import {
  originVisitFromRow,
  seriesFromRows,
  type MetricsHistoryFilter,
  type OriginVisit,
  type OriginVisitsFilter,
  type VisitMetricsSeries,
} from '../visit-history.js';
import type { VisitMetrics } from '../visit-store.js';

/** The history reads (named parameters), exported for EXPLAIN QUERY PLAN tests. */
export const SQLITE_HISTORY_READS = {
  lastPoints: 'SELECT * FROM visit_metrics_history WHERE lister_id = @lister AND visit_type = @vt AND at >= @since ORDER BY at DESC LIMIT @n',
  visits: 'SELECT * FROM origin_visits WHERE url = @url AND visit_type = @vt AND at < @before ORDER BY at DESC LIMIT @n',
};

/** The earliest instant SQLite stores (epoch ms): "since the beginning". */
const ALWAYS = -8.64e15;

/**
 * Visit history on SQLite (migration 0007). The appends run inside the caller's write transaction
 * (recordVisit, updateMetrics); every read walks a primary key backwards.
 */
export class SqliteVisitHistory {
  private readonly s: ReturnType<typeof prepare>;

  constructor(private readonly db: Database.Database) {
    this.s = prepare(db);
  }

  /** Inside recordVisit's transaction, for an applied visit. */
  appendVisit(v: { url: string; visitType: string; at: Date; status: string; snapshot: string | null; eventful: boolean }): void {
    this.s.appendVisit.run({ url: v.url, vt: v.visitType, at: v.at.getTime(), status: v.status, snapshot: v.snapshot, eventful: v.eventful ? 1 : 0 });
  }

  /** Inside updateMetrics' transaction: one point per row, then the oldest beyond `keep` of each pair are pruned. */
  appendMetrics(rows: readonly VisitMetrics[], keep: number): void {
    for (const m of rows) {
      const p = { lister: m.listerId, vt: m.visitType };
      this.s.appendPoint.run({
        ...p,
        at: m.updated.getTime(),
        known: m.originsKnown,
        enabled: m.originsEnabled,
        never: m.originsNeverVisited,
        pending: m.originsWithPendingChanges,
      });
      this.s.prune.run({ ...p, keep });
    }
  }

  getMetricsHistory(f: MetricsHistoryFilter): VisitMetricsSeries[] {
    const pairs = this.s.pairs.all({ lister: f.listerId ?? null, vt: f.visitType ?? null }) as Row[];
    const since = f.since ? f.since.getTime() : ALWAYS;
    const rows = pairs.flatMap((p) => (this.s.lastPoints.all({ lister: p.lister_id, vt: p.visit_type, since, n: f.limit }) as Row[]).reverse());
    return seriesFromRows(rows);
  }

  getOriginVisits(f: OriginVisitsFilter): OriginVisit[] {
    const before = f.before ? f.before.getTime() : -ALWAYS;
    return (this.s.visits.all({ url: f.url, vt: f.visitType, before, n: f.limit }) as Row[]).map(originVisitFromRow);
  }
}

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    appendVisit: p(`INSERT INTO origin_visits (url, visit_type, at, status, snapshot, eventful) VALUES (@url, @vt, @at, @status, @snapshot, @eventful)
      ON CONFLICT (url, visit_type, at) DO NOTHING`),
    // Two updates at one instant leave one point: the later counts.
    appendPoint: p(`INSERT INTO visit_metrics_history (lister_id, visit_type, at, origins_known, origins_enabled, origins_never_visited,
        origins_with_pending_changes) VALUES (@lister, @vt, @at, @known, @enabled, @never, @pending)
      ON CONFLICT (lister_id, visit_type, at) DO UPDATE SET origins_known = excluded.origins_known, origins_enabled = excluded.origins_enabled,
        origins_never_visited = excluded.origins_never_visited, origins_with_pending_changes = excluded.origins_with_pending_changes`),
    // The keep-th newest point bounds what stays (NULL while fewer: nothing goes).
    prune: p(`DELETE FROM visit_metrics_history WHERE lister_id = @lister AND visit_type = @vt AND at < (
        SELECT at FROM visit_metrics_history WHERE lister_id = @lister AND visit_type = @vt ORDER BY at DESC LIMIT 1 OFFSET @keep - 1)`),
    // Every pair with history has its current metrics row (both are written together).
    pairs: p(`SELECT lister_id, visit_type FROM visit_metrics WHERE (@lister IS NULL OR lister_id = @lister) AND (@vt IS NULL OR visit_type = @vt)
      ORDER BY lister_id, visit_type`),
    lastPoints: p(SQLITE_HISTORY_READS.lastPoints),
    visits: p(SQLITE_HISTORY_READS.visits),
  };
}

