import type Database from 'better-sqlite3';
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
  type KeyedCandidate,
  type RateLimit,
} from '../../core/limits.js';
import type { TaskType } from '../../core/model.js';

/** One limited type's part of a claim: the runs it may take and what recording them needs. */
export interface LimitedTypePick {
  type: TaskType;
  /** The claim's instant for this type (never before its newest recorded start). */
  at: number;
  picks: ClaimCandidate[];
  heldBack: boolean;
  /** Starts in the type's rate window, its effective rate and that rate's state. */
  inWindow: number;
  rate: RateLimit | null;
  state: AdaptiveState | null;
  fullKeys: string[];
  keyFacts: (key: string) => KeyFacts;
  /** The fair-share cursor to write (undefined: unchanged). */
  cursor?: FairCursor;
}

/**
 * The claim of one limited type inside the claim's write transaction (BEGIN IMMEDIATE: one claimer at
 * a time, so every count is exact): the type's running runs and rate window, each key's held runs,
 * rate window and adaptive rate, and for types whose keys take turns the keys read one index seek at
 * a time (task_runs_key_queue). What to take is decided in core/limits.ts and core/fair-share.ts.
 */
export class SqliteLimitedClaims {
  private readonly s: ReturnType<typeof prepareLimited>;

  constructor(db: Database.Database) {
    this.s = prepareLimited(db);
  }

  pick(type: TaskType, at: number, capLeft: number): LimitedTypePick {
    const name = type.name;
    // Starts are recorded in commit order with instants that never go back: a claimer whose instant was
    // read before it got the write lock claims at the newest start.
    let typeAt = at;
    if (type.rateLimit !== null) typeAt = Math.max(typeAt, (this.s.newestStart.get(name) as { t: number | null }).t ?? typeAt);
    if (type.rateLimitPerKey !== null) typeAt = Math.max(typeAt, (this.s.newestKeyStart.get(name) as { t: number | null }).t ?? typeAt);
    const running = type.maxRunning !== null ? (this.s.runningOfType.get(name) as { n: number }).n : 0;
    let inWindow = 0;
    let rate: RateLimit | null = null;
    let state: AdaptiveState | null = null;
    if (type.rateLimit !== null) {
      const start = rateWindowStart(typeAt, type.rateLimit);
      this.s.pruneStarts.run(name, start);
      inWindow = (this.s.startsInWindow.get(name, start) as { n: number }).n;
      state = this.adaptive(name, '');
      rate = effectiveLimit(type.rateLimit, state, typeAt);
    }
    if (type.rateLimitPerKey !== null) this.s.pruneKeyStarts.run(name, rateWindowStart(typeAt, type.rateLimitPerKey));
    const allowance = Math.min(capLeft, claimAllowance({ ...type, rateLimit: rate }, running, inWindow));
    const keyFacts = this.keyFacts(type, typeAt);
    const roomOf = (key: string) => {
      const f = keyFacts(key);
      return keyRoom(type, f.load, f.rate);
    };
    const rows = new Map<number, ClaimCandidate>();
    const base = { type, at: typeAt, inWindow, rate, state, keyFacts };
    if (takesTurns(type)) {
      const cursor = this.cursorOf(name);
      const walk = fairWalk(type, allowance, cursor);
      let r = walk.next();
      while (!r.done) r = walk.next(this.answer(name, r.value, roomOf, rows));
      const w = r.value;
      const save = cursorToSave(cursor, w.cursor);
      return { ...base, picks: w.ids.map((id) => rows.get(id)!), heldBack: limitedHeldBack(w.keyFull, w.more, allowance, capLeft), fullKeys: w.fullKeys, ...(save ? { cursor: save } : {}) };
    }
    const candidates = (function* (it: IterableIterator<unknown>): Generator<KeyedCandidate> {
      for (const r of it as IterableIterator<ClaimCandidate & { concurrency_key: string | null }>) {
        rows.set(r.id, r);
        yield { id: r.id, key: r.concurrency_key };
      }
    })(this.s.pickKeyed.iterate(name, limitedCandidateCount(type, allowance)));
    const picked = pickLimitedRuns(type, candidates, allowance, capLeft, roomOf);
    candidates.return(undefined); // stop reading (closes the statement's cursor)
    return { ...base, picks: picked.ids.map((id) => rows.get(id)!), heldBack: picked.heldBack, fullKeys: picked.fullKeys };
  }

