import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { ConflictError, StorageError, ValidationError } from '../../core/errors.js';
import { FLOORED_TABLES } from '../sqlite/sqlite-id-floor.js';
import { checkCopyOptions, checkPostgresUrl, matchSchemas, refuseOption, refuseLiveWorkers, type CopyOptionsBase, type CopySummary, type Table } from './copy-schema.js';
import { CopyValueError, sqliteValueFor } from './copy-values.js';

/** Rows read from PostgreSQL per fetch of the cursor. */
const ROWS_PER_FETCH = 5_000;


export interface CopyToSqliteOptions extends CopyOptionsBase {
  /** The PostgreSQL database to read (postgres://...). */
  postgresUrl: string;
  /** The SQLite file to fill: created if missing; an existing one must hold no Orrery row. */
  sqlitePath: string;
}

/**
 * Copies every Orrery row of a PostgreSQL database into an empty SQLite file (docs/operations.md,
 * "Moving from SQLite to PostgreSQL", "and back"): the way back, or a snapshot of a shared database
 * to look at on one machine. PostgreSQL is read in one read-only REPEATABLE READ transaction (a
 * snapshot); the file is written in one transaction, so a failure leaves it without Orrery rows.
 * `skippedTables` lists the SQLite file's own tables that are not Orrery's (left alone).
 */
export async function copyPostgresToSqlite(opts: CopyToSqliteOptions): Promise<CopySummary> {
  const started = performance.now();
  checkCopyOptions(opts);
  const { sqlitePath, postgresUrl } = opts;
  const refuse = refuseOption;
  checkPostgresUrl(postgresUrl);
  if (sqlitePath === ':memory:' || sqlitePath === '') throw refuse('sqlitePath', 'the copy writes a SQLite database file, not an in-memory database');
  if (existsSync(sqlitePath) && statSync(sqlitePath).isDirectory()) throw refuse('sqlitePath', `${sqlitePath} is a directory`);
  if (!existsSync(dirname(resolve(sqlitePath)))) throw refuse('sqlitePath', `directory ${dirname(resolve(sqlitePath))} does not exist`);
  const { openSqlite, orreryTables } = await import('../sqlite/sqlite-connection.js');
  const { createPool, migrate } = await import('../postgres/postgres-connection.js');
  const { translatePgError } = await import('../postgres/postgres-errors.js');

  const pool = createPool(postgresUrl);
  let client: pg.PoolClient | null = null;
  let target: Database.Database | null = null;
  try {
    // The source at this Orrery's schema (an older one is upgraded, as any command does).
    await migrate(pool, postgresUrl);
    try {
      client = await pool.connect();
    } catch (e) {
      throw translatePgError(e);
    }
    const source = client;
    await source.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'); // every table from one snapshot
    if (!opts.ignoreWorkers) {
      const { rows } = await source.query<{ id: string; last_seen: Date; stopped_at: Date | null }>('SELECT id, last_seen, stopped_at FROM workers');
      refuseLiveWorkers(rows.map((w) => ({ id: w.id, lastSeen: w.last_seen, stoppedAt: w.stopped_at })), opts.at ?? new Date(), 'PostgreSQL');
    }
    await refuseUnreadableSequences(source);
    const held = await source.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_runs WHERE status IN ('claimed', 'started')`);
    target = openSqlite(sqlitePath);
    const db = target;
    const { tables, skipped } = await matchSchemas(db, source, orreryTables());
    db.exec('BEGIN IMMEDIATE'); // nothing else writes the file while it fills
    refuseNonEmpty(db, tables.map((t) => t.name));
    const summary: CopySummary['tables'] = [];
    let rows = 0;
    for (const t of tables) {
      const n = await copyTable(source, db, t, opts.onProgress);
      summary.push({ table: t.name, rows: n });
      rows += n;
    }
    await setFloors(source, db);
    db.exec('COMMIT');
    await source.query('COMMIT');
    return { tables: summary, rows, heldRuns: held.rows[0]!.n, skippedTables: skipped, durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    if (target?.inTransaction) target.exec('ROLLBACK');
    throw translatePgError(e);
  } finally {
    target?.close();
    if (client) {
      await client.query('ROLLBACK').catch(() => {});
      client.release();
    }
    await pool.end().catch(() => {});
  }
}

function refuseNonEmpty(db: Database.Database, names: string[]): void {
  const held = names.filter((n) => (db.prepare(`SELECT EXISTS (SELECT 1 FROM ${n}) AS e`).get() as { e: number }).e === 1);
  if (held.length === 0) return;
  throw new ConflictError(`the SQLite database already holds Orrery data (in ${held.join(', ')}): the copy fills an empty database only`, [{ path: 'to', message: `holds Orrery data in ${held.join(', ')}` }]);
}

async function copyTable(source: pg.PoolClient, db: Database.Database, t: Table, onProgress: CopyToSqliteOptions['onProgress']): Promise<number> {
  const names = t.columns.map((c) => c.name);
  const converts = t.columns.map((c) => sqliteValueFor(c.udt)!);
  const total = (await source.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${t.name}`)).rows[0]!.n;
  const insert = db.prepare(`INSERT INTO ${t.name} (${names.map((n) => `"${n}"`).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`);
  const cursor = `orrery_copy_${t.name}`;
  await source.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${names.join(', ')} FROM ${t.name}`);
  // A row a value of which cannot be copied is named by its primary key (by its place in the read order in a table without one).
  const { rows: pk } = await source.query<{ col: string }>(
    `SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [t.name],
  );
  const key = (row: unknown[], copiedBefore: number): string => {
    const parts = pk.map(({ col }) => {
      const v = row[names.indexOf(col)];
      return `${col} ${v instanceof Date ? v.toISOString() : String(v)}`;
    });
    return parts.length > 0 && !parts.some((p) => p.endsWith(' undefined')) ? parts.join(', ') : `row ${copiedBefore + 1} as read`;
  };
  let copied = 0;
  for (;;) {
    const { rows } = await source.query({ text: `FETCH ${ROWS_PER_FETCH} FROM ${cursor}`, rowMode: 'array' });
    for (const row of rows as unknown[][]) {
      const values = row.map((v, i) => {
        try {
          return converts[i]!(v);
        } catch (e) {
          if (!(e instanceof CopyValueError)) throw e;
          throw new ValidationError(`${t.name} (${key(row, copied)}): ${names[i]}: ${e.message}; nothing was copied`, [{ path: `${t.name}.${names[i]}`, message: e.message }]);
        }
      });
      insert.run(values);
      copied++;
    }
    if (rows.length < ROWS_PER_FETCH) break;
    onProgress?.({ table: t.name, copied, total, done: false });
  }
  await source.query(`CLOSE ${cursor}`);
  onProgress?.({ table: t.name, copied, total, done: true });
  return copied;
}

