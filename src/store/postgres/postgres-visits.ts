import type pg from 'pg';
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
import { runFromRow, type Row } from '../rows.js';
import type { StoreChange } from '../store.js';
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
import { insertTasks } from './postgres-tasks.js';
import { retryingConflicts } from './postgres-errors.js';
import { METRICS_HISTORY_KEEP, type MetricsHistoryFilter, type OriginVisit, type OriginVisitsFilter, type VisitMetricsSeries } from '../visit-history.js';
import { appendMetricsPoints, appendOriginVisits, getMetricsHistory, getOriginVisits } from './postgres-visit-history.js';
import { COLLECTABLE_VISIT_SQL } from '../sql-lists.js';
import { compareCodePoints } from '../../core/text-order.js';

const CHUNK = 5000;
/** Advisory lock class of a visit type ("visi"): grabs and listings of one visit type take turns, so none hands out an origin another just took. */
const GRAB_LOCK_CLASS = 0x76697369;

/**
 * Takes the visit types' lock (class "visi"), in one statement, in the order of the lock keys (two
 * names with one hash are one key) so two callers never deadlock on it: grabs and listings take it
 * `alone` (they take turns), recorded visits `shared`.
 */
async function lockVisitTypes(c: pg.PoolClient, visitTypes: readonly string[], mode: 'alone' | 'shared'): Promise<void> {
  const fn = mode === 'alone' ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared';
  await c.query(`SELECT ${fn}($1, k) FROM (SELECT DISTINCT hashtext(v) AS k FROM unnest($2::text[]) AS v ORDER BY k) AS keys`, [GRAB_LOCK_CLASS, [...new Set(visitTypes)]]);
}

/** Grab policies on PostgreSQL: each matches one partial index of listed_origins (migration 0003), in its order. */
export const GRAB_POLICIES: Record<VisitPolicy, PolicySql> = {
  oldest_scheduled_first: { where: 'true', order: 'last_scheduled NULLS FIRST, id' },
  stop_after_success: { where: "last_visit_status IS DISTINCT FROM 'successful'", order: 'last_update NULLS LAST, first_seen, id' },
  never_visited_oldest_update_first: { where: 'last_successful IS NULL AND last_update IS NOT NULL', order: 'last_update, id' },
  already_visited_order_by_lag: { where: 'last_successful IS NOT NULL AND last_update > last_successful', order: '(last_update - last_successful) DESC, id' },
  origins_without_last_update: { where: 'last_update IS NULL', order: 'next_visit_queue_position NULLS FIRST, first_seen, id' },
  first_visits_after_listing: { where: 'lister_id = $7 AND (last_scheduled IS NULL OR last_scheduled < $8)', order: 'last_scheduled NULLS FIRST, id' },
};

/** The grab query of a policy; $1 visit type, $2..$5 cooldown thresholds, $6 limit, $7 lister, $8 the lister's last listing. Exported for EXPLAIN tests. */
export function grabSql(policy: VisitPolicy, byLister: boolean): string {
  const p = GRAB_POLICIES[policy];
  const lister = byLister && policy !== 'first_visits_after_listing' ? ' AND lister_id = $7' : '';
  return `SELECT * FROM listed_origins
    WHERE visit_type = $1 AND enabled
      AND (last_scheduled IS NULL OR (last_scheduled < $2 AND (last_scheduled < $3 OR last_scheduled < last_visit)))
      AND (last_visit_status IS DISTINCT FROM 'failed' OR last_visit < $4)
      AND (last_visit_status IS DISTINCT FROM 'not_found' OR last_visit < $5)${lister} AND ${p.where}
    ORDER BY ${p.order} LIMIT $6`;
}

export interface PostgresVisitDeps {
  pool: pg.Pool;
  tx: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;
  wake: (change: StoreChange) => void;
}

type Q = pg.Pool | pg.PoolClient;

async function rows(q: Q, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await q.query(sql, params)).rows as Row[];
}

/** Visit scheduling on PostgreSQL. */
/** The metrics of one (lister, visit type) group of listed_origins, in visit_metrics' column order (stored or counted on read). */
const METRIC_COUNTS = `count(*)::int AS origins_known, count(*) FILTER (WHERE enabled)::int AS origins_enabled,
  count(*) FILTER (WHERE enabled AND last_successful IS NULL)::int AS origins_never_visited,
  count(*) FILTER (WHERE enabled AND last_update > last_successful)::int AS origins_with_pending_changes`;