  /**
   * Records what the claim took of a limited type (its starts in the rate windows, the fair-share
   * cursor) and says whether runs were held back and when a rate lets the next one start.
   */
  record(p: LimitedTypePick, claimedKeys: ReadonlyArray<string | null>): { heldBack: boolean; retryAt: number | null } {
    const { type, at } = p;
    const n = claimedKeys.length;
    if (type.rateLimit !== null) for (let i = 0; i < n; i++) this.s.recordStart.run(type.name, at);
    const perKey = new Map<string, number>();
    for (const k of claimedKeys) if (k !== null) perKey.set(k, (perKey.get(k) ?? 0) + 1);
    if (type.rateLimitPerKey !== null) for (const [k, c] of perKey) for (let i = 0; i < c; i++) this.s.recordKeyStart.run(type.name, k, at);
    if (p.cursor !== undefined) this.s.saveCursor.run(type.name, p.cursor.key, p.cursor.used);
    if (!p.heldBack) return { heldBack: false, retryAt: null };
    let retry: number | null = null;
    const offset = rateRetryOffset(p.rate, p.inWindow, n);
    if (p.rate !== null && offset !== null) {
      const nth = this.s.nthStart.get(type.name, rateWindowStart(at, p.rate), offset) as { started: number } | undefined;
      retry = earliestRetry(rateRetrySlot(p.rate, nth?.started ?? null, at), nextRecovery(type.rateLimit!, p.state, at));
    }
    if (type.rateLimitPerKey !== null) {
      for (const key of p.fullKeys) {
        const f = p.keyFacts(key);
        retry = earliestRetry(retry, keyRetryAt(f.rate, keyLoadAfter(f.load, perKey.get(key) ?? 0, at), nextRecovery(type.rateLimitPerKey, f.state, at)));
      }
    }
    return { heldBack: true, retryAt: retry };
  }

  /** An external start (`run start`) of a rate-limited type counts in its windows too. */
  recordExternalStart(type: TaskType, at: Date, key: string | null): void {
    if (type.rateLimit !== null) this.s.recordStart.run(type.name, at.getTime());
    if (type.rateLimitPerKey !== null && key !== null) this.s.recordKeyStart.run(type.name, key, at.getTime());
  }

  /** Each key's facts, read once per claim when first asked for. */
  private keyFacts(type: TaskType, at: number): (key: string) => KeyFacts {
    const memo = new Map<string, KeyFacts>();
    const cap = perKeyCap(type);
    const keyRate = type.rateLimitPerKey;
    return (key) => {
      let f = memo.get(key);
      if (f) return f;
      const running = cap !== null ? (this.s.runningOfKey.get(type.name, key) as { n: number }).n : 0;
      f = { load: { running, startsInWindow: 0, firstStart: null }, rate: null, state: null };
      if (keyRate !== null) {
        const w = this.s.keyWindow.get(type.name, key, rateWindowStart(at, keyRate)) as { n: number; first: number | null };
        f.load.startsInWindow = w.n;
        f.load.firstStart = w.first;
        f.state = this.adaptive(type.name, key);
        f.rate = effectiveLimit(keyRate, f.state, at);
      }
      memo.set(key, f);
      return f;
    };
  }

  private adaptive(type: string, key: string): AdaptiveState | null {
    const r = this.s.adaptive.get(type, key) as { count: number; since: number; decreased_at: number } | undefined;
    return r === undefined ? null : { count: r.count, since: r.since, decreasedAt: r.decreased_at };
  }

  private cursorOf(type: string): FairCursor | null {
    const r = this.s.cursor.get(type) as { cursor_key: string | null; used: number } | undefined;
    return r === undefined ? null : { key: r.cursor_key, used: r.used };
  }

