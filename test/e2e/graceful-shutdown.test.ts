import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

describe('SIGTERM to a worker process', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('lets quick handlers finish, abandons a stubborn one after the grace period, and exits 0', async () => {
    const { orrery, path } = await setup();
    const worker = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--types', 'stubborn,noop', '--grace', '500ms', '--poll', '100ms']);
    await waitFor(() => /orrery started/.test(worker.output()), 'the worker to start');
    const stubborn = await orrery.createTask({ type: 'stubborn', policy: 'oneshot', arguments: { args: ['s'], kwargs: {} } });
    await orrery.scheduleDue();
    const started = await waitFor(async () => (await orrery.listRuns(stubborn.id)).find((r) => r.status === 'started'), 'the run to start');

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const run = (await orrery.getRun(started.backendId))!;
    expect(run).toMatchObject({ status: 'lost', error: 'worker shutting down' });
    // given back: due again at once, no retry used, one abandon counted
    expect((await orrery.getTask(stubborn.id))!).toMatchObject({ status: 'next_run_not_scheduled', nextRun: run.ended, retriesLeft: 0, consecutiveAbandons: 1 });
    expect(worker.output()).toMatch(/abandoned: worker shutting down/);
  });

  it('a lease past 24.8 days (a stop bound past Node\'s longest timer) still gives handlers their grace, and exits 0', async () => {
    const { orrery, path } = await setup();
    await orrery.createTaskType({ name: 'linger', leaseMs: '25d', numRetries: 1, retryDelayMs: '1h' });
    const worker = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--types', 'linger', '--grace', '10s', '--poll', '100ms']);
    await waitFor(() => /orrery started/.test(worker.output()), 'the worker to start');
    const task = await orrery.createTask({ type: 'linger', policy: 'oneshot', arguments: { args: ['l'], kwargs: {} } });
    await waitFor(async () => (await orrery.listRuns(task.id)).some((r) => r.status === 'started'), 'the run to start');
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0); // the bound's timer fired at once: exit 1, the run left started
    expect((await orrery.listRuns(task.id)).map((r) => r.status)).toEqual(['eventful']);
    expect(worker.output()).not.toMatch(/TimeoutOverflowWarning|the stop did not end/);
  });

  it.each(['thread', 'process'])('a SIGTERM while the first %s loads a handlers file that never finishes loading there stops it (exit 0; it hung until a second signal)', async (isolation) => {
    const { path } = await setup();
    const dir = mkdtempSync(join(tmpdir(), 'orrery-tla-'));
    const file = join(dir, 'handlers.mjs');
    const loading = join(dir, 'loading');
    // In the main thread it loads; in a handler thread or process its top-level await never settles (a
    // timer keeps it alive), once it has said so in a file.
    writeFileSync(file, `import { isMainThread } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
if (!isMainThread || process.send) { writeFileSync(${JSON.stringify(loading)}, ''); setInterval(() => {}, 1000); await new Promise(() => {}); }
export const handlers = { noop: async () => true };
`);
    try {
      const worker = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', file, '--isolation', isolation]);
      await waitFor(() => existsSync(loading), `the handlers file to be loading in a ${isolation}`);
      expect(worker.child.exitCode).toBeNull();
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(worker.output()).toMatch(/SIGTERM received while starting[\s\S]*stopped before it started/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --types naming a type this handlers file cannot run (exit 2)', async () => {
    const { orrery, path } = await setup();
    await orrery.createTaskType({ name: 'elsewhere', backendName: 'nobody' });
    const worker = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--types', 'noop,elsewhere']);
    expect(await worker.exited).toBe(2);
    expect(worker.output()).toMatch(/--types: no handler in .*handlers\.ts for elsewhere \(backend nobody\)/);
  });

  it('refuses --types naming no type, and an ORRERY_LOG_LEVEL pino does not know (exit 2, naming them)', async () => {
    const { path } = await setup();
    const empty = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--types', ' , ']);
    expect(await empty.exited).toBe(2);
    expect(empty.output()).toMatch(/--types <names>.*" , " names no task type/);
    const level = spawnOrrery(['runner', '--db', `sqlite:${path}`], { ORRERY_LOG_LEVEL: 'verbose' });
    expect(await level.exited).toBe(2);
    expect(level.output()).toMatch(/ORRERY_LOG_LEVEL: log level "verbose" is not one of trace, debug, info/);
  });
});

