/** A SQLite database with rows in every Orrery table, and the ways to compare two copies of it (copy-to-*.test.ts). */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';

export const T0 = new Date('2026-11-01T00:00:00Z');
export const DAY = 86_400_000;

/** A SQLite database with rows in every table the copy fills. */
export async function populated(dir: string, name: string): Promise<{ path: string; o: Orrery }> {
  const path = join(dir, `${name}.db`);
  const o = await openOrrery({ db: `sqlite:${path}` });
  await o.createTaskType({ name: 'job', defaultIntervalMs: '1h', maxRunning: 5, rateLimit: { count: 100, perMs: 60_000 }, rateLimitPerKey: { count: 10, perMs: 60_000 } }, { at: T0 });
  await o.createTaskType({ name: 'fair', defaultIntervalMs: '1h', fairShare: true, fifoPerKey: true }, { at: T0 });
  await o.createTaskType({ name: 'git', defaultIntervalMs: '1d' }, { at: T0 });
  await o.createTaskType({ name: 'crawl', description: 'recurring', defaultIntervalMs: '1h', minIntervalMs: '10m', maxIntervalMs: '1d' }, { at: T0 });
  const old = await o.createTasks(
    Array.from({ length: 4 }, (_, i) => ({ type: 'job', arguments: { args: ['old', i], kwargs: { deep: { x: [1, 'é'] } } }, policy: 'oneshot' as const, nextRun: T0 })),
    { at: T0 },
  );
  for (const run of await o.scheduleDue({ at: T0 })) {
    await o.startRun(run.backendId, { at: T0 });
    await o.appendRunLogs(run.backendId, [{ at: T0, level: 'info', message: 'old work', attributes: { n: 1 } }]);
    await o.endRun(run.backendId, { status: 'eventful', result: { ok: true }, at: T0 });
  }
  expect((await o.archive({ before: new Date(T0.getTime() + DAY), at: new Date(T0.getTime() + 2 * DAY) })).tasks).toBe(old.length);

  const at = new Date(T0.getTime() + 3 * DAY);
  const tasks = await o.createTasks(
    [
      { type: 'job', arguments: { args: ['a'], kwargs: {} }, policy: 'oneshot', nextRun: at, key: 'k-a', concurrencyKey: 'tenant-1', priority: 'high' },
      { type: 'job', arguments: { args: ['b'], kwargs: {} }, policy: 'oneshot', nextRun: at, concurrencyKey: 'tenant-2' },
      { type: 'crawl', arguments: { args: ['https://example.org'], kwargs: {} }, policy: 'recurring', nextRun: at },
      { type: 'crawl', arguments: { args: ['cron'], kwargs: {} }, schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' } },
      { type: 'fair', arguments: { args: ['f'], kwargs: {} }, policy: 'oneshot', nextRun: at, concurrencyKey: 'team' },
      { type: 'crawl', arguments: { args: ['paused'], kwargs: {} }, policy: 'recurring', nextRun: at },
      { type: 'crawl', arguments: { args: ['disabled'], kwargs: {} }, policy: 'recurring', nextRun: at },
    ],
    { at },
  );
  await o.pauseTask(tasks[5]!.id, { reason: 'maintenance', at });
  await o.disableTasks([tasks[6]!.id], { at });
  const runs = await o.scheduleDue({ at });
  const claimed = await o.claimRuns({ at, worker: 'w1', types: ['job', 'crawl', 'fair'], limit: 10, startNow: 10 });
  expect(claimed.length).toBeGreaterThanOrEqual(3);
  const [first, second] = claimed.map((c) => c.run);
  await o.appendRunLogs(first!.backendId, [{ at, level: 'warn', message: 'slow', attributes: { ms: 1200 } }]);
  await o.endRun(first!.backendId, { status: 'failed', error: 'boom', at: new Date(at.getTime() + 1000) });
  expect((await o.store.alerts.waitingAlerts()).waiting).toBe(1); // its task alert (retries exhausted), a row of alerts
  expect(second!.status).toBe('started'); // left so: a held run
  expect(runs.length).toBeGreaterThan(0);
  await o.schedules.backfill(tasks[3]!.id, { from: '2026-10-01T00:00:00Z', to: '2026-10-05T00:00:00Z' });

  await o.dags.register([{ id: 'etl', schedule: { cron: '0 * * * *', tz: 'UTC' }, start: T0, catchUp: false, tasks: [{ id: 'extract' }, { id: 'load', after: ['extract'] }] }]);
  const dagRun = await o.dags.trigger('etl', { day: '2026-11-04' });
  await o.dags.progressAll();
  expect(dagRun.id).toBeGreaterThan(0);

  const lister = await o.visits.getOrCreateLister('forge', 'main', { at });
  await o.visits.updateLister({ id: lister.id, currentState: { page: 3 }, updated: lister.updated, lastListingFinishedAt: at }, { at });
  await o.visits.recordListedOrigins(
    [
      { listerId: lister.id, url: 'https://forge/1', visitType: 'git', extraLoaderArguments: { branch: 'main' } },
      { listerId: lister.id, url: 'https://forge/2', visitType: 'git' },
    ],
    { at },
  );
  await o.visits.setOriginsEnabled([{ url: 'https://forge/2', visitType: 'git' }], false);
  await o.visits.recordVisit('https://forge/1', 'git', 'successful', 'snap-1', at);
  await o.visits.updateMetrics({ at, keepHistory: 10 });
  await o.visits.scheduleVisits('git', 5, [{ policy: 'never_visited_oldest_update_first', weight: 1 }], { at });

  await o.registerWorker({ id: 'w1', host: 'h', pid: 1, types: ['job', 'crawl'], concurrency: 4 }, { at });
  await o.stopWorker('w1', { at });
  await o.close();
  return { path, o };
}

/**
 * A row in each table the workload above leaves empty (state the engine keeps while it runs: fair-share
 * cursors, rate and adaptive limits, the visit queue, archive progress), as the SQLite store writes them.
 */
export function seedTheRest(path: string): void {
  const db = new Database(path);
  const at = T0.getTime() + 3 * DAY;
  const seed: Record<string, string> = {
    fair_share_cursors: `INSERT INTO fair_share_cursors (type, cursor_key, used) VALUES ('fair', 'team', 2)`,
    rate_limit_starts: `INSERT INTO rate_limit_starts (type, started) VALUES ('job', ${at})`,
    rate_limit_key_starts: `INSERT INTO rate_limit_key_starts (type, concurrency_key, started) VALUES ('job', 'tenant-1', ${at})`,
    adaptive_rates: `INSERT INTO adaptive_rates (type, concurrency_key, count, since, decreased_at) VALUES ('job', 'tenant-1', 2.5, ${at}, ${at})`,
    visits_in_flight: `INSERT INTO visits_in_flight (task_id, url, visit_type, scheduled) VALUES (999, 'https://forge/9', 'git', ${at})`,
    visit_queue_positions: `INSERT INTO visit_queue_positions (visit_type, position) VALUES ('git', ${at / 1000})`,
    archive_progress: `INSERT INTO archive_progress (key, value, updated) VALUES ('file:/tmp/a.jsonl', '{"offset":12}', ${at})`,
  };
  for (const [table, sql] of Object.entries(seed)) {
    if ((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n === 0) db.exec(sql);
  }
  db.close();
}

/** Each table's rows, the same on both sides once each value is read back in one form. */
export async function expectSameRows(path: string, url: string): Promise<void> {
  const c = new pg.Client(url);
  await c.connect();
  const db = new Database(path, { readonly: true });
  try {
    const { rows: cols } = await c.query<{ table_name: string; column_name: string; udt_name: string }>(
      `SELECT table_name, column_name, udt_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'orrery_migrations' ORDER BY table_name, ordinal_position`,
    );
    const tables = new Map<string, typeof cols>();
    for (const col of cols) tables.set(col.table_name, [...(tables.get(col.table_name) ?? []), col]);
    expect(tables.size).toBeGreaterThanOrEqual(28);
    for (const [table, columns] of tables) {
      const norm = (row: Record<string, unknown>, side: 'sqlite' | 'pg') =>
        JSON.stringify(columns.map(({ column_name: name, udt_name: type }) => {
          const v = row[name];
          if (v === null || v === undefined) return null;
          if (type === 'timestamptz') return side === 'pg' ? (v as Date).getTime() : v;
          if (type === 'bool') return side === 'pg' ? Number(v) : v;
          if (type === 'jsonb' || type === 'json' || type === '_text') return canonical(side === 'sqlite' ? JSON.parse(v as string) : v);
          if (type.startsWith('int') || type.startsWith('float')) return Number(v);
          return v;
        }));
      const fromSqlite = (db.prepare(`SELECT * FROM ${table}`).all() as Array<Record<string, unknown>>).map((r) => norm(r, 'sqlite')).sort();
      const fromPg = (await c.query(`SELECT * FROM ${table}`)).rows.map((r: Record<string, unknown>) => norm(r, 'pg')).sort();
      expect(fromPg, table).toEqual(fromSqlite);
    }
  } finally {
    db.close();
    await c.end();
  }
}

/** JSON with its objects' keys sorted (jsonb keeps them in its own order). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

/** Everything a user reads through Orrery, as plain JSON. */
export async function view(o: Orrery, at: Date): Promise<unknown> {
  const tasks = await o.searchTasks({});
  const perTask = [];
  for (const t of tasks) {
    const runs = await o.listRuns(t.id, { last: 100 });
    perTask.push({ task: t, runs, logs: await Promise.all(runs.map((r) => o.getRunLogs(r.backendId))), backfills: await o.schedules.backfills(t.id) });
  }
  const dagRuns = await o.dags.runs({ limit: 100 });
  const listers = await o.visits.listListers();
  return JSON.parse(
    JSON.stringify({
      types: await o.listTaskTypes(),
      perTask,
      archivedTasks: await o.readArchivedTasks({ limit: 100 }),
      archivedRuns: await o.readArchivedRuns({ limit: 100 }),
      dags: await o.dags.list(),
      dagRuns: await Promise.all(dagRuns.map((r) => o.dags.run(r.id))),
      listers,
      origins: await o.visits.getListedOrigins({ limit: 100 }),
      stats: await o.visits.getVisitStats([{ url: 'https://forge/1', visitType: 'git' }, { url: 'https://forge/2', visitType: 'git' }]),
      visits: await o.visits.getOriginVisits('https://forge/1', 'git'),
      metrics: await o.visits.getMetrics(),
      history: await o.visits.getMetricsHistory({}),
      inFlight: await o.visits.countInFlight('git'),
      position: await o.visits.getQueuePosition('git'),
      workers: await o.listWorkers({ at }),
      queue: await o.queueStats({ at }),
    }),
  );
}

