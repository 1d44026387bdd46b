import type pg from 'pg';
import {
  chooseClaims,
  claimAllowance,
  limitedCandidateCount,
  limitedClaimCap,
  pickLimitedRuns,
  rateRetryOffset,
  rateRetrySlot,
  rateWindowStart,
  type ClaimCandidate,
} from '../../core/limits.js';
import type { TaskType } from '../../core/model.js';
import { claimedFromRow, type Row } from '../rows.js';
import { CLAIM_TASK_COLUMNS } from './postgres-queries.js';
import type { ClaimOutcome, ClaimRequest } from '../store.js';

/** First key of the transaction-scoped advisory locks that serialise the claims of one limited type. */
const CLAIM_LOCK_CLASS = 0x6f727279; // 'orry'

/** Queries of the limited claim path, exported with the hot queries so a test can EXPLAIN them. */
export const LIMIT_QUERIES = {
  lockType: 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))',
  paused: 'SELECT name FROM task_types WHERE name = ANY($1::text[]) AND paused_at IS NOT NULL',
  runningOfType: `SELECT count(*)::int AS n FROM task_runs WHERE type = $1 AND status IN ('claimed', 'started')`,
  runningByKey: `SELECT concurrency_key AS k, count(*)::int AS n FROM task_runs
     WHERE type = $1 AND status IN ('claimed', 'started') AND concurrency_key IS NOT NULL GROUP BY concurrency_key`,
  pruneStarts: 'DELETE FROM rate_limit_starts WHERE type = $1 AND started <= $2',
  startsInWindow: 'SELECT count(*)::int AS n FROM rate_limit_starts WHERE type = $1 AND started > $2',
  nthStart: 'SELECT started FROM rate_limit_starts WHERE type = $1 AND started > $2 ORDER BY started OFFSET $3 LIMIT 1',
  recordStarts: 'INSERT INTO rate_limit_starts (type, started) SELECT $1, $2 FROM generate_series(1, $3::int)',
  newestStart: 'SELECT max(started) AS t FROM rate_limit_starts WHERE type = $1',
  pick: `SELECT id, type, priority_rank, scheduled, concurrency_key FROM task_runs WHERE type = $1 AND status = 'scheduled'
     ORDER BY priority_rank, scheduled, id LIMIT $2`,
  // Per type, in claim order from task_runs_claimable (as HOT_QUERIES.claim): `type = ANY(...)` made the
  // planner read and sort every waiting run of the types.
  pickUnlimited: `SELECT p.id, p.type, p.priority_rank, p.scheduled FROM unnest($1::text[]) AS ty(name) CROSS JOIN LATERAL (
       SELECT id, type, priority_rank, scheduled FROM task_runs WHERE status = 'scheduled' AND type = ty.name
       ORDER BY priority_rank, scheduled, id LIMIT $2 FOR UPDATE SKIP LOCKED) p
     ORDER BY p.priority_rank, p.scheduled, p.id LIMIT $2`,
  // Runs the claimer starts at once are marked started (runs of limited types always are, so their start
  // instants are the instants the limits counted); the others are claimed ahead.
  claimIds: `UPDATE task_runs r SET status = CASE WHEN x.start THEN 'started' ELSE 'claimed' END, worker = $1,
       started = CASE WHEN x.start THEN x.at ELSE r.started END,
       lease_expires_at = x.at + y.lease_ms * interval '1 millisecond'
     FROM unnest($2::bigint[], $3::timestamptz[], $4::boolean[]) AS x(id, at, start), task_types y, tasks t
     WHERE r.id = x.id AND r.status = 'scheduled' AND y.name = r.type AND t.id = r.task
     RETURNING r.*, ${CLAIM_TASK_COLUMNS('t')}, y.backend_name AS y_backend_name, y.lease_ms AS y_lease_ms, y.timeout_ms AS y_timeout_ms`,
} as const;

/**
 * The claim when some requested type has limits, in the caller's transaction. Each limited type is
 * claimed under a transaction-scoped advisory lock of its own (in name order), so the running runs
 * and recent starts it counts cannot change before it commits; types without limits are picked with
 * `FOR UPDATE SKIP LOCKED` as on the fast path. What to take is decided in core/limits.ts.
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
  const info = new Map<string, { type: TaskType; inWindow: number; heldBack: boolean; at: number }>();
  const cap = limitedClaimCap(req.limit, req.startNow);
  let takenLimited = 0;
  for (const type of [...limited].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const capLeft = cap - takenLimited;
    if (capLeft <= 0) break;
    await c.query(LIMIT_QUERIES.lockType, [CLAIM_LOCK_CLASS, type.name]);
    const running = type.maxRunning !== null ? ((await q(LIMIT_QUERIES.runningOfType, [type.name]))[0]!.n as number) : 0;
    let inWindow = 0;
    // Starts of a rate-limited type are recorded in commit order with instants that never go back:
    // a claimer whose instant was read before it got the lock claims at the newest start.
    let at = req.at.getTime();
    if (type.rateLimit !== null) {
      const newest = (await q(LIMIT_QUERIES.newestStart, [type.name]))[0]!.t as Date | null;
      if (newest !== null) at = Math.max(at, newest.getTime());
      const start = new Date(rateWindowStart(at, type.rateLimit));
      await c.query(LIMIT_QUERIES.pruneStarts, [type.name, start]);
      inWindow = (await q(LIMIT_QUERIES.startsInWindow, [type.name, start]))[0]!.n as number;
    }
    const allowance = Math.min(capLeft, claimAllowance(type, running, inWindow));
    const runningByKey =
      type.maxRunningPerKey !== null ? new Map((await q(LIMIT_QUERIES.runningByKey, [type.name])).map((r) => [r.k as string, r.n as number])) : new Map<string, number>();
    const rows = await q(LIMIT_QUERIES.pick, [type.name, limitedCandidateCount(type, allowance)]);
    const byId = new Map(rows.map((r) => [Number(r.id), r]));
    const picked = pickLimitedRuns(type, rows.map((r) => ({ id: Number(r.id), key: (r.concurrency_key ?? null) as string | null })), allowance, capLeft, runningByKey);
    picks.push(...picked.ids.map((id) => toCandidate(byId.get(id)!)));
    takenLimited += picked.ids.length;
    info.set(type.name, { type, inWindow, heldBack: picked.heldBack, at });
  }
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
    const n = runs.filter((r) => r.run.type === name).length;
    const rate = l.type.rateLimit;
    if (rate !== null && n > 0) await c.query(LIMIT_QUERIES.recordStarts, [name, new Date(l.at), n]);
    if (!l.heldBack) continue;
    heldBack = true;
    const offset = rateRetryOffset(rate, l.inWindow, n);
    if (rate === null || offset === null) continue;
    const [nth] = await q(LIMIT_QUERIES.nthStart, [name, new Date(rateWindowStart(l.at, rate)), offset]);
    const slot = rateRetrySlot(rate, nth ? (nth.started as Date).getTime() : null, l.at);
    retryAt = retryAt === null ? slot : Math.min(retryAt, slot);
  }
  return { runs, heldBack, retryAt: retryAt === null ? null : new Date(retryAt) };
}

function toCandidate(r: Row): ClaimCandidate {
  return { id: Number(r.id), type: r.type as string, rank: Number(r.priority_rank), scheduled: (r.scheduled as Date).getTime() };
}
