import { readdirSync, readFileSync } from 'node:fs';
import { SchemaTooNewError, StorageError } from '../core/errors.js';
import { join } from 'node:path';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Reads numbered `NNNN_name.sql` files, in order; gaps or duplicates are a packaging bug. */
export function loadMigrations(dir: string): Migration[] {
  const files = readdirSync(dir).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return files.map((file, i) => {
    const version = Number(file.slice(0, 4));
    if (version !== i + 1) throw new Error(`migration ${file}: expected version ${i + 1}`);
    return { version, name: file.replace(/\.sql$/, ''), sql: readFileSync(join(dir, file), 'utf8') };
  });
}

/** A row of a database's ledger of applied migrations (`orrery_migrations`). */
export interface LedgerRow {
  version: number;
  name: string;
}

/**
 * The version a database's schema is at, from its ledger, checked against this build's migrations:
 * a version past them is a newer Orrery's (`SchemaTooNewError`); a version recorded under another
 * name was applied by a build whose migration of that number differs (a development build's, changed
 * before release), so the schema is not the one this build's later migrations and queries expect
 * (`no such table` on every command): refused before anything is applied, naming both.
 */
export function ledgerVersion(rows: readonly LedgerRow[], migrations: readonly Migration[]): number {
  const current = rows.reduce((v, r) => Math.max(v, Number(r.version)), 0);
  if (current > migrations.length) {
    throw new SchemaTooNewError(`database schema version ${current} is newer than this Orrery (knows up to ${migrations.length}); upgrade Orrery`);
  }
  for (const r of [...rows].sort((a, b) => a.version - b.version)) {
    const m = migrations[Number(r.version) - 1];
    if (m && m.name !== r.name) {
      throw new StorageError(
        `database schema mismatch: its migration ${r.version} is ${r.name}, this Orrery's is ${m.name} (it was migrated by another build of Orrery, whose migrations differ); nothing was applied: open it with the build that made it, or use a new database`,
      );
    }
  }
  return current;
}
