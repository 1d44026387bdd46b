import type { PgServer } from '../postgres-server.js';

/** The task type (Orrery) or task identifier every system's drains and latency rounds use. */
export const BENCH_TYPE = 'noop';

export const SYSTEM_NAMES = ['orrery-sqlite', 'orrery-pg', 'graphile-worker', 'pg-boss'] as const;
export type SystemName = (typeof SYSTEM_NAMES)[number];

/** What one measurement has to work with: the shared PostgreSQL server and a scratch directory. */
export interface BenchEnv {
  pg: PgServer | null;
  dir: string;
}

/** One fresh, empty queue of a system (a SQLite file or a PostgreSQL database of its own), seen from the bench process. */
export interface Instance {
  /** How the worker process reaches it (a SQLite path or a PostgreSQL URL). */
  db: string;
  /** Enqueues n one-shot no-op tasks in the system's fastest documented batch call; returns the milliseconds of that call alone. */
  enqueue(n: number): Promise<number>;
  /** Creates one task whose handler reports `sentAt` (latency runs). */
  createOne(sentAt: number): Promise<void>;
  /** Whether some task is still waiting or running. */
  pending(): Promise<boolean>;
  /** How many tasks are recorded complete. */
  completed(): Promise<number>;
  close(): Promise<void>;
}

export interface System {
  name: SystemName;
  label: string;
  store: 'sqlite' | 'postgres';
  /** Settings used, for the report. */
  settings(concurrency: number): string;
  open(env: BenchEnv, tag: string): Promise<Instance>;
}

/** What a task's handler receives; `sentAt` (ms, performance.timeOrigin + now) is set on latency tasks. */
export interface Payload {
  sentAt?: number;
}

/** Runs a worker's claims returned, and how many of them the claims created directly from due tasks. */
export interface ClaimCounts {
  runs: number;
  created: number;
}

/** A system's worker, inside the worker process: prepared (connected, migrated) first, then started on the clock. */
export interface PreparedWorker {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Its claims so far (Orrery only). */
  claims?(): ClaimCounts;
}

export interface WorkerModule {
  prepareWorker(opts: { db: string; concurrency: number; handle: (p: Payload) => void }): Promise<PreparedWorker>;
}

/** The wall clock minus the monotonic clock, read at the edge of a millisecond (see anchorPreciseNow). */
let anchor = performance.timeOrigin;

/** Readings of the anchor that anchorPreciseNow takes the largest of. */
export const ANCHOR_READINGS = 7;

/**
 * Reads the wall clock again for preciseNow, at the instant its millisecond changes (a spin of at
 * most 1 ms), so the anchor is exact to a few microseconds. A long-lived process must call it before
 * each latency measurement: its monotonic clock does not follow adjustments of the system clock, and
 * one seen during a full run put 1.8 to 2.6 s between the bench process and the fresh worker
 * processes of later rounds. A reading interrupted between the two clocks (the process descheduled
 * after the millisecond changed) comes out smaller by the interruption: up to 1.4 ms here, and a
 * round's latencies with it. So it keeps the largest of ANCHOR_READINGS readings (`largestAnchor`).
 */
export function anchorPreciseNow(): void {
  anchor = largestAnchor(() => Date.now(), () => performance.now(), ANCHOR_READINGS);
}

/** The largest of `readings` anchors, each the wall clock at the edge of its millisecond minus the monotonic clock just after. */
export function largestAnchor(wall: () => number, mono: () => number, readings: number): number {
  let best = -Infinity;
  for (let i = 0; i < readings; i++) {
    const before = wall();
    let now = before;
    while (now === before) now = wall();
    best = Math.max(best, now - mono());
  }
  return best;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes of one machine once both anchored. */
export function preciseNow(): number {
  return anchor + performance.now();
}
