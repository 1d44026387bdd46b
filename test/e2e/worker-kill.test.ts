import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

describe('a worker killed with SIGKILL mid-run', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('loses its run after the lease (its flushed log records stay); the task runs again on another worker', async () => {
    const { orrery, path } = await setup();
    const db = ['--db', `sqlite:${path}`];
    const runner = spawnOrrery(['runner', ...db, '--max-sleep', '200ms']);
    const doomed = spawnOrrery(['worker', ...db, '--handlers', FIXTURE_HANDLERS, '--types', 'hang', '--poll', '100ms', '--id', 'doomed'], { HANG: '1' });
    await waitFor(async () => (await orrery.getTaskType('hang')) !== null, 'the worker to create its task types');
    const task = await orrery.createTask({ type: 'hang', policy: 'oneshot', arguments: { args: ['x'], kwargs: {} } });

    const started = await waitFor(async () => (await orrery.listRuns(task.id)).find((r) => r.status === 'started'), 'the run to start');
    expect(started.worker).toBe('doomed');
    // Live logs: the handler's record reaches the store while it hangs (within about a second), and
    // `run logs --follow` prints it; Ctrl-C stops a follower cleanly.
    const follower = spawnOrrery(['run', 'logs', started.backendId, '--follow', '--json', '--poll', '100ms', ...db]);
    const interrupted = spawnOrrery(['run', 'logs', started.backendId, '--follow', ...db]);
    await waitFor(async () => (await orrery.getRunLogs(started.backendId)).length === 1, 'the log record to be flushed mid-run');
    await waitFor(() => follower.output().includes('"message":"started"') && interrupted.output().includes('INFO  started'), 'the followers to print it');
    interrupted.child.kill('SIGINT');
    expect(await interrupted.exited).toBe(130);
    expect(interrupted.output()).toMatch(/^\S+ INFO  started \{"pid":\d+\}\n$/);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    // What was flushed survives the killed worker.
    expect((await orrery.getRunLogs(started.backendId)).map((l) => l.message)).toEqual(['started']);

    // The runner's reaper ends it lost once its 2 s lease expires; the task keeps one retry.
    const lost = await waitFor(async () => {
      const r = await orrery.getRun(started.backendId);
      return r?.status === 'lost' ? r : null;
    }, 'the run to end lost');
    expect(lost.error).toMatch(/lease expired/);
    expect(lost.ended!.getTime()).toBeGreaterThanOrEqual(started.leaseExpiresAt!.getTime());
    // The follower exits 0 once the run has ended, having printed every record once.
    expect(await follower.exited).toBe(0);
    expect(follower.output().trim().split('\n').map((l) => JSON.parse(l).message)).toEqual(['started']);
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
