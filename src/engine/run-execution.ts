import { formatDuration } from '../core/durations.js';
import { isOrreryError } from '../core/errors.js';
import { assertJson } from '../core/validation.js';
import { CANCELLED_ERROR, LOG_LEVELS, type LogLevel, type RunLogRecord } from '../core/model.js';
import type { ClaimedRun } from '../store/store.js';
import { outcomeOfError, outcomeOfResult, type Handler, type Outcome } from '../worker/handlers.js';
import { LeaseKeeper } from './lease-keeper.js';
import type { EndBatcher } from './end-batcher.js';
import type { Jobboard } from './jobboard.js';
import type { Logger } from './logger.js';

const LOG_FLUSH_AT = 200;
const IGNORED = Symbol('handler ignored abort');

/**
 * One claimed run on its way through a handler (inline isolation): lease renewal, timeout, log
 * records, and exactly one end — success, failure, timeout, or abandon — unless the lease was lost.
 */
export class RunExecution {
  readonly backendId: string;
  private readonly controller = new AbortController();
  private readonly keeper: LeaseKeeper;
  private readonly logs: RunLogRecord[] = [];
  private timeoutTimer: NodeJS.Timeout | null = null;
  private finished = false;
  private givenUp = false;
  private flushing: Promise<void> = Promise.resolve();
  private releaseIfIgnored: () => void = () => {};
  /** Settles when the handler settled and the run's end is recorded (or given up). */
  readonly done: Promise<void>;
  /**
   * Settles when the handler settled (its end is then on its way to the database): the worker may
   * give the slot to another run while the end is written (SPEC §2.3: ends are batched).
   */
  readonly settled: Promise<void>;
  private markSettled: () => void = () => {};

  constructor(
    private readonly board: Jobboard,
    private readonly claimed: ClaimedRun,
    private readonly handler: Handler,
    private readonly workerId: string,
    private readonly log: Logger,
    private readonly ender: EndBatcher,
  ) {
    this.backendId = claimed.run.backendId;
    this.keeper = new LeaseKeeper({
      leaseMs: claimed.leaseMs,
      heartbeat: () => this.board.heartbeat(this.backendId, { worker: this.workerId }),
      onLost: (e) => {
        this.finished = true; // not ours any more: whoever holds it ends it
        this.log.warn({ backendId: this.backendId }, `run ${this.backendId}: ${e.message}; aborting its handler`);
        this.controller.abort(e);
      },
      onError: (e) => this.log.error({ err: e, backendId: this.backendId }, `heartbeat failed: ${(e as Error).message}`),
      onCancel: () => this.cancel(),
    });
    this.settled = new Promise((r) => (this.markSettled = r));
    this.done = this.execute().finally(() => this.markSettled());
  }

  private async execute(): Promise<void> {
    const { run, arguments: args, timeoutMs } = this.claimed;
    this.keeper.start();
    let timedOut = false;
    // A handler that ignores its aborted signal keeps its slot for at most one lease past the timeout.
    let giveUp: (v: typeof IGNORED) => void = () => {};
    const ignored = new Promise<typeof IGNORED>((r) => (giveUp = r));
    this.releaseIfIgnored = () => setTimeout(() => giveUp(IGNORED), this.claimed.leaseMs).unref();
    if (timeoutMs !== null) {
      this.timeoutTimer = setTimeout(() => {
        timedOut = true;
        const message = `timeout after ${formatDuration(timeoutMs)}`;
        this.controller.abort(new Error(message));
        void this.finish({ status: 'failed', error: message });
        setTimeout(() => giveUp(IGNORED), this.claimed.leaseMs).unref();
      }, timeoutMs);
    }
    const started = Date.now();
    let outcome: Outcome;
    try {
      const value = await Promise.race([ignored, Promise.resolve().then(() => this.handler({
        args: args.args,
        kwargs: args.kwargs,
        signal: this.controller.signal,
        heartbeat: () => this.keeper.beat(),
        log: (level, message, attributes) => this.append(level, message, attributes),
        run,
      }))]);
      if (value === IGNORED) this.log.warn({ backendId: this.backendId }, `run ${this.backendId}: handler ignored its abort signal; slot released`);
      outcome = outcomeOfResult(value);
      if (outcome.result !== undefined) {
        try {
          assertJson(outcome.result, 'result');
        } catch (e) {
          outcome = { status: 'failed', error: `handler result is not JSON: ${(e as Error).message}` };
        }
      }
    } catch (e) {
      outcome = outcomeOfError(e);
    }
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    const finishing = timedOut ? Promise.resolve() : this.finish(outcome, Date.now() - started);
    this.markSettled();
    await finishing;
    await this.flushing;
  }

  /** Asks the board now whether the run's cancellation was requested (a heartbeat; the `cancel` wake-up calls it). */
  checkCancel(): Promise<void> {
    return this.finished ? Promise.resolve() : this.keeper.beat();
  }

