/**
 * A store that listens for wake-ups (a daemon, `serve`) forgets the task types it cached when a
 * `types` wake-up arrives from another store: a type edited elsewhere to gain limits is claimed
 * within them at once, not as unlimited until the cache entry's second ran out (an audit saw a remote
 * worker's claims through `serve` take given-back runs of a type that had just gained maxRunning 2,
 * and run four at once). Two stores on one database share the process's hub, as two processes share
 * the wake files or LISTEN/NOTIFY.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('the type cache and types wake-ups', () => {
  const open: Orrery[] = [];
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    while (cleanups.length) await cleanups.pop()!();
  });

  async function dbUrl(kind: 'sqlite' | 'postgres'): Promise<string> {
    if (kind === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'orrery-type-cache-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      return `sqlite:${join(dir, 'o.db')}`;
    }
    const db: TestDatabase = await createTestDatabase();
    cleanups.push(() => db.drop());
    return db.url;
  }

  for (const kind of ['sqlite', 'postgres'] as const) {
    it(`${kind}: a listening store claims a type edited elsewhere within its new limits at once`, async () => {
      const url = await dbUrl(kind);
      const serving = await openOrrery({ db: url });
      open.push(serving);
      const elsewhere = await openOrrery({ db: url });
      open.push(elsewhere);
      // The serving store listens (as a daemon's loops do); it learns of type changes through it.
      const heard: string[] = [];
      const unlisten = serving.store.listen('types', () => heard.push('types'));
      cleanups.push(unlisten);
      await serving.createTaskType({ name: 'slow', maxQueueLength: null });
      await serving.createTasks([1, 2, 3, 4].map((i) => ({ type: 'slow', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
      // A first claim reads the type (unlimited) into the serving store's cache.
      const first = await serving.claim({ worker: 'w', types: ['slow'], limit: 1, startNow: 1 });
      expect(first.runs).toHaveLength(1);
      await elsewhere.updateTaskType('slow', { maxRunning: 2 });
      await expect.poll(() => heard.length).toBeGreaterThan(0);
      // Within the cache's second: a type with limits is queued by the runner, and the claim counts
      // the running run and takes one more, not three.
      await serving.scheduleDue();
      const next = await serving.claim({ worker: 'w', types: ['slow'], limit: 10, startNow: 10 });
      expect(next.runs).toHaveLength(1);
    });
  }
});