  /** Answers one read of a fair walk (core/fair-share.ts), each an index seek or a short range. */
  private answer(type: string, q: FairRead, roomOf: (key: string) => number, rows: Map<number, ClaimCandidate>): unknown {
    switch (q.read) {
      case 'null-group':
        return this.s.nullHeads.get(type, 1) !== undefined;
      case 'key':
        return this.s.keyHeads.get(type, q.key, 1) !== undefined;
      case 'rooms':
        return q.keys.map(roomOf);
      case 'keys': {
        const next = q.below === null ? this.s.nextKey : q.below.inclusive ? this.s.nextKeyUpTo : this.s.nextKeyBelow;
        const keys: string[] = [];
        let after = q.after;
        while (keys.length < q.limit) {
          const r = (q.below === null ? next.get(type, after) : next.get(type, after, q.below.key)) as { k: string } | undefined;
          if (r === undefined) break;
          keys.push(r.k);
          after = r.k;
        }
        return keys;
      }
      case 'heads':
        return q.groups.map((g) => {
          const found = (g.key === null ? this.s.nullHeads.all(type, g.limit) : this.s.keyHeads.all(type, g.key, g.limit)) as ClaimCandidate[];
          for (const r of found) rows.set(r.id, r);
          return found.map((r) => r.id);
        });
    }
  }
}

function prepareLimited(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const RUN = `id, type, priority_rank AS rank, scheduled, concurrency_key FROM task_runs INDEXED BY task_runs_key_queue WHERE type = ? AND status = 'scheduled'`;
  const NEXT_KEY = `SELECT concurrency_key AS k FROM task_runs INDEXED BY task_runs_key_queue WHERE type = ? AND status = 'scheduled' AND concurrency_key > ?`;
  return {
    pickKeyed: p(`SELECT id, type, priority_rank AS rank, scheduled, concurrency_key FROM task_runs INDEXED BY task_runs_claimable
      WHERE type = ? AND status = 'scheduled' ORDER BY priority_rank, scheduled, id LIMIT +?`),
    runningOfType: p(`SELECT count(*) AS n FROM task_runs INDEXED BY task_runs_running WHERE type = ? AND status IN ('claimed', 'started')`),
    runningOfKey: p(`SELECT count(*) AS n FROM task_runs INDEXED BY task_runs_running WHERE type = ? AND concurrency_key = ? AND status IN ('claimed', 'started')`),
    pruneStarts: p('DELETE FROM rate_limit_starts WHERE type = ? AND started <= ?'),
    startsInWindow: p('SELECT count(*) AS n FROM rate_limit_starts WHERE type = ? AND started > ?'),
    nthStart: p('SELECT started FROM rate_limit_starts WHERE type = ? AND started > ? ORDER BY started LIMIT 1 OFFSET ?'),
    recordStart: p('INSERT INTO rate_limit_starts (type, started) VALUES (?, ?)'),
    newestStart: p('SELECT max(started) AS t FROM rate_limit_starts WHERE type = ?'),
    pruneKeyStarts: p('DELETE FROM rate_limit_key_starts WHERE type = ? AND started <= ?'),
    keyWindow: p('SELECT count(*) AS n, min(started) AS first FROM rate_limit_key_starts WHERE type = ? AND concurrency_key = ? AND started > ?'),
    recordKeyStart: p('INSERT INTO rate_limit_key_starts (type, concurrency_key, started) VALUES (?, ?, ?)'),
    newestKeyStart: p('SELECT max(started) AS t FROM rate_limit_key_starts WHERE type = ?'),
    adaptive: p('SELECT count, since, decreased_at FROM adaptive_rates WHERE type = ? AND concurrency_key = ?'),
    cursor: p('SELECT cursor_key, used FROM fair_share_cursors WHERE type = ?'),
    saveCursor: p(`INSERT INTO fair_share_cursors (type, cursor_key, used) VALUES (?, ?, ?)
      ON CONFLICT (type) DO UPDATE SET cursor_key = excluded.cursor_key, used = excluded.used`),
    nullHeads: p(`SELECT id, type, priority_rank AS rank, scheduled, concurrency_key FROM task_runs INDEXED BY task_runs_keyless_queue
      WHERE type = ? AND status = 'scheduled' AND concurrency_key IS NULL ORDER BY priority_rank, scheduled, id LIMIT +?`),
    keyHeads: p(`SELECT ${RUN} AND concurrency_key = ? ORDER BY priority_rank, scheduled, id LIMIT +?`),
    nextKey: p(`${NEXT_KEY} ORDER BY concurrency_key LIMIT 1`),
    nextKeyBelow: p(`${NEXT_KEY} AND concurrency_key < ? ORDER BY concurrency_key LIMIT 1`),
    nextKeyUpTo: p(`${NEXT_KEY} AND concurrency_key <= ? ORDER BY concurrency_key LIMIT 1`),
  };
}
