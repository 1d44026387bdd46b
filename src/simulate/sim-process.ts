import { sleepOn, type Clock, type Timer } from '../engine/clock.js';
import type { Jobboard } from '../engine/jobboard.js';
import type { Orrery } from '../engine/service.js';
import type { WakeGate } from './wake-gate.js';

const never = <T>(): Promise<T> => new Promise<T>(() => {});
const SUBSCRIPTIONS = new Set<PropertyKey>(['onRunsScheduled', 'onCancelRequested', 'onTypesChanged']);
const CLAIMS = new Set<PropertyKey>(['claim', 'claimRuns']);

/** A timer of a simulated process: it leaves the process's set when it fires or is cancelled. */
class ProcessTimer implements Timer {
  inner: Timer | null = null;
  constructor(
    private readonly timers: Set<ProcessTimer>,
    private readonly fn: () => void,
  ) {}

  readonly fire = (): void => {
    this.timers.delete(this);
    this.fn();
  };

  cancel(): void {
    this.timers.delete(this);
    this.inner?.cancel();
  }
}

/**
 * A simulated worker process: its own view of the virtual clock and of the jobboard, so that it can
 * die like a killed process. `kill()` cancels every timer it set (its loop, heartbeats, handler
 * sleeps) and from then on no call it made or makes gets an answer; whatever it held is left to the
 * leases and the reaper, as after a real crash.
 */
export class SimProcess {
  readonly clock: Clock;
  readonly board: Jobboard;
  private dead = false;
  private readonly timers = new Set<ProcessTimer>();
  private readonly subscriptions = new Set<() => void>();
  /** Its claim on its way to the store (the store's own promise: it settles even after a kill). */
  private claimInFlight: Promise<unknown> | null = null;
  /** Whether its worker would claim if woken (set once its worker exists). */
  wantsRuns: (() => boolean) | null = null;
  /** Waiting for its next move: a claim, a timer (its loop going back to sleep), or its death. */
  private moveWaiters: Array<(move: 'claim' | 'timer') => void> = [];

  /**
   * `gate` (with the `types` its worker claims): its "runs may be waiting" wake-ups come through the
   * gate instead of straight from the store.
   */
  constructor(base: Clock, orrery: Orrery, gate?: { gate: WakeGate; types: readonly string[] }) {
    const timers = this.timers;
    const self = this;
    this.clock = {
      now: () => base.now(),
      setTimer(ms: number, fn: () => void): Timer {
        if (self.dead) return { cancel() {} };
        if (self.moveWaiters.length > 0) self.moved('timer');
        const handle = new ProcessTimer(timers, fn);
        handle.inner = base.setTimer(ms, handle.fire);
        timers.add(handle);
        return handle;
      },
      sleep(ms: number, signal?: AbortSignal): Promise<void> {
        return sleepOn(this, ms, signal);
      },
    };
    // One wrapper per method, made on first use (the worker reaches for them on every call).
    const methods = new Map<PropertyKey, (...a: unknown[]) => unknown>();
    this.board = new Proxy(orrery as unknown as Jobboard, {
      get: (target, key) => {
        if (key === 'clock') return this.clock;
        if (key === 'onRunsScheduled' && gate) {
          return (listener: () => void) => {
            if (this.dead) return () => {};
            const off = gate.gate.add({
              types: gate.types,
              wake: listener,
              wants: () => this.wantsRuns?.() ?? true,
              claiming: () => this.claimInFlight,
              nextMove: () => this.nextMove(),
            });
            this.subscriptions.add(off);
            return () => {
              this.subscriptions.delete(off);
              off();
            };
          };
        }
        const known = methods.get(key);
        if (known) return known;
        const v: unknown = Reflect.get(target, key, target);
        if (typeof v !== 'function') return v;
        if (key === 'now') {
          const now = v.bind(target) as () => Date;
          methods.set(key, now);
          return now;
        }
        const method = (...args: unknown[]) => {
          if (this.dead) return SUBSCRIPTIONS.has(key) ? () => {} : never();
          const r = (v as (...a: unknown[]) => unknown).apply(target, args);
          if (SUBSCRIPTIONS.has(key)) {
            const off = r as () => void;
            this.subscriptions.add(off);
            return () => {
              this.subscriptions.delete(off);
              off();
            };
          }
          if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
            if (CLAIMS.has(key)) {
              const p = r as Promise<unknown>;
              this.claimInFlight = p;
              const clear = () => {
                if (this.claimInFlight === p) this.claimInFlight = null;
              };
              p.then(clear, clear);
              if (this.moveWaiters.length > 0) this.moved('claim');
            }
            return (r as Promise<unknown>).then(this.answered, this.failed);
          }
          return r;
        };
        methods.set(key, method);
        return method;
      },
    });
  }

  /** An answer to one of its calls: never delivered once it is dead (one function for all calls). */
  private readonly answered = (x: unknown): unknown => (this.dead ? never() : x);
  private readonly failed = (e: unknown): unknown => (this.dead ? never() : Promise.reject(e));

  /** Its next move: a claim, or a timer set (after a wake-up: its loop found nothing to claim and sleeps). */
  private nextMove(): Promise<'claim' | 'timer'> {
    if (this.dead) return Promise.resolve('timer');
    return new Promise((r) => this.moveWaiters.push(r));
  }

  private moved(move: 'claim' | 'timer'): void {
    const w = this.moveWaiters;
    this.moveWaiters = [];
    for (const r of w) r(move);
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** The process dies: its timers never fire, its calls are never answered, its wake-ups are gone. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    this.moved('timer');
    for (const t of [...this.timers]) t.cancel();
    for (const off of [...this.subscriptions]) off();
    this.subscriptions.clear();
  }
}
