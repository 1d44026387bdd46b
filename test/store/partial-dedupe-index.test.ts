/**
 * Task creation names its conflict target `ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL`, so
 * it works with the unique index `tasks_dedupe` partial (`WHERE dedupe_key IS NOT NULL`, as migrations
 * 0007 / 0008 make it) and whole (as older migrations made it). Here the index is swapped by hand
 * and the creation paths run on both stores.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/engine/clock.js';
import { Orrery } from '../../src/engine/service.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase } from '../support/postgres.js';
import { LOAD_GIT, T0 } from './fixtures.js';

const PARTIAL = 'CREATE UNIQUE INDEX tasks_dedupe ON tasks (dedupe_key) WHERE dedupe_key IS NOT NULL';
const args = (url: string) => ({ args: [url], kwargs: {} });

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const stores: Record<string, () => Promise<{ store: Store; isPartial: () => Promise<boolean> }>> = {
  async sqlite() {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-partial-'));
    const path = join(dir, 'orrery.db');
    const store = new SqliteStore(`sqlite:${path}`, path);
    const raw = new Database(path);
    raw.exec(`DROP INDEX tasks_dedupe; ${PARTIAL}`);
    cleanups.push(async () => {
      raw.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const isPartial = async () => (raw.prepare(`SELECT partial FROM pragma_index_list('tasks') WHERE name = 'tasks_dedupe'`).get() as { partial: number }).partial === 1;
    return { store, isPartial };
  },
  async postgres() {
    const db = await createTestDatabase('partial');
    const store = await PostgresStore.open(db.url);
    const raw = new pg.Client({ connectionString: db.url });
    await raw.connect();
    await raw.query(`DROP INDEX tasks_dedupe; ${PARTIAL}`);
    cleanups.push(async () => {
      await raw.end();
      await db.drop();
    });
    const isPartial = async () => (await raw.query(`SELECT indpred IS NOT NULL AS p FROM pg_index WHERE indexrelid = 'tasks_dedupe'::regclass`)).rows[0].p === true;
    return { store, isPartial };
  },
};

describe.each(Object.keys(stores))('task creation with a partial dedupe index (%s)', (name) => {
  it('keeps idempotent creation, repeats, onConflict and large batches', async () => {
    const { store, isPartial } = await stores[name]!();
    const orrery = new Orrery(store, new ManualClock(T0));
    cleanups.push(() => orrery.close());
    expect(await isPartial()).toBe(true);
    await orrery.createTaskType(LOAD_GIT);

    const small = await orrery.createTasksDetailed([{ type: 'load-git', arguments: args('a') }, { type: 'load-git', arguments: args('b') }]);
    expect(small.map((c) => c.created)).toEqual([true, true]);
    const again = await orrery.createTasksDetailed([{ type: 'load-git', arguments: args('a') }, { type: 'load-git', arguments: args('c') }, { type: 'load-git', arguments: args('c') }]);
    expect(again.map((c) => [c.created, c.task.id])).toEqual([[false, small[0]!.task.id], [true, again[1]!.task.id], [false, again[1]!.task.id]]);

    const big = Array.from({ length: 6000 }, (_, i) => ({ type: 'load-git', arguments: args(i === 5500 ? 'b' : `u${i}`) }));
    const out = await orrery.createTasksDetailed([...big, big[10]!]);
    expect(out.filter((c) => c.created)).toHaveLength(5999);
    expect(out[5500]).toMatchObject({ created: false, task: { id: small[1]!.task.id } });
    expect(out[6000]!.task.id).toBe(out[10]!.task.id);

    const held = await orrery.createTask({ type: 'load-git', key: 'k', arguments: args('old') });
    await expect(orrery.createTasks([...big, { type: 'load-git', key: 'k', onConflict: 'error', arguments: args('new') }])).rejects.toBeInstanceOf(ConflictError);
    const [replaced] = await orrery.createTasksDetailed([{ type: 'load-git', key: 'k', onConflict: 'replace', arguments: args('new') }]);
    expect(replaced).toMatchObject({ created: false, replaced: true, task: { id: held.id, arguments: args('new') } });
    expect(await orrery.searchTasks({ limit: 10_000 })).toHaveLength(3 + 5999 + 1);
  });
});
