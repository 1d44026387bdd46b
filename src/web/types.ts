/** Shapes the dashboard reads, as the HTTP client returns them (web depends on the client only). */
import type { OrreryClient } from '../http/client.js';
import type { DagClient } from '../http/dag-client.js';
import type { StatsClient } from '../http/dashboard-client.js';
import type { VisitClient } from '../http/visit-client.js';

type Result<F> = F extends (...a: never[]) => Promise<infer R> ? R : never;

export type TaskWithRuns = Result<OrreryClient['getTask']>;
export type RunLogRecord = Result<OrreryClient['getRunLogs']>[number];
export type RunRate = Result<StatsClient['runRates']>['rates'][number];
export type DagSummary = Result<DagClient['list']>[number];
export type DagSchedule = DagSummary['schedule'];
export type DagRunSummary = Result<DagClient['runs']>[number];
export type DagTaskView = Result<DagClient['run']>['tasks'][number];
export type VisitMetrics = Result<VisitClient['getMetrics']>[number];
export type VisitMetricsSeries = Result<VisitClient['getMetricsHistory']>[number];
export type OriginVisit = Result<VisitClient['getOriginVisits']>[number];
