import { earlier } from './instants.js';
import { MAX_TIMER_MS } from './options.js';
import { hasLimits } from './limits.js';
import { priorityRank, type Priority, type TaskType } from './model.js';

/** Most handlers one worker runs at once (`concurrency`, `--concurrency`): a claim asks for its free slots and its buffer. */
export const MAX_CONCURRENCY = 100_000;
/** Most runs a worker's buffer may be asked to hold (`prefetch`, `--prefetch`). */
export const MAX_PREFETCH = 1_000_000;
/** A worker's default claim-ahead: most runs it holds beyond those its handlers are running. */
export const DEFAULT_PREFETCH = 500;
/** The runner's default grace: how long due tasks of types without limits are left to workers. */
export const DEFAULT_RUNNER_GRACE_MS = 1_000;

export interface ClaimAheadState {
  concurrency: number;
  /** Most runs held at once beyond the running ones (the `prefetch` option). */
  prefetch: number;
  /** The shortest lease among the worker's types (a buffered run must start well within it). */
  leaseMs: number;
  /** Mean handler duration observed so far; null before the first run ended. */
  meanHandlerMs: number | null;
  /** Runs claimed and waiting in the worker's buffer. */
  buffered: number;
  /** Handlers running now. */
  running: number;
}

/**
 * How many runs a worker asks for now (0: none). The buffer target grows with what the worker can
 * start within a third of a lease at its observed pace, from its concurrency up to `prefetch`, so a
 * buffered run never waits long enough to lose its lease and slow handlers do not hoard runs other
 * workers could take. A claim is made once the buffer has fallen to half the target (or when slots
 * are free and the buffer is empty), so claims come in few large batches.
 */
export function claimSize(s: ClaimAheadState): number {
  const target = bufferTarget(s);
  const free = Math.max(0, s.concurrency - s.running);
  const want = target + free - s.buffered;
  if (want <= 0) return 0;
  if (s.buffered > Math.floor(target / 2)) return 0;
  return want;
}

/** The number of runs a worker keeps waiting in its buffer (beyond its running handlers). */
export function bufferTarget(s: Pick<ClaimAheadState, 'concurrency' | 'prefetch' | 'leaseMs' | 'meanHandlerMs'>): number {
  if (s.prefetch <= 0) return 0;
  // Before any run ended: no more than one round of the worker's slots.
  if (s.meanHandlerMs === null) return Math.min(s.prefetch, s.concurrency);
  const startable = Math.floor((s.concurrency * s.leaseMs) / (3 * Math.max(s.meanHandlerMs, 0.01)));
  return Math.max(0, Math.min(s.prefetch, startable));
}

/**
 * How many buffered runs a worker gives back to the queue: all past its target once they are more
 * than a quarter of it (0 until then). The slack keeps a pace that wavers a little from giving a few
 * runs back after many ends, each a write, to claim them again (3-8 % of the runs of 30 ms handlers
 * under a 3 s lease); runs within it are still begun within about 0.42 of a lease.
 */
export function surplusToGiveBack(buffered: number, target: number): number {
  const surplus = buffered - target;
  return surplus > Math.floor(target / 4) ? surplus : 0;
}

/** How long a type's handler pace counts for the buffer after its last run settled. */
export const PACE_MEMORY_MS = 60_000;

/** A type's mean handler time (a moving average) and when a run of it last settled. */
export interface TypePace {
  meanMs: number;
  at: number;
}

/**
 * A type's pace once one more of its runs settled after `handlerMs`: a moving average over its runs (a
 * tenth of the way to each new one). Not biased towards slow runs: a mean that rose faster than it fell
 * settled well above the mean of varied durations, and kept the buffer short of what the slots begin
 * (the simulator's exact FIFO forecast then drifted); a slowdown therefore shows over about ten runs.
 */
export function nextPace(before: TypePace | undefined, handlerMs: number, at: number): TypePace {
  return { meanMs: before === undefined ? handlerMs : before.meanMs * 0.9 + handlerMs * 0.1, at };
}

/**
 * The pace a worker's buffer is sized by (bufferTarget's meanHandlerMs), read when it claims or trims:
 * the slowest of the types whose runs settled within PACE_MEMORY_MS (or three of their mean runs, when
 * that is longer), so fast runs of one type do not hide slow runs of another, and a slow type that
 * stopped coming does not keep the buffer small for ever. Null: no recent run (one round of slots).
 */
export function bufferPace(paces: Iterable<TypePace>, now: number): number | null {
  let slowest: number | null = null;
  for (const p of paces) if (now - p.at <= Math.max(PACE_MEMORY_MS, 3 * p.meanMs) && (slowest === null || p.meanMs > slowest)) slowest = p.meanMs;
  return slowest;
}

