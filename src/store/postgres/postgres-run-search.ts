import type pg from 'pg';
import { onlyFailures, type RunSearch } from '../../core/run-search.js';
import type { TaskRun } from '../../core/model.js';
import { runFromRow, type Row } from '../rows.js';

/** The SQL of a run search (core/run-search.ts): exported so a test can EXPLAIN it. */
export function runSearchSql(s: RunSearch): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const p = (v: unknown) => (params.push(v), `$${params.length}`);
  const time = s.by === 'ended' ? 'ended' : 'scheduled';
  if (s.by === 'ended') where.push('ended IS NOT NULL');
  if (s.since) where.push(`${time} >= ${p(s.since)}`);
  if (s.until) where.push(`${time} < ${p(s.until)}`);
  if (s.after) {
    if ('ended' in s.after) where.push(`(ended, id) < (${p(new Date(s.after.ended))}::timestamptz, ${p(s.after.id)}::bigint)`);
    else where.push(`id < ${p(s.after.id)}`);
  }
  // Spelled out for a search of failures only, so the planner sees the failures index's condition.
  if (s.statuses && onlyFailures(s)) where.push(`status IN ('failed', 'permfailed', 'lost')`);
  if (s.statuses) where.push(`status = ANY(${p(s.statuses)}::text[])`);
  if (s.type) where.push(`type = ${p(s.type)}`);
  if (s.worker) where.push(`worker = ${p(s.worker)}`);
  const order = s.by === 'ended' ? 'ended DESC, id DESC' : 'id DESC';
  return { sql: `SELECT * FROM task_runs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${p(s.limit)}`, params };
}

export async function searchRuns(pool: pg.Pool, s: RunSearch): Promise<TaskRun[]> {
  const { sql, params } = runSearchSql(s);
  return ((await pool.query(sql, params)).rows as Row[]).map(runFromRow);
}
