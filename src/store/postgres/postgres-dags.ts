import { startStatus } from '../../core/dag-overlap.js';
import type pg from 'pg';
import { insertAlerts } from './postgres-alerts.js';
import type { TypePause } from '../../core/model.js';
import { setDagPause } from './postgres-pause.js';
import { NotFoundError, shown } from '../../core/errors.js';
import { dagStructure, type DagSpec, type DagTaskSpec, type DagTaskStatus } from '../../core/dag.js';
import { firstPoint, mergeSkipped, nextPointAfterChange, type PointRecord } from '../../core/dag-schedule.js';
import { dagAttemptFromRow, dagFromRow, dagPointFromRow, dagRunFromRow, dagTaskFromRow, resultText, structureFromRow } from '../dag-rows.js';
import type { DagAttempt, DagPoint, DagRun, DagRunFilter, DagStep, DagStore, DagTaskRow, StoredDag } from '../dag-store.js';
import type { Row } from '../rows.js';
import type { StoreChange } from '../store.js';
import { insertTasks } from './postgres-tasks.js';

type Q = pg.PoolClient | pg.Pool;

export const DAG_RUN_TASKS_SQL = `SELECT i.*, a.orrery_task AS a_orrery_task, t.id AS t_id, t.status AS t_status,
    t.disabled_reason AS t_disabled_reason, r.status AS r_status, r.started AS r_started, r.ended AS r_ended,
    r.result AS r_result, r.error AS r_error
  FROM dag_task_instances i
  LEFT JOIN dag_task_attempts a ON a.run = i.run AND a.task_id = i.task_id AND a.attempt = i.attempt
  LEFT JOIN tasks t ON t.id = a.orrery_task
  LEFT JOIN LATERAL (SELECT * FROM task_runs WHERE task = t.id ORDER BY id DESC LIMIT 1) r ON true
  WHERE i.run = $1 ORDER BY i.task_id COLLATE "C"`;

/** What the DAG store needs from the PostgreSQL store it belongs to. */
export interface PostgresDagHost {
  pool: pg.Pool;
  tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T>;
  wake(change: StoreChange): void;
}

/** DAG storage on PostgreSQL; a schedule step or run step is one transaction, guarded by a revision. */
export class PostgresDags implements DagStore {
  constructor(private readonly host: PostgresDagHost) {}

