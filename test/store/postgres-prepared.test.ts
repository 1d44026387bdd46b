/**
 * RepreparedStatement: a hot statement is prepared by name per connection and prepared again under a
 * new name after a doubling number of uses that returned enough rows, the old one freed on the server,
 * so a plan made while the tables were tiny does not outlive the table's growth
 * (src/store/postgres/postgres-prepared.ts).
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RepreparedStatement } from '../../src/store/postgres/postgres-prepared.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('RepreparedStatement', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase('reprepared');
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const prepared = async () =>
    (await pool.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'probe%' ORDER BY name`)).rows.map((r) => r.name);

  it('prepares again on a doubling schedule, keeping one prepared statement per connection', async () => {
    const st = new RepreparedStatement('probe', 'SELECT $1::int + 1 AS n', 2, 16, 1);
    const seen: string[][] = [];
    for (let i = 1; i <= 20; i++) {
      const { rows } = await st.query<{ n: number }>(pool, [i]);
      expect(rows[0]!.n).toBe(i + 1);
      seen.push(await prepared());
    }
    // Generation 0 serves 2 calls, generation 1 four, generation 2 eight, then generation 3 (16 uses: the last span) for good.
    expect(seen[0]).toEqual(['probe_0']);
    expect(seen[1]).toEqual(['probe_0']);
    expect(seen[2]).toEqual(['probe_1']);
    expect(seen[5]).toEqual(['probe_1']);
    expect(seen[6]).toEqual(['probe_2']);
    expect(seen[13]).toEqual(['probe_2']);
    expect(seen[14]).toEqual(['probe_3']);
    expect(seen[19]).toEqual(['probe_3']);
  });

  it('counts rows too: a statement returning one row a call keeps its plan for span x rowsPerUse calls, one returning many rolls over after span calls', async () => {
    const one = new RepreparedStatement('probe_one', 'SELECT $1::int AS n', 2, 16, 4);
    const gens: string[] = [];
    for (let i = 1; i <= 12; i++) {
      await one.query(pool, [i]);
      gens.push((await prepared()).filter((n) => n.startsWith('probe_one')).join());
    }
    // Generation 0 until 2 uses and 8 rows (8 calls), then generation 1 until 4 uses and 16 rows.
    expect(gens.slice(0, 8)).toEqual(Array(8).fill('probe_one_0'));
    expect(gens.slice(8)).toEqual(Array(4).fill('probe_one_1'));

    const many = new RepreparedStatement('probe_many', 'SELECT generate_series(1, $1::int) AS n', 2, 16, 4);
    const seen: string[] = [];
    for (let i = 1; i <= 3; i++) {
      expect((await many.query(pool, [10])).rowCount).toBe(10);
      seen.push((await prepared()).filter((n) => n.startsWith('probe_many')).join());
    }
    expect(seen).toEqual(['probe_many_0', 'probe_many_0', 'probe_many_1']);
  });

  it('a generation whose statement is already gone on the server still gives way to the next', async () => {
    const st = new RepreparedStatement('gone', 'SELECT $1::int * 2 AS n', 1, 4, 1);
    expect((await st.query<{ n: number }>(pool, [2])).rows[0]!.n).toBe(4);
    // Freed behind its back (a DISCARD ALL by a pooler, say): the DEALLOCATE of the rollover fails and is ignored.
    await pool.query('DEALLOCATE gone_0');
    expect((await st.query<{ n: number }>(pool, [3])).rows[0]!.n).toBe(6);
    expect((await pool.query(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'gone%'`)).rows.map((r) => r.name)).toEqual(['gone_1']);
  });
});
