import Database from 'better-sqlite3';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OrreryError, SchemaTooNewError, StorageError, StorageReadOnlyError, ValidationError } from '../../core/errors.js';
import { ledgerVersion, loadMigrations, type LedgerRow, type Migration } from '../migrations.js';

const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Bytes a WAL is cut back to when it starts over (SQLite's journal_size_limit). */
export const WAL_SIZE_LIMIT = 16 * 1024 * 1024;

/** A SQLite file path that cannot be opened (its directory missing, or a directory itself): a StorageError. */
export function checkSqlitePath(path: string): void {
  if (path === ':memory:') return;
  const dir = dirname(resolve(path));
  if (!existsSync(dir)) throw new StorageError(`cannot open database ${path}: directory ${dir} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new StorageError(`cannot open database ${path}: it is a directory`);
}

/** Opens (creating if needed) and migrates a SQLite database. `path` is a file path or `:memory:`. */
export function openSqlite(path: string): Database.Database {
  checkSqlitePath(path);
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 15_000 });
  } catch (e) {
    // A new file in a directory this process may not write: read-only for it, as an existing file there is.
    if (path !== ':memory:' && !existsSync(path) && !writable(dirname(resolve(path)))) {
      const code = (e as { code?: string }).code ?? 'SQLITE_CANTOPEN';
      throw readOnlyError(path, `${code}: ${(e as Error).message}; the file does not exist and its directory may not be written`, e);
    }
    throw new StorageError(`cannot open database ${path}: ${(e as Error).message}`);
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -65536'); // 64 MiB: large batches touch many index pages
    // When the WAL starts over, it is cut back to the size the checkpoint backstop bounds it at (about
    // 16 MiB): a large import's WAL (tens of MiB) does not stay on disk for as long as the file is open.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    migrate(db);
  } catch (e) {
    db.close();
    if (e instanceof SchemaTooNewError) throw e;
    throw openError(path, e);
  }
  return db;
}

/** What a failure to open or first read a database file means to its user. */
function openError(path: string, e: unknown): StorageError {
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StorageError(`cannot open database ${path}: the file is not a valid SQLite database (${code})`);
  }
  // A WAL database needs its -wal and -shm files, hence a directory this process may write, even to read.
  if (code?.startsWith('SQLITE_READONLY')) return readOnlyError(path, `${code}: ${(e as Error).message}`, e);
  return new StorageError(`cannot open database ${path}: ${(e as Error).message}`);
}

function readOnlyError(path: string, why: string, cause: unknown): StorageReadOnlyError {
  return new StorageReadOnlyError(
    `cannot open database ${path}: it is read-only for this process (${why}): it must be able to write its directory, the file (to migrate it), and the -wal and -shm files if they exist`,
    { cause },
  );
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens an Orrery SQLite database to be read as it is (`orrery copy`), writing nothing: it must exist and be
 * at this package's schema version, since migrating it would write it. `field` names the input in
 * the errors (their detail carries the message without it).
 */
export function openSqliteAsIs(path: string, field: string): Database.Database {
  const refuse = (message: string) => new ValidationError(`${field}: ${message}`, [{ path: field, message }]);
  if (!existsSync(path)) throw refuse(`no database at ${path}`);
  if (statSync(path).isDirectory()) throw refuse(`${path} is a directory`);
  let db: Database.Database;
  try {
    // Not `readonly`: a read-only connection leaves a -shm and an empty -wal file beside the database,
    // where this one, the last to close, removes them as any Orrery process does (after merging the
    // -wal into the file, which changes no content). query_only refuses every write of its own.
    db = new Database(path, { fileMustExist: true, timeout: 15_000 });
  } catch (e) {
    throw new StorageError(`cannot open database ${path}: ${(e as Error).message}`);
  }
  try {
    db.pragma('query_only = ON');
    const ledger = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'orrery_migrations'`).get() as { n: number };
    if (ledger.n === 0) throw refuse(`${path} is not an Orrery database (it has no orrery_migrations table)`);
    const migrations = loadMigrations(MIGRATIONS_DIR);
    const current = ledgerVersion(db.prepare('SELECT version, name FROM orrery_migrations').all() as LedgerRow[], migrations);
    const latest = migrations.length;
    if (current < latest) {
      throw refuse(
        `${path} is at schema version ${current}, this Orrery's is ${latest}, and the copy does not change the file: ` +
          `upgrade it first by opening it once with this Orrery (any command on it, e.g. \`orrery task-type list --db sqlite:${path}\`; ` +
          'back the file up before if you may go back to the older Orrery), then copy',
      );
    }
  } catch (e) {
    db.close();
    if (e instanceof OrreryError) throw e;
    throw openError(path, e);
  }
  return db;
}

