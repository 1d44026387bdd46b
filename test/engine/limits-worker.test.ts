import { describe, expect, it } from 'vitest';
import { RetryAfter } from '../../src/core/errors.js';
import { testDaemon, useTempOrrery, waitFor } from './engine-helpers.js';

const daemon = testDaemon;

const oneshots = (type: string, n: number) => Array.from({ length: n }, (_, i) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));

describe('Worker with limits and cancellation (docs/limits.md)', () => {
  const setup = useTempOrrery();

  it('cancelling a running inline handler fires its AbortSignal at once (wake-up, not the next heartbeat); the run ends failed, cancelled', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'slow', leaseMs: '60s', defaultIntervalMs: '1h', numRetries: 2 }); // heartbeats every 20 s
    let aborted: unknown = null;
    const d = daemon(orrery, {
      slow: ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            aborted = signal.reason;
            reject(new Error('stopped'));
          });
        }),
    });
    const t = await orrery.createTask({ type: 'slow' });
    d.start();
    onCleanup(() => d.stop(0));
    const run = await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'started'), 'the run to start');
    const asked = Date.now();
    expect((await orrery.cancelRun(run.backendId)).outcome).toBe('requested');
    const ended = await waitFor(async () => {
      const r = await orrery.getRun(run.backendId);
      return r && r.status !== 'started' ? r : null;
    }, 'the cancelled run to end', 5_000);
    expect(Date.now() - asked).toBeLessThan(3_000);
    expect(ended).toMatchObject({ status: 'failed', error: 'cancelled', cancelRequested: true });
    expect((aborted as Error).message).toBe('cancelled');
    const task = (await orrery.getTask(t.id))!;
    expect(task.retriesLeft).toBe(2); // no retry consumed
    expect(task.nextRun.getTime() - ended.ended!.getTime()).toBe(3_600_000); // skipped to its regular next run
  });

  it('a disabled task whose inline handler ignores its AbortSignal keeps its run started until the handler settles: no respawn runs beside it', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'stubborn', leaseMs: '60s', defaultIntervalMs: '1h' });
    let release: () => void = () => {};
    let abortedAt = 0;
    const begun: string[] = [];
    const d = daemon(orrery, {
      // Never looks at its signal: goes on until the test lets it finish.
      stubborn: ({ run, signal }) => {
        begun.push(run.backendId);
        signal.addEventListener('abort', () => (abortedAt = Date.now()));
        return new Promise<boolean>((r) => (release = () => r(true)));
      },
    });
    const t = await orrery.createTask({ type: 'stubborn', policy: 'oneshot' });
    d.start();
    onCleanup(() => d.stop(0));
    const run = await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'started'), 'the run to start');
    await orrery.disableTasks([t.id]);
    // The worker learns of it at once (the cancel wake-up) and aborts the handler, which goes on:
    // the run keeps its lease, so the respawn is refused (before: the run ended at once, and the respawned task ran beside it).
    await waitFor(() => abortedAt > 0, 'the handler to be aborted');
    // Asked again, the worker heartbeats its runs (the cancel wake-up): it still holds this one, its lease renewed, not ended.
    const lease = (await orrery.getRun(run.backendId))!.leaseExpiresAt!.getTime();
    expect((await orrery.cancelRun(run.backendId)).outcome).toBe('requested');
    await waitFor(async () => ((await orrery.getRun(run.backendId))?.leaseExpiresAt?.getTime() ?? 0) > lease, 'the worker to heartbeat the run');
    expect(await orrery.getRun(run.backendId)).toMatchObject({ status: 'started', cancelRequested: true });
    await expect(orrery.respawnTasks([t.id])).rejects.toMatchObject({ name: 'ConflictError' });
    release();
    const ended = await waitFor(async () => {
      const r = await orrery.getRun(run.backendId);
      return r && r.status !== 'started' ? r : null;
    }, 'the cancelled run to end once its handler settled', 5_000);
    // What the handler returned after the cancel does not count: the run is a cancellation.
    expect(ended).toMatchObject({ status: 'failed', error: 'cancelled' });
    const [again] = await waitFor(async () => orrery.respawnTasks([t.id]).catch(() => null), 'the respawn to be accepted');
    expect(again).toMatchObject({ id: t.id, status: 'next_run_not_scheduled' });
    await waitFor(() => begun.length === 2, 'the respawned task to run');
    expect(begun[1]).not.toBe(run.backendId);
  });

  it('a worker with room for 10 never runs more than maxRunning (2) at once', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'narrow', maxRunning: 2 });
    let now = 0;
    let peak = 0;
    const d = daemon(orrery, {
      narrow: async () => {
        peak = Math.max(peak, ++now);
        await new Promise((r) => setTimeout(r, 30));
        now -= 1;
        return true;
      },
    }, { concurrency: 10 });
    const tasks = await orrery.createTasks(oneshots('narrow', 12));
    d.start();
    onCleanup(() => d.stop(0));
    await waitFor(async () => (await orrery.searchTasks({ type: 'narrow', status: 'completed' })).length === tasks.length, 'every task to complete');
    expect(peak).toBe(2);
  });

  it('a rate-limited worker sleeps until the next slot opens, not for its whole poll interval', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'api', rateLimit: '3/400ms' });
    const d = daemon(orrery, { api: () => true }, { concurrency: 10, pollMs: 10_000 });
    const tasks = await orrery.createTasks(oneshots('api', 9));
    const t0 = Date.now();
    d.start();
    onCleanup(() => d.stop(0));
    await waitFor(async () => (await orrery.searchTasks({ type: 'api', status: 'completed' })).length === tasks.length, 'every task to complete', 8_000);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const starts = (await Promise.all(tasks.map(async (t) => (await orrery.listRuns(t.id))[0]!.started!.getTime()))).sort((a, b) => a - b);
    // Never more than 3 starts within any 400 ms.
    for (let i = 3; i < starts.length; i++) expect(starts[i]! - starts[i - 3]!).toBeGreaterThanOrEqual(400);
  });

  it('throttle signals of handlers (a thrown RetryAfter, a result) lower the rate of the type, or of the key, that the next claims enforce', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'api', rateLimit: '100/1h', numRetries: 1, retryDelayMs: '1h', maxQueueLength: null });
    await orrery.createTaskType({ name: 'site', rateLimitPerKey: '50/1h', maxQueueLength: null });
    const d = daemon(orrery, {
      api: ({ args }) => {
        if (args[0] === 0) throw new RetryAfter(3_600_000, { message: 'HTTP 429', throttle: true });
        return true;
      },
      site: () => ({ eventful: true, throttle: true }),
    });
    await orrery.createTasks(oneshots('api', 1));
    await orrery.createTask({ type: 'site', policy: 'oneshot', concurrencyKey: 'example.org' });
    d.start();
    onCleanup(() => d.stop(0));
    const api = await waitFor(async () => {
      const t = (await orrery.getTaskType('api'))!;
      return t.effectiveRate!.type!.count < 100 ? t : null;
    }, 'the type rate to drop');
    expect(api.effectiveRate!.type!.count).toBeCloseTo(50, 0);
    const site = await waitFor(async () => {
      const t = (await orrery.getTaskType('site'))!;
      return t.effectiveRate!.keys.length > 0 ? t : null;
    }, 'the key rate to drop');
    expect(site.effectiveRate).toMatchObject({ type: null, keys: [{ key: 'example.org', perMs: 3_600_000 }] });
    expect(site.effectiveRate!.keys[0]!.count).toBeCloseTo(25, 0);
    // The next 60 runs of the type: 50 start within the hour (the failed run took a start of it).
    await orrery.createTasks(oneshots('api', 60).map((t) => ({ ...t, arguments: { args: [t.arguments.args[0]! + 1], kwargs: {} } })));
    await waitFor(async () => ((await orrery.store.queueStats(orrery.now())).find((s) => s.type === 'api')!.scheduled === 11 ? true : null), '49 runs to start and 11 to wait');
  });
  it('a type edited to have maxRunning: the runs buffered ahead go back to the queue at once, and no more than the limit run after', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'ed', maxQueueLength: null, leaseMs: '60s' });
    let running = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = daemon(orrery, {
      ed: async () => {
        running++;
        await gate;
        await new Promise((r) => setTimeout(r, 2));
        running--;
      },
    }, { concurrency: 3 });
    await orrery.createTasks(oneshots('ed', 30));
    d.start();
    onCleanup(() => d.stop(0));
    const claimed = async () => (await orrery.searchRuns({ status: ['claimed'], limit: 100 })).runs.length;
    await waitFor(async () => running === 3 && (await claimed()) > 0, 'three running and runs buffered ahead');
    await orrery.updateTaskType('ed', { maxRunning: 1 });
    // The worker reads the types again at once (in-process wake-up) and gives its buffer back.
    await waitFor(async () => ((await claimed()) === 0 ? true : null), 'the buffered runs given back', 5_000);
    release(); // the three already running finish; from here the limit holds
    await waitFor(async () => ((await orrery.searchTasks({ status: 'completed', limit: 31 })).length === 30 ? true : null), 'all 30 done', 20_000);
    const runs = (await orrery.searchRuns({ status: ['eventful', 'uneventful'], limit: 100 })).runs;
    // Every run that started after the three: one at a time (each started after the previous one ended).
    const later = runs.filter((r) => r.started!.getTime() > 0).sort((a, b) => a.started!.getTime() - b.started!.getTime()).slice(3);
    for (let i = 1; i < later.length; i++) expect(later[i]!.started!.getTime()).toBeGreaterThanOrEqual(later[i - 1]!.ended!.getTime());
  });
});
