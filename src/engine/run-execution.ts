import { END_ALREADY_RECORDED } from '../core/run-end.js';
import { RepeatedFailure } from '../core/repeated-failure.js';
import { formatDuration } from '../core/durations.js';
import { hasCode, isStorageUnavailable, LeaseLostError } from '../core/errors.js';
import { storableText } from '../core/storable.js';
import { CANCELLED_ERROR, LOG_LEVELS, type LogLevel, type TaskRun } from '../core/model.js';
import { claimAnswerWithinMs } from '../core/claim-ahead.js';
import { MAX_LOG_MESSAGE } from '../core/run-logs.js';
import type { ClaimedRun, EndRunResult } from '../store/store.js';
import { elided, logAttributes, outcomeOfSettled, quietIfUnawaited, type Handler, type HandlerContext, type Outcome } from '../worker/handlers.js';
import { systemClock, type Clock, type Timer } from './clock.js';
import type { EndBatcher, EndItem } from './end-batcher.js';
import type { Jobboard } from './jobboard.js';
import type { Logger } from './logger.js';
import { RunLogBuffer } from './run-log-buffer.js';
import { withContext, type RunTrace } from './tracing.js';

/** Refusals of an end that mean the run is no longer this worker's to end (a warning, not an error). */
const VERDICTS = ['lease_lost', 'not_found', 'invalid_transition', 'conflict'] as const;

/** What a run tells its worker when its handler settles and when its end is recorded. */
export interface RunExecutionEvents {
  /** The handler settled (its end is on its way): the worker may give the slot to another run. */
  onSettled(exec: RunExecution, handlerMs: number): void;
  /** The end is recorded, refused, or given up (`end` null): the run is no longer the worker's. */
  onDone(exec: RunExecution, end: EndRunResult | null): void;
}

/**
 * One claimed run on its way through a handler (inline isolation): timeout, cancellation, log
 * records, and exactly one end — success, failure, timeout, cancellation or abandon — unless the
 * run was lost. Leases, heartbeats and timers belong to the worker (one of each per worker, not per
 * run); the AbortController is made only when the handler reads its signal or the run is aborted.
 */
export class RunExecution {
  readonly backendId: string;
  /** When the handler began (null while the run waits to start). */
  startedAt: Date | null = null;
  /** When the run must time out (epoch ms), or null. */
  deadline: number | null = null;
  private controller: AbortController | null = null;
  private abortReason: Error | null = null;
  /** Its spans, when tracing is on (set by the worker before `start()`; docs/tracing.md). */
  trace: RunTrace | null = null;
  /** Log records on their way to the store; made on the first record. */
  private logs: RunLogBuffer | null = null;
  /** Set by the worker while its end is on its way (the handler settled, the end not recorded yet). */
  ending = false;
  /** The worker learnt it no longer holds the run (withdrawn, reaped, ended elsewhere) while its handler ran. */
  wasLost = false;
  /** Why (a LeaseLostError), once lost: what the handler's own heartbeat() fails with from then on. */
  private leaseLost: LeaseLostError | null = null;
  private finished = false;
  private givenUp = false;
  /** The end on its way (finish), awaited by a stop that gives it up. */
  private finishing: Promise<void> | null = null;
  /** Wakes the wait between two tries of a call the database refused for now (a stop gave it up). */
  private retryWake: AbortController | null = null;
  private settledOnce = false;
  /** The handler itself settled (not only its slot released, for ignoring its aborted signal). */
  private returned = false;
  /** Its cancellation was asked for: the run ends `failed` (`cancelled`) once the handler settled. */
  private cancelling = false;
  private startedMs = 0;
  private ignoredTimer: Timer | null = null;

  constructor(
    private readonly board: Jobboard,
    readonly claimed: ClaimedRun,
    private readonly handler: Handler,
    private readonly workerId: string,
    private readonly log: Logger,
    private readonly ender: EndBatcher,
    private readonly events: RunExecutionEvents,
    private readonly clock: Clock = systemClock,
  ) {
    this.backendId = claimed.run.backendId;
  }

  /** The run still needs its holder (its handler runs, or its end is not recorded yet). */
  get isFinished(): boolean {
    return this.finished;
  }

