import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaTooNewError, StorageError, StorageReadOnlyError } from '../../core/errors.js';
import { loadMigrations } from '../migrations.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Opens (creating if needed) and migrates a SQLite database. `path` is a file path or `:memory:`. */
export function openSqlite(path: string): Database.Database {
  if (path !== ':memory:') {
    const dir = dirname(resolve(path));
    if (!existsSync(dir)) throw new StorageError(`cannot open database ${path}: directory ${dir} does not exist`);
    if (existsSync(path) && statSync(path).isDirectory()) throw new StorageError(`cannot open database ${path}: it is a directory`);
  }
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 15_000 });
  } catch (e) {
    throw new StorageError(`cannot open database ${path}: ${(e as Error).message}`);
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -65536'); // 64 MiB: large batches touch many index pages
    migrate(db);
  } catch (e) {
    db.close();
    if (e instanceof SchemaTooNewError) throw e;
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
      throw new StorageError(`cannot open database ${path}: the file is not a valid SQLite database (${code})`);
    }
    // A WAL database needs its -wal and -shm files, hence a directory this process may write, even to read.
    if (code?.startsWith('SQLITE_READONLY')) {
      throw new StorageReadOnlyError(
        `cannot open database ${path}: it is read-only for this process (${code}: ${(e as Error).message}): it must be able to write its directory, the file (to migrate it), and the -wal and -shm files if they exist`,
        { cause: e },
      );
    }
    throw new StorageError(`cannot open database ${path}: ${(e as Error).message}`);
  }
  return db;
}

/** Applies pending migrations under a write lock, recording each in the ledger. */
function migrate(db: Database.Database): void {
  const migrations = loadMigrations(MIGRATIONS_DIR);
  const latest = migrations.length;
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS orrery_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const row = db.prepare('SELECT max(version) AS v FROM orrery_migrations').get() as { v: number | null };
    const current = row.v ?? 0;
    if (current > latest) {
      throw new SchemaTooNewError(
        `database schema version ${current} is newer than this Orrery (knows up to ${latest}); upgrade Orrery`,
      );
    }
    for (const m of migrations.slice(current)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO orrery_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
  });
  run.immediate();
}