export class PostgresVisitStore implements VisitStore {
  constructor(private readonly deps: PostgresVisitDeps) {}

  private get pool(): pg.Pool {
    return this.deps.pool;
  }

  async getOrCreateLister(name: string, instanceName: string, at: Date): Promise<Lister> {
    await this.pool.query(
      `INSERT INTO listers (id, name, instance_name, current_state, created, updated) VALUES (gen_random_uuid(), $1, $2, '{}', $3, $3)
       ON CONFLICT (name, instance_name) DO NOTHING`,
      [name, instanceName, at],
    );
    return (await this.getLister(name, instanceName))!;
  }

  async getListers(ids: readonly string[]): Promise<Lister[]> {
    return (await rows(this.pool, 'SELECT * FROM listers WHERE id = ANY($1::uuid[]) ORDER BY name COLLATE "C", instance_name COLLATE "C"', [ids])).map(listerFromRow);
  }

  async getLister(name: string, instanceName: string): Promise<Lister | null> {
    const [row] = await rows(this.pool, 'SELECT * FROM listers WHERE name = $1 AND instance_name = $2', [name, instanceName]);
    return row ? listerFromRow(row) : null;
  }

  async listListers(): Promise<Lister[]> {
    return (await rows(this.pool, 'SELECT * FROM listers ORDER BY name COLLATE "C", instance_name COLLATE "C"')).map(listerFromRow);
  }

  async updateLister(u: ListerUpdate, at: Date): Promise<Lister> {
    // `updated` always moves forward, also when two updates share an instant: a stale token never matches again.
    const [row] = await rows(
      this.pool,
      `UPDATE listers SET current_state = coalesce($3::jsonb, current_state), updated = greatest($4::timestamptz, updated + interval '1 millisecond'),
         last_listing_finished_at = CASE WHEN $5::boolean THEN $6::timestamptz ELSE last_listing_finished_at END
       WHERE id = $1 AND updated = $2 RETURNING *`,
      [u.id, u.updated, u.currentState === undefined ? null : JSON.stringify(u.currentState), at, u.lastListingFinishedAt !== undefined, u.lastListingFinishedAt ?? null],
    );
    if (row) return listerFromRow(row);
    const [current] = await this.getListers([u.id]);
    if (!current) throw new NotFoundError(`lister ${u.id} not found`, [{ path: 'id', message: 'no such lister' }]);
    throw new StaleDataError(`lister ${u.id} was updated at ${current.updated.toISOString()}, not ${u.updated.toISOString()}: read it again`, [
      { path: 'updated', message: 'stale' },
    ]);
  }

  async recordListedOrigins(origins: readonly Required<ListedOriginInput>[], at: Date): Promise<ListedOrigin[]> {
    const unique = dedupeListed(origins);
    const out = await this.deps.tx(async (c) => {
      // New rows copy their origin's visit stats, so nothing may change those stats until the rows
      // commit: a listing takes its visit types' lock alone, as a grab does, and a recorded visit
      // waits for it (a visit recorded meanwhile could not see the new rows to update them).
      await lockVisitTypes(c, unique.map((o) => o.visitType), 'alone');
      const all: Row[] = [];
      for (let i = 0; i < unique.length; i += CHUNK) {
        const chunk = unique.slice(i, i + CHUNK);
        try {
          all.push(
            ...(await rows(
              c,
              `INSERT INTO listed_origins (lister_id, url, visit_type, extra_loader_arguments, last_update, first_seen, last_seen,
                 last_scheduled, last_visit, last_visit_status, last_successful, next_visit_queue_position)
               SELECT x.l, x.u, x.v, x.e, x.lu, $6, $6, s.last_scheduled, s.last_visit, s.last_visit_status, s.last_successful, s.next_visit_queue_position
               FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::timestamptz[]) WITH ORDINALITY AS x(l, u, v, e, lu, n)
               LEFT JOIN origin_visit_stats s ON s.url = x.u AND s.visit_type = x.v
               ORDER BY x.n
               ON CONFLICT (lister_id, url, visit_type) DO UPDATE SET extra_loader_arguments = excluded.extra_loader_arguments,
                 last_update = excluded.last_update, last_seen = excluded.last_seen
               RETURNING *`,
              [
                chunk.map((o) => o.listerId),
                chunk.map((o) => o.url),
                chunk.map((o) => o.visitType),
                chunk.map((o) => JSON.stringify(o.extraLoaderArguments)),
                chunk.map((o) => o.lastUpdate),
                at,
              ],
            )),
          );
        } catch (e) {
          if ((e as { code?: string }).code === '23503') {
            throw new ValidationError('origins: unknown lister id; nothing was recorded', [{ path: 'origins', message: 'unknown lister id' }]);
          }
          throw e;
        }
      }
      return all;
    });
    // Rows are written in the batch's order (ORDER BY x.n: ids, and so listing, grab and tie order,
    // follow it, as on SQLite); the answer echoes each origin's extra arguments as given (jsonb
    // reorders keys), as the answer to a create of tasks does.
    const key = (listerId: string, url: string, visitType: string) => `${listerId}\u0000${url}\u0000${visitType}`;
    const given = new Map(unique.map((o) => [key(o.listerId, o.url, o.visitType), o.extraLoaderArguments]));
    return out.map((r) => {
      const o = listedOriginFromRow(r);
      return { ...o, extraLoaderArguments: given.get(key(o.listerId, o.url, o.visitType)) ?? o.extraLoaderArguments };
    });
  }

