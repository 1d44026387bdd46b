import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import { ManualClock } from '../../src/engine/clock.js';
import { VirtualClock } from '../../src/engine/virtual-clock.js';
import type { Jobboard } from '../../src/engine/jobboard.js';
import type { Orrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { Daemon } from '../../src/engine/daemon.js';
import { stopOnVirtualTime, useTempOrrery, waitFor } from './engine-helpers.js';

/**
 * After a claim fails with the database unavailable, the worker reads the runs it holds and runs
 * those it does not know (claims whose reply was lost). A run whose end is recorded while that read
 * is on its way is not among them, even though the read saw it held.
 */
describe('Worker: claim recovery', () => {
  const setup = useTempOrrery();

  it('does not run again a run that ended while the held runs were being read', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    const [task] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    let claims = 0;
    let executions = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let recoveries = 0;
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: async (req: Parameters<NonNullable<Jobboard['claim']>>[0]) => {
        claims += 1;
        // The second claim fails as if the database went away: the worker then recovers its claims.
        if (claims === 2) throw new StorageUnavailableError('the database is unavailable (test)');
        return orrery.claim!(req);
      },
      heldRuns: async (worker: string) => {
        recoveries += 1;
        const held = await orrery.heldRuns(worker); // the running run is held
        release(); // its handler finishes and its end is recorded before the answer arrives
        await waitFor(async () => (await orrery.getTask(task!.id))?.status === 'completed', 'the run to end');
        await new Promise((r) => setImmediate(r));
        return held;
      },
    });
    const w = new Worker(board, {
      concurrency: 2,
      types: ['job'],
      pollMs: 20,
      handlers: {
        job: async () => {
          executions += 1;
          await gate;
          return false;
        },
      },
    });
    onCleanup(() => w.stop(0));
    w.start();
    await waitFor(() => recoveries > 0 && claims >= 4, 'the recovery and two more claims');
    expect(executions).toBe(1);
    expect((await orrery.getTask(task!.id))?.status).toBe('completed');
  });

  it('does not run again a run whose end was not recorded, however long its reaper takes', async () => {
    const clock = new ManualClock('2026-06-01T00:00:00Z');
    const { orrery, onCleanup } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '2s' });
    const [task] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    let executions = 0;
    let endFailures = 0;
    let failClaim = false;
    let recoveries = 0;
    let claimsAfter = 0;
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      // The end fails with a bug (not transient): the run is left held, to a reaper (none runs here).
      endRuns: async () => {
        endFailures += 1;
        throw new TypeError('a bug on the way to the database (test)');
      },
      claim: async (req: Parameters<NonNullable<Jobboard['claim']>>[0]) => {
        if (failClaim) {
          failClaim = false;
          throw new StorageUnavailableError('the database is unavailable (test)');
        }
        if (recoveries > 0) claimsAfter += 1;
        return orrery.claim!(req);
      },
      heldRuns: async (worker: string) => {
        recoveries += 1;
        return orrery.heldRuns(worker);
      },
    });
    const w = new Worker(board, { concurrency: 1, types: ['job'], pollMs: 20, handlers: { job: () => void (executions += 1) } });
    onCleanup(() => w.stop(0));
    w.start();
    await waitFor(() => endFailures > 0 && w.running === 0, 'the run to execute and its end to fail');
    // The reaper is late (ten leases: the reapers down with the database); the run is still held.
    clock.advance(20_000);
    expect((await orrery.heldRuns(w.id)).map((c) => c.run.task)).toEqual([task!.id]);
    failClaim = true; // a claim then fails with the database unavailable: the worker recovers its claims
    await waitFor(() => recoveries > 0 && claimsAfter >= 2, 'the recovery and two more claims');
    expect(executions).toBe(1);
  });
  it('recovers a claim whose answer was lost within a third of the lease, before the runs it started at once are reaped', async () => {
    // A remote worker (no `claim`, only `claimRuns`) whose first claim commits but whose answer never
    // comes: before, the retry waited out the back-off (here 30 s, the lease) and the request timeout
    // (60 s by default), so the runs started at the claim were reaped `lost`, counted, never run (audit, 2026-12-05).
    const T0 = new Date('2026-06-01T00:00:00Z');
    const clock = new VirtualClock(T0);
    const { orrery, onCleanup } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '30s' });
    const tasks = await orrery.createTasks([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    const asked: Array<number | undefined> = [];
    let answerLost = true;
    let claimedAt: number | null = null;
    let recoveredAt: number | null = null;
    let executions = 0;
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      claimRuns: async (req: Parameters<Jobboard['claimRuns']>[0]) => {
        asked.push(req.answerWithinMs);
        const runs = await orrery.claimRuns(req);
        if (answerLost && runs.length > 0) {
          answerLost = false;
          claimedAt = clock.now().getTime();
          throw new StorageUnavailableError('orrery server did not answer (test)');
        }
        return runs;
      },
      heldRuns: async (worker: string) => {
        recoveredAt ??= clock.now().getTime();
        return orrery.heldRuns(worker);
      },
    });
    const w = new Worker(board, { concurrency: 2, types: ['job'], pollMs: 20_000, clock, handlers: { job: () => void (executions += 1) } });
    w.start();
    onCleanup(() => stopOnVirtualTime(w, clock, 60_000));
    await clock.advance(25_000);
    // The claim asked for its answer within a third of the lease, and the recovery came within it.
    expect(asked[0]).toBe(10_000);
    expect(claimedAt).not.toBeNull();
    expect(recoveredAt! - claimedAt!).toBeLessThanOrEqual(10_000);
    expect(executions).toBe(2);
    for (const t of tasks) expect(await orrery.getTask(t.id)).toMatchObject({ status: 'completed' });
    const runs = (await orrery.searchRuns({})).runs;
    expect(runs.map((r) => r.status).sort()).toEqual(['uneventful', 'uneventful']);
  });
});


