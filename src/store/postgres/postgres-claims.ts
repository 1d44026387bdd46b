import type pg from 'pg';
import { claimAllowance, pickWithinKeyLimits, rateWindowStart } from '../../core/limits.js';
import type { TaskType } from '../../core/model.js';
import { claimedFromRow, type Row } from '../rows.js';
import { CLAIM_TASK_COLUMNS } from './postgres-queries.js';
import type { ClaimOutcome, ClaimRequest } from '../store.js';

/** Most waiting runs a claim reads for one type with a per-key limit, looking past runs of full keys. */
export const KEY_SCAN_CAP = 10_000;

/** First key of the transaction-scoped advisory locks that serialise the claims of one limited type. */
const CLAIM_LOCK_CLASS = 0x6f727279; // 'orry'

/** Queries of the limited claim path, exported with the hot queries so a test can EXPLAIN them. */
export const LIMIT_QUERIES = {
  lockType: 'SELECT pg_advisory_xact_lock($1::int, hashtext($2))',
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

interface Pick {
  id: number;
  type: string;
  rank: number;
  scheduled: number;
}

/**
 * The claim when some requested type has limits, in the caller's transaction. Each limited type is
 * claimed under a transaction-scoped advisory lock of its own (in name order), so the running runs
 * and recent starts it counts cannot change before it commits; types without limits are picked with
 * `FOR UPDATE SKIP LOCKED` as on the fast path. The picks of all types are merged in claim order.
 */
export async function claimWithLimits(c: pg.PoolClient, req: ClaimRequest, unlimited: readonly string[], limited: readonly TaskType[]): Promise<ClaimOutcome> {
  const q = async (sql: string, params: unknown[]) => (await c.query<Row>(sql, params)).rows;
  const picks: Pick[] = [];
  if (unlimited.length > 0) {
    for (const r of await q(LIMIT_QUERIES.pickUnlimited, [unlimited, req.limit])) picks.push(toPick(r));
  }
  const info = new Map<string, { type: TaskType; inWindow: number; heldBack: boolean; at: Date }>();
  const limitedNames = new Set(limited.map((t) => t.name));
  for (const type of [...limited].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    await c.query(LIMIT_QUERIES.lockType, [CLAIM_LOCK_CLASS, type.name]);
    const running = type.maxRunning !== null ? ((await q(LIMIT_QUERIES.runningOfType, [type.name]))[0]!.n as number) : 0;
    let inWindow = 0;
    // Starts of a rate-limited type are recorded in commit order with instants that never go back:
    // a claimer whose instant was read before it got the lock claims at the newest start.
    let at = req.at;
    if (type.rateLimit !== null) {
      const newest = (await q(LIMIT_QUERIES.newestStart, [type.name]))[0]!.t as Date | null;
      if (newest !== null && newest.getTime() > at.getTime()) at = newest;
      const start = new Date(rateWindowStart(at.getTime(), type.rateLimit));
      await c.query(LIMIT_QUERIES.pruneStarts, [type.name, start]);
      inWindow = (await q(LIMIT_QUERIES.startsInWindow, [type.name, start]))[0]!.n as number;
    }
    // Held runs count against the limits, so a worker takes runs of limited types only for its free slots.
    // Runs of limited types come only within startNow, all limited types together.
    const cap = Math.max(0, Math.min(req.startNow ?? req.limit, req.limit) - picks.filter((p) => limitedNames.has(p.type)).length);
    const allowance = Math.min(cap, claimAllowance(type, running, inWindow));
    let heldBack: boolean;
    if (type.maxRunningPerKey !== null) {
      const runningByKey = new Map((await q(LIMIT_QUERIES.runningByKey, [type.name])).map((r) => [r.k as string, r.n as number]));
      const rows = await q(LIMIT_QUERIES.pick, [type.name, KEY_SCAN_CAP]);
      const byId = new Map(rows.map((r) => [Number(r.id), r]));
      const picked = pickWithinKeyLimits(rows.map((r) => ({ id: Number(r.id), key: (r.concurrency_key ?? null) as string | null })), allowance, type.maxRunningPerKey, runningByKey);
      picks.push(...picked.ids.map((id) => toPick(byId.get(id)!)));
      heldBack = picked.keyFull || (picked.more && allowance < cap);
    } else {
      const rows = await q(LIMIT_QUERIES.pick, [type.name, allowance + 1]);
      heldBack = rows.length > allowance && allowance < cap;
      picks.push(...rows.slice(0, allowance).map(toPick));
    }
    info.set(type.name, { type, inWindow, heldBack, at });
  }
  picks.sort((a, b) => a.rank - b.rank || a.scheduled - b.scheduled || a.id - b.id);
  const chosen = picks.slice(0, req.limit);
  // Runs of limited types always start at once; the others fill what is left of startNow, in claim order.
  let startLeft = Math.max(0, Math.min(req.startNow ?? req.limit, req.limit) - chosen.filter((p) => info.has(p.type)).length);
  const start = chosen.map((p) => info.has(p.type) || (startLeft-- > 0));
  const rows =
    chosen.length === 0
      ? []
      : await q(LIMIT_QUERIES.claimIds, [req.worker, chosen.map((p) => p.id), chosen.map((p) => info.get(p.type)?.at ?? req.at), start]);
  const runs = rows.map(claimedFromRow);

  let heldBack = false;
  let retryAt: number | null = null;
  for (const [name, l] of info) {
    const n = runs.filter((r) => r.run.type === name).length;
    const rate = l.type.rateLimit;
    if (rate !== null && n > 0) await c.query(LIMIT_QUERIES.recordStarts, [name, l.at, n]);
    if (!l.heldBack) continue;
    heldBack = true;
    const k = l.inWindow + n;
    if (rate !== null && k >= rate.count) {
      const [nth] = await q(LIMIT_QUERIES.nthStart, [name, new Date(rateWindowStart(l.at.getTime(), rate)), k - rate.count]);
      const slot = (nth ? (nth.started as Date).getTime() : l.at.getTime()) + rate.perMs;
      retryAt = retryAt === null ? slot : Math.min(retryAt, slot);
    }
  }
  return { runs, heldBack, retryAt: retryAt === null ? null : new Date(retryAt) };
}

function toPick(r: Row): Pick {
  return { id: Number(r.id), type: r.type as string, rank: Number(r.priority_rank), scheduled: (r.scheduled as Date).getTime() };
}
