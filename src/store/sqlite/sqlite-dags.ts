import { startStatus } from '../../core/dag-overlap.js';
import type Database from 'better-sqlite3';
import type { NewAlert } from '../alert-store.js';
import { NotFoundError, shown } from '../../core/errors.js';
import { dagStructure, type DagSpec, type DagTaskSpec, type DagTaskStatus } from '../../core/dag.js';
import { firstPoint, mergeSkipped, nextPointAfterChange, type PointRecord } from '../../core/dag-schedule.js';
import type { NewTask } from '../../core/validation.js';
import type { TypePause } from '../../core/model.js';
import { dagAttemptFromRow, dagFromRow, dagPointFromRow, dagRunFromRow, dagTaskFromRow, resultText, structureFromRow } from '../dag-rows.js';
import type { DagAttempt, DagPoint, DagRun, DagRunFilter, DagStep, DagStore, DagTaskRow, StoredDag } from '../dag-store.js';
import type { Row } from '../rows.js';
import type { CreatedTask, StoreChange } from '../store.js';

const ms = (d: Date | null) => (d === null ? null : d.getTime());

export const DAG_RUN_TASKS_SQL = `SELECT i.*, a.orrery_task AS a_orrery_task, t.id AS t_id, t.status AS t_status,
    t.disabled_reason AS t_disabled_reason, r.status AS r_status, r.started AS r_started, r.ended AS r_ended,
    r.result AS r_result, r.error AS r_error
  FROM dag_task_instances i
  LEFT JOIN dag_task_attempts a ON a.run = i.run AND a.task_id = i.task_id AND a.attempt = i.attempt
  LEFT JOIN tasks t ON t.id = a.orrery_task
  LEFT JOIN task_runs r ON r.id = (SELECT max(id) FROM task_runs WHERE task = t.id)
  WHERE i.run = ? ORDER BY i.task_id`;

/** What the DAG store needs from the SQLite store it belongs to. */
export interface SqliteDagHost {
  db: Database.Database;
  /** Runs `fn` in a write transaction (BEGIN IMMEDIATE). */
  write<T>(fn: () => T): Promise<T>;
  /** Inserts jobboard tasks inside the caller's transaction. */
  insertTasks(tasks: readonly NewTask[], at: Date): CreatedTask[];
  /** Stores an alert inside the caller's transaction. */
  insertAlert(a: NewAlert): void;
  wake(change: StoreChange): void;
}

/** DAG storage on SQLite; every change is one synchronous write transaction. */
export class SqliteDags implements DagStore {
  private readonly db: Database.Database;
  constructor(private readonly host: SqliteDagHost) {
    this.db = host.db;
  }

  private all(sql: string, ...params: unknown[]): Row[] {
    return this.db.prepare(sql).all(...params) as Row[];
  }
  private get(sql: string, ...params: unknown[]): Row | undefined {
    return this.db.prepare(sql).get(...params) as Row | undefined;
  }
  private run(sql: string, ...params: unknown[]): number {
    return this.db.prepare(sql).run(...params).changes;
  }

  async saveDags(items: ReadonlyArray<{ spec: DagSpec; version: string }>, at: Date) {
    return this.host.write(() => items.map(({ spec, version }) => this.saveDagInTx(spec, version, at)));
  }

