import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

describe('a worker killed with SIGKILL mid-run', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('loses its run after the lease; the task runs again on another worker', async () => {
    const { orrery, path } = await setup();
    const db = ['--db', `sqlite:${path}`];
    const runner = spawnOrrery(['runner', ...db, '--max-sleep', '200ms']);
    const doomed = spawnOrrery(['worker', ...db, '--handlers', FIXTURE_HANDLERS, '--types', 'hang', '--poll', '100ms', '--id', 'doomed'], { HANG: '1' });
    await waitFor(async () => (await orrery.getTaskType('hang')) !== null, 'the worker to create its task types');
    const task = await orrery.createTask({ type: 'hang', policy: 'oneshot', arguments: { args: ['x'], kwargs: {} } });

    const started = await waitFor(async () => (await orrery.listRuns(task.id)).find((r) => r.status === 'started'), 'the run to start');
    expect(started.worker).toBe('doomed');
    doomed.child.kill('SIGKILL');
    await doomed.exited;

    // The runner's reaper ends it lost once its 2 s lease expires; the task keeps one retry.
    const lost = await waitFor(async () => {
      const r = await orrery.getRun(started.backendId);
      return r?.status === 'lost' ? r : null;
    }, 'the run to end lost');
    expect(lost.error).toMatch(/lease expired/);
    expect(lost.ended!.getTime()).toBeGreaterThanOrEqual(started.leaseExpiresAt!.getTime());
    const afterLoss = (await orrery.getTask(task.id))!;
    expect(afterLoss).toMatchObject({ retriesLeft: 0, consecutiveAbandons: 1 });

    const healthy = spawnOrrery(['worker', ...db, '--handlers', FIXTURE_HANDLERS, '--types', 'hang', '--poll', '100ms', '--id', 'healthy']);
    const done = await waitFor(async () => ((await orrery.getTask(task.id))!.status === 'completed' ? orrery.listRuns(task.id) : null), 'the task to complete');
    expect(done.map((r) => [r.status, r.worker, r.attempt])).toEqual([
      ['lost', 'doomed', 1],
      ['eventful', 'healthy', 2],
    ]);
    healthy.child.kill('SIGTERM');
    runner.child.kill('SIGTERM');
    expect(await healthy.exited).toBe(0);
    expect(await runner.exited).toBe(0);
  });
});
