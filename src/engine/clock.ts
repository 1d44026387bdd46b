import { invalid, shown } from '../core/errors.js';
import { parseInstant } from '../core/instants.js';

/** A pending timer of a `Clock`: `cancel()` stops it from firing (calling it again does nothing). */
export interface Timer {
  /** Stops the timer; it will not fire. */
  cancel(): void;
}

/** Options of `Clock.setTimer`. */
export interface TimerOptions {
  /** A real timer that does not keep the process alive by itself (Node's `unref`); no effect on a virtual clock. */
  unref?: boolean;
}

/**
 * The source of "now" and of every timer of the engine. Production uses the system clock; tests
 * inject a `ManualClock` (a settable instant, real timers) or a `VirtualClock` (time that jumps to
 * the next timer when the system has nothing else to do: docs/testing.md).
 */
export interface Clock {
  /** The current instant. */
  now(): Date;
  /** Calls `fn` once, `ms` milliseconds from now (at once for `ms <= 0`, but never synchronously). */
  setTimer(ms: number, fn: () => void, opts?: TimerOptions): Timer;
  /**
   * Resolves `ms` milliseconds from now; rejects with the signal's reason when `signal` aborts first
   * (at once when it is already aborted).
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Longest delay of a Node timer (longer ones fire at once): a longer timer is armed again for the rest (realTimer). */
const MAX_TIMER_MS = 2_147_000_000;

/**
 * A Node timer of any length: one longer than a Node timer can wait is armed again for what is left
 * each time it wakes (a 100-day lease or timeout fires after 100 days, not after 24.8); `Infinity`
 * never fires.
 */
function realTimer(ms: number, fn: () => void, opts?: TimerOptions): Timer {
  let t: ReturnType<typeof setTimeout>;
  const arm = (left: number) => {
    t = left > MAX_TIMER_MS ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, left > 0 ? left : 0);
    if (opts?.unref) t.unref?.();
  };
  arm(ms);
  return { cancel: () => clearTimeout(t) };
}

/** `Clock.sleep` from `setTimer`: shared by every clock. */
export function sleepOn(clock: Pick<Clock, 'setTimer'>, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      timer.cancel();
      reject(signal!.reason);
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The system clock: `new Date()` and Node's own timers. */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimer: realTimer,
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
};

/** Latest instant a Date holds (±8.64e15 ms from the epoch). */
export const MAX_DATE_MS = 8.64e15;

/**
 * An instant a test clock is given, in epoch ms: ISO 8601 text read as every instant Orrery reads (UTC
 * when it names no zone; impossible dates refused), or a valid `Date`. `field` names it in the error.
 */
export function clockInstant(at: Date | string, field: string): number {
  if (typeof at === 'string') return parseInstant(at, field).getTime();
  const t = at instanceof Date ? at.getTime() : NaN;
  if (Number.isNaN(t)) throw invalid(field, `must be a valid Date or ISO 8601 text, not ${shown(at)}`);
  return t;
}

/** `t + ms` for a test clock's `advance`: a finite number of ms that leaves a valid instant. */
export function advancedInstant(t: number, ms: number): number {
  const next = t + ms;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || Math.abs(next) > MAX_DATE_MS) throw invalid('ms', `must be a finite number of milliseconds that leaves a valid instant, not ${shown(ms)}`);
  return next;
}

/**
 * A clock whose instant only moves when told to, with real timers: the engine's loops still sleep in
 * real time. For tests and replays of the store and the service (`VirtualClock` for the loops).
 */
export class ManualClock implements Clock {
  private t: number;
  constructor(start: Date | string) {
    this.t = clockInstant(start, 'start');
  }
  /** The clock's instant. */
  now(): Date {
    return new Date(this.t);
  }
  /** Moves the clock to an instant (ISO 8601 text or a `Date`), backwards too. */
  set(at: Date | string): void {
    this.t = clockInstant(at, 'at');
  }
  /** Moves the clock forward by `ms` milliseconds; returns the new instant. */
  advance(ms: number): Date {
    this.t = advancedInstant(this.t, ms);
    return this.now();
  }
  /** A real timer (Node's `setTimeout`): the manual instant does not move it. */
  setTimer(ms: number, fn: () => void, opts?: TimerOptions): Timer {
    return realTimer(ms, fn, opts);
  }
  /** A real sleep (the manual instant does not move it). */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}