/**
 * A remote worker whose claim answer never comes (chaos audit, 2026-12-06): with a lease of 2 s the
 * recovery waited out the answer's 1 s floor and then 1 s more before reading the runs it holds, and
 * the reaper ended them `lost` first (a retry and an abandon counted, the handler never run); a worker
 * stopped while such a claim was outstanding left its runs to the reaper the same way.
 */
describe('Worker: a claim answer lost on a short lease, or at a stop', () => {
  const setup = useTempOrrery();

  /** A remote board whose first claim that takes runs commits and then never answers (it times out after answerWithinMs). */
  function silentFirstClaim(orrery: Jobboard, clock: VirtualClock, heldFailures = 0) {
    const seen = { asked: [] as Array<number | undefined>, claimedAt: null as number | null, heldAt: [] as number[] };
    let silent = true;
    let failing = heldFailures;
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      claimRuns: async (req: Parameters<Jobboard['claimRuns']>[0]) => {
        seen.asked.push(req.answerWithinMs);
        const runs = await orrery.claimRuns(req);
        if (silent && runs.length > 0) {
          silent = false;
          seen.claimedAt = clock.now().getTime();
          await new Promise<void>((r) => clock.setTimer(req.answerWithinMs!, r));
          throw new StorageUnavailableError(`orrery server did not answer within ${req.answerWithinMs} ms (test)`);
        }
        return runs;
      },
      heldRuns: async (worker: string, opts?: { answerWithinMs?: number }) => {
        seen.heldAt.push(clock.now().getTime());
        if (failing-- > 0) throw new StorageUnavailableError('orrery server answered 503 (test)');
        return orrery.heldRuns(worker, opts);
      },
    });
    return { board, seen };
  }

  /** One task of `job`; a worker whose first claim of it is silent is stopped with `graceMs` while that claim is outstanding. */
  async function stopDuringLostClaim(orrery: Orrery, clock: VirtualClock, graceMs: number, heldFailures = 0) {
    const [task] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    const { board, seen } = silentFirstClaim(orrery, clock, heldFailures);
    let executions = 0;
    const w = new Worker(board, { concurrency: 1, types: ['job'], pollMs: 20_000, clock, handlers: { job: () => void (executions += 1) } });
    w.start();
    await waitFor(() => seen.claimedAt !== null, 'the claim committed');
    const stopped = w.stop(graceMs);
    await clock.advance(15_000);
    await stopped;
    return { task: task!, seen, executions };
  }

  it('with a lease of 2 s, the runs the silent claim started are read back at once and run before the reaper could end them', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery, onCleanup } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '2s' });
    const tasks = await orrery.createTasks([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    const { board, seen } = silentFirstClaim(orrery, clock);
    let executions = 0;
    const w = new Worker(board, { concurrency: 2, types: ['job'], pollMs: 20_000, clock, handlers: { job: () => void (executions += 1) } });
    w.start();
    onCleanup(() => stopOnVirtualTime(w, clock, 60_000));
    await clock.advance(1_900);
    expect(seen.asked[0]).toBe(1_000);
    expect(seen.heldAt[0]! - seen.claimedAt!).toBe(1_000); // the answer's bound, then at once
    expect(executions).toBe(2);
    await clock.advance(5_000);
    expect(await orrery.reapExpired()).toEqual([]);
    for (const t of tasks) expect(await orrery.getTask(t.id)).toMatchObject({ status: 'completed', consecutiveAbandons: 0 });
    expect((await orrery.searchRuns({})).runs.map((r) => [r.status, r.attempt])).toEqual([['uneventful', 1], ['uneventful', 1]]);
  });

  it('a worker stopped while a claim answer is outstanding gives the runs that claim took back (no retry, no abandon)', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '30s', numRetries: 1 });
    const { task, seen, executions } = await stopDuringLostClaim(orrery, clock, 1_000);
    expect(executions).toBe(0);
    expect(seen.heldAt).toHaveLength(2); // and a second look, an answer's bound later
    expect(await orrery.getTask(task.id)).toMatchObject({ status: 'next_run_scheduled', retriesLeft: 1, consecutiveAbandons: 0 });
    const [run] = (await orrery.searchRuns({})).runs;
    expect(run).toMatchObject({ status: 'scheduled', attempt: 1, worker: null });
  });

  it('runs read back after a lost answer are renewed at their own lease\'s pace, though no claim had brought a lease yet', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery, onCleanup } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '2s' });
    await orrery.createTasks([1, 2].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    const { board } = silentFirstClaim(orrery, clock);
    let executions = 0;
    const job = () => new Promise<boolean>((r) => clock.setTimer(4_000, () => r(++executions > 0)));
    const w = new Worker(board, { concurrency: 2, types: ['job'], pollMs: 20_000, clock, handlers: { job } });
    w.start();
    onCleanup(() => stopOnVirtualTime(w, clock, 60_000));
    // Read back at 1 s, running until 5 s: at 3 s the leases were renewed (they were not: renewals at the default 30 s lease's pace).
    await clock.advance(3_000);
    expect(await orrery.reapExpired()).toEqual([]);
    await clock.advance(3_000);
    expect(executions).toBe(2);
    expect((await orrery.searchRuns({})).runs.map((r) => [r.status, r.attempt])).toEqual([['eventful', 1], ['eventful', 1]]);
  });

  it('a worker stopping asks for a failed claim\'s runs again while the server is unavailable, within its grace', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '2s' });
    const { task, seen, executions } = await stopDuringLostClaim(orrery, clock, 10_000, 2); // the recovery and the first ask at the stop get a 503
    expect(executions).toBe(0);
    expect(seen.heldAt.length).toBe(4); // two 503s, the answer, and the second look
    expect(await orrery.getTask(task.id)).toMatchObject({ status: 'next_run_scheduled', consecutiveAbandons: 0 });
    expect((await orrery.searchRuns({})).runs).toMatchObject([{ status: 'scheduled', attempt: 1, worker: null }]);
  });

  it('claims refused while the recovery succeeds are tried again after a growing delay, not at the answer\'s bound', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery, onCleanup } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '2s' });
    const claims: number[] = [];
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      claimRuns: async () => {
        claims.push(clock.now().getTime());
        throw new StorageUnavailableError('orrery server answered 502 (test)');
      },
    });
    const w = new Worker(board, { concurrency: 1, types: ['job'], pollMs: 500, clock, handlers: { job: () => true } });
    w.start();
    onCleanup(() => stopOnVirtualTime(w, clock, 60_000));
    await clock.advance(8_000);
    expect(claims.slice(1).map((t, i) => t - claims[i]!).slice(0, 3)).toEqual([1_000, 2_000, 4_000]);
  });

  it('a claim the server commits just after its answer was given up is found by a second look, in the loop and at a stop (review)', async () => {
    for (const stopAfterClaim of [false, true]) {
      const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
      const { orrery } = await setup({ clock });
      await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '30s', numRetries: 0 });
      const [task] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
      let first = true;
      let failedAt: number | null = null;
      const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
        claim: undefined,
        claimRuns: async (req: Parameters<Jobboard['claimRuns']>[0]) => {
          if (!first) return orrery.claimRuns(req);
          first = false;
          // Still at work on the claim when the worker gives up waiting: it commits 300 ms later.
          clock.setTimer(req.answerWithinMs! + 300, () => void orrery.claimRuns(req));
          await new Promise<void>((r) => clock.setTimer(req.answerWithinMs!, r));
          failedAt = clock.now().getTime();
          throw new StorageUnavailableError(`did not answer within ${req.answerWithinMs} ms (test)`);
        },
      });
      let executions = 0;
      const w = new Worker(board, { concurrency: 1, types: ['job'], pollMs: 1000, clock, handlers: { job: () => void (executions += 1) } });
      w.start();
      if (stopAfterClaim) {
        await clock.advance(10_000);
        await waitFor(() => failedAt !== null, 'the claim to fail');
        const stopped = w.stop(10_000);
        await clock.advance(20_000);
        await stopped;
        expect(executions).toBe(0);
        expect(await orrery.getTask(task!.id)).toMatchObject({ status: 'next_run_scheduled', consecutiveAbandons: 0 });
        expect((await orrery.searchRuns({})).runs).toMatchObject([{ status: 'scheduled', attempt: 1, worker: null }]);
      } else {
        await clock.advance(45_000);
        expect(await orrery.reapExpired()).toEqual([]);
        expect(executions).toBe(1);
        expect(await orrery.getTask(task!.id)).toMatchObject({ status: 'completed' });
        await stopOnVirtualTime(w, clock, 60_000);
      }
    }
  });
});

