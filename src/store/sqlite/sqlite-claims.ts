import type Database from 'better-sqlite3';
import { chooseClaims, claimsDueDirectly, earliestRetry, hasLimits, limitedClaimAt, limitedClaimCap, unlimitedStartBudget, type ClaimCandidate } from '../../core/limits.js';
import { SqliteLimitedClaims, type LimitedTypePick } from './sqlite-limited-claims.js';
import type { TaskType } from '../../core/model.js';
import { claimedFromDue, claimedFromRow, taskFromRow, type Row } from '../rows.js';
import type { ClaimOutcome, ClaimRequest, ClaimedRun } from '../store.js';
import { directClaimStale } from '../../core/claim-ahead.js';
import { timeOrderedUuid } from '../run-ids.js';
import { idAfterFloor } from './sqlite-id-floor.js';
import { heldLeaseSqlite } from '../sql-lists.js';
import { LATEST_INSTANT_MS } from '../../core/instants.js';


/**
 * Claims inside the store's write transaction (BEGIN IMMEDIATE: one claimer at a time, so counting
 * running runs and recent starts is exact). Types without limits take the fast path: one index range
 * per type in claim order. Limited types (sqlite-limited-claims.ts) first count their running runs and
 * their starts within the rate windows, then pick at most what the limits allow, in claim order or,
 * when their keys take turns, key by key.
 */
export class SqliteClaims {
  private readonly s: ReturnType<typeof prepareClaims>;
  private readonly limited: SqliteLimitedClaims;
  /** When this process last recorded a direct claim per type (task_types.last_direct_claim). */
  private readonly directClaims = new Map<string, number>();

  constructor(
    db: Database.Database,
    private readonly typeOf: (name: string) => TaskType | null,
    /** Due tasks of a type in runner order (the runner's own pick). */
    private readonly pickDue: (type: string, at: number, limit: number) => Row[],
  ) {
    this.s = prepareClaims(db);
    this.limited = new SqliteLimitedClaims(db);
  }

  /** Must run inside a write transaction. What to take is decided in core/limits.ts (and core/fair-share.ts). */
  claimInTx(req: ClaimRequest): ClaimOutcome {
    const at = req.at.getTime();
    const picks: ClaimCandidate[] = [];
    const limited = new Map<string, LimitedTypePick>();
    const cap = limitedClaimCap(req.limit, req.startNow);
    let takenLimited = 0;
    let limitedAt: number | null = null; // read in the write transaction, after any wait for the lock
    // Paused types are neither scheduled nor claimed: read in the claim's write transaction, so exact.
    const paused = new Set((this.s.pausedTypes.all() as Array<{ name: string }>).map((r) => r.name));
    const types = [...new Set(req.types)].filter((n) => !paused.has(n));
    for (const name of types) {
      const type = this.typeOf(name);
      if (type === null || !hasLimits(type)) {
        picks.push(...(this.s.pick.all(name, req.limit) as ClaimCandidate[]));
        continue;
      }
      const capLeft = cap - takenLimited;
      if (capLeft <= 0) continue;
      const picked = this.limited.pick(type, (limitedAt ??= limitedClaimAt(at, req.now)), capLeft);
      picks.push(...picked.picks);
      takenLimited += picked.picks.length;
      limited.set(name, picked);
    }
    const claimed = chooseClaims(picks, (t) => limited.has(t), req.limit, req.startNow).map(({ pick, start }) => {
      const r = this.s.claimOne.get({ id: pick.id, worker: req.worker, at: limited.get(pick.type)?.at ?? at, start: start ? 1 : 0 }) as Row;
      return claimedFromRow({ ...r, ...(this.s.claimContext.get(r.task, r.type) as Row) });
    });

    let heldBack = false;
    let retryAt: number | null = null;
    for (const [name, l] of limited) {
      const keys = claimed.filter((c) => c.run.type === name).map((c) => c.task?.concurrencyKey ?? null);
      const out = this.limited.record(l, keys);
      heldBack ||= out.heldBack;
      retryAt = earliestRetry(retryAt, out.retryAt);
    }
    const startedSoFar = claimed.filter((c) => c.run.status === 'started').length;
    const created = req.due && claimed.length < req.limit ? this.claimDueInTx(req, types, req.limit - claimed.length, unlimitedStartBudget(req.limit, req.startNow, startedSoFar)) : [];
    claimed.push(...created);
    return { runs: claimed, heldBack, retryAt: retryAt === null ? null : new Date(retryAt), ...(created.length > 0 ? { created: created.map((c) => c.run.id) } : {}) };
  }

