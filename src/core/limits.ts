import { MAX_DURATION_MS, parseDuration } from './durations.js';
import { invalid, shown } from './errors.js';
import { EARLIEST_INSTANT_MS } from './instants.js';
import type { TaskType } from './model.js';
import { INT4_MAX } from './storable.js';

/**
 * Due tasks a runner pass picks per type in one transaction (within the type's free queue slots). A
 * manual pass (`scheduleDue` with `fill`, `orrery task schedule`) repeats such batches until the slots
 * are full or nothing is due; the runner daemon takes one batch per type and passes again.
 */
export const SCHEDULE_BATCH = 1000;

/**
 * Runs of a type that may join its queue now (SPEC §2.2: `maxQueueLength` − its runs waiting in status
 * `scheduled`), at most `want`; no more than `want` without a limit (null). Every run queued outside a
 * claim keeps to it: a runner pass's picks and a backfill's next occurrence.
 */
export function queueSlots(maxQueueLength: number | null, queued: number, want: number): number {
  return maxQueueLength === null ? want : Math.max(0, Math.min(want, maxQueueLength - queued));
}

/**
 * Concurrency and rate limits of a task type (docs/limits.md). Pure: the stores read the counts in
 * their claim transaction and ask these functions how many runs may start.
 */
export interface RateLimit {
  /** At most this many runs of the type start ... */
  count: number;
  /** ... within any window of this many milliseconds (a sliding window over run starts). */
  perMs: number;
}

export type TypeLimits = Pick<TaskType, 'maxRunning' | 'maxRunningPerKey' | 'rateLimit' | 'rateLimitPerKey' | 'fairShare' | 'fifoPerKey'>;

/**
 * True when claims of this type must count running runs or recent starts, or take keys in turn (the
 * slow path: in the claim's own serialisation, within the claimer's free slots).
 */
export function hasLimits(t: TypeLimits): boolean {
  return t.maxRunning !== null || t.rateLimit !== null || hasKeyLimits(t) || t.fairShare !== null;
}

/**
 * Whether a worker's claim may take due tasks of this type directly (creating their runs claimed):
 * types without limits, unless their `maxQueueLength` is 0, which pauses the type (the runner queues
 * none of its tasks, so neither may a claim).
 */
export function claimsDueDirectly(t: TypeLimits & Pick<TaskType, 'maxQueueLength'>): boolean {
  return !hasLimits(t) && t.maxQueueLength !== 0;
}

/** True when a run's concurrency key decides whether it may start (maxRunningPerKey, rateLimitPerKey, fifoPerKey). */
export function hasKeyLimits(t: TypeLimits): boolean {
  return t.maxRunningPerKey !== null || t.rateLimitPerKey !== null || t.fifoPerKey;
}

/** Most held runs per concurrency key: `maxRunningPerKey`, 1 with `fifoPerKey`; null: unbounded. */
export function perKeyCap(t: TypeLimits): number | null {
  if (t.fifoPerKey) return 1;
  return t.maxRunningPerKey;
}

/** What a claim reads about one concurrency key: its held runs, and its starts inside its rate window. */
export interface KeyLoad {
  running: number;
  startsInWindow: number;
  /** The oldest start inside the window (null: none). */
  firstStart: number | null;
}

/**
 * How many more runs of a key may start now: the least of its free running slots (`perKeyCap`) and its
 * free rate slots (`keyRate`, the effective `rateLimitPerKey`); Infinity without per-key limits.
 */
export function keyRoom(t: TypeLimits, load: KeyLoad, keyRate: RateLimit | null): number {
  let room = Infinity;
  const cap = perKeyCap(t);
  if (cap !== null) room = Math.min(room, cap - load.running);
  if (keyRate !== null) room = Math.min(room, keyRate.count - load.startsInWindow);
  return Math.max(0, room);
}

/** A key's load once a claim started `claimed` more of its runs at `at` (for when it frees again). */
export function keyLoadAfter(load: KeyLoad, claimed: number, at: number): KeyLoad {
  return { running: load.running + claimed, startsInWindow: load.startsInWindow + claimed, firstStart: load.firstStart ?? (claimed > 0 ? at : null) };
}

