import { KEY_SCAN_CAP, hasKeyLimits, type TypeLimits } from './limits.js';
import type { TaskType } from './model.js';

/**
 * Fair shares between the concurrency keys of a type (docs/limits.md#fair-shares): claims take the
 * keys with waiting runs in turn, a weighted round robin, so one key with a million waiting runs
 * cannot starve the rest. The rotation goes through the runs without a key first (one group), then the
 * keys in the database's order; a cursor kept per type says where the last claim stopped. Pure: the
 * stores read the groups of one cycle (an index skip scan) and write the choice and the cursor.
 */

/** Largest weight of a key. */
export const MAX_KEY_WEIGHT = 1000;
/** Most keys with a weight in one type. */
export const MAX_WEIGHTED_KEYS = 1000;

type Turns = Pick<TaskType, 'fairShare' | 'fifoPerKey'>;

/** True when the keys of the type take turns at claims (`fairShare`, or `fifoPerKey`). */
export function takesTurns(t: Turns): boolean {
  return t.fairShare !== null || t.fifoPerKey;
}

/** Runs per turn of a group: the key's weight (1 when not listed, for the runs without a key, and with `fifoPerKey`). */
export function keyWeight(t: Turns, key: string | null): number {
  if (key === null || t.fifoPerKey || t.fairShare === null) return 1;
  return Object.hasOwn(t.fairShare.weights, key) ? t.fairShare.weights[key]! : 1; // own keys only: a key named toString is not Object's
}

/** Where a type's turns stand between claims: the group served last (key null: the runs without a key) and how many runs its turn took. */
export interface FairCursor {
  key: string | null;
  used: number;
}

/**
 * Where the next cycle of turns starts: at the cursor's group when its turn was cut short by a claim's
 * room (`inclusive`: it takes the rest of its weight first), else just after it; null: from the start.
 */
export function cycleStart(t: Turns, cursor: FairCursor | null): { key: string | null; inclusive: boolean } | null {
  if (cursor === null) return null;
  return { key: cursor.key, inclusive: cursor.used < keyWeight(t, cursor.key) };
}

/** One group of waiting runs in a cycle of turns, as the store read it. */
export interface FairGroup {
  key: string | null;
  /** How many more of its runs may start now (per-key limits); Infinity without them. */
  room: number;
  /** How many of its runs wait, once all were read; Infinity while more may wait than were read. */
  available: number;
}

export interface FairTurns {
  /** Runs to take from each group, in the groups' order (the first ones of each in claim order). */
  take: number[];
  /** Keys left with runs waiting and no room (full by their limits, now or after this claim's runs). */
  fullKeys: string[];
  /** The cursor the claim leaves (the one it got when it took nothing). */
  cursor: FairCursor | null;
  /** A group with waiting runs was passed over because its key was full. */
  keyFull: boolean;
  /** Runs that could start were left because the allowance ran out (or the cycle was not read to its end). */
  more: boolean;
}

/**
 * A weighted round robin over the groups of one cycle, in their order: each turn gives a group up to its
 * weight (the first group, when it is the cursor's resumed, what its weight has left), within its room
 * and what waits, until `allowance` runs are taken. Further rounds only once the whole cycle was read
 * (`complete`): a key beyond the groups read must have its turn before any key has a second one.
 */
export function fairTurns(t: Turns, groups: readonly FairGroup[], allowance: number, complete: boolean, cursor: FairCursor | null): FairTurns {
  const take = groups.map(() => 0);
  const resumed = cursor !== null && groups.length > 0 && groups[0]!.key === cursor.key && cursor.used < keyWeight(t, cursor.key);
  let left = Math.max(0, allowance);
  let next = cursor;
  let keyFull = false;
  for (let round = 0; left > 0 && (round === 0 || complete); round++) {
    let progress = false;
    for (let i = 0; i < groups.length && left > 0; i++) {
      const g = groups[i]!;
      const weight = keyWeight(t, g.key);
      const usedBefore = round === 0 && i === 0 && resumed ? cursor!.used : 0;
      const quota = weight - usedBefore;
      const canGive = Math.min(g.room, g.available) - take[i]!;
      if (g.available - take[i]! > 0 && g.room - take[i]! <= 0) keyFull = true;
      const n = Math.max(0, Math.min(quota, canGive, left));
      if (n === 0) continue;
      take[i]! += n;
      // The turn stays open only when the allowance, not the group, cut it short.
      const open = n < quota && n === left && canGive > n;
      left -= n;
      progress = true;
      next = { key: g.key, used: open ? usedBefore + n : weight };
    }
    if (!progress) break;
  }
  const more = left === 0 && (!complete || groups.some((g, i) => Math.min(g.room, g.available) > take[i]!));
  const fullKeys = groups.filter((g, i) => g.key !== null && g.available > take[i]! && g.room <= take[i]!).map((g) => g.key!);
  return { take, fullKeys, cursor: next, keyFull, more };
}

/** How many keys a store reads in its next batch of a cycle: about twice the claim's room, at least 16, within the scan cap. */
export function keyBatchSize(allowance: number, scanned: number, cap: number): number {
  return Math.max(0, Math.min(cap - scanned, Math.max(16, 2 * allowance)));
}

/**
 * One cycle of turns as the stores read it, in order: the runs without a key (`null`), one key, or a
 * range of keys in the database's order (`after` exclusive, '' = from the first key; `below` an upper
 * bound). Keys are never empty, so '' sorts before every key.
 */
export type CycleSegment =
  | { kind: 'null' }
  | { kind: 'key'; key: string }
  | { kind: 'range'; after: string; below: { key: string; inclusive: boolean } | null };

