import type Database from 'better-sqlite3';
import { rateWindowStart } from '../../core/limits.js';
import type { TypeLoadFacts } from '../../core/why.js';
import type { TypeLoadRequest } from '../store.js';

/** The load of a type's limits and workers (`orrery task why`), read from the indexes the claims use. */
export class SqliteTypeLoad {
  private readonly s;

  constructor(db: Database.Database) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      queued: p(`SELECT count(*) AS n FROM task_runs INDEXED BY task_runs_claimable WHERE type = ? AND status = 'scheduled'`),
      running: p(`SELECT count(*) AS n, count(*) FILTER (WHERE concurrency_key = @key) AS k FROM task_runs INDEXED BY task_runs_running
        WHERE type = @type AND status IN ('claimed', 'started')`),
      // The runs holding the type's maxRunning slots, whatever their concurrency key (the limit is type-wide).
      holders: p(`SELECT backend_id, worker, task, status FROM task_runs INDEXED BY task_runs_running
        WHERE type = @type AND status IN ('claimed', 'started') ORDER BY id DESC LIMIT 10`),
      starts: p('SELECT count(*) AS n FROM rate_limit_starts WHERE type = ? AND started > ?'),
      nthStart: p('SELECT started FROM rate_limit_starts WHERE type = ? AND started > ? ORDER BY started LIMIT 1 OFFSET ?'),
      keyStarts: p('SELECT count(*) AS n FROM rate_limit_key_starts WHERE type = ? AND concurrency_key = ? AND started > ?'),
      nthKeyStart: p('SELECT started FROM rate_limit_key_starts WHERE type = ? AND concurrency_key = ? AND started > ? ORDER BY started LIMIT 1 OFFSET ?'),
      ahead: p(`SELECT count(*) AS n FROM task_runs INDEXED BY task_runs_claimable, (SELECT priority_rank AS r, scheduled AS s FROM task_runs WHERE id = @id) me
        WHERE type = @type AND status = 'scheduled' AND (priority_rank < me.r OR (priority_rank = me.r AND (scheduled < me.s OR (scheduled = me.s AND id < @id))))`),
      // Signs of life: a lease renewed (its expiry minus the type's lease) or a run ended by its worker
      // (not by the reaper: a lost run's worker is gone) within the window.
      workers: p(`SELECT worker, max(t) AS t FROM (
          SELECT worker, min(lease_expires_at - @lease, @at) AS t FROM task_runs INDEXED BY task_runs_running WHERE type = @type AND status IN ('claimed', 'started')
          UNION ALL
          SELECT worker, ended AS t FROM task_runs INDEXED BY task_runs_finished WHERE ended IS NOT NULL AND ended > @since AND ended <= @at AND type = @type AND status <> 'lost')
        WHERE worker IS NOT NULL AND t > @since GROUP BY worker ORDER BY t DESC LIMIT 20`),
      lease: p('SELECT lease_ms AS l FROM task_types WHERE name = ?'),
    };
  }

  read(req: TypeLoadRequest): TypeLoadFacts {
    const at = req.at.getTime();
    const { n: queued } = this.s.queued.get(req.type) as { n: number };
    const held = this.s.running.get({ type: req.type, key: req.key }) as { n: number; k: number };
    const holders = (this.s.holders.all({ type: req.type }) as Array<{ backend_id: string; worker: string | null; task: number; status: string }>).map((h) => ({
      backendId: h.backend_id,
      worker: h.worker,
      task: h.task,
      status: h.status,
    }));
    let startsInWindow = 0;
    let nextRateSlot: Date | null = null;
    if (req.rate !== null) {
      const since = rateWindowStart(at, req.rate);
      startsInWindow = (this.s.starts.get(req.type, since) as { n: number }).n;
      if (startsInWindow >= req.rate.count) {
        const nth = this.s.nthStart.get(req.type, since, startsInWindow - req.rate.count) as { started: number } | undefined;
        if (nth) nextRateSlot = new Date(nth.started + req.rate.perMs);
      }
    }
    let keyStartsInWindow = 0;
    let nextKeyRateSlot: Date | null = null;
    if (req.keyRate && req.key !== null) {
      const since = rateWindowStart(at, req.keyRate);
      keyStartsInWindow = (this.s.keyStarts.get(req.type, req.key, since) as { n: number }).n;
      if (keyStartsInWindow >= req.keyRate.count) {
        const nth = this.s.nthKeyStart.get(req.type, req.key, since, keyStartsInWindow - req.keyRate.count) as { started: number } | undefined;
        if (nth) nextKeyRateSlot = new Date(nth.started + req.keyRate.perMs);
      }
    }
    const aheadInQueue = req.runId === null ? null : (this.s.ahead.get({ id: req.runId, type: req.type }) as { n: number }).n;
    const lease = (this.s.lease.get(req.type) as { l: number } | undefined)?.l ?? 0;
    const workersSeen = (this.s.workers.all({ type: req.type, lease, since: at - req.workerWindowMs, at }) as Array<{ worker: string; t: number }>).map((w) => ({
      worker: w.worker,
      lastSeen: new Date(w.t),
    }));
    return { queued, running: held.n, runningForKey: req.key === null ? 0 : held.k, holders, startsInWindow, nextRateSlot, keyStartsInWindow, nextKeyRateSlot, aheadInQueue, workersSeen };
  }
}
