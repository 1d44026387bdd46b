import { invalid } from '../core/errors.js';
import { knownOptions } from '../core/options.js';
import { advancedInstant, clockInstant, MAX_DATE_MS, sleepOn, type Clock, type Timer } from './clock.js';

export interface VirtualClockOptions {
  /**
   * Turns of the event loop (`setImmediate`) in a row without activity after which the system counts
   * as quiet (default 2; see docs/testing.md). Activity: a timer set, cancelled or fired, `now()` read, a tracked operation
   * begun or ended.
   */
  quietTurns?: number;
}

/** A promise executor that resolves at the next turn of the event loop. */
const nextTurn = (r: () => void): void => {
  setImmediate(r);
};

/** A pending timer; it is its own handle (no closure per timer). */
class Pending implements Timer {
  cancelled = false;
  constructor(
    public due: number,
    readonly seq: number,
    readonly fn: () => void,
    private readonly onCancel: () => void,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.onCancel();
  }
}

/**
 * A clock for simulations and tests whose time moves only through its own timers. `run(until)` (and
 * `advance(ms)`) repeat one rule: wait until the system is quiet, then jump to the earliest pending
 * timer and fire every timer due at that instant, in the order they were set. The system is quiet when
 * no tracked operation (`track`) is in flight and `quietTurns` turns of the event loop in a row passed
 * with no activity, so every promise, `setImmediate` and synchronous store call that follows from the
 * last timer has run. Nothing else moves time: a handler that waits on real I/O must be tracked.
 * With the same inputs the timers fire in the same order at the same instants (deterministic).
 */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly heap: Pending[] = [];
  private activity = 0;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly quietTurns: number;
  private live = 0;
  private stepCount = 0;

  constructor(start: Date | string, opts: VirtualClockOptions = {}) {
    this.t = clockInstant(start, 'start');
    // Options given as null, or a misspelt one, are refused as every call's are; a null quietTurns is no whole number.
    opts = knownOptions(opts, ['quietTurns']);
    const turns = opts.quietTurns === undefined ? 2 : opts.quietTurns;
    // 0 would count the system quiet at once (time jumping past every run), a fraction or NaN never.
    if (typeof turns !== 'number' || !Number.isInteger(turns) || turns < 1 || turns > 1_000) throw invalid('quietTurns', `must be a whole number from 1 to 1000, not ${String(turns)}`);
    this.quietTurns = turns;
  }

  /** The virtual instant. */
  now(): Date {
    this.activity += 1;
    return new Date(this.t);
  }

  /** The virtual instant in epoch milliseconds (counted as activity, like `now()`). */
  nowMs(): number {
    this.activity += 1;
    return this.t;
  }

  /** A virtual timer: fires when `run`/`advance` reach its instant (never synchronously). */
  setTimer(ms: number, fn: () => void): Timer {
    this.activity += 1;
    // A delay past the last instant a Date holds (Infinity included) fires there, if time ever gets there.
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, Math.floor(ms));
    const p = new Pending(Math.min(this.t + delay, MAX_DATE_MS), this.seq++, fn, this.onCancel);
    this.push(p);
    this.live += 1;
    return p;
  }

  /** A pending timer was cancelled (its own `cancel()`). */
  private readonly onCancel = (): void => {
    this.live -= 1;
    this.activity += 1;
  };

  /** Resolves when the virtual time reaches `ms` from now; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Jumps made so far (each fires the timers due at one instant). */
  get steps(): number {
    return this.stepCount;
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.live;
  }

  /** The instant of the earliest pending timer, or null. */
  nextTimerAt(): Date | null {
    this.prune();
    return this.heap.length > 0 ? new Date(this.heap[0]!.due) : null;
  }

  /**
   * Holds the clock while `op` is in flight: time does not move until it settles. Wrap every
   * operation that waits on real I/O (a network database, a file) with it.
   */
  track<T>(op: Promise<T>): Promise<T> {
    this.inflight += 1;
    this.activity += 1;
    op.then(this.settled, this.settled);
    return op;
  }

  /** A tracked operation settled (one function for all of them: no closure per store call). */
  private readonly settled = (): void => {
    this.inflight -= 1;
    this.activity += 1;
    if (this.inflight === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      w.forEach((r) => r());
    }
  };

  /** Resolves a waiter when tracked operations are all settled. */
  private readonly waitIdle = (r: () => void): void => {
    this.idleWaiters.push(r);
  };

  /** Waits until the system is quiet (see the class comment), without moving time. */
  async drain(): Promise<void> {
    let quiet = 0;
    while (quiet < this.quietTurns) {
      const before = this.activity;
      await new Promise<void>(nextTurn);
      if (this.inflight > 0) {
        await new Promise<void>(this.waitIdle);
        quiet = 0;
        continue;
      }
      quiet = this.activity === before ? quiet + 1 : 0;
    }
  }

  /** Moves time forward by `ms`, firing every timer due on the way at its own instant; ends quiet at now + ms. */
  async advance(ms: number): Promise<void> {
    await this.run(new Date(advancedInstant(this.t, ms)));
  }

  /**
   * Repeats "drain, then jump to the earliest timer and fire the timers due then" until the earliest
   * timer is after `until` (or none is left, or `stop()` returns true after a step); time then moves to
   * `until` (when it stopped there) and the system is drained once more. Resolves with the instant reached.
   */
  async run(until: Date, stop?: () => boolean): Promise<Date> {
    const end = clockInstant(until, 'until');
    for (;;) {
      await this.drain();
      if (stop?.()) return new Date(this.t);
      this.prune();
      const first = this.heap[0];
      if (!first || first.due > end) break;
      this.t = Math.max(this.t, first.due);
      this.stepCount += 1;
      this.fireDue();
    }
    if (end > this.t) this.t = end;
    await this.drain();
    return new Date(this.t);
  }

  /** Fires the timers due now that were set before this step (a timer set by one of them waits for the next step). */
  private fireDue(): void {
    const bound = this.seq;
    while (this.heap.length > 0 && this.heap[0]!.due <= this.t && this.heap[0]!.seq < bound) {
      const p = this.pop()!;
      if (p.cancelled) continue;
      p.cancelled = true;
      this.live -= 1;
      this.activity += 1;
      p.fn();
    }
  }

  private prune(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
  }

  private less(a: Pending, b: Pending): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(p: Pending): void {
    const h = this.heap;
    h.push(p);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Pending | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}
