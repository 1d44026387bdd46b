import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { NotFoundError, StaleDataError, ValidationError } from '../../core/errors.js';
import type { NewTask } from '../../core/validation.js';
import {
  applyVisit,
  cooldownThresholds,
  dedupeListed,
  type ListedOrigin,
  type ListedOriginInput,
  type Lister,
  type OriginVisitStats,
  type VisitPolicy,
  type VisitResult,
  trimToRoom,
} from '../../core/visits.js';
import type { Task } from '../../core/model.js';
import { runFromRow, type Row } from '../rows.js';
import type { StoreChange } from '../store.js';
import { METRICS_HISTORY_KEEP, type MetricsHistoryFilter, type OriginVisit, type OriginVisitsFilter, type VisitMetricsSeries } from '../visit-history.js';
import { SqliteVisitHistory } from './sqlite-visit-history.js';
import {
  distinctUpTo,
  listedOriginFromRow,
  listerFromRow,
  metricsFromRow,
  pageAfter,
  statsFromRow,
  visitOfRun,
  type CollectedVisit,
  type GrabRequest,
  type ListedOriginFilter,
  type ListedOriginPage,
  type ListerUpdate,
  type OriginKey,
  type PolicySql,
  type RecordedVisit,
  type ScheduleVisitsRequest,
  type ScheduledVisits,
  type VisitMetrics,
  type VisitStore,
} from '../visit-store.js';
import { COLLECTABLE_VISIT_SQL } from '../sql-lists.js';
import { compareCodePoints } from '../../core/text-order.js';

const CHUNK = 5000;

/** What the visit store borrows from SqliteStore: its connection, its write transaction, task inserts and wake-ups. */
export interface SqliteVisitDeps {
  db: Database.Database;
  write: <T>(fn: () => T) => Promise<T>;
  /** Inserts tasks inside the caller's write transaction; an equal active task is returned instead. */
  insertTasks: (tasks: readonly NewTask[], at: Date) => Array<{ task: Task }>;
  wake: (change: StoreChange) => void;
}
const ms = (d: Date | null | undefined) => (d ? d.getTime() : null);

/**
 * Grab policies on SQLite: each reads its own partial index (pinned with INDEXED BY: without ANALYZE the
 * planner may prefer the url index), in the index's order. The `where` terms repeat the index's WHERE
 * terms verbatim so SQLite can prove the partial index applies.
 */
const POLICIES: Record<VisitPolicy, PolicySql & { index: string }> = {
  oldest_scheduled_first: { index: 'listed_origins_oldest_scheduled', where: '1 = 1', order: 'last_scheduled, id' },
  stop_after_success: {
    index: 'listed_origins_stop_after_success',
    where: "(last_visit_status IS NULL OR last_visit_status <> 'successful')",
    order: 'last_update IS NULL, last_update, first_seen, id',
  },
  never_visited_oldest_update_first: { index: 'listed_origins_never_visited', where: 'last_successful IS NULL AND last_update IS NOT NULL', order: 'last_update, id' },
  already_visited_order_by_lag: {
    index: 'listed_origins_lag',
    where: 'last_successful IS NOT NULL AND last_update > last_successful',
    order: 'last_update - last_successful DESC, id',
  },
  origins_without_last_update: { index: 'listed_origins_without_update', where: 'last_update IS NULL', order: 'next_visit_queue_position, first_seen, id' },
  first_visits_after_listing: {
    index: 'listed_origins_lister_scheduled',
    where: 'lister_id = @lister AND (last_scheduled IS NULL OR last_scheduled < @listed)',
    order: 'last_scheduled, id',
  },
};

/** The cooldown filters of SPEC §4, shared by every policy. */
const COOLDOWNS = `visit_type = @vt AND enabled = 1
  AND (last_scheduled IS NULL OR (last_scheduled < @abs AND (last_scheduled < @sched OR last_scheduled < last_visit)))
  AND (last_visit_status IS NULL OR last_visit_status <> 'failed' OR last_visit < @failed)
  AND (last_visit_status IS NULL OR last_visit_status <> 'not_found' OR last_visit < @nf)`;

