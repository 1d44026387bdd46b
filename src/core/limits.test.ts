import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import {
  chooseClaims,
  queueSlots,
  claimAllowance,
  hasLimits,
  KEY_SCAN_CAP,
  limitedCandidateCount,
  limitedClaimCap,
  nextRateSlot,
  parseRateLimit,
  pickLimitedRuns,
  pickWithinKeyLimits,
  rateRetryOffset,
  rateRetrySlot,
  rateWindowStart,
  earliestRetry,
  hasKeyLimits,
  keyLoadAfter,
  keyRetryAt,
  keyRoom,
  perKeyCap,
  pickWithinKeyRooms,
  type KeyLoad,
} from './limits.js';

const load = (running: number, startsInWindow = 0, firstStart: number | null = null): KeyLoad => ({ running, startsInWindow, firstStart });
const none = { maxRunning: null, maxRunningPerKey: null, rateLimit: null, rateLimitPerKey: null, fairShare: null, fifoPerKey: false };

describe('parseRateLimit', () => {
  it('reads COUNT/DURATION, a bare unit meaning one of it', () => {
    expect(parseRateLimit('100/1m')).toEqual({ count: 100, perMs: 60_000 });
    expect(parseRateLimit('50/s')).toEqual({ count: 50, perMs: 1000 });
    expect(parseRateLimit(' 10 / 1h30m ')).toEqual({ count: 10, perMs: 5_400_000 });
    expect(parseRateLimit('5/PT1M')).toEqual({ count: 5, perMs: 60_000 });
    expect(parseRateLimit('3/250ms')).toEqual({ count: 3, perMs: 250 });
  });

  it('rejects what is not a positive count over a positive window, naming the field', () => {
    for (const bad of ['', '100', '/1m', '0/1m', '-1/1m', '1.5/1m', '10/0', '10/xyz', '10/1m/2']) {
      expect(() => parseRateLimit(bad, 'rate')).toThrow(ValidationError);
    }
    expect(() => parseRateLimit('0/1m', 'rate')).toThrow(/rate: the count must be a positive integer/);
    // A bad bare unit is named as typed, not as the `1x` it was read as.
    expect(() => parseRateLimit('10/x', 'rate')).toThrow(/invalid duration "x"/);
    expect(() => parseRateLimit('10/xyz', 'rate')).toThrow(/invalid duration "xyz"/);
    // As every duration: a window of at most 100 years (the text form skipped it; PostgreSQL then failed every claim)
    expect(parseRateLimit('10/36500d')).toEqual({ count: 10, perMs: 36_500 * 86_400_000 });
    expect(() => parseRateLimit('1/9999999d', 'rate')).toThrow(/^rate: the window must be at most 100 years$/);
  });
});

describe('claimAllowance', () => {
  it('is unbounded without limits', () => {
    expect(hasLimits(none)).toBe(false);
    expect(claimAllowance(none, 1000, 1000)).toBe(Infinity);
  });

  it('is the least of the free running slots and the free rate slots, never negative', () => {
    const both = { ...none, maxRunning: 5, rateLimit: { count: 50, perMs: 1000 } };
    expect(hasLimits(both)).toBe(true);
    expect(claimAllowance(both, 0, 0)).toBe(5);
    expect(claimAllowance(both, 3, 0)).toBe(2);
    expect(claimAllowance(both, 0, 48)).toBe(2);
    expect(claimAllowance(both, 7, 0)).toBe(0); // more running than allowed (an external start): nothing more
    expect(claimAllowance(both, 0, 60)).toBe(0);
    expect(claimAllowance({ ...none, maxRunningPerKey: 1 }, 100, 100)).toBe(Infinity); // per key only: decided per run
  });
});

describe('pickWithinKeyLimits', () => {
  const c = (id: number, key: string | null) => ({ id, key });

  it('takes runs in order, skipping those whose key is full (running + picked)', () => {
    const running = new Map([['a', 1]]);
    const r = pickWithinKeyLimits([c(1, 'a'), c(2, 'b'), c(3, 'b'), c(4, null), c(5, 'c'), c(6, 'b')], 10, 1, running);
    expect(r).toEqual({ ids: [2, 4, 5], keyFull: true, fullKeys: ['a', 'b'], more: false });
  });

  it('stops at the allowance and says more were left', () => {
    expect(pickWithinKeyLimits([c(1, 'a'), c(2, 'b'), c(3, 'c')], 2, 1, new Map())).toEqual({ ids: [1, 2], keyFull: false, fullKeys: [], more: true });
    expect(pickWithinKeyLimits([c(1, 'a')], 0, 1, new Map())).toEqual({ ids: [], keyFull: false, fullKeys: [], more: true });
    expect(pickWithinKeyLimits([], 0, 1, new Map())).toEqual({ ids: [], keyFull: false, fullKeys: [], more: false });
  });

  it('4 keys, 1 per key, 40 waiting: 4 runs, one of each key', () => {
    const waiting = Array.from({ length: 40 }, (_, i) => c(i + 1, `host${i % 4}`));
    const r = pickWithinKeyLimits(waiting, 20, 1, new Map());
    expect(r.ids).toEqual([1, 2, 3, 4]);
    expect(r.keyFull).toBe(true);
  });

  it('reads its candidates lazily: nothing past what decides the pick', () => {
    let read = 0;
    function* gen() {
      for (let i = 1; i <= 1000; i++) {
        read = i;
        yield c(i, null);
      }
    }
    expect(pickWithinKeyLimits(gen(), 3, 1, new Map()).ids).toEqual([1, 2, 3]);
    expect(read).toBe(4);
  });
});

