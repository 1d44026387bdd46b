/**
 * Which errors the worker retries (issue 16, item 5): only StorageUnavailableError (the database or a
 * remote board away for now). A bug in the store path, or a 500 from the server seen by a remote
 * worker, is said loudly (error level, with its stack) and not retried: the slot is released and the
 * run is left to its lease and the reaper. Faults are injected into a real service over a real SQLite
 * file, and reach remote workers through the real HTTP API and client.
 */
import type { Server } from 'node:http';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../src/core/errors.js';
import type { Jobboard } from '../../src/engine/jobboard.js';
import type { Orrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

interface Line {
  level: number;
  msg: string;
  err?: { type: string; message: string; stack: string };
}
const ERROR = 50;

function capture() {
  const lines: Line[] = [];
  const logger = pino({ level: 'debug', base: undefined }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { lines, logger };
}

describe('the worker retries only StorageUnavailableError', () => {
  const setup = useTempOrrery();

  /** A service whose run ends fail `fault` times (or always) with `error`; counts the ends asked for. */
  async function faultyEnds(orrery: Orrery, error: () => Error, fault = Infinity) {
    await orrery.createTaskType({ name: 'job', leaseMs: '30s' });
    const real = orrery.endRuns.bind(orrery);
    const calls = { batches: 0, items: 0 };
    orrery.endRuns = async (items) => {
      calls.batches += 1;
      calls.items += items.length;
      if (calls.batches <= fault) throw error();
      return real(items);
    };
    return calls;
  }

  async function remote(orrery: Orrery, onCleanup: (fn: () => Promise<void> | void) => void) {
    const { server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0);
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    onCleanup(() => new Promise<void>((r) => (server as Server).close(() => r())));
    onCleanup(() => client.close());
    return { client, url: `http://127.0.0.1:${port}` };
  }

  async function endsNotRecorded(board: Jobboard, orrery: Orrery, onCleanup: (fn: () => Promise<void> | void) => void, calls: { items: number }) {
    const { lines, logger } = capture();
    const worker = new Worker(board, { handlers: { job: () => true }, types: ['job'], concurrency: 1, pollMs: 20, logger });
    const tasks = await orrery.createTasks([0, 1].map((i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    worker.start();
    onCleanup(() => worker.stop(0));
    const failures = await waitFor(() => {
      const l = lines.filter((x) => x.level === ERROR && /end \(eventful\) not recorded/.test(x.msg));
      return l.length === 2 ? l : null;
    }, 'both ends to fail');
    // One slot: the second run started only because the first one's slot was released.
    expect(worker.running).toBe(0);
    expect(calls.items).toBe(2); // each end asked for once: not retried
    for (const l of failures) {
      expect(l.msg).toMatch(/not retried, the run is left to the reaper once its lease expires/);
      expect(l.err!.stack).toMatch(/\n\s+at /);
    }
    // Left to its lease (not renewed any more), its start marked: the reaper ends it lost, counted, once the lease expires.
    for (const t of tasks) await waitFor(async () => (await orrery.listRuns(t.id)).map((r) => r.status).join() === 'started', `the run of task ${t.id} marked started`);
    expect(lines.some((l) => /database unavailable/.test(l.msg))).toBe(false);
    await worker.stop(0);
    return failures;
  }

  it('in process: a bug in the store path (TypeError) is surfaced once per run, and the slot released', async () => {
    const { orrery, onCleanup } = await setup();
    const calls = await faultyEnds(orrery, () => new TypeError("Cannot read properties of undefined (reading 'run')"));
    const failures = await endsNotRecorded(orrery, orrery, onCleanup, calls);
    expect(failures[0]!.err!.type).toBe('TypeError');
  });

  it('remote worker: the server answering 500 is surfaced, not retried', async () => {
    const { orrery, onCleanup } = await setup();
    const calls = await faultyEnds(orrery, () => new TypeError('a bug on the server'));
    const { client, url } = await remote(orrery, onCleanup);
    const res = await fetch(`${url}/api/jobboard/end`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ backendId: 'probe', status: 'eventful', worker: 'w' }] }) });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('internal');
    calls.items = 0;
    calls.batches = 0;
    const failures = await endsNotRecorded(client, orrery, onCleanup, calls);
    expect(failures[0]!.msg).toMatch(/orrery server answered 500/);
  });

  it('remote worker: the server\'s store unavailable (503 storage_unavailable) is retried until the end is recorded', async () => {
    const { orrery, onCleanup } = await setup();
    const calls = await faultyEnds(orrery, () => new StorageUnavailableError('the SQLite database is unavailable (SQLITE_BUSY)'), 3);
    const { client, url } = await remote(orrery, onCleanup);
    const res = await fetch(`${url}/api/jobboard/end`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ backendId: 'probe', status: 'eventful', worker: 'w' }] }) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error).toMatchObject({ code: 'storage_unavailable', message: 'the database is unavailable; retry later', details: [], requestId: expect.any(String) });
    const { lines, logger } = capture();
    const worker = new Worker(client, { handlers: { job: () => true }, types: ['job'], concurrency: 1, pollMs: 20, logger });
    const task = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    worker.start();
    onCleanup(() => worker.stop(0));
    await waitFor(async () => (await orrery.getTask(task.id))!.status === 'completed', 'the task to complete');
    expect(calls.batches).toBe(4); // the probe above, two refused tries, then the recorded end
    // The first retry is logged, the second (within 10 s) is not; the recorded end says so once.
    expect(lines.filter((l) => /database call failed: .*database is unavailable.*; retrying every \d+ ms or less/.test(l.msg))).toHaveLength(1);
    // Logged when the worker has the answer, which may come after the server committed the end.
    await waitFor(() => lines.some((l) => /database call succeeded again after 2 failed attempts/.test(l.msg)), 'the line saying the end was recorded');
    expect(lines.filter((l) => /database call succeeded again/.test(l.msg))).toHaveLength(1);
    expect(lines.filter((l) => l.level === ERROR)).toEqual([]);
    await worker.stop(0);
  });

  it('a claim failing with a bug is logged as not transient and backed off, without looking for lost claims; a storage outage is recovered from', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const held = { calls: 0 };
    const realHeld = orrery.heldRuns.bind(orrery);
    orrery.heldRuns = (w) => ((held.calls += 1), realHeld(w));
    const realClaim = orrery.claim.bind(orrery);
    let fault: () => Error = () => new TypeError('claim bug');
    let failing = true;
    orrery.claim = async (o) => {
      if (failing) throw fault();
      return realClaim(o);
    };
    const { lines, logger } = capture();
    const worker = new Worker(orrery, { handlers: { job: () => true }, types: ['job'], pollMs: 10, logger });
    worker.start();
    onCleanup(() => worker.stop(0));
    const bugs = await waitFor(() => {
      const l = lines.filter((x) => x.level === ERROR && /claim failed with an error that is not transient \(trying again in \d+ ms; it needs fixing\): claim bug/.test(x.msg));
      return l.length >= 2 ? l : null;
    }, 'two failed claims');
    expect(bugs[0]!.err!.stack).toMatch(/TypeError: claim bug\n\s+at /);
    // backed off: 20 ms, then 40 ms... (pollMs doubled per failure, up to 30 s)
    expect(bugs.map((l) => Number(/trying again in (\d+) ms/.exec(l.msg)![1]))).toEqual([20, 40]);
    expect(held.calls).toBe(0);
    expect(worker.state).toBe('running');
    // The database away instead: the claim may have committed, so the worker looks for runs it holds.
    fault = () => new StorageUnavailableError('the SQLite database is unavailable (SQLITE_IOERR)');
    await waitFor(() => lines.some((l) => /^claim failed \(looking up at once the runs it may have taken\): the SQLite database is unavailable/.test(l.msg)), 'a transient claim failure');
    failing = false;
    await waitFor(() => held.calls > 0, 'the worker to look for claims it holds');
    const task = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    await waitFor(async () => (await orrery.getTask(task.id))!.status === 'completed', 'work to go on');
    await worker.stop(0);
  });

  it('an end still retried when the stop gives it up is said at warn, before the stop returns, not as a fault once the store is closed (SQLite faults audit)', async () => {
    const { orrery } = await setup();
    await faultyEnds(orrery, () => new StorageUnavailableError('the SQLite database is unavailable (SQLITE_BUSY)'));
    const { lines, logger } = capture();
    const worker = new Worker(orrery, { handlers: { job: () => true }, types: ['job'], concurrency: 1, pollMs: 20, logger });
    worker.start();
    await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: [], kwargs: {} } });
    await waitFor(() => lines.some((l) => /database call failed/.test(l.msg)), 'the end to be retried');
    await worker.stop(0);
    const given = lines.findIndex((l) => /end \(eventful\) not recorded: the worker stopped while the database was unavailable \(the SQLite database is unavailable \(SQLITE_BUSY\)\); the run is left to the reaper once its lease expires/.test(l.msg));
    expect(given).toBeGreaterThanOrEqual(0);
    expect(lines.filter((l) => l.level === ERROR)).toEqual([]);
  });
});
