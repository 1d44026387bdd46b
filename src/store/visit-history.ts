import type { VisitStatus } from '../core/visits.js';
import { date, ms, type Row } from './columns.js';

/**
 * Visit history (issue 9 item 5): the metrics of each (lister, visit type) over time, and every applied
 * visit of each origin. Shapes, bounds and row mappers shared by both stores.
 */

/** Points kept per (lister, visit type) by default: `updateMetrics` prunes the oldest beyond this. */
export const METRICS_HISTORY_KEEP = 10_000;

/** One `updateMetrics` of one (lister, visit type). */
export interface VisitMetricsPoint {
  at: Date;
  originsKnown: number;
  originsEnabled: number;
  originsNeverVisited: number;
  originsWithPendingChanges: number;
}

/** The points of one (lister, visit type), oldest first. */
export interface VisitMetricsSeries {
  listerId: string;
  visitType: string;
  points: VisitMetricsPoint[];
}

export interface MetricsHistoryFilter {
  listerId?: string;
  visitType?: string;
  /** Only points at or after this instant. */
  since?: Date;
  /** The last `limit` points of each (lister, visit type). */
  limit: number;
}

/** One applied visit of an origin (ignored late or duplicate results are not in the history). */
export interface OriginVisit {
  url: string;
  visitType: string;
  at: Date;
  status: VisitStatus;
  snapshot: string | null;
  eventful: boolean;
}

export interface OriginVisitsFilter {
  url: string;
  visitType: string;
  limit: number;
  /** Only visits strictly before this instant (the `at` of the last row of the previous page). */
  before?: Date;
}


/** The four origin counts of a metrics row (current metrics and their history alike). */
export function metricCountsFromRow(r: Row): Omit<VisitMetricsPoint, 'at'> {
  return {
    originsKnown: ms(r.origins_known),
    originsEnabled: ms(r.origins_enabled),
    originsNeverVisited: ms(r.origins_never_visited),
    originsWithPendingChanges: ms(r.origins_with_pending_changes),
  };
}

export function metricsPointFromRow(r: Row): VisitMetricsPoint {
  return {
    at: date(r.at),
    ...metricCountsFromRow(r),
  };
}

export function originVisitFromRow(r: Row): OriginVisit {
  return {
    url: r.url as string,
    visitType: r.visit_type as string,
    at: date(r.at),
    status: r.status as VisitStatus,
    snapshot: (r.snapshot ?? null) as string | null,
    eventful: r.eventful === true || r.eventful === 1,
  };
}

/** Groups rows ordered by (lister, visit type, at) into series. */
export function seriesFromRows(rows: readonly Row[]): VisitMetricsSeries[] {
  const out: VisitMetricsSeries[] = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    if (last && last.listerId === r.lister_id && last.visitType === r.visit_type) last.points.push(metricsPointFromRow(r));
    else out.push({ listerId: r.lister_id as string, visitType: r.visit_type as string, points: [metricsPointFromRow(r)] });
  }
  return out;
}