/** The grab query of a policy (named parameters: vt, abs, sched, failed, nf, lister, listed, n); exported for EXPLAIN. */
export function sqliteGrabSql(policy: VisitPolicy, byLister: boolean): string {
  const p = POLICIES[policy];
  const lister = byLister && policy !== 'first_visits_after_listing' ? ' AND lister_id = @lister' : '';
  return `SELECT * FROM listed_origins INDEXED BY ${p.index} WHERE ${COOLDOWNS}${lister} AND ${p.where} ORDER BY ${p.order} LIMIT @n`;
}

/** Visit scheduling on the embedded store; every write runs inside the store's BEGIN IMMEDIATE transaction. */
export class SqliteVisitStore implements VisitStore {
  private readonly s: ReturnType<typeof prepare>;
  private readonly grabStmts = new Map<string, Database.Statement>();
  private readonly history: SqliteVisitHistory;

  private readonly db: Database.Database;
  private readonly write: <T>(fn: () => T) => Promise<T>;

  constructor(private readonly deps: SqliteVisitDeps) {
    this.db = deps.db;
    this.write = deps.write;
    this.s = prepare(deps.db);
    this.history = new SqliteVisitHistory(deps.db);
  }

  async getOrCreateLister(name: string, instanceName: string, at: Date): Promise<Lister> {
    return this.write(() => {
      this.s.insertLister.run({ id: randomUUID(), name, instance: instanceName, at: at.getTime() });
      return listerFromRow(this.s.listerByName.get(name, instanceName) as Row);
    });
  }

  async getListers(ids: readonly string[]): Promise<Lister[]> {
    return (this.s.listersById.all(JSON.stringify(ids)) as Row[]).map(listerFromRow);
  }

  async getLister(name: string, instanceName: string): Promise<Lister | null> {
    const row = this.s.listerByName.get(name, instanceName) as Row | undefined;
    return row ? listerFromRow(row) : null;
  }

  async listListers(): Promise<Lister[]> {
    return (this.s.allListers.all() as Row[]).map(listerFromRow);
  }

  async updateLister(u: ListerUpdate, at: Date): Promise<Lister> {
    return this.write(() => {
      const row = this.s.updateLister.get({
        id: u.id,
        expected: u.updated.getTime(),
        state: u.currentState === undefined ? null : JSON.stringify(u.currentState),
        at: at.getTime(),
        set_finished: u.lastListingFinishedAt === undefined ? 0 : 1,
        finished: ms(u.lastListingFinishedAt),
      }) as Row | undefined;
      if (row) return listerFromRow(row);
      const current = this.s.listerById.get(u.id) as Row | undefined;
      if (!current) throw new NotFoundError(`lister ${u.id} not found`, [{ path: 'id', message: 'no such lister' }]);
      throw new StaleDataError(`lister ${u.id} was updated at ${new Date(Number(current.updated)).toISOString()}, not ${u.updated.toISOString()}: read it again`, [
        { path: 'updated', message: 'stale' },
      ]);
    });
  }

