/**
 * Waiting for a task (docs/guide.md#waiting-for-a-task): the library's waitForTask, the HTTP long
 * poll and OrreryClient over it, and `orrery task wait`. A run this process ends wakes the wait at
 * once; another process's end is seen at the next read.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { NotFoundError, StorageUnavailableError, ValidationError } from '../../src/core/errors.js';
import { openOrrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { OrreryClient } from '../../src/http/client.js';
import { startServer } from '../../src/http/start-server.js';
import { PermanentFailure } from '../../src/core/errors.js';
import { runCli } from '../cli/cli-helpers.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';
import { ManualClock } from '../../src/engine/clock.js';
import { waitForTask } from '../../src/engine/task-wait.js';

describe('waiting for a task', () => {
  const setup = useTempOrrery();

  it('answers at once for a finished task, at the end of a run this process ends, and unfinished at its timeout', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const worker = new Worker(orrery, { handlers: { job: async ({ args }) => (args[0] === 'slow' ? gate.then(() => ({ eventful: true, result: 42 })) : true) }, pollMs: 50, registry: false });
    worker.start();
    onCleanup(() => worker.stop(0));

    const slow = await orrery.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['slow'], kwargs: {} } });
    // Not finished within its timeout: the answer says so, with the task as it stands.
    const early = await orrery.waitForTask(slow.id, { timeoutMs: 30 });
    expect(early.finished).toBe(false);
    expect(early.task.id).toBe(slow.id);
    // A wait with a one-hour poll still answers as soon as this process's worker ends the run.
    const waiting = orrery.waitForTask(slow.id, { pollMs: 3_600_000 });
    release();
    const done = await waiting;
    expect(done).toMatchObject({ finished: true, task: { id: slow.id, status: 'completed' }, run: { task: slow.id, status: 'eventful', result: 42 } });
    // Finished already: at once.
    expect((await orrery.waitForTask(slow.id, { timeoutMs: 0 })).finished).toBe(true);
  });

  it('a disabled task is finished; a missing task is not found; bad options and an abort are refused', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: new Date(Date.now() + 86_400_000) });
    await orrery.disableTasks([t.id]);
    expect(await orrery.waitForTask(t.id)).toMatchObject({ finished: true, task: { status: 'disabled', disabledReason: 'manual' }, run: null });
    await expect(orrery.waitForTask(9999)).rejects.toBeInstanceOf(NotFoundError);
    await expect(orrery.waitForTask(t.id, { timeoutMs: -1 })).rejects.toThrow(/^timeoutMs: must be a number of milliseconds/);
    await expect(orrery.waitForTask(t.id, { pollMs: 1 })).rejects.toBeInstanceOf(ValidationError);
    // A misspelt option is refused, naming it (before: ignored, and a wait for an active task lasted for ever).
    await expect(orrery.waitForTask(t.id, { timeout: 10 } as never)).rejects.toThrow(/^options\.timeout: unknown field \(one of timeoutMs, signal, pollMs\)$/);
    const active = await orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: new Date(Date.now() + 86_400_000), arguments: { args: [2], kwargs: {} } });
    const stop = new AbortController();
    const waiting = orrery.waitForTask(active.id, { signal: stop.signal });
    stop.abort(new Error('enough'));
    await expect(waiting).rejects.toThrow('enough');
  });

  it('an end made while the wait reads the task is not missed (on a clock whose timers never fire by themselves)', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    const [claimed] = await orrery.claimRuns({ worker: 'w', types: ['job'], limit: 1, due: true });
    let endedOnce = false;
    const host = {
      clock,
      events: orrery.events,
      listRuns: (id: number, o: { last?: number }) => orrery.listRuns(id, o),
      // The run ends right after the task was read as still running: only the end's event can wake the wait.
      getTask: async (id: number) => {
        const task = await orrery.getTask(id);
        if (!endedOnce) {
          endedOnce = true;
          await orrery.endRun(claimed!.run.backendId, { status: 'eventful', worker: 'w' });
        }
        return task;
      },
    };
    expect(await waitForTask(host, t.id)).toMatchObject({ finished: true, task: { status: 'completed' } });
  });

  it('a timeout on a ManualClock ends the wait on its (real) timer, though the manual instant does not move (it waited for ever, and so did GET /api/tasks/{id}/wait)', async () => {
    const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
    const { orrery } = await setup({ clock });
    await orrery.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    expect(await orrery.waitForTask(t.id, { timeoutMs: 30 })).toMatchObject({ finished: false, task: { id: t.id } });
    expect(await orrery.waitForTask(t.id, { timeoutMs: 30, pollMs: 10 })).toMatchObject({ finished: false });
  });

  it('a read that finds the database unavailable after a first answer is tried again at the next poll: the wait goes on (a task wait exited 1 at a restart)', async () => {
    const { orrery, path } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    let reads = 0;
    // Reads 2 and 3 meet a database that is away (a restart), as its store reports it.
    const host = Object.assign(Object.create(orrery) as typeof orrery, {
      getTask: async (id: number) => {
        reads += 1;
        if (reads === 2 || reads === 3) throw new StorageUnavailableError('the SQLite database is unavailable (SQLITE_BUSY: database is locked); retry later');
        return orrery.getTask(id);
      },
    });
    const other = await openOrrery({ db: `sqlite:${path}` });
    try {
      const waiting = waitForTask(host, t.id, { pollMs: 20 });
      await waitFor(() => reads >= 4, 'two failed reads and one more');
      const [claimed] = await other.claimRuns({ worker: 'w', types: ['job'], limit: 1, due: true });
      await other.endRun(claimed!.run.backendId, { status: 'uneventful', worker: 'w' });
      expect(await waiting).toMatchObject({ finished: true, task: { status: 'completed' } });
      // The first read's failure is the caller's: nothing to wait on yet.
      reads = 1;
      await expect(waitForTask(host, t.id, { pollMs: 20 })).rejects.toBeInstanceOf(StorageUnavailableError);
    } finally {
      await other.close();
    }
  });

  it("another process's end is seen at the next read", async () => {
    const { orrery, path } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    const other = await openOrrery({ db: `sqlite:${path}` });
    try {
      const waiting = orrery.waitForTask(t.id, { pollMs: 20 });
      const [claimed] = await other.claimRuns({ worker: 'w', types: ['job'], limit: 1, due: true });
      await other.endRun(claimed!.run.backendId, { status: 'uneventful', worker: 'w' });
      expect(await waiting).toMatchObject({ finished: true, task: { status: 'completed' }, run: { status: 'uneventful' } });
    } finally {
      await other.close();
    }
  });

  it('over HTTP: a long poll (GET /api/tasks/{id}/wait) and OrreryClient.waitForTask; orrery task wait exits 0, or 1 when disabled or still active', async () => {
    const { orrery, path } = await setup();
    await orrery.createTaskType({ name: 'job' });
    await orrery.createTaskType({ name: 'bad', numRetries: 0 });
    const handlers = { job: async () => true, bad: async () => { throw new PermanentFailure('gone'); } };
    const server = await startServer(orrery, { http: { port: 0 }, handlers: { handlers }, worker: { pollMs: 50 } });
    try {
      const base = server.url!;
      const client = new OrreryClient(base);
      const ok = await client.createTask({ type: 'job', policy: 'oneshot' });
      expect(await client.waitForTask(ok.id, { timeoutMs: 10_000 })).toMatchObject({ finished: true, task: { status: 'completed' }, run: { status: 'eventful' } });
      const res = await fetch(`${base}/api/tasks/${ok.id}/wait?timeoutMs=0`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ finished: true, task: { id: ok.id, status: 'completed' } });
      expect((await fetch(`${base}/api/tasks/9999/wait?timeoutMs=0`)).status).toBe(404);
      const tooLong = await fetch(`${base}/api/tasks/${ok.id}/wait?timeoutMs=60001`);
      expect(tooLong.status).toBe(400);
      expect((await tooLong.json()).error.message).toMatch(/timeoutMs/);
      const later = await client.createTask({ type: 'job', policy: 'oneshot', nextRun: new Date(Date.now() + 86_400_000) });
      expect((await client.waitForTask(later.id, { timeoutMs: 50 })).finished).toBe(false);
      await expect(client.waitForTask(later.id, { timeout: 50 } as never)).rejects.toThrow(/^options\.timeout: unknown field/);
      expect((await client.waitForTask(later.id, { timeoutMs: 50, pollMs: 100 })).finished).toBe(false);

      const db = ['--db', `sqlite:${path}`];
      expect(await runCli(['task', 'wait', String(ok.id), ...db])).toMatchObject({ code: 0, stdout: expect.stringMatching(new RegExp(`^task ${ok.id} completed \\(last run \\S+ eventful at \\S+\\)\\n$`)) });
      const bad = await orrery.createTask({ type: 'bad', policy: 'oneshot' });
      const failed = await runCli(['task', 'wait', String(bad.id), '--json', ...db]);
      expect(failed.code).toBe(1);
      expect(JSON.parse(failed.stdout)).toMatchObject({ finished: true, task: { status: 'disabled', disabledReason: 'permfailed' }, run: { status: 'permfailed', error: expect.stringContaining('gone') } });
      const still = await runCli(['task', 'wait', String(later.id), '--timeout', '50ms', ...db]);
      expect(still).toMatchObject({ code: 1, stdout: `task ${later.id} still next_run_not_scheduled after 50ms (no run)\n` });
      expect((await runCli(['task', 'wait', 'x', ...db])).code).toBe(2);
      expect((await runCli(['task', 'wait', '1', '--timeout', 'soon', ...db])).code).toBe(2);
    } finally {
      await server.stop();
    }
  });

  it('a client that leaves a long wait ends it: an info line, no error line, the server goes on', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const t = await orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: new Date(Date.now() + 86_400_000) });
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
    const server = await startServer(orrery, { http: { port: 0 }, runner: false, reaper: false, logger });
    try {
      const baseline = orrery.events.listenerCount('run'); // the metrics' own listener
      const leave = new AbortController();
      const waiting = fetch(`${server.url}/api/tasks/${t.id}/wait?timeoutMs=60000`, { signal: leave.signal }).catch((e: unknown) => e);
      // Once the server holds the request (the wait listens for this process's run events).
      for (let i = 0; orrery.events.listenerCount('run') === baseline && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
      expect(orrery.events.listenerCount('run')).toBe(baseline + 1);
      leave.abort();
      await waiting;
      // The wait ends (its listener gone) and says why at info level.
      for (let i = 0; orrery.events.listenerCount('run') > baseline && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
      expect(orrery.events.listenerCount('run')).toBe(baseline);
      for (let i = 0; !lines.some((l) => /closed the connection before the answer/.test(l.msg)) && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      expect(lines.some((l) => l.level === 30 && /GET \/api\/tasks\/\d+\/wait: the client closed the connection before the answer/.test(l.msg))).toBe(true);
      expect((await fetch(`${server.url}/api/tasks/${t.id}/wait?timeoutMs=0`)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
