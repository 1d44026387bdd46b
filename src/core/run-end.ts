import { endOfRun, type EndCause, type TaskUpdate } from './end-of-run.js';
import { InvalidTransitionError, LeaseLostError } from './errors.js';
import { CANCELLED_ERROR, canTransition, isFinalRunStatus, isHeldRunStatus, type RunEndStatus, type Task, type TaskRun, type TaskType } from './model.js';

export interface RunEndRequest {
  status: RunEndStatus;
  at: Date;
  cause: EndCause;
  /** When given, only this worker (the lease holder) may end the run. */
  worker?: string | null;
  metadata?: Record<string, unknown>;
  result?: unknown;
  error?: string | null;
  retryAfterMs?: number | null;
  /**
   * When the handler began: recorded as the run's `started` instant when the run is still `claimed`
   * in the store (its start rides with its end, one write instead of two).
   */
  startedAt?: Date | null;
}

export interface RunEndPlan {
  run: Pick<TaskRun, 'status' | 'started' | 'ended' | 'metadata' | 'result' | 'error'>;
  /** The task's new state, or null when the task has moved on and must be left alone. */
  task: TaskUpdate | null;
  note?: string;
}

/**
 * The start recorded for a run that ends from `claimed`: the one its end reports; without one, a run
 * that ended by running (any status but `lost`: its handler began, a worker that did not say when) is
 * recorded as started at its end, a duration of 0, never as a finished run that never started; a
 * `lost` run (cancelled or abandoned before its handler began) has no start.
 */
function claimedRunStart(req: RunEndRequest, scheduled: Date, ended: Date): Date | null {
  if (req.startedAt) return reportedStart(req.startedAt, scheduled, ended);
  return req.status === 'lost' ? null : ended;
}

/**
 * An abandon without a reported start of a run its worker still holds `claimed` is a give-back (SPEC
 * §1.3: `claimed → scheduled`, no retry used, no abandon counted): the handler never began, as far as
 * Orrery knows. A started run, or one given a `startedAt`, ends `lost` (SPEC §2.3).
 */
export function abandonGivesBack(run: Pick<TaskRun, 'status' | 'worker'>, worker: string): boolean {
  return run.status === 'claimed' && run.worker === worker;
}

/**
 * The start a worker reports for a run it held `claimed` (a heartbeat's or an end's `startedAt`), as
 * recorded: never before the run was scheduled nor after the instant of the report, so a worker's
 * clock running ahead or behind the database's cannot put a start outside the run's life.
 */
export function reportedStart(startedAt: Date, scheduled: Date, at: Date): Date {
  const t = Math.min(Math.max(startedAt.getTime(), scheduled.getTime()), at.getTime());
  return t === startedAt.getTime() ? startedAt : new Date(t);
}

/** The detail of the refusal of an end that repeats the one already recorded (same worker, status and result). */
export const END_ALREADY_RECORDED = 'this end was already recorded';

const sameJson = (a: unknown, b: unknown) => {
  try {
    return JSON.stringify(a) === JSON.stringify(b);
  } catch {
    return false;
  }
};

/**
 * Decides what ending `run` does to the run and to its task, shared by every store. Throws when the
 * end is not allowed: a finished run (ending twice), a transition the state machine forbids, or a
 * worker that does not hold the run.
 */
export function planRunEnd(run: TaskRun, task: Task, type: TaskType, currentRunId: number | null, given: RunEndRequest): RunEndPlan {
  const req = asCancellation(run, given);
  if (isFinalRunStatus(run.status)) {
    // The same end again (its worker retrying an end whose answer it never got: a timeout, a lost
    // connection): said so, for the worker to tell it from an end refused because another ended the run.
    // An abandon is recognised by its reason (a lost run whose error is another's, the reaper's, is not this one).
    const sameLoss = run.status !== 'lost' || (given.cause === 'abandon' && given.error != null && run.error === given.error);
    const again = req.worker != null && run.worker === req.worker && run.status === req.status && sameLoss && sameJson(run.result ?? null, given.result ?? null);
    throw new InvalidTransitionError(
      again ? `run ${run.backendId} already ended ${run.status} by an end like this one (the same worker, status and result: an earlier attempt of it, or another caller's); nothing changed` : `run ${run.backendId} already ended ${run.status}; nothing changed`,
      [{ path: 'status', message: again ? END_ALREADY_RECORDED : `run is already ${run.status}` }],
    );
  }
  // A worker ending (or abandoning) a run it no longer holds: given back to the queue by the reaper, or
  // held by another worker. That is a lost lease, whatever the transition would have been.
  if (req.worker != null && (run.worker !== req.worker || !isHeldRunStatus(run.status))) {
    throw new LeaseLostError(`run ${run.backendId} is not held by worker ${req.worker}${isHeldRunStatus(run.status) ? '' : ` (it is ${run.status})`}`);
  }
  // A cancelled waiting run (scheduled, or claimed in a worker's buffer) ends lost (SPEC §1.3:
  // scheduled | claimed -> lost); a started one its worker stopped ends failed. Both are skipped by the formula.
  if (!canTransition(run.status, req.status)) {
    throw new InvalidTransitionError(`run ${run.backendId} is ${run.status} and cannot end ${req.status}; nothing changed`, [
      { path: 'status', message: `${run.status} -> ${req.status} is not allowed` },
    ]);
  }
  if (req.cause === 'abandon' && !isHeldRunStatus(run.status)) {
    throw new InvalidTransitionError(`run ${run.backendId} is ${run.status}: only a held (claimed or started) run can be abandoned`);
  }
  const ended = runEndInstant(run, req.at);
  const runPatch: RunEndPlan['run'] = {
    status: req.status,
    started: run.started ?? (run.status === 'claimed' ? claimedRunStart(req, run.scheduled, ended) : null),
    ended,
    metadata: { ...run.metadata, ...(req.metadata ?? {}) },
    result: req.result === undefined ? run.result : req.result,
    error: req.error === undefined ? run.error : req.error,
  };
  if (currentRunId !== run.id || task.status !== 'next_run_scheduled') {
    return { run: runPatch, task: null, note: `task ${task.id} has moved on (${task.status}); the run was recorded, the task left unchanged` };
  }
  const update = endOfRun({
    task,
    type,
    status: req.status,
    ended,
    cause: req.cause,
    retryAfterMs: req.retryAfterMs ?? null,
    served: run.scheduledFor,
    ...(run.backfill !== undefined ? { backfill: true } : {}),
  });
  return { run: runPatch, task: update };
}