/** The segments of a cycle starting at `start` (`cycleStart`): from there to the last key, then round from the runs without a key. */
export function cycleSegments(start: { key: string | null; inclusive: boolean } | null): CycleSegment[] {
  const all: CycleSegment = { kind: 'range', after: '', below: null };
  if (start === null) return [{ kind: 'null' }, all];
  if (start.key === null) return start.inclusive ? [{ kind: 'null' }, all] : [all, { kind: 'null' }];
  const tail: CycleSegment = { kind: 'range', after: start.key, below: null };
  const wrap: CycleSegment = { kind: 'range', after: '', below: { key: start.key, inclusive: !start.inclusive } };
  return start.inclusive ? [{ kind: 'key', key: start.key }, tail, { kind: 'null' }, wrap] : [tail, { kind: 'null' }, wrap];
}

/** What a fair walk asks its store to read (each answered before the walk goes on). */
export type FairRead =
  /** Do runs without a key wait? Answer: boolean. */
  | { read: 'null-group' }
  /** Does this key have waiting runs? Answer: boolean. */
  | { read: 'key'; key: string }
  /** Up to `limit` keys with waiting runs after `after` (and before `below`), in order. Answer: string[]. */
  | { read: 'keys'; after: string; below: { key: string; inclusive: boolean } | null; limit: number }
  /** The room of each key now (`keyRoom` with its load and effective rate). Answer: number[]. */
  | { read: 'rooms'; keys: string[] }
  /** The first `limit` waiting runs of each group, in claim order. Answer: number[][] (run ids). */
  | { read: 'heads'; groups: Array<{ key: string | null; limit: number }> };

/**
 * The cursor a claim must store after its walk: the walk's when it moved, else null (nothing to write).
 * A walk never clears a cursor: once a key took a turn, the next cycle starts from it.
 */
export function cursorToSave(before: FairCursor | null, after: FairCursor | null): FairCursor | null {
  if (after === null) return null;
  return before !== null && before.key === after.key && before.used === after.used ? null : after;
}

export interface FairWalk {
  /** The runs to claim. */
  ids: number[];
  /** The runs taken per group (key null: the runs without a key). */
  taken: Map<string | null, number>;
  cursor: FairCursor | null;
  keyFull: boolean;
  more: boolean;
  fullKeys: string[];
}

/**
 * The fair pick of one claim of a type, as a conversation with its store: it asks for the groups of a
 * cycle (from `cycleStart`) in batches (`keyBatchSize`, at most `cap` keys), their rooms (with per-key
 * limits), and the first
 * runs of the groups `fairTurns` takes from, until it knows which runs to take. The store answers each
 * `FairRead` (synchronously on SQLite, awaiting on PostgreSQL).
 */
export function* fairWalk(t: TypeLimits, allowance: number, cursor: FairCursor | null, cap = KEY_SCAN_CAP): Generator<FairRead, FairWalk, unknown> {
  const segments = cycleSegments(cycleStart(t, cursor));
  const groups: Array<FairGroup & { ids: number[] }> = [];
  let seg = 0;
  let after: string | null = null;
  let scanned = 0;
  for (;;) {
    const complete = seg >= segments.length;
    const plan = fairTurns(t, groups, allowance, complete, cursor);
    const total = plan.take.reduce((a, b) => a + b, 0);
    const batch = keyBatchSize(allowance - total, scanned, cap);
    if (total < allowance && !complete && batch > 0) {
      const found: Array<string | null> = [];
      while (found.length < batch && seg < segments.length) {
        const s = segments[seg]!;
        if (s.kind === 'null') {
          if ((yield { read: 'null-group' }) as boolean) found.push(null);
          seg++;
        } else if (s.kind === 'key') {
          if ((yield { read: 'key', key: s.key }) as boolean) found.push(s.key);
          seg++;
        } else {
          const want = batch - found.length;
          const keys = (yield { read: 'keys', after: after ?? s.after, below: s.below, limit: want }) as string[];
          found.push(...keys);
          if (keys.length < want) (seg++, (after = null));
          else after = keys[keys.length - 1]!;
        }
      }
      scanned += found.length;
      const keyed = found.filter((k): k is string => k !== null);
      // Without per-key limits every key has room: nothing to read.
      const rooms = keyed.length > 0 && hasKeyLimits(t) ? ((yield { read: 'rooms', keys: keyed }) as number[]) : keyed.map(() => Infinity);
      const roomOf = new Map(keyed.map((k, i) => [k, rooms[i]!]));
      for (const key of found) groups.push({ key, room: key === null ? Infinity : roomOf.get(key)!, available: Infinity, ids: [] });
      continue;
    }
    const need = groups.map((g, i) => ({ g, n: plan.take[i]! })).filter(({ g, n }) => n > g.ids.length && g.available === Infinity);
    if (need.length === 0) {
      const taken = new Map<string | null, number>();
      const ids: number[] = [];
      groups.forEach((g, i) => {
        if (plan.take[i]! === 0) return;
        taken.set(g.key, plan.take[i]!);
        ids.push(...g.ids.slice(0, plan.take[i]!));
      });
      return { ids, taken, cursor: plan.cursor, keyFull: plan.keyFull, more: plan.more, fullKeys: plan.fullKeys };
    }
    const heads = (yield { read: 'heads', groups: need.map(({ g, n }) => ({ key: g.key, limit: n })) }) as number[][];
    need.forEach(({ g, n }, j) => {
      g.ids = heads[j]!;
      if (g.ids.length < n) g.available = g.ids.length;
    });
  }
}