/**
 * The order of the runs a claim answers, and the order a worker begins them in: the runs the claim
 * started first (its `startNow`, which a worker begins at once), then the others; within each, highest
 * priority first, then the oldest `scheduled`, then the lowest id (SPEC §2.3). A run without its task
 * (read back, not claimed) counts as having no priority.
 */
export function claimOrder(a: ClaimOrderItem, b: ClaimOrderItem): number {
  return (
    Number(a.run.status !== 'started') - Number(b.run.status !== 'started') ||
    priorityRank(a.task?.priority ?? null) - priorityRank(b.task?.priority ?? null) ||
    a.run.scheduled.getTime() - b.run.scheduled.getTime() ||
    a.run.id - b.run.id
  );
}

/** What claimOrder reads of a claimed run. */
export interface ClaimOrderItem {
  run: { status: string; scheduled: Date; id: number };
  task?: { priority: Priority | null };
}

/** The most runs one claim through the HTTP jobboard may ask for (`POST /api/jobboard/claim`, its `limit` and `startNow`). */
export const MAX_HTTP_CLAIM = 1000;

/**
 * Whether a worker's claim found its store drained: it asked for runs and got fewer, none of its types
 * has limits (a run of a limited type that ends may free a slot for a waiting one) and no rate limit
 * held runs back. A drained worker claims again when a wake-up says work arrived (or at its poll),
 * not each time one of its handlers settles: claims that would find nothing cost a round trip each and
 * delay the claim of the next task that arrives.
 */
export function claimDrained(c: { asked: number; got: number; heldBack: boolean; limitedTypes: boolean }): boolean {
  return c.asked > 0 && c.got < c.asked && !c.heldBack && !c.limitedTypes;
}

/**
 * How long a claim may trust that the queue of waiting runs it found empty is still empty, when no
 * `runs` wake-up came since (every run queued sends one): past it the queue is read again, so runs
 * whose wake-up was lost (a LISTEN connection down) are claimed at the next claim after it.
 */
export const QUEUE_EMPTY_TRUST_MS = 1_000;

/**
 * Whether a claim of types without limits reads the queue of waiting runs before it claims due tasks:
 * not when a claim of the same types found it empty within QUEUE_EMPTY_TRUST_MS and no `runs`
 * wake-up came since (`foundEmptyAt` is then that claim's instant, else null). A task created while
 * a worker is idle is then claimed in one statement.
 */
export function readQueue(foundEmptyAt: number | null, at: number): boolean {
  return foundEmptyAt === null || at - foundEmptyAt >= QUEUE_EMPTY_TRUST_MS || at < foundEmptyAt;
}

/**
 * The runner's cut-off for due tasks of one type (SPEC §2.2 with claim-ahead): null leaves every due
 * task to the workers, who claim due tasks of types without limits directly; otherwise the runner
 * queues tasks due at or before the returned instant. Types with limits are always queued at once
 * (their claims count running runs against the queue); a type a worker claimed directly from within
 * the grace is left to the workers; otherwise tasks due for longer than the grace are queued.
 */
export function runnerCutoff(type: TaskType, at: Date, lastDirectClaim: Date | null, graceMs: number, holdUnlimited = false): Date | null {
  if (graceMs <= 0 || hasLimits(type)) return at;
  // A runner that just started (or was just woken to a backlog) gives the workers one grace to show up.
  if (holdUnlimited) return null;
  if (lastDirectClaim !== null && lastDirectClaim.getTime() > at.getTime() - graceMs) return null;
  return earlier(at, graceMs);
}

/** Whether a store should record a new direct claim of a type (at most twice per grace, so the write is rare). */
export function directClaimStale(lastRecorded: number | undefined, at: number, graceMs = DEFAULT_RUNNER_GRACE_MS): boolean {
  return lastRecorded === undefined || at - lastRecorded >= graceMs / 4;
}

/**
 * How long a worker waits at most for a claim's answer from a remote board (`worker --url`): a third
 * of the shortest lease among the types it claims, at least 1 s but at most half that lease. A claim
 * may commit and its answer be lost (the connection dropped, the server stalled); the worker then
 * reads the runs it holds (`heldRuns`) at once, within the same bound, and runs them. Bounded so, that
 * happens before the runs the claim started at once are reaped `lost` (counted) without ever running,
 * leases of 1 or 2 s included; the request timeout alone (60 s by default) outlasts the default 30 s
 * lease.
 */
export function claimAnswerWithinMs(leasesMs: readonly number[], fallbackLeaseMs: number): number {
  const shortest = leasesMs.length > 0 ? Math.min(...leasesMs) : fallbackLeaseMs;
  // At most what a timer can wait (about 24.8 days): a lease may be years long, and a longer wait fires at once.
  return Math.min(Math.max(1_000, Math.floor(shortest / 3)), Math.floor(shortest / 2), MAX_TIMER_MS);
}
