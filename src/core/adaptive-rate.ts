import type { EffectiveRates, TaskType } from './model.js';
import type { KeyLoad, RateLimit } from './limits.js';

/**
 * Limits that adapt (docs/limits.md#adaptive-limits): a handler that meets pressure downstream
 * (`RetryAfter(ms, { throttle: true })`, or `throttle: true` in its result) lowers the effective rate
 * of its type, or of its concurrency key, multiplicatively; without signals it grows back additively
 * up to the configured limit, as the adaptive interval grows and shrinks with what runs find. Pure:
 * the stores keep one `AdaptiveState` per throttled type or key and ask these functions.
 */

/** A throttle signal leaves this fraction of the effective count. */
export const THROTTLE_DECREASE = 0.5;
/** Per window (`perMs`) without a signal, the effective count grows by this fraction of the configured count. */
export const RECOVERY_PER_WINDOW = 0.1;

/** A throttled rate as stored: its effective count (runs per window) at `since`, and its last decrease. */
export interface AdaptiveState {
  count: number;
  since: number;
  decreasedAt: number;
}

/**
 * The effective count (runs per window, not rounded) at `at`: the stored count grown by
 * `RECOVERY_PER_WINDOW × count` per window since, at most the configured count, at least 1.
 */
export function effectiveCount(limit: RateLimit, state: AdaptiveState | null, at: number): number {
  if (state === null) return limit.count;
  const grown = state.count + (RECOVERY_PER_WINDOW * limit.count * Math.max(0, at - state.since)) / limit.perMs;
  return Math.max(1, Math.min(limit.count, grown));
}

/** The limit claims enforce at `at`: the configured window and the effective count rounded down. */
export function effectiveLimit(limit: RateLimit, state: AdaptiveState | null, at: number): RateLimit {
  if (state === null) return limit;
  return { count: Math.max(1, Math.floor(effectiveCount(limit, state, at) + 1e-9)), perMs: limit.perMs };
}

/**
 * What a throttle signal at `at` leaves: `THROTTLE_DECREASE` × the effective count, never below one
 * run per window. At most one decrease per window: a signal within `perMs` of the last decrease changes
 * nothing (null), since the runs that report it started at the rate before that decrease.
 */
export function throttled(limit: RateLimit, state: AdaptiveState | null, at: number): AdaptiveState | null {
  if (state !== null && at - state.decreasedAt < limit.perMs) return null;
  return { count: Math.max(1, effectiveCount(limit, state, at) * THROTTLE_DECREASE), since: at, decreasedAt: at };
}

/**
 * When the rounded effective count next grows by one (a claim held back by the rate may retry then);
 * null when it is at the configured count.
 */
export function nextRecovery(limit: RateLimit, state: AdaptiveState | null, at: number): number | null {
  if (state === null) return null;
  const now = effectiveCount(limit, state, at);
  if (now >= limit.count) return null;
  const target = Math.min(limit.count, Math.floor(now + 1e-9) + 1);
  return at + Math.max(1, Math.ceil(((target - now) * limit.perMs) / (RECOVERY_PER_WINDOW * limit.count) - 1e-9));
}

/** How long after its last change a state is back at any configured count (from 1 run per window): older states can be dropped. */
export function recoveredAfterMs(limit: RateLimit): number {
  return Math.ceil(limit.perMs / RECOVERY_PER_WINDOW);
}

/**
 * Which rate a throttle signal of a run lowers: its key's `rateLimitPerKey` when the type has one and the
 * run's task has a key, else the type's `rateLimit`; null when neither applies (the signal changes nothing).
 */
export function throttleScope(t: Pick<TaskType, 'rateLimit' | 'rateLimitPerKey'>, key: string | null): { key: string | null; limit: RateLimit } | null {
  if (t.rateLimitPerKey !== null && key !== null) return { key, limit: t.rateLimitPerKey };
  if (t.rateLimit !== null) return { key: null, limit: t.rateLimit };
  return null;
}

/** Keys listed in `EffectiveRates.keys`, at most. */
export const MAX_LISTED_KEYS = 100;

/**
 * The rates in force at `at` for display (task type JSON, metrics, the dashboard): the type's effective
 * rate, and the keys still below their configured rate, the most throttled first.
 */
export function effectiveRates(t: Pick<TaskType, 'rateLimit' | 'rateLimitPerKey'>, states: ReadonlyArray<{ key: string | null; state: AdaptiveState }>, at: number): EffectiveRates {
  const own = states.find((s) => s.key === null)?.state ?? null;
  const type = t.rateLimit === null ? null : { count: round2(effectiveCount(t.rateLimit, own, at)), perMs: t.rateLimit.perMs };
  const keys: EffectiveRates['keys'] = [];
  if (t.rateLimitPerKey !== null) {
    const limit = t.rateLimitPerKey;
    for (const s of states) {
      if (s.key === null) continue;
      const count = effectiveCount(limit, s.state, at);
      if (count < limit.count) keys.push({ key: s.key, count: round2(count), perMs: limit.perMs });
    }
    keys.sort((a, b) => a.count - b.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  return { type, keys: keys.slice(0, MAX_LISTED_KEYS) };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** States of a type (its own and its keys') last changed before this instant are back at their limits: a store drops them. */
export function adaptiveStaleBefore(t: Pick<TaskType, 'rateLimit' | 'rateLimitPerKey'>, at: number): number {
  const windows = [t.rateLimit, t.rateLimitPerKey].filter((r): r is RateLimit => r !== null).map(recoveredAfterMs);
  return at - Math.max(0, ...windows);
}

/** What a claim knows about one concurrency key of a limited type: its load, its effective rate and that rate's state. */
export interface KeyFacts {
  load: KeyLoad;
  rate: RateLimit | null;
  state: AdaptiveState | null;
}
