import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

describe('wake-ups between processes sharing a SQLite file', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('a task created by another process reaches a runner and a worker that poll only every 10 minutes', async () => {
    const { orrery, path } = await setup();
    const db = ['--db', `sqlite:${path}`];
    const runner = spawnOrrery(['runner', ...db, '--max-sleep', '10m']);
    const worker = spawnOrrery(['worker', ...db, '--handlers', FIXTURE_HANDLERS, '--types', 'noop', '--poll', '10m']);
    await waitFor(() => /orrery started/.test(runner.output()) && /orrery started/.test(worker.output()), 'both processes to start');
    // Let both finish their first pass and go to sleep.
    await waitFor(async () => (await orrery.getTaskType('noop')) !== null, 'task types');
    await new Promise((r) => setTimeout(r, 300));

    const task = await orrery.createTask({ type: 'noop', policy: 'oneshot', arguments: { args: ['wake'], kwargs: {} } });
    // Far below either poll interval: only the wake files can get it scheduled and executed in time.
    const done = await waitFor(async () => ((await orrery.getTask(task.id))!.status === 'completed' ? orrery.listRuns(task.id) : null), 'the task to run', 8_000);
    expect(done.map((r) => r.status)).toEqual(['uneventful']);
  });
});
