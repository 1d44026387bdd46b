import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { claimAllowance, hasLimits, nextRateSlot, parseRateLimit, pickWithinKeyLimits, rateWindowStart } from './limits.js';

const none = { maxRunning: null, maxRunningPerKey: null, rateLimit: null };

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
  });
});

describe('claimAllowance', () => {
  it('is unbounded without limits', () => {
    expect(hasLimits(none)).toBe(false);
    expect(claimAllowance(none, 1000, 1000)).toBe(Infinity);
  });

  it('is the least of the free running slots and the free rate slots, never negative', () => {
    const both = { maxRunning: 5, maxRunningPerKey: null, rateLimit: { count: 50, perMs: 1000 } };
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
    expect(r).toEqual({ ids: [2, 4, 5], keyFull: true, more: false });
  });

  it('stops at the allowance and says more were left', () => {
    expect(pickWithinKeyLimits([c(1, 'a'), c(2, 'b'), c(3, 'c')], 2, 1, new Map())).toEqual({ ids: [1, 2], keyFull: false, more: true });
    expect(pickWithinKeyLimits([c(1, 'a')], 0, 1, new Map())).toEqual({ ids: [], keyFull: false, more: true });
    expect(pickWithinKeyLimits([], 0, 1, new Map())).toEqual({ ids: [], keyFull: false, more: false });
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
      const free = claimAllowance({ maxRunning: null, maxRunningPerKey: null, rateLimit: lim }, 0, window.length);
      for (let i = 0; i < free; i++) starts.push(t);
      const after = starts.filter((s) => s > rateWindowStart(t, lim));
      t = nextRateSlot(after, lim) ?? t + 1;
    }
    expect(starts).toHaveLength(250);
    expect(new Set(starts)).toEqual(new Set([0, 1000, 2000, 3000, 4000]));
  });
});
