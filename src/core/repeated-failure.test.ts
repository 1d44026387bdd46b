import { describe, expect, it } from 'vitest';
import { RepeatedFailure } from './repeated-failure.js';

describe('RepeatedFailure: the lines a repeating failure gets', () => {
  it('the first failure at once, then one line per period with the count, and one at the first success', () => {
    const f = new RepeatedFailure(10_000);
    expect(f.succeeded(0, 'heartbeat')).toBeNull();
    expect(f.failed(1_000, 'heartbeat', 'down')).toBe('heartbeat failed: down');
    const quiet = [1_250, 1_500, 5_000, 10_999].map((t) => f.failed(t, 'heartbeat', 'down'));
    expect(quiet).toEqual([null, null, null, null]);
    expect(f.failed(11_000, 'heartbeat', 'still down')).toBe('heartbeat still failing after 6 attempts over 10 s: still down');
    expect(f.failed(12_000, 'heartbeat', 'down')).toBeNull();
    expect(f.succeeded(13_500, 'heartbeat')).toBe('heartbeat succeeded again after 7 failed attempts over 12.5 s');
    // A new episode starts over.
    expect(f.failed(14_000, 'heartbeat', 'down')).toBe('heartbeat failed: down');
    expect(f.succeeded(14_100, 'heartbeat')).toBe('heartbeat succeeded again after 1 failed attempt over 0.1 s');
    expect(f.succeeded(14_200, 'heartbeat')).toBeNull();
  });
});
