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
    expect(empty.output()).toMatch(/--types: " , " names no task type/);
    const level = spawnOrrery(['runner', '--db', `sqlite:${path}`], { ORRERY_LOG_LEVEL: 'verbose' });
    expect(await level.exited).toBe(2);
    expect(level.output()).toMatch(/ORRERY_LOG_LEVEL: log level "verbose" is not one of trace, debug, info/);
  });
});