  /** Starts the handler now. */
  start(): void {
    this.startedAt = this.board.now();
    this.startedMs = this.clock.now().getTime();
    const { timeoutMs } = this.claimed;
    if (timeoutMs !== null) this.deadline = this.startedMs + timeoutMs;
    let value: unknown;
    try {
      const trace = this.trace;
      value = trace ? withContext(trace.context, () => this.handler(this.context())) : this.handler(this.context());
    } catch (e) {
      this.settle({ error: e });
      return;
    }
    if (value !== null && typeof (value as Promise<unknown>)?.then === 'function') {
      (value as Promise<unknown>).then(
        (v) => this.settle({ value: v }),
        (e: unknown) => this.settle({ error: e }),
      );
    } else this.settle({ value });
  }

  private context(): HandlerContext {
    return new RunContext(
      this.claimed,
      () => this.signal(),
      () => quietIfUnawaited(this.heartbeat()),
      (level, message, attributes) => this.append(level, message, attributes),
    );
  }

  /** The handler's AbortSignal, made on first use. */
  private signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  private abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    // A handler that ignores its aborted signal keeps its slot for at most one lease.
    if (!this.settledOnce) {
      this.ignoredTimer = this.clock.setTimer(this.claimed.leaseMs, () => {
        if (this.settledOnce) return;
        this.log.warn({ backendId: this.backendId }, `run ${this.backendId}: handler ignored its abort signal; slot released`);
        this.settle({ ignored: true });
      }, { unref: true });
    }
  }

  /** A heartbeat asked for by the handler itself: renews this run's lease now. */
  private async heartbeat(): Promise<void> {
    // A lost lease fails the handler's heartbeat with LeaseLostError (SPEC §2.3), now and on every call
    // until the handler returns: also once its slot was released for ignoring its aborted signal.
    if (this.leaseLost && !this.returned) throw this.leaseLost;
    // Once the handler settled (a timer it left), nothing to renew: resolves, as in every isolation mode.
    if (this.settledOnce) return;
    if (this.finished) return;
    try {
      const answer = await this.board.heartbeat(this.backendId, { worker: this.workerId });
      if (answer.cancelRequested) this.cancel();
    } catch (e) {
      if (!(hasCode(e, 'lease_lost') || hasCode(e, 'not_found'))) {
        this.log.error({ err: e, backendId: this.backendId }, `heartbeat failed: ${(e as Error).message}`);
        return;
      }
      this.lost(e as unknown as Error);
      throw this.leaseLost ?? e;
    }
  }

  private settle(r: { value?: unknown; error?: unknown; ignored?: boolean }): void {
    if (!r.ignored) this.returned = true;
    if (this.settledOnce) return;
    this.settledOnce = true;
    this.ignoredTimer?.cancel();
    const settledMs = this.clock.now().getTime();
    const handlerMs = settledMs - this.startedMs;
    this.events.onSettled(this, handlerMs);
    // Timed out, cancelled, lost or abandoned: its end is already on its way (or not ours).
    if (this.finished) return;
    // Past its deadline, though the timeout's timer has not fired (the handler held the event loop): it
    // timed out all the same, whatever it returned (docs/guide.md#timeouts).
    if (!this.cancelling && this.deadline !== null && settledMs >= this.deadline) return this.timeout();
    this.finishing = this.finish(this.cancelling ? { status: 'failed', error: CANCELLED_ERROR } : outcomeOfSettled(r), handlerMs);
  }

  /** The run's deadline passed: abort the handler and end the run failed. */
  timeout(): void {
    if (this.finished || this.claimed.timeoutMs === null) return;
    const message = `timeout after ${formatDuration(this.claimed.timeoutMs)}`;
    this.abort(new Error(message));
    // Its log line says how long the handler ran, as a handler that settled does ("failed in 1502ms").
    this.finishing = this.finish({ status: 'failed', error: message }, this.clock.now().getTime() - this.startedMs);
  }

  /**
   * The run's cancellation was asked for: fire the handler's AbortSignal (isolated handlers get it
   * forwarded) and end the run `failed` with error `cancelled` (no retry consumed, docs/limits.md).
   */
  cancel(): void {
    if (this.finished || this.cancelling) return;
    this.cancelling = true;
    this.log.info({ backendId: this.backendId }, `run ${this.backendId}: cancellation requested; aborting its handler`);
    this.abort(new Error(CANCELLED_ERROR));
    // The end waits for the handler to settle (at most one lease: abort's timer), the run holding its
    // lease meanwhile: its task cannot be respawned and run beside a handler still going (docs/limits.md).
    if (this.settledOnce) this.finishing = this.finish({ status: 'failed', error: CANCELLED_ERROR });
  }

  /** The worker no longer holds the run (reaped, cancelled, ended elsewhere): whoever holds it ends it. */
  lost(e: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.wasLost = true;
    this.leaseLost = e instanceof LeaseLostError ? e : new LeaseLostError(e.message);
    this.log.warn({ backendId: this.backendId }, `run ${this.backendId}: ${e.message}; aborting its handler`);
    this.abort(e);
    // Its span says so: ERROR and orrery.run.status lost (docs/tracing.md); it had neither status nor attribute.
    this.trace?.done(null, { status: 'lost', error: e.message });
    this.events.onDone(this, null);
  }

  /** Gives the run back (graceful shutdown past the grace period): it ends `lost`, its task is due again. */
  async abandon(reason: string): Promise<void> {
    if (this.finished) {
      // Shutting down: an end still waiting for the database is retried no more. One waiting between two
      // tries says so now, before the worker says it stopped and closes the store under it (a call in
      // flight, which may hang with the database, is not waited for).
      this.givenUp = true;
      if (this.retryWake !== null) {
        this.retryWake.abort();
        await this.finishing;
      }
      return;
    }
    this.finished = true;
    this.abort(new Error(reason));
    await this.logs?.flush();
    try {
      const at = this.board.now();
      const r = await this.retryingStorage(() => this.board.abandonRun(this.backendId, { worker: this.workerId, reason, at, startedAt: this.startedAt, answerWithinMs: this.answerWithinMs() }), this.claimed.leaseMs);
      this.log.warn({ backendId: this.backendId }, `run ${this.backendId} abandoned: ${reason}`);
      this.trace?.done(r, { status: 'lost', error: `abandoned: ${reason}` });
      this.events.onDone(this, r);
    } catch (e) {
      if (alreadyRecorded(e)) {
        // An earlier attempt of this abandon was recorded, its answer lost (a timeout, a dropped connection).
        this.log.warn({ backendId: this.backendId }, `run ${this.backendId} abandoned: ${reason} (recorded by an earlier attempt whose answer was lost)`);
        this.trace?.done(null, { status: 'lost', error: `abandoned: ${reason}` });
        this.events.onDone(this, null);
        return;
      }
      this.log.error({ err: e, backendId: this.backendId }, `run ${this.backendId}: abandon failed: ${(e as Error).message}; its lease expires and the reaper ends it`);
      this.trace?.done(null, { status: 'lost', error: `abandoned: ${reason}` });
      this.events.onDone(this, null);
    }
  }

  private async finish(outcome: Outcome, durationMs?: number): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    if (this.logs !== null) await this.logs.flush();
    const { run } = this.claimed;
    let end: EndRunResult | null = null;
    let endError: unknown;
    let verdict: string | undefined;
    this.trace?.ending(outcome.status);
    try {
      const at = this.board.now();
      // Until the database takes it or refuses it: a run whose lease expired may still be ended by its
      // holder until a reaper has ended it, and giving up would have the run executed again.
      const item: EndItem = { backendId: this.backendId, status: outcome.status, worker: this.workerId, at, startedAt: this.startedAt };
      if (this.claimed.task) item.held = { run, task: this.claimed.task };
      if (outcome.result !== undefined) item.result = outcome.result;
      if (outcome.error !== undefined) item.error = outcome.error;
      if (outcome.retryAfterMs !== undefined) item.retryAfterMs = outcome.retryAfterMs;
      if (outcome.throttle) item.throttle = true;
      end = await this.retryingStorage(() => this.ender.end(item));
    } catch (e) {
      if (alreadyRecorded(e)) {
        // An earlier attempt of this end was recorded, its answer lost (a timeout, a dropped connection).
        this.log.info({ backendId: this.backendId }, `run ${this.backendId}: end (${outcome.status}) recorded by an earlier attempt whose answer was lost`);
      } else if (VERDICTS.some((code) => hasCode(e, code))) {
        // Orrery's verdict (lease lost, reaped, ended elsewhere): whoever holds the run now ends it.
        this.log.warn({ err: e, backendId: this.backendId }, `run ${this.backendId}: end not recorded: ${(e as unknown as Error).message}`);
        verdict = (e as Error).message;
      } else if (this.givenUp && isStorageUnavailable(e)) {
        // The worker stopped past its grace while the database was unavailable: said as such, not as a fault.
        this.log.warn(
          { backendId: this.backendId, status: outcome.status },
          `run ${this.backendId}: end (${outcome.status}) not recorded: the worker stopped while the database was unavailable (${(e as Error).message}); the run is left to the reaper once its lease expires`,
        );
      } else {
        // Not retried: a bug. The slot is released; the run keeps its lease until it expires, then the
        // reaper ends it (lost) and the task follows its rules.
        this.log.error(
          { err: e, backendId: this.backendId, type: run.type, task: run.task, status: outcome.status },
          `run ${this.backendId}: end (${outcome.status}) not recorded: ${(e as Error).message}; not retried, the run is left to the reaper once its lease expires`,
        );
      }
      endError = e;
    }
    // Logged once the end is recorded, outside the end's try: a logger that throws cannot make a recorded end look lost.
    if (end !== null) {
      try {
        if (outcome.status === 'failed' || outcome.status === 'permfailed') {
          this.log.warn({ type: run.type, task: run.task, backendId: this.backendId, status: outcome.status, durationMs, error: firstLine(outcome.error) }, `${endLine(end, outcome, durationMs)}: ${firstLine(outcome.error)}`);
        } else if (this.log.isLevelEnabled('debug')) {
          this.log.debug({ type: run.type, task: run.task, backendId: this.backendId, status: outcome.status, durationMs }, endLine(end, outcome, durationMs));
        }
      } catch {
        // The run's end is recorded; a failing logger loses only this line.
      }
    }
    // A run this worker turned out not to hold any more (reaped, ended elsewhere) is lost to it, as lost() says:
    // its span was OK with the handler's status.
    const runError = verdict ?? outcome.error;
    this.trace?.done(end, { ...(runError !== undefined ? { error: runError } : {}), ...(endError !== undefined ? { endError } : {}), ...(verdict !== undefined ? { status: 'lost' } : {}) });
    this.events.onDone(this, end);
  }

  /**
   * Retries a call that failed for want of the database (a StorageUnavailableError: connection lost,
   * server restarting, file busy, disk full, or a remote board unreachable), with backoff, until it
   * succeeds, `forMs` has passed, or the worker stopped past its grace period. Every other error is
   * final: Orrery's verdicts (ended twice, lease lost, reaped...) and anything else (a bug, a 500 from
   * a remote board), which would fail the same way again.
   */
  private async retryingStorage<T>(call: () => Promise<T>, forMs = Infinity): Promise<T> {
    const deadline = this.clock.now().getTime() + forMs;
    // Logged at the first retry, then every 10 s, not at every retry (each run of the worker retries).
    // Made at the first failure only: this is every run's end.
    let failures: RepeatedFailure | null = null;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        const out = await call();
        const back = failures?.succeeded(this.clock.now().getTime(), `run ${this.backendId}: database call`);
        if (back) this.log.info({ backendId: this.backendId }, back);
        return out;
      } catch (e) {
        if (!isStorageUnavailable(e) || this.givenUp || this.clock.now().getTime() + delay > deadline) throw e;
        failures ??= new RepeatedFailure();
        const line = failures.failed(this.clock.now().getTime(), `run ${this.backendId}: database call`, `${(e as Error).message}; retrying every ${delay} ms or less`);
        if (line) this.log.warn({ backendId: this.backendId }, line);
        this.retryWake = new AbortController();
        await this.clock.sleep(delay, this.retryWake.signal).catch(() => {});
        this.retryWake = null;
        if (this.givenUp) throw e;
      }
    }
  }

  /** How long a remote board's answer to this run's calls is waited for: a claim's bound for its lease. */
  private answerWithinMs(): number {
    return claimAnswerWithinMs([this.claimed.leaseMs], this.claimed.leaseMs);
  }

  private append(level: LogLevel, message: string, attributes?: unknown): void {
    const lvl = (LOG_LEVELS as readonly string[]).includes(level) ? level : 'info';
    const attrs = attributes === undefined || attributes === null ? {} : logAttributes(attributes);
    this.logs ??= new RunLogBuffer(
      this.clock,
      // A remote board's answer waited for no longer than a claim's: a hung request holds back the run's end.
      (batch) => this.board.appendRunLogs(this.backendId, batch, { answerWithinMs: this.answerWithinMs() }),
      (e, n) => this.log.error({ err: e }, `run ${this.backendId}: ${n} log records lost: ${(e as Error).message}`),
    );
    this.logs.add({ at: this.board.now(), level: lvl, message: elided(storableText(String(message)), MAX_LOG_MESSAGE), attributes: attrs });
    // Logged once the run's end was decided (a handler reacting to its timeout or cancellation): sent at once.
    if (this.finished) void this.logs.flush();
  }
}

