import type Database from 'better-sqlite3';
import { onlyFailures, type RunSearch } from '../../core/run-search.js';
import type { TaskRun } from '../../core/model.js';
import { runFromRow, type Row } from '../rows.js';

/** The SQL of a run search (core/run-search.ts): exported so a test can EXPLAIN it. */
export function runSearchSql(s: RunSearch): { sql: string; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: s.limit };
  const time = s.by === 'ended' ? 'ended' : 'scheduled';
  if (s.by === 'ended') where.push('ended IS NOT NULL');
  if (s.since) (where.push(`${time} >= @since`), (params.since = s.since.getTime()));
  if (s.until) (where.push(`${time} < @until`), (params.until = s.until.getTime()));
  if (s.after) {
    if ('ended' in s.after) (where.push('(ended < @cEnded OR (ended = @cEnded AND id < @cId))'), (params.cEnded = s.after.ended), (params.cId = s.after.id));
    else (where.push('id < @cId'), (params.cId = s.after.id));
  }
  if (s.statuses && onlyFailures(s)) {
    // Spelled out so the failures index's condition is implied (a json_each list would not be).
    where.push(`status IN ('failed', 'permfailed', 'lost')`);
    if (s.statuses.length < 3) (where.push('status IN (SELECT value FROM json_each(@statuses))'), (params.statuses = JSON.stringify(s.statuses)));
  } else if (s.statuses) (where.push('status IN (SELECT value FROM json_each(@statuses))'), (params.statuses = JSON.stringify(s.statuses)));
  if (s.type) (where.push('type = @type'), (params.type = s.type));
  if (s.worker) (where.push('worker = @worker'), (params.worker = s.worker));
  const order = s.by === 'ended' ? 'ended DESC, id DESC' : 'id DESC';
  // Pinned: finished runs in their (ended, id) order; the planner would otherwise sort a type's runs.
  const from = s.by !== 'ended' ? 'task_runs' : onlyFailures(s) ? 'task_runs INDEXED BY task_runs_failures' : 'task_runs INDEXED BY task_runs_finished';
  return { sql: `SELECT * FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT @limit`, params };
}

export class SqliteRunSearch {
  private readonly cache = new Map<string, Database.Statement>();
  constructor(private readonly db: Database.Database) {}

  search(s: RunSearch): TaskRun[] {
    const { sql, params } = runSearchSql(s);
    let stmt = this.cache.get(sql);
    if (!stmt) this.cache.set(sql, (stmt = this.db.prepare(sql)));
    return (stmt.all(params) as Row[]).map(runFromRow);
  }
}
