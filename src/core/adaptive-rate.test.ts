import { describe, expect, it } from 'vitest';
import {
  RECOVERY_PER_WINDOW,
  THROTTLE_DECREASE,
  effectiveCount,
  effectiveLimit,
  effectiveRates,
  nextRecovery,
  recoveredAfterMs,
  throttleScope,
  throttled,
} from './adaptive-rate.js';

const limit = { count: 100, perMs: 1000 };

describe('adaptive rates: multiplicative decrease, additive recovery', () => {
  it('the documented constants', () => {
    expect([THROTTLE_DECREASE, RECOVERY_PER_WINDOW]).toEqual([0.5, 0.1]);
  });

  it('without a signal the configured limit is in force', () => {
    expect(effectiveCount(limit, null, 5)).toBe(100);
    expect(effectiveLimit(limit, null, 5)).toBe(limit);
    expect(nextRecovery(limit, null, 5)).toBeNull();
  });

  it('a signal halves the effective rate; it grows back by 10% of the limit per window, up to the limit', () => {
    const s = throttled(limit, null, 0)!;
    expect(s).toEqual({ count: 50, since: 0, decreasedAt: 0 });
    expect(effectiveCount(limit, s, 0)).toBe(50);
    expect(effectiveCount(limit, s, 1000)).toBe(60);
    expect(effectiveCount(limit, s, 2500)).toBe(75);
    expect(effectiveCount(limit, s, 5000)).toBe(100);
    expect(effectiveCount(limit, s, 60_000)).toBe(100);
    expect(effectiveCount(limit, s, -10)).toBe(50); // an instant before the state: no growth
  });

  it('at most one decrease per window: signals of runs started at the old rate change nothing', () => {
    const s = throttled(limit, null, 0)!;
    expect(throttled(limit, s, 999)).toBeNull();
    expect(throttled(limit, s, 1000)).toEqual({ count: 30, since: 1000, decreasedAt: 1000 }); // (50 + 10) / 2
  });

  it('never below one run per window', () => {
    const one = { count: 1, perMs: 1000 };
    expect(throttled(one, null, 0)!.count).toBe(1);
    let s = throttled({ count: 3, perMs: 10 }, null, 0)!;
    for (let t = 10; t < 200; t += 10) s = throttled({ count: 3, perMs: 10 }, s, t) ?? s;
    expect(s.count).toBeGreaterThanOrEqual(1);
    expect(effectiveLimit({ count: 3, perMs: 10 }, s, 190).count).toBeGreaterThanOrEqual(1);
  });

  it('claims enforce the effective count rounded down; the next recovery is when it grows by one', () => {
    const s = { count: 50.5, since: 0, decreasedAt: 0 };
    expect(effectiveLimit(limit, s, 0)).toEqual({ count: 50, perMs: 1000 });
    // 10 per 1000 ms (0.01 per ms): 51 is reached 50 ms after 0.
    expect(nextRecovery(limit, s, 0)).toBe(50);
    expect(nextRecovery(limit, { count: 99.99, since: 0, decreasedAt: 0 }, 0)).toBe(1);
    expect(nextRecovery(limit, s, 10_000)).toBeNull();
    expect(recoveredAfterMs(limit)).toBe(10_000);
  });

  it('a throttle lowers the key\'s rate when the type limits keys and the run has one, else the type\'s', () => {
    const perKey = { count: 5, perMs: 1000 };
    expect(throttleScope({ rateLimit: limit, rateLimitPerKey: perKey }, 'k')).toEqual({ key: 'k', limit: perKey });
    expect(throttleScope({ rateLimit: limit, rateLimitPerKey: perKey }, null)).toEqual({ key: null, limit });
    expect(throttleScope({ rateLimit: null, rateLimitPerKey: perKey }, null)).toBeNull();
    expect(throttleScope({ rateLimit: limit, rateLimitPerKey: null }, 'k')).toEqual({ key: null, limit });
    expect(throttleScope({ rateLimit: null, rateLimitPerKey: null }, 'k')).toBeNull();
  });

  it('what is shown: the type\'s effective rate and the keys still below theirs, most throttled first', () => {
    const perKey = { count: 10, perMs: 1000 };
    const states = [
      { key: null, state: { count: 50, since: 0, decreasedAt: 0 } },
      { key: 'b', state: { count: 5, since: 0, decreasedAt: 0 } },
      { key: 'a', state: { count: 2, since: 0, decreasedAt: 0 } },
      { key: 'gone', state: { count: 1, since: -20_000, decreasedAt: -20_000 } }, // recovered: not listed
    ];
    expect(effectiveRates({ rateLimit: limit, rateLimitPerKey: perKey }, states, 1000)).toEqual({
      type: { count: 60, perMs: 1000 },
      keys: [
        { key: 'a', count: 3, perMs: 1000 },
        { key: 'b', count: 6, perMs: 1000 },
      ],
    });
    expect(effectiveRates({ rateLimit: null, rateLimitPerKey: null }, states, 0)).toEqual({ type: null, keys: [] });
  });
});
