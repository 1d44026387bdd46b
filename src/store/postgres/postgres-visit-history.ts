import type pg from 'pg';
import type { VisitResult } from '../../core/visits.js';
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

type Q = pg.Pool | pg.PoolClient;

/**
 * The history reads, exported for EXPLAIN tests. The last points of every selected (lister, visit type):
 * one backward walk of the primary key per pair, LATERAL over the pairs of visit_metrics (every pair with
 * history has its current row there). $1 lister or null, $2 visit type or null, $3 since, $4 limit.
 */
export const PG_METRICS_HISTORY_SQL = `SELECT h.* FROM visit_metrics m CROSS JOIN LATERAL (
    SELECT * FROM visit_metrics_history h WHERE h.lister_id = m.lister_id AND h.visit_type = m.visit_type AND h.at >= $3
    ORDER BY h.at DESC LIMIT $4) h
  WHERE ($1::uuid IS NULL OR m.lister_id = $1) AND ($2::text IS NULL OR m.visit_type = $2)
  ORDER BY m.lister_id::text COLLATE "C", m.visit_type COLLATE "C", h.at`;
/** $1 url, $2 visit type, $3 before, $4 limit. */
export const PG_ORIGIN_VISITS_SQL = 'SELECT * FROM origin_visits WHERE url = $1 AND visit_type = $2 AND at < $3 ORDER BY at DESC LIMIT $4';

/** Inside recordVisits' transaction: the applied visits, in one statement. */
export async function appendOriginVisits(c: pg.PoolClient, applied: ReadonlyArray<VisitResult & { eventful: boolean }>): Promise<void> {
  if (applied.length === 0) return;
  await c.query(
    `INSERT INTO origin_visits (url, visit_type, at, status, snapshot, eventful)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::boolean[])
     ON CONFLICT (url, visit_type, at) DO NOTHING`,
    [applied.map((v) => v.url), applied.map((v) => v.visitType), applied.map((v) => v.at), applied.map((v) => v.status), applied.map((v) => v.snapshot), applied.map((v) => v.eventful)],
  );
}

/**
 * Inside updateMetrics' transaction: one point per metrics row (two updates at one instant leave one
 * point, the later), then each pair's points beyond `keep` are pruned, oldest first.
 */
export async function appendMetricsPoints(c: pg.PoolClient, rows: readonly VisitMetrics[], keep: number): Promise<void> {
  if (rows.length === 0) return;
  const listers = rows.map((m) => m.listerId);
  const types = rows.map((m) => m.visitType);
  await c.query(
    `INSERT INTO visit_metrics_history (lister_id, visit_type, at, origins_known, origins_enabled, origins_never_visited, origins_with_pending_changes)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
     ON CONFLICT (lister_id, visit_type, at) DO UPDATE SET origins_known = excluded.origins_known, origins_enabled = excluded.origins_enabled,
       origins_never_visited = excluded.origins_never_visited, origins_with_pending_changes = excluded.origins_with_pending_changes`,
    [
      listers,
      types,
      rows.map((m) => m.updated),
      rows.map((m) => m.originsKnown),
      rows.map((m) => m.originsEnabled),
      rows.map((m) => m.originsNeverVisited),
      rows.map((m) => m.originsWithPendingChanges),
    ],
  );
  // The keep-th newest point of each pair bounds what stays (none while fewer).
  await c.query(
    `DELETE FROM visit_metrics_history h USING (
       SELECT k.l, k.v, (SELECT at FROM visit_metrics_history x WHERE x.lister_id = k.l AND x.visit_type = k.v ORDER BY at DESC OFFSET $3 - 1 LIMIT 1) AS bound
       FROM unnest($1::uuid[], $2::text[]) AS k(l, v)) b
     WHERE h.lister_id = b.l AND h.visit_type = b.v AND h.at < b.bound`,
    [listers, types, keep],
  );
}

export async function getMetricsHistory(q: Q, f: MetricsHistoryFilter): Promise<VisitMetricsSeries[]> {
  const found = await q.query(PG_METRICS_HISTORY_SQL, [f.listerId ?? null, f.visitType ?? null, f.since ?? '-infinity', f.limit]);
  return seriesFromRows(found.rows as Row[]);
}

export async function getOriginVisits(q: Q, f: OriginVisitsFilter): Promise<OriginVisit[]> {
  const found = await q.query(PG_ORIGIN_VISITS_SQL, [f.url, f.visitType, f.before ?? 'infinity', f.limit]);
  return (found.rows as Row[]).map(originVisitFromRow);
}
