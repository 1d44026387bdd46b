import type { Orrery } from '../engine/service.js';
import { Collector, END_STATUSES, percentile } from './collector.js';
import type { Scenario } from './scenario.js';
import type { DagsSummary, SimWorld, VisitCounts, VisitsSummary } from './world.js';

/** The percentiles of a sample, in milliseconds. */
export interface LagSummary {
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** What `simulate` answers and `summary.json` holds (docs/simulate.md). */
export interface SimulationSummary {
  scenario: string;
  seed: number;
  store: string;
  simulated: { from: string; to: string };
  intervalMs: number;
  wallMs: number;
  runsPerWallSecond: number;
  runs: { total: number; eventful: number; uneventful: number; failed: number; permfailed: number; lost: number };
  byType: Record<
    string,
    {
      runs: number;
      ended: { eventful: number; uneventful: number; failed: number; permfailed: number; lost: number };
      lagMs: LagSummary;
      queue: { mean: number; max: number };
      utilization: number;
      finalIntervalMs: { min: number; p50: number; max: number } | null;
    }
  >;
  workers: { processes: number; slots: number; utilization: number; crashes: number };
  /** Per DAG of the scenario: its runs in the window (only with `dags`). */
  dags?: DagsSummary;
  /** The crawled origins at the end and the visits of the window (only with `visits`). */
  visits?: VisitsSummary;
}

/** One row of series.csv: one interval of one type. */
export interface SeriesRow {
  start: string;
  type: string;
  queueMean: number;
  queueMax: number;
  runningMean: number;
  started: number;
  eventful: number;
  uneventful: number;
  failed: number;
  permfailed: number;
  lost: number;
  lagP50Ms: number;
  lagP95Ms: number;
  lagP99Ms: number;
  utilization: number;
  /** The visits of a visit type in the interval (only with `visits`; zeros for other types). */
  visits?: VisitCounts;
}

/** A summary and its series. */
export interface SimulationResult {
  summary: SimulationSummary;
  series: SeriesRow[];
}

/** summary.json's content. */
export async function summarize(orrery: Orrery, s: Scenario, c: Collector, world: SimWorld, w: { wallMs: () => number; slots: number; processes: number; crashes: number }): Promise<SimulationSummary> {
  const total = END_STATUSES.reduce((sum, k) => sum + c.totals[k], 0);
  const spanMs = c.to - c.from;
  const byType: SimulationSummary['byType'] = {};
  const intervals = await finalIntervals(orrery, c.types);
  for (const t of c.types) {
    const ends = c.endsByType.get(t)!;
    byType[t] = {
      runs: END_STATUSES.reduce((sum, k) => sum + ends[k], 0),
      ended: { ...ends },
      lagMs: round(c.lagSummary(t)),
      queue: round(c.queueSummary(t)),
      utilization: roundTo(w.slots > 0 ? c.busyMs(t) / (w.slots * spanMs) : 0, 4),
      finalIntervalMs: intervals.get(t) ?? null,
    };
  }
  const worldPart = await world.summary(c.to);
  // Read last: the summary's own reads (DAG runs, visit metrics) are part of how long it took.
  const wallMs = w.wallMs();
  return {
    scenario: s.name,
    seed: s.seed,
    store: s.store.startsWith('postgres') ? 'postgres' : s.store,
    simulated: { from: new Date(c.from).toISOString(), to: new Date(c.to).toISOString() },
    intervalMs: s.interval,
    wallMs,
    runsPerWallSecond: wallMs > 0 ? Math.round((total / wallMs) * 1000) : 0,
    runs: { total, ...c.totals },
    byType,
    workers: { processes: w.processes, slots: w.slots, utilization: roundTo(w.slots > 0 ? c.busyMs() / (w.slots * spanMs) : 0, 4), crashes: w.crashes },
    ...worldPart,
  };
}

/**
 * The current intervals of each type's recurring adaptive tasks at the end (a type without any: null).
 * One pass over the tasks in id order (a primary-key range per page, whatever the types).
 */
async function finalIntervals(orrery: Orrery, types: readonly string[]): Promise<Map<string, { min: number; p50: number; max: number } | null>> {
  const values = new Map<string, number[]>(types.map((t) => [t, []]));
  const page = 10_000;
  for (let afterId = 0; ; ) {
    const tasks = await orrery.store.searchTasks({ afterId, limit: page });
    for (const t of tasks) if (t.policy === 'recurring' && t.currentIntervalMs !== null && t.schedule.kind === 'adaptive') values.get(t.type)?.push(t.currentIntervalMs);
    if (tasks.length < page) break;
    afterId = tasks[tasks.length - 1]!.id;
  }
  const out = new Map<string, { min: number; p50: number; max: number } | null>();
  for (const [type, v] of values) {
    v.sort((a, b) => a - b);
    out.set(type, v.length === 0 ? null : { min: v[0]!, p50: percentile(v, 50), max: v[v.length - 1]! });
  }
  return out;
}

/** series.csv's rows: one per interval per type. */
export function seriesOf(c: Collector, slots: number, world: SimWorld): SeriesRow[] {
  const rows: SeriesRow[] = [];
  for (let i = 0; i < c.intervals; i++) {
    const start = c.from + i * c.intervalMs;
    const len = Math.min(c.intervalMs, c.to - start);
    for (const t of c.types) {
      const x = c.intervalsOf(t)[i]!;
      const lags = [...x.lags].sort((a, b) => a - b);
      rows.push({
        start: new Date(start).toISOString(),
        type: t,
        queueMean: roundTo(x.queueSamples ? x.queueSum / x.queueSamples : 0, 2),
        queueMax: x.queueMax,
        runningMean: roundTo(len > 0 ? x.busyMs / len : 0, 3),
        started: x.started,
        ...x.ends,
        lagP50Ms: Math.round(percentile(lags, 50)),
        lagP95Ms: Math.round(percentile(lags, 95)),
        lagP99Ms: Math.round(percentile(lags, 99)),
        utilization: roundTo(slots > 0 && len > 0 ? x.busyMs / (slots * len) : 0, 4),
        ...(world.hasVisits ? { visits: { ...world.visitsOf(t, i) } } : {}),
      });
    }
  }
  return rows;
}

function roundTo(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function round<T extends Record<string, number>>(o: T): T {
  const out = {} as Record<string, number>;
  for (const [k, v] of Object.entries(o)) out[k] = roundTo(v, 3);
  return out as T;
}
