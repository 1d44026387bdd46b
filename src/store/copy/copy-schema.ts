import type Database from 'better-sqlite3';
import type pg from 'pg';
import { ConflictError, invalid, StorageError, ValidationError } from '../../core/errors.js';
import { requireOptions } from '../../core/options.js';
import { workerLiveness } from '../../core/worker-liveness.js';
import { postgresUrlParses, redactUrl } from '../redact-url.js';
import { converterFor, sqliteValueFor } from './copy-values.js';

/**
 * What both directions of `orrery copy` share (docs/operations.md, "Moving from SQLite to
 * PostgreSQL"): which tables are Orrery's, how their columns match across the two schemas, the order
 * that keeps foreign keys satisfied, the live-worker check, and the summary's shapes.
 */

/** Tables that are each store's own bookkeeping, not Orrery data: never copied. */
export const OWN_TABLES = new Set(['orrery_migrations', 'orrery_id_floor']);

/** What both directions of the copy take beside their two databases. */
export interface CopyOptionsBase {
  /** Now, to tell whether a worker registered in the source is alive (default: the system clock). */
  at?: Date;
  /** Copy even though a worker registered in the source is alive (its later writes would be lost). */
  ignoreWorkers?: boolean;
  /** Called after each batch of rows and once at the end of each table. */
  onProgress?: (p: CopyProgress) => void;
}

export interface CopyProgress {
  table: string;
  copied: number;
  total: number;
  done: boolean;
}

export interface CopySummary {
  /** Rows copied per table, in the order they were copied (parents before children). */
  tables: Array<{ table: string; rows: number }>;
  rows: number;
  /** Runs a worker held (claimed or started) in the source: the target's reaper takes them back once their leases expire. */
  heldRuns: number;
  /** Tables of the SQLite file that are not Orrery's (a table of your own), left out. */
  skippedTables: string[];
  durationMs: number;
}

/** A column of an Orrery table: its name, and its type as PostgreSQL names it (udt_name: int8, timestamptz, _text...). */
export interface Column {
  name: string;
  udt: string;
  /** Its default takes the next value of a sequence (bigserial). */
  serial: boolean;
}

export interface Table {
  name: string;
  columns: Column[];
}

/**
 * The tables to copy, parents before children (by PostgreSQL's foreign keys, which SQLite's
 * mirror), each with its columns: Orrery's tables (`orreryTables`, those this package's SQLite migrations
 * make). Both stores at the same schema version have them with the same columns; a difference is
 * refused rather than copied in part. Other tables (your own, in either database) are not Orrery's:
 * those of the SQLite file are named in the summary, and none is read, locked or written.
 */
