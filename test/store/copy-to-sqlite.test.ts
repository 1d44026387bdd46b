/**
 * `copyPostgresToSqlite` (docs/operations.md, "And back"): a SQLite database with some of everything,
 * copied to PostgreSQL and back to a new SQLite file, reads the same through Orrery as the original,
 * row by row too; the file goes on with ids above every id PostgreSQL handed out; refusals write nothing.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { copyPostgresToSqlite } from '../../src/store/copy/postgres-to-sqlite.js';
import { copySqliteToPostgres } from '../../src/store/copy/sqlite-to-postgres.js';
import { withClient } from '../support/postgres-admin.js';
import { createTestDatabase, pgBaseUrl } from '../support/postgres.js';
import { DAY, expectSameRows, populated, seedTheRest, T0, view } from './copy-fixtures.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'orrery-copy-back-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rowsOf = (path: string, sql: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
};

describe('copyPostgresToSqlite', () => {
  it('SQLite to PostgreSQL and back: the new file reads as the original did, row by row too, and goes on above every id', async () => {
    const { path } = await populated(dir, 'original');
    seedTheRest(path);
    const at = new Date(T0.getTime() + 3 * DAY + 60_000);
    const o = await openOrrery({ db: `sqlite:${path}` });
    const before = await view(o, at);
    await o.close();
    const pg = await createTestDatabase('copy-back');
    try {
      await copySqliteToPostgres({ sqlitePath: path, postgresUrl: pg.url, at });
      // PostgreSQL hands out more ids before the copy back: the file must not hand them out again.
      const onPg = await openOrrery({ db: pg.url });
      const extra = await onPg.createTask({ type: 'job', arguments: { args: ['on pg'], kwargs: {} }, policy: 'oneshot', nextRun: at }, { at });
      expect(await onPg.bulkTasks('delete', { ids: [extra.id] }, { at })).toMatchObject({ changed: 1 });
      await onPg.close();

      const back = join(dir, 'back.db');
      const progress: string[] = [];
      const s = await copyPostgresToSqlite({ postgresUrl: pg.url, sqlitePath: back, at, onProgress: (p) => p.done && progress.push(p.table) });
      expect(s.rows).toBeGreaterThan(0);
      expect(s.heldRuns).toBeGreaterThanOrEqual(2);
      expect(progress).toEqual(s.tables.map((t) => t.table));
      await expectSameRows(back, pg.url);

      const again = await openOrrery({ db: `sqlite:${back}` });
      try {
        // The task PostgreSQL created and deleted is gone; everything else reads as the original.
        expect(await view(again, at)).toEqual(before);
        const next = await again.createTask({ type: 'job', arguments: { args: ['back on sqlite'], kwargs: {} }, policy: 'oneshot', nextRun: at }, { at });
        expect(next.id).toBeGreaterThan(extra.id);
      } finally {
        await again.close();
      }
    } finally {
      await pg.drop();
    }
  });

  it('refuses a file that holds Orrery data and a source with a live worker, writing nothing; leaves your own tables alone', async () => {
    const { path } = await populated(dir, 'source');
    const pg = await createTestDatabase('copy-back-refused');
    try {
      await copySqliteToPostgres({ sqlitePath: path, postgresUrl: pg.url, ignoreWorkers: true });
      await expect(copyPostgresToSqlite({ postgresUrl: pg.url, sqlitePath: path })).rejects.toThrow(/^the SQLite database already holds Orrery data \(in /);
      const onPg = await openOrrery({ db: pg.url });
      await onPg.registerWorker({ id: 'pg-worker', host: 'h', pid: 1, types: ['job'], concurrency: 1 }, { at: T0 });
      await onPg.close();
      const target = join(dir, 'mine.db');
      const mine = new Database(target);
      mine.exec(`CREATE TABLE my_notes (body TEXT); INSERT INTO my_notes VALUES ('kept')`);
      mine.close();
      await expect(copyPostgresToSqlite({ postgresUrl: pg.url, sqlitePath: target, at: new Date(T0.getTime() + 5_000) })).rejects.toThrow(
        /^1 worker is alive on the PostgreSQL database \(pg-worker\): stop every Orrery process using it first/,
      );
      const s = await copyPostgresToSqlite({ postgresUrl: pg.url, sqlitePath: target, at: new Date(T0.getTime() + 5_000), ignoreWorkers: true });
      expect(s.skippedTables).toEqual(['my_notes']);
      expect(rowsOf(target, 'SELECT body FROM my_notes')).toEqual([{ body: 'kept' }]);
      expect(rowsOf(target, 'SELECT count(*) AS n FROM tasks')).toEqual(rowsOf(path, 'SELECT count(*) AS n FROM tasks'));
    } finally {
      await pg.drop();
    }
  });

  it('a role that may not read the sequences is refused before the file is made; a value SQLite cannot take is named by its row\'s key', async () => {
    const { path } = await populated(dir, 'for-roles');
    const pg = await createTestDatabase('copy-back-roles');
    const role = `copy_ro_${randomBytes(4).toString('hex')}`;
    try {
      await copySqliteToPostgres({ sqlitePath: path, postgresUrl: pg.url, ignoreWorkers: true });
      await withClient(pg.url, async (c) => {
        await c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw'`);
        await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      });
      const asRole = new URL(pg.url);
      asRole.username = role;
      asRole.password = 'pw';
      const target = join(dir, 'ro.db');
      await expect(copyPostgresToSqlite({ postgresUrl: asRole.toString(), sqlitePath: target, ignoreWorkers: true })).rejects.toThrow(
        new RegExp(`^the role ${role} may not read the id sequences \\(.*tasks_id_seq.*\\), from which the copy sets the file's id floors, so nothing was copied: GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`),
      );
      expect(existsSync(target)).toBe(false);
      await withClient(pg.url, (c) => c.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`));
      const s = await copyPostgresToSqlite({ postgresUrl: asRole.toString(), sqlitePath: target, ignoreWorkers: true });
      expect(s.rows).toBeGreaterThan(0);
      expect(rowsOf(target, `SELECT name FROM orrery_id_floor WHERE name = 'tasks'`)).toEqual([{ name: 'tasks' }]);

      await withClient(pg.url, (c) => c.query(`UPDATE tasks SET next_run = 'infinity' WHERE id = (SELECT min(id) FROM tasks)`));
      const minId = (await withClient(pg.url, (c) => c.query('SELECT min(id)::int AS m FROM tasks'))).rows[0].m as number;
      await expect(copyPostgresToSqlite({ postgresUrl: pg.url, sqlitePath: join(dir, 'inf.db'), ignoreWorkers: true })).rejects.toThrow(
        `tasks (id ${minId}): next_run: Infinity is not an instant; nothing was copied`,
      );
    } finally {
      await pg.drop();
      await withClient(pgBaseUrl(), (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it('bad options are a ValidationError naming the field, before anything is opened', async () => {
    const ok = { postgresUrl: 'postgres://u@127.0.0.1:1/db', sqlitePath: join(dir, 'opts.db') };
    for (const [given, field] of [
      [undefined, 'options'],
      [{ ...ok, postgresUrl: undefined }, 'postgresUrl'],
      [{ ...ok, sqlitePath: 5 }, 'sqlitePath'],
      [{ ...ok, at: new Date('x') }, 'at'],
      [{ ...ok, at: 'soon' }, 'at'],
      [{ ...ok, ignoreWorkers: 'yes' }, 'ignoreWorkers'],
      [{ ...ok, onProgress: 5 }, 'onProgress'],
    ] as Array<[unknown, string]>) {
      await expect(copyPostgresToSqlite(given as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path: field }] });
      await expect(copySqliteToPostgres(given as never)).rejects.toMatchObject({ code: 'validation_error', details: [{ path: field }] });
    }
    expect(existsSync(ok.sqlitePath)).toBe(false);
  });

  it('bad arguments are named', async () => {
    await expect(copyPostgresToSqlite({ postgresUrl: 'mysql://x/db', sqlitePath: join(dir, 'x.db') })).rejects.toThrow(/^postgresUrl: "mysql:\/\/x\/db" is not a valid PostgreSQL URL/);
    await expect(copyPostgresToSqlite({ postgresUrl: 'postgres://u@127.0.0.1:1/db', sqlitePath: ':memory:' })).rejects.toThrow(/^sqlitePath: .*in-memory/);
    await expect(copyPostgresToSqlite({ postgresUrl: 'postgres://u@127.0.0.1:1/db', sqlitePath: join(dir, 'no', 'such', 'x.db') })).rejects.toThrow(/^sqlitePath: directory .* does not exist/);
    await expect(copyPostgresToSqlite({ postgresUrl: 'postgres://u@127.0.0.1:1/db', sqlitePath: dir })).rejects.toThrow(/^sqlitePath: .* is a directory/);
  });
});