describe('the sliding rate window', () => {
  const r = { count: 3, perMs: 1000 };

  it('a start counts while it is within perMs of the instant', () => {
    expect(rateWindowStart(5000, r)).toBe(4000); // a start at 4000 has left; one at 4001 counts
  });

  it('the next slot opens perMs after the start that must leave', () => {
    expect(nextRateSlot([100, 200], r)).toBeNull();
    expect(nextRateSlot([100, 200, 300], r)).toBe(1100);
    expect(nextRateSlot([100, 200, 300, 400, 500], r)).toBe(1300); // two too many: the third oldest must leave
  });

  it('50/s: starts at 0, 1000, 2000, 3000, 4000 in batches of 50 make exactly 250 within 5 s', () => {
    const lim = { count: 50, perMs: 1000 };
    const starts: number[] = [];
    let t = 0;
    while (t < 5000) {
      const window = starts.filter((s) => s > rateWindowStart(t, lim));
      const free = claimAllowance({ ...none, rateLimit: lim }, 0, window.length);
      for (let i = 0; i < free; i++) starts.push(t);
      const after = starts.filter((s) => s > rateWindowStart(t, lim));
      t = nextRateSlot(after, lim) ?? t + 1;
    }
    expect(starts).toHaveLength(250);
    expect(new Set(starts)).toEqual(new Set([0, 1000, 2000, 3000, 4000]));
  });
});

describe('the claim of limited types', () => {
  const run = (id: number, type: string, rank = 0, scheduled = id) => ({ id, type, rank, scheduled });

  it('limited runs are taken only for the claimer\'s free slots', () => {
    expect(limitedClaimCap(500, 10)).toBe(10);
    expect(limitedClaimCap(5, 10)).toBe(5);
    expect(limitedClaimCap(8, undefined)).toBe(8);
    expect(limitedClaimCap(8, -1)).toBe(0);
  });

  it('reads one candidate past the allowance, or up to the scan cap with a per-key limit', () => {
    expect(limitedCandidateCount({ ...none, maxRunning: 3 }, 2)).toBe(3);
    expect(limitedCandidateCount({ ...none, maxRunningPerKey: 1 }, 2)).toBe(KEY_SCAN_CAP);
  });

  it('is held back only when the limits, not the claimer\'s room, left runs waiting', () => {
    const t = { ...none, maxRunning: 2 };
    const c = [1, 2, 3].map((id) => ({ id, key: null }));
    expect(pickLimitedRuns(t, c, 2, 5, () => Infinity)).toEqual({ ids: [1, 2], fullKeys: [], heldBack: true });
    // The allowance was the claimer's room: nothing held back by the limit.
    expect(pickLimitedRuns(t, c, 2, 2, () => Infinity)).toEqual({ ids: [1, 2], fullKeys: [], heldBack: false });
    expect(pickLimitedRuns(t, c.slice(0, 2), 2, 5, () => Infinity)).toEqual({ ids: [1, 2], fullKeys: [], heldBack: false });
    const keyed = { ...none, maxRunningPerKey: 1 };
    const k = [
      { id: 1, key: 'a' },
      { id: 2, key: 'a' },
      { id: 3, key: 'b' },
    ];
    expect(pickLimitedRuns(keyed, k, 10, 10, (key) => keyRoom(keyed, load(key === 'b' ? 1 : 0), null))).toEqual({ ids: [1], fullKeys: ['a', 'b'], heldBack: true });
  });

  it('merges the picks in claim order, keeps the limit, starts limited runs and then fills startNow', () => {
    const picks = [run(5, 'u', 1), run(1, 'u', 0, 50), run(2, 'lim', 0, 10), run(3, 'u', 0, 20), run(4, 'u', 0, 20)];
    const out = chooseClaims(picks, (t) => t === 'lim', 4, 2);
    expect(out.map((x) => [x.pick.id, x.start])).toEqual([
      [2, true],
      [3, true],
      [4, false],
      [1, false],
    ]);
    // A claimer that does not say starts only its limited runs (SPEC §2.3: the others are claimed).
    expect(chooseClaims(picks, () => false, 10, undefined).some((x) => x.start)).toBe(false);
    expect(chooseClaims(picks, (t) => t === 'lim', 10, undefined).filter((x) => x.start).map((x) => x.pick.type)).toEqual(picks.filter((p) => p.type === 'lim').map((p) => p.type));
  });

  it('names the start whose leaving frees the next rate slot', () => {
    const rate = { count: 3, perMs: 1000 };
    expect(rateRetryOffset(null, 5, 1)).toBeNull();
    expect(rateRetryOffset(rate, 1, 1)).toBeNull();
    expect(rateRetryOffset(rate, 2, 1)).toBe(0);
    expect(rateRetryOffset(rate, 4, 1)).toBe(2);
    expect(rateRetrySlot(rate, 250, 900)).toBe(1250);
    expect(rateRetrySlot(rate, null, 900)).toBe(1900);
  });
});

