import { describe, expect, it } from 'vitest';
import { bufferPace, bufferTarget, claimAnswerWithinMs, claimDrained, claimOrder, claimSize, surplusToGiveBack, nextPace, PACE_MEMORY_MS, QUEUE_EMPTY_TRUST_MS, readQueue } from './claim-ahead.js';

describe('claimSize', () => {
  const base = { concurrency: 10, prefetch: 500, leaseMs: 30_000, meanHandlerMs: null, buffered: 0, running: 0 };
  it('asks for one round of slots before any run ended, then for what a third of a lease can start', () => {
    expect(claimSize(base)).toBe(20); // a buffer of 10 plus 10 free slots
    expect(bufferTarget({ ...base, meanHandlerMs: 100 })).toBe(500); // 10 x 30 s / (3 x 0.1 s) = 1000, capped
    expect(bufferTarget({ ...base, meanHandlerMs: 10_000 })).toBe(10);
  });
  it('claims nothing while the buffer holds more than half its target', () => {
    expect(claimSize({ ...base, buffered: 6, running: 10 })).toBe(0);
    expect(claimSize({ ...base, buffered: 5, running: 10 })).toBe(5);
  });
  it('prefetch 0 claims only for free slots', () => {
    expect(claimSize({ ...base, prefetch: 0, running: 7 })).toBe(3);
  });
});

describe('surplusToGiveBack', () => {
  it('gives back everything past the target once it is more than a quarter of it', () => {
    expect(surplusToGiveBack(38, 0)).toBe(38); // a target of 0: all of it
    expect(surplusToGiveBack(40, 40)).toBe(0);
    expect(surplusToGiveBack(50, 40)).toBe(0); // 10 past 40: within the slack
    expect(surplusToGiveBack(51, 40)).toBe(11);
    expect(surplusToGiveBack(4, 3)).toBe(1); // a target under 4 has no slack
    expect(surplusToGiveBack(10, 20)).toBe(0);
  });
});

describe('claimDrained', () => {
  it('is true only for a short claim of unlimited types that no rate limit held back', () => {
    expect(claimDrained({ asked: 20, got: 3, heldBack: false, limitedTypes: false })).toBe(true);
    expect(claimDrained({ asked: 20, got: 20, heldBack: false, limitedTypes: false })).toBe(false);
    expect(claimDrained({ asked: 20, got: 3, heldBack: true, limitedTypes: false })).toBe(false);
    expect(claimDrained({ asked: 20, got: 3, heldBack: false, limitedTypes: true })).toBe(false);
    expect(claimDrained({ asked: 0, got: 0, heldBack: false, limitedTypes: false })).toBe(false);
  });
});

describe('readQueue', () => {
  it('skips the queue only within the trust window after it was found empty', () => {
    expect(readQueue(null, 5_000)).toBe(true);
    expect(readQueue(5_000, 5_000)).toBe(false);
    expect(readQueue(5_000, 5_000 + QUEUE_EMPTY_TRUST_MS - 1)).toBe(false);
    expect(readQueue(5_000, 5_000 + QUEUE_EMPTY_TRUST_MS)).toBe(true);
    expect(readQueue(5_000, 4_999)).toBe(true); // a clock that went back reads it
  });
});

describe('claimOrder', () => {
  const run = (id: number, status: string, scheduledMs: number, priority: 'high' | 'normal' | 'low' | null | undefined) => ({
    run: { id, status, scheduled: new Date(scheduledMs) },
    ...(priority === undefined ? {} : { task: { priority } }),
  });
  it('started first, then by priority, oldest scheduled and id; a run without its task has no priority', () => {
    const runs = [
      run(1, 'claimed', 0, 'low'),
      run(2, 'claimed', 5, 'high'),
      run(3, 'claimed', 1, 'high'),
      run(4, 'started', 9, 'low'),
      run(5, 'claimed', 1, null),
      run(6, 'claimed', 0, undefined),
      run(7, 'claimed', 1, 'high'),
      run(8, 'claimed', 3, 'normal'),
    ];
    expect([...runs].sort(claimOrder).map((r) => r.run.id)).toEqual([4, 3, 7, 2, 8, 1, 6, 5]);
  });
});

describe('claimAnswerWithinMs', () => {
  it('a third of the shortest lease claimed, at least 1 s; the fallback lease without types', () => {
    expect(claimAnswerWithinMs([30_000, 300_000], 30_000)).toBe(10_000);
    // A lease of 90 days: a third of it is past what a timer waits, and what the service took (it was refused).
    expect(claimAnswerWithinMs([90 * 86_400_000], 30_000)).toBe(2_147_483_647);
    expect(claimAnswerWithinMs([1_000], 30_000)).toBe(500); // at most half the lease: the recovery fits in it
    expect(claimAnswerWithinMs([2_000], 30_000)).toBe(1_000);
    expect(claimAnswerWithinMs([2_400, 60_000], 30_000)).toBe(1_000);
    expect(claimAnswerWithinMs([], 60_000)).toBe(20_000);
  });
});

describe('bufferPace', () => {
  it('is the slowest recent type: fast runs of one type do not hide a slow one, which is forgotten once it stops coming', () => {
    let fast = nextPace(undefined, 1, 0);
    for (let i = 1; i <= 50; i++) fast = nextPace(fast, 1, i);
    const slow = nextPace(undefined, 5_000, 10);
    expect(slow).toEqual({ meanMs: 5_000, at: 10 });
    expect(nextPace(slow, 4_000, 20)).toEqual({ meanMs: 4_900, at: 20 }); // a tenth of the way
    expect(nextPace({ meanMs: 1, at: 0 }, 3_001, 20)).toEqual({ meanMs: 301, at: 20 });
    // A type slower than the memory is remembered for three of its runs.
    expect(bufferPace([{ meanMs: 100_000, at: 0 }], 299_000)).toBe(100_000);
    expect(bufferPace([{ meanMs: 100_000, at: 0 }], 301_000)).toBeNull();
    expect(bufferPace([fast, slow], 50)).toBe(5_000);
    expect(bufferPace([fast, slow], 10 + PACE_MEMORY_MS)).toBe(5_000);
    expect(bufferPace([fast, slow], 11 + PACE_MEMORY_MS)).toBeCloseTo(1);
    expect(bufferPace([], 0)).toBeNull();
    expect(bufferPace([slow], 11 + PACE_MEMORY_MS)).toBeNull(); // nothing recent: the first-round rule of bufferTarget
  });
});
