/**
 * A worker's liveness (docs/operations.md#workers): from the age of its latest sign of life, which is
 * the later of its registry row's `lastSeen` (a worker refreshes it every WORKER_REFRESH_MS, idle or
 * not), a lease renewal (a claim or a heartbeat) and a run it ended; or `stopped` when it said so on a
 * graceful stop and showed no sign of life since.
 */

/** Seen within this long: alive (three refreshes of the registry, or heartbeats of the default 30 s lease). */
export const WORKER_ALIVE_MS = 30_000;
/** Not seen for this long: gone (a run it still held has outlived any lease but the longest; the reaper takes them back). */
export const WORKER_GONE_MS = 5 * 60_000;

export const WORKER_LIVENESS = ['alive', 'stale', 'gone', 'stopped'] as const;
export type WorkerLiveness = (typeof WORKER_LIVENESS)[number];

/** The latest of the instants given (null when none). */
export function lastSignOfLife(...signs: ReadonlyArray<Date | null | undefined>): Date | null {
  let last: Date | null = null;
  for (const s of signs) if (s && (!last || s.getTime() > last.getTime())) last = s;
  return last;
}

/**
 * stopped: it marked itself stopped (`stoppedAt`, by `at`) and was not seen after that; otherwise
 * alive: seen within WORKER_ALIVE_MS (or after `at`: judged at a past instant, a worker that stopped
 * or was seen later was running then); stale: within WORKER_GONE_MS; gone: longer ago, or never.
 */
export function workerLiveness(lastSeen: Date | null, at: Date, stoppedAt: Date | null = null): WorkerLiveness {
  if (stoppedAt && stoppedAt.getTime() <= at.getTime() && (!lastSeen || lastSeen.getTime() <= stoppedAt.getTime())) return 'stopped';
  if (!lastSeen) return 'gone';
  const age = at.getTime() - lastSeen.getTime();
  if (age <= WORKER_ALIVE_MS) return 'alive';
  return age <= WORKER_GONE_MS ? 'stale' : 'gone';
}
