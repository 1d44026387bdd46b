/**
 * Test helpers for PostgreSQL: every test (or test file) gets its own database, copied from the
 * template that test/support/postgres-global-setup.ts migrated once for the run.
 */
import { randomBytes } from 'node:crypto';
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
 * Databases not dropped by the caller are dropped after the test file (afterAll).
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

afterAll(async () => {
  for (const name of [...created]) await dropTestDatabase(name);
});

function uniqueName(hint?: string): string {
  counter += 1;
  const base = `${inject('pgPrefix')}${process.pid}_${counter}_${randomBytes(3).toString('hex')}`;
  const tail = (hint ?? '').toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  return tail ? `${base}_${tail}`.slice(0, MAX_IDENT_BYTES) : base;
}