  async getListedOrigins(f: ListedOriginFilter): Promise<ListedOriginPage> {
    const after = pageAfter(f.pageToken);
    if (after < 0) throw new ValidationError('pageToken: not a page token from a previous page', [{ path: 'pageToken', message: 'invalid' }]);
    const params: unknown[] = [after];
    const where = ['id > $1'];
    const add = (col: string, v: unknown) => {
      params.push(v);
      where.push(`${col} = $${params.length}`);
    };
    if (f.listerId !== undefined) add('lister_id', f.listerId);
    if (f.url !== undefined) add('url', f.url);
    if (f.visitType !== undefined) add('visit_type', f.visitType);
    if (f.enabled !== undefined) add('enabled', f.enabled);
    params.push(f.limit + 1);
    const found = await rows(this.pool, `SELECT * FROM listed_origins WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`, params);
    const page = found.slice(0, f.limit);
    return { origins: page.map(listedOriginFromRow), nextPageToken: found.length > f.limit && page.length > 0 ? String(page[page.length - 1]!.id) : null };
  }

  async setOriginsEnabled(keys: readonly OriginKey[], enabled: boolean, listerId?: string): Promise<number> {
    // Retried when PostgreSQL picks it as a deadlock's victim (a recordVisits disabling some of these rows in
    // another order: race audit), as the store's transactions are (docs/postgres.md).
    // The rows are locked in key order, as recordVisits locks them: two calls, or a call and a recorded
    // visit, wait for each other instead of deadlocking (an UPDATE ... FROM locked them in plan order).
    const res = await retryingConflicts(() => this.pool.query(
      `WITH target AS (
         SELECT o.id FROM listed_origins o JOIN unnest($1::text[], $2::text[]) AS k(u, v) ON o.url = k.u AND o.visit_type = k.v
         WHERE o.enabled <> $3 AND ($4::uuid IS NULL OR o.lister_id = $4)
         ORDER BY o.url, o.visit_type, o.id FOR UPDATE OF o)
       UPDATE listed_origins o SET enabled = $3 FROM target t WHERE o.id = t.id`,
      [keys.map((k) => k.url), keys.map((k) => k.visitType), enabled, listerId ?? null],
    ));
    return res.rowCount ?? 0;
  }

  async getVisitStats(keys: readonly OriginKey[]): Promise<OriginVisitStats[]> {
    const found = await rows(
      this.pool,
      `SELECT s.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(u, v, i) JOIN origin_visit_stats s ON s.url = k.u AND s.visit_type = k.v ORDER BY k.i`,
      [keys.map((k) => k.url), keys.map((k) => k.visitType)],
    );
    return found.map(statsFromRow);
  }

  async recordVisits(visits: readonly VisitResult[], rng: () => number): Promise<RecordedVisit[]> {
    return this.deps.tx((c) => this.recordInTx(c, visits, rng));
  }

