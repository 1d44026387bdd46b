/**
 * Test helpers for PostgreSQL: every test (or test file) gets its own database, copied from the
 * template that test/support/postgres-global-setup.ts migrated once for the run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { databaseUrl, quoteIdent, withClient } from './postgres-admin.js';

export interface TestDatabase {
  name: string;
  /** postgres:// URL of the new database, for PostgresStore.open / openStore / child processes. */
  url: string;
  /** Drops the database, ending any sessions still connected to it. Safe to call twice. */
  drop(): Promise<void>;
}

const MAX_IDENT_BYTES = 63;
let counter = 0;
const created = new Set<string>();

/** Maintenance URL of the test server (the user may CREATE DATABASE there). */
export function pgBaseUrl(): string {
  return inject('pgUrl');
}

/**
 * Creates a fresh, migrated database from the run's template and returns its URL with a `drop()`.
 * Databases not dropped by the caller are dropped after the test file (dropCreatedDatabases).
 * `hint` only makes the name readable in pg_stat_activity; names are unique across workers anyway.
 */
export async function createTestDatabase(hint?: string): Promise<TestDatabase> {
  const templateError = inject('pgTemplateError');
  if (templateError) throw new Error(`the PostgreSQL test template could not be prepared (globalSetup):\n${templateError}`);
  const name = uniqueName(hint);
  await withClient(pgBaseUrl(), (c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(inject('pgTemplate'))}`));
  created.add(name);
  return { name, url: databaseUrl(pgBaseUrl(), name), drop: () => dropTestDatabase(name) };
}

/** Drops a database made by createTestDatabase (FORCE: sessions still connected are ended). */
export async function dropTestDatabase(name: string): Promise<void> {
  if (!created.delete(name)) return;
  await withClient(pgBaseUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}

/**
 * Drops the databases made by createTestDatabase that their test file did not drop (and ends their
 * sessions). Registered after every integration test file by test/support/each-file.ts: a hook here,
 * at the top of a module that files of one test process share, would run after the first file only.
 */
export async function dropCreatedDatabases(): Promise<void> {
  for (const name of [...created]) await dropTestDatabase(name);
}

function uniqueName(hint?: string): string {
  counter += 1;
  const base = `${inject('pgPrefix')}${process.pid}_${counter}_${randomBytes(3).toString('hex')}`;
  const tail = (hint ?? '').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return tail ? `${base}_${tail}`.slice(0, MAX_IDENT_BYTES) : base;
}

/**
 * One database for many tests of a file, put back into its just-migrated state before each test
 * but the first: what a fresh `createTestDatabase()` would give, for a few milliseconds of server
 * CPU instead of about 0.25 s (CREATE DATABASE, DROP DATABASE and two admin connections). For tests
 * that go through the store only (the conformance cases): a test that changes the schema needs a
 * database of its own.
 *
 * `next()` ends every other session on the database (a store the previous test left open), deletes
 * every row of every table but those the migrations filled (children before parents), and sets
 * every sequence back to where the migrations left it. If a table the migrations filled changed, it
 * starts over on a new database.
 */
export function useRecycledDatabase(hint?: string): { next(): Promise<TestDatabase> } {
  let state: Recycled | null = null;
  afterAll(async () => {
    await state?.client.end().catch(() => {});
    state = null;
  });
  return {
    async next() {
      if (state && (await state.reset())) return state.db;
      await state?.client.end().catch(() => {});
      if (state) await state.db.drop();
      state = await recycled(await createTestDatabase(hint));
      return state.db;
    },
  };
}

interface Recycled {
  db: TestDatabase;
  client: pg.Client;
  /** Empties the database; false when it cannot be put back (a table the migrations filled changed). */
  reset(): Promise<boolean>;
}

async function recycled(db: TestDatabase): Promise<Recycled> {
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => {}); // the pending query reports it
  await client.connect();
  const tables = (await client.query<{ t: string }>(`SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = current_schema()`)).rows.map((r) => r.t);
  const fingerprint = (t: string) => `SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS h FROM ${t} x`;
  const seeded = new Map<string, string>();
  for (const t of tables) {
    if ((await client.query(`SELECT EXISTS (SELECT FROM ${t}) AS e`)).rows[0].e) seeded.set(t, (await client.query(fingerprint(t))).rows[0].h);
  }
  // Children before parents, so that no foreign key refuses a delete.
  const edges = (
    await client.query<{ child: string; parent: string }>(
      `SELECT format('%I.%I', cn.nspname, c.relname) AS child, format('%I.%I', pn.nspname, p.relname) AS parent
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
       JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
       WHERE k.contype = 'f' AND k.conrelid <> k.confrelid`,
    )
  ).rows;
  const order: string[] = [];
  const visit = (t: string, path: Set<string>) => {
    if (order.includes(t) || path.has(t)) return;
    path.add(t);
    for (const e of edges) if (e.parent === t) visit(e.child, path);
    path.delete(t);
    order.push(t);
  };
  for (const t of tables) visit(t, new Set());
  const emptied = order.filter((t) => !seeded.has(t));
  const sequences = (
    await client.query<{ s: string }>(`SELECT format('%I.%I', sequence_schema, sequence_name) AS s FROM information_schema.sequences WHERE sequence_schema = current_schema()`)
  ).rows.map((r) => r.s);
  const positions = [];
  for (const s of sequences) positions.push({ s, ...(await client.query<{ v: string; called: boolean }>(`SELECT last_value AS v, is_called AS called FROM ${s}`)).rows[0]! });
  const resetSql = [
    'BEGIN',
    ...emptied.map((t) => `DELETE FROM ${t}`),
    ...positions.map((p) => `SELECT setval('${p.s.replace(/'/g, "''")}', ${p.v}, ${p.called})`),
    'COMMIT',
  ].join(';\n');
  return {
    db,
    client,
    async reset() {
      try {
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
        for (const [t, h] of seeded) if ((await client.query(fingerprint(t))).rows[0].h !== h) return false;
        await client.query(resetSql);
        return true;
      } catch {
        await client.query('ROLLBACK').catch(() => {});
        return false;
      }
    },
  };
}
