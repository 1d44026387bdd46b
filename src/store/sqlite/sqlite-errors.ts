import { OrreryError, StorageReadOnlyError, StorageUnavailableError } from '../../core/errors.js';

/**
 * SQLite result codes (better-sqlite3's `code`, extended codes included: SQLITE_BUSY_SNAPSHOT,
 * SQLITE_IOERR_WRITE...) after which the same call may succeed later: the file is locked past the
 * busy timeout, the disk is full or failing, the file cannot be opened for now, memory ran out.
 * Constraint, schema, corruption and misuse errors are not among them: retrying changes nothing.
 */
const UNAVAILABLE = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL', 'SQLITE_NOMEM']);

/** The primary result code of an extended one: SQLITE_IOERR_WRITE -> SQLITE_IOERR. */
function primary(code: string): string {
  const m = /^SQLITE_[A-Z]+/.exec(code);
  return m ? m[0] : code;
}

/** An error out of the SQLite store, translated: a transient driver error becomes StorageUnavailableError; the rest is unchanged. */
export function translateSqliteError(e: unknown): unknown {
  if (e instanceof OrreryError) return e;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && primary(code) === 'SQLITE_READONLY') {
    return new StorageReadOnlyError(
      `the SQLite database is read-only for this process (${code}: ${(e as Error).message}): it must be able to write the file, its -wal and -shm files and their directory`,
      { cause: e },
    );
  }
  if (typeof code === 'string' && UNAVAILABLE.has(primary(code))) {
    return new StorageUnavailableError(`the SQLite database is unavailable (${code}: ${(e as Error).message}); retry later`, { cause: e });
  }
  return e;
}
