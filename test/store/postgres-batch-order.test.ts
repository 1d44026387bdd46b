/**
 * Concurrent batches that share identities, listed in different orders (two imports of one file, one
 * reversed): on PostgreSQL each batch's rows are written in identity order, so the batches wait for
 * each other's rows in one order and never deadlock (they did: `40P01: deadlock detected`, answered as
 * storage_unavailable or a 503), while the ids of a batch still follow its order. Calls of more than
 * one chunk (imports, large createTasks) are written one at a time (an advisory lock): chunk by chunk,
 * two of them deadlocked, and again at every retry from their first chunk (import audit: 6,000 and
 * 20,000 tasks failed after 5 attempts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('PostgreSQL: concurrent batches with shared identities in different orders', () => {
  let db: TestDatabase | null = null;
  const open: Orrery[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    await db?.drop();
    db = null;
  });

  it('all succeed and each identity is created once; a batch\'s ids follow its order', async () => {
    db = await createTestDatabase('batch-order');
    for (let i = 0; i < 4; i++) open.push(await openOrrery({ db: db.url }));
    await open[0]!.createTaskType({ name: 'sync', defaultIntervalMs: '1h' });
    const N = 300;
    // Recurring tasks are equal by definition (a plain batch: one statement, no transaction); one-shot ones by key.
    const plain = Array.from({ length: N }, (_, i) => ({ type: 'sync', arguments: { args: [i], kwargs: {} } }));
    const keyed = plain.map((t, i) => ({ ...t, policy: 'oneshot' as const, key: `k${i}`, onConflict: 'replace' as const }));
    const reversed = <T>(xs: T[]) => [...xs].reverse();
    // Rounds of 8 batches at once, half of them reversed, through two processes' worth of pools each.
    for (const batch of [plain, keyed]) {
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(Array.from({ length: 8 }, (_, j) => open[j % 4]!.createTasks(j % 2 === 0 ? batch : reversed(batch))));
        for (const a of answers) expect(a).toHaveLength(N);
      }
    }
    const tasks = (await open[0]!.findTasks({ type: 'sync', limit: 1000 })).tasks;
    expect(tasks.filter((t) => t.policy === 'recurring')).toHaveLength(N);
    expect(tasks.filter((t) => t.policy === 'oneshot')).toHaveLength(N);
    // A fresh batch's ids increase in its own order, reversed or not.
    const fresh = await open[1]!.createTasks(reversed(Array.from({ length: 50 }, (_, i) => ({ type: 'sync', policy: 'oneshot' as const, arguments: { args: [`new-${i}`], kwargs: {} } }))));
    const ids = fresh.map((t) => t.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  }, 120_000);

  it('imports and createTasks calls of more than one chunk (1,000) in different orders all pass, one at a time', async () => {
    db = await createTestDatabase('import-order');
    for (let i = 0; i < 4; i++) open.push(await openOrrery({ db: db.url }));
    await open[0]!.createTaskType({ name: 'sync', defaultIntervalMs: '1h' });
    const N = 20_000; // twenty chunks: the chunks of two imports lock their identities in different orders
    const tasks = Array.from({ length: N }, (_, i) => ({ type: 'sync', arguments: { args: [i], kwargs: {} } }));
    const reversed = [...tasks].reverse();
    const ndjson = async function* (xs: object[]) {
      yield `${xs.map((x) => JSON.stringify(x)).join('\n')}\n`;
    };
    for (let round = 0; round < 2; round++) {
      const answers = await Promise.all([
        open[0]!.importTasks(ndjson(tasks)),
        open[1]!.importTasks(ndjson(reversed)),
        open[2]!.createTasksSummary(tasks),
        open[3]!.createTasksSummary(reversed),
      ]);
      for (const a of answers) expect(a.count).toBe(N);
      // Each identity is created once over the round's four calls, and counted once by the call that did.
      if (round === 0) expect(answers.reduce((n, a) => n + a.created, 0)).toBe(N);
      else for (const a of answers) expect(a.existing).toBe(N);
    }
  }, 120_000);
});
