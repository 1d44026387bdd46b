import { ValidationError } from '../core/errors.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

export const DEFAULT_DB_URL = 'sqlite:./orrery.db';

/** Opens a store from a database URL: `sqlite:PATH`, `sqlite::memory:`, `postgres://user:pass@host:port/db`. */
export async function openStore(url: string = DEFAULT_DB_URL): Promise<Store> {
  if (url.trim() === '') throw new ValidationError('db: empty database URL (use sqlite:PATH, sqlite::memory: or postgres://...)', [{ path: 'db', message: 'empty' }]);
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new ValidationError('db: "sqlite:" needs a path, e.g. sqlite:./orrery.db or sqlite::memory:', [{ path: 'db', message: 'missing path' }]);
    return new SqliteStore(url, path);
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    // A URL that does not parse (a port above 65535, an unclosed [ipv6 ...) is bad input, not a failure to
    // connect: the driver parses it the same way and would refuse it only when connecting.
    if (!URL.canParse(url)) {
      throw new ValidationError(`db: "${redact(url)}" is not a valid PostgreSQL URL (postgres://user:pass@host:port/db)`, [{ path: 'db', message: 'invalid URL' }]);
    }
    return PostgresStore.open(url);
  }
  if (!url.includes(':') || /^[./~]/.test(url)) return new SqliteStore(`sqlite:${url}`, url);
  throw new ValidationError(`db: unsupported database URL "${redact(url)}" (use sqlite:PATH, sqlite::memory: or postgres://...)`, [
    { path: 'db', message: 'unsupported scheme' },
  ]);
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
