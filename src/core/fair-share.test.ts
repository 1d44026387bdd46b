import { describe, expect, it } from 'vitest';
import { cursorToSave, cycleSegments, cycleStart, fairTurns, fairWalk, keyBatchSize, keyWeight, takesTurns, type FairCursor, type FairGroup, type FairRead, type FairWalk } from './fair-share.js';

const open = { maxRunning: null, maxRunningPerKey: null, rateLimit: null, rateLimitPerKey: null };
const fair = (weights: Record<string, number> = {}) => ({ ...open, fairShare: { weights }, fifoPerKey: false });
const fifo = { ...open, fairShare: null, fifoPerKey: true };
const g = (key: string | null, available = Infinity, room = Infinity): FairGroup => ({ key, available, room });

describe('weights and where a cycle starts', () => {
  it('a key weighs what fairShare.weights says, 1 otherwise; runs without a key and fifoPerKey weigh 1', () => {
    const t = fair({ a: 3 });
    expect(takesTurns(t)).toBe(true);
    expect(takesTurns(fifo)).toBe(true);
    expect(takesTurns({ fairShare: null, fifoPerKey: false })).toBe(false);
    expect([keyWeight(t, 'a'), keyWeight(t, 'b'), keyWeight(t, null)]).toEqual([3, 1, 1]);
    expect(keyWeight({ fairShare: { weights: { a: 3 } }, fifoPerKey: true }, 'a')).toBe(1);
    // Object's own members are not weights: a key named toString weighs 1 (it read a function, and every claim of the type failed).
    expect(['toString', 'constructor', '__proto__'].map((k) => keyWeight({ fairShare: { weights: {} }, fifoPerKey: false }, k))).toEqual([1, 1, 1]);
  });

  it('from the start without a cursor; at the cursor while its turn has runs left; else just after it', () => {
    const t = fair({ a: 3 });
    expect(cycleStart(t, null)).toBeNull();
    expect(cycleStart(t, { key: 'a', used: 2 })).toEqual({ key: 'a', inclusive: true });
    expect(cycleStart(t, { key: 'a', used: 3 })).toEqual({ key: 'a', inclusive: false });
    expect(cycleStart(t, { key: null, used: 1 })).toEqual({ key: null, inclusive: false });
    expect(cycleStart(fair(), { key: 'a', used: 5 })).toEqual({ key: 'a', inclusive: false }); // its weight was lowered since
  });
});

