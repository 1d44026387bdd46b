import type Database from 'better-sqlite3';
import { DAG_BACKEND } from '../../core/dag.js';
import type { Task } from '../../core/model.js';
import { TASK_SCAN_LIMIT, searchPath, type TaskSearch, type TaskSearchRows } from '../../core/task-search.js';
import { taskFromRow, type Row } from '../rows.js';

type Sql = { sql: string; params: Record<string, unknown> };

/**
 * The SQL of a task search page (core/task-search.ts): one id-ordered range of the index its path
 * names (one per status, merged), the other filters checked on its rows, up to `scanEnd` when the
 * page is bounded. Exported so a test can EXPLAIN it.
 */
export function taskSearchSql(s: TaskSearch, scanEnd: number | null): Sql {
  const params: Record<string, unknown> = { limit: s.limit };
  const residual = residualWhere(s, params);
  if (scanEnd !== null) (residual.push('id <= @scanEnd'), (params.scanEnd = scanEnd));
  return { sql: ranges(s, params, '*', residual, '@limit', true), params };
}

/** The id of the TASK_SCAN_LIMIT-th task of the page's index range (none when fewer remain): a bounded page stops there. */
export function taskScanSql(s: TaskSearch): Sql {
  const params: Record<string, unknown> = { scan: TASK_SCAN_LIMIT, skip: TASK_SCAN_LIMIT - 1 };
  return { sql: `${ranges(s, params, 'id', [], '@scan', false)} OFFSET @skip`, params };
}

/**
 * The path's id-ordered ranges after the cursor, each with `extra` conditions, merged by id; with
 * `checked`, also the type, statuses and key that the path's index does not hold.
 */
function ranges(s: TaskSearch, params: Record<string, unknown>, columns: string, extra: string[], limit: string, checked: boolean): string {
  const path = searchPath(s);
  const where = [...extra];
  // Always a range of ids (from 0 on the first page), read in id order.
  where.push('id > @after');
  params.after = s.afterId ?? 0;
  const one = (from: string, conds: string[]) => `SELECT ${columns} FROM ${from} WHERE ${[...conds, ...where].join(' AND ') || '1'} ORDER BY id LIMIT ${limit}`;
  if (path.index === 'ids') {
    params.ids = JSON.stringify(s.ids);
    return one('tasks', ['id IN (SELECT value FROM json_each(@ids))', ...pathResidual(s, params, true)]);
  }
  if (path.index === 'concurrency_key') {
    params.key = s.concurrencyKey;
    return one('tasks INDEXED BY tasks_concurrency_key', ['concurrency_key = @key', ...(checked ? pathResidual(s, params, false) : [])]);
  }
  if (path.index === 'paused') {
    // Paused tasks only: one range of a type's, or all of them (the whole partial index, sorted by id).
    if (s.type !== null) params.type = s.type;
    const statuses = checked && s.statuses !== null ? ['status IN (SELECT value FROM json_each(@statuses))'] : [];
    if (statuses.length) params.statuses = JSON.stringify(s.statuses);
    return one('tasks INDEXED BY tasks_paused', ['paused_at IS NOT NULL', ...(s.type !== null ? ['type = @type'] : []), ...statuses]);
  }
  if (path.index === 'id') return one('tasks', []);
  const index = path.index === 'type_status' ? 'tasks_type_status' : 'tasks_status';
  if (path.index === 'type_status') params.type = s.type;
  const parts = path.statuses.map((status, i) => {
    params[`s${i}`] = status;
    return one(`tasks INDEXED BY ${index}`, [...(path.index === 'type_status' ? ['type = @type'] : []), `status = @s${i}`]);
  });
  if (parts.length === 1) return parts[0]!;
  return `SELECT ${columns} FROM (${parts.map((p) => `SELECT * FROM (${p})`).join(' UNION ALL ')}) ORDER BY id LIMIT ${limit}`;
}

/** Type, statuses and key when the path's index does not hold them (ids, concurrency key). */
function pathResidual(s: TaskSearch, params: Record<string, unknown>, withKey: boolean): string[] {
  const out: string[] = [];
  if (s.type !== null) (out.push('type = @type'), (params.type = s.type));
  if (s.statuses !== null) (out.push('status IN (SELECT value FROM json_each(@statuses))'), (params.statuses = JSON.stringify(s.statuses)));
  if (withKey && s.concurrencyKey !== null) (out.push('concurrency_key = @key'), (params.key = s.concurrencyKey));
  return out;
}

/** The filters no index of the path holds, checked on each row of its range. */
function residualWhere(s: TaskSearch, params: Record<string, unknown>): string[] {
  const out: string[] = [];
  if (s.priorityRank !== null) (out.push('priority_rank = @rank'), (params.rank = s.priorityRank));
  if (s.policy !== null) (out.push('policy = @policy'), (params.policy = s.policy));
  if (s.disabledReasons !== null) (out.push('disabled_reason IN (SELECT value FROM json_each(@reasons))'), (params.reasons = JSON.stringify(s.disabledReasons)));
  if (s.dagAttempts !== null) (out.push(`type ${s.dagAttempts ? 'IN' : 'NOT IN'} (SELECT name FROM task_types WHERE backend_name = @dag)`), (params.dag = DAG_BACKEND));
  if (s.paused === false) out.push('paused_at IS NULL');
  else if (s.paused === true && searchPath(s).index !== 'paused') out.push('paused_at IS NOT NULL');
  if (s.nextRunFrom !== null) (out.push('next_run >= @from'), (params.from = s.nextRunFrom.getTime()));
  if (s.nextRunBefore !== null) (out.push('next_run < @before'), (params.before = s.nextRunBefore.getTime()));
  if (s.args !== null) {
    // A string value of args or kwargs, at any depth; lower() folds ASCII letters only, as lowerAscii does.
    const test = s.args.match === 'prefix' ? 'substr(lower(j.atom), 1, length(@args)) = @args' : 'instr(lower(j.atom), @args) > 0';
    out.push(`EXISTS (SELECT 1 FROM json_tree(tasks.arguments) j WHERE j.type = 'text' AND ${test})`);
    params.args = s.args.text;
  }
  return out;
}

export class SqliteTaskSearch {
  private readonly cache = new Map<string, Database.Statement>();
  constructor(private readonly db: Database.Database) {}

  find(s: TaskSearch): TaskSearchRows<Task> {
    if (s.statuses !== null && s.statuses.length === 0) return { tasks: [], scanEnd: null };
    let scanEnd: number | null = null;
    if (searchPath(s).bounded) {
      const scan = taskScanSql(s);
      const row = this.stmt(scan.sql).get(scan.params) as { id: number } | undefined;
      scanEnd = row ? Number(row.id) : null;
    }
    const { sql, params } = taskSearchSql(s, scanEnd);
    const tasks = (this.stmt(sql).all(params) as Row[]).map(taskFromRow);
    return { tasks, scanEnd: tasks.length < s.limit ? scanEnd : null };
  }

  private stmt(sql: string): Database.Statement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      if (this.cache.size > 200) this.cache.clear();
      this.cache.set(sql, (stmt = this.db.prepare(sql)));
    }
    return stmt;
  }
}
