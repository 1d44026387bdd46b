import type Database from 'better-sqlite3';
import { adaptiveStaleBefore, effectiveCount, throttleScope, throttled } from '../../core/adaptive-rate.js';
import type { TaskType } from '../../core/model.js';
import type { AdaptiveRateRow, ThrottledRate } from '../store.js';

/** A type's adaptive rates gone stale, pruned at each throttle signal (index adaptive_rates_since). */
export const PRUNE_ADAPTIVE_SQL = 'DELETE FROM adaptive_rates WHERE type = ? AND since < ?';

/** The type's own rate is stored under this key (concurrency keys are never empty). */
const TYPE_KEY = '';

/**
 * Limits that adapt (docs/limits.md#adaptive-limits): the throttled rates of types and keys, one row
 * each in `adaptive_rates`; core/adaptive-rate.ts decides, this reads and writes.
 */
export class SqliteAdaptiveRates {
  private readonly s;

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      get: p('SELECT count, since, decreased_at FROM adaptive_rates WHERE type = ? AND concurrency_key = ?'),
      save: p(`INSERT INTO adaptive_rates (type, concurrency_key, count, since, decreased_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (type, concurrency_key) DO UPDATE SET count = excluded.count, since = excluded.since, decreased_at = excluded.decreased_at`),
      prune: p(PRUNE_ADAPTIVE_SQL),
      all: p('SELECT * FROM adaptive_rates ORDER BY type, concurrency_key'),
      ofTypes: p('SELECT * FROM adaptive_rates WHERE type IN (SELECT value FROM json_each(?)) ORDER BY type, concurrency_key'),
    };
  }

  /** Must run inside a write transaction (the claims' serialisation). */
  throttleInTx(type: TaskType, key: string | null, at: Date): ThrottledRate | null {
    const scope = throttleScope(type, key);
    if (scope === null) return null;
    const k = scope.key ?? TYPE_KEY;
    const r = this.s.get.get(type.name, k) as { count: number; since: number; decreased_at: number } | undefined;
    const next = throttled(scope.limit, r === undefined ? null : { count: r.count, since: r.since, decreasedAt: r.decreased_at }, at.getTime());
    if (next === null) return null;
    this.s.prune.run(type.name, adaptiveStaleBefore(type, at.getTime()));
    this.s.save.run(type.name, k, next.count, next.since, next.decreasedAt);
    return { type: type.name, key: scope.key, count: effectiveCount(scope.limit, next, at.getTime()), perMs: scope.limit.perMs };
  }

  read(types?: readonly string[]): AdaptiveRateRow[] {
    const rows = (types === undefined ? this.s.all.all() : this.s.ofTypes.all(JSON.stringify(types))) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      type: r.type as string,
      key: r.concurrency_key === TYPE_KEY ? null : (r.concurrency_key as string),
      state: { count: r.count as number, since: r.since as number, decreasedAt: r.decreased_at as number },
    }));
  }
}
