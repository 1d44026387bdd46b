import { earlier } from '../../core/instants.js';
import { rateWindowStart } from '../../core/limits.js';
import type pg from 'pg';
import type { TypeLoadFacts } from '../../core/why.js';
import type { TypeLoadRequest } from '../store.js';

/** Queries of `orrery task why`, exported so a test can EXPLAIN them at scale. */
export const TYPE_LOAD_QUERIES = {
  queued: `SELECT count(*)::int AS n FROM task_runs WHERE type = $1 AND status = 'scheduled'`,
  running: `SELECT count(*)::int AS n, (count(*) FILTER (WHERE concurrency_key = $2))::int AS k FROM task_runs
     WHERE type = $1 AND status IN ('claimed', 'started')`,
  // The runs holding the type's maxRunning slots, whatever their concurrency key (the limit is type-wide).
  holders: `SELECT backend_id, worker, task, status FROM task_runs WHERE type = $1 AND status IN ('claimed', 'started')
     ORDER BY id DESC LIMIT 10`,
  starts: 'SELECT count(*)::int AS n FROM rate_limit_starts WHERE type = $1 AND started > $2',
  nthStart: 'SELECT started FROM rate_limit_starts WHERE type = $1 AND started > $2 ORDER BY started OFFSET $3 LIMIT 1',
  keyStarts: 'SELECT count(*)::int AS n FROM rate_limit_key_starts WHERE type = $1 AND concurrency_key = $2 AND started > $3',
  nthKeyStart: 'SELECT started FROM rate_limit_key_starts WHERE type = $1 AND concurrency_key = $2 AND started > $3 ORDER BY started OFFSET $4 LIMIT 1',
  ahead: `SELECT count(*)::int AS n FROM task_runs r, (SELECT priority_rank, scheduled, id FROM task_runs WHERE id = $1) me
     WHERE r.type = $2 AND r.status = 'scheduled' AND (r.priority_rank, r.scheduled, r.id) < (me.priority_rank, me.scheduled, me.id)`,
  // Signs of life: a lease renewed (its expiry minus the type's lease) or a run ended by its worker (not
  // by the reaper: a lost run's worker is gone) within the window, and not after the instant asked about.
  workers: `SELECT worker, max(t) AS t FROM (
       SELECT r.worker, least(r.lease_expires_at - y.lease_ms * interval '1 millisecond', $3) AS t FROM task_runs r JOIN task_types y ON y.name = r.type
         WHERE r.type = $1 AND r.status IN ('claimed', 'started')
       UNION ALL
       SELECT worker, ended FROM task_runs WHERE ended IS NOT NULL AND ended > $2 AND ended <= $3 AND type = $1 AND status <> 'lost') s
     WHERE worker IS NOT NULL AND t > $2 GROUP BY worker ORDER BY max(t) DESC LIMIT 20`,
} as const;

export async function readTypeLoad(c: pg.Pool, req: TypeLoadRequest): Promise<TypeLoadFacts> {
  const one = async <T>(sql: string, params: unknown[]) => (await c.query(sql, params)).rows[0] as T;
  const since = earlier(req.at, req.workerWindowMs);
  const [queued, held, holders, workers, ahead] = await Promise.all([
    one<{ n: number }>(TYPE_LOAD_QUERIES.queued, [req.type]),
    one<{ n: number; k: number }>(TYPE_LOAD_QUERIES.running, [req.type, req.key]),
    c.query<{ backend_id: string; worker: string | null; task: string; status: string }>(TYPE_LOAD_QUERIES.holders, [req.type]),
    c.query<{ worker: string; t: Date }>(TYPE_LOAD_QUERIES.workers, [req.type, since, req.at]),
    req.runId === null ? null : one<{ n: number }>(TYPE_LOAD_QUERIES.ahead, [req.runId, req.type]),
  ]);
  let startsInWindow = 0;
  let nextRateSlot: Date | null = null;
  if (req.rate !== null) {
    const windowStart = new Date(rateWindowStart(req.at.getTime(), req.rate));
    startsInWindow = (await one<{ n: number }>(TYPE_LOAD_QUERIES.starts, [req.type, windowStart])).n;
    if (startsInWindow >= req.rate.count) {
      const nth = await one<{ started: Date } | undefined>(TYPE_LOAD_QUERIES.nthStart, [req.type, windowStart, startsInWindow - req.rate.count]);
      if (nth) nextRateSlot = new Date(nth.started.getTime() + req.rate.perMs);
    }
  }
  let keyStartsInWindow = 0;
  let nextKeyRateSlot: Date | null = null;
  if (req.keyRate && req.key !== null) {
    const windowStart = new Date(rateWindowStart(req.at.getTime(), req.keyRate));
    keyStartsInWindow = (await one<{ n: number }>(TYPE_LOAD_QUERIES.keyStarts, [req.type, req.key, windowStart])).n;
    if (keyStartsInWindow >= req.keyRate.count) {
      const nth = await one<{ started: Date } | undefined>(TYPE_LOAD_QUERIES.nthKeyStart, [req.type, req.key, windowStart, keyStartsInWindow - req.keyRate.count]);
      if (nth) nextKeyRateSlot = new Date(nth.started.getTime() + req.keyRate.perMs);
    }
  }
  return {
    keyStartsInWindow,
    nextKeyRateSlot,
    queued: queued.n,
    running: held.n,
    runningForKey: req.key === null ? 0 : held.k,
    holders: holders.rows.map((h) => ({ backendId: h.backend_id, worker: h.worker, task: Number(h.task), status: h.status })),
    startsInWindow,
    nextRateSlot,
    aheadInQueue: ahead === null ? null : ahead.n,
    workersSeen: workers.rows.map((w) => ({ worker: w.worker, lastSeen: w.t })),
  };
}