/**
 * When a key held back by its rate gets a slot: `perMs` after its oldest start in the window (exact
 * when the window holds `count` starts, early when it holds more: the claimer then learns the next
 * one), or when its recovering effective rate (`recovery`, adaptive-rate.ts) grows by one, whichever
 * comes first; null when its rate is not full.
 */
export function keyRetryAt(keyRate: RateLimit | null, load: KeyLoad, recovery: number | null): number | null {
  if (keyRate === null || load.startsInWindow < keyRate.count) return null;
  const slot = load.firstStart === null ? null : load.firstStart + keyRate.perMs;
  if (slot === null) return recovery;
  return recovery === null ? slot : Math.min(slot, recovery);
}

/** `100/1m`, `50/s`, `10/1h30m`, `5/PT1M`: a count, a slash, a duration (a bare unit means one of it). */
export function parseRateLimit(text: string, path = 'rateLimit'): RateLimit {
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text);
  if (!m) throw invalid(path, `"${shown(text)}" is not a rate limit; expected COUNT/DURATION, e.g. 100/1m`);
  const count = Number(m[1]);
  if (!Number.isSafeInteger(count) || count < 1) throw invalid(path, 'the count must be a positive integer');
  if (count > INT4_MAX) throw invalid(path, `the count must be at most ${INT4_MAX}`);
  const per = /^[a-z]+$/i.test(m[2]!) ? `1${m[2]!}` : m[2]!;
  let perMs: number;
  try {
    perMs = parseDuration(per, path);
  } catch (e) {
    // A bare unit was read as 1 of it: the error names what was typed (`x`), not `1x`.
    if (per !== m[2]) parseDuration(m[2]!, path);
    throw e;
  }
  if (perMs < 1) throw invalid(path, 'the window must be at least 1ms');
  // As the object form's perMs (and every duration): at most 100 years.
  if (perMs > MAX_DURATION_MS) throw invalid(path, 'the window must be at most 100 years');
  return { count, perMs };
}

export function formatRateLimit(r: RateLimit | null): string {
  return r === null ? 'none' : `${r.count}/${r.perMs}ms`;
}

/** Start of the sliding window at `at`: a run started at `s` counts while `s > windowStart(at)`. */
export function rateWindowStart(at: number, r: RateLimit): number {
  return Math.max(at - r.perMs, EARLIEST_INSTANT_MS); // held at the earliest instant both stores hold
}

/**
 * How many more runs of a type may start at this instant: the least of the free running slots
 * (`maxRunning - running`) and the free rate slots (`count - starts in the window`); Infinity when
 * neither limit is set. Never negative.
 */
export function claimAllowance(limits: TypeLimits, running: number, startedInWindow: number): number {
  let allowed = Infinity;
  if (limits.maxRunning !== null) allowed = Math.min(allowed, limits.maxRunning - running);
  if (limits.rateLimit !== null) allowed = Math.min(allowed, limits.rateLimit.count - startedInWindow);
  return Math.max(0, allowed);
}

export interface KeyedCandidate {
  id: number;
  key: string | null;
}

export interface KeyedPick {
  ids: number[];
  /** Some candidate was passed over because its key was full. */
  keyFull: boolean;
  /** The keys passed over (full), in the order met. */
  fullKeys: string[];
  /** The allowance ran out while candidates were left. */
  more: boolean;
}

/**
 * Picks waiting runs in claim order (the order of `candidates`, read lazily) up to `allowance`,
 * skipping those whose concurrency key already has `maxPerKey` runs (running ones in `runningByKey`,
 * plus the ones picked here). Runs without a key are bounded only by the allowance.
 */
export function pickWithinKeyLimits(
  candidates: Iterable<KeyedCandidate>,
  allowance: number,
  maxPerKey: number | null,
  runningByKey: ReadonlyMap<string, number>,
): KeyedPick {
  return pickWithinKeyRooms(candidates, allowance, (key) => (maxPerKey === null ? Infinity : maxPerKey - (runningByKey.get(key) ?? 0)));
}

