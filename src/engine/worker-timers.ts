import { claimAnswerWithinMs } from '../core/claim-ahead.js';
import { RepeatedFailure } from '../core/repeated-failure.js';
import { LeaseLostError, isStorageUnavailable } from '../core/errors.js';
import type { HeartbeatItem } from '../store/store.js';
import { systemClock, type Clock, type Timer } from './clock.js';
import type { Jobboard } from './jobboard.js';
import type { Logger } from './logger.js';
import type { RunExecution } from './run-execution.js';
import { IdTable } from './id-table.js';

/** A run whose handler began is marked started in the store within this long (by the worker's heartbeat). */
export const START_MARK_MS = 250;
/** The worker logs one line for the runs it ended when a run ends this long after the last line (and at ticks, when it holds nothing, at stop). */
const SUMMARY_MS = 10_000;

export interface WorkerTimerHooks {
  /** Everything the worker holds (buffered and running runs). */
  held(): string[];
  /** Whether it holds anything (`held().length > 0`, without building the list). */
  holdsAny(): boolean;
  /** Drops the buffered runs among `ids`; returns those it dropped. */
  dropBuffered(ids: ReadonlySet<string>): Set<string>;
  /** A renewal of every held lease was confirmed: buffered runs waiting on it may begin. */
  renewed?(): void;
  execution(backendId: string): RunExecution | undefined;
  summary(): void;
}

/**
 * A worker's timers, two in all however many runs it holds: a tick that renews every held lease in
 * one heartbeat per third of the shortest lease (ticking only as often as that, or every
 * START_MARK_MS while begun runs wait for their mark), marks runs whose handler began as started within
 * START_MARK_MS (so a run that began and then lost its worker is not given back as never run, beyond
 * that window), and logs the summary line; and one timer for the earliest run timeout.
 */
export class WorkerTimers {
  private tick: Timer | null = null;
  /** When the next tick fires (epoch ms). */
  private tickAt = Infinity;
  private running = false;
  private deadlineTimer: Timer | null = null;
  private deadlineAt = Infinity;
  /** Runs with a deadline, by backend id (an IdTable, not a Set: id-table.ts). */
  private readonly deadlines = new IdTable<RunExecution>();
  /** Runs whose handler began and that the store still holds as claimed: backend id → start. */
  private readonly unmarked = new IdTable<Date>();
  private lease = 30_000;
  /** Whether a claimed run's lease has set `lease` (else it is the one given to `start`). */
  private leaseSeen = false;
  private lastRenew: number;
  private lastSummary: number;
  /** The summary line owed once SUMMARY_MS have passed since the last (the worker stopped holding runs). */
  private summaryTimer: Timer | null = null;
  private inFlight: Promise<void> | null = null;
  /** A full heartbeat was asked for while another was in flight: it goes out once that one answered. */
  private fullBeatDue = false;
  /** Failed heartbeats in a row (the database away): logged once, then every 10 s, not every tick. */
  private readonly beatFailures = new RepeatedFailure();

  constructor(
    private readonly board: Jobboard,
    private readonly worker: string,
    private readonly log: Logger,
    private readonly hooks: WorkerTimerHooks,
    private readonly clock: Clock = systemClock,
  ) {
    this.lastRenew = clock.now().getTime();
    this.lastSummary = this.lastRenew;
  }

  start(leaseMs: number): void {
    this.lease = leaseMs;
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    this.tickAt = Infinity;
    this.tick?.cancel();
    this.deadlineTimer?.cancel();
    this.summaryTimer?.cancel();
    this.tick = null;
    this.deadlineTimer = null;
    this.summaryTimer = null;
  }

  /**
   * A claimed run's lease: the first one sets the renewal period (a third of it), a shorter one later
   * shortens it (tick faster). Until the first claim the period is that of the lease given to `start`.
   */
  leaseMs(ms: number): void {
    if (this.leaseSeen && ms >= this.lease) return;
    this.leaseSeen = true;
    if (ms === this.lease) return;
    this.lease = ms;
    if (this.tick) this.arm();
  }

  /** The tick's period while begun runs wait to be marked started. */
  private get fastMs(): number {
    return Math.max(50, Math.min(START_MARK_MS, Math.floor(this.lease / 3)));
  }

