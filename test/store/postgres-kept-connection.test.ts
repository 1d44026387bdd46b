/**
 * KeptConnection: the claims go through one connection kept out of the pool while it is free, so a
 * worker pays a connection's first uses (catalogs read, statements parsed and planned) once; a busy or
 * broken kept connection never blocks a claim (src/store/postgres/postgres-kept-connection.ts).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli/cli-helpers.js';
import { openOrrery } from '../../src/engine/service.js';
import { KeptConnection } from '../../src/store/postgres/postgres-kept-connection.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { runScriptToExit } from '../support/script-exit.js';

describe('KeptConnection', () => {
  let db: TestDatabase;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('kept');
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  afterAll(async () => {
    await admin.end();
    await db.drop();
  });

  const pid = async (c: pg.PoolClient) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  /** A pool of 5 and its kept connection for `fn`, both closed after (the pool's idle errors ignored). */
  const withKept = async (fn: (pool: pg.Pool, kept: KeptConnection) => Promise<void>) => {
    const pool = new pg.Pool({ connectionString: db.url, max: 5 });
    pool.on('error', () => {});
    const kept = new KeptConnection(pool, 5);
    try {
      await fn(pool, kept);
    } finally {
      kept.close();
      await pool.end();
    }
  };
  const use = async (kept: KeptConnection) => {
    const c = await kept.connect();
    try {
      return await pid(c);
    } finally {
      c.release();
    }
  };

  it('hands out the same server connection while it is free, another one while it is busy', async () => {
    await withKept(async (pool, kept) => {
      const first = await use(kept);
      // In between, the pool's other work runs on other connections and does not take it.
      const other = await pool.connect();
      expect(await pid(other)).not.toBe(first);
      other.release();
      expect(await use(kept)).toBe(first);
      expect(pool.totalCount - pool.idleCount).toBe(1); // kept out of the pool while idle

      const held = await kept.connect();
      expect(await pid(held)).toBe(first);
      const second = await use(kept); // the kept one is busy: a pool connection
      expect(second).not.toBe(first);
      held.release();
      expect(await use(kept)).toBe(first);
    });
  });

  it('gives up a connection the server ended and keeps a new one; the process does not crash', async () => {
    await withKept(async (pool, kept) => {
      const first = await use(kept);
      const ended = new Promise<void>((resolve) => pool.once('remove', () => resolve()));
      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      await ended; // the idle kept connection's error was handled, and the pool discarded it
      const next = await use(kept);
      expect(next).not.toBe(first);
      expect(await use(kept)).toBe(next);
    });
  });

  it('a statement that fails on a broken kept connection gives it up too', async () => {
    await withKept(async (_pool, kept) => {
      const first = await use(kept);
      const c = await kept.connect();
      // Ended by the server while the statement runs: the statement fails, the release gives it up.
      const failed = c.query('SELECT pg_terminate_backend(pg_backend_pid())').then(
        () => null,
        (e: Error) => e,
      );
      expect(await failed).toBeInstanceOf(Error);
      c.release();
      expect(await use(kept)).not.toBe(first);
    });
  });

  it('keeps no connection out of a small pool, and close() hands the kept one back', async () => {
    const small = new pg.Pool({ connectionString: db.url, max: 3 });
    const none = new KeptConnection(small, 3);
    try {
      await use(none);
      expect(small.totalCount).toBe(small.idleCount); // nothing kept out
    } finally {
      none.close();
      await small.end();
    }
    const pool = new pg.Pool({ connectionString: db.url, max: 5 });
    const kept = new KeptConnection(pool, 5);
    await use(kept);
    expect(pool.idleCount).toBe(0);
    kept.close();
    expect(pool.idleCount).toBe(1);
    await pool.end(); // resolves: nothing is left checked out
    expect(pool.totalCount).toBe(0);
  });

  it('does not keep its process alive while it waits for the next claim', async () => {
    const kept = pathToFileURL(join(ROOT, 'dist', 'store', 'postgres', 'postgres-kept-connection.js')).href;
    const pgEntry = pathToFileURL(join(ROOT, 'node_modules', 'pg', 'lib', 'index.js')).href;
    // A pool like the store's (its idle connections let the process exit), one use of the kept connection, no close.
    const script = `
      const { default: pg } = await import(${JSON.stringify(pgEntry)});
      const { KeptConnection } = await import(${JSON.stringify(kept)});
      const pool = new pg.Pool({ connectionString: process.env.DB, max: 5, allowExitOnIdle: true });
      const kept = new KeptConnection(pool, 5);
      const c = await kept.connect();
      const { rows } = await c.query('SELECT 1 AS n');
      c.release();
      console.log('used ' + rows[0].n);`;
    expect(await runScriptToExit(script, { DB: db.url })).toEqual({ code: 0, out: 'used 1' });
  }, 20_000);

  it("a store's claims run on one server connection while other work uses the pool", async () => {
    const orrery = await openOrrery({ db: db.url });
    // A spy on the real driver: which server process ran each claim statement.
    const pids = new Set<number>();
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client & { processID: number }, ...args: unknown[]) {
      const q = args[0] as { name?: string; text?: string } | string;
      const text = typeof q === 'string' ? q : (q.text ?? '');
      if (text.includes('INSERT INTO task_runs')) pids.add(this.processID);
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof query;
    try {
      await orrery.createTaskType({ name: 'kept', maxQueueLength: null });
      const pool = (orrery.store as unknown as { pool: pg.Pool }).pool;
      for (let i = 0; i < 6; i++) {
        await orrery.createTask({ type: 'kept', policy: 'oneshot', arguments: { args: [i], kwargs: {} } });
        // Other work holds 1-3 of the pool's connections meanwhile, as a worker's ends and heartbeats would.
        const held = await Promise.all(Array.from({ length: (i % 3) + 1 }, () => pool.connect()));
        const out = await orrery.store.claimRuns({ worker: 'w', types: ['kept'], limit: 1, at: new Date(), due: true });
        for (const c of held) c.release();
        expect(out.runs).toHaveLength(1);
      }
      expect(pids.size).toBe(1);
    } finally {
      pg.Client.prototype.query = query;
      await orrery.close();
    }
  });
});