/** Where a context keeps its run's `signal()` (a symbol, not enumerable: a copy of the context leaves it out). */
const SIGNAL_OF = Symbol('signalOf');

/** The getter of every context's `signal`: one function, so that every context has the same hidden class. */
function contextSignal(this: RunContext): AbortSignal {
  return this[SIGNAL_OF]();
}
const SIGNAL_PROPERTY: PropertyDescriptor = { get: contextSignal, enumerable: true, configurable: true };

const CLAIMED_RUN = Symbol('claimedRun');
const RUN_COPY = Symbol('runCopy');
/**
 * The getter of every context's `run`: the handler's own copy, made when it first reads it. The
 * worker ends the run from its claim (`held`); a handler changing the object it was given (its id,
 * its start, its metadata) must not change which run ends, or how.
 */
function contextRun(this: RunContext): TaskRun {
  return (this[RUN_COPY] ??= structuredClone(this[CLAIMED_RUN]));
}
const RUN_PROPERTY: PropertyDescriptor = { get: contextRun, enumerable: true, configurable: true };

/**
 * A handler's context: `args`, `kwargs`, `signal`, `heartbeat`, `log` and `run`, all own enumerable
 * properties (a handler may spread it or take `...rest`). `signal` is an accessor, so the
 * AbortController is made only when a handler reads it; it is defined with one shared getter. An
 * object literal with a getter got a hidden class of its own on every run, allocated in the old
 * generation (about 0.8 KB per run, measured).
 */
