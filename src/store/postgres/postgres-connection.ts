import { dirname, join } from 'node:path';
import { redactUrl } from '../redact-url.js';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { OrreryError, StorageError, StorageUnavailableError, ValidationError, shown } from '../../core/errors.js';
import { ledgerVersion, loadMigrations, type LedgerRow } from '../migrations.js';
import { TrackedPool, clientLoginError, loginRefused, translatePgError } from './postgres-errors.js';
import { parseTimestamptz } from './postgres-literals.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
/** One fixed advisory lock key for Orrery's migrations ("orrery" in ASCII). */
export const MIGRATION_LOCK = 0x6f7272657279;

// int8 as JS numbers: ids, counts and milliseconds all stay below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
// timestamptz without a regular expression per value (claims return several per run).
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, parseTimestamptz);

/**
 * What every new connection of the pool runs before it is handed out (pg-pool's `onConnect`, awaited):
 * instants in the ISO 8601 form Orrery reads (parseTimestamptz). A DateStyle of the database, role,
 * URL or PGOPTIONS (`German`, `SQL, DMY`) made every instant read back as 1970-01-01 and some commands
 * throw. Set by a query, not by rewriting the URL's `options` (a rewrite re-encoded them, changed which
 * of two `options` wins, and dropped PGOPTIONS for an empty one); a `SET` sent beside the first query
 * (the pool's `connect` event, not awaited) had pg warn about queued queries on every command.
 */
const ISO_DATES = 'SET DateStyle = ISO';

/** The largest ORRERY_PG_POOL_SIZE: more connections than a PostgreSQL server is ever set to take. */
const MAX_POOL_SIZE = 10_000;

/** A pool of `size` connections, else ORRERY_PG_POOL_SIZE's, else 10. */
export function createPool(url: string, size?: number): pg.Pool {
  const raw = process.env.ORRERY_PG_POOL_SIZE;
  const max = size ?? (raw === undefined || raw === '' ? 10 : /^[1-9][0-9]{0,4}$/.test(raw) ? Number(raw) : NaN);
  if (!Number.isInteger(max) || max < 1 || max > MAX_POOL_SIZE) {
    throw new ValidationError(`ORRERY_PG_POOL_SIZE: "${shown(raw)}" is not a positive integer up to ${MAX_POOL_SIZE}`, [{ path: 'ORRERY_PG_POOL_SIZE', message: `not a positive integer up to ${MAX_POOL_SIZE}` }]);
  }
  const pool = new TrackedPool({
    connectionString: url,
    // pg-pool awaits the promise returned (its types say void).
    onConnect: ((client: pg.ClientBase) => client.query(ISO_DATES)) as (client: pg.ClientBase) => void,
    max,
    // Two connections stay open however long the process idles: a new one costs its first queries
    // about 10 ms more on the server (see docs/postgres.md, "Connection pool"). Idle, they do not keep
    // the process alive: a script that never closes its Orrery still exits once its work is done.
    min: Math.min(2, max),
    allowExitOnIdle: true,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    // A connection dropped silently (NAT, firewall) is noticed instead of hanging a loop.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
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
    // The driver's error stays as the cause; a server merely unreachable for now is StorageUnavailableError.
    // The driver had no password to give a server that asks for one: say where it goes.
    const hint = clientLoginError(e) && /client password must be/.test((e as Error).message) ? ' (the server asks for a password: give it in the URL or in PGPASSWORD)' : '';
    throw storageError(`cannot connect to ${redactUrl(url)}: ${(e as Error).message}${hint}`, e);
  }
  try {
    // A role's statement_timeout or lock_timeout (a DBA's setting, or `options=-c statement_timeout=1`
    // in the URL) would cut the read of the ledger, the wait for another migrating process, or a long
    // migration short: all run without them, reset afterwards (the store's own statements keep them).
    await client.query('SET statement_timeout = 0; SET lock_timeout = 0');
    // Up to date (the usual case): nothing to lock or create, so the role needs no CREATE privilege.
    const exists = await client.query<{ e: boolean }>(`SELECT to_regclass('orrery_migrations') IS NOT NULL AS e`);
    const recorded = async () => (await client.query<LedgerRow>('SELECT version, name FROM orrery_migrations')).rows;
    const seen = exists.rows[0]?.e ? ledgerVersion(await recorded(), migrations) : 0;
    if (seen === migrations.length) return;
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    } catch (e) {
      throw storageError(`waiting for the migration lock of ${redactUrl(url)} (another process migrating it holds it): ${(e as Error).message}`, e);
    }
    try {
      await client.query('BEGIN');
      await client.query(`CREATE TABLE IF NOT EXISTS orrery_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const current = ledgerVersion(await recorded(), migrations);
      for (const m of migrations.slice(current)) {
        try {
          await client.query(m.sql);
        } catch (e) {
          if (e instanceof Error) e.message = `migration ${m.name}: ${e.message}`;
          throw e;
        }
        await client.query('INSERT INTO orrery_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      if (e instanceof OrreryError) throw e;
      // 42501 insufficient_privilege: the role may not create in the schema, or alter a table it does not own (docs/postgres.md#roles-and-privileges).
      const denied = (e as { code?: string }).code === '42501';
      const hint = !denied
        ? ''
        : /must be owner/.test((e as Error).message)
          ? " (a migration that alters a table must run as the table's owner: run it once as the tables' owner, docs/postgres.md#roles-and-privileges)"
          : " (migrations need CREATE on the database's schema: run them once as the tables' owner, docs/postgres.md#roles-and-privileges)";
      throw new StorageError(`migrating ${redactUrl(url)} failed${hint}: ${(e as Error).message}`);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    }
  } catch (e) {
    if (e instanceof OrreryError) throw e;
    throw storageError(`cannot read the schema version of ${redactUrl(url)}: ${(e as Error).message}`, e);
  } finally {
    await client.query('RESET statement_timeout; RESET lock_timeout').catch(() => {});
    client.release();
  }
}

/**
 * A StorageUnavailableError when the driver's error is transient (postgres-errors.ts), else a
 * StorageError; `e` is the cause. A login refused or a database missing is not transient here, at
 * open: a mistyped password or database name fails at once instead of being waited for.
 */
function storageError(message: string, e: unknown): StorageError {
  const transient = translatePgError(e) instanceof StorageUnavailableError && !loginRefused(e);
  const Cls = transient ? StorageUnavailableError : StorageError;
  return Object.assign(new Cls(message), { cause: e });
}