  /**
   * (Re)sets the next tick: one fast period away while begun runs wait for their start mark, else at
   * the next renewal (a third of the lease after the last), and at most SUMMARY_MS away. A worker
   * that holds nothing does not tick at all: its next begun or ended run arms the tick again.
   */
  private arm(): void {
    this.tick?.cancel();
    const now = this.clock.now().getTime();
    const fast = this.fastMs;
    const delay = this.unmarked.size > 0 ? fast : Math.max(fast, this.lastRenew + this.lease / 3 - 10 - now);
    this.tickAt = now + delay;
    this.tick = this.clock.setTimer(delay, () => {
      this.tick = null;
      this.tickAt = Infinity;
      this.onTick();
      if (this.running && (this.unmarked.size > 0 || this.hooks.holdsAny())) this.arm();
      else this.summaryWhenDue();
    }, { unref: true });
  }

  /**
   * The summary line of a worker that holds nothing any more: now if SUMMARY_MS have passed since the
   * last one, else when they have (never more often: docs/cli.md "at most every 10 s").
   */
  private summaryWhenDue(): void {
    if (this.summaryTimer) return;
    const wait = this.lastSummary + SUMMARY_MS - this.clock.now().getTime();
    if (wait <= 0) return this.summaryNow();
    this.summaryTimer = this.clock.setTimer(wait, () => {
      this.summaryTimer = null;
      this.summaryNow();
    }, { unref: true });
  }

  private summaryNow(): void {
    this.lastSummary = this.clock.now().getTime();
    this.hooks.summary();
  }

  /** The summary line if SUMMARY_MS have passed since the last one. */
  private summaryIfDue(now: number): void {
    if (now - this.lastSummary >= SUMMARY_MS) {
      this.summaryTimer?.cancel();
      this.summaryTimer = null;
      this.summaryNow();
    }
  }

  /** The instant (epoch ms) of the last renewal of every held lease that the store confirmed: each held lease runs at least a lease past it. */
  renewedAt = -Infinity;

  /**
   * Whether a buffered run's lease is still certainly its own, a start-mark period from now: the lease
   * its claim set, or the last confirmed renewal's. A worker stalled for longer than a lease (a paused
   * process, a database locked for seconds) must not begin a run the reaper may have given back.
   */
  leaseHolds(c: { run: { leaseExpiresAt: Date | null }; leaseMs: number }): boolean {
    // The claim's lease counted on this worker's clock from when it asked (the server's began later):
    // the server's leaseExpiresAt read on a clock behind the server's would look longer than it is.
    // A renewal counts only when sent once the run was in the worker's hands (a run recovered after a
    // lost claim answer was in none of the heartbeats sent before its recovery).
    const own = this.claimSent.get(c);
    const claimed = own !== undefined ? own.sent + c.leaseMs : (c.run.leaseExpiresAt?.getTime() ?? -Infinity);
    const renewed = own === undefined || this.renewedAt >= own.known ? this.renewedAt + c.leaseMs : -Infinity;
    return this.clock.now().getTime() + this.fastMs < Math.max(claimed, renewed);
  }

  /** When (on this worker's clock) the claim that buffered `c` was sent, and when the worker got it. */
  private readonly claimSent = new WeakMap<object, { sent: number; known: number }>();

  /** Records when the claim that buffered `c` was sent (leaseHolds counts its lease from then) and when its answer came (`knownAt`). */
  claimedAt(c: object, sentAt: number, knownAt: number): void {
    this.claimSent.set(c, { sent: sentAt, known: knownAt });
  }

  /** Renews every held lease soon, so buffered runs whose lease is in doubt are confirmed or dropped (then `renewed`). */
  confirmLeases(): void {
    if (!this.inFlight) void this.beatNow();
  }

  /** Forgets a begun run's start not yet marked (its execution was dropped: the store gave the run back). */
  forgetStart(backendId: string): void {
    this.unmarked.delete(backendId);
  }

  /**
   * A claim sent at `sentAt` (epoch ms) returned runs while the worker held nothing else: their
   * leases were set by the claim, at or after `sentAt`, so every lease it holds is as fresh as after a
   * renewal then, and the next renewal is due a third of the lease later (not at the next tick).
   */
  claimedIntoEmpty(sentAt: number): void {
    if (sentAt > this.lastRenew) this.lastRenew = sentAt;
  }

  begun(exec: RunExecution): void {
    if (exec.claimed.run.status === 'claimed' && exec.startedAt) {
      this.unmarked.set(exec.backendId, exec.startedAt);
      // Its start is marked within a fast period: tick sooner if the next tick is further away.
      if (this.running && this.tickAt > this.clock.now().getTime() + this.fastMs) this.arm();
    } else if (this.running && !this.tick) this.arm();
  }