  /** Locks the stats rows (created if missing) in key order, then applies the visits in input order. */
  private async recordInTx(c: pg.PoolClient, visits: readonly VisitResult[], rng: () => number): Promise<RecordedVisit[]> {
    if (visits.length === 0) return [];
    const keys = [...new Map(visits.map((v) => [JSON.stringify([v.url, v.visitType]), v])).values()].sort((a, b) =>
      a.url < b.url ? -1 : a.url > b.url ? 1 : a.visitType < b.visitType ? -1 : a.visitType > b.visitType ? 1 : 0,
    );
    const urls = keys.map((k) => k.url);
    const types = keys.map((k) => k.visitType);
    // Shared: recorded visits do not wait for each other, only for a listing or a grab in progress.
    await lockVisitTypes(c, types, 'shared');
    await c.query(
      `INSERT INTO origin_visit_stats (url, visit_type) SELECT u, v FROM unnest($1::text[], $2::text[]) AS k(u, v) ORDER BY u, v ON CONFLICT DO NOTHING`,
      [urls, types],
    );
    const locked = await rows(
      c,
      `SELECT s.* FROM origin_visit_stats s JOIN unnest($1::text[], $2::text[]) AS k(u, v) ON s.url = k.u AND s.visit_type = k.v
       ORDER BY s.url, s.visit_type FOR UPDATE OF s`,
      [urls, types],
    );
    // Their listed origins too, in the same order (setOriginsEnabled's): the updates below go in input order.
    await c.query(
      `SELECT 1 FROM listed_origins o JOIN unnest($1::text[], $2::text[]) AS k(u, v) ON o.url = k.u AND o.visit_type = k.v
       ORDER BY o.url, o.visit_type, o.id FOR UPDATE OF o`,
      [urls, types],
    );
    const current = new Map(locked.map((r) => [JSON.stringify([r.url, r.visit_type]), statsFromRow(r)]));
    const positions = new Map(
      (await rows(c, 'SELECT visit_type, position FROM visit_queue_positions WHERE visit_type = ANY($1)', [[...new Set(types)]])).map((r) => [r.visit_type as string, Number(r.position)]),
    );
    const out: RecordedVisit[] = [];
    const applied: Array<VisitResult & { eventful: boolean }> = [];
    for (const v of visits) {
      const key = JSON.stringify([v.url, v.visitType]);
      const o = applyVisit(current.get(key) ?? null, v, positions.get(v.visitType) ?? null, rng);
      if (!o.applied) {
        out.push({ stats: o.stats, applied: false, eventful: false, disabled: false });
        continue;
      }
      const s = o.stats;
      current.set(key, s);
      await c.query(
        `UPDATE origin_visit_stats SET last_successful = $3, last_visit = $4, last_visit_status = $5, last_snapshot = $6,
           next_visit_queue_position = $7, next_position_offset = $8, successive_visits = $9 WHERE url = $1 AND visit_type = $2`,
        [s.url, s.visitType, s.lastSuccessful, s.lastVisit, s.lastVisitStatus, s.lastSnapshot, s.nextVisitQueuePosition, s.nextPositionOffset, s.successiveVisits],
      );
      await c.query(
        `UPDATE listed_origins SET last_visit = $3, last_visit_status = $4, last_successful = $5, next_visit_queue_position = $6,
           enabled = CASE WHEN $7::boolean THEN false ELSE enabled END WHERE url = $1 AND visit_type = $2`,
        [s.url, s.visitType, s.lastVisit, s.lastVisitStatus, s.lastSuccessful, s.nextVisitQueuePosition, o.disable],
      );
      out.push({ stats: s, applied: true, eventful: o.eventful, disabled: o.disable });
      applied.push({ ...v, eventful: o.eventful });
    }
    await appendOriginVisits(c, applied);
    return out;
  }

  async grabNextVisits(req: GrabRequest): Promise<ListedOrigin[]> {
    if (req.dryRun) return (await this.selectDistinct(this.pool, req, req.count, req.policy)).map(listedOriginFromRow);
    return this.deps.tx((c) => this.grabInTx(c, req, req.count, req.policy));
  }

  private async select(q: Q, req: Omit<GrabRequest, 'policy' | 'count'>, count: number, policy: VisitPolicy): Promise<Row[]> {
    const t = cooldownThresholds(req.at, req.cooldowns);
    const params: unknown[] = [req.visitType, t.absoluteBefore, t.scheduledBefore, t.failedBefore, t.notFoundBefore, count];
    if (policy === 'first_visits_after_listing') {
      const [lister] = await rows(q, 'SELECT last_listing_finished_at FROM listers WHERE id = $1', [req.listerId]);
      if (!lister) throw new NotFoundError(`lister ${req.listerId} not found`, [{ path: 'lister', message: 'no such lister' }]);
      params.push(req.listerId, lister.last_listing_finished_at);
    } else if (req.listerId !== undefined) params.push(req.listerId);
    return rows(q, grabSql(policy, req.listerId !== undefined), params);
  }