describe('fairTurns: a weighted round robin', () => {
  it('one run per key in order: a key with a million waiting runs takes one turn like the others', () => {
    const t = fair();
    const r = fairTurns(t, [g('big', 1_000_000), g('b', 1), g('c', 1)], 2, false, null);
    expect(r).toEqual({ take: [1, 1, 0], fullKeys: [], cursor: { key: 'b', used: 1 }, keyFull: false, more: true });
    // The next claim starts after "b": "c", then round to "big".
    expect(cycleStart(t, r.cursor)).toEqual({ key: 'b', inclusive: false });
  });

  it('weights give a key that many runs per turn; rounds repeat once the whole cycle was read', () => {
    const r = fairTurns(fair({ a: 3 }), [g('a'), g('b')], 10, true, null);
    expect(r.take).toEqual([8, 2]); // a3 b1, a3 b1, a2
    expect(r.cursor).toEqual({ key: 'a', used: 2 }); // cut by the claim's room: a's turn stays open
    expect(r.more).toBe(true);
    // The next claim finishes a's turn (1 left), then b, then a again.
    const next = fairTurns(fair({ a: 3 }), [g('a'), g('b')], 3, true, r.cursor);
    expect(next.take).toEqual([2, 1]);
  });

  it('no second round before the cycle was read to its end', () => {
    const r = fairTurns(fair({ a: 3 }), [g('a'), g('b')], 10, false, null);
    expect(r.take).toEqual([3, 1]);
    expect(r.more).toBe(false); // the allowance did not run out: the store reads more keys
  });

  it('a full key (no room) is passed over and reported; a key with less room gives what it has', () => {
    const r = fairTurns(fair({ a: 5 }), [g('a', Infinity, 2), g('b', 3, 0), g(null, 1)], 10, true, null);
    expect(r.take).toEqual([2, 0, 1]);
    expect(r.keyFull).toBe(true);
    expect(r.more).toBe(false);
    expect(r.cursor).toEqual({ key: null, used: 1 });
  });

  it('a group with fewer runs than its weight ends its turn: the cursor moves past it', () => {
    const r = fairTurns(fair({ a: 5 }), [g('a', 2), g('b', 4)], 3, true, null);
    expect(r.take).toEqual([2, 1]);
    expect(r.cursor).toEqual({ key: 'b', used: 1 });
  });

  it('fifoPerKey: one run per key, the keys in turn', () => {
    const groups = [g('a', 10, 1), g('b', 10, 0), g('c', 10, 1)];
    expect(fairTurns(fifo, groups, 10, true, null)).toEqual({ take: [1, 0, 1], fullKeys: ['a', 'b', 'c'], cursor: { key: 'c', used: 1 }, keyFull: true, more: false });
  });

  it('an allowance of zero takes nothing and leaves the cursor', () => {
    const cursor = { key: 'x', used: 1 };
    expect(fairTurns(fair(), [g('a')], 0, true, cursor)).toEqual({ take: [0], fullKeys: [], cursor, keyFull: false, more: true });
    expect(fairTurns(fair(), [], 5, true, cursor)).toEqual({ take: [], fullKeys: [], cursor, keyFull: false, more: false });
  });

  it('over claims, every key gets its share whatever its backlog', () => {
    const t = fair({ a: 2 });
    const backlog: Record<string, number> = { a: 1000, b: 1000, c: 3 };
    const got: Record<string, number> = { a: 0, b: 0, c: 0 };
    let cursor = null as ReturnType<typeof fairTurns>['cursor'];
    for (let claim = 0; claim < 6; claim++) {
      // The store's cycle from cycleStart: keys in order, rotated.
      const keys = ['a', 'b', 'c'].filter((k) => backlog[k]! > 0);
      const start = cycleStart(t, cursor);
      const at = start === null ? 0 : keys.indexOf(start.key!) + (start.inclusive ? 0 : 1);
      const order = [...keys.slice(at), ...keys.slice(0, at)];
      const r = fairTurns(t, order.map((k) => g(k, backlog[k]!)), 2, true, cursor);
      order.forEach((k, i) => ((backlog[k]! -= r.take[i]!), (got[k]! += r.take[i]!)));
      cursor = r.cursor;
    }
    expect(got).toEqual({ a: 6, b: 3, c: 3 }); // 12 runs, weights 2:1:1
  });
});

describe('keyBatchSize', () => {
  it('reads about twice the room, at least 16, within the cap', () => {
    expect(keyBatchSize(1, 0, 10_000)).toBe(16);
    expect(keyBatchSize(100, 0, 10_000)).toBe(200);
    expect(keyBatchSize(100, 9_950, 10_000)).toBe(50);
    expect(keyBatchSize(100, 10_000, 10_000)).toBe(0);
  });
});

describe('cycleSegments: one cycle of turns, from where it starts, round to it', () => {
  const all = { kind: 'range', after: '', below: null };
  it('from the start: the runs without a key, then every key', () => {
    expect(cycleSegments(null)).toEqual([{ kind: 'null' }, all]);
    expect(cycleSegments({ key: null, inclusive: true })).toEqual([{ kind: 'null' }, all]);
    expect(cycleSegments({ key: null, inclusive: false })).toEqual([all, { kind: 'null' }]);
  });
  it('after a key: the keys after it, then round to it (itself last)', () => {
    expect(cycleSegments({ key: 'm', inclusive: false })).toEqual([
      { kind: 'range', after: 'm', below: null },
      { kind: 'null' },
      { kind: 'range', after: '', below: { key: 'm', inclusive: true } },
    ]);
  });
  it('at a key (its turn resumed): the key, the keys after it, then round to just before it', () => {
    expect(cycleSegments({ key: 'm', inclusive: true })).toEqual([
      { kind: 'key', key: 'm' },
      { kind: 'range', after: 'm', below: null },
      { kind: 'null' },
      { kind: 'range', after: '', below: { key: 'm', inclusive: false } },
    ]);
  });
});