/**
 * The floors come from the sequences, which a role without SELECT or USAGE on them reads as never
 * used (NULL): refused before the file is made, or the copy would hand ids out again.
 */
async function refuseUnreadableSequences(source: pg.PoolClient): Promise<void> {
  const { rows } = await source.query<{ seq: string; ok: boolean; role: string; schema: string }>(
    `SELECT s.seq, has_sequence_privilege(s.seq, 'SELECT, USAGE') AS ok, quote_ident(current_user) AS role, quote_ident(current_schema()) AS schema
       FROM unnest($1::text[]) AS t(name), LATERAL (SELECT pg_get_serial_sequence(t.name, 'id') AS seq) s`,
    [[...FLOORED_TABLES]],
  );
  const blind = rows.filter((r) => !r.ok);
  if (blind.length === 0) return;
  const { role, schema } = blind[0]!;
  throw new StorageError(
    `the role ${role} may not read the id sequences (${blind.map((r) => r.seq).join(', ')}), from which the copy sets the file's id floors, so nothing was copied: ` +
      `GRANT SELECT ON ALL SEQUENCES IN SCHEMA ${schema} TO ${role}, or copy as a role that may`,
  );
}

/**
 * The SQLite store hands out ids above its floors (sqlite-id-floor.ts): each is set to what the
 * table's PostgreSQL sequence last handed out, so no id of an archived or deleted row comes back.
 */
async function setFloors(source: pg.PoolClient, db: Database.Database): Promise<void> {
  const set = db.prepare(`INSERT INTO orrery_id_floor (name, id) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET id = max(orrery_id_floor.id, excluded.id)`);
  for (const table of FLOORED_TABLES) {
    // NULL for a sequence never used.
    const { rows } = await source.query<{ last: string | number | null }>(`SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass) AS last`, [table]);
    const last = rows[0]?.last === null || rows[0]?.last === undefined ? 0 : Number(rows[0].last);
    if (last > 0) set.run(table, last);
  }
}
