import { effectiveRates } from '../core/adaptive-rate.js';
import { OrreryError, isStorageUnavailable } from '../core/errors.js';
import type { TaskType } from '../core/model.js';
import type { AdaptiveRateRow, EndRunResult, Store } from '../store/store.js';

const unratedAnswers = new WeakMap<TaskType, TaskType>();

/**
 * Task types as the service answers them: each with the rates in force at `at` (`effectiveRate`,
 * docs/limits.md#adaptive-limits; null for a type without rate limits), one read for all of them.
 */
export async function withEffectiveRates(store: Store, types: TaskType[], at: Date): Promise<TaskType[]> {
  const rated = types.filter((t) => t.rateLimit !== null || t.rateLimitPerKey !== null).map((t) => t.name);
  const byType = new Map<string, AdaptiveRateRow[]>();
  for (const r of rated.length === 0 ? [] : await store.adaptiveRates(rated)) {
    const list = byType.get(r.type);
    if (list) list.push(r);
    else byType.set(r.type, [r]);
  }
  return types.map((t) => {
    if (t.rateLimit !== null || t.rateLimitPerKey !== null) return { ...t, effectiveRate: effectiveRates(t, byType.get(t.name) ?? [], at.getTime()) };
    // A type without rates is answered with `effectiveRate: null`: the same answer for the same type
    // object read again (a cache that keeps it), so a caller can tell that nothing changed.
    let answered = unratedAnswers.get(t);
    if (answered === undefined) unratedAnswers.set(t, (answered = { ...t, effectiveRate: null }));
    return answered;
  });
}

/**
 * The throttle signals of ends just recorded (`throttle: true` on an end, from a handler's
 * `RetryAfter(ms, { throttle: true })` or its result): each lowers its type's or its key's rate.
 * Refused ends signal nothing. A signal the database cannot take now is dropped: the end stands. A run
 * without an end instant signals at `at` (the caller's clock).
 */
export async function applyThrottles(store: Store, throttles: readonly boolean[], outcomes: ReadonlyArray<EndRunResult | OrreryError>, at: Date): Promise<void> {
  // One signal per type or key and batch: the others would fall within the window of its decrease.
  const sent = new Set<string>();
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i]!;
    if (!throttles[i] || o instanceof OrreryError) continue;
    const scope = JSON.stringify([o.run.type, o.task.concurrencyKey]);
    if (sent.has(scope)) continue;
    sent.add(scope);
    try {
      await store.throttleRate(o.run.type, o.task.concurrencyKey, o.run.ended ?? at);
    } catch (e) {
      if (!isStorageUnavailable(e)) throw e;
    }
  }
}
