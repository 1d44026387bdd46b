/**
 * The dashboard's range charts (GET /api/stats/series): which buckets a range has, and the whole
 * series built from the buckets a store read (a store returns only the buckets that had ended runs).
 */
import { invalid } from './errors.js';
import { EARLIEST_INSTANT_MS, LATEST_INSTANT_MS } from './instants.js';
import { RUN_END_STATUSES, type RunEndStatus } from './model.js';

/** The ranges a series covers, each with its bucket width: 60 one-minute, 96 quarter-hour or 168 one-hour buckets. */
export const SERIES_RANGES = {
  '1h': { rangeMs: 3_600_000, bucketMs: 60_000 },
  '24h': { rangeMs: 86_400_000, bucketMs: 900_000 },
  '7d': { rangeMs: 604_800_000, bucketMs: 3_600_000 },
} as const;
export type SeriesRange = keyof typeof SERIES_RANGES;
export const SERIES_RANGE_NAMES = Object.keys(SERIES_RANGES) as SeriesRange[];

/** The window of a range read at `at`: whole buckets, the last one holding `at`, so successive readings line up. */
export interface SeriesWindow {
  range: SeriesRange;
  /** Start of the first bucket. */
  since: Date;
  /** End of the last bucket (exclusive). */
  until: Date;
  bucketMs: number;
}

export function seriesWindow(range: string, at: Date): SeriesWindow {
  if (typeof range !== 'string' || !Object.hasOwn(SERIES_RANGES, range)) throw invalid('range', `must be one of ${SERIES_RANGE_NAMES.join(', ')}`);
  const { rangeMs, bucketMs } = SERIES_RANGES[range as SeriesRange];
  // Within the instants both stores hold: read at the latest instant, the window ends at the last
  // whole bucket before it; near the earliest, it starts at the first whole bucket after it.
  let until = Math.min((Math.floor(at.getTime() / bucketMs) + 1) * bucketMs, Math.floor(LATEST_INSTANT_MS / bucketMs) * bucketMs);
  if (until - rangeMs < EARLIEST_INSTANT_MS) until = Math.ceil(EARLIEST_INSTANT_MS / bucketMs) * bucketMs + rangeMs;
  return { range: range as SeriesRange, since: new Date(until - rangeMs), until: new Date(until), bucketMs };
}

/** What a store reads for one bucket with ended runs (`Store.runSeries`). */
export interface RunSeriesBucket {
  /** Start of the bucket. */
  at: Date;
  /** Runs that ended in the bucket, by final status (a status absent: none). */
  ended: Partial<Record<RunEndStatus, number>>;
  /** Of those runs, the ones that had started: how many, and their start latency (started − scheduled). */
  started: number;
  /** Mean start latency, ms; null when no run of the bucket had started. */
  latencyMeanMs: number | null;
  /** 95th percentile (nearest rank) of the start latency, ms. */
  latencyP95Ms: number | null;
  /** Longest start latency, ms. */
  latencyMaxMs: number | null;
}

/** One point of a series: every status counted (zeros included). */
export interface RunSeriesPoint extends Omit<RunSeriesBucket, 'ended'> {
  ended: Record<RunEndStatus, number>;
}

export interface RunSeries extends SeriesWindow {
  /** The task type the series is limited to, or null for every type. */
  type: string | null;
  /** One point per bucket, oldest first, empty buckets included. */
  points: RunSeriesPoint[];
}

const zeros = (): Record<RunEndStatus, number> => Object.fromEntries(RUN_END_STATUSES.map((s) => [s, 0])) as Record<RunEndStatus, number>;

/** The whole series of a window from the buckets a store read (buckets outside the window are dropped). */
export function fillSeries(window: SeriesWindow, type: string | null, buckets: readonly RunSeriesBucket[]): RunSeries {
  const n = Math.round((window.until.getTime() - window.since.getTime()) / window.bucketMs);
  const points: RunSeriesPoint[] = Array.from({ length: n }, (_, i) => ({
    at: new Date(window.since.getTime() + i * window.bucketMs),
    ended: zeros(),
    started: 0,
    latencyMeanMs: null,
    latencyP95Ms: null,
    latencyMaxMs: null,
  }));
  for (const b of buckets) {
    const i = Math.floor((b.at.getTime() - window.since.getTime()) / window.bucketMs);
    const p = points[i];
    if (!p) continue;
    for (const s of RUN_END_STATUSES) p.ended[s] += b.ended[s] ?? 0;
    p.started = b.started;
    p.latencyMeanMs = b.latencyMeanMs;
    p.latencyP95Ms = b.latencyP95Ms;
    p.latencyMaxMs = b.latencyMaxMs;
  }
  return { ...window, type, points };
}

/** The rank (1-based, in ascending order) of the 95th percentile among `n` values: nearest rank, ⌈0.95 n⌉. */
export const p95Rank = (n: number): number => Math.max(1, Math.ceil((95 * n) / 100));
