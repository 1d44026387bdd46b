import { describe, expect, it } from 'vitest';
import { PermanentFailure, RetryAfter } from '../../src/core/errors.js';
import type { Orrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { Daemon } from '../../src/engine/daemon.js';
import { silentLogger, type Logger } from '../../src/engine/logger.js';
import { testDaemon, useTempOrrery, waitFor } from './engine-helpers.js';

async function finished(orrery: Orrery, taskId: number) {
  return waitFor(async () => {
    const runs = await orrery.listRuns(taskId);
    const last = runs[runs.length - 1];
    return last && !['scheduled', 'claimed', 'started'].includes(last.status) ? last : null;
  }, `a finished run of task ${taskId}`);
}

const daemon = testDaemon;

describe('Worker (inline isolation)', () => {
  const setup = useTempOrrery();

  it('refuses bad options with a ValidationError naming the option', async () => {
    const { orrery } = await setup();
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ concurrency: 0 }, 'concurrency'],
      [{ concurrency: 1.5 }, 'concurrency'],
      [{ prefetch: -1 }, 'prefetch'],
      [{ prefetch: Number.NaN }, 'prefetch'],
      [{ id: 'w'.repeat(201) }, 'id'],
      [{ id: '' }, 'id'],
      [{ id: 'a\0b' }, 'id'],
      [{ pollMs: 0 }, 'pollMs'],
      [{ pollMs: Number.NaN }, 'pollMs'],
      [{ graceMs: -1 }, 'graceMs'],
    ];
    for (const [opts, path] of bad) {
      expect(() => new Worker(orrery, { handlers: {}, ...opts })).toThrow(expect.objectContaining({ code: 'validation_error', details: [expect.objectContaining({ path })] }));
    }
    expect(new Worker(orrery, { handlers: {}, id: 'w'.repeat(200), prefetch: 0 }).id).toBe('w'.repeat(200));
  });

  it('maps handler outcomes: result, boolean, PermanentFailure, RetryAfter, thrown error, bad return value', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job', numRetries: 1, retryDelayMs: '1h' });
    const d = daemon(orrery, {
      job: async ({ kwargs, log }) => {
        log('info', 'running', { mode: kwargs.mode });
        switch (kwargs.mode) {
          case 'result': return { eventful: true, result: { found: 3 } };
          case 'bool': return false;
          case 'perm': throw new PermanentFailure('gone for good');
          case 'later': throw new RetryAfter(120_000, 'rate limited');
          // A RetryAfter of another make: a fractional delay is rounded, one past 100 years is not used (the end was refused and left to the reaper).
          case 'fraction': throw Object.assign(new Error('slow'), { name: 'RetryAfter', delayMs: 60_000.4 });
          case 'forever': throw Object.assign(new Error('never'), { name: 'RetryAfter', delayMs: 1e15 });
          case 'throw': throw new TypeError('bad thing');
          default: return 'nonsense' as never;
        }
      },
    });
    const modes = ['result', 'bool', 'perm', 'later', 'throw', 'weird', 'fraction', 'forever'];
    const tasks = await orrery.createTasks(modes.map((mode) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [], kwargs: { mode } } })));
    d.start();
    onCleanup(() => d.stop());
    const runs = await Promise.all(tasks.map((t) => finished(orrery, t.id)));
    const byMode = Object.fromEntries(modes.map((m, i) => [m, runs[i]!]));
    expect(byMode.result).toMatchObject({ status: 'eventful', result: { found: 3 } });
    expect(byMode.bool).toMatchObject({ status: 'uneventful', result: null });
    expect(byMode.perm!.status).toBe('permfailed');
    expect(byMode.perm!.error).toMatch(/^PermanentFailure: gone for good/);
    expect(byMode.later!.status).toBe('failed');
    expect(byMode.throw!.error).toMatch(/^TypeError: bad thing\n\s+at /);
    expect(byMode.weird!.error).toMatch(/handler returned "nonsense"/);
    const later = (await orrery.getTask(tasks[3]!.id))!;
    expect(later.nextRun.getTime() - byMode.later!.ended!.getTime()).toBe(120_000);
    expect((await orrery.getTask(tasks[2]!.id))!.disabledReason).toBe('permfailed');
    expect((await orrery.getTask(tasks[6]!.id))!.nextRun.getTime() - byMode.fraction!.ended!.getTime()).toBe(60_000);
    expect(byMode.forever!.error).toMatch(/\n\(its RetryAfter delay of 1000000000000000 ms was not used: it must be at most 100 years\)$/);
    expect((await orrery.getTask(tasks[7]!.id))!.nextRun.getTime() - byMode.forever!.ended!.getTime()).toBe(3_600_000); // the type's retry delay
    const logs = await orrery.getRunLogs(byMode.result!.backendId);
    expect(logs.map((l) => [l.level, l.message, l.attributes])).toEqual([['info', 'running', { mode: 'result' }]]);
  });

  it('a timeout fires the handler\'s AbortSignal and fails the run', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'slow', timeoutMs: 300 });
    let sawAbort = false;
    const warnings: string[] = [];
    const capture = { ...silentLogger, warn: (_o: unknown, msg: string) => void warnings.push(msg), child: () => capture } as unknown as Logger;
    const d = new Daemon(orrery, { runner: true, reaper: true, maxSleepMs: 200, logger: capture, worker: { pollMs: 100, handlers: {
      slow: ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => {
            sawAbort = true;
            reject(signal.reason as Error);
          });
        }),
    } } });
    const t = await orrery.createTask({ type: 'slow', policy: 'oneshot' });
    d.start();
    onCleanup(() => d.stop());
    const run = await finished(orrery, t.id);
    expect(run).toMatchObject({ status: 'failed', error: 'timeout after 300ms' });
    expect(sawAbort).toBe(true);
    // Its log line says how long the handler ran, as a handler's own failure does ('failed in 802ms'; it said 'run failed; task ...').
    await waitFor(() => warnings.some((w) => w.includes('run failed')) || null, 'the run\'s log line');
    expect(warnings.find((w) => w.includes('run failed'))).toMatch(/^slow task \d+ run failed in \d+ms; task disabled \(retries_exhausted\): timeout after 300ms$/);
    expect((await orrery.getTask(t.id))!).toMatchObject({ status: 'disabled', disabledReason: 'retries_exhausted' });
  });

  it('a handler that holds the event loop past its timeout and then returns has timed out all the same (handlers audit: it was recorded eventful)', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'busy', timeoutMs: 100 });
    const d = daemon(orrery, {
      busy: () => {
        const until = Date.now() + 400; // synchronous: the timeout's timer cannot fire before it returns
        while (Date.now() < until);
        return true;
      },
    });
    const t = await orrery.createTask({ type: 'busy', policy: 'oneshot' });
    d.start();
    onCleanup(() => d.stop());
    expect(await finished(orrery, t.id)).toMatchObject({ status: 'failed', error: 'timeout after 100ms' });
  });

  it('heartbeats keep a long run\'s lease; a lost lease aborts the handler and leaves the end to the new holder', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'long', leaseMs: 1000 });
    let aborted: unknown = null;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new Worker(orrery, {
      handlers: {
        long: async ({ signal }) => {
          signal.addEventListener('abort', () => (aborted = signal.reason));
          await gate;
          return true;
        },
      },
      pollMs: 50,
    });
    const t = await orrery.createTask({ type: 'long', policy: 'oneshot' });
    await orrery.scheduleDue();
    w.start();
    onCleanup(() => w.stop(0));
    const started = await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'started'), 'start');
    // Three lease lengths later the run is still held: the worker renewed it.
    await waitFor(async () => Date.now() > started.started!.getTime() + 3000, 'three leases', 5000, 100);
    const held = (await orrery.getRun(started.backendId))!;
    expect(held.status).toBe('started');
    expect(held.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now());
    // Take the run away (as the reaper would after a partition): the next heartbeat reports LeaseLost.
    await orrery.endRun(started.backendId, { status: 'lost', error: 'taken away' });
    await waitFor(() => aborted, 'the abort');
    expect((aborted as Error).name).toBe('LeaseLostError');
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect((await orrery.getRun(started.backendId))!).toMatchObject({ status: 'lost', error: 'taken away' });
  });

  it("a handler's own heartbeat() fails with LeaseLostError once its run was taken away, and on every call after", async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'beating', leaseMs: 60_000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const failures: unknown[] = [];
    let timer: ReturnType<typeof setInterval> | undefined;
    let late: (() => Promise<void>) | undefined;
    let beatsAfterLoss = 0;
    let proceed!: () => void;
    const goOn = new Promise<void>((r) => (proceed = r));
    onCleanup(() => clearInterval(timer));
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const w = new Worker(orrery, {
      handlers: {
        beating: async ({ heartbeat }) => {
          late = heartbeat;
          await heartbeat(); // held: renews
          // Heartbeats nobody awaits, from a timer that outlives the handler: never an unhandled rejection.
          timer = setInterval(() => {
            if (failures.length > 0) beatsAfterLoss++;
            void heartbeat();
          }, 5);
          await gate;
          for (let i = 0; i < 2; i++) await heartbeat().catch((e: unknown) => failures.push(e));
          await goOn;
          done();
          return true;
        },
      },
      pollMs: 50,
    });
    const t = await orrery.createTask({ type: 'beating', policy: 'oneshot' });
    w.start();
    onCleanup(() => w.stop(0));
    const started = await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'started'), 'start');
    await orrery.endRun(started.backendId, { status: 'lost', error: 'taken away' });
    release();
    // Unawaited heartbeats fail while the handler still runs, and crash nothing.
    await waitFor(() => beatsAfterLoss >= 3, 'heartbeats after the loss');
    proceed();
    await finished;
    expect(failures.map((e) => (e as Error).name)).toEqual(['LeaseLostError', 'LeaseLostError']);
    // After the handler returned, a heartbeat (a timer it left) renews nothing and resolves, as the docs say.
    await new Promise((r) => setImmediate(r));
    await expect(late!()).resolves.toBeUndefined();
    expect((await orrery.getRun(started.backendId))!).toMatchObject({ status: 'lost', error: 'taken away' });
  });

  it("heartbeat() still fails with LeaseLostError once the slot of a handler ignoring its aborted signal was released, until it returns (handlers audit)", async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'deaf', leaseMs: 1000 });
    let beat: (() => Promise<void>) | undefined;
    let finish!: () => void;
    const end = new Promise<void>((r) => (finish = r));
    const w = new Worker(orrery, { handlers: { deaf: async ({ heartbeat }) => ((beat = heartbeat), await end, true) }, pollMs: 50 });
    const t = await orrery.createTask({ type: 'deaf', policy: 'oneshot' });
    w.start();
    onCleanup(async () => {
      finish();
      await w.stop(0);
    });
    const started = await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'started'), 'start');
    await orrery.endRun(started.backendId, { status: 'lost', error: 'taken away' });
    await expect(beat!()).rejects.toMatchObject({ name: 'LeaseLostError' });
    // One lease after the abort the worker releases the slot; the handler is still running.
    await waitFor(() => w.running === 0, 'the slot released');
    await expect(beat!()).rejects.toMatchObject({ name: 'LeaseLostError' });
    finish();
    await new Promise((r) => setImmediate(r));
    await expect(beat!()).resolves.toBeUndefined(); // returned: a leftover heartbeat renews nothing
  });

  it("a lease lowered while a run is held: the worker renews it every third of the new lease, and the reaper leaves it alone (type edit audit: it was reaped lost)", async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'slow', leaseMs: 4500, numRetries: 0 });
    let began = false;
    const d = daemon(orrery, {
      slow: ({ signal }) => ((began = true), new Promise((r, reject) => {
        const t = setTimeout(() => r(true), 6500);
        signal.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason as Error)));
      })),
    });
    const t = await orrery.createTask({ type: 'slow', policy: 'oneshot' });
    d.start();
    try {
      await waitFor(() => began, 'the handler began');
      // Renewals every 1.5 s (a third of 4.5 s) would let a 1 s lease run out between two of them once the first lease is past.
      await orrery.updateTaskType('slow', { leaseMs: 1000 });
      const run = await finished(orrery, t.id);
      expect(run).toMatchObject({ status: 'eventful' });
    } finally {
      await d.stop();
    }
  });

  it('graceful stop: no new claims, running handlers finish within the grace period, the rest are abandoned', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'quick' });
    await orrery.createTaskType({ name: 'stuck', numRetries: 5 });
    let quickBegan = false;
    const d = daemon(orrery, {
      quick: () => ((quickBegan = true), new Promise((r) => setTimeout(() => r(true), 300))),
      stuck: ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error))),
    }, { graceMs: 1000 });
    const q = await orrery.createTask({ type: 'quick', policy: 'oneshot' });
    const s = await orrery.createTask({ type: 'stuck', policy: 'oneshot' });
    d.start();
    // The stuck run is marked started by the worker's next heartbeat tick; the quick one may end before it.
    await waitFor(async () => quickBegan && (await orrery.listRuns(s.id)).some((r) => r.status === 'started'), 'both started');
    await d.stop();
    expect((await orrery.listRuns(q.id)).map((r) => r.status)).toEqual(['eventful']);
    const [lost] = await orrery.listRuns(s.id);
    expect(lost).toMatchObject({ status: 'lost', error: 'worker shutting down' });
    expect((await orrery.getTask(s.id))!).toMatchObject({ status: 'next_run_not_scheduled', retriesLeft: 5, consecutiveAbandons: 1 });
    expect((await orrery.getTask(s.id))!.nextRun).toEqual(lost!.ended);
  });

  it('a run abandoned before its start was marked records its start with the abandon', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'stuck' });
    let began: Date | null = null;
    const d = daemon(orrery, {
      stuck: ({ signal }) => ((began = new Date()), new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)))),
    }, { graceMs: 0 });
    const s = await orrery.createTask({ type: 'stuck', policy: 'oneshot' });
    d.start();
    await waitFor(async () => began !== null, 'handler began');
    // Stopped at once: the worker marks a begun run started within 250 ms, so the abandon carries the start.
    await d.stop();
    const [lost] = await orrery.listRuns(s.id);
    expect(lost).toMatchObject({ status: 'lost', error: 'worker shutting down' });
    expect(lost!.started).not.toBeNull();
    expect(Math.abs(lost!.started!.getTime() - began!.getTime())).toBeLessThan(1000);
  });

  it('a run whose backend has no handler here fails with a clear error', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'orphan', backendName: 'nobody' });
    const w = new Worker(orrery, { handlers: {}, types: ['orphan'], pollMs: 50 });
    const t = await orrery.createTask({ type: 'orphan', policy: 'oneshot' });
    await orrery.scheduleDue();
    w.start();
    onCleanup(() => w.stop(0));
    const run = await finished(orrery, t.id);
    expect(run.error).toMatch(/no handler registered for backend "nobody"/);
  });
});

