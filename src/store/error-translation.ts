import { OrreryError, StorageError } from '../core/errors.js';

/** The sub-stores a store exposes as properties; their methods are translated too. */
export const SUB_STORES = ['dags', 'archive', 'visits', 'schedules', 'workers', 'alerts'] as const;

/**
 * One wrapping point per store: every method of the store and of its sub-stores (DAGs, archive,
 * visits) passes what it throws or rejects with through the dialect's translation, so a driver's
 * connection or lock error leaves the store as a StorageUnavailableError whatever the call. Methods
 * run on the store itself (its internal calls are not translated twice).
 */
export function translatingErrors<T extends object>(target: T, dialectTranslate: (e: unknown) => unknown, subStores: readonly string[] = [], isClosed: () => boolean = () => false): T {
  // A call after close() fails in the driver's own words (a pool ended, a connection not open): named here.
  const translate = (e: unknown): unknown =>
    isClosed() && !(e instanceof OrreryError) ? new StorageError('the store is closed: this Orrery was closed (open the database again with openOrrery)', { cause: e }) : dialectTranslate(e);
  const wrapped = new WeakMap<object, unknown>();
  const subs = new Set<PropertyKey>(subStores);
  return new Proxy(target, {
    get(t, key) {
      const v: unknown = Reflect.get(t, key, t);
      if (typeof v === 'function') {
        let w = wrapped.get(v);
        if (!w) {
          w = translated(v as (...a: unknown[]) => unknown, t, translate);
          wrapped.set(v, w);
        }
        return w;
      }
      if (subs.has(key) && v !== null && typeof v === 'object') {
        let w = wrapped.get(v);
        if (!w) {
          w = translatingErrors(v, translate);
          wrapped.set(v, w);
        }
        return w;
      }
      return v;
    },
  });
}

function translated(fn: (...a: unknown[]) => unknown, self: object, translate: (e: unknown) => unknown) {
  return function (...args: unknown[]): unknown {
    let out: unknown;
    try {
      out = fn.apply(self, args);
    } catch (e) {
      throw translate(e);
    }
    if (out !== null && typeof out === 'object' && typeof (out as Promise<unknown>).then === 'function') {
      return (out as Promise<unknown>).then(undefined, (e: unknown) => {
        throw translate(e);
      });
    }
    return out;
  };
}