  /**
   * The run is no longer the worker's; with `keepStartMark`, a start not yet marked is still marked by
   * the next tick. The summary line is due when SUMMARY_MS have passed since the last one.
   */
  done(exec: RunExecution, keepStartMark = false): void {
    if (!keepStartMark) this.unmarked.delete(exec.backendId);
    this.summaryIfDue(this.clock.now().getTime());
    // Runs still buffered (claimed while ends were being written) keep their leases renewed.
    if (this.running && !this.tick && (this.unmarked.size > 0 || this.hooks.holdsAny())) this.arm();
    if (this.deadlines.delete(exec.backendId) && this.deadlines.size === 0 && this.deadlineTimer) {
      this.deadlineTimer.cancel();
      this.deadlineTimer = null;
      this.deadlineAt = Infinity;
    }
  }

  deadline(exec: RunExecution): void {
    this.deadlines.set(exec.backendId, exec);
    if (exec.deadline! < this.deadlineAt) this.armDeadline(exec.deadline!);
  }

  private armDeadline(at: number): void {
    this.deadlineTimer?.cancel();
    this.deadlineAt = at;
    this.deadlineTimer = this.clock.setTimer(Math.max(0, at - this.clock.now().getTime()), () => this.onDeadline(), { unref: true });
  }

  private onDeadline(): void {
    this.deadlineTimer = null;
    this.deadlineAt = Infinity;
    const now = this.clock.now().getTime();
    let next = Infinity;
    for (const x of this.deadlines.values()) {
      if (x.deadline! <= now) {
        this.deadlines.delete(x.backendId);
        x.timeout();
      } else next = Math.min(next, x.deadline!);
    }
    if (next < Infinity) this.armDeadline(next);
  }

  private onTick(): void {
    const now = this.clock.now().getTime();
    this.summaryIfDue(now);
    if (now - this.lastRenew >= this.lease / 3 - 10) void this.beatNow();
    else {
      // Runs begun since the last tick: marked started (one statement), leases renewed with it.
      if (this.unmarked.size > 0) void this.beat(this.unmarked.keys());
    }
  }

  /** Renews every held lease now (also on a `cancel` wake-up: the answer names runs to cancel). */
  beatNow(): Promise<void> {
    if (this.inFlight) {
      this.fullBeatDue = true;
      return this.inFlight;
    }
    this.lastRenew = this.clock.now().getTime();
    return this.beat(this.hooks.held(), this.lastRenew);
  }

  private beat(ids: string[], fullAt: number | null = null): Promise<void> {
    if (this.inFlight || ids.length === 0) return this.inFlight ?? Promise.resolve();
    const runs: HeartbeatItem[] = ids.map((backendId) => {
      const startedAt = this.unmarked.get(backendId);
      return startedAt ? { backendId, startedAt } : { backendId };
    });
    this.inFlight = this.board
      // A remote board waits for the answer at most a third of the lease: a lost answer leaves time to beat again.
      .heartbeatRuns({ worker: this.worker, runs, answerWithinMs: claimAnswerWithinMs([this.lease], this.lease) })
      .then((answer) => {
        const back = this.beatFailures.succeeded(this.clock.now().getTime(), 'heartbeat');
        if (back) this.log.info(back);
        if (fullAt !== null && fullAt > this.renewedAt) this.renewedAt = fullAt;
        for (const r of runs) if (r.startedAt) this.unmarked.delete(r.backendId);
        const lost = new Set(answer.lost);
        const dropped = lost.size > 0 ? this.hooks.dropBuffered(lost) : lost;
        for (const id of lost) {
          if (dropped.has(id)) continue;
          this.hooks.execution(id)?.lost(new LeaseLostError(`run ${id} is no longer held by worker ${this.worker}`));
        }
        for (const id of answer.cancelRequested) this.hooks.execution(id)?.cancel();
        if (fullAt !== null) this.hooks.renewed?.();
      })
      .catch((e: unknown) => {
        const now = this.clock.now().getTime();
        const line = this.beatFailures.failed(now, `heartbeat of ${runs.length} held run(s)`, (e as Error).message);
        if (line) this.log.error({ err: e }, line);
        // A renewal failed by an outage (the database or server away) is tried again a tenth of the
        // lease later, not a third: an outage of two thirds of a lease would otherwise let leases run
        // out that a retry in time renews. Other errors (a refused token) keep the usual pace.
        if (fullAt !== null && this.running && isStorageUnavailable(e)) {
          const retry = Math.max(this.fastMs, this.lease / 10);
          this.lastRenew = Math.min(this.lastRenew, now + retry - this.lease / 3 + 10);
          if (this.tick && this.tickAt > now + retry) this.arm();
        }
      })
      .finally(() => {
        this.inFlight = null;
        if (this.fullBeatDue && this.tick) {
          this.fullBeatDue = false;
          void this.beatNow();
        }
      });
    return this.inFlight;
  }
}
