/**
 * A task created while its type is being deleted, on PostgreSQL: the delete holds the type's row lock,
 * the task's insert waits for it, then fails its foreign-key check once the type is gone. The caller
 * gets what the type check before the insert answers (a ValidationError naming the type, HTTP 400,
 * exit 2), not the driver's 23503 (a 500, exit 1: race audit).
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('PostgreSQL: a task created while its type is deleted', () => {
  let db: TestDatabase | null = null;
  let orrery: Orrery | null = null;
  afterEach(async () => {
    await orrery?.close();
    await db?.drop();
    orrery = null;
    db = null;
  });

  it('is a ValidationError naming the type, and nothing is written', async () => {
    db = await createTestDatabase('type-deleted');
    orrery = await openOrrery({ db: db.url });
    await orrery.createTaskType({ name: 'gone' });
    const deleter = new pg.Client({ connectionString: db.url });
    await deleter.connect();
    try {
      // As deleteTaskTypeRow does: the type's row locked, then deleted.
      await deleter.query('BEGIN');
      await deleter.query("SELECT 1 FROM task_types WHERE name = 'gone' FOR UPDATE");
      const creating = orrery.createTask({ type: 'gone', policy: 'oneshot' }).then(
        () => null,
        (e: unknown) => e,
      );
      // The insert is waiting on the lock once PostgreSQL shows it so.
      for (let i = 0; i < 200; i++) {
        const { rows } = await deleter.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()");
        if (rows[0].n > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await deleter.query("DELETE FROM task_types WHERE name = 'gone'");
      await deleter.query('COMMIT');
      expect(await creating).toMatchObject({ name: 'ValidationError', message: 'type: unknown task type "gone"', details: [{ path: 'type' }] });
      expect((await deleter.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n).toBe(0);
    } finally {
      await deleter.end();
    }
  });
});
