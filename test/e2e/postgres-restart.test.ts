import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { waitFor } from '../engine/engine-helpers.js';
import { startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

const TASKS = 400;

describe('PostgreSQL restarting under a runner and a worker', () => {
  const spawnOrrery = useProcesses();
  let own: OwnPostgres;
  let url: string;

  beforeAll(async () => {
    // Its own server: restarting the shared one would disturb the other test files.
    own = await startOwnPostgres('orrery-pg-restart-');
    url = own.url;
  }, 120_000);

  afterAll(async () => {
    await own?.remove();
  });

  it('they log the outage, retry, and resume; no run is lost or completed twice', { timeout: 150_000 }, async () => {
    const db = ['--db', url];
    const runner = spawnOrrery(['runner', ...db, '--max-sleep', '500ms']);
    const worker = spawnOrrery(['worker', ...db, '--handlers', FIXTURE_HANDLERS, '--types', 'pause', '--concurrency', '10', '--poll', '200ms']);
    await waitFor(() => /orrery started/.test(runner.output()) && /orrery started/.test(worker.output()), 'both processes to start', 30_000);
    let orrery: Orrery = await openOrrery({ db: url });
    await orrery.createTasks(Array.from({ length: TASKS }, (_, i) => ({ type: 'pause', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await waitFor(async () => (await orrery.searchTasks({ status: 'completed', limit: TASKS })).length >= 50, 'work under way', 30_000);

    await orrery.close();
    await own.server.stop();
    await new Promise((r) => setTimeout(r, 1500)); // the outage
    await own.server.start();
    orrery = await openOrrery({ db: url });
    try {
      await waitFor(async () => (await orrery.searchTasks({ status: 'completed', limit: TASKS })).length === TASKS, 'every task completed after the restart', 60_000, 200).catch(async (e) => {
        console.log('RUNNER', runner.output().slice(-3000), 'WORKER', worker.output().slice(-3000));
        console.log('STATUS', JSON.stringify((await orrery.searchTasks({ limit: TASKS })).reduce((m: Record<string, number>, t) => ((m[t.status] = (m[t.status] ?? 0) + 1), m), {})));
        throw e;
      });
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query(`SELECT task, count(*)::int AS runs, count(*) FILTER (WHERE status = 'uneventful')::int AS ok FROM task_runs GROUP BY task`);
      await client.end();
      expect(rows).toHaveLength(TASKS);
      expect(rows.filter((r) => r.runs !== 1 || r.ok !== 1)).toEqual([]);
      expect(runner.output() + worker.output()).toMatch(/failed \(retrying in \d+ ms\)|database unavailable/);
    } finally {
      await orrery.close();
    }
    runner.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    expect(await runner.exited).toBe(0);
    expect(await worker.exited).toBe(0);
  });
});