  async recordListedOrigins(origins: readonly Required<ListedOriginInput>[], at: Date): Promise<ListedOrigin[]> {
    const unique = dedupeListed(origins);
    const rows = await this.write(() => {
      const out: Row[] = [];
      for (let i = 0; i < unique.length; i += CHUNK) {
        const chunk = unique.slice(i, i + CHUNK).map((o) => [o.listerId, o.url, o.visitType, JSON.stringify(o.extraLoaderArguments), ms(o.lastUpdate)]);
        try {
          out.push(...(this.s.upsertListed.all({ rows: JSON.stringify(chunk), at: at.getTime() }) as Row[]));
        } catch (e) {
          if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
            throw new ValidationError('origins: unknown lister id; nothing was recorded', [{ path: 'origins', message: 'unknown lister id' }]);
          }
          throw e;
        }
      }
      return out;
    });
    return rows.map(listedOriginFromRow);
  }

  async getListedOrigins(f: ListedOriginFilter): Promise<ListedOriginPage> {
    const after = pageAfter(f.pageToken);
    if (after < 0) throw new ValidationError('pageToken: not a page token from a previous page', [{ path: 'pageToken', message: 'invalid' }]);
    const where = ['id > ?'];
    const params: unknown[] = [after];
    if (f.listerId !== undefined) (where.push('lister_id = ?'), params.push(f.listerId));
    if (f.url !== undefined) (where.push('url = ?'), params.push(f.url));
    if (f.visitType !== undefined) (where.push('visit_type = ?'), params.push(f.visitType));
    if (f.enabled !== undefined) (where.push('enabled = ?'), params.push(f.enabled ? 1 : 0));
    params.push(f.limit + 1);
    const rows = this.db.prepare(`SELECT * FROM listed_origins WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`).all(...params) as Row[];
    const page = rows.slice(0, f.limit);
    return { origins: page.map(listedOriginFromRow), nextPageToken: rows.length > f.limit && page.length > 0 ? String(page[page.length - 1]!.id) : null };
  }

  async setOriginsEnabled(keys: readonly OriginKey[], enabled: boolean, listerId?: string): Promise<number> {
    return this.write(() => {
      let n = 0;
      for (const k of keys) n += this.s.setEnabled.run({ url: k.url, vt: k.visitType, enabled: enabled ? 1 : 0, lister: listerId ?? null }).changes;
      return n;
    });
  }

  async getVisitStats(keys: readonly OriginKey[]): Promise<OriginVisitStats[]> {
    return keys.flatMap((k) => {
      const row = this.s.statsOf.get(k.url, k.visitType) as Row | undefined;
      return row ? [statsFromRow(row)] : [];
    });
  }

  async recordVisits(visits: readonly VisitResult[], rng: () => number): Promise<RecordedVisit[]> {
    return this.write(() => visits.map((v) => this.recordInTx(v, rng)));
  }

  private recordInTx(v: VisitResult, rng: () => number): RecordedVisit {
    const prev = this.s.statsOf.get(v.url, v.visitType) as Row | undefined;
    const global = this.s.positionOf.get(v.visitType) as { position: number } | undefined;
    const out = applyVisit(prev ? statsFromRow(prev) : null, v, global?.position ?? null, rng);
    if (!out.applied) return { stats: out.stats, applied: false, eventful: false, disabled: false };
    const s = out.stats;
    const p = {
      url: s.url,
      vt: s.visitType,
      last_successful: ms(s.lastSuccessful),
      last_visit: ms(s.lastVisit),
      status: s.lastVisitStatus,
      last_scheduled: ms(s.lastScheduled),
      snapshot: s.lastSnapshot,
      position: s.nextVisitQueuePosition,
      offset: s.nextPositionOffset,
      successive: s.successiveVisits,
    };
    this.s.upsertStats.run(p);
    this.s.mirrorStats.run({ ...p, disable: out.disable ? 1 : 0 });
    this.history.appendVisit({ ...v, eventful: out.eventful });
    return { stats: s, applied: true, eventful: out.eventful, disabled: out.disable };
  }

  async grabNextVisits(req: GrabRequest): Promise<ListedOrigin[]> {
    if (req.dryRun) return this.db.transaction(() => this.selectDistinct(req, req.count, req.policy))().map(listedOriginFromRow);
    return this.write(() => this.grabInTx(req, req.count, req.policy));
  }

  private select(req: Omit<GrabRequest, 'policy' | 'count'>, count: number, policy: VisitPolicy): Row[] {
    const c = cooldownThresholds(req.at, req.cooldowns);
    let listed: number | null = null;
    if (policy === 'first_visits_after_listing') {
      const lister = this.s.listerById.get(req.listerId) as Row | undefined;
      if (!lister) throw new NotFoundError(`lister ${req.listerId} not found`, [{ path: 'lister', message: 'no such lister' }]);
      listed = lister.last_listing_finished_at === null ? null : Number(lister.last_listing_finished_at);
    }
    return this.grabStmt(policy, req.listerId !== undefined).all({
      vt: req.visitType,
      abs: c.absoluteBefore.getTime(),
      sched: c.scheduledBefore.getTime(),
      failed: c.failedBefore.getTime(),
      nf: c.notFoundBefore.getTime(),
      lister: req.listerId ?? null,
      listed,
      n: count,
    }) as Row[];
  }

  /**
   * Up to `count` distinct origins in the policy's order: one URL listed by several listers has a row
   * for each, so the selection widens (doubling) until it holds `count` distinct origins or the
   * policy runs out. A dry run and a grab select the same way, so they agree.
   */
  private selectDistinct(req: Omit<GrabRequest, 'policy' | 'count'>, count: number, policy: VisitPolicy): Row[] {
    for (let n = count; ; n *= 2) {
      const found = distinctUpTo(this.select(req, n, policy), n, count);
      if (found !== null) return found;
    }
  }

  /** Selects and marks the origins handed out. */
  private grabInTx(req: Omit<GrabRequest, 'policy' | 'count'>, count: number, policy: VisitPolicy): ListedOrigin[] {
    const at = req.at.getTime();
    const out = this.selectDistinct(req, count, policy);
    for (const r of out) {
      this.s.markStats.run(r.url, r.visit_type, at);
      this.s.markListed.run(at, r.url, r.visit_type);
    }
    if (policy === 'origins_without_last_update') {
      const positions = out.map((r) => r.next_visit_queue_position).filter((p): p is number => p !== null);
      // reduce, not Math.max(...): a large grab would overflow the stack
      if (positions.length) this.s.advancePosition.run(req.visitType, positions.reduce((a, b) => Math.max(a, b)));
    }
    return out.map(listedOriginFromRow);
  }

  private grabStmt(policy: VisitPolicy, byLister: boolean): Database.Statement {
    const key = `${policy}:${byLister}`;
    let stmt = this.grabStmts.get(key);
    if (!stmt) {
      stmt = this.db.prepare(sqliteGrabSql(policy, byLister));
      this.grabStmts.set(key, stmt);
    }
    return stmt;
  }

  async getQueuePosition(visitType: string): Promise<number | null> {
    const row = this.s.positionOf.get(visitType) as { position: number } | undefined;
    return row?.position ?? null;
  }

  async updateMetrics(listerId: string | null, at: Date, keepHistory = METRICS_HISTORY_KEEP): Promise<VisitMetrics[]> {
    const m = await this.write(() => {
      const m = (this.s.updateMetrics.all({ lister: listerId, at: at.getTime() }) as Row[]).map(metricsFromRow);
      this.history.appendMetrics(m, keepHistory);
      return m;
    });
    return m.sort(byListerAndType);
  }

  async getMetricsHistory(f: MetricsHistoryFilter): Promise<VisitMetricsSeries[]> {
    return this.history.getMetricsHistory(f);
  }

  async getOriginVisits(f: OriginVisitsFilter): Promise<OriginVisit[]> {
    return this.history.getOriginVisits(f);
  }

  async countMetrics(f: { listerId?: string; visitType?: string }, at: Date): Promise<VisitMetrics[]> {
    return (this.s.countMetrics.all({ lister: f.listerId ?? null, vt: f.visitType ?? null, at: at.getTime() }) as Row[]).map(metricsFromRow);
  }

  async getMetrics(f: { listerId?: string; visitType?: string } = {}): Promise<VisitMetrics[]> {
    return (this.s.metrics.all({ lister: f.listerId ?? null, vt: f.visitType ?? null }) as Row[]).map(metricsFromRow);
  }

  async countInFlight(visitType: string): Promise<number> {
    return Number((this.s.inFlightCount.get(visitType) as { n: number }).n);
  }

  async scheduleVisits(req: ScheduleVisitsRequest, makeTask: (origin: ListedOrigin) => NewTask): Promise<ScheduledVisits> {
    const now = req.at.getTime();
    const out = await this.write(() => {
      const origins: ListedOrigin[] = [];
      // The write transaction is the only one: the room counted here is exact.
      const policies = req.queueSize === undefined ? req.policies : trimToRoom(req.policies, req.queueSize - Number((this.s.inFlightCount.get(req.visitType) as { n: number }).n));
      // One by one, not push(...grabbed): a queue of 120,000+ origins would overflow the stack.
      for (const { policy, count } of policies) if (count > 0) for (const o of this.grabInTx(req, count, policy)) origins.push(o);
      const tasks = this.deps.insertTasks(origins.map(makeTask), req.at).map((c) => c.task);
      tasks.forEach((task, i) => this.s.insertInFlight.run(task.id, origins[i]!.url, origins[i]!.visitType, now));
      return { origins, tasks };
    });
    this.deps.wake({ kind: 'tasks-written', count: out.tasks.length });
    return out;
  }

  async collectFinishedVisits(limit: number, rng: () => number): Promise<CollectedVisit[]> {
    return this.write(() =>
      (this.s.finishedInFlight.all(limit) as Row[]).map((f) => {
        const runRow = this.s.lastRunOf.get(f.task_id) as Row | undefined;
        const run = runRow ? runFromRow(runRow) : null;
        const visit = visitOfRun(run, f.url as string, f.visit_type as string);
        const recorded = visit ? this.recordInTx(visit, rng) : null;
        this.s.deleteInFlight.run(f.task_id);
        return { taskId: Number(f.task_id), url: f.url as string, visitType: f.visit_type as string, run, recorded };
      }),
    );
  }
}

