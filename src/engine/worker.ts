import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { bufferPace, bufferTarget, claimAnswerWithinMs, claimDrained, claimSize, DEFAULT_PREFETCH, surplusToGiveBack, nextPace, PACE_MEMORY_MS, type TypePace } from '../core/claim-ahead.js';
import type { TaskType } from '../core/model.js';
import { formatDuration } from '../core/durations.js';
import { hasLimits } from '../core/limits.js';
import { LeaseLostError, isStorageUnavailable, shown } from '../core/errors.js';
import { requireOptions } from '../core/options.js';
import { checkBoard, checkClock, checkHandlers, checkLogger, checkWorkerRunOptions, type WorkerRunOptions } from './option-checks.js';
import type { ClaimedRun, EndRunResult } from '../store/store.js';
import { servedTypesOf, type Handler } from '../worker/handlers.js';
import { dagAttemptOf } from '../worker/dag-handler.js';
import { silentLogger, type Logger } from './logger.js';
import { systemClock, type Clock } from './clock.js';
import { EndBatcher } from './end-batcher.js';
import { IdTable } from './id-table.js';
import type { Jobboard } from './jobboard.js';
import { RunExecution } from './run-execution.js';
import { Sleeper } from './sleeper.js';
import { WorkerTimers } from './worker-timers.js';
import { WorkerPresence } from './worker-presence.js';
import { recordClaim, RunTrace, tracingOn } from './tracing.js';
import type { SpanContext } from '@opentelemetry/api';

/** Shortest time between two log lines about buffered runs given back (their counts add up meanwhile). */
const GIVE_BACK_LOG_MS = 10_000;

/** A worker's options: the run options it shares with startServer and a Daemon (option-checks.ts), and its own. */
export interface WorkerOptions extends WorkerRunOptions {
  /** One handler per backend name; the worker serves the task types whose backend has one here. */
  handlers: Record<string, Handler>;
  /** Default: silent. */
  logger?: Logger;
  /** Where the worker's timers and elapsed times come from (default: the board's clock, else the system clock). */
  clock?: Clock;
  /**
   * Keep a row in the worker registry: registered at start, refreshed every 10 s, marked stopped on
   * stop (docs/operations.md#workers). Default true; `orrery simulate` turns it off for its simulated processes.
   */
  registry?: boolean;
}

const TYPES_REFRESH_MS = 5_000;
/**
 * After a failed claim, how long the worker keeps looking for runs that claim may still commit (a
 * request held on its way to the server by a proxy or the network), one look per answer bound.
 */
export const LATE_CLAIM_LOOKS_MS = 60_000;
const DEFAULT_LEASE_MS = 30_000;
/** A graceful stop's margin past its grace and one lease (stopBoundMs): the last writes and the registry's stop. */
const STOP_SLACK_MS = 5_000;
/** Most runs with an unrecorded end a worker remembers (the oldest forgotten first): about 10 MB at most. */
const MAX_UNRECORDED_KEPT = 100_000;

/**
 * The worker loop (SPEC §2.3): claims runs of its types ahead into a local buffer, starts them as
 * slots free, and ends them in batches. One timer per worker renews the leases of everything it holds
 * and marks begun runs started (worker-timers.ts). On stop it gives its buffer back at once, lets
 * running handlers finish within the grace period, then abandons the rest. It needs only a Jobboard:
 * the in-process service (`Orrery`) or a client of a remote one.
 */
