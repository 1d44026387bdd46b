import { SUB_STORES } from '../store/error-translation.js';
import type { Store } from '../store/store.js';

/**
 * The store calls of a simulation that have not had their answer yet, reads included. A database
 * server (PostgreSQL) answers in real time, so how many turns of the event loop pass before an answer
 * comes differs from one run to the next: whatever waits on the simulation's side for "nothing
 * happened this turn" (WakeGate) must first wait for the calls in flight, or its outcome depends on the
 * server's speed. On SQLite every call is answered before the next turn, and this never waits.
 */
export class StoreCalls {
  private pending = 0;
  private waiters: Array<() => void> = [];

  /** The store with every call that returns a promise (its sub-stores' too) counted until it settles. */
  counting(store: Store): Store {
    return this.proxy(store, new Set<PropertyKey>(SUB_STORES));
  }

  /** Whether no call is waiting for its answer. */
  get idle(): boolean {
    return this.pending === 0;
  }

  /** Resolves when no call is waiting for its answer (at once when none is). */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** A call had its answer (one function for all of them: no closure per call). */
  private readonly settled = (): void => {
    this.pending -= 1;
    if (this.pending === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const r of w) r();
    }
  };

  private proxy<T extends object>(target: T, subs: ReadonlySet<PropertyKey>): T {
    const cache = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get: (t, key) => {
        const hit = cache.get(key);
        if (hit !== undefined) return hit;
        const v: unknown = Reflect.get(t, key, t);
        let out: unknown;
        if (typeof v === 'function') {
          out = (...args: unknown[]): unknown => {
            const r = (v as (...a: unknown[]) => unknown).apply(t, args);
            if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
              this.pending += 1;
              (r as Promise<unknown>).then(this.settled, this.settled);
            }
            return r;
          };
        } else if (subs.has(key) && v !== null && typeof v === 'object') out = this.proxy(v, new Set());
        else return v;
        cache.set(key, out);
        return out;
      },
    });
  }
}
