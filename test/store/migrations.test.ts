import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { SchemaTooNewError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/open-store.js';
import { loadMigrations } from '../../src/store/migrations.js';

const ledger = (dialect: string) =>
  loadMigrations(join(import.meta.dirname, '..', '..', 'src', 'store', dialect, 'migrations')).map((m) => ({ version: m.version, name: m.name }));
import { createTestDatabase } from '../support/postgres.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('migrations', () => {
  it('SQLite: concurrent first opens migrate once, record the ledger, and a newer schema is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-mig-'));
    dirs.push(dir);
    const url = `sqlite:${join(dir, 'o.db')}`;
    const stores = await Promise.all([1, 2, 3, 4].map(() => openStore(url)));
    await Promise.all(stores.map((s) => s.close()));
    const db = new Database(join(dir, 'o.db'));
    const sqlite = ledger('sqlite');
    expect(sqlite.slice(0, 3)).toEqual([
      { version: 1, name: '0001_init' },
      { version: 2, name: '0002_claim_order_index' },
      { version: 3, name: '0003_dags' },
    ]);
    expect(db.prepare('SELECT version, name FROM orrery_migrations ORDER BY version').all()).toEqual(sqlite);
    // the claim reads waiting runs of one type in claim order from the index, without sorting
    const plan = db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM task_runs INDEXED BY task_runs_claimable WHERE type = 'x' AND status = 'scheduled' ORDER BY priority_rank, scheduled, id LIMIT 10`).all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' | ')).not.toMatch(/TEMP B-TREE/);
    db.prepare('INSERT INTO orrery_migrations (version, name, applied_at) VALUES (99, ?, 0)').run('9999_future');
    db.close();
    const err = await openStore(url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect((err as Error).message).toBe(`database schema version 99 is newer than this Orrery (knows up to ${sqlite.length}); upgrade Orrery`);
  });

  it('PostgreSQL: concurrent first opens of an empty database migrate once under the advisory lock; a newer schema is refused', async () => {
    const db = await createTestDatabase('mig');
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public'); // an empty database
      const stores = await Promise.all([1, 2, 3, 4, 5, 6].map(() => openStore(db.url)));
      await Promise.all(stores.map((s) => s.close()));
      const { rows } = await admin.query('SELECT version, name FROM orrery_migrations ORDER BY version');
      expect(ledger('postgres').slice(0, 2)).toEqual([{ version: 1, name: '0001_init' }, { version: 2, name: '0002_dags' }]);
      expect(rows).toEqual(ledger('postgres'));
      await admin.query(`INSERT INTO orrery_migrations (version, name) VALUES (99, '9999_future')`);
      const err = await openStore(db.url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SchemaTooNewError);
    } finally {
      await admin.end();
      await db.drop();
    }
  });
});