export class Worker {
  /** Its life: `idle` until `start()`, `running`, `stopping` during `stop()`, then `stopped`. */
  state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  /** The worker id recorded on the runs it claims. */
  readonly id: string;
  private readonly sleeper: Sleeper;
  private readonly clock: Clock;
  /** Claimed runs waiting for a slot, in claim order. */
  private buffer: ClaimedRun[] = [];
  /** Runs whose handler ran but whose end was not recorded (left to the reaper), by when: never recovered while held. */
  private readonly unrecordedEnds = new Map<string, number>();
  /** Runs whose handler began and whose end is not recorded yet. */
  private readonly active = new IdTable<RunExecution>();
  /** Handlers running (they hold the concurrency slots). */
  private handling = 0;
  /** Runs whose handler settled and whose end is still being written (each flagged `ending`; a count, not a Set: id-table.ts). */
  private ending = 0;
  /**
   * No handler starts while this many ends wait for the database: two rounds of slots, so handlers
   * run while the previous round's ends are written, and a worker killed at any moment re-executes
   * fewer than 3 × concurrency runs that had finished (docs/guarantees.md).
   */
  private readonly maxUnrecorded: number;
  private readonly concurrency: number;
  private readonly prefetch: number;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly log: Logger;
  private types: string[] = [];
  /** The type objects the last read answered (currentTypes). */
  private typesSeen: readonly TaskType[] | null = null;
  /** Whether some type it claims has limits (core/claim-ahead.ts claimDrained). */
  private limitedTypes = true;
  /** The last claim found the store drained: settling handlers do not make it claim again (claimDrained). */
  private drained = false;
  private typesReadAt = 0;
  private recover = false;
  /** When (on this worker's clock) the first claim whose answer was lost since the last recovery was sent. */
  private lostClaimSentAt: number | null = null;
  /** After a failed claim: the next late look for its runs, and the last (LATE_CLAIM_LOOKS_MS). */
  private lateLooks: { next: number; until: number } | null = null;
  /** While a claim recovery reads the runs this worker holds: the runs done meanwhile (recoverClaims). */
  private doneDuringRecovery: Set<string> | null = null;
  /** Each type's handler pace (core nextPace): fast runs of one type must not hide slow runs of another. */
  private readonly typePace = new Map<string, TypePace>();
  /** A trim's give-back in flight: the next claim waits for it, so the runs given back are claimed again before newer ones. */
  private trimming: Promise<void> | null = null;
  private minLeaseMs = DEFAULT_LEASE_MS;
  /** Runs on their way back to the queue (release): still held by this worker in the store until then. */
  private readonly releasing = new Set<string>();
  /**
   * Runs whose give-back failed (the database away): out of the buffer but still this worker's in the
   * store, under a lease no renewal covers any more. A recovery that finds them held counts no lease
   * for them, whatever claim was lost meanwhile (recoverClaims). Pruned there; bounded.
   */
  private readonly notGivenBack = new Set<string>();
  /** How long a claim's answer is waited for, and the longest wait before recovering a failed claim (core claimAnswerWithinMs). */
  private answerWithinMs = claimAnswerWithinMs([], DEFAULT_LEASE_MS);
  private readonly ender: EndBatcher;
  private readonly timers: WorkerTimers;
  private readonly presence: WorkerPresence | null;
  private loopDone: Promise<void> = Promise.resolve();
  private idle: (() => void) | null = null;
  private unlisten: () => void = () => {};
  /** Whether an OpenTelemetry SDK was registered at the last claim (docs/tracing.md). */
  private traced = false;
  /** The claim span of each traced claimed run, which its run span links to. */
  private readonly claimSpans = new WeakMap<ClaimedRun, SpanContext>();
  /** Runs ended since the last summary line, by status. */
  private endedSince = new Map<string, number>();

  constructor(
    private readonly board: Jobboard,
    private readonly opts: WorkerOptions,
  ) {
    checkBoard(board);
    requireOptions(opts, '{ handlers, types?, concurrency?, prefetch?, ... }');
    checkHandlers(opts.handlers);
    // The checks startServer and a Daemon make of their `worker` (named `worker.concurrency` there).
    checkWorkerRunOptions(opts);
    this.concurrency = opts.concurrency ?? 10;
    this.prefetch = opts.prefetch ?? DEFAULT_PREFETCH;
    this.maxUnrecorded = 2 * this.concurrency;
    this.pollMs = opts.pollMs ?? 1000;
    this.graceMs = opts.graceMs ?? 10_000;
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.log = checkLogger(opts.logger) ?? silentLogger;
    this.clock = checkClock(opts.clock) ?? board.clock ?? systemClock;
    this.sleeper = new Sleeper(this.clock);
    this.ender = new EndBatcher(board, () => this.answerWithinMs);
    this.timers = new WorkerTimers(board, this.id, this.log, {
      held: () => this.held(),
      holdsAny: () => this.holdsAny(),
      dropBuffered: (ids) => this.dropBuffered(ids),
      renewed: () => this.dispatch(false),
      execution: (backendId) => this.active.get(backendId),
      summary: () => this.summary(),
    }, this.clock);
    this.presence = opts.registry === false ? null : new WorkerPresence(board, { id: this.id, host: hostname(), pid: process.pid, types: [...(opts.types ?? [])], concurrency: this.concurrency }, this.clock, this.log);
  }

  /**
   * Handlers executing: the concurrency slots taken. A handler whose run has already ended (cancelled,
   * or its lease lost, while it ignores its abort signal) is counted until it settles, as it holds its
   * slot until then; a run whose handler settled is not, while its end is written.
   */
  get running(): number {
    return this.handling;
  }

  /**
   * The longest a graceful stop should take (docs/operations.md): the grace, then the abandons, each
   * retried for up to its run's lease while the database is away (at least a default lease's 30 s,
   * which also covers the last passes of the loops stopped before), and STOP_SLACK_MS. A process bounds
   * its stop by it: a database that stops answering (a query never returns) would hold it for ever.
   */
  stopBoundMs(graceMs = this.graceMs): number {
    const leases = this.active.values().map((x) => x.claimed.leaseMs);
    return graceMs + Math.max(DEFAULT_LEASE_MS, ...leases) + STOP_SLACK_MS;
  }

  /** Runs claimed and waiting in the buffer. */
  get buffered(): number {
    return this.buffer.length;
  }

  /**
   * Whether a wake-up now would make the loop claim (it is running, serves some type, and its buffer
   * is low or slots are free): for callers that wake workers selectively, like the simulator's wake gate.
   */
  wantsRuns(): boolean {
    if (this.state !== 'running') return false;
    if (this.typesReadAt === 0 || this.recover) return true;
    return this.claimLimit() > 0 && this.types.length > 0;
  }

  /** How many runs a claim now would ask for (core/claim-ahead.ts claimSize). */
  private claimLimit(): number {
    const size = claimSize({ ...this.sizing(), buffered: this.buffer.length, running: this.handling });
    return Math.min(size, this.board.maxClaim ?? Infinity);
  }

