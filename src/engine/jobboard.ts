import type { OrreryError } from '../core/errors.js';
import type { RunEndStatus, RunLogRecord, Task, TaskRun, TaskType } from '../core/model.js';
import type { ClaimOutcome, ClaimedRun, EndRunResult, HeartbeatAnswer, HeartbeatItem, HeartbeatRunsAnswer } from '../store/store.js';
import type { Clock } from './clock.js';
import type { WorkerInfo } from '../core/worker-registry.js';

/** How a run ends, as its holder reports it (`Orrery.endRun`, `Jobboard.endRuns`). */
export interface EndRunOptions {
  /** The end instant (default: the clock's now). */
  at?: Date;
  /** How the run ended: `eventful`, `uneventful`, `failed`, `permfailed` or `lost`. */
  status: RunEndStatus;
  /** The worker ending it: refused (`LeaseLostError`) when another worker holds the run. */
  worker?: string | null;
  /** Free-form JSON stored on the run. */
  metadata?: Record<string, unknown>;
  /** The handler's result (JSON), stored on the run. */
  result?: unknown;
  /** The error text of a failed, permfailed or lost run. */
  error?: string | null;
  /** For a failed run: the delay before its retry, replacing the type's `retryDelayMs` once (`RetryAfter`). */
  retryAfterMs?: number | null;
  /**
   * The handler signalled pressure downstream (`RetryAfter(ms, { throttle: true })`, or `throttle: true`
   * in its result): once the end is recorded, the effective rate of the run's type, or of its key, drops
   * (docs/limits.md#adaptive-limits).
   */
  throttle?: boolean;
  /** When the handler began; recorded as the run's start when the run is still `claimed` (one write for both). */
  startedAt?: Date | null;
  /**
   * The run and task as the claim returned them (in-process workers only): the store ends the run
   * from them without reading it back, guarded against changes since (`EndRunItem.held`).
   */
  held?: { run: TaskRun; task: Task };
}

/** What a worker asks a claim for: up to `limit` runs, the first `startNow` of them started at once (ClaimRequest). */
export interface ClaimOptions {
  worker: string;
  types: readonly string[];
  limit: number;
  startNow?: number;
  /**
   * A remote board (OrreryClient) waits at most this long for the answer (its request timeout, if
   * shorter); the in-process service ignores it. A worker sets it (core claimAnswerWithinMs).
   */
  answerWithinMs?: number;
}

/**
 * What a worker needs from Orrery: the in-process service (`Orrery`) implements it over the store,
 * and `OrreryClient` implements it over the HTTP jobboard endpoints for workers that cannot reach
 * the database. Errors keep their OrreryError classes on both sides; an implementation reports the
 * database (or itself) being away for now with code `storage_unavailable` (StorageUnavailableError),
 * the only error the worker retries.
 */
export interface Jobboard {
  /** The board's current instant. */
  now(): Date;
  /**
   * The board's clock (the in-process service's): a worker on this board takes its timers from it
   * unless `WorkerOptions.clock` says otherwise; without one, the system clock.
   */
  readonly clock?: Clock;
  /**
   * The most runs one claim may ask for (the HTTP jobboard's 1,000); none when unbounded. A worker asks
   * for no more, so a full answer reads as "maybe more waiting", not as a drained queue.
   */
  readonly maxClaim?: number;
  /** Every task type (a worker serves those with a handler). */
  listTaskTypes(): Promise<TaskType[]>;
  /** Claims waiting runs (and, with `due`, due tasks) for a worker, each under a lease. */
  claimRuns(opts: ClaimOptions): Promise<ClaimedRun[]>;
  /**
   * Like claimRuns, also saying whether limits held runs back and when a rate limit frees a slot
   * (docs/limits.md); a worker uses it, when the board has it, to sleep until then instead of polling.
   */
  claim?(opts: ClaimOptions): Promise<ClaimOutcome>;
  /** Claimed and started runs this worker holds (claim recovery after a lost reply); `answerWithinMs` as for a claim. */
  heldRuns(worker: string, opts?: { answerWithinMs?: number }): Promise<ClaimedRun[]>;
  /** Extends the lease; the answer says whether the run's cancellation was asked for. */
  heartbeat(backendId: string, opts: { worker: string }): Promise<HeartbeatAnswer>;
  /** One heartbeat for all of a worker's held runs; those with `startedAt` are marked started. */
  heartbeatRuns(opts: { worker: string; runs: readonly HeartbeatItem[]; answerWithinMs?: number }): Promise<HeartbeatRunsAnswer>;
  /**
   * Gives claimed runs whose handlers never began back to the queue (no retry consumed), and lets go of
   * the worker's runs among them that were withdrawn from it; with `withdrawnOnly`, only lets go.
   */
  releaseRuns(opts: { worker: string; backendIds: readonly string[]; withdrawnOnly?: boolean; answerWithinMs?: number }): Promise<number>;
  /**
   * Ends many runs; each item gets its result or the `OrreryError` that refused it, in input order.
   * `answerWithinMs` as for a claim: an answer not come by then fails as unavailable, and the worker
   * sends the end again (a repeat of an end recorded is recognised).
   */
  endRuns(items: ReadonlyArray<{ backendId: string } & EndRunOptions>, opts?: { answerWithinMs?: number }): Promise<Array<EndRunResult | OrreryError>>;
  /** Ends a held run `lost` because its worker gives it up (shutdown past the grace); `startedAt`: when its handler began; `answerWithinMs` as for an end. */
  abandonRun(backendId: string, opts: { worker: string; reason?: string; at?: Date; startedAt?: Date | null; answerWithinMs?: number }): Promise<EndRunResult>;
  /** Appends handler log records to a run; `answerWithinMs` as for a claim (records not taken by then are lost, and said so). */
  appendRunLogs(backendId: string, records: readonly RunLogRecord[], opts?: { answerWithinMs?: number }): Promise<void>;
  /** Calls `listener` when runs may be waiting to be claimed; returns a function that unsubscribes. */
  onRunsScheduled(listener: () => void): () => void;
  /**
   * Calls `listener` when some started run's cancellation was asked for (the worker then heartbeats
   * its runs at once instead of at its next beat); optional: without it, heartbeats alone tell.
   */
  onCancelRequested?(listener: () => void): () => void;
  /**
   * Calls `listener` when a task type was edited, paused or resumed (the worker then reads the types
   * again and gives back the buffered runs of a paused type); optional: without it, the worker reads
   * the types every 5 s.
   */
  onTypesChanged?(listener: () => void): () => void;
  /**
   * Registers the worker, or refreshes its registry row (last seen now): a worker calls it at start and
   * every WORKER_REFRESH_MS, busy or idle (docs/operations.md#workers). Optional: a board without it
   * keeps no registry, and its workers are known only by their runs.
   */
  registerWorker?(worker: WorkerInfo, opts?: { answerWithinMs?: number }): Promise<unknown>;
  /** Marks the worker stopped (its graceful stop). Optional, with `registerWorker`; `answerWithinMs` as for a claim. */
  stopWorker?(id: string, opts?: { answerWithinMs?: number }): Promise<unknown>;
}
