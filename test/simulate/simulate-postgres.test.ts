/**
 * `simulate` on a PostgreSQL store: the virtual clock waits for every query in flight, so the
 * forecast of an order-independent workload is the one SQLite gives.
 */
import { describe, expect, it } from 'vitest';
import { simulate } from '../../src/index.js';
import { createTestDatabase } from '../support/postgres.js';

describe('simulate on PostgreSQL', () => {
  it('runs a scenario on a postgres:// store with the same forecast as on SQLite', { timeout: 120_000 }, async () => {
    const minute = 60_000;
    const db = await createTestDatabase('simulate');
    const scenario = (store: string) => ({
      name: 'backoff',
      duration: '15m',
      store,
      taskTypes: [{ name: 'poll', defaultIntervalMs: '1m', maxIntervalMs: '16m', backoffFactor: 2 }],
      tasks: [{ type: 'poll', count: 20, policy: 'recurring' as const, spread: '10s' }],
      handlers: { poll: { duration: { dist: 'constant' as const, value: '1s' } } },
      workers: [{ count: 2, concurrency: 4 }],
    });
    const pg = await simulate(scenario(db.url));
    const sqlite = await simulate(scenario('sqlite::memory:'));
    expect(pg.store).toBe('postgres');
    expect(pg.byType.poll!.runs).toBe(20 * 4);
    expect(pg.byType.poll!.finalIntervalMs).toEqual({ min: 16 * minute, p50: 16 * minute, max: 16 * minute });
    expect(pg.runs).toEqual(sqlite.runs);
    expect(pg.byType.poll!.lagMs.max).toBeLessThan(1000);
    await db.drop();
  });
});
