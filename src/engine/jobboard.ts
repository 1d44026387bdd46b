import type { OrreryError } from '../core/errors.js';
import type { RunEndStatus, RunLogRecord, TaskType } from '../core/model.js';
import type { ClaimOutcome, ClaimedRun, EndRunResult, HeartbeatAnswer } from '../store/store.js';

/** How a run ends, as its holder reports it (`Orrery.endRun`, `Jobboard.endRuns`). */
export interface EndRunOptions {
  at?: Date;
  status: RunEndStatus;
  worker?: string | null;
  metadata?: Record<string, unknown>;
  result?: unknown;
  error?: string | null;
  retryAfterMs?: number | null;
}

/**
 * What a worker needs from Orrery: the in-process service (`Orrery`) implements it over the store,
 * and `OrreryClient` implements it over the HTTP jobboard endpoints for workers that cannot reach
 * the database. Errors keep their OrreryError classes on both sides.
 */
export interface Jobboard {
  now(): Date;
  listTaskTypes(): Promise<TaskType[]>;
  claimRuns(opts: { worker: string; types: readonly string[]; limit: number }): Promise<ClaimedRun[]>;
  /**
   * Like claimRuns, also saying whether limits held runs back and when a rate limit frees a slot
   * (docs/limits.md); a worker uses it, when the board has it, to sleep until then instead of polling.
   */
  claim?(opts: { worker: string; types: readonly string[]; limit: number }): Promise<ClaimOutcome>;
  /** Started runs this worker holds (claim recovery after a lost reply). */
  heldRuns(worker: string): Promise<ClaimedRun[]>;
  /** Extends the lease; the answer says whether the run's cancellation was asked for. */
  heartbeat(backendId: string, opts: { worker: string }): Promise<HeartbeatAnswer>;
  endRuns(items: ReadonlyArray<{ backendId: string } & EndRunOptions>): Promise<Array<EndRunResult | OrreryError>>;
  abandonRun(backendId: string, opts: { worker: string; reason?: string; at?: Date }): Promise<EndRunResult>;
  appendRunLogs(backendId: string, records: readonly RunLogRecord[]): Promise<void>;
  /** Calls `listener` when runs may be waiting to be claimed; returns a function that unsubscribes. */
  onRunsScheduled(listener: () => void): () => void;
  /**
   * Calls `listener` when some started run's cancellation was asked for (the worker then heartbeats
   * its runs at once instead of at its next beat); optional: without it, heartbeats alone tell.
   */
  onCancelRequested?(listener: () => void): () => void;
}
