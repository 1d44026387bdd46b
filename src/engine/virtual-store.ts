import type { Store } from '../store/store.js';
import { SUB_STORES } from '../store/error-translation.js';
import type { VirtualClock } from './virtual-clock.js';

/**
 * The store seen through a virtual clock: every call that returns a promise (of the store and of its
 * sub-stores) holds the clock until it settles, so time does not jump while a query is on its way to a
 * database server. `openOrrery` applies it when its clock is a `VirtualClock`.
 */
export function holdingClock(store: Store, clock: VirtualClock): Store {
  return tracked(store, clock, new Set<PropertyKey>(SUB_STORES));
}

function tracked<T extends object>(target: T, clock: VirtualClock, subs: ReadonlySet<PropertyKey>): T {
  const cache = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(t, key) {
      // Cached first: the engine reaches for a store method on every call.
      const hit = cache.get(key);
      if (hit !== undefined) return hit;
      const v: unknown = Reflect.get(t, key, t);
      let out = v;
      if (typeof v === 'function') {
        out = function (...args: unknown[]): unknown {
          const r = (v as (...a: unknown[]) => unknown).apply(t, args);
          return r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function' ? clock.track(r as Promise<unknown>) : r;
        };
      } else if (subs.has(key) && v !== null && typeof v === 'object') out = tracked(v, clock, new Set());
      else return v;
      cache.set(key, out);
      return out;
    },
  });
}
