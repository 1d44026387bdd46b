import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { waitFor } from '../engine/engine-helpers.js';
import { createTestDatabase } from '../support/postgres.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function sqliteDb() {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-wake-'));
  dirs.push(dir);
  return { url: `sqlite:${join(dir, 'orrery.db')}`, drop: async () => {} };
}

// SQLite: wake files beside the database; PostgreSQL: LISTEN/NOTIFY.
describe.each([
  ['a shared SQLite file', sqliteDb],
  ['PostgreSQL', () => createTestDatabase('wake')],
])('wake-ups between processes on %s', (_name, makeDb) => {
  const spawnOrrery = useProcesses();

  it('a task created by another process reaches a runner and a worker that poll only every 10 minutes', async () => {
    const db = await makeDb();
    const orrery = await openOrrery({ db: db.url });
    try {
      const args = ['--db', db.url];
      const runner = spawnOrrery(['runner', ...args, '--max-sleep', '10m']);
      const worker = spawnOrrery(['worker', ...args, '--handlers', FIXTURE_HANDLERS, '--types', 'noop', '--poll', '10m']);
      await waitFor(() => /orrery started/.test(runner.output()) && /orrery started/.test(worker.output()), 'both processes to start', 30_000);
      // Let both finish their first pass and go to sleep.
      await new Promise((r) => setTimeout(r, 300));

      const task = await orrery.createTask({ type: 'noop', policy: 'oneshot', arguments: { args: ['wake'], kwargs: {} } });
      // Far below either poll interval: only a wake-up can get it scheduled and executed in time.
      const done = await waitFor(async () => ((await orrery.getTask(task.id))!.status === 'completed' ? orrery.listRuns(task.id) : null), 'the task to run', 8_000);
      expect(done.map((r) => r.status)).toEqual(['uneventful']);
    } finally {
      await orrery.close();
      await db.drop();
    }
  });
});