  private async rows(q: Q, sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await q.query(sql, params)).rows as Row[];
  }

  async saveDags(items: ReadonlyArray<{ spec: DagSpec; version: string }>, at: Date) {
    return this.host.tx(async (c) => {
      // Locked in id order, so two processes storing the same DAGs cannot deadlock; answered in input order.
      const byId = new Map<string, Awaited<ReturnType<PostgresDags['saveDagInTx']>>>();
      for (const { spec, version } of [...items].sort((a, b) => (a.spec.id < b.spec.id ? -1 : a.spec.id > b.spec.id ? 1 : 0))) {
        byId.set(spec.id, await this.saveDagInTx(c, spec, version, at));
      }
      return items.map(({ spec }) => byId.get(spec.id)!);
    });
  }

  private async saveDagInTx(c: pg.PoolClient, spec: DagSpec, version: string, at: Date) {
    const [existing] = await this.rows(c, 'SELECT * FROM dags WHERE id = $1 FOR UPDATE', [spec.id]);
    const schedule = JSON.stringify(spec.schedule);
    let created = false;
    if (!existing) {
      const start = spec.start ?? at;
      const ins = await c.query(
        `INSERT INTO dags (id, description, version, schedule, start, catch_up, max_active_runs, next_point, created, updated, overlap)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) ON CONFLICT (id) DO NOTHING`,
        [spec.id, spec.description, version, schedule, start, spec.catchUp, spec.maxActiveRuns, firstPoint(spec.schedule, start), at, spec.overlap],
      );
      // Two processes storing a new DAG at once: the second one updates what the first created.
      if (ins.rowCount === 1) created = true;
      else return this.saveDagAgain(c, spec, version, at);
    } else {
      await this.updateDag(c, spec, version, existing, at);
    }
    const v = await c.query(`INSERT INTO dag_versions (dag, version, structure, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
      spec.id, version, JSON.stringify(dagStructure(spec)), at,
    ]);
    const [row] = await this.rows(c, 'SELECT * FROM dags WHERE id = $1', [spec.id]);
    // A new version for the DAG: one never stored, or an earlier one again (core/dag.ts dagSyncLine).
    return { dag: dagFromRow(row!), created, newVersion: v.rowCount === 1 || (existing !== undefined && existing.version !== version) };
  }

  private async saveDagAgain(c: pg.PoolClient, spec: DagSpec, version: string, at: Date) {
    const [existing] = await this.rows(c, 'SELECT * FROM dags WHERE id = $1 FOR UPDATE', [spec.id]);
    await this.updateDag(c, spec, version, existing!, at);
    const v = await c.query(`INSERT INTO dag_versions (dag, version, structure, created) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [
      spec.id, version, JSON.stringify(dagStructure(spec)), at,
    ]);
    const [row] = await this.rows(c, 'SELECT * FROM dags WHERE id = $1', [spec.id]);
    return { dag: dagFromRow(row!), created: false, newVersion: v.rowCount === 1 || (existing !== undefined && existing.version !== version) };
  }

  private async updateDag(c: pg.PoolClient, spec: DagSpec, version: string, existing: Row, at: Date): Promise<void> {
    const old = dagFromRow(existing);
    const start = spec.start ?? old.start;
    const moved = JSON.stringify(old.schedule) !== JSON.stringify(spec.schedule) || start.getTime() !== old.start.getTime();
    let next = old.nextPoint;
    if (moved) {
      const [r] = await this.rows(c, `SELECT max(coalesce(until_ts, exec_ts)) AS t FROM dag_points WHERE dag = $1 AND kind <> 'triggered'`, [spec.id]);
      next = nextPointAfterChange(spec.schedule, start, r?.t ? new Date(r.t as Date) : null);
    }
    await c.query(
      `UPDATE dags SET description = $2, version = $3, schedule = $4, start = $5, catch_up = $6, max_active_runs = $7, next_point = $8, updated = $9,
         overlap = $10 WHERE id = $1`,
      [spec.id, spec.description, version, JSON.stringify(spec.schedule), start, spec.catchUp, spec.maxActiveRuns, next, at, spec.overlap],
    );
  }

  async getDags(ids?: readonly string[]): Promise<StoredDag[]> {
    const rows =
      ids === undefined
        ? await this.rows(this.host.pool, 'SELECT * FROM dags ORDER BY id COLLATE "C"')
        : await this.rows(this.host.pool, 'SELECT * FROM dags WHERE id = ANY($1) ORDER BY id COLLATE "C"', [ids]);
    return rows.map(dagFromRow);
  }

  async getDagVersion(dag: string, version: string): Promise<DagTaskSpec[] | null> {
    const [r] = await this.rows(this.host.pool, 'SELECT structure FROM dag_versions WHERE dag = $1 AND version = $2', [dag, version]);
    return r ? structureFromRow(r) : null;
  }

  async recordPoints(dag: string, expected: Date | null, records: readonly PointRecord[], nextPoint: Date | null, at: Date): Promise<DagRun[] | null> {
    const runs = await this.host.tx(async (c) => {
      const [row] = await this.rows(c, 'SELECT * FROM dags WHERE id = $1 FOR UPDATE', [dag]);
      if (!row) throw new NotFoundError(`DAG "${shown(dag)}" not found`, [{ path: 'dag', message: 'unknown DAG' }]);
      const d = dagFromRow(row);
      // Moved on by another scheduler, or paused since it was read (a pause committed first records nothing).
      if ((d.nextPoint?.getTime() ?? null) !== (expected?.getTime() ?? null) || d.paused) return null;
      const tasks = await this.structure(c, dag, d.version);
      const out: DagRun[] = [];
      // Skipped points continuing the latest recorded skipped range grow it (one range however long).
      const [latest] = await this.rows(c, `SELECT * FROM dag_points WHERE dag = $1 AND kind <> 'triggered' ORDER BY exec_ts DESC LIMIT 1`, [dag]);
      const merged = mergeSkipped(latest ? dagPointFromRow(latest) : null, records);
      if (merged.extend) await c.query('UPDATE dag_points SET until_ts = $2, count = $3 WHERE id = $1', [latest!.id, merged.extend.untilTs, merged.extend.count]);
      for (const p of merged.insert) {
        let runId: number | null = null;
        if (p.kind === 'scheduled' || p.kind === 'caught_up') {
          const run = await this.insertRun(c, dag, d.version, tasks, p.execTs, p.kind === 'scheduled' ? 'schedule' : 'catch_up', {}, at);
          out.push(run);
          runId = run.id;
        }
        await c.query(`INSERT INTO dag_points (dag, exec_ts, until_ts, count, kind, run, recorded) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
          dag, p.execTs, p.untilTs, p.count, p.kind, runId, at,
        ]);
      }
      await c.query('UPDATE dags SET next_point = $2 WHERE id = $1', [dag, nextPoint]);
      return out;
    });
    this.host.wake({ kind: 'tasks-written', count: runs?.length ?? 0 });
    return runs;
  }

  private async structure(c: Q, dag: string, version: string): Promise<DagTaskSpec[]> {
    const [r] = await this.rows(c, 'SELECT structure FROM dag_versions WHERE dag = $1 AND version = $2', [dag, version]);
    return structureFromRow(r!);
  }

  private async insertRun(c: pg.PoolClient, dag: string, version: string, tasks: readonly DagTaskSpec[], execTs: Date, trigger: string,
    params: Record<string, unknown>, at: Date): Promise<DagRun> {
    const [row] = await this.rows(
      c,
      `INSERT INTO dag_runs (dag, version, exec_ts, trigger, status, params, created) VALUES ($1, $2, $3, $4, 'scheduled', $5, $6) RETURNING *`,
      [dag, version, execTs, trigger, JSON.stringify(params), at],
    );
    await c.query(
      `INSERT INTO dag_task_instances (run, task_id, status, retries_left)
       SELECT $1, id, 'pending', retries FROM unnest($2::text[], $3::int[]) AS x(id, retries)`,
      [row!.id, tasks.map((t) => t.id), tasks.map((t) => t.retries)],
    );
    return dagRunFromRow(row!);
  }

  async triggerRun(dag: string, params: Record<string, unknown>, at: Date): Promise<DagRun> {
    const run = await this.host.tx(async (c) => {
      const [row] = await this.rows(c, 'SELECT * FROM dags WHERE id = $1', [dag]);
      if (!row) throw new NotFoundError(`DAG "${shown(dag)}" not found`, [{ path: 'dag', message: 'unknown DAG' }]);
      const d = dagFromRow(row);
      const r = await this.insertRun(c, dag, d.version, await this.structure(c, dag, d.version), at, 'manual', params, at);
      await c.query(`INSERT INTO dag_points (dag, exec_ts, kind, run, recorded) VALUES ($1, $2, 'triggered', $3, $2)`, [dag, at, r.id]);
      return r;
    });
    this.host.wake({ kind: 'tasks-written', count: 1 });
    return run;
  }

  async backfillRuns(dag: string, points: readonly Date[], params: Record<string, unknown>, at: Date): Promise<DagRun[]> {
    const runs = await this.host.tx(async (c) => {
      const [row] = await this.rows(c, 'SELECT * FROM dags WHERE id = $1', [dag]);
      if (!row) throw new NotFoundError(`DAG "${shown(dag)}" not found`, [{ path: 'dag', message: 'unknown DAG' }]);
      const d = dagFromRow(row);
      const tasks = await this.structure(c, dag, d.version);
      const out: DagRun[] = [];
      for (const p of points) out.push(await this.insertRun(c, dag, d.version, tasks, p, 'backfill', params, at));
      return out;
    });
    this.host.wake({ kind: 'tasks-written', count: runs.length });
    return runs;
  }

  async getDagRun(id: number): Promise<DagRun | null> {
    const [r] = await this.rows(this.host.pool, 'SELECT * FROM dag_runs WHERE id = $1', [id]);
    return r ? dagRunFromRow(r) : null;
  }

  async listDagRuns(f: DagRunFilter): Promise<DagRun[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => (params.push(v), where.push(sql.replace('?', `$${params.length}`)));
    if (f.dag !== undefined) add('dag = ?', f.dag);
    if (f.status !== undefined) add('status = ?', f.status);
    if (f.beforeId !== undefined) add('id < ?', f.beforeId);
    params.push(f.limit ?? 100);
    const sql = `SELECT * FROM dag_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`;
    return (await this.rows(this.host.pool, sql, params)).map(dagRunFromRow);
  }

  async activeDagRuns(limit: number): Promise<DagRun[]> {
    return (
      await this.rows(this.host.pool, `SELECT * FROM dag_runs WHERE status IN ('scheduled', 'running') ORDER BY dag, exec_ts, id LIMIT $1`, [limit])
    ).map(dagRunFromRow);
  }

  async dagRunTasks(runId: number): Promise<DagTaskRow[]> {
    return (await this.rows(this.host.pool, DAG_RUN_TASKS_SQL, [runId])).map(dagTaskFromRow);
  }

  async dagTaskCounts(runIds: readonly number[]) {
    const out = new Map<number, Partial<Record<DagTaskStatus, number>>>();
    if (runIds.length === 0) return out;
    const rows = await this.rows(
      this.host.pool,
      `SELECT run, status, count(*)::int AS n FROM dag_task_instances WHERE run = ANY($1) GROUP BY run, status`,
      [runIds],
    );
    for (const r of rows) {
      const m = out.get(Number(r.run)) ?? {};
      m[r.status as DagTaskStatus] = Number(r.n);
      out.set(Number(r.run), m);
    }
    return out;
  }

  async applyDagStep(runId: number, rev: number, step: DagStep, at: Date): Promise<DagRun | null> {
    const run = await this.host.tx(async (c) => {
      let status = step.status;
      if (status === 'running' && step.limit) {
        // The DAG's row lock makes the count and the start one decision among concurrent starts.
        const [own] = await this.rows(c, 'SELECT d.id FROM dags d JOIN dag_runs r ON r.dag = d.id WHERE r.id = $1 FOR NO KEY UPDATE OF d', [runId]);
        if (!own) return null;
        const [n] = await this.rows(c, `SELECT count(*)::int AS n FROM dag_runs WHERE dag = $1 AND status = 'running' AND id <> $2`, [own.id, runId]);
        status = startStatus(n!.n as number, step.limit.running, step.limit.over);
        if (status === null) return null;
      }
      const [row] = await this.rows(
        c,
        `UPDATE dag_runs SET rev = rev + 1, status = coalesce($3::text, status),
           started = CASE WHEN $3::text = 'running' AND started IS NULL THEN $4 ELSE started END,
           ended = CASE WHEN $3::text IN ('success', 'failed') THEN greatest(started, $6::timestamptz) WHEN $3::text IN ('running', 'scheduled') THEN NULL ELSE ended END,
           restarts = restarts + $5
         WHERE id = $1 AND rev = $2 RETURNING *`,
        [runId, rev, status, at, step.restart ? 1 : 0, step.ended ?? at],
      );
      if (!row) return null;
      if (step.changes.length > 0) {
        const ch = step.changes;
        await c.query(
          `UPDATE dag_task_instances i SET status = x.status, attempt = x.attempt, retries_left = x.retries, lost = x.lost, started = x.started,
             ended = x.ended, error = x.error, result = x.result
           FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::timestamptz[], $7::timestamptz[], $8::text[], $9::text[], $10::int[])
             AS x(task_id, status, attempt, retries, started, ended, error, result, lost)
           WHERE i.run = $1 AND i.task_id = x.task_id`,
          [runId, ch.map((x) => x.taskId), ch.map((x) => x.status), ch.map((x) => x.attempt), ch.map((x) => x.retriesLeft),
            ch.map((x) => x.started), ch.map((x) => x.ended), ch.map((x) => x.error), ch.map((x) => resultText(x.result)), ch.map((x) => x.lost)],
        );
      }
      if (step.attempts.length > 0) {
        const created = await insertTasks(c, step.attempts.map((a) => a.task), at);
        await c.query(
          `INSERT INTO dag_task_attempts (run, task_id, attempt, orrery_task, not_before, created)
           SELECT $1, task_id, attempt, orrery_task, not_before, $6 FROM unnest($2::text[], $3::int[], $4::bigint[], $5::timestamptz[])
             AS x(task_id, attempt, orrery_task, not_before)`,
          [runId, step.attempts.map((a) => a.taskId), step.attempts.map((a) => a.attempt), created.map((x) => x.task.id),
            step.attempts.map((a) => a.notBefore), at],
        );
      }
      await insertAlerts(c, (step.alerts ?? []).map((alert) => ({ source: 'dag', alert, recorded: at })));
      return dagRunFromRow(row);
    });
    if (run) this.host.wake({ kind: 'tasks-written', count: step.attempts.length });
    return run;
  }

  async listDagPoints(dag: string, limit: number): Promise<DagPoint[]> {
    return (await this.rows(this.host.pool, 'SELECT * FROM dag_points WHERE dag = $1 ORDER BY id DESC LIMIT $2', [dag, limit])).map(dagPointFromRow);
  }

  async dagAttempts(runId: number, taskId?: string): Promise<DagAttempt[]> {
    const rows =
      taskId === undefined
        ? await this.rows(this.host.pool, 'SELECT * FROM dag_task_attempts WHERE run = $1 ORDER BY task_id COLLATE "C", attempt', [runId])
        : await this.rows(this.host.pool, 'SELECT * FROM dag_task_attempts WHERE run = $1 AND task_id = $2 ORDER BY attempt', [runId, taskId]);
    return rows.map(dagAttemptFromRow);
  }

  async setDagPause(id: string, pause: TypePause | null, at: Date) {
    const dag = await setDagPause(this.host.pool, id, pause, at);
    this.host.wake({ kind: 'dags-changed' });
    return dag;
  }

  async dagRunCounts() {
    const rows = await this.rows(this.host.pool, 'SELECT dag, status, count(*)::int AS n FROM dag_runs GROUP BY dag, status ORDER BY dag COLLATE "C", status');
    return rows.map((r) => ({ dag: r.dag as string, status: r.status as DagRun['status'], count: Number(r.n) }));
  }
}
