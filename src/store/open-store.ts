import { ValidationError } from '../core/errors.js';
import { textProblem } from '../core/storable.js';
import { postgresUrlParses, redactUrl } from './redact-url.js';
import type { Store } from './store.js';

export const DEFAULT_DB_URL = 'sqlite:./orrery.db';

/**
 * Opens a store from a database URL: `sqlite:PATH`, `sqlite::memory:`, `postgres://user:pass@host:port/db`.
 * Each store's code (and its driver) is loaded only when a URL needs it: a process on SQLite never
 * loads pg (with the TLS and DNS modules it brings, about 15 MiB of memory), one on PostgreSQL never
 * loads better-sqlite3.
 */
/**
 * `pgPoolSize`: a PostgreSQL store's connections (default ORRERY_PG_POOL_SIZE, else 10); SQLite ignores it.
 * `field`: where the URL came from, as a bad one is named (`db`; `$ORRERY_DB` when read from the environment).
 */
export async function openStore(url: string = DEFAULT_DB_URL, opts: { pgPoolSize?: number; field?: string } = {}): Promise<Store> {
  const field = opts.field ?? 'db';
  if (url.trim() === '') throw new ValidationError(`${field}: empty database URL (use sqlite:PATH, sqlite::memory: or postgres://...)`, [{ path: field, message: 'empty' }]);
  // Before anything opens: SQLite cut a path at its NUL and created the file under that name, and wrote
  // a lone surrogate as U+FFFD; neither names a file the caller meant.
  const problem = textProblem(url);
  if (problem !== null) throw new ValidationError(`${field}: ${problem}`, [{ path: field, message: problem }]);
  if (url.startsWith('sqlite:')) {
    const path = sqlitePath(url)!;
    if (path.trim() === '') throw new ValidationError(`${field}: "sqlite:" needs a path, e.g. sqlite:./orrery.db or sqlite::memory:`, [{ path: field, message: 'missing path' }]);
    return openSqlite(url, path);
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    // A URL that does not parse (a port above 65535, an unclosed [ipv6 ...) is bad input, not a failure to
    // connect: the driver parses it the same way and would refuse it only when connecting.
    if (!postgresUrlParses(url)) {
      throw new ValidationError(`${field}: "${redactUrl(url)}" is not a valid PostgreSQL URL (postgres://user:pass@host:port/db)`, [{ path: field, message: 'invalid URL' }]);
    }
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.open(url, opts.pgPoolSize);
  }
  if (sqlitePath(url) !== null) return openSqlite(`sqlite:${url}`, url);
  throw new ValidationError(`${field}: unsupported database URL "${redactUrl(url)}" (use sqlite:PATH, sqlite::memory: or postgres://...)`, [
    { path: field, message: 'unsupported scheme' },
  ]);
}

/**
 * The file a database URL names when it names a SQLite file (`sqlite:PATH`, `sqlite:///abs`, or a
 * bare path): `:memory:` for an in-memory database, '' for `sqlite:` alone, null for any other URL.
 */
export function sqlitePath(url: string): string | null {
  if (url.startsWith('sqlite:')) return url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  if (/^postgres(ql)?:\/\//.test(url)) return null;
  return !url.includes(':') || /^[./~]/.test(url) ? url : null;
}

async function openSqlite(url: string, path: string): Promise<Store> {
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  return new SqliteStore(url, path);
}