describe('Worker results', () => {
  const setup = useTempOrrery();

  it('a result JSON cannot carry fails the run instead of losing it', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'nan', numRetries: 0 });
    const w = new Worker(orrery, { handlers: { nan: async () => ({ eventful: true, result: { x: Number.NaN } }) }, pollMs: 50 });
    const t = await orrery.createTask({ type: 'nan', policy: 'oneshot' });
    await orrery.scheduleDue();
    w.start();
    onCleanup(() => w.stop(0));
    const run = await finished(orrery, t.id);
    expect(run).toMatchObject({ status: 'failed', error: 'handler result is not JSON: result.x: numbers must be finite' });
  });
});

describe('The handler context', () => {
  const setup = useTempOrrery();

  it('has args, kwargs, signal, heartbeat, log and run as its own properties, so a spread or a rest keeps them all', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'ctx' });
    let seen: { keys: string[]; restSignal: boolean; copySignal: boolean; aborted: boolean } | null = null;
    const w = new Worker(orrery, {
      handlers: {
        ctx: async (ctx) => {
          const { args: _args, ...rest } = ctx;
          const copy = { ...ctx };
          seen = { keys: Object.keys(ctx).sort(), restSignal: rest.signal instanceof AbortSignal, copySignal: copy.signal === ctx.signal, aborted: ctx.signal.aborted };
          return false;
        },
      },
      pollMs: 50,
    });
    const t = await orrery.createTask({ type: 'ctx', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    w.start();
    onCleanup(() => w.stop(0));
    expect(await finished(orrery, t.id)).toMatchObject({ status: 'uneventful' });
    expect(seen).toEqual({ keys: ['args', 'heartbeat', 'kwargs', 'log', 'run', 'signal'], restSignal: true, copySignal: true, aborted: false });
  });
});
