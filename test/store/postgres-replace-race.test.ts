/**
 * onConflict 'replace' of a task whose run waits in a worker's buffer, racing that worker's
 * heartbeat that marks the run started (review of the change that withdraws claimed runs): the
 * replacement reads the run's status without a lock, so the withdrawal re-checks it under the run's
 * row lock. A run that started meanwhile is left to finish and the task returned unchanged: never two
 * runs of one task at once.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('PostgreSQL: replace racing a heartbeat', () => {
  let db: TestDatabase | null = null;
  let orrery: Orrery | null = null;
  const clients: pg.Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end();
    await orrery?.close();
    await db?.drop();
    db = orrery = null;
  });

  it('a run started while the replacement waited for its lock is left to finish; the task is returned unchanged', async () => {
    db = await createTestDatabase('replace-race');
    const o = (orrery = await openOrrery({ db: db.url }));
    await o.createTaskType({ name: 'sync' });
    const task = await o.createTask({ type: 'sync', policy: 'oneshot', key: 'k', arguments: { args: ['old'], kwargs: {} } });
    await o.scheduleDue({});
    const [buffered] = await o.claimRuns({ worker: 'w1', types: ['sync'], limit: 1, startNow: 0, due: false });
    expect(buffered!.run.status).toBe('claimed');

    // Another session holds the run's row, as the worker's heartbeat does while it marks the run started.
    const heartbeat = new pg.Client({ connectionString: db.url });
    await heartbeat.connect();
    clients.push(heartbeat);
    await heartbeat.query('BEGIN');
    await heartbeat.query('SELECT id FROM task_runs WHERE id = $1 FOR UPDATE', [buffered!.run.id]);
    const replacing = o.createTasksDetailed([{ type: 'sync', policy: 'oneshot', key: 'k', onConflict: 'replace', arguments: { args: ['new'], kwargs: {} } }]);
    // Until the replacement waits for that row.
    for (;;) {
      const { rows } = await heartbeat.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      if (rows[0].n > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await heartbeat.query(`UPDATE task_runs SET status = 'started', started = now() WHERE id = $1 AND status = 'claimed'`, [buffered!.run.id]);
    await heartbeat.query('COMMIT');

    const [answer] = await replacing;
    expect(answer!.created).toBe(false);
    expect(answer!.replaced).toBeFalsy();
    expect(answer!.task).toMatchObject({ id: task.id, status: 'next_run_scheduled', arguments: { args: ['old'] } });
    expect(await o.getRun(buffered!.run.backendId)).toMatchObject({ status: 'started' });
    expect(await o.getTask(task.id)).toMatchObject({ status: 'next_run_scheduled', arguments: { args: ['old'] } });
    // Nothing else to claim: one run of the task at a time.
    expect(await o.claimRuns({ worker: 'w2', types: ['sync'], limit: 5 })).toEqual([]);
  });
});
