import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, live, type LiveRun } from './api.js';
import type { OrreryClient } from '../http/client.js';

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  /** The last load failed with a `not_found` answer (an unknown id): polling stops. */
  notFound: boolean;
  loading: boolean;
  reload: () => void;
}

/**
 * How a page reads a list its filters offer (task types, listers): again every 30 s, and every 3 s
 * while the last read failed (the server away), so the list comes back without a reload of the page.
 */
export const LIST_POLL = { pollMs: 30_000, retryMs: 3_000 } as const;

/**
 * Loads with the API client and reloads when `deps` change, when a run event passes `liveFilter`
 * (debounced: a burst of events is one reload), and every `pollMs` (for changes the stream does not
 * carry: other processes' runs, DAG progress), and every `retryMs` while the last load failed.
 */
export function useApi<T>(load: (c: OrreryClient) => Promise<T>, deps: unknown[], opts: { live?: (e: LiveRun) => boolean; pollMs?: number; retryMs?: number } = {}): Loaded<T> {
  // The data keeps the deps it was loaded for: in the render where the deps change (before the
  // effect that reloads runs), the previous deps' data must not show under the new ones.
  const [loaded, setLoaded] = useState<{ deps: unknown[]; data: T } | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [notFound, setNotFound] = useState(false);
  const depsRef = useRef(deps);
  depsRef.current = deps;
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const liveRef = useRef(opts.live);
  liveRef.current = opts.live;

  const reload = useCallback(() => {
    const n = ++seq.current;
    const forDeps = depsRef.current;
    setLoading(true);
    api
      .call((c) => loadRef.current(c))
      .then(
        (d) => {
          if (n !== seq.current) return;
          setLoaded({ deps: forDeps, data: d });
          setError(null);
          setNotFound(false);
        },
        (e: unknown) => {
          if (n !== seq.current) return;
          setError(e instanceof Error ? e.message : String(e));
          const gone = (e as { code?: unknown } | null)?.code === 'not_found';
          setNotFound(gone);
          // What the page showed is gone (a type deleted, a task archived while its page is open): the
          // page becomes Not found, as when opened now, instead of its old content beside a Retry.
          if (gone) setLoaded(undefined);
        },
      )
      .finally(() => {
        if (n === seq.current) setLoading(false);
      });
  }, []);

  useEffect(() => {
    setLoaded(undefined);
    reload();
  }, deps);

  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const off = live.subscribe((e) => {
      // An unknown id is not reloaded on events either: no run event brings it into being.
      if (notFound || !liveRef.current?.(e)) return;
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        reload();
      }, 250);
    });
    // An unknown id is not polled: it does not come into being.
    const poll = opts.pollMs && !notFound ? setInterval(() => document.visibilityState === 'visible' && reload(), opts.pollMs) : null;
    return () => {
      off();
      if (timer) clearTimeout(timer);
      if (poll) clearInterval(poll);
    };
  }, [opts.pollMs, notFound, ...deps]);

  // A failed load is tried again after retryMs (then again, while it fails).
  useEffect(() => {
    if (error === null || !opts.retryMs || notFound) return;
    const t = setTimeout(() => document.visibilityState === 'visible' && reload(), opts.retryMs);
    return () => clearTimeout(t);
  }, [error, loading, opts.retryMs]);

  const data = loaded && sameDeps(loaded.deps, deps) ? loaded.data : undefined;
  return { data, error, notFound, loading, reload };
}

function sameDeps(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]));
}

/**
 * Re-renders every `ms` (ages such as "3 s ago" keep moving) and returns the instant of this render,
 * never the timer's older one: data loaded since the last tick must not read as future.
 */
export function useTick(ms: number): number {
  const [, setT] = useState(0);
  useEffect(() => {
    const i = setInterval(() => setT((n) => n + 1), ms);
    return () => clearInterval(i);
  }, [ms]);
  return Date.now();
}