describe('Worker: a claim that commits after both looks (its request held on its way)', () => {
  const setup = useTempOrrery();

  it('is found by a late look, within a minute of the failure, and its run runs once before it could be reaped (remote worker audit)', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null, leaseMs: '30s', numRetries: 0 });
    const [task] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    let first = true;
    let committed = false;
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      claimRuns: async (req: Parameters<Jobboard['claimRuns']>[0]) => {
        // The worker's other claims reach the server first and find nothing (the task is not due for them, say).
        if (!first) return committed ? orrery.claimRuns(req) : { runs: [], heldBack: false, retryAt: null };
        first = false;
        // The request reaches the server three answer bounds and 2 s after it was sent: past both looks.
        clock.setTimer(3 * req.answerWithinMs! + 2000, () => void orrery.claimRuns(req).then(() => (committed = true)));
        await new Promise<void>((r) => clock.setTimer(req.answerWithinMs!, r));
        throw new StorageUnavailableError(`did not answer within ${req.answerWithinMs} ms (test)`);
      },
    });
    let executions = 0;
    const w = new Worker(board, { concurrency: 1, types: ['job'], pollMs: 1000, clock, handlers: { job: () => void (executions += 1) } });
    w.start();
    await clock.advance(90_000);
    expect(committed).toBe(true);
    expect(await orrery.reapExpired()).toEqual([]);
    expect(executions).toBe(1);
    expect(await orrery.getTask(task!.id)).toMatchObject({ status: 'completed' });
    await stopOnVirtualTime(w, clock, 120_000);
  });
});

