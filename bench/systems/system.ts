import type { PgServer } from '../postgres-server.js';

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

/** Wall-clock milliseconds with sub-millisecond resolution, comparable between processes of one machine. */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
