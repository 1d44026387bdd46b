/**
 * Listings documented "by name" come in the same order on PostgreSQL as on SQLite (code point order),
 * whatever the database's collation: most servers are initialised with a language collation
 * (ICU's puts `a:e` before `a.d`; glibc's en_US.UTF-8 ignores the punctuation and puts `ab` first).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/index.js';
import { databaseUrl, quoteIdent, withClient } from '../support/postgres-admin.js';
import { pgBaseUrl } from '../support/postgres.js';

const name = `orrery_collation_${process.pid}_${randomBytes(3).toString('hex')}`;
afterAll(() => withClient(pgBaseUrl(), (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)));

/** A database whose default collation is a language one: ICU's root locale, else glibc's en_US. */
async function languageCollatedDatabase(): Promise<string> {
  const tries = [
    `CREATE DATABASE ${quoteIdent(name)} LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C.UTF-8' TEMPLATE template0`,
    `CREATE DATABASE ${quoteIdent(name)} LC_COLLATE 'en_US.UTF-8' LC_CTYPE 'en_US.UTF-8' TEMPLATE template0`,
  ];
  const errors: string[] = [];
  for (const sql of tries) {
    try {
      await withClient(pgBaseUrl(), (c) => c.query(sql));
      return databaseUrl(pgBaseUrl(), name);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  throw new Error(`the test server has neither ICU nor the en_US.UTF-8 locale: ${errors.join('; ')}`);
}

describe('PostgreSQL with a language collation', () => {
  it('lists task types, queue statistics and listers in code point order, as SQLite does', async () => {
    const url = await languageCollatedDatabase();
    const names = ['ab', 'a-c', 'a.d', 'a:e'];
    const binary = [...names].sort(); // code point order: what SQLite's BINARY collation gives
    expect(binary).toEqual(['a-c', 'a.d', 'a:e', 'ab']);
    // The database itself sorts them otherwise (else this test proves nothing).
    const own = await withClient(url, (c) => c.query<{ n: string }>(`SELECT n FROM unnest($1::text[]) AS n ORDER BY n`, [names]));
    expect(own.rows.map((r) => r.n)).not.toEqual(binary);
    const orrery = await openOrrery({ db: url });
    try {
      for (const n of names) await orrery.createTaskType({ name: n });
      for (const n of names) await orrery.createTask({ type: n, policy: 'oneshot', arguments: { args: [n], kwargs: {} } });
      expect((await orrery.listTaskTypes()).map((t) => t.name)).toEqual(binary);
      expect((await orrery.queueStats({})).map((s) => s.type)).toEqual(binary);
      for (const n of names) await orrery.visits.getOrCreateLister(n, 'i');
      expect((await orrery.visits.listListers()).map((l) => l.name)).toEqual(binary);
    } finally {
      await orrery.close();
    }
  });
});
