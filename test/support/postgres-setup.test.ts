import { describe, expect, it } from 'vitest';
import { withClient } from './postgres-admin.js';
import { createTestDatabase, pgBaseUrl } from './postgres.js';

describe('PostgreSQL test set-up', () => {
  it('has a server that answers', async () => {
    const { rows } = await withClient(pgBaseUrl(), (c) => c.query<{ version: string }>('select version()'));
    expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
  });

  it('gives each createTestDatabase() call its own database', async () => {
    const [a, b] = await Promise.all([createTestDatabase('setup a'), createTestDatabase('setup b')]);
    expect(a.name).not.toBe(b.name);
    await withClient(a.url, (c) => c.query('CREATE TABLE only_in_a (id int)'));
    const exists = (url: string) =>
      withClient(url, async (c) => (await c.query(`SELECT to_regclass('public.only_in_a') IS NOT NULL AS e`)).rows[0].e as boolean);
    expect(await exists(a.url)).toBe(true);
    expect(await exists(b.url)).toBe(false);
    await a.drop();
    await b.drop();
    await a.drop(); // twice is harmless
    await expect(withClient(a.url, (c) => c.query('select 1'))).rejects.toThrow(/does not exist/);
  });
});

