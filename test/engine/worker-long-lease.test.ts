/** A task type with a lease of months (up to 100 years is allowed) runs in process like any other. */
import { describe, expect, it } from 'vitest';
import { Daemon } from '../../src/engine/daemon.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('a worker serving a type with a lease of 90 days', () => {
  const setup = useTempOrrery();

  it('claims, runs, logs and ends its runs, and abandons them on a stop (its answer bound was refused: nothing ran)', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'slowpoke', leaseMs: '90d' });
    let release: () => void = () => {};
    const d = new Daemon(orrery, {
      runner: true,
      reaper: true,
      maxSleepMs: 200,
      worker: {
        pollMs: 100,
        handlers: {
          slowpoke: async ({ log, args }) => {
            log('info', 'hello');
            if (args[0] === 2) await new Promise<void>((r) => (release = r));
            return true;
          },
        },
      },
    });
    d.start();
    onCleanup(async () => (release(), d.stop(0)));
    const t = await orrery.createTask({ type: 'slowpoke', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    const done = await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'eventful'), 'the run to end');
    await waitFor(async () => (await orrery.getRunLogs(done.backendId)).length === 1, 'its log record');
    // One still running when the worker stops with no grace: abandoned (ended lost), not left started for 90 days.
    const t2 = await orrery.createTask({ type: 'slowpoke', policy: 'oneshot', arguments: { args: [2], kwargs: {} } });
    const started = await waitFor(async () => (await orrery.listRuns(t2.id)).find((r) => r.status === 'started'), 'the second run to start');
    await d.stop(0);
    release();
    expect((await orrery.getRun(started.backendId))?.status).toBe('lost');
  });
});
