import { describe, expect, it } from 'vitest';
import { compareCodePoints } from './text-order.js';

describe('compareCodePoints', () => {
  it('orders text by code point, as PostgreSQL COLLATE "C" and SQLite BINARY do (UTF-16 order puts an emoji before U+FF5A)', () => {
    const names = ['zz-😀', 'zz-ｚ', 'zz-a', 'zz-Z', 'zz-', 'zz-\uE000', 'zz-\uD7FF', 'v_b', 'v-b', 'v:b', 'v.b', 'v0'];
    expect([...names].sort(compareCodePoints)).toEqual(['v-b', 'v.b', 'v0', 'v:b', 'v_b', 'zz-', 'zz-Z', 'zz-a', 'zz-\uD7FF', 'zz-\uE000', 'zz-ｚ', 'zz-😀']);
    // The same order as comparing the code points one by one.
    const byPoints = (a: string, b: string) => {
      const x = [...a].map((c) => c.codePointAt(0)!);
      const y = [...b].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    for (const a of names) for (const b of names) expect(Math.sign(compareCodePoints(a, b)), `${a} ${b}`).toBe(Math.sign(byPoints(a, b)));
  });
});