/**
 * A started run whose cancellation was asked for, and that then ends failed or lost (its worker
 * stopped it, gave it back, or vanished and the reaper took it), ends as a cancellation: `failed`
 * with error `cancelled`, cause `cancel` (no retry consumed). A run that succeeded or failed
 * permanently before its worker learned of the request keeps its own outcome.
 */
export function asCancellation(run: Pick<TaskRun, 'cancelRequested' | 'status'>, req: RunEndRequest): RunEndRequest {
  if (!run.cancelRequested || req.cause === 'cancel' || (req.status !== 'failed' && req.status !== 'lost')) return req;
  const error = req.error == null || req.error === CANCELLED_ERROR ? CANCELLED_ERROR : `${CANCELLED_ERROR} (${req.error})`;
  return { ...req, status: 'failed', cause: 'cancel', error, retryAfterMs: null };
}

/**
 * Whether a run ended as a cancellation: error `cancelled` (a waiting or buffered run cancelled, or a
 * worker that stopped its handler for it), or failed or lost once its cancellation was asked for
 * (asCancellation, whose error may read `cancelled (<the original error>)`).
 */
export function endedCancelled(run: Pick<TaskRun, 'cancelRequested' | 'status' | 'error'>): boolean {
  return run.error === CANCELLED_ERROR || (run.cancelRequested && (run.status === 'failed' || run.status === 'lost'));
}

/**
 * The instant an external start is recorded at: a run never starts before it was scheduled, so an
 * earlier instant (a replayed `--at`, another machine's clock) is recorded as its `scheduled`.
 */
export function externalStartInstant(run: Pick<TaskRun, 'scheduled'>, at: Date): Date {
  return at.getTime() < run.scheduled.getTime() ? run.scheduled : at;
}

/** What an end does to the worker holding the run (core of `endRun` on both stores). */
export interface HolderEffect {
  /** The run stays leased after its end, until its worker lets go of it or the lease runs out. */
  keepLease: boolean;
  /** The worker is told at once (the `cancel` wake-up): it drops the run from its buffer, or aborts its handler. */
  tellWorker: boolean;
}

/**
 * An end by someone else than the run's holder (`orrery run end` without `--worker`, the API without
 * `worker`) of a run a worker holds. Its worker is told at once (it drops a buffered run, or aborts a
 * running handler through its `AbortSignal`). A `claimed` run also keeps its lease: its worker may be
 * beginning it, so its task counts as holding a run (respawn is refused) until that worker has dropped
 * it, or seen the handler it had begun settle, and let go of it (`releaseRuns` with `withdrawnOnly`),
 * or until the lease runs out. A `started` run's lease is cleared: it may be held by an external
 * backend that will never let go, so a handler that ignores its signal may still be running when its
 * task is respawned (cancel a running run instead: `cancelRun`).
 */
export function holderEffect(run: Pick<TaskRun, 'status' | 'worker' | 'leaseExpiresAt'>, req: Pick<RunEndRequest, 'cause' | 'worker'>): HolderEffect {
  const byOther = isHeldRunStatus(run.status) && run.worker !== null && req.cause === 'end' && (req.worker === undefined || req.worker === null);
  return { keepLease: byOther && run.status === 'claimed' && run.leaseExpiresAt !== null, tellWorker: byOther };
}

/**
 * The instant a run ending at `at` is recorded as. A run never ends before it began (or, never started,
 * before it was scheduled): an earlier end instant (a replayed `--at`, another machine's clock) is
 * recorded as that instant, and the end-of-run formula uses it. Also for the runs a disable withdraws.
 */
export function runEndInstant(run: { started: Date | null; scheduled: Date }, at: Date): Date {
  const floor = run.started ?? run.scheduled;
  return at.getTime() < floor.getTime() ? floor : at;
}