  /**
   * Due tasks of the requested types without limits, claimed without waiting for the runner: each gets
   * its run created claimed (scheduled = the claim's instant) and is marked scheduled, as the runner and
   * a claim would have done one after the other.
   */
  private claimDueInTx(req: ClaimRequest, types: readonly string[], limit: number, startNow: number): ClaimedRun[] {
    const at = req.at.getTime();
    const due: Row[] = [];
    for (const name of types) {
      const type = this.typeOf(name);
      if (type !== null && claimsDueDirectly(type)) due.push(...this.pickDue(name, at, limit));
    }
    due.sort((a, b) => (a.priority_rank as number) - (b.priority_rank as number) || (a.next_run as number) - (b.next_run as number) || (a.id as number) - (b.id as number));
    // Built from the task rows just read and the cached types: no row is read back.
    const created = due.slice(0, limit).map((row, i): ClaimedRun => {
      const task = taskFromRow(row);
      const type = this.typeOf(task.type)!;
      const status = i < startNow ? 'started' : 'claimed';
      const backendId = timeOrderedUuid(at);
      // Positional parameters, in the statement's order (binding by name cost about 0.1 us per parameter).
      const started = status === 'started' ? at : null;
      const id = Number(
        this.s.insertClaimed.run(task.id, task.type, backendId, status, row.priority_rank, at, started, req.worker, Math.min(at + type.leaseMs, LATEST_INSTANT_MS), task.nextAttempt, task.concurrencyKey, task.scheduledFor.getTime())
          .lastInsertRowid,
      );
      this.s.markScheduled.run(id, task.id);
      return claimedFromDue(task, type, { id, backendId, status, worker: req.worker, at: req.at }, (row.trace_context ?? null) as string | null);
    });
    // The runner leaves types that workers claim directly to them (core/claim-ahead.ts runnerCutoff).
    for (const t of new Set(created.map((c) => c.run.type))) {
      if (!directClaimStale(this.directClaims.get(t), at)) continue;
      this.directClaims.set(t, at);
      this.s.markDirectClaim.run({ at, name: t });
    }
    return created;
  }

  /** An external start (`run start`) of a rate-limited type counts in its windows too. */
  recordExternalStart(type: TaskType, at: Date, key: string | null): void {
    this.limited.recordExternalStart(type, at, key);
  }
}

function prepareClaims(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    pick: p(`SELECT id, type, priority_rank AS rank, scheduled FROM task_runs INDEXED BY task_runs_claimable
      WHERE type = ? AND status = 'scheduled' ORDER BY priority_rank, scheduled, id LIMIT +?`),
    claimOne: p(`UPDATE task_runs SET status = CASE WHEN @start = 1 THEN 'started' ELSE 'claimed' END, worker = @worker,
      started = CASE WHEN @start = 1 THEN @at ELSE started END,
      lease_expires_at = ${heldLeaseSqlite('@at + (SELECT lease_ms FROM task_types WHERE name = task_runs.type)')}
      WHERE id = @id AND status = 'scheduled' RETURNING *`),
    insertClaimed: p(`INSERT INTO task_runs (id, task, type, backend_id, status, priority_rank, scheduled, started, worker, lease_expires_at, attempt, concurrency_key, scheduled_for)
      VALUES (${idAfterFloor('task_runs')}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    markScheduled: p(`UPDATE tasks SET status = 'next_run_scheduled', current_run = ? WHERE id = ?`),
    markDirectClaim: p(`UPDATE task_types SET last_direct_claim = @at WHERE name = @name AND (last_direct_claim IS NULL OR last_direct_claim < @at)`),
    // The task as the claim leaves it (claimedFromRow's t_ columns): ends plan from it without reading it.
    claimContext: p(`SELECT t.arguments AS t_arguments, t.policy AS t_policy, t.schedule AS t_schedule, t.next_run AS t_next_run,
      t.current_interval_ms AS t_current_interval_ms, t.retries_left AS t_retries_left, t.consecutive_abandons AS t_consecutive_abandons,
      t.priority AS t_priority, t.next_attempt AS t_next_attempt, t.task_key AS t_task_key, t.concurrency_key AS t_concurrency_key,
      t.created AS t_created, t.trace_context AS t_trace_context, t.scheduled_for AS t_scheduled_for, y.backend_name AS y_backend_name, y.lease_ms AS y_lease_ms, y.timeout_ms AS y_timeout_ms
      FROM tasks t, task_types y WHERE t.id = ? AND y.name = ?`),
    pausedTypes: p('SELECT name FROM task_types WHERE paused_at IS NOT NULL'),
  };
}
