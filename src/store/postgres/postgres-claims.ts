import { heldLeasePg } from '../sql-lists.js';
import type pg from 'pg';
import { chooseClaims, earliestRetry, limitedClaimAt, limitedClaimCap, type ClaimCandidate } from '../../core/limits.js';
import type { TaskType } from '../../core/model.js';
import { claimedFromRow, type Row } from '../rows.js';
import { CLAIM_TASK_COLUMNS } from './postgres-queries.js';
import type { ClaimOutcome, ClaimRequest } from '../store.js';
import { LIMITED_TYPE_QUERIES, pickLimitedType, recordLimitedType, type LimitedTypePick } from './postgres-limited-claims.js';

/** First key of the transaction-scoped advisory locks that serialise the claims of one limited type. */
export const CLAIM_LOCK_CLASS = 0x6f727279; // 'orry'

/** Queries of the limited claim path, exported with the hot queries so a test can EXPLAIN them. */
export const LIMIT_QUERIES = {
  ...LIMITED_TYPE_QUERIES,
  lockType: 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))',
  paused: 'SELECT name FROM task_types WHERE name = ANY($1::text[]) AND paused_at IS NOT NULL',
  pickUnlimited: `SELECT p.id, p.type, p.priority_rank, p.scheduled FROM unnest($1::text[]) AS ty(name) CROSS JOIN LATERAL (
       SELECT id, type, priority_rank, scheduled FROM task_runs WHERE status = 'scheduled' AND type = ty.name
       ORDER BY priority_rank, scheduled, id LIMIT $2 FOR UPDATE SKIP LOCKED) p
     ORDER BY p.priority_rank, p.scheduled, p.id LIMIT $2`,
  // Runs the claimer starts at once are marked started (runs of limited types always are, so their start
  // instants are the instants the limits counted); the others are claimed ahead.
  claimIds: `UPDATE task_runs r SET status = CASE WHEN x.start THEN 'started' ELSE 'claimed' END, worker = $1,
       started = CASE WHEN x.start THEN x.at ELSE r.started END,
       lease_expires_at = ${heldLeasePg("x.at + y.lease_ms * interval '1 millisecond'")}
     FROM unnest($2::bigint[], $3::timestamptz[], $4::boolean[]) AS x(id, at, start), task_types y, tasks t
     WHERE r.id = x.id AND r.status = 'scheduled' AND y.name = r.type AND t.id = r.task
     RETURNING r.*, ${CLAIM_TASK_COLUMNS('t')}, y.backend_name AS y_backend_name, y.lease_ms AS y_lease_ms, y.timeout_ms AS y_timeout_ms`,
} as const;

/**
 * The claim when some requested type has limits, in the caller's transaction. Each limited type is
 * claimed under a transaction-scoped advisory lock of its own (in name order), so the running runs
 * and recent starts it counts cannot change before it commits (postgres-limited-claims.ts); types
 * without limits are picked with `FOR UPDATE SKIP LOCKED` as on the fast path. What to take is
 * decided in core/limits.ts and core/fair-share.ts.
 */
export async function claimWithLimits(c: pg.PoolClient, req: ClaimRequest, allUnlimited: readonly string[], allLimited: readonly TaskType[]): Promise<ClaimOutcome> {
  const q = async (sql: string, params: unknown[]) => (await c.query<Row>(sql, params)).rows;
  // Paused types are neither scheduled nor claimed (the fast path's statement skips them itself).
  const paused = new Set((await q(LIMIT_QUERIES.paused, [[...allUnlimited, ...allLimited.map((t) => t.name)]])).map((r) => r.name as string));
  const unlimited = allUnlimited.filter((n) => !paused.has(n));
  const limited = allLimited.filter((t) => !paused.has(t.name));
  const picks: ClaimCandidate[] = [];
  if (unlimited.length > 0) {
    for (const r of await q(LIMIT_QUERIES.pickUnlimited, [unlimited, req.limit])) picks.push(toCandidate(r));
  }
  const info = new Map<string, LimitedTypePick>();
  const cap = limitedClaimCap(req.limit, req.startNow);
  let takenLimited = 0;
  for (const type of [...limited].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const capLeft = cap - takenLimited;
    if (capLeft <= 0) break;
    await c.query(LIMIT_QUERIES.lockType, [CLAIM_LOCK_CLASS, type.name]);
    const picked = await pickLimitedType(c, type, limitedClaimAt(req.at.getTime(), req.now), capLeft);
    picks.push(...picked.picks);
    takenLimited += picked.picks.length;
    info.set(type.name, picked);
  }
  // The limited runs start at the clock read once every count was made: a run's end committed between
  // the lock and a count (ends take no type lock) is counted as freed, and its recorded end may be
  // later than the instant read at the lock; read after the counts, the start is not before it.
  for (const l of info.values()) l.at = limitedClaimAt(l.at, req.now);
  const chosen = chooseClaims(picks, (t) => info.has(t), req.limit, req.startNow);
  const rows =
    chosen.length === 0
      ? []
      : await q(LIMIT_QUERIES.claimIds, [
          req.worker,
          chosen.map((x) => x.pick.id),
          chosen.map((x) => new Date(info.get(x.pick.type)?.at ?? req.at.getTime())),
          chosen.map((x) => x.start),
        ]);
  const runs = rows.map(claimedFromRow);

  let heldBack = false;
  let retryAt: number | null = null;
  for (const [name, l] of info) {
    const out = await recordLimitedType(c, l, runs.filter((r) => r.run.type === name).map((r) => r.task?.concurrencyKey ?? null));
    heldBack ||= out.heldBack;
    retryAt = earliestRetry(retryAt, out.retryAt);
  }
  return { runs, heldBack, retryAt: retryAt === null ? null : new Date(retryAt) };
}

function toCandidate(r: Row): ClaimCandidate {
  return { id: Number(r.id), type: r.type as string, rank: Number(r.priority_rank), scheduled: (r.scheduled as Date).getTime() };
}
