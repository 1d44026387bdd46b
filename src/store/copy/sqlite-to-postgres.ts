import type Database from 'better-sqlite3';
import type pg from 'pg';
import { ConflictError, StorageError, ValidationError } from '../../core/errors.js';
import { checkCopyOptions, checkPostgresUrl, matchSchemas, refuseOption, refuseLiveWorkers, type CopyOptionsBase, type CopySummary, type Table } from './copy-schema.js';
import { converterFor, CopyValueError } from './copy-values.js';

export type { CopyProgress, CopySummary } from './copy-schema.js';

/**
 * Copies every row of a SQLite database into an empty PostgreSQL database (docs/operations.md,
 * "Moving from SQLite to PostgreSQL"): tasks, runs and their logs, task types, DAGs, schedules'
 * backfills, listers and origins, archives, limits' state and the worker registry. Both databases are
 * migrated to this Orrery's schema first. The source is read in one read transaction (a snapshot);
 * the target is written in one transaction, so a failure leaves it as empty as it was.
 */

/**
 * Rows per INSERT statement. Each column's values go as one array parameter (unnest), which the
 * server parses several times faster than a parameter per value; a table with an array column (the
 * workers' types) takes a parameter per value, so fewer rows.
 */
const ROWS_PER_STATEMENT = 5_000;
const PARAMETERS_PER_STATEMENT = 20_000;

export interface CopyOptions extends CopyOptionsBase {
  /** The SQLite database file to read. */
  sqlitePath: string;
  /** The PostgreSQL database to fill (postgres://...): its Orrery tables must be empty. */
  postgresUrl: string;
}