/**
 * Picks waiting runs in claim order (the order of `candidates`, read lazily) up to `allowance`,
 * skipping those whose concurrency key has no room left (`roomOf`, asked once per key: `keyRoom`,
 * less the runs picked here). Runs without a key are bounded only by the allowance.
 */
export function pickWithinKeyRooms(candidates: Iterable<KeyedCandidate>, allowance: number, roomOf: (key: string) => number): KeyedPick {
  const ids: number[] = [];
  const rooms = new Map<string, number>();
  const full = new Set<string>();
  for (const c of candidates) {
    if (ids.length >= allowance) return { ids, keyFull: full.size > 0, fullKeys: [...full], more: true };
    if (c.key !== null) {
      let room = rooms.get(c.key);
      if (room === undefined) room = roomOf(c.key);
      if (room <= 0) {
        rooms.set(c.key, room);
        full.add(c.key);
        continue;
      }
      rooms.set(c.key, room - 1);
    }
    ids.push(c.id);
  }
  return { ids, keyFull: full.size > 0, fullKeys: [...full], more: false };
}

/**
 * When the next rate slot opens, given the start instants inside the current window (ascending): the
 * window holds `k` starts and allows `count`, so `k - count + 1` of them must leave it; the one that
 * leaves last does so `perMs` after it started. Null when a slot is free now.
 */
export function nextRateSlot(startsInWindow: readonly number[], r: RateLimit): number | null {
  const k = startsInWindow.length;
  if (k < r.count) return null;
  return startsInWindow[k - r.count]! + r.perMs;
}

// ---------------------------------------------------------------------------------------------------
// The claim of limited types, decided here once; each store only reads the counts and candidates it
// is asked for (under its own serialisation: an advisory lock per type on PostgreSQL, the write lock on
// SQLite) and writes what was chosen.

/** Most waiting runs a claim reads for one type with a per-key limit, looking past runs of full keys. */
export const KEY_SCAN_CAP = 10_000;

/**
 * The instant a limited type's claim counts and starts its runs at, read once it holds the type's
 * lock: the claim's instant, or later when the clock (`now`, absent for a claim at a given instant)
 * moved on while it waited. Read before the wait, a start could come before the end of a run that
 * ended meanwhile and freed the slot, and the recorded runs would overlap past `maxRunning`. On
 * PostgreSQL, where ends take no type lock and each count reads a newer snapshot, the starts are
 * read again once the counts are made (an end committed meanwhile counted as freed).
 */
export function limitedClaimAt(at: number, now: (() => Date) | undefined): number {
  return now === undefined ? at : Math.max(at, now().getTime());
}

/**
 * A claim's request with its instant read again once the store may write (SQLite's write lock taken,
 * a PostgreSQL connection in hand): its runs are scheduled, started and leased from then, not from
 * before a wait, which would record them started before they were queued and lease them for less (a
 * lease over before the claim committed). A claim at a given instant (no `now`) keeps it.
 */
export function freshClaim<R extends { at: Date; now?: () => Date }>(req: R): R {
  return req.now === undefined ? req : { ...req, at: new Date(limitedClaimAt(req.at.getTime(), req.now)) };
}

/**
 * How many runs of limited types one claim may take, all limited types together: they start at once
 * (their start instants are what the limits count), so only for the claimer's free slots (`startNow`;
 * a claimer that does not say has `limit` of them).
 */
export function limitedClaimCap(limit: number, startNow: number | undefined): number {
  return Math.max(0, Math.min(startNow ?? limit, limit));
}

/** How many waiting runs (in claim order) a store reads for a limited type with this allowance. */
export function limitedCandidateCount(limits: TypeLimits, allowance: number): number {
  return hasKeyLimits(limits) ? KEY_SCAN_CAP : allowance + 1;
}

export interface LimitedPick {
  ids: number[];
  /** Keys passed over because they were full (a claim held back by a key's rate says when it frees). */
  fullKeys: string[];
  /**
   * Runs were left waiting because of the type's limits (not because the claimer had no room): the
   * claimer should come back when a slot frees or, for a rate limit, at the next rate slot.
   */
  heldBack: boolean;
}