/** The tables of Orrery's SQLite schema at this package's version (those of a new in-memory database). */
export function orreryTables(): string[] {
  const db = openSqlite(':memory:');
  try {
    return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`).all() as Array<{ name: string }>).map((r) => r.name);
  } finally {
    db.close();
  }
}

/** Applies the pending migrations of the package to an open database. */
function migrate(db: Database.Database): void {
  applyMigrations(db, loadMigrations(MIGRATIONS_DIR));
}

/**
 * Applies pending migrations under a write lock, recording each in the ledger; a failure names the
 * migration and applies none of them. Foreign keys are off while they run, as SQLite's procedure for
 * schema changes asks: a migration that rebuilds a table (0008 task_runs, 0014 dag_runs: SQLite
 * cannot change a CHECK constraint in place) drops the old one, and with foreign keys on, that drop
 * counted every row of a child table (run_logs, the DAG tasks) as a violation that the rename of the
 * new table never cleared, so the upgrade of any database with such rows failed. When a pending
 * migration drops a table, `PRAGMA foreign_key_check` stands in for the foreign keys: a row the
 * upgrade leaves without its parent (one that was not already so before it) rolls it back.
 */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[]): void {
  const latest = migrations.length;
  // A schema already current is read without the write lock: in WAL mode a reader neither waits for
  // another process's write transaction nor holds it up (a `task list` beside a busy writer).
  const ledger = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orrery_migrations'`).get() !== undefined;
  const recorded = () => db.prepare('SELECT version, name FROM orrery_migrations').all() as LedgerRow[];
  if (ledger && ledgerVersion(recorded(), migrations) === latest) return;
  const run = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS orrery_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const current = ledgerVersion(recorded(), migrations);
    const pending = migrations.slice(current);
    const before = pending.some((m) => /\bDROP\s+TABLE\b/i.test(m.sql)) ? new Set(orphans(db).map(orphanKey)) : null;
    for (const m of pending) {
      try {
        db.exec(m.sql);
      } catch (e) {
        if (e instanceof Error) e.message = `migration ${m.name}: ${e.message}`;
        throw e;
      }
      db.prepare('INSERT INTO orrery_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
    }
    if (before) {
      const left = orphans(db).filter((o) => !before.has(orphanKey(o)));
      if (left.length > 0) {
        throw new StorageError(
          `migration ${pending.at(-1)!.name}: the upgrade would leave ${left.length} row(s) without their parent (first: ${orphanKey(left[0]!)}); nothing was applied`,
        );
      }
    }
  });
  // Outside the transaction: SQLite ignores this pragma inside one.
  db.pragma('foreign_keys = OFF');
  try {
    run.immediate();
  } finally {
    db.pragma('foreign_keys = ON');
  }
}

interface Orphan {
  table: string;
  rowid: number | null;
  parent: string;
}

const orphans = (db: Database.Database) => db.pragma('foreign_key_check') as Orphan[];
const orphanKey = (o: Orphan) => `${o.table} row ${o.rowid ?? '?'} -> ${o.parent}`;
