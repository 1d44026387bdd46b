/**
 * A worker's liveness from the age of its latest sign of life (docs/dashboard.md#workers): a lease
 * renewal (a claim or a heartbeat: a worker renews the leases it holds every third of the lease, at
 * most every 10 s) or a run it ended.
 */

/** Seen within this long: alive (three heartbeats of the default 30 s lease). */
export const WORKER_ALIVE_MS = 30_000;
/** Not seen for this long: gone (a run it still held has outlived any lease but the longest; the reaper takes them back). */
export const WORKER_GONE_MS = 5 * 60_000;

export const WORKER_LIVENESS = ['alive', 'stale', 'gone'] as const;
export type WorkerLiveness = (typeof WORKER_LIVENESS)[number];

/** The latest of the instants given (null when none). */
export function lastSignOfLife(...signs: ReadonlyArray<Date | null | undefined>): Date | null {
  let last: Date | null = null;
  for (const s of signs) if (s && (!last || s.getTime() > last.getTime())) last = s;
  return last;
}

/** alive: seen within WORKER_ALIVE_MS; stale: within WORKER_GONE_MS; gone: longer ago, or never. */
export function workerLiveness(lastSeen: Date | null, at: Date): WorkerLiveness {
  if (!lastSeen) return 'gone';
  const age = at.getTime() - lastSeen.getTime();
  if (age <= WORKER_ALIVE_MS) return 'alive';
  return age <= WORKER_GONE_MS ? 'stale' : 'gone';
}