  /** Starts claiming and running; returns at once. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    const offRuns = this.board.onRunsScheduled(() => {
      this.drained = false;
      this.sleeper.wake();
    });
    // A run's cancellation was asked for: the worker's runs are checked at once (one heartbeat).
    const offCancel = this.board.onCancelRequested?.(() => void this.timers.beatNow());
    // A type was edited, paused or resumed: read the types again at once.
    const offTypes = this.board.onTypesChanged?.(() => {
      this.typesReadAt = 0;
      this.drained = false;
      this.sleeper.wake();
    });
    this.unlisten = () => {
      offRuns();
      offCancel?.();
      offTypes?.();
    };
    this.timers.start(this.minLeaseMs);
    this.presence?.start();
    this.loopDone = this.loop();
  }

  /** Stops claiming, gives buffered runs back, waits up to the grace period for running handlers, abandons the rest. */
  async stop(graceMs = this.graceMs): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.unlisten();
    this.sleeper.interrupt();
    // One grace, counted from here. When it runs out the handlers still running are aborted and their
    // runs abandoned, also while a claim or a give-back still waits on a database that does not answer
    // (their abandons then wait for it), not once those answer.
    const graceEnds = this.clock.now().getTime() + graceMs;
    let waiting = false; // for the handlers, the buffer given back
    let graceOver: () => void = () => {};
    const graceRanOut = new Promise<void>((r) => (graceOver = r));
    const grace = this.clock.setTimer(graceMs, () => {
      const running = this.active.values().filter((x) => !x.isFinished).length;
      if (!waiting && running > 0) this.log.warn(`the grace (${graceMs} ms) ran out while the stop was still waiting for the database (a claim, or giving the buffer back): abandoning ${running} running handler(s)`);
      graceOver();
    });
    const abandoned = graceRanOut.then(() => Promise.all(this.active.values().map((x) => x.abandon('worker shutting down'))));
    await this.loopDone;
    // A trim in flight ends first; what trims gave back since their last line is said now, not lost.
    await this.trimming;
    this.logGivenBack();
    // A claim failed just before the stop: it may have committed, and the runs it gave this worker go
    // back with the buffer (no retry used), not to the reaper at the end of their leases (lost, counted).
    // It spends the grace (no longer than a lease, past which its runs are reaped anyway).
    if (this.recover) await this.recoverAtStop(Math.min(graceMs, this.minLeaseMs));
    await this.giveBack();
    waiting = true;
    const pending = this.active.values();
    const left = Math.max(0, graceEnds - this.clock.now().getTime());
    if (pending.length > 0 && left > 0) {
      // Finished runs stay active until their end is recorded (the database away): named apart.
      const running = pending.filter((x) => !x.isFinished).length;
      const ending = pending.length - running;
      this.log.info(`waiting up to ${left} ms for ${[running > 0 || ending === 0 ? `${running} running handler(s)` : '', ending > 0 ? `${ending} end(s) not yet recorded` : ''].filter(Boolean).join(' and ')}`);
      await Promise.race([this.whenIdle(), graceRanOut]);
    }
    grace.cancel();
    graceOver(); // abandons what is left now (nothing once idle), if the grace did not already
    await abandoned;
    this.timers.stop();
    this.summary();
    await this.presence?.stop();
    this.state = 'stopped';
  }

  /**
   * At a stop after a failed claim: asks for the runs that claim may have given this worker (they go
   * back with the buffer), again while the store is unavailable, every answer's bound, within `budgetMs`;
   * once answered, a second time an answer's bound later (a claim the server committed just after its
   * answer was given up is not held yet at the first look).
   */
  private async recoverAtStop(budgetMs: number): Promise<void> {
    const until = this.clock.now().getTime() + budgetMs;
    let looks = 0;
    for (;;) {
      try {
        await this.recoverClaims(looks === 0);
        if (++looks === 2) return;
        const left = until - this.clock.now().getTime();
        if (left <= 0) return;
        await this.clock.sleep(Math.min(left, this.answerWithinMs));
      } catch (e) {
        const left = until - this.clock.now().getTime();
        if (!isStorageUnavailable(e) || left <= 0) {
          this.log.warn({ err: e }, `could not look up the runs a failed claim may have given this worker (their leases expire and the reaper ends them): ${(e as Error).message}`);
          return;
        }
        await this.clock.sleep(Math.min(left, this.answerWithinMs));
      }
    }
  }

  private whenIdle(): Promise<void> {
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((r) => (this.idle = r));
  }

  /**
   * Gives buffered runs back to the queue (releaseRuns). Until the store has them, they are still
   * this worker's there: a claim recovery meanwhile must not take them for runs it does not know.
   */
  private async release(ids: string[]): Promise<number> {
    for (const id of ids) this.releasing.add(id);
    try {
      return await this.board.releaseRuns({ worker: this.id, backendIds: ids, answerWithinMs: this.answerWithinMs });
    } catch (e) {
      for (const id of ids) {
        if (this.notGivenBack.size >= MAX_UNRECORDED_KEPT) this.notGivenBack.delete(this.notGivenBack.values().next().value!);
        this.notGivenBack.add(id);
      }
      throw e;
    } finally {
      for (const id of ids) this.releasing.delete(id);
    }
  }

  /** Buffered runs go back to the queue at once (their handlers never began): no retry is consumed. */
  private async giveBack(): Promise<void> {
    const ids = this.buffer.map((c) => c.run.backendId);
    this.buffer = [];
    if (ids.length === 0) return;
    try {
      const n = await this.release(ids);
      // The others were no longer to run: their task was paused (taken back), disabled or cancelled (ended).
      const others = ids.length - n;
      this.log.info(`gave ${n} buffered run${n === 1 ? '' : 's'} back to the queue${others > 0 ? `; ${others} not (no longer the worker's, or their task paused, disabled or cancelled meanwhile)` : ''}`);
    } catch (e) {
      this.log.warn({ err: e }, `could not give ${ids.length} buffered run(s) back (their leases expire and the reaper gives them back): ${(e as Error).message}`);
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    // Failed claims in a row with the store unavailable (the first one's log line says the look at once).
    let unavailable = 0;
    // Set by a claim that failed with the store unavailable: the back-off to wait after the recovery
    // that follows it at once (`second`: that recovery is the first of two looks).
    let afterRecovery: { waitMs: number; second: boolean } | null = null;
    while (this.state === 'running') {
      let delay = this.pollMs;
      let backOff = false;
      let claimSentAt: number | null = null;
      const recoveryOnly = afterRecovery as { waitMs: number; second: boolean } | null;
      afterRecovery = null;
      this.lateLook(recoveryOnly !== null);
      try {
        if (this.recover) await this.recoverClaims(recoveryOnly?.second === true);
        if (recoveryOnly !== null) {
          // The recovery that follows a failed claim at once is looked again an answer's bound later (a
          // claim the server committed just after its answer was given up is not held yet at the first
          // look, and would be reaped, counted); the next claim still waits its whole back-off.
          delay = recoveryOnly.second ? Math.min(recoveryOnly.waitMs, this.answerWithinMs) : recoveryOnly.waitMs;
          if (recoveryOnly.second && recoveryOnly.waitMs > delay) afterRecovery = { waitMs: recoveryOnly.waitMs - delay, second: false };
          backOff = true;
        } else {
          delay = await this.claimRound((at) => (claimSentAt = at));
          failures = 0;
          unavailable = 0;
        }
      } catch (e) {
        failures += 1;
        delay = Math.min(this.pollMs * 2 ** Math.min(failures, 5), 30_000);
        backOff = true;
        unavailable = isStorageUnavailable(e) ? unavailable + 1 : 0;
        if (isStorageUnavailable(e)) {
          // The database (or the connection to a remote board) failed: the claim may still have
          // committed, so the next round first looks for runs this worker holds.
          this.recover = true;
          // The runs recovered were claimed no earlier than the first claim that failed: their leases are counted from then.
          if (claimSentAt !== null) this.lostClaimSentAt ??= claimSentAt;
          // The recovery comes before the runs the claim may have started at once are reaped: at once
          // after the claim that failed (its answer lost, the server may be there), then no later than
          // the answer's bound while the recovery itself fails.
          // After a recovery that succeeds the claim waits its whole back-off (a server that takes the
          // recovery but refuses claims, 502s, is not asked twice a second).
          if (claimSentAt !== null) {
            [afterRecovery, delay] = [{ waitMs: delay, second: true }, 0];
            // Then once per answer bound for a while: a claim held on its way may commit after both looks.
            const now = this.clock.now().getTime();
            this.lateLooks = { next: now + 3 * this.answerWithinMs, until: now + LATE_CLAIM_LOOKS_MS };
          } else delay = Math.min(delay, this.answerWithinMs);
          // The look at once is said on the first failure in a row; after it, each failure says the
          // back-off (it still looks first: a database that reads but cannot write answers every look).
          const next =
            delay !== 0 ? `retrying in ${delay} ms` : unavailable === 1 ? 'looking up at once the runs it may have taken' : `retrying in ${afterRecovery!.waitMs} ms`;
          this.log.error({ err: e }, `claim failed (${next}): ${(e as Error).message}`);
        } else {
          // A bug or a refusal that a retry cannot cure: said loudly, with its stack, and the loop backs
          // off the same way (up to 30 s between tries), so it neither spins nor stops the handlers running.
          this.log.error({ err: e }, `claim failed with an error that is not transient (trying again in ${delay} ms; it needs fixing): ${(e as Error).message}`);
        }
      }
      // After a failed claim the whole delay passes, whatever wakes the loop meanwhile (a slot freeing,
      // an end settled, a wake-up): only a stop cuts it short. A late look due sooner shortens a poll's.
      if (this.lateLooks !== null && !backOff) delay = Math.min(delay, Math.max(1, this.lateLooks.next - this.clock.now().getTime()));
      if (this.state === 'running') await this.sleeper.sleep(delay, !backOff);
    }
  }

  /**
   * Whether a late look for a failed claim's runs is due (LATE_CLAIM_LOOKS_MS): then the loop reads the
   * runs the worker holds before it claims, as after a failed claim, and runs those it does not know.
   */
  private lateLook(recovering: boolean): void {
    if (this.lateLooks === null || this.recover || recovering) return;
    const now = this.clock.now().getTime();
    if (now > this.lateLooks.until) [this.lateLooks, this.lostClaimSentAt] = [null, null];
    else if (now >= this.lateLooks.next) {
      this.recover = true;
      this.lateLooks.next = now + this.answerWithinMs;
    }
  }

  /**
   * One claim and what it brought, buffered or begun; `sent` is told when the claim goes out (a claim
   * that fails may have committed). Returns the loop's next delay.
   */
  private async claimRound(sent: (at: number) => void): Promise<number> {
    let delay = this.pollMs;
    const types = await this.currentTypes();
    if (this.trimming) await this.trimming;
    const limit = this.claimLimit();
    if (limit > 0 && types.length > 0) {
      // Free slots the buffer does not fill: their runs start at once, so the claim marks them started
      // (a handler that crashes the worker is then counted; runs of limited types come only for these).
      const startNow = this.ending < this.maxUnrecorded ? Math.max(0, this.concurrency - this.handling - this.buffer.length) : 0;
      const req = { worker: this.id, types, limit, startNow, answerWithinMs: this.answerWithinMs };
      // Tracing is looked at once per claim (docs/tracing.md): no span, link or context per run without it.
      this.traced = tracingOn();
      const claimedSince = this.traced ? Date.now() : 0;
      // Claimed while holding nothing: the claim set every lease the worker then holds (no renewal at the next tick).
      const heldNothing = this.held().length === 0;
      const sentAt = this.clock.now().getTime();
      sent(sentAt);
      const outcome = this.board.claim ? await this.board.claim(req) : { runs: await this.board.claimRuns(req), heldBack: false, retryAt: null };
      if (heldNothing && outcome.runs.length > 0 && this.held().length === 0) this.timers.claimedIntoEmpty(sentAt);
      if (this.traced && outcome.runs.length > 0) {
        const claimSpan = recordClaim(claimedSince, this.id, outcome.runs);
        for (const c of outcome.runs) this.claimSpans.set(c, claimSpan);
      }
      const startFirst: ClaimedRun[] = [];
      // A run still in the buffer, given back by the reaper meanwhile (the server or the database
      // was away past its lease) and claimed again: the fresh copy replaces the stale one, or the
      // handler would run twice (once per copy).
      if (this.buffer.length > 0 && outcome.runs.length > 0) {
        const again = new Set(outcome.runs.map((c) => c.run.backendId));
        if (this.buffer.some((b) => again.has(b.run.backendId))) this.buffer = this.buffer.filter((b) => !again.has(b.run.backendId));
      }
      let knownAt: number | undefined;
      for (const c of outcome.runs) {
        // A run this worker is still executing, given back by the reaper meanwhile (the worker was
        // stalled past its lease) and now claimed again: the older execution is aborted and never ended.
        const stale = this.active.get(c.run.backendId);
        // Its handler settled and its end is on its way (held by this worker again, that end records
        // the run): the copy claimed again must not run the handler a second time.
        if (stale?.isFinished) continue;
        if (stale) {
          stale.lost(new LeaseLostError(`run ${c.run.backendId} was given back while its handler ran and is claimed again`));
          this.unrecordedEnds.delete(c.run.backendId);
          this.timers.forgetStart(c.run.backendId);
        }
        this.timers.leaseMs(c.leaseMs); // renewals every third of the shortest lease claimed (5 minutes: every 100 s)
        this.minLeaseMs = Math.min(this.minLeaseMs, c.leaseMs);
        if (c.run.status === 'started') startFirst.push(c);
        else {
          this.timers.claimedAt(c, sentAt, (knownAt ??= this.clock.now().getTime()));
          this.buffer.push(c);
        }
      }
      this.buffer.unshift(...startFirst);
      this.drained = claimDrained({ asked: limit, got: outcome.runs.length, heldBack: outcome.heldBack, limitedTypes: this.limitedTypes });
      this.dispatch(false);
      if (outcome.runs.length === limit) delay = 0;
      // Held back by a rate limit: sleep until its next slot opens (a running slot freeing up wakes us anyway).
      else if (outcome.heldBack && outcome.retryAt) delay = Math.max(1, Math.min(this.pollMs, outcome.retryAt.getTime() - this.board.now().getTime()));
    }
    return delay;
  }

  /**
   * Starts buffered runs while slots are free. A slot frees when its handler settles (the end is
   * written in the background, batched with others), but no handler starts while `maxUnrecorded`
   * ends wait for the database.
   */
  private dispatch(wake = true): void {
    let started = 0;
    while (this.state === 'running' && this.handling < this.concurrency && this.ending < this.maxUnrecorded && this.buffer.length > 0) {
      const c = this.buffer[0]!;
      // Its lease may have run out while it waited (the worker was stalled, its heartbeats failed): a
      // reaper may have given it back, to be claimed again, and beginning it here would run it twice.
      // The buffer waits for a heartbeat to say which runs are still held (those not are dropped).
      if (c.run.status === 'claimed' && !this.timers.leaseHolds(c)) {
        this.timers.confirmLeases();
        break;
      }
      this.buffer.shift();
      this.execute(c);
      started += 1;
    }
    // The buffer ran low, or slots are free with nothing to start: the loop claims more now.
    if (!wake || this.state !== 'running') return;
    const low = this.buffer.length <= bufferTarget(this.sizing()) / 2;
    if (low && !this.drained && (started > 0 || this.handling < this.concurrency)) this.sleeper.wake();
  }

  private execute(c: ClaimedRun): void {
    const handler = Object.hasOwn(this.opts.handlers, c.backendName) ? this.opts.handlers[c.backendName] : undefined;
    // A DAG task's own timeout replaces its task type's.
    const dagTimeout = dagAttemptOf(c.arguments.kwargs)?.timeoutMs;
    const claimed = typeof dagTimeout === 'number' ? { ...c, timeoutMs: dagTimeout } : c;
    const exec = new RunExecution(this.board, claimed, handler ?? missingHandler(c.backendName), this.id, this.log, this.ender, {
      onSettled: (x, ms) => this.onSettled(x, ms),
      onDone: (x, end) => this.onDone(x, end),
    }, this.clock);
    this.active.set(exec.backendId, exec);
    this.handling += 1;
    if (this.traced) exec.trace = RunTrace.start(c, this.id, this.claimSpans.get(c));
    exec.start();
    if (exec.deadline !== null) this.timers.deadline(exec);
    this.timers.begun(exec);
  }

  private onSettled(exec: RunExecution, handlerMs: number): void {
    this.handling -= 1;
    // Its handler, aborted when the run was taken from this worker, has settled: the worker lets go of it.
    if (exec.wasLost) this.letGo([exec.backendId]);
    if (this.active.get(exec.backendId) === exec && !exec.ending) {
      exec.ending = true;
      this.ending += 1;
    }
    const type = exec.claimed.run.type;
    const now = this.clock.now().getTime();
    this.typePace.set(type, nextPace(this.typePace.get(type), handlerMs, now));
    // Types that stopped coming are forgotten (a worker may serve thousands of types).
    if (this.typePace.size > 64) for (const [t, p] of this.typePace) if (now - p.at > Math.max(PACE_MEMORY_MS, 3 * p.meanMs)) this.typePace.delete(t);
    // The freed slot takes its next buffered run first; what is left past the target then goes back.
    this.dispatch();
    this.trimBuffer();
  }

  /**
   * What the buffer is sized from now (core bufferTarget, claimSize): the pace is read at each use
   * (core bufferPace), so an old pace expires while the worker idles.
   */
  private sizing(): { concurrency: number; prefetch: number; leaseMs: number; meanHandlerMs: number | null } {
    return { concurrency: this.concurrency, prefetch: this.prefetch, leaseMs: this.minLeaseMs, meanHandlerMs: bufferPace(this.typePace.values(), this.clock.now().getTime()) };
  }

  /** Runs given back by trims since the last line logged about them, when that was, and the pace they were given back at. */
  private givenBack = { n: 0, loggedAt: -Infinity, paceMs: 0 };

  /** The line about the runs trims gave back since the last one (none: nothing logged). */
  private logGivenBack(): void {
    const { n, paceMs } = this.givenBack;
    if (n === 0) return;
    this.givenBack = { n: 0, loggedAt: this.clock.now().getTime(), paceMs };
    this.log.info(`gave ${n} buffered run${n === 1 ? '' : 's'} back to the queue: more than it can begin within a third of its lease at its handlers' pace (${formatDuration(Math.round(paceMs))} a run for its slowest type)`);
  }

  /**
   * A buffer grown past its target (sized while handlers were faster: another type's fast runs, or
   * before a slow type's first ends) gives the surplus back to the queue, the runs it would begin
   * last, so that idle workers take them. Runs a limited claim started for a free slot stay.
   */
  private trimBuffer(): void {
    if (this.trimming || this.state !== 'running') return;
    const sizing = this.sizing();
    const surplus = surplusToGiveBack(this.buffer.length, bufferTarget(sizing));
    if (surplus <= 0) return;
    // A run whose lease may have run out waits for a heartbeat to say whether it is still held (dispatch).
    const back = this.buffer.filter((c) => c.run.status === 'claimed' && this.timers.leaseHolds(c)).slice(-surplus);
    if (back.length === 0) return;
    const goes = new Set(back);
    this.buffer = this.buffer.filter((c) => !goes.has(c));
    this.trimming = this
      .release(back.map((c) => c.run.backendId))
      .then((n) => {
        // One line at most every GIVE_BACK_LOG_MS, counting every run given back since the last (a ramp-up trims many times a second).
        if (n <= 0) return;
        this.givenBack.n += n;
        this.givenBack.paceMs = sizing.meanHandlerMs ?? 0;
        // The rest is logged by the next trim past the window, or at the stop.
        if (this.clock.now().getTime() - this.givenBack.loggedAt >= GIVE_BACK_LOG_MS) this.logGivenBack();
      })
      .catch((e: unknown) => this.log.warn({ err: e }, `could not give ${back.length} buffered run(s) back (their leases expire and the reaper gives them back): ${(e as Error).message}`))
      .finally(() => (this.trimming = null));
  }

  private onDone(exec: RunExecution, end: EndRunResult | null): void {
    if (this.active.get(exec.backendId) !== exec) return;
    this.active.delete(exec.backendId);
    this.doneDuringRecovery?.add(exec.backendId);
    if (end === null) {
      // Pruned by recoverClaims once no longer held; bounded for a worker that never recovers a claim.
      if (this.unrecordedEnds.size >= MAX_UNRECORDED_KEPT) this.unrecordedEnds.delete(this.unrecordedEnds.keys().next().value!);
      this.unrecordedEnds.set(exec.backendId, this.clock.now().getTime());
    }
    // An end not recorded (a bug, or given up at shutdown) still has its start marked, so the reaper
    // ends the run lost, counted, when its lease expires (a claimed run would be given back uncounted).
    if (end) this.endedSince.set(end.run.status, (this.endedSince.get(end.run.status) ?? 0) + 1);
    this.timers.done(exec, end === null);
    // A run lost or abandoned before its handler settled keeps its slot until the handler settles.
    if (exec.ending) {
      exec.ending = false;
      this.ending -= 1;
    }
    this.dispatch();
    if (this.active.size === 0 && this.idle) {
      const r = this.idle;
      this.idle = null;
      r();
    }
  }

  /**
   * Everything the worker holds, for its heartbeat: buffered runs, and active runs until their end is
   * recorded (a run leaves `active` then): one whose handler finished and whose end is being retried
   * (the database or the server away) keeps its lease, or the reaper would end a success `lost`.
   */
  private held(): string[] {
    const ids = this.buffer.map((c) => c.run.backendId);
    for (const x of this.active.values()) ids.push(x.backendId);
    return ids;
  }

  private holdsAny(): boolean {
    return this.buffer.length > 0 || this.active.size > 0;
  }

  /** Drops the buffered runs among `ids` (the store says the worker no longer holds them); returns those dropped. */
  private dropBuffered(ids: ReadonlySet<string>): Set<string> {
    const dropped = new Set<string>();
    this.buffer = this.buffer.filter((c) => !(ids.has(c.run.backendId) && dropped.add(c.run.backendId)));
    const n = dropped.size;
    if (n > 0) {
      this.log.info(`dropped ${n} buffered run${n === 1 ? '' : 's'} no longer held (cancelled, disabled, ended by someone else, or reaped)`);
      this.letGo([...dropped]);
    }
    return dropped;
  }

  /**
   * Tells the store this worker no longer has these runs, which it was told it no longer holds (a run
   * withdrawn from its buffer keeps its lease, so its task is not respawned, until then). Only lets go
   * (`withdrawnOnly`: only `lost` runs are touched), so a run claimed again by this worker meanwhile is left as it is.
   */
  private letGo(ids: readonly string[]): void {
    this.board.releaseRuns({ worker: this.id, backendIds: ids, withdrawnOnly: true, answerWithinMs: this.answerWithinMs }).catch((e: unknown) => {
      this.log.warn({ err: e }, `could not tell the store ${ids.length} withdrawn run(s) are let go (their leases run out instead): ${(e as Error).message}`);
    });
  }

  /** One info line for the runs ended since the last one (per-run lines are at debug level). */
  private summary(): void {
    if (this.endedSince.size === 0) return;
    const parts = [...this.endedSince].map(([s, n]) => `${n} ${s}`);
    const total = [...this.endedSince.values()].reduce((a, b) => a + b, 0);
    this.endedSince = new Map();
    this.log.info({ ended: total }, `ended ${total} run${total === 1 ? '' : 's'} (${parts.join(', ')}); ${this.handling} running, ${this.buffer.length} buffered`);
  }

  /**
   * Executes runs this worker holds but is not running: claims whose reply was lost with the connection.
   * `lookAgain`: the first of two looks (the recovery stays pending, its lost claim's instant kept).
   */
  private async recoverClaims(lookAgain = false): Promise<void> {
    // Runs done while the read is on its way: the read may predate their ends, and they left `active`.
    const doneMeanwhile = new Set<string>();
    this.doneDuringRecovery = doneMeanwhile;
    let held: ClaimedRun[];
    try {
      held = await this.board.heldRuns(this.id, { answerWithinMs: this.answerWithinMs });
    } finally {
      this.doneDuringRecovery = null;
    }
    this.recover = lookAgain;
    const known = new Set([...this.active.keys(), ...this.buffer.map((c) => c.run.backendId), ...this.releasing]);
    // Runs whose handler already ran but whose end could not be recorded stay held until a reaper ends
    // them, however late that is (the reapers may be down as long as the database): running them again
    // here would execute them twice. One no longer held never will be again: forgotten.
    const heldIds = new Set(held.map((c) => c.run.backendId));
    for (const id of this.unrecordedEnds.keys()) if (!heldIds.has(id)) this.unrecordedEnds.delete(id);
    for (const id of this.notGivenBack) if (!heldIds.has(id)) this.notGivenBack.delete(id);
    const knownAt = this.clock.now().getTime();
    for (const c of held) {
      if (known.has(c.run.backendId) || this.unrecordedEnds.has(c.run.backendId) || doneMeanwhile.has(c.run.backendId)) continue;
      const next = this.state === 'running' ? 'running it now' : 'giving it back (the worker is stopping)';
      this.log.warn({ backendId: c.run.backendId }, `run ${c.run.backendId}: claimed before the connection was lost; ${next}`);
      // Renewed at its own lease's pace, as a run the claim's answer had brought (a first claim's runs
      // of a 2 s lease were renewed at the default 30 s lease's pace, and reaped while they ran).
      this.timers.leaseMs(c.leaseMs);
      this.minLeaseMs = Math.min(this.minLeaseMs, c.leaseMs);
      // Its lease counted on this worker's clock from the first lost claim (its answer never came), not
      // from the server's expiry. A run no lost claim explains (its give-back failed: the worker had
      // dropped it, maybe before a claim was lost) was in none of the renewals sent before now, and its
      // lease may have run out long ago: it waits for a renewal sent from now on (leaseHolds), and goes
      // if the reaper took it meanwhile.
      const notGivenBack = this.notGivenBack.delete(c.run.backendId);
      this.timers.claimedAt(c, notGivenBack ? -Infinity : (this.lostClaimSentAt ?? -Infinity), knownAt);
      this.buffer.push(c);
    }
    // Runs found by the late looks too count their leases from the failed claim (not from renewals sent before they were known).
    if (!lookAgain && this.lateLooks === null) this.lostClaimSentAt = null;
    this.dispatch(false);
  }

  /**
   * The types this worker claims: its `types` option, or every type it has a handler for, less the
   * paused ones (the store skips those anyway). Read every TYPES_REFRESH_MS, and at once when a type
   * changed; buffered runs of a type found paused go back to the queue (their handlers never began).
   */
  private async currentTypes(): Promise<string[]> {
    const now = this.clock.now().getTime();
    if (now - this.typesReadAt > TYPES_REFRESH_MS) {
      const all = await this.board.listTaskTypes();
      // The same type objects as at the last read (a store or cache that kept them): nothing to work out again.
      const last = this.typesSeen;
      this.typesSeen = all;
      if (last !== null && last.length === all.length && all.every((t, i) => t === last[i])) {
        this.typesReadAt = now;
        return this.types;
      }
      const wanted = this.opts.types ? new Set(this.opts.types) : null;
      const mine = all.filter((t) => (wanted ? wanted.has(t.name) : Object.hasOwn(this.opts.handlers, t.backendName) && (servedTypesOf(this.opts.handlers[t.backendName])?.has(t.name) ?? true)));
      const paused = new Set(mine.filter((t) => t.paused).map((t) => t.name));
      // The registry says what it handles, paused types included.
      this.presence?.setTypes(wanted ? [...wanted] : mine.map((t) => t.name));
      // Named types that do not exist (yet) are still asked for, as before.
      this.types = wanted ? [...wanted].filter((n) => !paused.has(n)) : mine.filter((t) => !t.paused).map((t) => t.name);
      // A named type not created yet counts as limited until it is read (claimDrained).
      const known = new Map(mine.map((t) => [t.name, t]));
      // A lease lowered by an edit reaches the held runs of its type at their next renewal: renewals then
      // come every third of it (not of the lease they were claimed with), or the reaper would take them.
      const held = new Set([...this.buffer.map((c) => c.run.type), ...this.active.values().map((x) => x.claimed.run.type)]);
      for (const t of mine) {
        if (!held.has(t.name)) continue;
        this.timers.leaseMs(t.leaseMs);
        this.minLeaseMs = Math.min(this.minLeaseMs, t.leaseMs);
        // A buffered run's lease is judged by the lowered lease too (renewals only reach now + it): a
        // stalled worker must not begin a run the reaper may have given back.
        for (const c of this.buffer) if (c.run.type === t.name && t.leaseMs < c.leaseMs) c.leaseMs = t.leaseMs;
      }
      this.limitedTypes = this.types.some((n) => { const t = known.get(n); return t === undefined || hasLimits(t); });
      // Worked out here, when the types change, not on every claim (a worker may serve thousands of types).
      this.answerWithinMs = claimAnswerWithinMs(this.types.flatMap((n) => { const t = known.get(n); return t ? [t.leaseMs] : []; }), DEFAULT_LEASE_MS);
      this.typesReadAt = now;
      if (paused.size > 0) await this.giveBackOf(paused, 'paused');
      // A type edited to have limits: its runs claimed ahead (none is, once limited) would start unchecked.
      const limited = new Set(mine.filter((t) => !t.paused && hasLimits(t)).map((t) => t.name));
      if (this.buffer.some((c) => c.run.status === 'claimed' && limited.has(c.run.type))) await this.giveBackOf(limited, 'limited', true);
    }
    return this.types;
  }

  /**
   * Buffered runs of these types go back to the queue at once (`claimedOnly`: those claimed ahead, not
   * those a limited claim started for a free slot); running ones finish.
   */
  private async giveBackOf(types: ReadonlySet<string>, why: 'paused' | 'limited', claimedOnly = false): Promise<void> {
    const goes = (c: ClaimedRun) => types.has(c.run.type) && (!claimedOnly || c.run.status === 'claimed');
    const back = this.buffer.filter(goes);
    if (back.length === 0) return;
    this.buffer = this.buffer.filter((c) => !goes(c));
    const named = [...new Set(back.map((c) => c.run.type))];
    try {
      const n = await this.release(back.map((c) => c.run.backendId));
      this.log.info(`gave ${n} buffered run${n === 1 ? '' : 's'} of ${why} type${named.length === 1 ? '' : 's'} ${named.join(', ')} back to the queue`);
    } catch (e) {
      this.log.warn({ err: e }, `could not give ${back.length} buffered run(s) of ${why} types back (their leases expire and the reaper gives them back): ${(e as Error).message}`);
    }
  }
}

function missingHandler(name: string): Handler {
  return () => {
    throw new Error(`no handler registered for backend "${shown(name)}" in this worker`);
  };
}