/**
 * Which waiting runs of a limited type one claim takes: in claim order (the order of `candidates`,
 * read lazily, at most `limitedCandidateCount` of them), up to `allowance` (`claimAllowance`, bounded
 * by `capLeft`, the claimer's room left for limited runs), skipping runs of full concurrency keys
 * (`roomOf`: `keyRoom` of a key; not asked without per-key limits). Types whose keys take turns
 * (fair-share.ts) are picked by `fairTurns` instead.
 */
export function pickLimitedRuns(
  limits: TypeLimits,
  candidates: Iterable<KeyedCandidate>,
  allowance: number,
  capLeft: number,
  roomOf: (key: string) => number,
): LimitedPick {
  const picked = pickWithinKeyRooms(candidates, allowance, hasKeyLimits(limits) ? roomOf : () => Infinity);
  return { ids: picked.ids, fullKeys: picked.fullKeys, heldBack: limitedHeldBack(picked.keyFull, picked.more, allowance, capLeft) };
}

/** Runs were held back by the type's limits: a full key was passed over, or the limits' allowance (not the claimer's room) ran out with runs left. */
export function limitedHeldBack(keyFull: boolean, more: boolean, allowance: number, capLeft: number): boolean {
  return keyFull || (more && allowance < capLeft);
}

/** A waiting run as claims order it: by priority rank, then scheduled instant, then id. */
export interface ClaimCandidate {
  id: number;
  type: string;
  rank: number;
  scheduled: number;
}

export function compareClaimOrder(a: ClaimCandidate, b: ClaimCandidate): number {
  return a.rank - b.rank || a.scheduled - b.scheduled || a.id - b.id;
}

/**
 * Merges the picks of every requested type in claim order and keeps the first `limit`; says which
 * start at once. Runs of limited types always start (they were taken only for free slots); the others
 * fill what is left of `startNow` in claim order and the rest are claimed ahead.
 */
export function chooseClaims<P extends ClaimCandidate>(
  picks: readonly P[],
  isLimited: (type: string) => boolean,
  limit: number,
  startNow: number | undefined,
): Array<{ pick: P; start: boolean }> {
  const chosen = [...picks].sort(compareClaimOrder).slice(0, limit);
  let startLeft = unlimitedStartBudget(limit, startNow, chosen.filter((p) => isLimited(p.type)).length);
  return chosen.map((pick) => ({ pick, start: isLimited(pick.type) || startLeft-- > 0 }));
}

/**
 * How many runs of types without limits a claim marks `started` at once, after `started` runs it
 * already started (limited ones always start): what is left of `startNow`. A claimer that does not
 * say starts none: its runs are `claimed` until it reports their handlers' start (SPEC §2.3).
 */
export function unlimitedStartBudget(limit: number, startNow: number | undefined, started: number): number {
  return startNow === undefined ? 0 : Math.max(0, limitedClaimCap(limit, startNow) - started);
}

/**
 * For a rate-limited type held back by a claim: the offset, among the starts inside the window (oldest
 * first, counted from `rateWindowStart(at)`), of the start whose leaving frees the next slot; null when
 * the rate limit is not what held it back. The window held `inWindow` starts and the claim added
 * `claimed`; the next slot opens `perMs` after that start (`rateRetrySlot`).
 */
export function rateRetryOffset(rate: RateLimit | null, inWindow: number, claimed: number): number | null {
  if (rate === null) return null;
  const k = inWindow + claimed;
  return k >= rate.count ? k - rate.count : null;
}

/** The instant the next rate slot opens, from the start `rateRetryOffset` named (or `at` if none was read). */
export function rateRetrySlot(rate: RateLimit, nthStart: number | null, at: number): number {
  return (nthStart ?? at) + rate.perMs;
}

/** The earliest of the instants given (a claim's `retryAt` over its held-back types and keys); null when none is. */
export function earliestRetry(...instants: ReadonlyArray<number | null>): number | null {
  let out: number | null = null;
  for (const t of instants) if (t !== null && (out === null || t < out)) out = t;
  return out;
}