describe('Worker: the grace of a stop while the database does not answer', () => {
  const setup = useTempOrrery();
  /** A handler that waits for its abort, and what it saw. */
  const untilAborted = () => {
    const seen = { started: false, aborted: false };
    const job = async ({ signal }: { signal: AbortSignal }) => {
      seen.started = true;
      await new Promise((r) => signal.addEventListener('abort', r));
      seen.aborted = true;
      return false;
    };
    return { seen, job };
  };

  it('stops running handlers when the grace runs out, though a claim still waits for its answer', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    const [task] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    let claims = 0;
    let answer: () => void = () => {};
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: async (req: Parameters<NonNullable<Jobboard['claim']>>[0]) => {
        claims += 1;
        if (claims === 1) return orrery.claim!(req);
        // Every later claim hangs, as on a frozen database server, until the test lets it answer.
        await new Promise<void>((r) => (answer = r));
        return orrery.claim!(req);
      },
    });
    const { seen, job } = untilAborted();
    const w = new Worker(board, { concurrency: 2, types: ['job'], pollMs: 20, handlers: { job } });
    onCleanup(() => w.stop(0));
    w.start();
    await waitFor(() => seen.started && claims >= 2, 'the handler to start and a second claim to hang');
    const stopped = w.stop(200);
    // Before: the grace started only once the hung claim answered, so the handler ran on until the stop's bound.
    await waitFor(() => seen.aborted, 'the handler to be aborted at the end of the grace');
    answer();
    await stopped;
    const [run] = await orrery.listRuns(task!.id);
    expect(run).toMatchObject({ status: 'lost', error: expect.stringContaining('worker shutting down') });
  });

  it("a Daemon's stop counts the worker's grace from the stop, though the runner's pass still waits for the database", async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    const [task] = await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    const { seen, job } = untilAborted();
    const d = new Daemon(orrery, { runner: true, reaper: false, maxSleepMs: 20, worker: { concurrency: 1, types: ['job'], handlers: { job } } });
    d.start();
    await waitFor(() => seen.started, 'the handler to start');
    // The runner's next pass hangs, as on a frozen database server, until the test lets it answer.
    const schedule = orrery.scheduleDue.bind(orrery);
    let answer: () => void = () => {};
    let hung = false;
    orrery.scheduleDue = async (...args: Parameters<typeof schedule>) => {
      hung = true;
      await new Promise<void>((r) => (answer = r));
      return schedule(...args);
    };
    await waitFor(() => hung, "the runner's pass to hang");
    const stopped = d.stop(200);
    // Before: the worker's stop (and its grace) began only once the runner's pass answered: the handler ran on.
    await waitFor(() => seen.aborted, 'the handler to be aborted at the end of the grace');
    answer();
    await stopped;
    const [run] = await orrery.listRuns(task!.id);
    expect(run).toMatchObject({ status: 'lost', error: expect.stringContaining('worker shutting down') });
  });

  it('a database that reads but cannot write: the first failed claim looks up at once, the next ones say their back-off', async () => {
    const clock = new VirtualClock(new Date('2026-06-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job', maxQueueLength: null });
    await orrery.createTasks([{ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } }]);
    // Every claim fails (a full disk, a write lock held); reading the held runs works.
    const board: Jobboard = Object.assign(Object.create(orrery) as Jobboard, {
      claim: undefined,
      claimRuns: async () => {
        throw new StorageUnavailableError('the SQLite database is unavailable (SQLITE_IOERR_WRITE: disk I/O error)');
      },
    });
    const lines: string[] = [];
    const logger = { level: 'info', info: () => {}, warn: () => {}, debug: () => {}, trace: () => {}, fatal: () => {}, silent: () => {}, isLevelEnabled: () => true,
      error: (_o: unknown, msg: string) => void lines.push(msg), child: () => logger };
    const w = new Worker(board, { concurrency: 1, types: ['job'], pollMs: 1_000, clock, logger: logger as never, handlers: { job: () => false } });
    w.start();
    for (let i = 0; i < 160; i++) await clock.advance(100);
    // operations.md: `claim failed (looking up at once the runs it may have taken): …`, then `claim failed (retrying in N ms): …` while it lasts.
    expect(lines.filter((l) => l.startsWith('claim failed')).map((l) => l.replace(/: the SQLite .*$/, ''))).toEqual([
      'claim failed (looking up at once the runs it may have taken)',
      'claim failed (retrying in 4000 ms)',
      'claim failed (retrying in 8000 ms)',
      'claim failed (retrying in 16000 ms)',
    ]);
    await stopOnVirtualTime(w, clock, 10_000);
  });
});
