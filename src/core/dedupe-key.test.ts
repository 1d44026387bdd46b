import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, dedupeKey, keepsDedupeKey, keyIdentity, plainCanonicalJson } from './dedupe-key.js';
import type { Priority, TaskArguments, TaskPolicy } from './model.js';
import { assertJson } from './validation.js';

/** The formulas as they were written before the fast paths: stored keys must never change. */
const referenceKey = (type: string, args: unknown, policy: string, priority: string | null, nextRun: Date | null, schedule: unknown = null) =>
  createHash('sha256')
    .update(canonicalJson([type, args, policy, priority, nextRun ? nextRun.getTime() : null, ...(schedule === null ? [] : [schedule])]))
    .digest('base64url');
const referenceIdentity = (type: string, key: string) => createHash('sha256').update(canonicalJson(['key', type, key])).digest('base64url');

/** A small seeded generator, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]! };
}

const STRINGS = ['', 'a', 'https://example.org/x?y=1', 'é', '"quoted"', 'back\\slash', 'line\nbreak', '\u2028', '\ud83d\ude00', '😀', 'tab\t', '\u0001'];
const NUMBERS = [0, -0, 1, -1, 42, 1.5, -2.25, 1e21, 1e-7, 5e-324, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 0.1 + 0.2];
const KEYS = ['', 'a', 'b', 'B', 'args', 'kwargs', 'é', 'z', '_x', '-y', ' space', '$', '"', '\\', 'aa', 'ab', 'a b'];

/** Plain JSON data (what plainCanonicalJson must take), with undefined object values now and then. */
function jsonValue(r: ReturnType<typeof rng>, depth = 0): unknown {
  const k = r.int(depth > 3 ? 4 : 7);
  if (k === 0) return null;
  if (k === 1) return r.next() < 0.5;
  if (k === 2) return r.pick(NUMBERS);
  if (k === 3) return r.pick(STRINGS);
  if (k === 4) return Array.from({ length: r.int(4) }, () => jsonValue(r, depth + 1));
  const o: Record<string, unknown> = r.next() < 0.2 ? (Object.create(null) as Record<string, unknown>) : {};
  for (let i = r.int(5); i > 0; i--) o[r.pick(KEYS)] = r.next() < 0.1 ? undefined : jsonValue(r, depth + 1);
  return o;
}

describe('plainCanonicalJson', () => {
  it('writes exactly canonicalJson for plain JSON data, which assertJson accepts', () => {
    const r = rng(7);
    for (let i = 0; i < 3000; i++) {
      const v = jsonValue(r);
      expect(plainCanonicalJson(v)).toBe(canonicalJson(v));
      expect(() => assertJson(v, 'v')).not.toThrow();
    }
  });

  it('declines what JSON.stringify treats specially, so the general path decides', () => {
    class Point {
      constructor(readonly x = 1) {}
    }
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    const declined: unknown[] = [
      new Date(0), new Point(), new Map([[1, 2]]), { toJSON: () => 'x' }, { a: { toJSON: () => 'x' } }, NaN, Infinity, [undefined], [1, , 3],
      () => 1, Symbol('s'), 1n, { f: () => 1 }, cyclic, deep, { '9': 1, '10': 2, a: 3 }, { '0x': 1 }, undefined,
      // text no store holds (core/storable.ts): assertJson then names the field
      'a\u0000', '\ud800', 'x\udc00', ['ok', '\u0000'], { 'k\u0000': 1 }, { '\udbff': 1 }, { a: { b: '\ud800' } },
    ];
    for (const v of declined) expect(plainCanonicalJson(v)).toBeUndefined();
  });
});

describe('dedupeKey and keyIdentity', () => {
  it('keep the keys already stored (golden values computed before the fast path)', () => {
    const at = new Date('2026-01-10T12:34:56.789Z');
    const args = { args: ['https://example.org', 3, { z: 1, a: [true, null] }], kwargs: { depth: 2, 'é"\\': 'x\u2028', alpha: -0 } };
    expect(dedupeKey('crawl', args, 'oneshot', 'high', at)).toBe('4SrlI7bOY_lJDCTd45BUuFIpYWdRg7UNEQkihT_C-VI');
    expect(dedupeKey('crawl', { args: [], kwargs: {} }, 'recurring', null, null, { expr: '0 3 * * *', tz: 'UTC' })).toBe('MsdtbEP4TdpEzP7T7P8nuwjpIdMI_8UOkC3pnUrMUYA');
    expect(keyIdentity('crawl', 'example.org')).toBe('I0eDMAEAmLhvKuv5i2IQWYwKFNoPkRCNBqH_Y5Fn0Xw');
  });

  it('equal the reference formula for random definitions, plain or not', () => {
    const r = rng(11);
    const odd = [new Date(5), { '10': 1, '9': 2 }, { toJSON: () => [1] }, new Map()];
    for (let i = 0; i < 2000; i++) {
      const args = { args: Array.from({ length: r.int(3) }, () => (r.next() < 0.05 ? r.pick(odd) : jsonValue(r))), kwargs: jsonValue(r) ?? {} } as TaskArguments;
      if (typeof args.kwargs !== 'object' || Array.isArray(args.kwargs)) args.kwargs = {};
      const type = r.pick(['crawl', 'load-git', 'é"type']);
      const policy = r.pick<TaskPolicy>(['oneshot', 'recurring']);
      const priority = r.pick<Priority | null>([null, 'high', 'normal', 'low']);
      const nextRun = r.next() < 0.5 ? null : new Date(r.pick([0, -1, 1767225600123, 8.64e15, -8.64e15]));
      const schedule = r.pick([null, { expr: '0 3 * * *', tz: 'Europe/Warsaw' }, { rule: 'FREQ=DAILY' }]);
      expect(dedupeKey(type, args, policy, priority, nextRun, schedule)).toBe(referenceKey(type, args, policy, priority, nextRun, schedule));
      const key = r.pick(STRINGS);
      expect(keyIdentity(type, key)).toBe(referenceIdentity(type, key));
    }
  });
});

describe('keepsDedupeKey', () => {
  it('active tasks hold their key; completed and disabled ones drop it', () => {
    expect(keepsDedupeKey('next_run_not_scheduled')).toBe(true);
    expect(keepsDedupeKey('next_run_scheduled')).toBe(true);
    expect(keepsDedupeKey('completed')).toBe(false);
    expect(keepsDedupeKey('disabled')).toBe(false);
  });
});
