import type pg from 'pg';
import { effectiveLimit, nextRecovery, type AdaptiveState, type KeyFacts } from '../../core/adaptive-rate.js';
import { cursorToSave, fairWalk, takesTurns, type FairCursor, type FairRead } from '../../core/fair-share.js';
import {
  claimAllowance,
  earliestRetry,
  keyLoadAfter,
  keyRetryAt,
  keyRoom,
  limitedCandidateCount,
  limitedHeldBack,
  perKeyCap,
  pickLimitedRuns,
  rateRetryOffset,
  rateRetrySlot,
  rateWindowStart,
  type ClaimCandidate,
  type RateLimit,
} from '../../core/limits.js';
import type { TaskType } from '../../core/model.js';
import type { Row } from '../rows.js';

/** The next keys with waiting runs after $2 (and below $4), one index seek each (a loose index scan). */
const nextKeys = (bound: '' | '<' | '<=') => {
  const below = bound === '' ? '' : `AND concurrency_key ${bound} $4`;
  return `WITH RECURSIVE k(key, n) AS (
      (SELECT concurrency_key, 1 FROM task_runs WHERE type = $1 AND status = 'scheduled' AND concurrency_key > $2 ${below}
       ORDER BY concurrency_key LIMIT 1)
      UNION ALL
      SELECT (SELECT concurrency_key FROM task_runs WHERE type = $1 AND status = 'scheduled' AND concurrency_key > k.key ${below}
              ORDER BY concurrency_key LIMIT 1), k.n + 1
      FROM k WHERE k.key IS NOT NULL AND k.n < $3)
    SELECT key FROM k WHERE key IS NOT NULL`;
};

const RUN = `SELECT id, type, priority_rank, scheduled, concurrency_key FROM task_runs WHERE type = $1 AND status = 'scheduled'`;

/** Queries of the limited claims of one type, exported with the hot queries so a test can EXPLAIN them. */
export const LIMITED_TYPE_QUERIES = {
  runningOfType: `SELECT count(*)::int AS n FROM task_runs WHERE type = $1 AND status IN ('claimed', 'started')`,
  runningOfKeys: `SELECT concurrency_key AS k, count(*)::int AS n FROM task_runs
     WHERE type = $1 AND concurrency_key = ANY($2::text[]) AND status IN ('claimed', 'started') GROUP BY concurrency_key`,
  pruneStarts: 'DELETE FROM rate_limit_starts WHERE type = $1 AND started <= $2',
  startsInWindow: 'SELECT count(*)::int AS n FROM rate_limit_starts WHERE type = $1 AND started > $2',
  nthStart: 'SELECT started FROM rate_limit_starts WHERE type = $1 AND started > $2 ORDER BY started OFFSET $3 LIMIT 1',
  recordStarts: 'INSERT INTO rate_limit_starts (type, started) SELECT $1, $2 FROM generate_series(1, $3::int)',
  newestStart: 'SELECT max(started) AS t FROM rate_limit_starts WHERE type = $1',
  pruneKeyStarts: 'DELETE FROM rate_limit_key_starts WHERE type = $1 AND started <= $2',
  keyWindows: `SELECT concurrency_key AS k, count(*)::int AS n, min(started) AS first FROM rate_limit_key_starts
     WHERE type = $1 AND concurrency_key = ANY($2::text[]) AND started > $3 GROUP BY concurrency_key`,
  recordKeyStarts: 'INSERT INTO rate_limit_key_starts (type, concurrency_key, started) SELECT $1, k, $2 FROM unnest($3::text[]) AS k',
  newestKeyStart: 'SELECT max(started) AS t FROM rate_limit_key_starts WHERE type = $1',
  adaptive: 'SELECT concurrency_key AS k, count, since, decreased_at FROM adaptive_rates WHERE type = $1 AND concurrency_key = ANY($2::text[])',
  cursor: 'SELECT cursor_key, used FROM fair_share_cursors WHERE type = $1',
  saveCursor: `INSERT INTO fair_share_cursors (type, cursor_key, used) VALUES ($1, $2, $3)
     ON CONFLICT (type) DO UPDATE SET cursor_key = excluded.cursor_key, used = excluded.used`,
  pick: `${RUN} ORDER BY priority_rank, scheduled, id LIMIT $2`,
  // task_runs_keyless_queue and task_runs_key_queue (ordered by the key first, so that it serves them in order).
  nullHeads: `${RUN} AND concurrency_key IS NULL ORDER BY priority_rank, scheduled, id LIMIT $2`,
  keyHeads: `SELECT g.ord, r.id, r.type, r.priority_rank, r.scheduled, r.concurrency_key
     FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS g(key, n, ord) CROSS JOIN LATERAL (
       ${RUN} AND concurrency_key = g.key ORDER BY concurrency_key, priority_rank, scheduled, id LIMIT g.n) r
     ORDER BY g.ord, r.priority_rank, r.scheduled, r.id`,
  nextKeys: nextKeys(''),
  nextKeysBelow: nextKeys('<'),
  nextKeysUpTo: nextKeys('<='),
} as const;
const Q = LIMITED_TYPE_QUERIES;