  /**
   * Up to `count` distinct origins in the policy's order: one URL listed by several listers has a row
   * for each, so the selection widens (doubling) until it holds `count` distinct origins or the
   * policy runs out. A dry run and a grab select the same way, so they agree.
   */
  private async selectDistinct(q: Q, req: Omit<GrabRequest, 'policy' | 'count'>, count: number, policy: VisitPolicy): Promise<Row[]> {
    for (let n = count; ; n *= 2) {
      const found = distinctUpTo(await this.select(q, req, n, policy), n, count);
      if (found !== null) return found;
    }
  }

  /** Under the visit type's grab lock: selects, then marks stats and listed rows (stats first, as recordVisits does). */
  private async grabInTx(c: pg.PoolClient, req: Omit<GrabRequest, 'policy' | 'count'>, count: number, policy: VisitPolicy): Promise<ListedOrigin[]> {
    await lockVisitTypes(c, [req.visitType], 'alone');
    const out = await this.selectDistinct(c, req, count, policy);
    if (out.length > 0) {
      const urls = out.map((r) => r.url as string).sort();
      await c.query(
        `INSERT INTO origin_visit_stats (url, visit_type, last_scheduled) SELECT u, $2, $3 FROM unnest($1::text[]) AS u ORDER BY u
         ON CONFLICT (url, visit_type) DO UPDATE SET last_scheduled = excluded.last_scheduled`,
        [urls, req.visitType, req.at],
      );
      await c.query('UPDATE listed_origins SET last_scheduled = $3 WHERE url = ANY($1::text[]) AND visit_type = $2', [urls, req.visitType, req.at]);
    }
    if (policy === 'origins_without_last_update') {
      const positions = out.map((r) => r.next_visit_queue_position).filter((p): p is number => p !== null).map(Number);
      if (positions.length) {
        await c.query(
          `INSERT INTO visit_queue_positions (visit_type, position) VALUES ($1, $2)
           ON CONFLICT (visit_type) DO UPDATE SET position = greatest(visit_queue_positions.position, excluded.position)`,
          [req.visitType, positions.reduce((a, b) => Math.max(a, b))], // not Math.max(...): a large grab would overflow the stack
        );
      }
    }
    return out.map(listedOriginFromRow);
  }

  async getQueuePosition(visitType: string): Promise<number | null> {
    const [row] = await rows(this.pool, 'SELECT position FROM visit_queue_positions WHERE visit_type = $1', [visitType]);
    return row ? Number(row.position) : null;
  }

  async updateMetrics(listerId: string | null, at: Date, keepHistory = METRICS_HISTORY_KEEP): Promise<VisitMetrics[]> {
    const found = await this.deps.tx(async (c) => {
      const m = await rows(
        c,
        `INSERT INTO visit_metrics (lister_id, visit_type, updated, origins_known, origins_enabled, origins_never_visited, origins_with_pending_changes)
         SELECT lister_id, visit_type, $2, ${METRIC_COUNTS}
         FROM listed_origins WHERE $1::uuid IS NULL OR lister_id = $1 GROUP BY lister_id, visit_type
         ON CONFLICT (lister_id, visit_type) DO UPDATE SET updated = excluded.updated, origins_known = excluded.origins_known,
           origins_enabled = excluded.origins_enabled, origins_never_visited = excluded.origins_never_visited,
           origins_with_pending_changes = excluded.origins_with_pending_changes
         RETURNING *`,
        [listerId, at],
      );
      await appendMetricsPoints(c, m.map(metricsFromRow), keepHistory);
      return m;
    });
    return found.map(metricsFromRow).sort((a, b) => compareCodePoints(a.listerId, b.listerId) || compareCodePoints(a.visitType, b.visitType));
  }

  async countMetrics(f: { listerId?: string; visitType?: string }, at: Date): Promise<VisitMetrics[]> {
    return (
      await rows(
        this.pool,
        `SELECT lister_id, visit_type, $3::timestamptz AS updated, ${METRIC_COUNTS} FROM listed_origins
         WHERE ($1::uuid IS NULL OR lister_id = $1) AND ($2::text IS NULL OR visit_type = $2)
         GROUP BY lister_id, visit_type ORDER BY lister_id::text COLLATE "C", visit_type COLLATE "C"`,
        [f.listerId ?? null, f.visitType ?? null, at],
      )
    ).map(metricsFromRow);
  }