/** A store in memory answering a fair walk: waiting run ids per key (null: without a key), keys in code-unit order. */
function walk(waiting: Map<string | null, number[]>, t: Parameters<typeof fairWalk>[0], allowance: number, cursor: FairCursor | null, rooms: Record<string, number> = {}, cap?: number) {
  const reads: FairRead[] = [];
  const keys = [...waiting.keys()].filter((k): k is string => k !== null && waiting.get(k)!.length > 0).sort();
  const gen = fairWalk(t, allowance, cursor, cap);
  let r = gen.next();
  while (!r.done) {
    const q = r.value;
    reads.push(q);
    let answer: unknown;
    if (q.read === 'null-group') answer = (waiting.get(null)?.length ?? 0) > 0;
    else if (q.read === 'key') answer = (waiting.get(q.key)?.length ?? 0) > 0;
    else if (q.read === 'keys') answer = keys.filter((k) => k > q.after && (q.below === null || k < q.below.key || (q.below.inclusive && k === q.below.key))).slice(0, q.limit);
    else if (q.read === 'rooms') answer = q.keys.map((k) => rooms[k] ?? Infinity);
    else answer = q.groups.map((g) => (waiting.get(g.key) ?? []).slice(0, g.limit));
    r = gen.next(answer);
  }
  return { out: r.value as FairWalk, reads };
}

describe('fairWalk: what a claim reads and takes', () => {
  const many = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

  it('10,000 waiting keys, room for 3: reads 16 keys and the first run of 3 of them', () => {
    const waiting = new Map<string | null, number[]>(Array.from({ length: 10_000 }, (_, i) => [`k${String(i).padStart(5, '0')}`, [i * 10 + 1, i * 10 + 2]]));
    const { out, reads } = walk(waiting, fair(), 3, null);
    expect(out.ids).toEqual([1, 11, 21]);
    expect(out.cursor).toEqual({ key: 'k00002', used: 1 });
    expect(reads.map((q) => q.read)).toEqual(['null-group', 'keys', 'heads']);
    expect(reads[1]).toMatchObject({ limit: 16 });
    const next = walk(waiting, fair(), 3, out.cursor);
    expect(next.out.ids).toEqual([31, 41, 51]); // the next keys in turn
  });

  it('a key with a million waiting runs gets its weight per turn, the others theirs', () => {
    const waiting = new Map<string | null, number[]>([['big', many(1, 100_000)], ['b', [900_001, 900_002]], [null, [800_001]]]);
    const { out } = walk(waiting, fair({ big: 2 }), 10, null);
    // Round 0: the runs without a key, big x2, b; round 1: big x2, b; then big alone.
    expect(out.ids.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 800_001, 900_001, 900_002]);
    expect(out.taken).toEqual(new Map<string | null, number>([[null, 1], ['b', 2], ['big', 7]]));
  });

  it('full keys are passed over and reported; the walk reads past them up to the scan cap', () => {
    const waiting = new Map<string | null, number[]>(Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, '0')}`, [i + 1]]));
    const rooms = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 0]));
    const { out, reads } = walk(waiting, fifo, 2, null, rooms);
    expect(out.ids).toEqual([31, 32]);
    expect(out.keyFull).toBe(true);
    expect(reads.filter((q) => q.read === 'keys')).toHaveLength(2); // 16, then 16 more
    const capped = walk(waiting, fifo, 2, null, rooms, 20);
    expect(capped.out.ids).toEqual([]);
    expect(capped.out.keyFull).toBe(true);
  });

  it('resumes the cursor\'s key for the rest of its weight, then the keys after it, then round', () => {
    const waiting = new Map<string | null, number[]>([['a', many(1, 10)], ['b', many(101, 10)], ['c', many(201, 10)]]);
    const { out, reads } = walk(waiting, fair({ b: 3 }), 4, { key: 'b', used: 1 });
    expect(out.ids.sort((x, y) => x - y)).toEqual([1, 101, 102, 201]);
    expect(reads[0]).toEqual({ read: 'key', key: 'b' });
  });
});

describe('cursorToSave', () => {
  it('names the cursor to write only when the walk moved it', () => {
    expect(cursorToSave(null, null)).toBeNull();
    expect(cursorToSave(null, { key: 'a', used: 1 })).toEqual({ key: 'a', used: 1 });
    expect(cursorToSave({ key: 'a', used: 1 }, { key: 'a', used: 1 })).toBeNull();
    expect(cursorToSave({ key: 'a', used: 1 }, { key: 'a', used: 2 })).toEqual({ key: 'a', used: 2 });
    expect(cursorToSave({ key: 'a', used: 1 }, { key: null, used: 1 })).toEqual({ key: null, used: 1 });
    expect(cursorToSave({ key: 'a', used: 1 }, null)).toBeNull(); // a walk never clears a cursor
  });
});
