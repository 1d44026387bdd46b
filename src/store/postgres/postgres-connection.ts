import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { SchemaTooNewError, StorageError } from '../../core/errors.js';
import { loadMigrations } from '../migrations.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
/** One fixed advisory lock key for Orrery's migrations ("orrery" in ASCII). */
const MIGRATION_LOCK = 0x6f7272657279;

// int8 as JS numbers: ids, counts and milliseconds all stay below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(url: string): pg.Pool {
  const max = Number(process.env.ORRERY_PG_POOL_SIZE ?? 10);
  const pool = new pg.Pool({ connectionString: url, max: Number.isInteger(max) && max > 0 ? max : 10, idleTimeoutMillis: 30_000 });
  // An idle client losing its connection (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  return pool;
}

/** Applies pending migrations under an advisory lock, recording each in the ledger; refuses a newer schema. */
export async function migrate(pool: pg.Pool, url: string): Promise<void> {
  const migrations = loadMigrations(MIGRATIONS_DIR);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw new StorageError(`cannot connect to ${redact(url)}: ${(e as Error).message}`);
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query('BEGIN');
      await client.query(`CREATE TABLE IF NOT EXISTS orrery_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM orrery_migrations');
      const current = rows[0]?.v ?? 0;
      if (current > migrations.length) {
        throw new SchemaTooNewError(`database schema version ${current} is newer than this Orrery (knows up to ${migrations.length}); upgrade Orrery`);
      }
      for (const m of migrations.slice(current)) {
        await client.query(m.sql);
        await client.query('INSERT INTO orrery_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    }
  } finally {
    client.release();
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