  async getMetrics(f: { listerId?: string; visitType?: string } = {}): Promise<VisitMetrics[]> {
    return (
      await rows(
        this.pool,
        `SELECT * FROM visit_metrics WHERE ($1::uuid IS NULL OR lister_id = $1) AND ($2::text IS NULL OR visit_type = $2) ORDER BY lister_id::text COLLATE "C", visit_type COLLATE "C"`,
        [f.listerId ?? null, f.visitType ?? null],
      )
    ).map(metricsFromRow);
  }

  async getMetricsHistory(f: MetricsHistoryFilter): Promise<VisitMetricsSeries[]> {
    return getMetricsHistory(this.pool, f);
  }

  async getOriginVisits(f: OriginVisitsFilter): Promise<OriginVisit[]> {
    return getOriginVisits(this.pool, f);
  }

  async countInFlight(visitType: string): Promise<number> {
    const [row] = await rows(this.pool, 'SELECT count(*)::int AS n FROM visits_in_flight WHERE visit_type = $1', [visitType]);
    return Number(row!.n);
  }

  async scheduleVisits(req: ScheduleVisitsRequest, makeTask: (origin: ListedOrigin) => NewTask): Promise<ScheduledVisits> {
    const out = await this.deps.tx(async (c) => {
      const origins: ListedOrigin[] = [];
      let policies = req.policies;
      if (req.queueSize !== undefined) {
        // One pass per visit type at a time past this point: the room is counted under the lock.
        await c.query(`SELECT pg_advisory_xact_lock(hashtextextended('orrery.visit-queue:' || $1, 0))`, [req.visitType]);
        const [row] = await rows(c, 'SELECT count(*)::int AS n FROM visits_in_flight WHERE visit_type = $1', [req.visitType]);
        policies = trimToRoom(policies, req.queueSize - Number(row!.n));
      }
      // One by one, not push(...grabbed): a queue of 120,000+ origins would overflow the stack.
      for (const { policy, count } of policies) if (count > 0) for (const o of await this.grabInTx(c, req, count, policy)) origins.push(o);
      if (origins.length === 0) return { origins, tasks: [] };
      const tasks = (await insertTasks(c, origins.map(makeTask), req.at)).map((x) => x.task);
      await c.query(
        `INSERT INTO visits_in_flight (task_id, url, visit_type, scheduled)
         SELECT t, u, v, $4::timestamptz FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x(t, u, v)
         ON CONFLICT (task_id) DO NOTHING`,
        [tasks.map((t) => t.id), origins.map((o) => o.url), origins.map((o) => o.visitType), req.at],
      );
      return { origins, tasks };
    });
    this.deps.wake({ kind: 'tasks-written', count: out.tasks.length });
    return out;
  }

  async collectFinishedVisits(limit: number, rng: () => number): Promise<CollectedVisit[]> {
    return this.deps.tx(async (c) => {
      const finished = await rows(
        c,
        `SELECT v.task_id, v.url, v.visit_type FROM visits_in_flight v LEFT JOIN tasks t ON t.id = v.task_id
         WHERE ${COLLECTABLE_VISIT_SQL} ORDER BY v.task_id LIMIT $1 FOR UPDATE OF v SKIP LOCKED`,
        [limit],
      );
      if (finished.length === 0) return [];
      const ids = finished.map((f) => Number(f.task_id));
      const lastRuns = new Map(
        (await rows(c, 'SELECT DISTINCT ON (task) * FROM task_runs WHERE task = ANY($1::bigint[]) ORDER BY task, id DESC', [ids])).map((r) => [Number(r.task), runFromRow(r)]),
      );
      const items = finished.map((f) => {
        const run = lastRuns.get(Number(f.task_id)) ?? null;
        return { f, run, visit: visitOfRun(run, f.url as string, f.visit_type as string) };
      });
      const visits = items.flatMap((i) => (i.visit ? [i.visit] : []));
      const recorded = await this.recordInTx(c, visits, rng);
      await c.query('DELETE FROM visits_in_flight WHERE task_id = ANY($1::bigint[])', [ids]);
      let next = 0;
      return items.map((i) => ({
        taskId: Number(i.f.task_id),
        url: i.f.url as string,
        visitType: i.f.visit_type as string,
        run: i.run,
        recorded: i.visit ? recorded[next++]! : null,
      }));
    });
  }
}
