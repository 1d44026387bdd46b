/**
 * PostgreSQL with a pool of one connection (ORRERY_PG_POOL_SIZE=1): a store path that asks the pool
 * for a second connection while its transaction holds the first waits for itself until the pool's
 * 10 s connection timeout, and fails. With the default pool of 10 the same mistake stalls the server
 * once ten such transactions run at once (ten HTTP ends: every one took a second connection to read
 * its task type). Each step opens a fresh Orrery, so no type is cached yet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const plus = (ms: number) => new Date(T0.getTime() + ms);

describe('PostgreSQL store paths on a pool of one connection', () => {
  const before = process.env.ORRERY_PG_POOL_SIZE;
  let db: TestDatabase;
  beforeAll(async () => {
    process.env.ORRERY_PG_POOL_SIZE = '1';
    db = await createTestDatabase('pool_of_one');
  });
  afterAll(async () => {
    if (before === undefined) delete process.env.ORRERY_PG_POOL_SIZE;
    else process.env.ORRERY_PG_POOL_SIZE = before;
    await db.drop();
  });

  /** A fresh Orrery (empty type cache) for one step, closed after it. */
  async function step<T>(fn: (o: Orrery) => Promise<T>): Promise<T> {
    const o = await openOrrery({ db: db.url });
    try {
      return await fn(o);
    } finally {
      await o.close();
    }
  }

  it('ends, cancels, reaps, disables, respawns and archives without a second connection', { timeout: 60_000 }, async () => {
    await step((o) => o.createTaskType({ name: 'p1', defaultIntervalMs: 3_600_000, numRetries: 1, leaseMs: 1_000 }));
    const tasks = await step((o) => o.createTasks(['a', 'b', 'c', 'd'].map((u) => ({ type: 'p1', policy: 'oneshot', nextRun: T0, arguments: { args: [u], kwargs: {} } }))));
    await step((o) => o.scheduleDue({ at: T0 }));
    const claimed = await step((o) => o.claimRuns({ worker: 'w1', types: ['p1'], limit: 3, startNow: 3, at: T0 }));
    expect(claimed).toHaveLength(3);
    const [first, second, third] = claimed.map((c) => c.run.backendId);

    // An external end (no claim snapshot): the careful path, which reads the task type in its transaction.
    const ended = await step((o) => o.endRun(first!, { status: 'eventful', worker: 'w1', at: plus(1_000) }));
    expect(ended.run.status).toBe('eventful');
    expect(ended.task.status).toBe('completed');
    // A batch of ends of which one is refused, one applied.
    const batch = await step((o) => o.endRuns([
      { backendId: second!, status: 'uneventful', worker: 'w1', at: plus(1_000) },
      { backendId: first!, status: 'failed', worker: 'w1', at: plus(1_000) },
    ]));
    expect(batch.map((b) => (b instanceof Error ? b.name : b.run.status))).toEqual(['uneventful', 'InvalidTransitionError']);

    // The reaper ends the third run lost (its lease of 1 s expired): a retry is consumed.
    const reaped = await step((o) => o.reapExpired({ at: plus(60_000) }));
    expect(reaped.map((r) => r.run.backendId)).toContain(third);

    // The fourth task's run still waits (the claim took three): cancelled. The reaped task is disabled and respawned.
    const waiting = await step(async (o) => (await o.getTaskWithRuns(tasks[3]!.id))!.runs.at(-1)!);
    expect(waiting.status).toBe('scheduled');
    const cancelled = await step((o) => o.cancelRun(waiting.backendId, { at: plus(61_000) }));
    expect(cancelled.outcome).toBe('ended');
    const reapedTask = reaped.find((r) => r.run.backendId === third)!.task.id;
    await step((o) => o.disableTasks([reapedTask], { at: plus(62_000) }));
    const respawned = await step((o) => o.respawnTasks([reapedTask], { nextRun: plus(63_000) }));
    expect(respawned).toHaveLength(1);

    const summary = await step((o) => o.archive({ before: plus(3_600_000), at: plus(3_600_000), table: true }));
    expect(summary.runs).toBeGreaterThanOrEqual(2);
  });
});
