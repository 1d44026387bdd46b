import { parseDuration } from './durations.js';
import { invalid } from './errors.js';
import type { TaskType } from './model.js';
import { INT4_MAX } from './storable.js';

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

export type TypeLimits = Pick<TaskType, 'maxRunning' | 'maxRunningPerKey' | 'rateLimit'>;

/** True when claims of this type must count running runs or recent starts (the slow path). */
export function hasLimits(t: TypeLimits): boolean {
  return t.maxRunning !== null || t.maxRunningPerKey !== null || t.rateLimit !== null;
}

/** `100/1m`, `50/s`, `10/1h30m`, `5/PT1M`: a count, a slash, a duration (a bare unit means one of it). */
export function parseRateLimit(text: string, path = 'rateLimit'): RateLimit {
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(text);
  if (!m) throw invalid(path, `"${text}" is not a rate limit; expected COUNT/DURATION, e.g. 100/1m`);
  const count = Number(m[1]);
  if (!Number.isSafeInteger(count) || count < 1) throw invalid(path, 'the count must be a positive integer');
  if (count > INT4_MAX) throw invalid(path, `the count must be at most ${INT4_MAX}`);
  const per = /^[a-z]+$/i.test(m[2]!) ? `1${m[2]!}` : m[2]!;
  const perMs = parseDuration(per, path);
  if (perMs < 1) throw invalid(path, 'the window must be at least 1ms');
  return { count, perMs };
}

export function formatRateLimit(r: RateLimit | null): string {
  return r === null ? 'none' : `${r.count}/${r.perMs}ms`;
}

/** Start of the sliding window at `at`: a run started at `s` counts while `s > windowStart(at)`. */
export function rateWindowStart(at: number, r: RateLimit): number {
  return at - r.perMs;
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
  const ids: number[] = [];
  const taken = new Map<string, number>();
  let keyFull = false;
  for (const c of candidates) {
    if (ids.length >= allowance) return { ids, keyFull, more: true };
    if (maxPerKey !== null && c.key !== null) {
      const n = (runningByKey.get(c.key) ?? 0) + (taken.get(c.key) ?? 0);
      if (n >= maxPerKey) {
        keyFull = true;
        continue;
      }
      taken.set(c.key, (taken.get(c.key) ?? 0) + 1);
    }
    ids.push(c.id);
  }
  return { ids, keyFull, more: false };
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
 * How many runs of limited types one claim may take, all limited types together: they start at once
 * (their start instants are what the limits count), so only for the claimer's free slots.
 */
export function limitedClaimCap(limit: number, startNow: number | undefined): number {
  return Math.max(0, Math.min(startNow ?? limit, limit));
}

/** How many waiting runs (in claim order) a store reads for a limited type with this allowance. */
export function limitedCandidateCount(limits: TypeLimits, allowance: number): number {
  return limits.maxRunningPerKey !== null ? KEY_SCAN_CAP : allowance + 1;
}

export interface LimitedPick {
  ids: number[];
  /**
   * Runs were left waiting because of the type's limits (not because the claimer had no room): the
   * claimer should come back when a slot frees or, for a rate limit, at the next rate slot.
   */
  heldBack: boolean;
}

/**
 * Which waiting runs of a limited type one claim takes: in claim order (the order of `candidates`,
 * read lazily, at most `limitedCandidateCount` of them), up to `allowance` (`claimAllowance`, bounded
 * by `capLeft`, the claimer's room left for limited runs), skipping runs of full concurrency keys.
 */
export function pickLimitedRuns(
  limits: TypeLimits,
  candidates: Iterable<KeyedCandidate>,
  allowance: number,
  capLeft: number,
  runningByKey: ReadonlyMap<string, number>,
): LimitedPick {
  const picked = pickWithinKeyLimits(candidates, allowance, limits.maxRunningPerKey, runningByKey);
  return { ids: picked.ids, heldBack: picked.keyFull || (picked.more && allowance < capLeft) };
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
  let startLeft = Math.max(0, limitedClaimCap(limit, startNow) - chosen.filter((p) => isLimited(p.type)).length);
  return chosen.map((pick) => ({ pick, start: isLimited(pick.type) || startLeft-- > 0 }));
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
