/**
 * A database that refuses this process's writes (a SQLite connection that may only read, a
 * PostgreSQL database whose transactions are read-only, as on a standby): every store call that
 * writes fails with StorageReadOnlyError (not retried as unavailable), Store.assertWritable says so
 * without writing, startServer refuses to start, and `orrery runner` exits 1 naming the cause
 * instead of retrying its passes forever.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageReadOnlyError, isStorageUnavailable } from '../../src/core/errors.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Orrery } from '../../src/engine/service.js';
import { startServer } from '../../src/http/start-server.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { runCli } from '../cli/cli-helpers.js';
import { quoteIdent, withClient } from '../support/postgres-admin.js';
import { createTestDatabase, pgBaseUrl } from '../support/postgres.js';
import { LOAD_GIT, T0 } from './fixtures.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const task = { type: 'load-git', arguments: { args: ['x'], kwargs: {} } };

describe('a SQLite database this process may only read', () => {
  it('fails writes with StorageReadOnlyError, assertWritable says so without writing, startServer does not start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-ro-'));
    const path = join(dir, 'orrery.db');
    const store = new SqliteStore(`sqlite:${path}`, path);
    const orrery = new Orrery(store, new ManualClock(T0));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => orrery.close());
    await orrery.createTaskType(LOAD_GIT);
    await store.assertWritable();
    // SQLite's own read-only switch for a connection: writes answer SQLITE_READONLY, as for a file the
    // process may not write (which root, running the tests here, always may).
    (store as unknown as { db: Database.Database }).db.pragma('query_only = ON');
    const e = await orrery.createTask(task).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageReadOnlyError);
    expect(isStorageUnavailable(e)).toBe(false);
    expect((e as StorageReadOnlyError).code).toBe('storage_read_only');
    expect((e as Error).message).toMatch(/^the SQLite database is read-only for this process \(SQLITE_READONLY: .*\): it must be able to write the file/);
    await expect(store.assertWritable()).rejects.toBeInstanceOf(StorageReadOnlyError);
    await expect(startServer(orrery, { http: false, runner: true, reaper: true })).rejects.toBeInstanceOf(StorageReadOnlyError);
    // With no loop that writes (an API or dashboard over the database alone), it starts.
    const readOnly = await startServer(orrery, { http: false, runner: false, reaper: false });
    await readOnly.stop();
    (store as unknown as { db: Database.Database }).db.pragma('query_only = OFF');
    expect(await orrery.findTasks({})).toMatchObject({ tasks: [] }); // nothing was written
    await store.assertWritable();
  });
});

describe('a PostgreSQL database whose transactions are read-only', () => {
  it('fails writes with StorageReadOnlyError (SQLSTATE 25006), assertWritable names it, and `orrery runner` exits 1', async () => {
    const db = await createTestDatabase('readonly');
    cleanups.push(() => db.drop());
    await withClient(pgBaseUrl(), (c) => c.query(`ALTER DATABASE ${quoteIdent(db.name)} SET default_transaction_read_only = on`));
    const store = await PostgresStore.open(db.url);
    const orrery = new Orrery(store, new ManualClock(T0));
    cleanups.push(() => orrery.close());
    await expect(store.assertWritable()).rejects.toThrow(/^the PostgreSQL database is read-only \(transaction_read_only is on: default_transaction_read_only is set for this role or database\)/);
    const e = await orrery.createTaskType(LOAD_GIT).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StorageReadOnlyError);
    expect((e as Error).message).toMatch(/^the PostgreSQL database is read-only \(25006: /);
    await expect(startServer(orrery, { http: false, runner: true })).rejects.toBeInstanceOf(StorageReadOnlyError);

    const r = await runCli(['runner', '--db', db.url], { spawn: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the PostgreSQL database is read-only \(transaction_read_only is on/);
    expect(r.stderr).not.toMatch(/retrying/);
  });
});
