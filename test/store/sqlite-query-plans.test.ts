/**
 * The SQLite counterpart of postgres-query-plans for the metrics scrape: queue stats must read only
 * the partial indexes over waiting and leased runs and each type's disabled tasks, never a table scan
 * of task_runs or tasks (which grow with finished runs and idle tasks).
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QUEUE_STATS_SQL, SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { RUN_RATES_SQL, RUN_SERIES_SQL, WORKER_ACTIVITY_SQL } from '../../src/store/sqlite/sqlite-stats.js';
import { searchPath, taskSearch, type TaskSearchInput } from '../../src/core/task-search.js';
import { taskScanSql, taskSearchSql } from '../../src/store/sqlite/sqlite-task-search.js';
import { RENEW_MANY_SQL } from '../../src/store/sqlite/sqlite-held-ends.js';
import { DUE_OF_TYPE_SQL, HELD_BY_SQL, TYPES_DUE_SQL } from '../../src/store/sqlite/sqlite-queries.js';
import { PRUNE_ADAPTIVE_SQL } from '../../src/store/sqlite/sqlite-adaptive-rates.js';

describe('SQLite queue stats plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses task_runs_claimable, task_runs_leases, tasks_type_status and tasks_paused, and scans neither table', async () => {
    const path = join(dir, 'orrery.db');
    await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      const details = (db.prepare(`EXPLAIN QUERY PLAN ${QUEUE_STATS_SQL}`).all() as Array<{ detail: string }>).map((r) => r.detail);
      const touching = details.filter((d) => /\b(task_runs|tasks)\b/.test(d));
      expect(touching.filter((d) => !/USING (COVERING )?INDEX/.test(d)), details.join('\n')).toEqual([]);
      expect(touching.map((d) => /INDEX (\w+)/.exec(d)![1]).sort()).toEqual(['task_runs_claimable', 'task_runs_leases', 'tasks_paused', 'tasks_type_status']);
    } finally {
      db.close();
    }
  });
});

describe('SQLite runner pass plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the types with due work from tasks_due, one probe per type, scanning no task', async () => {
    const path = join(dir, 'orrery.db');
    await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      const sql = (db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'tasks_due'`).get() as { sql: string }).sql;
      expect(sql).toMatch(/paused_at IS NULL/);
      const details = (db.prepare(`EXPLAIN QUERY PLAN ${TYPES_DUE_SQL}`).all(0) as Array<{ detail: string }>).map((r) => r.detail);
      const touching = details.filter((d) => /\btasks\b/.test(d));
      expect(touching, details.join("\n")).toEqual([expect.stringMatching(/^SEARCH tasks (EXISTS )?USING (COVERING )?INDEX tasks_due \(type=\? AND priority_rank=\? AND next_run<\?\)/)]);
    } finally {
      db.close();
    }
  });
});

describe('SQLite adaptive rates prune plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("seeks the stale rates of the type by since, not every throttled key of the type", async () => {
    const path = join(dir, 'orrery.db');
    await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      const details = (db.prepare(`EXPLAIN QUERY PLAN ${PRUNE_ADAPTIVE_SQL}`).all('t', 0) as Array<{ detail: string }>).map((r) => r.detail);
      expect(details).toEqual(['SEARCH adaptive_rates USING INDEX adaptive_rates_since (type=? AND since<?)']);
    } finally {
      db.close();
    }
  });
});

describe('SQLite dashboard stats plans', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads run rates and workers from task_runs_finished and task_runs_leases, never scanning task_runs', async () => {
    const path = join(dir, 'orrery.db');
    await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      for (const [sql, indexes] of [
        [RUN_RATES_SQL, ['task_runs_finished']],
        [WORKER_ACTIVITY_SQL, ['task_runs_finished', 'task_runs_leases']],
      ] as const) {
        const details = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ since: 0, at: 1 }) as Array<{ detail: string }>).map((r) => r.detail);
        const touching = details.filter((d) => /^(SCAN|SEARCH) (task_runs|r)\b/.test(d)); // r: task_runs in WORKER_ACTIVITY_SQL
        expect(touching.filter((d) => !/USING (COVERING )?INDEX/.test(d)), details.join('\n')).toEqual([]);
        expect([...new Set(touching.map((d) => /INDEX (\w+)/.exec(d)![1]))].sort()).toEqual(indexes);
      }
      // The range charts: one range of task_runs_finished, materialized once for the counts and the latencies.
      const series = (db.prepare(`EXPLAIN QUERY PLAN ${RUN_SERIES_SQL}`).all({ since: 0, until: 1, bucket: 60_000, type: null }) as Array<{ detail: string }>).map((r) => r.detail);
      expect(series.filter((d) => /\btask_runs\b/.test(d)), series.join('\n')).toEqual([expect.stringMatching(/^SEARCH task_runs USING INDEX task_runs_finished \(ended>\? AND ended<\?\)$/)]);
    } finally {
      db.close();
    }
  });
});

describe('SQLite task search plans', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Each page is one id-ordered range of its index per status (merged), or of the primary key; never a
  // scan of tasks, and never a sort of a whole range (the ranges are read in id order, LIMIT at a time).
  const cases: Array<[string, TaskSearchInput, string[]]> = [
    ['a type, every status', { type: 'load-git' }, ['tasks_type_status']],
    ['a type and two statuses, next page', { type: 'load-git', status: 'disabled,completed', cursor: '500' }, ['tasks_type_status']],
    ['a status', { status: 'next_run_not_scheduled' }, ['tasks_status']],
    ['a concurrency key with a type', { concurrencyKey: 'k', type: 'load-git' }, ['tasks_concurrency_key']],
    ['argument text within a type', { type: 'load-git', args: 'github.com/org' }, ['tasks_type_status']],
    ['priority and next-run range within a status', { status: 'next_run_not_scheduled', priority: 'high', nextRunBefore: '2026-01-01T00:00:00Z' }, ['tasks_status']],
    ['argument text over every task', { args: 'example', argsMatch: 'prefix' }, []], // the primary key's range
    ['every task', {}, []],
    ['these ids', { ids: [3, 1, 2], status: 'disabled' }, []],
    ['paused tasks of a type', { paused: true, type: 'load-git' }, ['tasks_paused']],
    ['not paused, within a type', { paused: false, type: 'load-git' }, ['tasks_type_status']],
  ];

  it.each(cases)('%s reads its index range in id order', async (_name, input, indexes) => {
    const path = join(dir, 'orrery.db');
    if (!existsSync(path)) await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      const s = taskSearch(input);
      const queries = [taskSearchSql(s, searchPath(s).bounded ? 12_345 : null), ...(searchPath(s).bounded ? [taskScanSql(s)] : [])];
      for (const { sql, params } of queries) {
        const details = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as Array<{ detail: string }>).map((r) => r.detail);
        const onTasks = details.filter((d) => /^(SCAN|SEARCH) tasks\b/.test(d));
        expect(onTasks.length, details.join('\n')).toBeGreaterThan(0);
        // Every read of tasks is a range of an index (or of the primary key), never a full scan.
        expect(onTasks.filter((d) => !/^SEARCH tasks USING (COVERING )?(INDEX|INTEGER PRIMARY KEY)/.test(d)), details.join('\n')).toEqual([]);
        expect([...new Set(onTasks.map((d) => /INDEX (\w+)/.exec(d)?.[1]).filter(Boolean))].sort(), details.join('\n')).toEqual(indexes);
        // The ranges come out in id order: the only sorts are of pages (LIMIT rows) merged from several statuses.
        const sortsOfRanges = details.filter((d, i) => /USE TEMP B-TREE FOR ORDER BY/.test(d) && !/^SCAN \(subquery-\d+\)/.test(details[i - 1] ?? ''));
        expect(sortsOfRanges, details.join('\n')).toEqual([]);
      }
    } finally {
      db.close();
    }
  });

  it('paused tasks of every type read the partial index of paused tasks only (sorted by id: it holds paused tasks alone)', async () => {
    const path = join(dir, 'orrery.db');
    if (!existsSync(path)) await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      for (const input of [{ paused: true }, { paused: true, status: 'disabled' }] as TaskSearchInput[]) {
        const s = taskSearch(input);
        for (const { sql, params } of [taskSearchSql(s, searchPath(s).bounded ? 12_345 : null), ...(searchPath(s).bounded ? [taskScanSql(s)] : [])]) {
          const details = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as Array<{ detail: string }>).map((r) => r.detail);
          const onTasks = details.filter((d) => /^(SCAN|SEARCH) tasks\b/.test(d));
          expect(onTasks, details.join('\n')).toEqual([expect.stringMatching(/^SCAN tasks USING INDEX tasks_paused$/)]);
        }
      }
    } finally {
      db.close();
    }
  });
});

describe('SQLite worker heartbeat plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renews many held runs by their backend ids (the unique index); picks due tasks from tasks_due without a sort', async () => {
    const path = join(dir, 'orrery.db');
    await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      const details = (db.prepare(`EXPLAIN QUERY PLAN ${RENEW_MANY_SQL}`).all({ at: 0, bids: '[]', worker: 'w' }) as Array<{ detail: string }>).map((r) => r.detail);
      const runs = details.filter((d) => /\btask_runs\b/.test(d));
      expect(runs, details.join('\n')).toHaveLength(1);
      expect(runs[0], details.join('\n')).toMatch(/^SEARCH task_runs USING INDEX sqlite_autoindex_task_runs_\d+ \(backend_id=\?\)$/);
      const due = (db.prepare(`EXPLAIN QUERY PLAN ${DUE_OF_TYPE_SQL}`).all('t', 0, 10) as Array<{ detail: string }>).map((r) => r.detail);
      expect(due, 'due pick: one tasks_due range per rank, in index order (no sort)').toEqual(['SEARCH tasks USING INDEX tasks_due (type=? AND priority_rank=? AND next_run<?)']);
    } finally {
      db.close();
    }
  });
});

describe('SQLite claim recovery plan', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-plan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a worker's held runs from task_runs_leases, not every run in id order (scale audit)", async () => {
    const path = join(dir, 'orrery.db');
    await new SqliteStore(`sqlite:${path}`, path).close(); // migrates
    const db = new Database(path, { readonly: true });
    try {
      const details = (db.prepare(`EXPLAIN QUERY PLAN ${HELD_BY_SQL}`).all('w') as Array<{ detail: string }>).map((r) => r.detail);
      const runs = details.filter((d) => /\btask_runs\b|\br\b/.test(d) && /^(SCAN|SEARCH)/.test(d));
      expect(runs.some((d) => /task_runs_leases/.test(d)), details.join('\n')).toBe(true);
      expect(details.filter((d) => /^SCAN r\b/.test(d) && !/INDEX/.test(d)), details.join('\n')).toEqual([]);
    } finally {
      db.close();
    }
  });
});

