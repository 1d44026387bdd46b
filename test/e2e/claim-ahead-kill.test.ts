/**
 * Claim ahead (issue 15): what a worker holding a full buffer leaves behind when it is killed, and
 * when it is stopped. Handlers of type `hang` (lease 2 s, one retry) hang while HANG=1, so the five
 * slots stay busy and the five buffered runs never start.
 */
import { describe, expect, it } from 'vitest';
import type { Orrery } from '../../src/engine/service.js';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

const TASKS = 10;

async function held(orrery: Orrery, ids: number[]) {
  const runs = (await Promise.all(ids.map((id) => orrery.listRuns(id)))).flat();
  return { started: runs.filter((r) => r.status === 'started'), claimed: runs.filter((r) => r.status === 'claimed') };
}

describe('a worker holding a full claim-ahead buffer', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  async function fill() {
    const { orrery, path } = await setup();
    const db = ['--db', `sqlite:${path}`];
    const worker = spawnOrrery(['worker', ...db, '--handlers', FIXTURE_HANDLERS, '--types', 'hang', '--concurrency', '5', '--prefetch', '5', '--poll', '100ms', '--grace', '200ms', '--id', 'doomed'], { HANG: '1' });
    await waitFor(async () => (await orrery.getTaskType('hang')) !== null, 'the worker to create its task types');
    const tasks = await orrery.createTasks(Array.from({ length: TASKS }, (_, i) => ({ type: 'hang', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    const ids = tasks.map((t) => t.id);
    // Its first claim starts five runs at once (its free slots) and claims five more into its buffer.
    const h = await waitFor(async () => {
      const x = await held(orrery, ids);
      return x.started.length === 5 && x.claimed.length === 5 ? x : null;
    }, 'five runs started and five buffered');
    return { orrery, db, worker, ids, h };
  }

  it('SIGKILLed: the buffered runs come back without consuming a retry and run exactly once; the started ones are lost', async () => {
    const { orrery, db, worker, ids, h } = await fill();
    worker.child.kill('SIGKILL');
    await worker.exited;
    const runner = spawnOrrery(['runner', ...db, '--max-sleep', '100ms']);
    const healthy = spawnOrrery(['worker', ...db, '--handlers', FIXTURE_HANDLERS, '--types', 'hang', '--poll', '100ms', '--id', 'healthy']);
    await waitFor(async () => (await Promise.all(ids.map((id) => orrery.getTask(id)))).every((t) => t!.status === 'completed'), 'every task to complete', 30_000);

    for (const r of h.claimed) {
      // The same run, given back by the reaper once its lease expired, then run once by the healthy worker.
      const runs = await orrery.listRuns(r.task);
      expect(runs.map((x) => [x.backendId, x.status, x.worker, x.attempt])).toEqual([[r.backendId, 'eventful', 'healthy', 1]]);
      expect(runs[0]!.metadata).toMatchObject({ 'orrery.givenBack': 1 });
      expect(await orrery.getTask(r.task)).toMatchObject({ retriesLeft: 1, consecutiveAbandons: 0, nextAttempt: 1 });
    }
    for (const r of h.started) {
      // Started runs follow the lost-lease rule: a retry is consumed and an abandon counted.
      const runs = await orrery.listRuns(r.task);
      expect(runs.map((x) => [x.status, x.worker, x.attempt])).toEqual([
        ['lost', 'doomed', 1],
        ['eventful', 'healthy', 2],
      ]);
    }
    healthy.child.kill('SIGTERM');
    runner.child.kill('SIGTERM');
    expect(await healthy.exited).toBe(0);
    expect(await runner.exited).toBe(0);
  });

  it('stopped gracefully: the buffered runs go back at once, untouched; the running ones are abandoned after the grace', async () => {
    const { orrery, worker, h } = await fill();
    const stoppedAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toMatch(/gave 5 buffered runs back to the queue/);
    for (const r of h.claimed) {
      const run = (await orrery.getRun(r.backendId))!;
      // Back in the queue before any lease could have expired: the worker gave it back itself.
      expect(run).toMatchObject({ status: 'scheduled', worker: null, leaseExpiresAt: null, started: null, attempt: 1 });
      expect(run.metadata).not.toHaveProperty('orrery.givenBack');
      expect(await orrery.getTask(r.task)).toMatchObject({ status: 'next_run_scheduled', retriesLeft: 1, consecutiveAbandons: 0 });
    }
    expect(Date.now() - stoppedAt).toBeLessThan(30_000);
    for (const r of h.started) {
      expect(await orrery.getRun(r.backendId)).toMatchObject({ status: 'lost', error: 'worker shutting down' });
      expect(await orrery.getTask(r.task)).toMatchObject({ status: 'next_run_not_scheduled', consecutiveAbandons: 1, retriesLeft: 1 });
    }
  });
});
