import { describe, expect, it } from 'vitest';
import { OrreryError } from '../../src/core/errors.js';
import type { Jobboard } from '../../src/engine/jobboard.js';
import { Orrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import type { ClaimedRun } from '../../src/store/store.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

/**
 * What a remote client does to Orrery's errors at its simplest: a plain Error carrying the code, not
 * an instance of the OrreryError classes (so the worker has to go by the code).
 */
function byCode(e: unknown): unknown {
  return e instanceof OrreryError ? Object.assign(new Error(e.message), { code: e.code }) : e;
}

async function forward<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw byCode(e);
  }
}

interface FakeBoard {
  board: Jobboard;
  calls: Record<string, number>;
  /** Runs the first claim committed before its reply was "lost". */
  lostClaim: ClaimedRun[];
  listeners: () => number;
}

/**
 * A Jobboard that is not the Orrery service: a plain object forwarding to a real Orrery, the way an
 * HTTP client forwards to a server. With `loseFirstClaim`, the first `claimRuns` commits on the
 * "server" and then fails like a dropped connection: a plain Error carrying the code a client gives
 * a network failure (`storage_unavailable`, the one error the worker retries).
 */
function fakeBoard(orrery: Orrery, opts: { loseFirstClaim?: boolean } = {}): FakeBoard {
  const calls: Record<string, number> = {};
  const lostClaim: ClaimedRun[] = [];
  let claims = 0;
  let listeners = 0;
  const count = (name: string) => (calls[name] = (calls[name] ?? 0) + 1);
  const board: Jobboard = Object.freeze({
    now: () => {
      count('now');
      return orrery.now();
    },
    listTaskTypes: () => (count('listTaskTypes'), forward(() => orrery.listTaskTypes())),
    claimRuns: async (o: { worker: string; types: readonly string[]; limit: number }) => {
      count('claimRuns');
      const claimed = await forward(() => orrery.claimRuns({ worker: o.worker, types: [...o.types], limit: o.limit }));
      if (opts.loseFirstClaim && claims++ === 0) {
        lostClaim.push(...claimed);
        throw Object.assign(new Error('socket hang up'), { code: 'storage_unavailable' });
      }
      return claimed;
    },
    heldRuns: (worker: string) => (count('heldRuns'), forward(() => orrery.heldRuns(worker))),
    heartbeat: (backendId: string, o: { worker: string }) => (count('heartbeat'), forward(() => orrery.heartbeat(backendId, { worker: o.worker }))),
    heartbeatRuns: (o: Parameters<Jobboard['heartbeatRuns']>[0]) => (count('heartbeatRuns'), forward(() => orrery.heartbeatRuns({ worker: o.worker, runs: o.runs }))),
    releaseRuns: (o: Parameters<Jobboard['releaseRuns']>[0]) => (count('releaseRuns'), forward(() => orrery.releaseRuns({ worker: o.worker, backendIds: o.backendIds }))),
    endRuns: async (items: Parameters<Jobboard['endRuns']>[0]) => {
      count('endRuns');
      const outcomes = await forward(() => orrery.endRuns(items.map((i) => ({ ...i }))));
      return outcomes.map((o) => byCode(o)) as Awaited<ReturnType<Jobboard['endRuns']>>;
    },
    abandonRun: (backendId: string, o: { worker: string; reason?: string; at?: Date }) => (count('abandonRun'), forward(() => orrery.abandonRun(backendId, { ...o }))),
    appendRunLogs: (backendId: string, records: Parameters<Jobboard['appendRunLogs']>[1]) => (count('appendRunLogs'), forward(() => orrery.appendRunLogs(backendId, records))),
    onRunsScheduled: (listener: () => void) => {
      count('onRunsScheduled');
      listeners += 1;
      const off = orrery.onRunsScheduled(listener);
      return () => {
        listeners -= 1;
        off();
      };
    },
  });
  return { board, calls, lostClaim, listeners: () => listeners };
}

