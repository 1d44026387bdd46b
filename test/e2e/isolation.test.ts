import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { ROOT, useProcesses } from './process-helpers.js';

const CRASHERS = join(ROOT, 'test', 'fixtures', 'crash-handlers.ts');
const TYPES = 'well,throws-later,exits,oom,spins';

describe.each(['thread', 'process'] as const)('--isolation %s', (mode) => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('a handler that crashes its isolate fails only its own run, with the cause; the isolate is replaced', async () => {
    const { orrery, path } = await setup();
    const serve = spawnOrrery([
      'serve', '--db', `sqlite:${path}`, '--handlers', CRASHERS, '--types', TYPES, '--isolation', mode, '--max-memory', '64',
      '--concurrency', '3', '--port', '0', '--max-sleep', '100ms', '--poll', '100ms',
    ]);
    await waitFor(async () => /orrery started/.test(serve.output()), 'the worker to start', 30_000);
    const add = (type: string) => orrery.createTask({ type, policy: 'oneshot', arguments: { args: [type], kwargs: {} } });
    const crashers = [await add('throws-later'), await add('exits'), await add('oom')];
    const first = await add('well');
    const ended = async (id: number) => {
      const t = await orrery.getTask(id);
      return t && (t.status === 'completed' || t.status === 'disabled') ? (await orrery.listRuns(id))[0]! : null;
    };
    const runs = await Promise.all(crashers.map((t) => waitFor(() => ended(t.id), `${t.type} to end`, 30_000)));
    expect(runs.map((r) => [r.type, r.status])).toEqual([
      ['throws-later', 'failed'],
      ['exits', 'failed'],
      ['oom', 'failed'],
    ]);
    expect(runs[0]!.error).toMatch(new RegExp(`handler crashed: its ${mode} exited with code 70: Error: boom from a timer`));
    expect(runs[1]!.error).toMatch(new RegExp(`handler crashed: its ${mode} exited with code 3`));
    expect(runs[2]!.error).toMatch(mode === 'thread' ? /out of memory \(limit 64 MB\)/ : /killed by SIGABRT \(out of memory\?\)/);

    // The worker goes on: healthy runs after the crashes, in a new isolate, with logs and heartbeats.
    const ok = await waitFor(() => ended(first.id), 'the healthy run', 30_000);
    const after = await add('well');
    const ok2 = await waitFor(() => ended(after.id), 'a healthy run after the crashes', 30_000);
    for (const r of [ok, ok2]) {
      expect(r.status).toBe('eventful');
      const where = r.result as { pid: number; isMainThread: boolean; threadId: number };
      if (mode === 'thread') expect(where).toMatchObject({ pid: serve.child.pid, isMainThread: false });
      else expect(where.pid).not.toBe(serve.child.pid);
      expect((await orrery.getRunLogs(r.backendId)).map((l) => [l.level, l.message, l.attributes])).toEqual([['info', 'hello from the handler', { arg: 'well' }]]);
    }
    // A handler spinning past its timeout, begun in an isolate already started (the healthy runs'; a
    // timeout that passes while an isolate starts never begins its handler): its isolate is killed,
    // not left burning a core.
    const spins = await add('spins');
    const spun = await waitFor(() => ended(spins.id), 'the spinning run to end', 30_000);
    expect([spun.status, spun.error]).toEqual(['failed', 'timeout after 500ms']);
    await waitFor(() => /did not stop within 1000 ms of its abort/.test(serve.output()), 'the spinning isolate to be killed', 10_000);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 90_000);

  it('cancelling a running isolated handler aborts it in its isolate, which lives on for the next run', async () => {
    const { orrery, path } = await setup();
    const serve = spawnOrrery([
      'serve', '--db', `sqlite:${path}`, '--handlers', CRASHERS, '--types', 'well,blocks', '--isolation', mode,
      '--concurrency', '1', '--port', '0', '--max-sleep', '100ms', '--poll', '100ms',
    ]);
    await waitFor(async () => /orrery started/.test(serve.output()), 'the worker to start', 30_000);
    const finished = async (id: number) => {
      const t = await orrery.getTask(id);
      return t && t.status !== 'next_run_scheduled' && t.status !== 'next_run_not_scheduled' ? (await orrery.listRuns(id)).at(-1)! : null;
    };
    const before = await orrery.createTask({ type: 'well', policy: 'oneshot', arguments: { args: ['before'], kwargs: {} } });
    const first = await waitFor(() => finished(before.id), 'a first run', 30_000);
    const blocking = await orrery.createTask({ type: 'blocks', policy: 'oneshot' });
    const running = await waitFor(async () => (await orrery.listRuns(blocking.id)).find((r) => r.status === 'started'), 'the blocking run to start', 30_000);
    const asked = Date.now();
    expect((await orrery.cancelRun(running.backendId)).outcome).toBe('requested');
    const ended = await waitFor(async () => {
      const r = await orrery.getRun(running.backendId);
      return r?.status === 'started' ? null : r;
    }, 'the cancelled run to end', 15_000);
    expect(Date.now() - asked).toBeLessThan(10_000);
    expect(ended).toMatchObject({ status: 'failed', error: 'cancelled' });
    expect(await orrery.getTask(blocking.id)).toMatchObject({ status: 'disabled', disabledReason: 'manual', retriesLeft: 2 });
    // The handler stopped on its signal: its thread or process was not killed, and serves the next run.
    const after = await orrery.createTask({ type: 'well', policy: 'oneshot', arguments: { args: ['after'], kwargs: {} } });
    const second = await waitFor(() => finished(after.id), 'a run after the cancel', 30_000);
    const where = (r: { result: unknown }) => r.result as { pid: number; threadId: number };
    expect(where(second)).toEqual(where(first));
    expect(serve.output()).not.toMatch(/did not stop within/);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  }, 90_000);
});

describe('--isolation inline', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('a handler that calls process.exit(0) ends the worker with status 1, not 0, and says why', async () => {
    const { orrery, path } = await setup();
    const worker = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', CRASHERS, '--types', 'exits-zero', '--poll', '100ms']);
    await waitFor(async () => /orrery started/.test(worker.output()), 'the worker to start', 30_000);
    await orrery.createTask({ type: 'exits-zero', policy: 'oneshot' });
    // Before: 0, which a supervisor takes for a clean stop
    expect(await worker.exited).toBe(1);
    expect(worker.output()).toMatch(/the daemon exited with status 0 without being asked to stop \(process\.exit called by a handler/);
    // Any status but 1: a process.exit(2) would read as invalid input (before: 2, without a word)
    const two = spawnOrrery(['worker', '--db', `sqlite:${path}`, '--handlers', CRASHERS, '--types', 'exits-two', '--poll', '100ms']);
    await waitFor(async () => /orrery started/.test(two.output()), 'the worker to start', 30_000);
    await orrery.createTask({ type: 'exits-two', policy: 'oneshot' });
    expect(await two.exited).toBe(1);
    expect(two.output()).toMatch(/the daemon exited with status 2 without being asked to stop/);
  }, 60_000);
});