class RunContext implements HandlerContext {
  readonly args: unknown[];
  readonly kwargs: Record<string, unknown>;
  declare readonly signal: AbortSignal;
  readonly heartbeat: () => Promise<void>;
  readonly log: HandlerContext['log'];
  declare readonly run: HandlerContext['run'];
  declare readonly [SIGNAL_OF]: () => AbortSignal;
  readonly [CLAIMED_RUN]: TaskRun;
  [RUN_COPY]: TaskRun | null = null;

  constructor(claimed: ClaimedRun, signalOf: () => AbortSignal, heartbeat: () => Promise<void>, log: HandlerContext['log']) {
    this.args = claimed.arguments.args;
    this.kwargs = claimed.arguments.kwargs;
    Object.defineProperty(this, 'signal', SIGNAL_PROPERTY);
    this.heartbeat = heartbeat;
    this.log = log;
    this[CLAIMED_RUN] = claimed.run;
    Object.defineProperty(this, 'run', RUN_PROPERTY);
    Object.defineProperty(this, SIGNAL_OF, { value: signalOf });
  }
}

function endLine(r: EndRunResult, outcome: Outcome, durationMs: number | undefined): string {
  const took = durationMs === undefined ? '' : ` in ${durationMs < 1000 ? `${durationMs}ms` : formatDuration(durationMs)}`;
  const { run, task } = r;
  return `${run.type} task ${run.task} run ${outcome.status}${took}; task ${task.status}${
    task.status === 'next_run_not_scheduled' ? `, next run ${task.nextRun.toISOString()}` : ''
  }${task.disabledReason ? ` (${task.disabledReason})` : ''}`;
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0] ?? '';
}

/** The store's answer to an end or abandon sent again whose first attempt was recorded (its answer lost). */
function alreadyRecorded(e: unknown): boolean {
  return hasCode(e, 'invalid_transition') && (e as { details?: Array<{ message: string }> }).details?.some((d) => d.message === END_ALREADY_RECORDED) === true;
}