  /**
   * The run's cancellation was asked for: fire the handler's AbortSignal (isolated handlers get it
   * forwarded) and end the run `failed` with error `cancelled` (no retry consumed, docs/limits.md).
   * A handler that ignores the signal keeps its slot for at most one lease.
   */
  private cancel(): void {
    if (this.finished) return;
    this.log.info({ backendId: this.backendId }, `run ${this.backendId}: cancellation requested; aborting its handler`);
    this.controller.abort(new Error(CANCELLED_ERROR));
    void this.finish({ status: 'failed', error: CANCELLED_ERROR });
    this.releaseIfIgnored();
  }

  /** Gives the run back (graceful shutdown past the grace period): it ends `lost`, its task is due again. */
  async abandon(reason: string): Promise<void> {
    if (this.finished) {
      this.givenUp = true; // shutting down: an end still waiting for the database is retried no more
      return;
    }
    this.finished = true;
    this.stopTimers();
    this.controller.abort(new Error(reason));
    await this.flush();
    try {
      const at = this.board.now();
      await this.retryingStorage(() => this.board.abandonRun(this.backendId, { worker: this.workerId, reason, at }), this.claimed.leaseMs);
      this.log.warn({ backendId: this.backendId }, `run ${this.backendId} abandoned: ${reason}`);
    } catch (e) {
      this.log.error({ err: e }, `run ${this.backendId}: abandon failed: ${(e as Error).message}`);
    }
  }

  private async finish(outcome: Outcome, durationMs?: number): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.stopTimers();
    await this.flush();
    const { run } = this.claimed;
    try {
      const at = this.board.now();
      // Until the database takes it or refuses it: a run whose lease expired may still be ended by its
      // holder until a reaper has ended it, and giving up would have the run executed again.
      const r = await this.retryingStorage(() =>
        this.ender.end(this.backendId, {
          status: outcome.status,
          worker: this.workerId,
          at,
          ...(outcome.result !== undefined ? { result: outcome.result } : {}),
          ...(outcome.error !== undefined ? { error: outcome.error } : {}),
          ...(outcome.retryAfterMs !== undefined ? { retryAfterMs: outcome.retryAfterMs } : {}),
        }),
      );
      const took = durationMs === undefined ? '' : ` in ${durationMs < 1000 ? `${durationMs}ms` : formatDuration(durationMs)}`;
      const line = `${run.type} task ${run.task} run ${outcome.status}${took}; task ${r.task.status}${
        r.task.status === 'next_run_not_scheduled' ? `, next run ${r.task.nextRun.toISOString()}` : ''
      }${r.task.disabledReason ? ` (${r.task.disabledReason})` : ''}`;
      const fields = { type: run.type, task: run.task, backendId: this.backendId, status: outcome.status, durationMs };
      if (outcome.status === 'failed' || outcome.status === 'permfailed') {
        this.log.warn({ ...fields, error: firstLine(outcome.error) }, `${line}: ${firstLine(outcome.error)}`);
      } else this.log.info(fields, line);
    } catch (e) {
      this.log.warn({ err: e, backendId: this.backendId }, `run ${this.backendId}: end not recorded: ${(e as Error).message}`);
    }
  }

  /**
   * Retries a call that failed for want of the database (connection lost, server restarting, disk
   * full) or of a remote board, with backoff, until it succeeds, `forMs` has passed, or the worker
   * stopped past its grace period; Orrery's own verdicts (an OrreryError, or an error carrying one of
   * its codes: ended twice, lease lost, reaped...) are final.
   */
  private async retryingStorage<T>(call: () => Promise<T>, forMs = Infinity): Promise<T> {
    const deadline = Date.now() + forMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      try {
        return await call();
      } catch (e) {
        if (isOrreryError(e) || this.givenUp || Date.now() + delay > deadline) throw e;
        this.log.warn({ backendId: this.backendId }, `run ${this.backendId}: database unavailable (${(e as Error).message}); retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private append(level: LogLevel, message: string, attributes?: Record<string, unknown>): void {
    const lvl = (LOG_LEVELS as readonly string[]).includes(level) ? level : 'info';
    let attrs: Record<string, unknown> = {};
    if (attributes && typeof attributes === 'object') {
      try {
        attrs = JSON.parse(JSON.stringify(attributes)) as Record<string, unknown>;
      } catch {
        attrs = { unserialisable: String(attributes) };
      }
    }
    this.logs.push({ at: this.board.now(), level: lvl, message: String(message), attributes: attrs });
    if (this.logs.length >= LOG_FLUSH_AT) void this.flush();
  }

  private flush(): Promise<void> {
    if (this.logs.length === 0) return this.flushing;
    const batch = this.logs.splice(0, this.logs.length);
    this.flushing = this.flushing
      .then(() => this.board.appendRunLogs(this.backendId, batch))
      .catch((e: unknown) => this.log.error({ err: e }, `run ${this.backendId}: log records lost: ${(e as Error).message}`));
    return this.flushing;
  }

  private stopTimers(): void {
    this.keeper.stop();
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
  }
}

function firstLine(s: string | undefined): string {
  return (s ?? '').split('\n')[0] ?? '';
}
