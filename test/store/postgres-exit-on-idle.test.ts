/**
 * Idle pool connections do not keep a process alive (allowExitOnIdle, src/store/postgres/postgres-connection.ts):
 * a script that creates a task and never closes its Orrery exits once its work is done, though the
 * pool keeps two connections open when idle (min). Before, it lingered until the pool's idle timeout
 * (30 s); with `min` alone it would never exit.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../cli/cli-helpers.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { runScriptToExit } from '../support/script-exit.js';

describe('a PostgreSQL store left open', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('exit_on_idle');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('does not keep its process alive once its work is done', async () => {
    const entry = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;
    const script = `
      const { openOrrery } = await import(${JSON.stringify(entry)});
      const orrery = await openOrrery({ db: process.env.DB });
      await orrery.createTaskType({ name: 'left-open', maxQueueLength: null });
      await Promise.all([1, 2, 3].map((i) => orrery.createTask({ type: 'left-open', policy: 'oneshot', arguments: { args: [i], kwargs: {} } })));
      console.log('created');`;
    expect(await runScriptToExit(script, { DB: db.url })).toEqual({ code: 0, out: 'created' });
  }, 20_000);
});