  private saveDagInTx(spec: DagSpec, version: string, at: Date) {
    const now = at.getTime();
    const existing = this.get('SELECT * FROM dags WHERE id = ?', spec.id);
    const schedule = JSON.stringify(spec.schedule);
    let created = false;
    if (!existing) {
      const start = spec.start ?? at;
      this.run(
        `INSERT INTO dags (id, description, version, schedule, start, catch_up, max_active_runs, overlap, next_point, created, updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        spec.id, spec.description, version, schedule, start.getTime(), spec.catchUp ? 1 : 0, spec.maxActiveRuns, spec.overlap, ms(firstPoint(spec.schedule, start)), now, now,
      );
      created = true;
    } else {
      const old = dagFromRow(existing);
      const start = spec.start ?? old.start;
      const moved = JSON.stringify(old.schedule) !== schedule || start.getTime() !== old.start.getTime();
      const next = moved ? ms(nextPointAfterChange(spec.schedule, start, this.lastPoint(spec.id))) : ms(old.nextPoint);
      this.run(
        `UPDATE dags SET description = ?, version = ?, schedule = ?, start = ?, catch_up = ?, max_active_runs = ?, overlap = ?, next_point = ?, updated = ?
         WHERE id = ?`,
        spec.description, version, schedule, start.getTime(), spec.catchUp ? 1 : 0, spec.maxActiveRuns, spec.overlap, next, now, spec.id,
      );
    }
    const stored =
      this.run(`INSERT INTO dag_versions (dag, version, structure, created) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        spec.id, version, JSON.stringify(dagStructure(spec)), now) === 1;
    // A new version for the DAG: one never stored, or an earlier one again (core/dag.ts dagSyncLine).
    const newVersion = stored || (existing !== undefined && existing.version !== version);
    return { dag: dagFromRow(this.get('SELECT * FROM dags WHERE id = ?', spec.id)!), created, newVersion };
  }

  private lastPoint(dag: string): Date | null {
    const r = this.get(`SELECT max(coalesce(until_ts, exec_ts)) AS t FROM dag_points WHERE dag = ? AND kind <> 'triggered'`, dag);
    return r?.t === null || r?.t === undefined ? null : new Date(Number(r.t));
  }

  async getDags(ids?: readonly string[]): Promise<StoredDag[]> {
    const rows = ids === undefined ? this.all('SELECT * FROM dags ORDER BY id') : this.all('SELECT * FROM dags WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id', JSON.stringify(ids));
    return rows.map(dagFromRow);
  }

  async getDagVersion(dag: string, version: string): Promise<DagTaskSpec[] | null> {
    const r = this.get('SELECT structure FROM dag_versions WHERE dag = ? AND version = ?', dag, version);
    return r ? structureFromRow(r) : null;
  }

  async recordPoints(dag: string, expected: Date | null, records: readonly PointRecord[], nextPoint: Date | null, at: Date): Promise<DagRun[] | null> {
    const runs = await this.host.write(() => {
      const row = this.get('SELECT * FROM dags WHERE id = ?', dag);
      if (!row) throw new NotFoundError(`DAG "${shown(dag)}" not found`, [{ path: 'dag', message: 'unknown DAG' }]);
      const d = dagFromRow(row);
      // Moved on by another scheduler, or paused since it was read (a pause committed first records nothing).
      if (ms(d.nextPoint) !== ms(expected) || d.paused) return null;
      const tasks = structureFromRow(this.get('SELECT structure FROM dag_versions WHERE dag = ? AND version = ?', dag, d.version)!);
      const out: DagRun[] = [];
      // Skipped points continuing the latest recorded skipped range grow it (one range however long).
      const latest = this.get(`SELECT * FROM dag_points WHERE dag = ? AND kind <> 'triggered' ORDER BY exec_ts DESC LIMIT 1`, dag);
      const merged = mergeSkipped(latest ? dagPointFromRow(latest) : null, records);
      if (merged.extend) this.run('UPDATE dag_points SET until_ts = ?, count = ? WHERE id = ?', ms(merged.extend.untilTs), merged.extend.count, latest!.id);
      for (const p of merged.insert) {
        let runId: number | null = null;
        if (p.kind === 'scheduled' || p.kind === 'caught_up') {
          const run = this.insertRun(d.id, d.version, tasks, p.execTs, p.kind === 'scheduled' ? 'schedule' : 'catch_up', {}, at);
          out.push(run);
          runId = run.id;
        }
        this.run(`INSERT INTO dag_points (dag, exec_ts, until_ts, count, kind, run, recorded) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          dag, p.execTs.getTime(), ms(p.untilTs), p.count, p.kind, runId, at.getTime());
      }
      this.run('UPDATE dags SET next_point = ? WHERE id = ?', ms(nextPoint), dag);
      return out;
    });
    this.host.wake({ kind: 'tasks-written', count: runs?.length ?? 0 });
    return runs;
  }

  private insertRun(dag: string, version: string, tasks: readonly DagTaskSpec[], execTs: Date, trigger: string, params: Record<string, unknown>, at: Date): DagRun {
    const row = this.get(
      `INSERT INTO dag_runs (dag, version, exec_ts, trigger, status, params, created) VALUES (?, ?, ?, ?, 'scheduled', ?, ?) RETURNING *`,
      dag, version, execTs.getTime(), trigger, JSON.stringify(params), at.getTime(),
    )!;
    const insert = this.db.prepare(`INSERT INTO dag_task_instances (run, task_id, status, retries_left) VALUES (?, ?, 'pending', ?)`);
    for (const t of tasks) insert.run(row.id, t.id, t.retries);
    return dagRunFromRow(row);
  }

  async triggerRun(dag: string, params: Record<string, unknown>, at: Date): Promise<DagRun> {
    const run = await this.host.write(() => {
      const row = this.get('SELECT * FROM dags WHERE id = ?', dag);
      if (!row) throw new NotFoundError(`DAG "${shown(dag)}" not found`, [{ path: 'dag', message: 'unknown DAG' }]);
      const d = dagFromRow(row);
      const tasks = structureFromRow(this.get('SELECT structure FROM dag_versions WHERE dag = ? AND version = ?', dag, d.version)!);
      const r = this.insertRun(dag, d.version, tasks, at, 'manual', params, at);
      this.run(`INSERT INTO dag_points (dag, exec_ts, kind, run, recorded) VALUES (?, ?, 'triggered', ?, ?)`, dag, at.getTime(), r.id, at.getTime());
      return r;
    });
    this.host.wake({ kind: 'tasks-written', count: 1 });
    return run;
  }

  async backfillRuns(dag: string, points: readonly Date[], params: Record<string, unknown>, at: Date): Promise<DagRun[]> {
    const runs = await this.host.write(() => {
      const row = this.get('SELECT * FROM dags WHERE id = ?', dag);
      if (!row) throw new NotFoundError(`DAG "${shown(dag)}" not found`, [{ path: 'dag', message: 'unknown DAG' }]);
      const d = dagFromRow(row);
      const tasks = structureFromRow(this.get('SELECT structure FROM dag_versions WHERE dag = ? AND version = ?', dag, d.version)!);
      return points.map((p) => this.insertRun(dag, d.version, tasks, p, 'backfill', params, at));
    });
    this.host.wake({ kind: 'tasks-written', count: runs.length });
    return runs;
  }

  async getDagRun(id: number): Promise<DagRun | null> {
    const r = this.get('SELECT * FROM dag_runs WHERE id = ?', id);
    return r ? dagRunFromRow(r) : null;
  }

  async listDagRuns(f: DagRunFilter): Promise<DagRun[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (f.dag !== undefined) (where.push('dag = ?'), params.push(f.dag));
    if (f.status !== undefined) (where.push('status = ?'), params.push(f.status));
    if (f.beforeId !== undefined) (where.push('id < ?'), params.push(f.beforeId));
    const sql = `SELECT * FROM dag_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return this.all(sql, ...params, f.limit ?? 100).map(dagRunFromRow);
  }

  async activeDagRuns(limit: number): Promise<DagRun[]> {
    return this.all(`SELECT * FROM dag_runs INDEXED BY dag_runs_active WHERE status IN ('scheduled', 'running') ORDER BY dag, exec_ts, id LIMIT ?`, limit).map(dagRunFromRow);
  }

  async dagRunTasks(runId: number): Promise<DagTaskRow[]> {
    return this.all(DAG_RUN_TASKS_SQL, runId).map(dagTaskFromRow);
  }

  async dagTaskCounts(runIds: readonly number[]) {
    const out = new Map<number, Partial<Record<DagTaskStatus, number>>>();
    if (runIds.length === 0) return out;
    const rows = this.all(
      `SELECT run, status, count(*) AS n FROM dag_task_instances WHERE run IN (SELECT value FROM json_each(?)) GROUP BY run, status`,
      JSON.stringify(runIds),
    );
    for (const r of rows) {
      const m = out.get(Number(r.run)) ?? {};
      m[r.status as DagTaskStatus] = Number(r.n);
      out.set(Number(r.run), m);
    }
    return out;
  }

  async applyDagStep(runId: number, rev: number, step: DagStep, at: Date): Promise<DagRun | null> {
    const now = at.getTime();
    const run = await this.host.write(() => {
      let status = step.status;
      if (status === 'running' && step.limit) {
        // In the write transaction: the count and the start are one decision among concurrent starts.
        const own = this.get('SELECT dag FROM dag_runs WHERE id = ?', runId);
        if (!own) return null;
        const n = this.get(`SELECT count(*) AS n FROM dag_runs WHERE dag = ? AND status = 'running' AND id <> ?`, own.dag, runId)!;
        status = startStatus(n.n as number, step.limit.running, step.limit.over);
        if (status === null) return null;
      }
      const row = this.get(
        `UPDATE dag_runs SET rev = rev + 1, status = coalesce(?, status),
           started = CASE WHEN ? = 'running' AND started IS NULL THEN ? ELSE started END,
           ended = CASE WHEN ? IN ('success', 'failed') THEN max(coalesce(started, 0), ?) WHEN ? IN ('running', 'scheduled') THEN NULL ELSE ended END,
           restarts = restarts + ?
         WHERE id = ? AND rev = ? RETURNING *`,
        status, status, now, status, step.ended?.getTime() ?? now, status, step.restart ? 1 : 0, runId, rev,
      );
      if (!row) return null;
      const update = this.db.prepare(
        `UPDATE dag_task_instances SET status = ?, attempt = ?, retries_left = ?, lost = ?, started = ?, ended = ?, error = ?, result = ? WHERE run = ? AND task_id = ?`,
      );
      for (const c of step.changes) update.run(c.status, c.attempt, c.retriesLeft, c.lost, ms(c.started), ms(c.ended), c.error, resultText(c.result), runId, c.taskId);
      if (step.attempts.length > 0) {
        const created = this.host.insertTasks(step.attempts.map((a) => a.task), at);
        const insert = this.db.prepare(
          `INSERT INTO dag_task_attempts (run, task_id, attempt, orrery_task, not_before, created) VALUES (?, ?, ?, ?, ?, ?)`,
        );
        step.attempts.forEach((a, i) => insert.run(runId, a.taskId, a.attempt, created[i]!.task.id, a.notBefore.getTime(), now));
      }
      for (const alert of step.alerts ?? []) this.host.insertAlert({ source: 'dag', alert, recorded: at });
      return dagRunFromRow(row);
    });
    if (run) this.host.wake({ kind: 'tasks-written', count: step.attempts.length });
    return run;
  }

  async listDagPoints(dag: string, limit: number): Promise<DagPoint[]> {
    return this.all('SELECT * FROM dag_points WHERE dag = ? ORDER BY id DESC LIMIT ?', dag, limit).map(dagPointFromRow);
  }

  async dagAttempts(runId: number, taskId?: string): Promise<DagAttempt[]> {
    const rows =
      taskId === undefined
        ? this.all('SELECT * FROM dag_task_attempts WHERE run = ? ORDER BY task_id, attempt', runId)
        : this.all('SELECT * FROM dag_task_attempts WHERE run = ? AND task_id = ? ORDER BY attempt', runId, taskId);
    return rows.map(dagAttemptFromRow);
  }

  async setDagPause(id: string, pause: TypePause | null, at: Date) {
    const row = await this.host.write(() =>
      this.get('UPDATE dags SET paused_at = ?, paused_reason = ?, updated = ? WHERE id = ? RETURNING *', pause ? pause.at.getTime() : null, pause?.reason ?? null, at.getTime(), id),
    );
    if (!row) throw new NotFoundError(`DAG "${shown(id)}" not found`, [{ path: 'id', message: 'no such DAG' }]);
    this.host.wake({ kind: 'dags-changed' });
    return dagFromRow(row);
  }

  async dagRunCounts() {
    return this.all('SELECT dag, status, count(*) AS n FROM dag_runs GROUP BY dag, status ORDER BY dag, status').map((r) => ({
      dag: r.dag as string,
      status: r.status as DagRun['status'],
      count: Number(r.n),
    }));
  }
}