/** One limited type's part of a claim: the runs it may take and what recording them needs. */
export interface LimitedTypePick {
  type: TaskType;
  at: number;
  picks: ClaimCandidate[];
  heldBack: boolean;
  inWindow: number;
  rate: RateLimit | null;
  state: AdaptiveState | null;
  fullKeys: string[];
  facts: Map<string, KeyFacts>;
  cursor?: FairCursor;
}

/**
 * The claim of one limited type, in the claim's transaction under the type's advisory lock (so the
 * counts cannot change before it commits): the type's running runs and rate window, each key's held
 * runs, rate window and adaptive rate (read for many keys at once), and for types whose keys take
 * turns the keys read with a loose index scan (task_runs_key_queue). Decided in core.
 */
export async function pickLimitedType(c: pg.PoolClient, type: TaskType, claimAt: number, capLeft: number): Promise<LimitedTypePick> {
  const q = async (sql: string, params: unknown[]) => (await c.query<Row>(sql, params)).rows;
  const name = type.name;
  // Starts are recorded in commit order with instants that never go back: a claimer whose instant was
  // read before it got the lock claims at the newest start.
  let at = claimAt;
  if (type.rateLimit !== null) at = Math.max(at, ((await q(Q.newestStart, [name]))[0]!.t as Date | null)?.getTime() ?? at);
  if (type.rateLimitPerKey !== null) at = Math.max(at, ((await q(Q.newestKeyStart, [name]))[0]!.t as Date | null)?.getTime() ?? at);
  const running = type.maxRunning !== null ? ((await q(Q.runningOfType, [name]))[0]!.n as number) : 0;
  let inWindow = 0;
  let rate: RateLimit | null = null;
  let state: AdaptiveState | null = null;
  if (type.rateLimit !== null) {
    const start = new Date(rateWindowStart(at, type.rateLimit));
    await c.query(Q.pruneStarts, [name, start]);
    inWindow = (await q(Q.startsInWindow, [name, start]))[0]!.n as number;
    state = (await adaptiveStates(c, name, ['']))[''] ?? null;
    rate = effectiveLimit(type.rateLimit, state, at);
  }
  if (type.rateLimitPerKey !== null) await c.query(Q.pruneKeyStarts, [name, new Date(rateWindowStart(at, type.rateLimitPerKey))]);
  const allowance = Math.min(capLeft, claimAllowance({ ...type, rateLimit: rate }, running, inWindow));
  const facts = new Map<string, KeyFacts>();
  const roomOf = (key: string) => {
    const f = facts.get(key)!;
    return keyRoom(type, f.load, f.rate);
  };
  const rows = new Map<number, ClaimCandidate>();
  const base = { type, at, inWindow, rate, state, facts };
  if (takesTurns(type)) {
    const [cur] = await q(Q.cursor, [name]);
    const cursor: FairCursor | null = cur ? { key: (cur.cursor_key ?? null) as string | null, used: cur.used as number } : null;
    const walk = fairWalk(type, allowance, cursor);
    let r = walk.next();
    while (!r.done) r = walk.next(await answer(c, type, at, r.value, facts, roomOf, rows));
    const w = r.value;
    const save = cursorToSave(cursor, w.cursor);
    return { ...base, picks: w.ids.map((id) => rows.get(id)!), heldBack: limitedHeldBack(w.keyFull, w.more, allowance, capLeft), fullKeys: w.fullKeys, ...(save ? { cursor: save } : {}) };
  }
  const found = await q(Q.pick, [name, limitedCandidateCount(type, allowance)]);
  for (const r of found) rows.set(Number(r.id), toCandidate(r));
  const keys = [...new Set(found.map((r) => r.concurrency_key as string | null).filter((k): k is string => k !== null))];
  if (keys.length > 0 && (perKeyCap(type) !== null || type.rateLimitPerKey !== null)) await readKeyFacts(c, type, at, keys, facts);
  const picked = pickLimitedRuns(type, found.map((r) => ({ id: Number(r.id), key: (r.concurrency_key ?? null) as string | null })), allowance, capLeft, roomOf);
  return { ...base, picks: picked.ids.map((id) => rows.get(id)!), heldBack: picked.heldBack, fullKeys: picked.fullKeys };
}

