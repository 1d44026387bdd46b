/**
 * `copySqliteToPostgres` (docs/operations.md, "Moving from SQLite to PostgreSQL"): a SQLite database
 * with some of everything (task types with limits, tasks of each policy and state, runs in each
 * status with logs, an archive, DAG runs, a backfill, listers, origins, visits and their metrics,
 * workers) reads the same through Orrery on PostgreSQL after the copy, and PostgreSQL goes on from
 * there: new ids above every copied or archived one, due work claimed and ended.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { copySqliteToPostgres, type CopyProgress } from '../../src/store/copy/sqlite-to-postgres.js';
import { withClient } from '../support/postgres-admin.js';
import { createTestDatabase, pgBaseUrl } from '../support/postgres.js';
import { DAY, expectSameRows, populated, seedTheRest, T0, view } from './copy-fixtures.js';


let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'orrery-copy-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('copySqliteToPostgres', () => {
  it('copies every table: Orrery on PostgreSQL reads what it read on SQLite, and goes on from there', async () => {
    const { path } = await populated(dir, 'full');
    seedTheRest(path);
    const at = new Date(T0.getTime() + 3 * DAY + 60_000);
    const sqlite = await openOrrery({ db: `sqlite:${path}` });
    const before = await view(sqlite, at);
    await sqlite.close();
    const target = await createTestDatabase('copy');
    const progress: CopyProgress[] = [];
    const summary = await copySqliteToPostgres({ sqlitePath: path, postgresUrl: target.url, at, onProgress: (p) => progress.push(p) });

    // Every table of the SQLite database but its own bookkeeping has rows here, and all of them came over.
    const db = new Database(path, { readonly: true });
    const counts = Object.fromEntries(
      (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('orrery_migrations', 'orrery_id_floor') AND name NOT LIKE 'sqlite%'`).all() as Array<{ name: string }>).map((t) => [
        t.name,
        (db.prepare(`SELECT count(*) AS n FROM ${t.name}`).get() as { n: number }).n,
      ]),
    );
    const maxTaskId = (db.prepare('SELECT max(id) AS m FROM tasks').get() as { m: number }).m;
    const held = (db.prepare(`SELECT count(*) AS n FROM task_runs WHERE status = 'started'`).get() as { n: number }).n;
    db.close();
    expect(Object.fromEntries(summary.tables.map((t) => [t.table, t.rows]))).toEqual(counts);
    expect(Object.entries(counts).filter(([, n]) => n === 0)).toEqual([]);
    expect(held).toBeGreaterThanOrEqual(2);
    expect(summary.heldRuns).toBe(held);
    expect(summary.tables.findIndex((t) => t.table === 'task_types')).toBeLessThan(summary.tables.findIndex((t) => t.table === 'tasks'));
    expect(summary.tables.findIndex((t) => t.table === 'tasks')).toBeLessThan(summary.tables.findIndex((t) => t.table === 'task_runs'));
    expect(progress.filter((p) => p.done).map((p) => p.table)).toEqual(summary.tables.map((t) => t.table));

    await expectSameRows(path, target.url);
    const seen = before as { perTask: Array<{ runs: unknown[]; logs: unknown[][] }>; archivedRuns: unknown[]; dagRuns: unknown[]; origins: { origins: unknown[] }; workers: unknown[] };
    expect(seen.perTask.filter((t) => t.runs.length > 0 && t.logs.some((l) => l.length > 0)).length).toBeGreaterThan(0);
    expect([seen.archivedRuns.length, seen.dagRuns.length, seen.origins.origins.length, seen.workers.length].every((n) => n > 0)).toBe(true);

    const onPg = await openOrrery({ db: target.url });
    try {
      expect(await view(onPg, at)).toEqual(before);
      // New ids continue above every id the SQLite database handed out, archived ones included.
      const created = await onPg.createTask({ type: 'job', arguments: { args: ['new'], kwargs: {} }, policy: 'oneshot', nextRun: at }, { at });
      expect(created.id).toBeGreaterThan(maxTaskId);
      const archivedIds = (await onPg.readArchivedTasks({ limit: 100 })).map((t) => t.id);
      expect(created.id).toBeGreaterThan(Math.max(...archivedIds));
      // Due work runs on PostgreSQL.
      await onPg.scheduleDue({ at });
      const claimed = await onPg.claimRuns({ at, worker: 'w2', types: ['job'], limit: 10, startNow: 10 });
      const mine = (claimed.find((c) => c.run.task === created.id) ?? claimed[0]!).run;
      expect((await onPg.endRun(mine.backendId, { status: 'eventful', at })).run.status).toBe('eventful');
    } finally {
      await onPg.close();
      await target.drop();
    }
  });

  it('refuses a target that holds Orrery data, and a source with a live worker, copying nothing', async () => {
    const path = join(dir, 'small.db');
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.createTaskType({ name: 'job', defaultIntervalMs: '1h' }, { at: T0 });
    await o.registerWorker({ id: 'busy-1', host: 'h', pid: 7, types: ['job'], concurrency: 1 }, { at: T0 });
    await o.close();
    const target = await createTestDatabase('copy-refused');
    try {
      await expect(copySqliteToPostgres({ sqlitePath: path, postgresUrl: target.url, at: new Date(T0.getTime() + 10_000) })).rejects.toThrow(
        /1 worker is alive on the SQLite database \(busy-1\): stop every Orrery process using it first/,
      );
      // Seen 31 s ago: no longer alive, copied.
      await copySqliteToPostgres({ sqlitePath: path, postgresUrl: target.url, at: new Date(T0.getTime() + 31_000) });
      await expect(copySqliteToPostgres({ sqlitePath: path, postgresUrl: target.url, ignoreWorkers: true })).rejects.toThrow(
        /already holds Orrery data \(in task_types, workers\)/,
      );
    } finally {
      await target.drop();
    }
  });

  it('rejects a bad stored value naming its table, row and column, and leaves the target empty', async () => {
    const path = join(dir, 'bad.db');
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.createTaskType({ name: 'job', defaultIntervalMs: '1h' }, { at: T0 });
    await o.createTasks(Array.from({ length: 3 }, (_, i) => ({ type: 'job', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const, nextRun: T0 })), { at: T0 });
    await o.close();
    const db = new Database(path);
    db.prepare(`UPDATE tasks SET next_run = 'soon' WHERE id = 2`).run();
    db.close();
    const target = await createTestDatabase('copy-bad');
    try {
      await expect(copySqliteToPostgres({ sqlitePath: path, postgresUrl: target.url })).rejects.toThrow(
        'tasks (rowid 2): next_run: "soon" is not an instant in epoch milliseconds; nothing was copied',
      );
      // A value PostgreSQL refuses (jsonb holds no \u0000): the statement's rows are named.
      const again = new Database(path);
      again.prepare(`UPDATE tasks SET next_run = ?, arguments = '{"args":["a\\u0000b"],"kwargs":{}}' WHERE id = 2`).run(T0.getTime());
      again.close();
      await expect(copySqliteToPostgres({ sqlitePath: path, postgresUrl: target.url })).rejects.toThrow(
        /^tasks \(rowid 2\): PostgreSQL refused the row, so nothing was copied: unsupported Unicode escape sequence/,
      );
      const c = new pg.Client(target.url);
      await c.connect();
      try {
        expect((await c.query('SELECT (SELECT count(*) FROM task_types)::int AS types, (SELECT count(*) FROM tasks)::int AS tasks')).rows[0]).toEqual({ types: 0, tasks: 0 });
      } finally {
        await c.end();
      }
    } finally {
      await target.drop();
    }
  });

  it('hands out no id twice: the sequences continue above ids the SQLite store archived away', async () => {
    const path = join(dir, 'archived.db');
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.createTaskType({ name: 'job', defaultIntervalMs: '1h' }, { at: T0 });
    await o.createTasks(Array.from({ length: 3 }, (_, i) => ({ type: 'job', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const, nextRun: T0 })), { at: T0 });
    for (const run of await o.scheduleDue({ at: T0 })) {
      await o.startRun(run.backendId, { at: T0 });
      await o.endRun(run.backendId, { status: 'eventful', at: T0 });
    }
    expect(await o.archive({ before: new Date(T0.getTime() + 1), at: new Date(T0.getTime() + DAY) })).toMatchObject({ tasks: 3, runs: 3 });
    expect(await o.searchTasks({})).toEqual([]);
    await o.close();
    const target = await createTestDatabase('copy-floor');
    const onPg = await (async () => {
      await copySqliteToPostgres({ sqlitePath: path, postgresUrl: target.url });
      return openOrrery({ db: target.url });
    })();
    try {
      const t = await onPg.createTask({ type: 'job', arguments: { args: ['new'], kwargs: {} }, policy: 'oneshot', nextRun: T0 }, { at: T0 });
      expect(t.id).toBe(4);
      const [run] = await onPg.scheduleDue({ at: T0 });
      expect(run!.id).toBe(4);
      expect((await onPg.readArchivedTasks({ limit: 10 })).map((a) => a.id)).toEqual([1, 2, 3]);
    } finally {
      await onPg.close();
      await target.drop();
    }
    // A database whose sequence handed out more ids than the file (its rows deleted since): it keeps its place.
    const used = await createTestDatabase('copy-floor-used');
    try {
      await withClient(used.url, (c) => c.query(`SELECT setval('tasks_id_seq', 10)`));
      await copySqliteToPostgres({ sqlitePath: path, postgresUrl: used.url });
      const o2 = await openOrrery({ db: used.url });
      try {
        expect((await o2.createTask({ type: 'job', arguments: { args: ['after'], kwargs: {} }, policy: 'oneshot', nextRun: T0 }, { at: T0 })).id).toBe(11);
      } finally {
        await o2.close();
      }
    } finally {
      await used.drop();
    }
  });

  it('never changes the SQLite file: an older schema, a file that is not Orrery\'s and a refused copy leave it byte for byte', async () => {
    const target = await createTestDatabase('copy-as-is');
    try {
      const foreign = join(dir, 'foreign.db');
      const f = new Database(foreign);
      f.exec(`CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)`);
      f.close();
      const old = join(dir, 'old.db');
      const o = await openOrrery({ db: `sqlite:${old}` });
      await o.createTaskType({ name: 'job', defaultIntervalMs: '1h' }, { at: T0 });
      await o.close();
      const db = new Database(old);
      const latest = (db.prepare('SELECT max(version) AS v FROM orrery_migrations').get() as { v: number }).v;
      db.prepare('DELETE FROM orrery_migrations WHERE version = ?').run(latest); // as a file of the previous Orrery says
      db.close();
      const bytes = (p: string) => readFileSync(p).toString('base64');
      const before = [bytes(foreign), bytes(old)];
      await expect(copySqliteToPostgres({ sqlitePath: foreign, postgresUrl: target.url })).rejects.toThrow(/^sqlitePath: .*foreign\.db is not an Orrery database \(it has no orrery_migrations table\)$/);
      await expect(copySqliteToPostgres({ sqlitePath: old, postgresUrl: target.url })).rejects.toThrow(
        new RegExp(`^sqlitePath: .*old\\.db is at schema version ${latest - 1}, this Orrery's is ${latest}, and the copy does not change the file: upgrade it first`),
      );
      expect([bytes(foreign), bytes(old)]).toEqual(before);
      expect(existsSync(`${foreign}-wal`) || existsSync(`${old}-wal`)).toBe(false);
    } finally {
      await target.drop();
    }
  });

  it('leaves out a table of your own in the file; a role that may not set the sequences is refused before any row is sent', async () => {
    const path = join(dir, 'own-table.db');
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.createTaskType({ name: 'job', defaultIntervalMs: '1h' }, { at: T0 });
    await o.createTask({ type: 'job', arguments: { args: [], kwargs: {} }, policy: 'oneshot', nextRun: T0 }, { at: T0 });
    await o.close();
    const db = new Database(path);
    db.exec(`CREATE TABLE my_notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO my_notes (body) VALUES ('mine')`);
    db.close();
    const target = await createTestDatabase('copy-roles');
    const role = `copy_app_${randomBytes(4).toString('hex')}`;
    await withClient(target.url, async (c) => {
      // Tables of your own in the PostgreSQL database: one of the same name as the file's, one of its own.
      await c.query(`CREATE TABLE my_notes (body text); INSERT INTO my_notes VALUES ('theirs')`);
      await c.query(`CREATE TABLE app_users (id serial PRIMARY KEY, name text); INSERT INTO app_users (name) VALUES ('bob')`);
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
      await c.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
      await c.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    });
    const asRole = new URL(target.url);
    asRole.username = role;
    asRole.password = 'pw';
    try {
      await expect(copySqliteToPostgres({ sqlitePath: path, postgresUrl: asRole.toString(), onProgress: (p) => expect(p.copied).toBe(0) })).rejects.toThrow(
        `the role ${role} may not set the id sequences (`,
      );
      await expect(copySqliteToPostgres({ sqlitePath: path, postgresUrl: asRole.toString() })).rejects.toThrow(
        `), which the copy moves past the copied ids, so nothing was copied: GRANT UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${role}, or copy as the role that owns the tables`,
      );
      await withClient(target.url, (c) => c.query(`GRANT UPDATE ON ALL SEQUENCES IN SCHEMA public TO ${role}`));
      const s = await copySqliteToPostgres({ sqlitePath: path, postgresUrl: asRole.toString() });
      expect(s.skippedTables).toEqual(['my_notes']);
      expect(s.tables.find((t) => t.table === 'tasks')!.rows).toBe(1);
      expect(s.tables.map((t) => t.table)).not.toContain('app_users');
      await withClient(target.url, async (c) => {
        expect((await c.query('SELECT body FROM my_notes')).rows).toEqual([{ body: 'theirs' }]);
        expect((await c.query('SELECT name FROM app_users')).rows).toEqual([{ name: 'bob' }]);
      });
    } finally {
      await target.drop();
      await withClient(pgBaseUrl(), (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it('refuses a missing or in-memory source and a target that is not PostgreSQL', async () => {
    await expect(copySqliteToPostgres({ sqlitePath: join(dir, 'nope.db'), postgresUrl: 'postgres://x@127.0.0.1:1/db' })).rejects.toThrow(/^sqlitePath: no database at .*nope\.db$/);
    await expect(copySqliteToPostgres({ sqlitePath: ':memory:', postgresUrl: 'postgres://x@127.0.0.1:1/db' })).rejects.toThrow(/in-memory/);
    const path = join(dir, 'small.db');
    await expect(copySqliteToPostgres({ sqlitePath: path, postgresUrl: 'mysql://x/db' })).rejects.toThrow(/^postgresUrl: "mysql:\/\/x\/db" is not a valid PostgreSQL URL/);
  });
});
