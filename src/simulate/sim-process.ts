import { sleepOn, type Clock, type Timer } from '../engine/clock.js';
import type { Jobboard } from '../engine/jobboard.js';
import type { Orrery } from '../engine/service.js';

const never = <T>(): Promise<T> => new Promise<T>(() => {});
const SUBSCRIPTIONS = new Set<PropertyKey>(['onRunsScheduled', 'onCancelRequested', 'onTypesChanged']);

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
  private readonly timers = new Set<Timer>();
  private readonly subscriptions = new Set<() => void>();

  constructor(base: Clock, orrery: Orrery) {
    const timers = this.timers;
    const self = this;
    this.clock = {
      now: () => base.now(),
      setTimer(ms: number, fn: () => void): Timer {
        if (self.dead) return { cancel() {} };
        const t = base.setTimer(ms, () => {
          timers.delete(handle);
          fn();
        });
        const handle: Timer = {
          cancel() {
            timers.delete(handle);
            t.cancel();
          },
        };
        timers.add(handle);
        return handle;
      },
      sleep(ms: number, signal?: AbortSignal): Promise<void> {
        return sleepOn(this, ms, signal);
      },
    };
    this.board = new Proxy(orrery as unknown as Jobboard, {
      get: (target, key) => {
        if (key === 'clock') return this.clock;
        const v: unknown = Reflect.get(target, key, target);
        if (typeof v !== 'function' || key === 'now') return typeof v === 'function' ? v.bind(target) : v;
        return (...args: unknown[]) => {
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
            return (r as Promise<unknown>).then(
              (x) => (this.dead ? never() : x),
              (e: unknown) => (this.dead ? never() : Promise.reject(e)),
            );
          }
          return r;
        };
      },
    });
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** The process dies: its timers never fire, its calls are never answered, its wake-ups are gone. */
  kill(): void {
    if (this.dead) return;
    this.dead = true;
    for (const t of [...this.timers]) t.cancel();
    for (const off of [...this.subscriptions]) off();
    this.subscriptions.clear();
  }
}