/**
 * Records what the claim took of a limited type (its starts in the rate windows, the fair-share
 * cursor) and says whether runs were held back and when a rate lets the next one start.
 */
export async function recordLimitedType(c: pg.PoolClient, p: LimitedTypePick, claimedKeys: ReadonlyArray<string | null>): Promise<{ heldBack: boolean; retryAt: number | null }> {
  const { type, at } = p;
  const n = claimedKeys.length;
  if (type.rateLimit !== null && n > 0) await c.query(Q.recordStarts, [type.name, new Date(at), n]);
  const keyed = claimedKeys.filter((k): k is string => k !== null);
  if (type.rateLimitPerKey !== null && keyed.length > 0) await c.query(Q.recordKeyStarts, [type.name, new Date(at), keyed]);
  if (p.cursor !== undefined) await c.query(Q.saveCursor, [type.name, p.cursor.key, p.cursor.used]);
  if (!p.heldBack) return { heldBack: false, retryAt: null };
  let retry: number | null = null;
  const offset = rateRetryOffset(p.rate, p.inWindow, n);
  if (p.rate !== null && offset !== null) {
    const [nth] = (await c.query<Row>(Q.nthStart, [type.name, new Date(rateWindowStart(at, p.rate)), offset])).rows;
    retry = earliestRetry(rateRetrySlot(p.rate, nth ? (nth.started as Date).getTime() : null, at), nextRecovery(type.rateLimit!, p.state, at));
  }
  if (type.rateLimitPerKey !== null) {
    const perKey = new Map<string, number>();
    for (const k of keyed) perKey.set(k, (perKey.get(k) ?? 0) + 1);
    for (const key of p.fullKeys) {
      const f = p.facts.get(key);
      if (f) retry = earliestRetry(retry, keyRetryAt(f.rate, keyLoadAfter(f.load, perKey.get(key) ?? 0, at), nextRecovery(type.rateLimitPerKey, f.state, at)));
    }
  }
  return { heldBack: true, retryAt: retry };
}

