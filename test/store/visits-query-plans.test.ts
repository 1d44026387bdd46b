/**
 * Issue 8: grabbing 1,000 from millions of listed origins must be index-backed on both stores. Each
 * policy's query reads its own partial index in the policy's order (no sort, no table scan): here with
 * 500,000 origins on PostgreSQL (after ANALYZE) and through the pinned index on SQLite.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VISIT_POLICIES } from '../../src/core/visits.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { grabSql } from '../../src/store/postgres/postgres-visits.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { sqliteGrabSql } from '../../src/store/sqlite/sqlite-visits.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const ORIGINS = 500_000;
const AT = new Date('2026-06-01T00:00:00Z');
const LISTER = '11111111-1111-4111-8111-111111111111';

type PlanNode = { 'Node Type': string; 'Index Name'?: string; Plans?: PlanNode[] };
const nodes = (p: PlanNode): PlanNode[] => [p, ...(p.Plans ?? []).flatMap(nodes)];

describe('visit grabs are index-backed: PostgreSQL, 500,000 listed origins', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('visit_plans');
    await (await PostgresStore.open(db.url)).close();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`INSERT INTO listers (id, name, instance_name, created, updated, last_listing_finished_at) VALUES ($1, 'l', '', $2, $2, $2)`, [LISTER, AT]);
    // half with a last update, a tenth visited (some since updated: a lag), a tenth scheduled recently
    await client.query(
      `INSERT INTO listed_origins (lister_id, url, visit_type, last_update, first_seen, last_seen, last_scheduled, last_visit, last_visit_status, last_successful)
       SELECT $1, 'https://h/' || i, 'git', CASE WHEN i % 2 = 0 THEN $2::timestamptz - (i || ' seconds')::interval END, $2, $2,
              CASE WHEN i % 10 IN (0, 1) THEN $2::timestamptz - interval '1 day' END,
              CASE WHEN i % 10 = 0 THEN $2::timestamptz - interval '20 hours' END,
              CASE WHEN i % 10 = 0 THEN 'successful' END,
              CASE WHEN i % 10 = 0 THEN $2::timestamptz - interval '30 days' END
       FROM generate_series(1, $3::int) AS i`,
      [LISTER, AT, ORIGINS],
    );
    await client.query('ANALYZE listed_origins');
  }, 180_000);

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  for (const policy of VISIT_POLICIES) {
    it(`${policy}: one partial index scan in order, no sort, no sequential scan`, async () => {
      const byLister = policy === 'first_visits_after_listing';
      const t = (ms: number) => new Date(AT.getTime() - ms);
      const params = ['git', t(12 * 3600_000), t(7 * 86_400_000), t(14 * 86_400_000), t(31 * 86_400_000), 1000, ...(byLister ? [LISTER, AT] : [])];
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${grabSql(policy, byLister)}`, params);
      const all = nodes((rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0]!.Plan);
      expect(all.map((n) => n['Node Type'])).not.toContain('Sort');
      expect(all.map((n) => n['Node Type'])).not.toContain('Seq Scan');
      expect(all.some((n) => n['Node Type'] === 'Index Scan' && n['Index Name']!.startsWith('listed_origins_'))).toBe(true);
    });
  }
});

describe('visit grabs are index-backed: SQLite', () => {
  let dir: string;
  let db: Database.Database;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orrery-visit-plans-'));
    await new SqliteStore('sqlite:x', join(dir, 'o.db')).close(); // migrates
    db = new Database(join(dir, 'o.db'), { readonly: true });
  });
  afterAll(() => {
    db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const policy of VISIT_POLICIES) {
    it(`${policy}: searches its own index, in order (no temporary sort)`, () => {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sqliteGrabSql(policy, policy === 'first_visits_after_listing')}`).all({
        vt: 'git', abs: 0, sched: 0, failed: 0, nf: 0, lister: LISTER, listed: 0, n: 1000,
      }) as Array<{ detail: string }>).map((r) => r.detail);
      expect(plan.join('; ')).toMatch(/^SEARCH listed_origins USING INDEX listed_origins_\w+ \((lister_id=\? AND )?visit_type=\?/);
      expect(plan.join('; ')).not.toMatch(/TEMP B-TREE/);
    });
  }
});