export async function copySqliteToPostgres(opts: CopyOptions): Promise<CopySummary> {
  const started = performance.now();
  checkCopyOptions(opts);
  const { sqlitePath, postgresUrl } = opts;
  const refuse = refuseOption;
  if (sqlitePath === ':memory:' || sqlitePath === '') throw refuse('sqlitePath', 'the copy reads a SQLite database file, not an in-memory database');
  checkPostgresUrl(postgresUrl);
  // Loaded here: the package's other commands never load both drivers.
  const { openSqliteAsIs, orreryTables } = await import('../sqlite/sqlite-connection.js');
  const { createPool, migrate } = await import('../postgres/postgres-connection.js');
  const { translatePgError } = await import('../postgres/postgres-errors.js');

  // Read-only, and only at this Orrery's schema version: the copy never changes the file.
  const source = openSqliteAsIs(sqlitePath, 'sqlitePath');
  const pool = createPool(postgresUrl);
  let client: pg.PoolClient | null = null;
  try {
    source.exec('BEGIN'); // a read transaction: every table is read from one snapshot
    const heldRuns = (source.prepare(`SELECT count(*) AS n FROM task_runs WHERE status IN ('claimed', 'started')`).get() as { n: number }).n;
    if (!opts.ignoreWorkers) {
      const workers = source.prepare('SELECT id, last_seen, stopped_at FROM workers').all() as Array<{ id: string; last_seen: number; stopped_at: number | null }>;
      refuseLiveWorkers(workers.map((w) => ({ id: w.id, lastSeen: new Date(w.last_seen), stoppedAt: w.stopped_at === null ? null : new Date(w.stopped_at) })), opts.at ?? new Date(), 'SQLite');
    }

    await migrate(pool, postgresUrl);
    try {
      client = await pool.connect();
    } catch (e) {
      throw translatePgError(e);
    }
    const target = client;
    const { tables, skipped } = await matchSchemas(source, target, orreryTables());
    await target.query('BEGIN');
    // Nothing else writes the tables while they fill (readers go on, and see them only at the commit).
    await target.query(`LOCK TABLE ${tables.map((t) => t.name).join(', ')} IN EXCLUSIVE MODE`);
    await refuseNonEmpty(target, tables.map((t) => t.name));
    const moves = sequenceMoves(source, tables);
    await refuseFixedSequences(target, moves);

    const summary: CopySummary['tables'] = [];
    let rows = 0;
    for (const t of tables) {
      const n = await copyTable(source, target, t, opts.onProgress);
      summary.push({ table: t.name, rows: n });
      rows += n;
    }
    await setSequences(target, moves);
    await target.query('COMMIT');
    return { tables: summary, rows, heldRuns, skippedTables: skipped, durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    if (client) await client.query('ROLLBACK').catch(() => {});
    throw translatePgError(e);
  } finally {
    if (source.inTransaction) source.exec('ROLLBACK');
    source.close();
    client?.release();
    await pool.end().catch(() => {});
  }
}

async function refuseNonEmpty(target: pg.PoolClient, names: string[]): Promise<void> {
  const { rows } = await target.query<{ name: string }>(names.map((n) => `SELECT '${n}' AS name WHERE EXISTS (SELECT 1 FROM ${n})`).join(' UNION ALL '));
  if (rows.length === 0) return;
  const held = rows.map((r) => r.name);
  throw new ConflictError(`the PostgreSQL database already holds Orrery data (in ${held.join(', ')}): the copy fills an empty database only`, [{ path: 'to', message: `holds Orrery data in ${held.join(', ')}` }]);
}

/**
 * setval needs UPDATE on a sequence, which a role given only USAGE lacks: refused before any row is
 * sent (only for the sequences the copy will move).
 */
async function refuseFixedSequences(target: pg.PoolClient, moves: readonly SequenceMove[]): Promise<void> {
  if (moves.length === 0) return;
  const { rows } = await target.query<{ seq: string; ok: boolean; role: string; schema: string }>(
    `SELECT s.seq, has_sequence_privilege(s.seq, 'UPDATE') AS ok, quote_ident(current_user) AS role, quote_ident(current_schema()) AS schema
       FROM unnest($1::text[], $2::text[]) AS x(t, c), LATERAL (SELECT pg_get_serial_sequence(x.t, x.c) AS seq) s`,
    [moves.map((m) => m.table), moves.map((m) => m.column)],
  );
  const fixed = rows.filter((r) => !r.ok);
  if (fixed.length === 0) return;
  const { role, schema } = fixed[0]!;
  throw new StorageError(
    `the role ${role} may not set the id sequences (${fixed.map((r) => r.seq).join(', ')}), which the copy moves past the copied ids, so nothing was copied: ` +
      `GRANT UPDATE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}, or copy as the role that owns the tables`,
  );
}

async function copyTable(source: Database.Database, target: pg.PoolClient, t: Table, onProgress: CopyOptions['onProgress']): Promise<number> {
  const total = (source.prepare(`SELECT count(*) AS n FROM ${t.name}`).get() as { n: number }).n;
  const names = t.columns.map((c) => c.name);
  const unnestable = t.columns.every((c) => !c.udt.startsWith('_'));
  const perStatement = unnestable ? ROWS_PER_STATEMENT : Math.max(1, Math.floor(PARAMETERS_PER_STATEMENT / names.length));
  const insert = unnestable ? `INSERT INTO ${t.name} (${names.join(', ')}) SELECT * FROM unnest(${t.columns.map((c, i) => `$${i + 1}::${c.udt}[]`).join(', ')})` : null;
  const read = source.prepare(`SELECT rowid AS "orrery rowid", ${names.map((n) => `"${n}"`).join(', ')} FROM ${t.name}`).raw(true);
  let copied = 0;
  let batch: unknown[] = [];
  let rowids: number[] = [];
  const insertRows = async (values: unknown[], n: number): Promise<void> => {
    if (insert) {
      await target.query(insert, t.columns.map((_, i) => Array.from({ length: n }, (_r, r) => values[r * names.length + i])));
    } else {
      const rows: string[] = [];
      for (let r = 0, p = 1; r < n; r++) rows.push(`(${names.map(() => `$${p++}`).join(', ')})`);
      await target.query(`INSERT INTO ${t.name} (${names.join(', ')}) VALUES ${rows.join(', ')}`, values);
    }
  };
  const flush = async (): Promise<void> => {
    const n = rowids.length;
    if (n === 0) return;
    await target.query('SAVEPOINT orrery_copy_batch');
    try {
      await insertRows(batch, n);
    } catch (e) {
      if (!refusedValue(e)) throw e;
      await target.query('ROLLBACK TO SAVEPOINT orrery_copy_batch');
      await nameRefusedRow(e as Error);
    }
    copied += n;
    batch = [];
    rowids = [];
    onProgress?.({ table: t.name, copied, total, done: false });
  };
  /** PostgreSQL refused a value of the batch: each row is inserted alone (the copy is rolled back anyway) until it names the one. */
  const nameRefusedRow = async (batchError: Error): Promise<never> => {
    const width = names.length;
    for (let r = 0; r < rowids.length; r++) {
      try {
        await insertRows(batch.slice(r * width, (r + 1) * width), 1);
      } catch (e) {
        if (!refusedValue(e)) throw e;
        throw new ValidationError(`${t.name} (rowid ${rowids[r]}): PostgreSQL refused the row, so nothing was copied: ${(e as Error).message}`, [{ path: t.name, message: (e as Error).message }]);
      }
    }
    throw new ValidationError(`${t.name}: PostgreSQL refused the rows from rowid ${rowids[0]} on, so nothing was copied: ${batchError.message}`, [{ path: t.name, message: batchError.message }]);
  };
  const converts = t.columns.map((c) => converterFor(c.udt)!);
  for (const row of read.iterate() as IterableIterator<unknown[]>) {
    rowids.push(row[0] as number);
    for (let i = 0; i < t.columns.length; i++) {
      const c = t.columns[i]!;
      try {
        batch.push(converts[i]!(row[i + 1]));
      } catch (e) {
        if (!(e instanceof CopyValueError)) throw e;
        throw new ValidationError(`${t.name} (rowid ${row[0]}): ${c.name}: ${e.message}; nothing was copied`, [{ path: `${t.name}.${c.name}`, message: e.message }]);
      }
    }
    if (rowids.length === perStatement) await flush();
  }
  await flush();
  onProgress?.({ table: t.name, copied, total, done: true });
  return copied;
}

/** A data or constraint error (SQLSTATE classes 22 and 23): the value, not the database, is at fault. */
function refusedValue(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}

interface SequenceMove {
  table: string;
  column: string;
  /** The id the sequence continues after. */
  last: number;
}

/**
 * Each id sequence continues above the largest id copied, and above the SQLite store's floor for the
 * table (the largest id it ever handed out, archived or deleted rows included): no id is handed out twice.
 */
function sequenceMoves(source: Database.Database, tables: Table[]): SequenceMove[] {
  const floors = new Map((source.prepare('SELECT name, id FROM orrery_id_floor').all() as Array<{ name: string; id: number }>).map((r) => [r.name, r.id]));
  const moves: SequenceMove[] = [];
  for (const t of tables) {
    for (const c of t.columns.filter((col) => col.serial)) {
      const max = (source.prepare(`SELECT coalesce(max("${c.name}"), 0) AS m FROM ${t.name}`).get() as { m: number }).m;
      const last = Math.max(max, floors.get(t.name) ?? 0);
      if (last > 0) moves.push({ table: t.name, column: c.name, last });
    }
  }
  return moves;
}

async function setSequences(target: pg.PoolClient, moves: readonly SequenceMove[]): Promise<void> {
  // Never backwards: a sequence that already handed out more ids (rows deleted since) keeps its place.
  for (const m of moves) {
    await target.query(`SELECT setval(s.seq, greatest($3, coalesce(pg_sequence_last_value(s.seq), 0))) FROM (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq) s`, [m.table, m.column, m.last]);
  }
}
