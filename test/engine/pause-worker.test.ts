import { describe, expect, it } from 'vitest';
import { Daemon } from '../../src/engine/daemon.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

const oneshots = (type: string, n: number) => Array.from({ length: n }, (_, i) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));

describe('a worker and a paused task type (docs/operations.md)', () => {
  const setup = useTempOrrery();

  it('gives back the runs it holds but has not begun, lets the running one finish, starts nothing more until resumed', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'slow' });
    const release: Array<() => void> = [];
    let begun = 0;
    const d = new Daemon(orrery, {
      runner: true,
      reaper: true,
      maxSleepMs: 200,
      worker: {
        concurrency: 1,
        prefetch: 20,
        pollMs: 100,
        handlers: {
          slow: () => {
            begun += 1;
            return new Promise<void>((r) => release.push(r));
          },
        },
      },
    });
    await orrery.createTasks(oneshots('slow', 10));
    d.start();
    onCleanup(() => d.stop(0));
    // One run begun, the others held in the worker's buffer.
    await waitFor(async () => begun === 1 && (await orrery.store.queueStats(orrery.now())).find((s) => s.type === 'slow')!.claimed > 0, 'one run begun and more buffered');

    await orrery.pauseTaskType('slow', { reason: 'maintenance' });
    await waitFor(async () => (await orrery.store.queueStats(orrery.now())).find((s) => s.type === 'slow')!.claimed === 0, 'the buffered runs given back');
    const stats = (await orrery.store.queueStats(orrery.now())).find((s) => s.type === 'slow')!;
    expect(stats).toMatchObject({ running: 1, claimed: 0 });
    expect(stats.scheduled).toBeGreaterThan(0);
    // The begun run finishes; nothing else starts while the type is paused.
    release.shift()!();
    await waitFor(async () => (await orrery.store.queueStats(orrery.now())).find((s) => s.type === 'slow')!.running === 0, 'the running run to end');
    const idle = (await orrery.store.queueStats(orrery.now())).find((s) => s.type === 'slow')!;
    expect(idle).toMatchObject({ running: 0, claimed: 0 });
    expect(begun).toBe(1);
    // Given back without consuming anything: every run is still attempt 1, never started.
    const runs = (await Promise.all((await orrery.searchTasks({ type: 'slow' })).map((t) => orrery.listRuns(t.id)))).flat();
    expect(runs.filter((r) => r.status === 'scheduled').every((r) => r.attempt === 1 && r.started === null)).toBe(true);

    await orrery.resumeTaskType('slow');
    await waitFor(() => begun === 2, 'the next run to begin after resuming');
    while (release.length > 0 || begun < 10) {
      release.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(async () => (await orrery.searchTasks({ type: 'slow', status: 'completed' })).length === 10, 'every task to complete');
  });
});