describe('per-key limits: rateLimitPerKey and fifoPerKey', () => {
  it('every per-key option and fair shares make a type limited', () => {
    expect(hasLimits({ ...none, rateLimitPerKey: { count: 1, perMs: 1000 } })).toBe(true);
    expect(hasLimits({ ...none, fifoPerKey: true })).toBe(true);
    expect(hasLimits({ ...none, fairShare: { weights: {} } })).toBe(true);
    expect(hasKeyLimits({ ...none, fairShare: { weights: {} } })).toBe(false); // turns, but no key is ever full
    expect(hasKeyLimits({ ...none, rateLimitPerKey: { count: 1, perMs: 1000 } })).toBe(true);
    expect(limitedCandidateCount({ ...none, rateLimitPerKey: { count: 1, perMs: 1000 } }, 2)).toBe(KEY_SCAN_CAP);
  });

  it('fifoPerKey holds one run per key, whatever maxRunningPerKey says', () => {
    expect(perKeyCap(none)).toBeNull();
    expect(perKeyCap({ ...none, maxRunningPerKey: 3 })).toBe(3);
    expect(perKeyCap({ ...none, fifoPerKey: true })).toBe(1);
    expect(perKeyCap({ ...none, fifoPerKey: true, maxRunningPerKey: 1 })).toBe(1);
  });

  it('a key\'s room is the least of its running slots and its rate slots, never negative', () => {
    const t = { ...none, maxRunningPerKey: 3, rateLimitPerKey: { count: 5, perMs: 1000 } };
    expect(keyRoom(t, load(0), t.rateLimitPerKey)).toBe(3);
    expect(keyRoom(t, load(1, 3), t.rateLimitPerKey)).toBe(2);
    expect(keyRoom(t, load(0, 4), t.rateLimitPerKey)).toBe(1);
    expect(keyRoom(t, load(0, 7), t.rateLimitPerKey)).toBe(0); // more starts than allowed (the limit was lowered)
    expect(keyRoom(t, load(0, 2), { count: 2, perMs: 1000 })).toBe(0); // the effective (throttled) rate counts
    expect(keyRoom(none, load(50, 50), null)).toBe(Infinity);
  });

  it('a key full by its rate retries when its oldest start leaves the window or its rate recovers, whichever is first', () => {
    const r = { count: 2, perMs: 1000 };
    expect(keyRetryAt(null, load(0, 5, 100), null)).toBeNull();
    expect(keyRetryAt(r, load(0, 1, 100), 150)).toBeNull(); // not full
    expect(keyRetryAt(r, load(0, 2, 100), null)).toBe(1100);
    expect(keyRetryAt(r, load(0, 2, 100), 900)).toBe(900);
    expect(keyRetryAt(r, load(0, 2, null), 900)).toBe(900);
    // Once a claim started 2 runs of an idle key at 500, its window is full until 1500.
    expect(keyRetryAt(r, keyLoadAfter(load(0), 2, 500), null)).toBe(1500);
    expect(keyLoadAfter(load(1, 1, 100), 1, 500)).toEqual(load(2, 2, 100));
    expect(earliestRetry(null, 5, 3, null)).toBe(3);
    expect(earliestRetry()).toBeNull();
  });

  it('asks each key\'s room once and counts the runs it picks against it', () => {
    const asked: string[] = [];
    const rooms: Record<string, number> = { a: 2, b: 0, c: 1 };
    const c = (id: number, key: string | null) => ({ id, key });
    const r = pickWithinKeyRooms([c(1, 'a'), c(2, 'b'), c(3, 'a'), c(4, 'a'), c(5, null), c(6, 'c'), c(7, 'b')], 10, (k) => (asked.push(k), rooms[k]!));
    expect(r).toEqual({ ids: [1, 3, 5, 6], keyFull: true, fullKeys: ['b', 'a'], more: false });
    expect(asked).toEqual(['a', 'b', 'c']);
  });
});

describe('queueSlots (SPEC §2.2)', () => {
  it('is maxQueueLength less the runs waiting, at most what is asked, never negative; without a limit what is asked', () => {
    expect(queueSlots(5, 2, 10)).toBe(3);
    expect(queueSlots(5, 2, 1)).toBe(1);
    expect(queueSlots(1, 1, 1)).toBe(0);
    expect(queueSlots(1, 3, 1)).toBe(0); // runs given back can leave the queue past its limit
    expect(queueSlots(0, 0, 1)).toBe(0);
    expect(queueSlots(null, 10_000, 7)).toBe(7);
  });
});
