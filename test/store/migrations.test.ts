import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { SchemaTooNewError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/open-store.js';
import { loadMigrations } from '../../src/store/migrations.js';
import { applyMigrations } from '../../src/store/sqlite/sqlite-connection.js';

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

  it('SQLite: a database with run logs and DAG runs upgrades through the table rebuilds (0008 task_runs, 0014 dag_runs)', async () => {
    // An Orrery of schema 7 (before claim-ahead) that ran: a run with a log record, a DAG run with a
    // task instance and an attempt. Rebuilding task_runs and dag_runs under foreign keys failed the
    // whole upgrade ("FOREIGN KEY constraint failed") as soon as such child rows existed.
    const dir = mkdtempSync(join(tmpdir(), 'orrery-mig-'));
    dirs.push(dir);
    const file = join(dir, 'old.db');
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.pragma('foreign_keys = ON');
    const migrations = loadMigrations(join(import.meta.dirname, '..', '..', 'src', 'store', 'sqlite', 'migrations'));
    old.exec('CREATE TABLE orrery_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of migrations.slice(0, 7)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO orrery_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    old.exec(`
      INSERT INTO task_types (name, backend_name, backoff_factor, num_retries, retry_delay_ms, lease_ms, max_abandons, created)
        VALUES ('t', 't', 2, 1, 1000, 60000, 3, 0);
      INSERT INTO tasks (id, type, arguments, policy, schedule, next_run, status, retries_left, priority_rank, identity_key, created)
        VALUES (1, 't', '{"args":[],"kwargs":{}}', 'oneshot', '{"kind":"adaptive"}', 0, 'completed', 1, 1, 'k1', 0);
      INSERT INTO task_runs (id, task, type, backend_id, status, priority_rank, scheduled, started, ended, attempt)
        VALUES (1, 1, 't', '0b3b6a4e-5d0c-4d52-9b6e-2f6f5b1c8a11', 'eventful', 1, 0, 1, 2, 1);
      INSERT INTO run_logs (run, at, level, message) VALUES (1, 1, 'info', 'kept across the upgrade');
      INSERT INTO dags (id, version, schedule, start, catch_up, max_active_runs, created, updated) VALUES ('d', 'v1', '0 * * * *', 0, 0, 1, 0, 0);
      INSERT INTO dag_runs (id, dag, version, exec_ts, trigger, status, created) VALUES (1, 'd', 'v1', 0, 'manual', 'success', 0);
      INSERT INTO dag_task_instances (run, task_id, status, retries_left) VALUES (1, 'a', 'success', 0);
      INSERT INTO dag_task_attempts (run, task_id, attempt, orrery_task, not_before, created) VALUES (1, 'a', 1, 1, 0, 0);
    `);
    old.close();
    const store = await openStore(`sqlite:${file}`);
    try {
      const run = await store.getRun('0b3b6a4e-5d0c-4d52-9b6e-2f6f5b1c8a11');
      expect(run).toMatchObject({ id: 1, task: 1, status: 'eventful' });
      expect((await store.getRunLogs('0b3b6a4e-5d0c-4d52-9b6e-2f6f5b1c8a11')).map((l) => l.message)).toEqual(['kept across the upgrade']);
    } finally {
      await store.close();
    }
    const db = new Database(file);
    expect(db.prepare('SELECT max(version) AS v FROM orrery_migrations').get()).toEqual({ v: migrations.length });
    expect(db.prepare('SELECT count(*) AS n FROM dag_task_attempts').get()).toEqual({ n: 1 });
    expect(db.pragma('foreign_key_check')).toEqual([]);
    db.close();
  });

  it('SQLite: a migration that fails is named, and nothing of the upgrade is applied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-mig-'));
    dirs.push(dir);
    const file = join(dir, 'old.db');
    const old = new Database(file);
    const migrations = loadMigrations(join(import.meta.dirname, '..', '..', 'src', 'store', 'sqlite', 'migrations'));
    old.exec('CREATE TABLE orrery_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of migrations.slice(0, 13)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO orrery_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    old.exec('CREATE TABLE task_backfills (x INTEGER)'); // in the way of 0014, which creates it
    old.close();
    const err = await openStore(`sqlite:${file}`).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/^cannot open database .*: migration 0014_schedules: table task_backfills already exists$/);
    const db = new Database(file);
    expect(db.prepare('SELECT max(version) AS v FROM orrery_migrations').get()).toEqual({ v: 13 });
    db.close();
  });

  it('SQLite: a migration that drops a parent table without rebuilding it is rolled back; rows already orphaned before do not block', () => {
    const db = new Database(':memory:');
    const base = [
      { version: 1, name: '0001_a', sql: 'CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p (id));' },
      { version: 2, name: '0002_rows', sql: 'INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1);' },
    ];
    applyMigrations(db, base);
    db.pragma('foreign_keys = OFF');
    db.exec('INSERT INTO c VALUES (2, 99)'); // an orphan from before (rows deleted by hand)
    db.pragma('foreign_keys = ON');
    // A rebuild that keeps the rows: the old orphan is tolerated.
    const rebuild = { version: 3, name: '0003_rebuild', sql: 'CREATE TABLE p2 (id INTEGER PRIMARY KEY, x TEXT); INSERT INTO p2 (id) SELECT id FROM p; DROP TABLE p; ALTER TABLE p2 RENAME TO p;' };
    applyMigrations(db, [...base, rebuild]);
    // A migration that loses the parent rows: rolled back, named.
    const lossy = { version: 4, name: '0004_lossy', sql: 'CREATE TABLE p3 (id INTEGER PRIMARY KEY); DROP TABLE p; ALTER TABLE p3 RENAME TO p;' };
    expect(() => applyMigrations(db, [...base, rebuild, lossy])).toThrow(
      'migration 0004_lossy: the upgrade would leave 1 row(s) without their parent (first: c row 1 -> p); nothing was applied',
    );
    expect(db.prepare('SELECT max(version) AS v FROM orrery_migrations').get()).toEqual({ v: 3 });
    expect(db.prepare('SELECT count(*) AS n FROM p').get()).toEqual({ n: 1 });
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
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
  // A database migrated by a development build whose migration of a number was later rewritten (0020
  // task_alerts, renamed 0020_alerts before release) was taken as current: every command then failed
  // with "no such table: alerts" (SQLite), every run end with "relation alerts does not exist" (PostgreSQL).
  it.each(['sqlite', 'postgres'] as const)('%s: a ledger whose migration of a number has another name is refused, naming both, and nothing is applied', async (dialect) => {
    const shipped = ledger(dialect);
    const renamed = shipped.at(-2)!; // the second to last: the last is then pending
    const message = `database schema mismatch: its migration ${renamed.version} is 9999_other_build, this Orrery's is ${renamed.name} (it was migrated by another build of Orrery, whose migrations differ); nothing was applied: open it with the build that made it, or use a new database`;
    if (dialect === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'orrery-mig-'));
      dirs.push(dir);
      const file = join(dir, 'o.db');
      await (await openStore(`sqlite:${file}`)).close();
      const db = new Database(file);
      db.prepare('UPDATE orrery_migrations SET name = ? WHERE version = ?').run('9999_other_build', renamed.version);
      db.prepare('DELETE FROM orrery_migrations WHERE version = ?').run(shipped.length);
      db.close();
      const err = await openStore(`sqlite:${file}`).catch((e: unknown) => e);
      expect((err as Error).message).toBe(`cannot open database ${file}: ${message}`);
      const after = new Database(file);
      expect(after.prepare('SELECT max(version) AS v FROM orrery_migrations').get()).toEqual({ v: shipped.length - 1 });
      after.close();
      return;
    }
    const db = await createTestDatabase('mig_names');
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query('UPDATE orrery_migrations SET name = $1 WHERE version = $2', ['9999_other_build', renamed.version]);
      const err = await openStore(db.url).catch((e: unknown) => e);
      expect((err as Error).message).toBe(message); // current by number: refused on the read, before any lock
      await admin.query('DELETE FROM orrery_migrations WHERE version = $1', [shipped.length]);
      const pending = await openStore(db.url).catch((e: unknown) => e);
      expect((pending as Error).message).toBe(message);
      expect((await admin.query('SELECT max(version) AS v FROM orrery_migrations')).rows).toEqual([{ v: shipped.length - 1 }]);
    } finally {
      await admin.end();
      await db.drop();
    }
  });

  it('PostgreSQL: a failing migration is named and nothing of the upgrade is applied; a role without CREATE is told so', async () => {
    const db = await createTestDatabase('migfail');
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      await admin.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
      const all = loadMigrations(join(import.meta.dirname, '..', '..', 'src', 'store', 'postgres', 'migrations'));
      await admin.query(`CREATE TABLE orrery_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      for (const m of all.slice(0, 13)) {
        await admin.query(m.sql);
        await admin.query('INSERT INTO orrery_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      await admin.query('CREATE TABLE workers (x int)'); // in the way of 0014_workers
      const err = await openStore(db.url).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/^migrating postgres:\/\/.* failed: migration 0014_workers: relation "workers" already exists$/);
      expect((await admin.query('SELECT max(version) AS v FROM orrery_migrations')).rows).toEqual([{ v: 13 }]);
      await admin.query('DROP TABLE workers');
      // A role that may connect but not create in the schema.
      const role = `mig_${db.name}`.slice(0, 60);
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
      await admin.query(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
      await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await admin.query(`GRANT SELECT, INSERT ON orrery_migrations TO ${role}`);
      const u = new URL(db.url);
      u.username = role;
      u.password = 'pw';
      const denied = await openStore(u.toString()).catch((e: unknown) => e);
      expect((denied as Error).message).toMatch(/failed \(migrations need CREATE on the database's schema: run them once as the tables' owner, docs\/postgres.md#roles-and-privileges\): permission denied for schema public$/);
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    } finally {
      await admin.end();
      await db.drop();
    }
  });
});