describe('Worker against a Jobboard that is not the Orrery service', () => {
  const setup = useTempOrrery();

  it('recovers a claim whose reply was lost (through heldRuns) and completes every task exactly once', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const executions = new Map<number, number>();
    const fake = fakeBoard(orrery, { loseFirstClaim: true });
    expect(fake.board).not.toBeInstanceOf(Orrery);
    expect(Object.getPrototypeOf(fake.board)).toBe(Object.prototype);
    const w = new Worker(fake.board, {
      handlers: {
        job: async ({ run, log, heartbeat }) => {
          executions.set(run.task, (executions.get(run.task) ?? 0) + 1);
          log('info', 'working', { task: run.task });
          await heartbeat();
          await new Promise((r) => setTimeout(r, 20));
          return { eventful: true, result: { task: run.task } };
        },
      },
      concurrency: 3,
      pollMs: 50,
    });
    const tasks = await orrery.createTasks(Array.from({ length: 7 }, (_, i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await orrery.scheduleDue(); // runs are waiting before the first claim, so the lost claim holds some
    w.start();
    onCleanup(() => w.stop(0));

    await waitFor(async () => {
      const runs = await Promise.all(tasks.map((t) => orrery.listRuns(t.id)));
      return runs.every((r) => r.length > 0 && r.every((x) => !['scheduled', 'claimed', 'started'].includes(x.status)));
    }, 'every task finished');
    await w.stop(0);

    // The first claim committed 3 runs on the "server" and its reply was lost; the worker found them.
    // (an idle worker's first claim: its concurrency plus a buffer of one concurrency)
    expect(fake.lostClaim).toHaveLength(6);
    expect(fake.calls.heldRuns).toBeGreaterThanOrEqual(1);
    expect(fake.calls.claimRuns).toBeGreaterThanOrEqual(2);
    for (const t of tasks) {
      const runs = await orrery.listRuns(t.id);
      expect(runs.map((r) => r.status), `task ${t.id}`).toEqual(['eventful']);
      expect(runs[0]!.result).toEqual({ task: t.id });
      expect(executions.get(t.id), `executions of task ${t.id}`).toBe(1);
      expect((await orrery.getTask(t.id))!.status).toBe('completed');
    }
    const recovered = fake.lostClaim[0]!.run.backendId;
    expect((await orrery.getRunLogs(recovered)).map((l) => l.message)).toEqual(['working']);
    // Every board method the worker needs went through the fake (the Orrery service never reached it).
    for (const m of ['now', 'listTaskTypes', 'claimRuns', 'heldRuns', 'heartbeat', 'endRuns', 'appendRunLogs', 'onRunsScheduled']) {
      expect(fake.calls[m] ?? 0, m).toBeGreaterThan(0);
    }
    expect(fake.listeners()).toBe(0); // stop unsubscribed
  });

  it('wakes on the board\'s onRunsScheduled instead of waiting for its poll', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const fake = fakeBoard(orrery);
    const w = new Worker(fake.board, { handlers: { job: () => true }, types: ['job'], pollMs: 600_000 });
    w.start();
    onCleanup(() => w.stop(0));
    await waitFor(() => fake.calls.claimRuns === 1, 'the first (empty) claim');
    await new Promise((r) => setTimeout(r, 50)); // the worker is now asleep for its 10-minute poll
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    await orrery.scheduleDue();
    await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'eventful'), 'the run to end', 5_000);
    await w.stop(0);
    expect(fake.listeners()).toBe(0);
  });

  it('a run its worker-wide heartbeat reports lost aborts its handler with a lease_lost error', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'long', leaseMs: 1000 });
    const fake = fakeBoard(orrery);
    let aborted: unknown = null;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new Worker(fake.board, {
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
    await orrery.endRun(started.backendId, { status: 'lost', error: 'taken away' });
    await waitFor(() => aborted, 'the abort', 5_000);
    expect(aborted).toMatchObject({ code: 'lease_lost' });
    release();
    await new Promise((r) => setTimeout(r, 100));
    // The worker left the end to the new holder: no second end, no retry loop on a final verdict.
    expect(await orrery.listRuns(t.id)).toMatchObject([{ status: 'lost', error: 'taken away' }]);
    expect(fake.calls.endRuns ?? 0).toBe(0);
  });

  it('goes by error codes: an end refused with a coded plain Error is final, not retried as an outage', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'long', leaseMs: 60_000 }); // no heartbeat before the end
    const fake = fakeBoard(orrery);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new Worker(fake.board, { handlers: { long: () => gate.then(() => true) }, pollMs: 50 });
    const t = await orrery.createTask({ type: 'long', policy: 'oneshot' });
    await orrery.scheduleDue();
    w.start();
    onCleanup(() => w.stop(0));
    const started = await waitFor(async () => (await orrery.listRuns(t.id)).find((r) => r.status === 'started'), 'start');
    await orrery.endRun(started.backendId, { status: 'lost', error: 'taken away' });
    release();
    await waitFor(() => fake.calls.endRuns === 1, 'the refused end');
    await new Promise((r) => setTimeout(r, 400)); // a retry as for an outage would come after 100 ms, then 200 ms
    expect(fake.calls.endRuns).toBe(1);
    expect(await orrery.listRuns(t.id)).toMatchObject([{ status: 'lost', error: 'taken away' }]);
  });
});
