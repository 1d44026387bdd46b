import { describe, expect, it } from 'vitest';
import { bufferTarget, claimDrained, claimSize, QUEUE_EMPTY_TRUST_MS, readQueue } from './claim-ahead.js';

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