function byListerAndType(a: VisitMetrics, b: VisitMetrics): number {
  return compareCodePoints(a.listerId, b.listerId) || compareCodePoints(a.visitType, b.visitType);
}

/** The metrics of one (lister, visit type) group of listed_origins, in visit_metrics' column order (stored or counted on read). */
const METRIC_COUNTS = `count(*) AS origins_known, count(*) FILTER (WHERE enabled = 1) AS origins_enabled,
  count(*) FILTER (WHERE enabled = 1 AND last_successful IS NULL) AS origins_never_visited,
  count(*) FILTER (WHERE enabled = 1 AND last_update > last_successful) AS origins_with_pending_changes`;

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertLister: p(`INSERT INTO listers (id, name, instance_name, current_state, created, updated) VALUES (@id, @name, @instance, '{}', @at, @at)
      ON CONFLICT (name, instance_name) DO NOTHING`),
    listerByName: p('SELECT * FROM listers WHERE name = ? AND instance_name = ?'),
    listerById: p('SELECT * FROM listers WHERE id = ?'),
    listersById: p('SELECT * FROM listers WHERE id IN (SELECT value FROM json_each(?)) ORDER BY name, instance_name'),
    allListers: p('SELECT * FROM listers ORDER BY name, instance_name'),
    // `updated` always moves forward, also when two updates share an instant: a stale token never matches again.
    updateLister: p(`UPDATE listers SET current_state = coalesce(@state, current_state), updated = max(@at, updated + 1),
      last_listing_finished_at = CASE WHEN @set_finished = 1 THEN @finished ELSE last_listing_finished_at END
      WHERE id = @id AND updated = @expected RETURNING *`),
    // New rows copy the origin's visit stats (visited before being listed, or listed by another lister).
    upsertListed: p(`INSERT INTO listed_origins (lister_id, url, visit_type, extra_loader_arguments, last_update, first_seen, last_seen,
        last_scheduled, last_visit, last_visit_status, last_successful, next_visit_queue_position)
      SELECT j.value ->> '$[0]', j.value ->> '$[1]', j.value ->> '$[2]', j.value ->> '$[3]', j.value ->> '$[4]', @at, @at,
        s.last_scheduled, s.last_visit, s.last_visit_status, s.last_successful, s.next_visit_queue_position
      FROM json_each(@rows) j LEFT JOIN origin_visit_stats s ON s.url = j.value ->> '$[1]' AND s.visit_type = j.value ->> '$[2]'
      WHERE true
      ON CONFLICT (lister_id, url, visit_type) DO UPDATE SET extra_loader_arguments = excluded.extra_loader_arguments,
        last_update = excluded.last_update, last_seen = excluded.last_seen
      RETURNING *`),
    setEnabled: p(`UPDATE listed_origins SET enabled = @enabled WHERE url = @url AND visit_type = @vt AND enabled <> @enabled
      AND (@lister IS NULL OR lister_id = @lister)`),
    statsOf: p('SELECT * FROM origin_visit_stats WHERE url = ? AND visit_type = ?'),
    positionOf: p('SELECT position FROM visit_queue_positions WHERE visit_type = ?'),
    advancePosition: p(`INSERT INTO visit_queue_positions (visit_type, position) VALUES (?, ?)
      ON CONFLICT (visit_type) DO UPDATE SET position = max(position, excluded.position)`),
    upsertStats: p(`INSERT INTO origin_visit_stats (url, visit_type, last_successful, last_visit, last_visit_status, last_scheduled, last_snapshot,
        next_visit_queue_position, next_position_offset, successive_visits)
      VALUES (@url, @vt, @last_successful, @last_visit, @status, @last_scheduled, @snapshot, @position, @offset, @successive)
      ON CONFLICT (url, visit_type) DO UPDATE SET last_successful = excluded.last_successful, last_visit = excluded.last_visit,
        last_visit_status = excluded.last_visit_status, last_snapshot = excluded.last_snapshot,
        next_visit_queue_position = excluded.next_visit_queue_position, next_position_offset = excluded.next_position_offset,
        successive_visits = excluded.successive_visits`),
    mirrorStats: p(`UPDATE listed_origins SET last_visit = @last_visit, last_visit_status = @status, last_successful = @last_successful,
        next_visit_queue_position = @position, enabled = CASE WHEN @disable = 1 THEN 0 ELSE enabled END
      WHERE url = @url AND visit_type = @vt`),
    markStats: p(`INSERT INTO origin_visit_stats (url, visit_type, last_scheduled) VALUES (?, ?, ?)
      ON CONFLICT (url, visit_type) DO UPDATE SET last_scheduled = excluded.last_scheduled`),
    markListed: p('UPDATE listed_origins SET last_scheduled = ? WHERE url = ? AND visit_type = ?'),
    updateMetrics: p(`INSERT INTO visit_metrics (lister_id, visit_type, updated, origins_known, origins_enabled, origins_never_visited,
        origins_with_pending_changes)
      SELECT lister_id, visit_type, @at, ${METRIC_COUNTS}
      FROM listed_origins WHERE @lister IS NULL OR lister_id = @lister GROUP BY lister_id, visit_type
      ON CONFLICT (lister_id, visit_type) DO UPDATE SET updated = excluded.updated, origins_known = excluded.origins_known,
        origins_enabled = excluded.origins_enabled, origins_never_visited = excluded.origins_never_visited,
        origins_with_pending_changes = excluded.origins_with_pending_changes
      RETURNING *`),
    countMetrics: p(`SELECT lister_id, visit_type, @at AS updated, ${METRIC_COUNTS}
      FROM listed_origins WHERE (@lister IS NULL OR lister_id = @lister) AND (@vt IS NULL OR visit_type = @vt)
      GROUP BY lister_id, visit_type ORDER BY lister_id, visit_type`),
    metrics: p(`SELECT * FROM visit_metrics WHERE (@lister IS NULL OR lister_id = @lister) AND (@vt IS NULL OR visit_type = @vt)
      ORDER BY lister_id, visit_type`),
    inFlightCount: p('SELECT count(*) AS n FROM visits_in_flight WHERE visit_type = ?'),
    insertInFlight: p('INSERT INTO visits_in_flight (task_id, url, visit_type, scheduled) VALUES (?, ?, ?, ?) ON CONFLICT (task_id) DO NOTHING'),
    finishedInFlight: p(`SELECT v.task_id, v.url, v.visit_type FROM visits_in_flight v LEFT JOIN tasks t ON t.id = v.task_id
      WHERE ${COLLECTABLE_VISIT_SQL} ORDER BY v.task_id LIMIT ?`),
    lastRunOf: p('SELECT * FROM task_runs WHERE task = ? ORDER BY id DESC LIMIT 1'),
    deleteInFlight: p('DELETE FROM visits_in_flight WHERE task_id = ?'),
  };
}
