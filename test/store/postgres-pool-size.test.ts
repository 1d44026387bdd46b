import { afterEach, describe, expect, it } from 'vitest';
import { createPool } from '../../src/store/postgres/postgres-connection.js';

describe('ORRERY_PG_POOL_SIZE', () => {
  const before = process.env.ORRERY_PG_POOL_SIZE;
  afterEach(() => {
    if (before === undefined) delete process.env.ORRERY_PG_POOL_SIZE;
    else process.env.ORRERY_PG_POOL_SIZE = before;
  });

  it('takes a positive whole number in decimal digits up to 10,000, and nothing else', async () => {
    for (const ok of ['1', '10', '250', '10000', '']) {
      process.env.ORRERY_PG_POOL_SIZE = ok;
      const pool = createPool('postgres://u:p@127.0.0.1:1/db'); // no connection is made until a query
      expect(pool.options.max).toBe(ok === '' ? 10 : Number(ok));
      await pool.end();
    }
    for (const bad of ['abc', '0', '-1', '1.5', '1e2', '007', '10 ', ' ', '10001', '1000000', '99999999999999999999']) {
      process.env.ORRERY_PG_POOL_SIZE = bad;
      expect(() => createPool('postgres://u:p@127.0.0.1:1/db'), bad).toThrow(/ORRERY_PG_POOL_SIZE: ".*" is not a positive integer up to 10000$/);
    }
  });
});
