/**
 * Issue 9 item 5: the history reads walk their primary key backwards (no sort, no table scan) on both
 * stores: 50,000 metrics points over 5 pairs and 50,000 visits over 50 origins.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { PG_METRICS_HISTORY_SQL, PG_ORIGIN_VISITS_SQL } from '../../src/store/postgres/postgres-visit-history.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { SQLITE_HISTORY_READS } from '../../src/store/sqlite/sqlite-visit-history.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const LISTER = '11111111-1111-4111-8111-111111111111';
const AT = new Date('2026-06-01T00:00:00Z');

type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; 'Scan Direction'?: string; Plans?: PlanNode[] };
const nodes = (p: PlanNode): PlanNode[] => [p, ...(p.Plans ?? []).flatMap(nodes)];

describe('visit history reads are index-backed: PostgreSQL', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('visit_history_plans');
    await (await PostgresStore.open(db.url)).close();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(
      `INSERT INTO visit_metrics (lister_id, visit_type, updated, origins_known, origins_enabled, origins_never_visited, origins_with_pending_changes)
       SELECT $1, 't' || i, $2, 0, 0, 0, 0 FROM generate_series(1, 5) AS i`,
      [LISTER, AT],
    );
    await client.query(
      `INSERT INTO visit_metrics_history (lister_id, visit_type, at, origins_known, origins_enabled, origins_never_visited, origins_with_pending_changes)
       SELECT $1, 't' || (i % 5 + 1), $2::timestamptz - (i || ' minutes')::interval, i, i, i, i FROM generate_series(1, 50000) AS i`,
      [LISTER, AT],
    );
    await client.query(
      `INSERT INTO origin_visits (url, visit_type, at, status, snapshot, eventful)
       SELECT 'https://h/' || (i % 50), 'git', $1::timestamptz - (i || ' minutes')::interval, 'successful', 's' || i, i % 2 = 0 FROM generate_series(1, 50000) AS i`,
      [AT],
    );
    await client.query('ANALYZE visit_metrics_history; ANALYZE origin_visits; ANALYZE visit_metrics');
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const plan = async (sql: string, params: unknown[]) => nodes(((await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params)).rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan);

  it('the last points of each pair: a backward walk of visit_metrics_history_pkey per pair', async () => {
    const all = await plan(PG_METRICS_HISTORY_SQL, [null, null, '-infinity', 100]);
    const history = all.filter((n) => n['Relation Name'] === 'visit_metrics_history');
    expect(history.map((n) => [n['Node Type'], n['Index Name'], n['Scan Direction']])).toEqual([['Index Scan', 'visit_metrics_history_pkey', 'Backward']]);
    const { rows } = await client.query(PG_METRICS_HISTORY_SQL, [LISTER, 't3', AT, 7]);
    expect(rows).toHaveLength(0);
    expect((await client.query(PG_METRICS_HISTORY_SQL, [LISTER, 't3', '-infinity', 7])).rows).toHaveLength(7);
  });

  it("an origin's visits, newest first: a backward walk of origin_visits_pkey", async () => {
    const all = await plan(PG_ORIGIN_VISITS_SQL, ['https://h/7', 'git', 'infinity', 100]);
    expect(all.map((n) => n['Node Type'])).not.toContain('Sort');
    expect(all.map((n) => n['Node Type'])).not.toContain('Seq Scan');
    expect(all.find((n) => n['Relation Name'] === 'origin_visits')).toMatchObject({ 'Index Name': 'origin_visits_pkey', 'Scan Direction': 'Backward' });
  });
});

describe('visit history reads are index-backed: SQLite', () => {
  let dir: string;
  let db: Database.Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orrery-history-plans-'));
    const path = join(dir, 'o.db');
    await new SqliteStore(`sqlite:${path}`, path).close();
    db = new Database(path);
  });

  afterAll(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const plan = (sql: string, params: Record<string, unknown>) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(params) as Array<{ detail: string }>).map((r) => r.detail).join(' | ');

  it('both reads search their primary key index, without a temporary sort', () => {
    const points = plan(SQLITE_HISTORY_READS.lastPoints, { lister: LISTER, vt: 'git', since: 0, n: 10 });
    expect(points).toMatch(/SEARCH visit_metrics_history USING INDEX sqlite_autoindex_visit_metrics_history_1 \(lister_id=\? AND visit_type=\? AND at>\?\)/);
    expect(points).not.toMatch(/TEMP B-TREE/);
    const visits = plan(SQLITE_HISTORY_READS.visits, { url: 'u', vt: 'git', before: 0, n: 10 });
    expect(visits).toMatch(/SEARCH origin_visits USING INDEX sqlite_autoindex_origin_visits_1 \(url=\? AND visit_type=\? AND at<\?\)/);
    expect(visits).not.toMatch(/TEMP B-TREE/);
  });
});
