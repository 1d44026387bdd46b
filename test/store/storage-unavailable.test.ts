/**
 * Each store's error translation (issue 16, item 5): a driver error that a later try may cure leaves
 * the store as a StorageUnavailableError (the only error the worker retries), whatever the method and
 * sub-store; any other error leaves it unchanged. Real drivers throughout: a SQLite file locked by
 * another connection, and a PostgreSQL server behind a TCP relay that is cut, hangs up or refuses.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError, StorageUnavailableError, isStorageUnavailable } from '../../src/core/errors.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Orrery } from '../../src/engine/service.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { TrackedPool, translatePgError } from '../../src/store/postgres/postgres-errors.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { translateSqliteError } from '../../src/store/sqlite/sqlite-errors.js';
import { quoteIdent, withClient } from '../support/postgres-admin.js';
import { createTestDatabase, pgBaseUrl } from '../support/postgres.js';
import { LOAD_GIT, T0 } from './fixtures.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const causeCode = (e: unknown) => ((e as { cause?: { code?: string } }).cause as { code?: string } | undefined)?.code;

describe('SQLite error translation', () => {
  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-unavail-'));
    const path = join(dir, 'orrery.db');
    const store = new SqliteStore(`sqlite:${path}`, path);
    const orrery = new Orrery(store, new ManualClock(T0));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => orrery.close());
    return { orrery, store, path };
  };

  it('a file locked by another connection past the busy timeout is StorageUnavailableError, on the store and its sub-stores; the call works once the lock is gone', async () => {
    const { orrery, store, path } = open();
    await orrery.createTaskType(LOAD_GIT);
    // The store waits 15 s for a lock; the test shortens its wait (the translation is what is tested).
    (store as unknown as { db: Database.Database }).db.pragma('busy_timeout = 50');
    const other = new Database(path);
    cleanups.push(() => void other.close());
    other.prepare('BEGIN IMMEDIATE').run();
    // Both wait for the lock at once (each gives up after the store's 15 s), not one after the other.
    // Each caught as it settles: either may give up first (a rejection not yet awaited is unhandled).
    const [e, r] = await Promise.all([
      orrery.createTask({ type: 'load-git', arguments: { args: ['x'], kwargs: {} } }).catch((x: unknown) => x),
      orrery.dags.register([{ id: 'd', tasks: [{ id: 'a' }] }]).catch((x: unknown) => x),
    ]);
    expect(e).toBeInstanceOf(StorageUnavailableError);
    expect(causeCode(e)).toBe('SQLITE_BUSY');
    expect((e as Error).message).toMatch(/SQLITE_BUSY/);
    expect(r).toBeInstanceOf(StorageUnavailableError);
    other.prepare('ROLLBACK').run();
    expect((await orrery.createTask({ type: 'load-git', arguments: { args: ['x'], kwargs: {} } })).id).toBe(1);
  });

  it('a database file deleted or replaced while the store has it open: every write is StorageUnavailableError saying so, none reaches the deleted file; the file put back, writes go on', async () => {
    const { orrery, path } = open();
    await orrery.createTaskType(LOAD_GIT);
    await orrery.createTask({ type: 'load-git', arguments: { args: ['a'], kwargs: {} } });
    const saved = `${path}.saved`;
    renameSync(path, saved); // as deleted: the path names no file
    const create = orrery.createTask({ type: 'load-git', arguments: { args: ['b'], kwargs: {} } });
    await expect(create).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(create).rejects.toThrow(`the SQLite database ${path} was deleted while this process had it open`);
    await expect(orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 1, due: true })).rejects.toBeInstanceOf(StorageUnavailableError);
    // Another file at the path (the next process made a new database there): refused too.
    writeFileSync(path, '');
    await expect(orrery.createTask({ type: 'load-git', arguments: { args: ['c'], kwargs: {} } })).rejects.toThrow(/was replaced by another file/);
    rmSync(path);
    renameSync(saved, path); // the same file back
    expect((await orrery.createTask({ type: 'load-git', arguments: { args: ['d'], kwargs: {} } })).id).toBe(2);
  });

  it('errors that a retry cannot cure are left as they are (Orrery verdicts, driver errors, bugs)', async () => {
    const { orrery } = open();
    await orrery.createTaskType(LOAD_GIT);
    await expect(orrery.createTaskType(LOAD_GIT)).rejects.toMatchObject({ code: 'conflict' });
    const raw = new Database(':memory:');
    cleanups.push(() => void raw.close());
    const syntax = (() => {
      try {
        raw.prepare('SELEC 1');
      } catch (e) {
        return e;
      }
    })();
    expect((syntax as { code: string }).code).toBe('SQLITE_ERROR');
    expect(translateSqliteError(syntax)).toBe(syntax);
    const bug = new TypeError('x is undefined');
    expect(translateSqliteError(bug)).toBe(bug);
    raw.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    raw.exec('INSERT INTO t VALUES (1)');
    const unique = (() => {
      try {
        raw.exec('INSERT INTO t VALUES (1)');
      } catch (e) {
        return e;
      }
    })();
    expect(isStorageUnavailable(translateSqliteError(unique))).toBe(false);
  });
});

/** A TCP relay in front of the test PostgreSQL server that can forward, hang up on arrival, or be closed (refused). */
async function relay(target: URL) {
  let mode: 'forward' | 'hangup' = 'forward';
  const sockets = new Set<Socket>();
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server = createServer((client) => {
        sockets.add(client);
        client.on('close', () => sockets.delete(client));
        client.on('error', () => {});
        if (mode === 'hangup') return void client.destroy();
        const upstream = createConnection(Number(target.port), target.hostname);
        sockets.add(upstream);
        upstream.on('close', () => (sockets.delete(upstream), client.destroy()));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  return {
    port,
    /** Cuts every connection (no error message from the server: the driver sees the socket end). */
    cut: () => sockets.forEach((s) => s.destroy()),
    hangUp: () => (mode = 'hangup'),
    forward: () => (mode = 'forward'),
    close: () => new Promise<void>((r) => (server.close(() => r()), sockets.forEach((s) => s.destroy()))),
    reopen: () => listen(port),
  };
}

describe('PostgreSQL error translation', () => {
  it('a server that hangs up, is cut off mid-session, or refuses connections is StorageUnavailableError; the store works again when it is back', async () => {
    const db = await createTestDatabase('unavail');
    const target = new URL(db.url);
    const r = await relay(target);
    cleanups.push(() => db.drop(), () => r.close());
    const url = new URL(db.url);
    url.host = `127.0.0.1:${r.port}`;
    const store = await PostgresStore.open(url.toString());
    const orrery = new Orrery(store, new ManualClock(T0));
    cleanups.push(() => orrery.close().catch(() => {}));
    await orrery.createTaskType(LOAD_GIT);
    await orrery.createTask({ type: 'load-git', arguments: { args: ['x'], kwargs: {} } });

    // Connections end without a word from the server: pg's errors then carry no code.
    r.cut();
    r.hangUp();
    const hung = await orrery.getTask(1).catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(StorageUnavailableError);
    expect(causeCode(hung)).toBeUndefined();
    await expect(orrery.dags.list()).rejects.toBeInstanceOf(StorageUnavailableError);

    // Nobody listening: ECONNREFUSED.
    await r.close();
    const refused = await orrery.claimRuns({ worker: 'w', types: ['load-git'], limit: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageUnavailableError);
    expect(causeCode(refused)).toBe('ECONNREFUSED');
    expect((refused as Error).message).toMatch(/ECONNREFUSED/);

    r.forward();
    await r.reopen();
    expect((await orrery.getTask(1))!.id).toBe(1);
  });

  it('opening a store: a server not there (yet) is StorageUnavailableError (daemons wait for it), a wrong password is a final StorageError', async () => {
    const db = await createTestDatabase('unavail3');
    const r = await relay(new URL(db.url));
    cleanups.push(() => db.drop(), () => r.close());
    const via = new URL(db.url);
    via.host = `127.0.0.1:${r.port}`;
    r.hangUp();
    const hung = await PostgresStore.open(via.toString()).catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(StorageUnavailableError);
    expect((hung as Error).message).toMatch(/^cannot connect to postgres:\/\/[^:]+:\*\*\*@127\.0\.0\.1/);
    await r.close();
    const refused = await PostgresStore.open(via.toString()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageUnavailableError);
    expect(causeCode(refused)).toBe('ECONNREFUSED');
    const wrong = new URL(db.url);
    wrong.password = 'not-the-password';
    const denied = await PostgresStore.open(wrong.toString()).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(StorageError);
    expect(isStorageUnavailable(denied)).toBe(false);
    expect(causeCode(denied)).toBe('28P01');
  });

  it("an open store's role refused a login (28000) or its database dropped (3D000) is StorageUnavailableError; a privilege revoked (42501) a StorageError, not a raw driver error (an HTTP 500)", async () => {
    const db = await createTestDatabase('refused');
    const role = `orrery_refused_${db.name.slice(-8)}`;
    const admin = (sql: string) => withClient(pgBaseUrl(), (c) => c.query(sql));
    const inDb = (sql: string) => withClient(db.url, (c) => c.query(sql));
    await admin(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD 'orrery-test'`);
    cleanups.push(async () => {
      await db.drop();
      await admin(`DROP ROLE IF EXISTS ${quoteIdent(role)}`);
    });
    await inDb(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${quoteIdent(role)}; GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${quoteIdent(role)}`);
    const url = new URL(db.url);
    url.username = role;
    url.password = 'orrery-test';
    const store = await PostgresStore.open(url.toString());
    const orrery = new Orrery(store, new ManualClock(T0));
    cleanups.push(() => orrery.close().catch(() => {}));
    await orrery.createTaskType(LOAD_GIT);

    await inDb(`REVOKE ALL ON task_types FROM ${quoteIdent(role)}`);
    const denied = await orrery.listTaskTypes().catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(StorageError);
    expect(isStorageUnavailable(denied)).toBe(false);
    expect((denied as StorageError).code).toBe('storage_error');
    expect((denied as Error).message).toMatch(/^the PostgreSQL database refuses this role \(42501: permission denied for table task_types\)$/);
    await inDb(`GRANT ALL ON task_types TO ${quoteIdent(role)}`);

    await admin(`ALTER ROLE ${quoteIdent(role)} NOLOGIN`);
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${role}'`);
    const refused = await orrery.listTaskTypes().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(StorageUnavailableError);
    expect(causeCode(refused)).toBe('28000');
    await admin(`ALTER ROLE ${quoteIdent(role)} LOGIN`);
    expect((await orrery.listTaskTypes()).map((t) => t.name)).toEqual(['load-git']);

    await db.drop();
    const gone = await orrery.listTaskTypes().catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(StorageUnavailableError);
    expect(causeCode(gone)).toBe('3D000');
  });

  it('the server ending a session (57P01) is StorageUnavailableError; a bad statement is not', async () => {
    const db = await createTestDatabase('unavail2');
    const pool = new TrackedPool({ connectionString: db.url, max: 2 });
    pool.on('error', () => {});
    cleanups.push(() => db.drop(), () => pool.end().catch(() => {}));
    const syntax = await pool.query('SELEC 1').catch((e: unknown) => e);
    expect((syntax as { code: string }).code).toBe('42601');
    expect(translatePgError(syntax)).toBe(syntax);
    const victim = await pool.connect();
    victim.on('error', () => {});
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const sleeping = victim.query('SELECT pg_sleep(30)').catch((e: unknown) => e);
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.end();
    const ended = await sleeping;
    victim.release(true);
    expect((ended as { code: string }).code).toBe('57P01');
    expect(translatePgError(ended)).toBeInstanceOf(StorageUnavailableError);
    const bug = new TypeError('x is undefined');
    expect(translatePgError(bug)).toBe(bug);
  });

  it("a DBA's statement_timeout (57014) or lock_timeout (55P03) is StorageUnavailableError: the same statement may pass a moment later", async () => {
    const db = await createTestDatabase('unavail3');
    const pool = new TrackedPool({ connectionString: db.url, max: 2 });
    pool.on('error', () => {});
    cleanups.push(() => db.drop(), () => pool.end().catch(() => {}));
    const c = await pool.connect();
    cleanups.push(() => c.release());
    await c.query(`SET statement_timeout = '20ms'`);
    const timedOut = await c.query('SELECT pg_sleep(1)').catch((e: unknown) => e);
    expect((timedOut as { code: string }).code).toBe('57014');
    expect(translatePgError(timedOut)).toBeInstanceOf(StorageUnavailableError);
    expect((translatePgError(timedOut) as Error).message).toMatch(/57014: canceling statement due to statement timeout/);
    await c.query(`SET statement_timeout = 0`);
    await c.query('CREATE TABLE held (id int PRIMARY KEY)');
    await c.query('INSERT INTO held VALUES (1)');
    const holder = await pool.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT id FROM held WHERE id = 1 FOR UPDATE');
    await c.query(`SET lock_timeout = '20ms'`);
    const locked = await c.query('UPDATE held SET id = 1 WHERE id = 1').catch((e: unknown) => e);
    await holder.query('ROLLBACK');
    holder.release();
    expect((locked as { code: string }).code).toBe('55P03');
    expect(translatePgError(locked)).toBeInstanceOf(StorageUnavailableError);
    // Once the lock is free, the same statement passes.
    expect((await c.query('UPDATE held SET id = 1 WHERE id = 1')).rowCount).toBe(1);
  });

  it("the schema version is read without the role's or the URL's statement_timeout and lock_timeout, as migrations run (a 1 ms statement_timeout in the URL failed every command: cannot read the schema version)", async () => {
    const db = await createTestDatabase('ledger_timeouts');
    cleanups.push(() => db.drop());
    // Another session holds the ledger table: the read waits for it, past the URL's lock_timeout.
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    cleanups.push(() => holder.end().catch(() => {}));
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE orrery_migrations IN ACCESS EXCLUSIVE MODE');
    const url = `${db.url}${db.url.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c lock_timeout=50 -c statement_timeout=5000')}`;
    const opening = PostgresStore.open(url);
    await new Promise((r) => setTimeout(r, 300)); // the lock held past the URL's lock_timeout (50 ms)
    await holder.query('COMMIT');
    const store = await opening;
    cleanups.push(() => store.close());
    // The store's own statements keep the URL's settings.
    const settings = await withClient(url, (c) => c.query<{ lock_timeout: string }>('SHOW lock_timeout'));
    expect(settings.rows[0]!.lock_timeout).toBe('50ms');
    expect(await store.getTaskTypes()).toEqual([]);
  });

  it("a connection the server ended between queries (idle_in_transaction_session_timeout) names the server's reason", async () => {
    const db = await createTestDatabase('unavail4');
    const pool = new TrackedPool({ connectionString: db.url, max: 2 });
    pool.on('error', () => {});
    cleanups.push(() => db.drop(), () => pool.end().catch(() => {}));
    const c = await pool.connect();
    const ended = new Promise<void>((r) => c.once('error', () => r()));
    await c.query(`SET idle_in_transaction_session_timeout = '50ms'`);
    await c.query('BEGIN');
    await ended; // the server's FATAL arrives on the client's error event
    const next = await c.query('SELECT 1').catch((e: unknown) => e);
    c.release(true);
    const translated = translatePgError(next);
    expect(translated).toBeInstanceOf(StorageUnavailableError);
    expect((translated as Error).message).toMatch(/the server ended the connection: terminating connection due to idle-in-transaction timeout/);
  });

  it('an idle-in-transaction timeout reported on the next statement (SQLSTATE 25P03) is unavailable too, naming the reason (ops audit: the driver\'s raw error)', async () => {
    const db = await createTestDatabase('unavail25p03');
    cleanups.push(() => db.drop());
    const setup = new Orrery(await PostgresStore.open(db.url), new ManualClock(T0));
    await setup.createTaskType({ name: 'a' });
    await setup.createTasks(Array.from({ length: 40 }, (_, i) => ({ type: 'a', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    for (const c of await setup.claimRuns({ worker: 'w', types: ['a'], limit: 40 })) await setup.endRun(c.run.backendId, { status: 'eventful', worker: 'w' });
    await setup.close();
    // The archive keeps a transaction open while it writes each batch to its file: longer than 1 ms.
    // One run a batch: forty such waits (with five a batch, eight waits all passed under 1 ms in 17 of
    // 40 tries on a loaded machine, and the archive succeeded; with one, none of 40).
    const orrery = new Orrery(await PostgresStore.open(`${db.url}?options=-c%20idle_in_transaction_session_timeout%3D1`), new ManualClock(T0));
    cleanups.push(() => orrery.close());
    const dir = mkdtempSync(join(tmpdir(), 'orrery-25p03-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const e = await orrery.archive({ before: new Date(T0.getTime() + 1), to: join(dir, 'a.jsonl'), batch: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageUnavailableError);
    expect((e as Error).message).toMatch(/the server ended the connection: terminating connection due to idle-in-transaction timeout/);
  });
});
