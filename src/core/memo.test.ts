import { describe, expect, it } from 'vitest';
import { boundedMemo } from './memo.js';

describe('boundedMemo', () => {
  it('computes a key once, keeps at most its limit, and lets a throw through without keeping it', () => {
    const memo = boundedMemo<number>(2);
    let made = 0;
    const square = (n: number) => memo(String(n), () => (made++, n * n));
    expect([square(3), square(3), square(4)]).toEqual([9, 9, 16]);
    expect(made).toBe(2);
    square(5); // full at 2: emptied, then holds 5
    square(3);
    expect(made).toBe(4);
    expect(() => memo('bad', () => { throw new Error('no'); })).toThrow('no');
    expect(memo('bad', () => 1)).toBe(1);
  });
});
