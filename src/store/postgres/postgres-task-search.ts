import type pg from 'pg';
import { DAG_BACKEND } from '../../core/dag.js';
import type { Task } from '../../core/model.js';
import { TASK_SCAN_LIMIT, searchPath, type TaskSearch, type TaskSearchRows } from '../../core/task-search.js';
import { taskFromRow, type Row } from '../rows.js';

type Sql = { sql: string; params: unknown[] };
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * The SQL of a task search page (core/task-search.ts): one id-ordered range of the index its path
 * names (one per status, merged), the other filters checked on its rows, up to `scanEnd` when the
 * page is bounded. Exported so a test can EXPLAIN it.
 */
export function taskSearchSql(s: TaskSearch, scanEnd: number | null): Sql {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const residual = residualWhere(s, p);
  if (scanEnd !== null) residual.push(`id <= ${p(scanEnd)}`);
  return { sql: ranges(s, p, '*', residual, p(s.limit), true), params };
}

/** The id of the TASK_SCAN_LIMIT-th task of the page's index range (none when fewer remain): a bounded page stops there. */
export function taskScanSql(s: TaskSearch): Sql {
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const sql = ranges(s, p, 'id', [], p(TASK_SCAN_LIMIT), false);
  return { sql: `${sql} OFFSET ${p(TASK_SCAN_LIMIT - 1)}`, params };
}

type P = (v: unknown) => string;

/** Above every task id: the closed end of a row range `(lead, id) <= (value, MAX_ID)`. */
const MAX_ID = '9223372036854775807';

/**
 * The path's id-ordered ranges after the cursor, each with `extra` conditions, merged by id; with
 * `checked`, also the type, statuses and key the path's index does not hold.
 *
 * A range of an index `(lead…, id)` is written as a row comparison on `(lead…, id)` and ordered by
 * `lead…, id`, not as `lead = value … ORDER BY id`: with equalities the primary key (or, for a type
 * and a status, the status index) gives the same id order, and the planner (which takes type and status as independent, and rows as spread evenly
 * over ids) walks it whenever the statistics say the range holds most tasks. Tasks of one type
 * created after a million of another then cost a page a walk over the million (1.2 s). Only the
 * range's own index gives the order `lead…, id`, so every page reads its index range.
 */
function ranges(s: TaskSearch, p: P, columns: string, extra: string[], limit: string, checked: boolean): string {
  const path = searchPath(s);
  const after = p(s.afterId ?? 0); // always a range of ids (from 0 on the first page), read in id order
  const byId = (conds: string[]) =>
    `SELECT ${columns} FROM tasks WHERE ${[...conds, `id > ${after}`, ...extra].join(' AND ')} ORDER BY id LIMIT ${limit}`;
  // The index's leading columns equal to values, as a row range (no equality: see above).
  const range = (conds: string[], lead: string, value: string) =>
    `SELECT ${columns} FROM tasks WHERE ${[...conds, `(${lead}, id) > (${value}, ${after})`, `(${lead}, id) <= (${value}, ${MAX_ID})`, ...extra].join(' AND ')} ORDER BY ${lead}, id LIMIT ${limit}`;
  if (path.index === 'ids') return byId([`id = ANY(${p(s.ids)}::bigint[])`, ...pathResidual(s, p, true)]);
  if (path.index === 'concurrency_key') {
    // (the partial index's predicate, which the planner does not derive from a row comparison)
    return range(['concurrency_key IS NOT NULL', ...(checked ? pathResidual(s, p, false) : [])], 'concurrency_key', p(s.concurrencyKey));
  }
  if (path.index === 'paused') {
    // Paused tasks only (tasks_paused): one range of a type's, or all of them sorted by id.
    const statuses = checked && s.statuses !== null ? [`status = ANY(${p(s.statuses)}::text[])`] : [];
    if (s.type === null) return byId(['paused_at IS NOT NULL', ...statuses]);
    return range(['paused_at IS NOT NULL', ...statuses], 'type', p(s.type));
  }
  if (path.index === 'id') return byId([]);
  const type = path.index === 'type_status' ? p(s.type) : null;
  const parts = path.statuses.map((status) => (type === null ? range([], 'status', p(status)) : range([], 'type, status', `${type}, ${p(status)}`)));
  if (parts.length === 1) return parts[0]!;
  return `SELECT ${columns} FROM (${parts.map((x) => `(${x})`).join(' UNION ALL ')}) AS t ORDER BY id LIMIT ${limit}`;
}

/** Type, statuses and key when the path's index does not hold them (ids, concurrency key). */
function pathResidual(s: TaskSearch, p: P, withKey: boolean): string[] {
  const out: string[] = [];
  if (s.type !== null) out.push(`type = ${p(s.type)}`);
  if (s.statuses !== null) out.push(`status = ANY(${p(s.statuses)}::text[])`);
  if (withKey && s.concurrencyKey !== null) out.push(`concurrency_key = ${p(s.concurrencyKey)}`);
  return out;
}

/** The filters no index of the path holds, checked on each row of its range. */
function residualWhere(s: TaskSearch, p: P): string[] {
  const out: string[] = [];
  if (s.priorityRank !== null) out.push(`priority_rank = ${p(s.priorityRank)}`);
  if (s.policy !== null) out.push(`policy = ${p(s.policy)}`);
  if (s.disabledReasons !== null) out.push(`disabled_reason = ANY(${p(s.disabledReasons)}::text[])`);
  if (s.dagAttempts !== null) out.push(`type ${s.dagAttempts ? 'IN' : 'NOT IN'} (SELECT name FROM task_types WHERE backend_name = ${p(DAG_BACKEND)})`);
  if (s.paused === false) out.push('paused_at IS NULL');
  else if (s.paused === true && searchPath(s).index !== 'paused') out.push('paused_at IS NOT NULL');
  if (s.nextRunFrom !== null) out.push(`next_run >= ${p(s.nextRunFrom)}`);
  if (s.nextRunBefore !== null) out.push(`next_run < ${p(s.nextRunBefore)}`);
  if (s.args !== null) {
    // A string value of args or kwargs, at any depth; translate() folds ASCII letters only, as lowerAscii does.
    const value = `translate(v #>> '{}', '${UPPER}', '${UPPER.toLowerCase()}')`;
    const n = p(s.args.text);
    const test = s.args.match === 'prefix' ? `starts_with(${value}, ${n})` : `strpos(${value}, ${n}) > 0`;
    out.push(`EXISTS (SELECT 1 FROM jsonb_path_query(tasks.arguments, 'strict $.**') AS v WHERE jsonb_typeof(v) = 'string' AND ${test})`);
  }
  return out;
}

export async function findTasks(pool: pg.Pool, s: TaskSearch): Promise<TaskSearchRows<Task>> {
  if (s.statuses !== null && s.statuses.length === 0) return { tasks: [], scanEnd: null };
  let scanEnd: number | null = null;
  if (searchPath(s).bounded) {
    const scan = taskScanSql(s);
    const [row] = (await pool.query(scan.sql, scan.params)).rows as Row[];
    scanEnd = row ? Number(row.id) : null;
  }
  const { sql, params } = taskSearchSql(s, scanEnd);
  const tasks = ((await pool.query(sql, params)).rows as Row[]).map(taskFromRow);
  return { tasks, scanEnd: tasks.length < s.limit ? scanEnd : null };
}