/** Answers one read of a fair walk (core/fair-share.ts). */
async function answer(
  c: pg.PoolClient,
  type: TaskType,
  at: number,
  r: FairRead,
  facts: Map<string, KeyFacts>,
  roomOf: (key: string) => number,
  rows: Map<number, ClaimCandidate>,
): Promise<unknown> {
  const name = type.name;
  switch (r.read) {
    case 'null-group':
      return (await c.query(Q.nullHeads, [name, 1])).rowCount! > 0;
    case 'key':
      return (await c.query(Q.keyHeads, [name, [r.key], [1]])).rowCount! > 0;
    case 'rooms':
      await readKeyFacts(c, type, at, r.keys, facts);
      return r.keys.map(roomOf);
    case 'keys': {
      const sql = r.below === null ? Q.nextKeys : r.below.inclusive ? Q.nextKeysUpTo : Q.nextKeysBelow;
      const params: unknown[] = [name, r.after, r.limit];
      if (r.below !== null) params.push(r.below.key);
      return (await c.query<{ key: string }>(sql, params)).rows.map((x) => x.key);
    }
    case 'heads': {
      const out: number[][] = r.groups.map(() => []);
      const keyed = r.groups.map((g, i) => ({ ...g, i })).filter((g) => g.key !== null);
      const nulls = r.groups.findIndex((g) => g.key === null);
      if (nulls >= 0) {
        for (const x of (await c.query<Row>(Q.nullHeads, [name, r.groups[nulls]!.limit])).rows) {
          rows.set(Number(x.id), toCandidate(x));
          out[nulls]!.push(Number(x.id));
        }
      }
      if (keyed.length > 0) {
        const found = (await c.query<Row>(Q.keyHeads, [name, keyed.map((g) => g.key), keyed.map((g) => g.limit)])).rows;
        for (const x of found) {
          rows.set(Number(x.id), toCandidate(x));
          out[keyed[Number(x.ord) - 1]!.i]!.push(Number(x.id));
        }
      }
      return out;
    }
  }
}

/** Reads the facts of keys not read yet in this claim: held runs, rate window and adaptive rate, each for all of them at once. */
async function readKeyFacts(c: pg.PoolClient, type: TaskType, at: number, keys: readonly string[], facts: Map<string, KeyFacts>): Promise<void> {
  const missing = keys.filter((k) => !facts.has(k));
  if (missing.length === 0) return;
  for (const k of missing) facts.set(k, { load: { running: 0, startsInWindow: 0, firstStart: null }, rate: null, state: null });
  if (perKeyCap(type) !== null) {
    for (const r of (await c.query<Row>(Q.runningOfKeys, [type.name, missing])).rows) facts.get(r.k as string)!.load.running = r.n as number;
  }
  const keyRate = type.rateLimitPerKey;
  if (keyRate === null) return;
  for (const r of (await c.query<Row>(Q.keyWindows, [type.name, missing, new Date(rateWindowStart(at, keyRate))])).rows) {
    const f = facts.get(r.k as string)!;
    f.load.startsInWindow = r.n as number;
    f.load.firstStart = r.first === null ? null : (r.first as Date).getTime();
  }
  const states = await adaptiveStates(c, type.name, missing);
  for (const k of missing) {
    const f = facts.get(k)!;
    f.state = states[k] ?? null;
    f.rate = effectiveLimit(keyRate, f.state, at);
  }
}

/** The adaptive rates of a type ('' : the type's own) and of keys, by key. */
export async function adaptiveStates(c: pg.Pool | pg.PoolClient, type: string, keys: readonly string[]): Promise<Record<string, AdaptiveState>> {
  const out: Record<string, AdaptiveState> = Object.create(null); // a key named constructor or __proto__ is not Object's
  for (const r of (await c.query<Row>(Q.adaptive, [type, keys])).rows) {
    out[r.k as string] = { count: Number(r.count), since: (r.since as Date).getTime(), decreasedAt: (r.decreased_at as Date).getTime() };
  }
  return out;
}

function toCandidate(r: Row): ClaimCandidate {
  return { id: Number(r.id), type: r.type as string, rank: Number(r.priority_rank), scheduled: (r.scheduled as Date).getTime() };
}