export async function matchSchemas(source: Database.Database, pgClient: pg.PoolClient, orrery: readonly string[]): Promise<{ tables: Table[]; skipped: string[] }> {
  const wanted = new Set(orrery.filter((n) => !OWN_TABLES.has(n)));
  const sqliteTables = (source.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`).all() as Array<{ name: string }>)
    .map((r) => r.name)
    .filter((n) => !OWN_TABLES.has(n));
  const { rows: cols } = await pgClient.query<{ table_name: string; column_name: string; udt_name: string; serial: boolean }>(
    `SELECT table_name, column_name, udt_name, coalesce(column_default LIKE 'nextval(%', false) AS serial
       FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY table_name, ordinal_position`,
    [[...wanted]],
  );
  const targetColumns = new Map<string, Array<{ column_name: string; udt_name: string; serial: boolean }>>();
  for (const c of cols) (targetColumns.get(c.table_name) ?? targetColumns.set(c.table_name, []).get(c.table_name)!).push(c);
  const problems: string[] = [];
  const skipped = sqliteTables.filter((t) => !wanted.has(t)).sort();
  for (const t of wanted) {
    if (!targetColumns.has(t)) problems.push(`table ${t} is not in the PostgreSQL schema`);
    if (!sqliteTables.includes(t)) problems.push(`table ${t} is not in the SQLite file`);
  }
  const tables: Table[] = [];
  for (const name of sqliteTables) {
    const pgCols = targetColumns.get(name);
    if (!pgCols || !wanted.has(name)) continue;
    const sqliteCols = new Set((source.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as Array<{ name: string }>).map((r) => r.name));
    const columns: Column[] = [];
    for (const c of pgCols) {
      if (!sqliteCols.delete(c.column_name)) {
        problems.push(`${name}.${c.column_name} is not in the SQLite schema`);
        continue;
      }
      if (!converterFor(c.udt_name) || !sqliteValueFor(c.udt_name)) problems.push(`${name}.${c.column_name}: no copy rule for the PostgreSQL type ${c.udt_name}`);
      else columns.push({ name: c.column_name, udt: c.udt_name, serial: c.serial });
    }
    for (const c of sqliteCols) problems.push(`${name}.${c} is not in the PostgreSQL schema`);
    tables.push({ name, columns });
  }
  if (problems.length > 0) throw new StorageError(`the two schemas differ, so nothing was copied: ${problems.join('; ')}`);
  const { rows: fks } = await pgClient.query<{ child: string; parent: string }>(
    `SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent FROM pg_constraint
      WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`,
  );
  return { tables: parentsFirst(tables, fks), skipped };
}

export function parentsFirst(tables: Table[], fks: Array<{ child: string; parent: string }>): Table[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: Table[] = [];
  const seen = new Set<string>();
  const visit = (name: string, path: string[]): void => {
    if (seen.has(name)) return;
    if (path.includes(name)) throw new StorageError(`foreign keys form a cycle (${[...path, name].join(' -> ')}): the copy cannot order the tables`);
    for (const fk of fks) if (fk.child === name && fk.parent !== name) visit(fk.parent, [...path, name]);
    seen.add(name);
    const t = byName.get(name);
    if (t) out.push(t);
  };
  for (const t of [...tables].sort((a, b) => a.name.localeCompare(b.name))) visit(t.name, []);
  return out;
}

/** A worker seen alive in the source (`rows` as its `workers` table holds them) would go on writing there, and its writes would be lost. */
export function refuseLiveWorkers(rows: ReadonlyArray<{ id: string; lastSeen: Date; stoppedAt: Date | null }>, at: Date, source: string): void {
  // A worker that stopped gracefully (and was not seen since) runs no more, whatever instant `at` is.
  const stopped = (w: { lastSeen: Date; stoppedAt: Date | null }) => w.stoppedAt !== null && w.lastSeen.getTime() <= w.stoppedAt.getTime();
  const live = rows.filter((w) => !stopped(w) && workerLiveness(w.lastSeen, at) === 'alive').map((w) => w.id);
  if (live.length === 0) return;
  const shown = live.slice(0, 5).join(', ') + (live.length > 5 ? ` and ${live.length - 5} more` : '');
  throw new ConflictError(
    `${live.length} worker${live.length === 1 ? ' is' : 's are'} alive on the ${source} database (${shown}): stop every Orrery process using it first, ` +
      'or its later writes are lost (a worker seen in the last 30 s counts as alive)',
    [{ path: 'ignoreWorkers', message: `alive: ${shown}` }],
  );
}

/** Either direction's options, checked before anything is opened: a ValidationError names the first bad one. */
export function checkCopyOptions(opts: unknown): void {
  requireOptions(opts, '{ sqlitePath, postgresUrl, at?, ignoreWorkers?, onProgress? }');
  const o = opts as Record<string, unknown>;
  for (const field of ['sqlitePath', 'postgresUrl']) if (typeof o[field] !== 'string') throw invalid(field, 'must be a string');
  if (o.at !== undefined && !(o.at instanceof Date && !Number.isNaN(o.at.getTime()))) throw invalid('at', 'must be a valid Date');
  if (o.ignoreWorkers !== undefined && typeof o.ignoreWorkers !== 'boolean') throw invalid('ignoreWorkers', 'must be a boolean');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalid('onProgress', 'must be a function');
}

/** A ValidationError naming a copy's option (`sqlitePath`, `postgresUrl`: the CLI names its own options from the detail). */
export function refuseOption(field: string, message: string): ValidationError {
  return new ValidationError(`${field}: ${message}`, [{ path: field, message }]);
}

/** `postgresUrl` must be a postgres:// URL that parses. */
export function checkPostgresUrl(url: string): void {
  if (!/^postgres(ql)?:\/\//.test(url) || !postgresUrlParses(url)) throw refuseOption('postgresUrl', `"${redactUrl(url)}" is not a valid PostgreSQL URL (postgres://user:pass@host:port/db)`);
}
