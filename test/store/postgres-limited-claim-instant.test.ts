/**
 * A limited type's claim that waited for the type's lock starts its runs at the instant it got the
 * lock, not at the instant read before the wait: a run that ended meanwhile (freeing the slot the
 * claim takes) then never overlaps the new run in the recorded times (guarantees audit: up to 11
 * recorded overlaps against maxRunning 5, from claims that read their instant before a lock wait).
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskTypeInput } from '../../src/core/validation.js';
import { ManualClock } from '../../src/engine/clock.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { CLAIM_LOCK_CLASS } from '../../src/store/postgres/postgres-claims.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('PostgreSQL: a limited claim that waited for its lock', () => {
  let db: TestDatabase | null = null;
  let orrery: Orrery | null = null;
  let holder: pg.Client | null = null;
  afterEach(async () => {
    await holder?.end();
    await orrery?.close();
    await db?.drop();
    holder = null;
    orrery = null;
    db = null;
  });

  /**
   * One slot (maxRunning 1) taken by a first run; a second claim is held by another session (`block`)
   * while the clock moves 5 s on and the first run ends, then let go (`release`): the second run's
   * recorded start must not come before that end.
   */
  async function slotFreedWhileClaimWaits(hint: string, type: TaskTypeInput, block: (c: pg.Client) => Promise<void>, release: (c: pg.Client) => Promise<void>, waitsOn: 'advisory' | 'relation') {
    db = await createTestDatabase(hint);
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    orrery = await openOrrery({ db: db.url, clock });
    await orrery.createTaskType(type);
    const [a, b] = await orrery.createTasks([1, 2].map((i) => ({ type: type.name, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await orrery.scheduleDue({ type: type.name });
    const [first] = await orrery.claimRuns({ worker: 'w1', types: [type.name], limit: 1, due: false });
    expect(first!.run.task).toBe(a!.id);

    holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await block(holder);
    const waiting = orrery.claimRuns({ worker: 'w2', types: [type.name], limit: 1, due: false });
    await waitForLockWait(holder, waitsOn);
    // Meanwhile the clock moves on and the first run ends (an end takes no type lock), freeing the slot.
    clock.set('2026-03-01T00:00:05Z');
    await orrery.endRun(first!.run.backendId, { status: 'uneventful', worker: 'w1' });
    await release(holder);

    const [second] = await waiting;
    expect(second!.run.task).toBe(b!.id);
    const ended = (await orrery.getRun(first!.run.backendId))!.ended!;
    expect(ended.toISOString()).toBe('2026-03-01T00:00:05.000Z');
    // Read before the wait it was 00:00:00, five seconds before the end of the run it replaced.
    expect(second!.run.started!.getTime()).toBeGreaterThanOrEqual(ended.getTime());
    expect((await orrery.getRun(second!.run.backendId))!.started).toEqual(second!.run.started);
  }

  it('starts its run at the instant it got the lock, after the end of the run whose slot it took', async () => {
    // Another session holds the type's claim lock: the next claim reads its instant, then waits.
    const lock = (c: pg.Client, fn: string) => c.query(`SELECT ${fn}($1::int, hashtext($2))`, [CLAIM_LOCK_CLASS, 'solo']).then(() => {});
    await slotFreedWhileClaimWaits('limited-claim-instant', { name: 'solo', maxRunning: 1 }, (c) => lock(c, 'pg_advisory_lock'), (c) => lock(c, 'pg_advisory_unlock'), 'advisory');
  }, 60_000);

  it('starts its run no earlier than the end of a run that committed after it got the lock and before it counted (limits audit)', async () => {
    // The rate limit makes the claim read rate_limit_starts between the lock and the running count:
    // another session holding that table lets the claim take the type's lock and read its instant, then wait.
    await slotFreedWhileClaimWaits(
      'limited-claim-count',
      { name: 'solo', maxRunning: 1, rateLimit: '1000/1s' },
      async (c) => void (await c.query('BEGIN; LOCK TABLE rate_limit_starts IN ACCESS EXCLUSIVE MODE')),
      async (c) => void (await c.query('COMMIT')),
      'relation',
    );
  }, 60_000);

  it('any claim that waited for a connection queues, starts and leases its runs from when it got one', async () => {
    db = await createTestDatabase('claim-connection-wait');
    const clock = new ManualClock('2026-03-01T00:00:00Z');
    const size = process.env.ORRERY_PG_POOL_SIZE;
    process.env.ORRERY_PG_POOL_SIZE = '1'; // one connection, no kept one for claims: the claim waits for it
    try {
      orrery = await openOrrery({ db: db.url, clock });
    } finally {
      if (size === undefined) delete process.env.ORRERY_PG_POOL_SIZE;
      else process.env.ORRERY_PG_POOL_SIZE = size;
    }
    await orrery.createTaskType({ name: 'plain' });
    await orrery.createTask({ type: 'plain', policy: 'oneshot', arguments: { args: ['queued'], kwargs: {} } });
    await orrery.scheduleDue({ type: 'plain' });
    await orrery.createTask({ type: 'plain', policy: 'oneshot', arguments: { args: ['due'], kwargs: {} } });
    await orrery.claimRuns({ worker: 'w0', types: ['plain'], limit: 0 }); // the type is known: the claim's first wait is for the connection
    const pool = (orrery.store as unknown as { pool: pg.Pool }).pool;
    const held = await pool.connect();
    const waiting = orrery.claimRuns({ worker: 'w1', types: ['plain'], limit: 5, startNow: 5 });
    for (let i = 0; i < 500 && pool.waitingCount === 0; i++) await new Promise((r) => setImmediate(r));
    expect(pool.waitingCount).toBeGreaterThan(0);
    clock.set('2026-03-01T00:00:10Z');
    held.release();
    const runs = await waiting;
    expect(runs).toHaveLength(2);
    const later = new Date('2026-03-01T00:00:10Z');
    for (const c of runs) {
      expect(c.run.started).toEqual(later);
      expect(c.run.leaseExpiresAt).toEqual(new Date(later.getTime() + 30_000));
      expect(c.run.scheduled.getTime()).toBeLessThanOrEqual(later.getTime());
      expect(await orrery.getRun(c.run.backendId)).toMatchObject({ started: later, leaseExpiresAt: new Date(later.getTime() + 30_000) });
    }
  }, 60_000);
});

/** Resolves once some session of the database waits for an advisory lock. */
async function waitForLockWait(c: pg.Client, locktype: 'advisory' | 'relation' = 'advisory'): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await c.query(`SELECT 1 FROM pg_locks WHERE locktype = $1 AND NOT granted LIMIT 1`, [locktype]);
    if (rows.length > 0) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('no claim waited for the lock');
}
