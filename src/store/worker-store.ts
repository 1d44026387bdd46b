import type { RegisteredWorker, WorkerInfo } from '../core/worker-registry.js';

/** What recording a worker answers: its row, and whether it (re)started: a new id, or one that had stopped. */
export interface RecordedWorker {
  worker: RegisteredWorker;
  started: boolean;
}

/** The worker registry (core/worker-registry.ts, docs/operations.md#workers): one row per worker process. */
export interface WorkerStore {
  /**
   * Registers a worker or refreshes its row: its description as given, `lastSeen = at`, not stopped.
   * A new id, or one marked stopped, (re)starts at `at` (`started: true`); otherwise `startedAt` stays.
   */
  recordWorker(worker: WorkerInfo, at: Date): Promise<RecordedWorker>;
  /** Marks a worker stopped at `at` (also its `lastSeen`); null for an unknown id. */
  stopWorker(id: string, at: Date): Promise<RegisteredWorker | null>;
  /** Workers last seen at or after `seenSince` (stopped ones too), and those of `ids` whenever seen; by id. */
  listWorkers(seenSince: Date, ids?: readonly string[]): Promise<RegisteredWorker[]>;
  /** Deletes the rows last seen before `before`; answers how many. */
  pruneWorkers(before: Date): Promise<number>;
}
