import type { RunEndStatus } from '../core/model.js';

export const END_STATUSES = ['eventful', 'uneventful', 'failed', 'permfailed', 'lost'] as const satisfies readonly RunEndStatus[];
type Ends = Record<(typeof END_STATUSES)[number], number>;

/** One interval of one type: what series.csv prints. */
export interface IntervalStats {
  queueSum: number;
  queueSamples: number;
  queueMax: number;
  /** Handler-milliseconds of this type within the interval (running × time). */
  busyMs: number;
  started: number;
  ends: Ends;
  lags: number[];
}

/** Percentile (nearest rank) of sorted numbers; 0 when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const noEnds = (): Ends => ({ eventful: 0, uneventful: 0, failed: 0, permfailed: 0, lost: 0 });

/** A growable array of doubles (lags of a whole run can be millions). */
class Samples {
  private buf = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.buf.slice(0, this.length).sort();
  }
}

/**
 * What a simulation measures, per type and per interval: starts and their lag, ends by status, the
 * queue (sampled), and the handler time (integrated exactly over simulated time, for utilization).
 */
export class Collector {
  readonly types: string[];
  readonly intervals: number;
  private readonly series = new Map<string, IntervalStats[]>();
  private readonly lags = new Map<string, Samples>();
  private readonly queue = new Map<string, { sum: number; n: number; max: number }>();
  private readonly running = new Map<string, number>();
  private lastChange: number;
  readonly totals: Ends = noEnds();
  readonly endsByType = new Map<string, Ends>();
  closed = false;

  constructor(
    types: readonly string[],
    readonly from: number,
    readonly to: number,
    readonly intervalMs: number,
  ) {
    this.types = [...types].sort();
    this.intervals = Math.max(1, Math.ceil((to - from) / intervalMs));
    this.lastChange = from;
    for (const t of this.types) {
      this.series.set(
        t,
        Array.from({ length: this.intervals }, () => ({ queueSum: 0, queueSamples: 0, queueMax: 0, busyMs: 0, started: 0, ends: noEnds(), lags: [] })),
      );
      this.lags.set(t, new Samples());
      this.queue.set(t, { sum: 0, n: 0, max: 0 });
      this.running.set(t, 0);
      this.endsByType.set(t, noEnds());
    }
  }

  private index(at: number): number {
    return Math.min(this.intervals - 1, Math.max(0, Math.floor((at - this.from) / this.intervalMs)));
  }

  /** Adds running × elapsed time, split at interval boundaries, up to `at`. */
  private integrate(at: number): void {
    const end = Math.min(at, this.to);
    let t = this.lastChange;
    while (t < end) {
      const i = this.index(t);
      const boundary = Math.min(end, this.from + (i + 1) * this.intervalMs);
      for (const [type, n] of this.running) if (n > 0) this.series.get(type)![i]!.busyMs += n * (boundary - t);
      t = boundary;
    }
    this.lastChange = Math.max(this.lastChange, end);
  }

  /** Whether `at` falls in the window [from, to): events at `to` belong to the next window, not the last interval. */
  private inWindow(at: number): boolean {
    return at >= this.from && at < this.to;
  }

  /** The series interval holding `at`, or null outside the window [from, to). */
  intervalOf(at: number): number | null {
    return this.inWindow(at) ? this.index(at) : null;
  }

  /** A handler began at `at`, `lagMs` after its work became due. */
  started(type: string, at: number, lagMs: number): void {
    if (this.closed || !this.running.has(type) || !this.inWindow(at)) return;
    this.integrate(at);
    this.running.set(type, this.running.get(type)! + 1);
    const s = this.series.get(type)![this.index(at)]!;
    s.started += 1;
    s.lags.push(lagMs);
    this.lags.get(type)!.push(lagMs);
  }

  /** A handler settled (or its process died) at `at`. */
  stopped(type: string, at: number): void {
    if (this.closed || !this.running.has(type) || at >= this.to) return;
    this.integrate(at);
    this.running.set(type, Math.max(0, this.running.get(type)! - 1));
  }

  /** A run ended (worker end, reaper, abandon). */
  ended(type: string, status: RunEndStatus, at: number): void {
    if (this.closed || !this.running.has(type) || !(status in this.totals) || !this.inWindow(at)) return;
    const k = status as keyof Ends;
    this.series.get(type)![this.index(at)]!.ends[k] += 1;
    this.totals[k] += 1;
    this.endsByType.get(type)![k] += 1;
  }

  /** The work of a type waiting at `at`: due tasks not yet queued, queued runs, buffered runs. */
  sampleQueue(type: string, at: number, waiting: number): void {
    if (this.closed || !this.running.has(type) || !this.inWindow(at)) return;
    const s = this.series.get(type)![this.index(at)]!;
    s.queueSum += waiting;
    s.queueSamples += 1;
    s.queueMax = Math.max(s.queueMax, waiting);
    const q = this.queue.get(type)!;
    q.sum += waiting;
    q.n += 1;
    q.max = Math.max(q.max, waiting);
  }

  /** Closes the books at the end of the simulated window. */
  close(): void {
    this.integrate(this.to);
    this.closed = true;
  }

  intervalsOf(type: string): readonly IntervalStats[] {
    return this.series.get(type)!;
  }

  lagSummary(type: string): { mean: number; p50: number; p95: number; p99: number; max: number } {
    const s = this.lags.get(type)!.sorted();
    let sum = 0;
    for (const v of s) sum += v;
    return { mean: s.length ? sum / s.length : 0, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : 0 };
  }

  queueSummary(type: string): { mean: number; max: number } {
    const q = this.queue.get(type)!;
    return { mean: q.n ? q.sum / q.n : 0, max: q.max };
  }

  busyMs(type?: string): number {
    const types = type ? [type] : this.types;
    let sum = 0;
    for (const t of types) for (const s of this.series.get(t)!) sum += s.busyMs;
    return sum;
  }
}
