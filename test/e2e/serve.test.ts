import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../engine/engine-helpers.js';
import { useTempOrrery } from '../engine/engine-helpers.js';
import { FIXTURE_HANDLERS, useProcesses } from './process-helpers.js';

describe('orrery serve (end to end)', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('executes one-shot and recurring tasks on its own, serves /healthz, and stops cleanly on SIGTERM', async () => {
    const { orrery, path } = await setup();
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--port', '0', '--poll', '200ms', '--log-format', 'json']);
    await waitFor(() => /orrery started/.test(serve.output()), 'serve to start');
    const port = Number(/"port":(\d+)/.exec(serve.output())![1]);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.json());
    expect(health).toMatchObject({ status: 'ok', worker: 'running' });

    // Created from another process: serve finds them by polling.
    const oneshots = await orrery.createTasks(Array.from({ length: 20 }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    const recurring = await orrery.createTask({ type: 'tick', arguments: { args: ['feed'], kwargs: {} } });
    await waitFor(async () => (await orrery.searchTasks({ type: 'noop', status: 'completed' })).length === 20, 'one-shot tasks completed');
    const ticks = await waitFor(async () => {
      const runs = await orrery.listRuns(recurring.id);
      return runs.filter((r) => r.status === 'eventful').length >= 3 ? runs : null;
    }, 'three runs of the recurring task');
    expect(oneshots).toHaveLength(20);
    // eventful runs halve the interval down to the minimum
    expect((await orrery.getTask(recurring.id))!.currentIntervalMs).toBe(500);
    const logs = await orrery.getRunLogs(ticks[0]!.backendId);
    expect(logs[0]).toMatchObject({ level: 'info', message: 'tick', attributes: { attempt: 1 } });

    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(serve.output()).toMatch(/"msg":"stopped"/);
  });

  it('stops gracefully on SIGHUP (its terminal closed), as on SIGTERM: exit 0, its worker marked stopped', async () => {
    const { orrery, path } = await setup();
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--port', '0', '--log-format', 'json']);
    await waitFor(() => /orrery started/.test(serve.output()), 'serve to start');
    serve.child.kill('SIGHUP');
    expect(await serve.exited).toBe(0);
    expect(serve.output()).toMatch(/"msg":"SIGHUP received; a second signal exits at once"/);
    expect(serve.output()).toMatch(/"msg":"stopped"/);
    const workers = await orrery.listWorkers({});
    expect(workers).toHaveLength(1);
    expect(workers[0]).toMatchObject({ liveness: 'stopped', stoppedAt: expect.any(Date) });
  });

  it('starts over when the database goes away during its start (a transient error after the open), instead of exiting', async () => {
    const { orrery, path } = await setup();
    const mark = join(path, '..', 'setup-failed-once');
    const handlers = join(import.meta.dirname, '..', 'fixtures', 'flaky-setup-handlers.ts');
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--handlers', handlers, '--port', '0', '--poll', '200ms', '--log-format', 'json'], { ORRERY_TEST_MARK: mark });
    await waitFor(() => /orrery started/.test(serve.output()) || serve.child.exitCode !== null, 'serve to start (or exit)');
    expect(serve.child.exitCode, serve.output()).toBeNull();
    expect(serve.output()).toMatch(/could not start \(the PostgreSQL database is unavailable \(57P03[^)]*\)\); retrying in 250 ms/);
    // The second start ran the setup through: its task runs
    await waitFor(async () => (await orrery.searchTasks({ type: 'noop', status: 'completed' })).length === 1, 'the task setup() created to complete');
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  it('a signal while setup() runs stops serve gracefully, logged as once it runs, with no start line after it (worker/runner audit: "received while starting", then "orrery started")', async () => {
    const { path } = await setup();
    const handlers = join(import.meta.dirname, '..', 'fixtures', 'endless-setup-handlers.ts');
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--handlers', handlers, '--port', '0', '--log-format', 'json']);
    await waitFor(() => /endless setup: began/.test(serve.output()) || serve.child.exitCode !== null, 'setup() to begin');
    serve.child.kill('SIGTERM');
    expect(await serve.exited, serve.output()).toBe(0);
    expect(serve.output()).toMatch(/SIGTERM received; a second signal exits at once/);
    expect(serve.output()).not.toMatch(/received while starting|orrery started|stopped before it started/);
    expect(serve.output()).toMatch(/"msg":"stopped"/);
  });

  it('a signal while the handlers file loads, or while the database is unreachable, stops the daemon cleanly (exit 0)', async () => {
    const { path } = await setup();
    const slow = join(import.meta.dirname, '..', 'fixtures', 'slow-loading-handlers.ts');
    const worker = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', slow, '--log-format', 'json']);
    await waitFor(() => /slow handlers file: loading/.test(worker.output()) || worker.child.exitCode !== null, 'the handlers file to begin loading');
    worker.child.kill('SIGTERM');
    // Before: killed by the signal (no exit code, nothing logged)
    expect(await worker.exited, worker.output()).toBe(0);
    expect(worker.output()).toMatch(/SIGTERM received while starting/);
    expect(worker.output()).toMatch(/stopped before it started/);
    // A remote worker too (it reaches no server before its handlers are loaded).
    const remote = spawnOrrery(['worker', '--url', 'http://127.0.0.1:1', '--handlers', slow, '--log-format', 'json']);
    await waitFor(() => /slow handlers file: loading/.test(remote.output()) || remote.child.exitCode !== null, 'the remote worker to load its handlers');
    remote.child.kill('SIGTERM');
    expect(await remote.exited, remote.output()).toBe(0);
    expect(remote.output()).toMatch(/stopped before it started/);
    const runner = spawnOrrery(['runner', '--db', 'postgres://orrery@127.0.0.1:1/none', '--log-format', 'json']);
    await waitFor(() => /cannot open the database/.test(runner.output()) || runner.child.exitCode !== null, 'the runner to wait for its database');
    runner.child.kill('SIGINT');
    expect(await runner.exited, runner.output()).toBe(0);
    expect(runner.output()).toMatch(/SIGINT received while starting/);
    expect(runner.output()).toMatch(/stopped before it started/);
  });

  it('visit-scheduler lives as the other daemons: waits for an unreachable database, logs JSON with --log-format json, stops on SIGTERM (exit 0)', async () => {
    const { orrery, path } = await setup();
    const away = spawnOrrery(['visit-scheduler', '--visit-types', 'git', '--db', 'postgres://orrery@127.0.0.1:1/none', '--log-format', 'json']);
    // Before: exit 1 at once (the database cannot be opened)
    await waitFor(() => /cannot open the database/.test(away.output()) || away.child.exitCode !== null, 'the visit-scheduler to wait for its database');
    away.child.kill('SIGINT');
    expect(await away.exited, away.output()).toBe(0);
    expect(away.output()).toMatch(/"msg":"stopped before it started"/);
    await orrery.createTaskType({ name: 'git' });
    const loop = spawnOrrery(['visit-scheduler', '--visit-types', 'git', '--db', `sqlite:${path}`, '--log-format', 'json']);
    await waitFor(() => /visit-scheduler started/.test(loop.output()) || loop.child.exitCode !== null, 'the visit-scheduler to start');
    loop.child.kill('SIGTERM');
    expect(await loop.exited, loop.output()).toBe(0);
    for (const msg of ['SIGTERM received; a second signal exits at once', 'stopping', 'stopped']) expect(loop.output()).toContain(`"msg":"${msg}"`);
    // A bad visit type is still refused at once (exit 2), not waited on.
    const bad = spawnOrrery(['visit-scheduler', '--visit-types', 'hg', '--db', `sqlite:${path}`]);
    expect(await bad.exited).toBe(2);
  });

  it('stops on SIGTERM while a client keeps the event stream open (a dashboard tab)', async () => {
    const { path } = await setup();
    const serve = spawnOrrery(['serve', '--db', `sqlite:${path}`, '--handlers', FIXTURE_HANDLERS, '--port', '0', '--log-format', 'json']);
    await waitFor(() => /orrery started/.test(serve.output()), 'serve to start');
    const port = Number(/"port":(\d+)/.exec(serve.output())![1]);
    const stream = new AbortController();
    const events = await fetch(`http://127.0.0.1:${port}/api/events`, { signal: stream.signal });
    const reader = events.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('ready');
    serve.child.kill('SIGTERM');
    // Before: the server waited for the client to leave (here, for ever)
    expect(await Promise.race([serve.exited, new Promise((r) => setTimeout(() => r('still running after 8 s'), 8_000))])).toBe(0);
    stream.abort();
  });
});
