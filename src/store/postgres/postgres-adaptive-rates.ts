import type pg from 'pg';
import { adaptiveStaleBefore, effectiveCount, throttleScope, throttled } from '../../core/adaptive-rate.js';
import type { TaskType } from '../../core/model.js';
import type { AdaptiveRateRow, ThrottledRate } from '../store.js';
import type { Row } from '../rows.js';
import { CLAIM_LOCK_CLASS, LIMIT_QUERIES } from './postgres-claims.js';
import { adaptiveStates } from './postgres-limited-claims.js';

/** The type's own rate is stored under this key (concurrency keys are never empty). */
const TYPE_KEY = '';

/**
 * A throttle signal (docs/limits.md#adaptive-limits), in the caller's transaction under the type's
 * claim lock, so it is ordered with the claims that read the rate: core/adaptive-rate.ts decides, this
 * reads and writes the type's or key's row of `adaptive_rates`.
 */
export async function throttleInTx(c: pg.PoolClient, type: TaskType, key: string | null, at: Date): Promise<ThrottledRate | null> {
  const scope = throttleScope(type, key);
  if (scope === null) return null;
  const k = scope.key ?? TYPE_KEY;
  await c.query(LIMIT_QUERIES.lockType, [CLAIM_LOCK_CLASS, type.name]);
  const next = throttled(scope.limit, (await adaptiveStates(c, type.name, [k]))[k] ?? null, at.getTime());
  if (next === null) return null;
  await c.query('DELETE FROM adaptive_rates WHERE type = $1 AND since < $2', [type.name, new Date(adaptiveStaleBefore(type, at.getTime()))]);
  await c.query(
    `INSERT INTO adaptive_rates (type, concurrency_key, count, since, decreased_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (type, concurrency_key) DO UPDATE SET count = excluded.count, since = excluded.since, decreased_at = excluded.decreased_at`,
    [type.name, k, next.count, new Date(next.since), new Date(next.decreasedAt)],
  );
  return { type: type.name, key: scope.key, count: effectiveCount(scope.limit, next, at.getTime()), perMs: scope.limit.perMs };
}

/** The stored adaptive states of the types named (every type without names). */
export async function readAdaptiveRates(c: pg.Pool, types?: readonly string[]): Promise<AdaptiveRateRow[]> {
  const { rows } = await c.query<Row>(
    types === undefined ? 'SELECT * FROM adaptive_rates ORDER BY type COLLATE "C", concurrency_key COLLATE "C"' : 'SELECT * FROM adaptive_rates WHERE type = ANY($1::text[]) ORDER BY type COLLATE "C", concurrency_key COLLATE "C"',
    types === undefined ? [] : [types],
  );
  return rows.map((r) => ({
    type: r.type as string,
    key: r.concurrency_key === TYPE_KEY ? null : (r.concurrency_key as string),
    state: { count: Number(r.count), since: (r.since as Date).getTime(), decreasedAt: (r.decreased_at as Date).getTime() },
  }));
}