describe('a signal to the whole process group of a worker with --isolation process (Ctrl-C, a service manager)', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  /** The worker's child processes (its handler processes, and tsx's esbuild service), from /proc. */
  const childrenOf = (pid: number): number[] =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .filter((d) => {
        try {
          return Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid;
        } catch {
          return false; // gone meanwhile
        }
      })
      .map(Number);

  /** A worker with --isolation process running one task of `type`, once its handler began (`marks` files written in the begun directory). */
  const startOne = async (type: string, grace: string, marks = 1) => {
    const { orrery, path } = await setup();
    const begun = mkdtempSync(join(tmpdir(), 'orrery-begun-'));
    const worker = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--types', type, '--isolation', 'process', '--grace', grace, '--poll', '100ms'], { ORRERY_TEST_BEGUN_DIR: begun });
    await waitFor(() => /orrery started/.test(worker.output()), 'the worker to start');
    await orrery.createTask({ type, policy: 'oneshot', arguments: { args: ['s'], kwargs: {} } });
    await orrery.scheduleDue();
    await waitFor(() => readdirSync(begun).length === marks, 'the handler to begin');
    const files = Object.fromEntries(readdirSync(begun).map((f) => [f, readFileSync(join(begun, f), 'utf8')]));
    rmSync(begun, { recursive: true, force: true });
    return { worker, files };
  };
  /** Waits until process `pid` is gone (or a zombie, about to be reaped). */
  const gone = (pid: number, what: string) =>
    waitFor(() => !existsSync(`/proc/${pid}`) || /^Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!), what);
  const handlerProcesses = (worker: number) => childrenOf(worker).filter((pid) => /isolate-entry/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')));

  for (const [signal, to] of [['SIGINT', 'group'], ['SIGTERM', 'group'], ['SIGTERM', 'every process']] as const) {
    it(`${signal} to ${to === 'group' ? 'the process group (Ctrl-C)' : 'every process (systemd\'s control group)'}: the handler processes ignore it, the worker stops gracefully (a run finishes in the grace period, a stubborn one is abandoned)`, async () => {
      const { orrery, path } = await setup();
      // Its own process group, so the test can signal the group as a terminal or systemd does.
      const begun = mkdtempSync(join(tmpdir(), 'orrery-begun-'));
      const worker = spawnOrrery(
        ['worker', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--types', 'linger,stubborn', '--isolation', 'process', '--concurrency', '2', '--grace', '4s', '--poll', '100ms'],
        { ORRERY_TEST_BEGUN_DIR: begun },
        { detached: true },
      );
      await waitFor(() => /orrery started/.test(worker.output()), 'the worker to start');
      const linger = await orrery.createTask({ type: 'linger', policy: 'oneshot', arguments: { args: ['l'], kwargs: {} } });
      const stubborn = await orrery.createTask({ type: 'stubborn', policy: 'oneshot', arguments: { args: ['s'], kwargs: {} } });
      await orrery.scheduleDue();
      // Both handlers began in their processes (a signal to the group while the worker forks one reaches
      // the new process too: Linux queues a group signal sent during fork for the child).
      await waitFor(() => readdirSync(begun).length === 2, 'both handlers to begin');
      rmSync(begun, { recursive: true, force: true });

      if (to === 'group') process.kill(-worker.child.pid!, signal);
      else {
        const children = childrenOf(worker.child.pid!);
        expect(children.length).toBeGreaterThanOrEqual(2);
        for (const pid of [worker.child.pid!, ...children]) process.kill(pid, signal);
      }
      expect(await worker.exited).toBe(0);
      // The handler process was not killed by the signal: its run finished (it failed before, "killed by SIGINT", a retry spent).
      expect((await orrery.listRuns(linger.id)).map((r) => r.status)).toEqual(['eventful']);
      expect((await orrery.getTask(linger.id))!).toMatchObject({ status: 'completed' });
      const [abandoned] = await orrery.listRuns(stubborn.id);
      expect(abandoned).toMatchObject({ status: 'lost', error: 'worker shutting down' });
      expect((await orrery.getTask(stubborn.id))!).toMatchObject({ status: 'next_run_not_scheduled', retriesLeft: 0, consecutiveAbandons: 1 });
      expect(worker.output()).not.toMatch(/killed by SIG(INT|TERM)/);
    });
  }

  it('a second signal exits at once, and takes the handler processes with it (a busy one noticed nothing)', async () => {
    const { worker } = await startOne('spin', '30s');
    const handlers = handlerProcesses(worker.child.pid!);
    expect(handlers).toHaveLength(1);
    worker.child.kill('SIGTERM');
    await waitFor(() => /stopping/.test(worker.output()), 'the graceful stop to begin');
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(1);
    await gone(handlers[0]!, 'the handler process to be gone');
  });

  it('a worker killed outright (SIGKILL) takes its busy handler process with it (a watchdog thread sees it gone)', async () => {
    const { worker } = await startOne('spin', '10s');
    const handlers = handlerProcesses(worker.child.pid!);
    expect(handlers).toHaveLength(1);
    worker.child.kill('SIGKILL');
    await worker.exited;
    // Busy for 20 s, it would have gone on running after its worker (it sees no IPC channel close).
    await gone(handlers[0]!, 'the handler process to be gone');
  });

  it('a handler process killed at the end of the grace period takes what its handler started with it (its process group)', async () => {
    const { worker, files } = await startOne('spawner', '500ms', 2);
    const sleeper = Number(Object.entries(files).find(([f]) => f.endsWith('.child'))![1]);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    // The program its handler started went with the handler process (it outlived it, re-parented, before).
    await gone(sleeper, 'the program the handler started to be gone');
  });
});
