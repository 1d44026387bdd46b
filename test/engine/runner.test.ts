import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Runner } from '../../src/engine/runner.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('Runner', () => {
  const setup = useTempOrrery();

  it('new due work wakes it at once, not at the next poll', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const runner = new Runner(orrery, { maxSleepMs: 600_000 });
    runner.start();
    onCleanup(() => runner.stop());
    await waitFor(async () => runner.state === 'running', 'runner start');
    await new Promise((r) => setImmediate(r));
    const task = await orrery.createTask({ type: 'job', policy: 'oneshot' });
    // The runner's poll is 10 minutes: the run can only appear before this deadline if the insert woke it.
    const [run] = await waitFor(async () => {
      const runs = (await orrery.listRuns(task.id)).filter((r) => r.status === 'scheduled');
      return runs.length > 0 ? runs : null;
    }, 'the run', 5_000, 2);
    expect(run!.task).toBe(task.id);
  });

  it('logs a pass over a few types one line each, and a pass over many types in one line', async () => {
    const { orrery, onCleanup } = await setup();
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) });
    for (let i = 0; i < 12; i++) await orrery.createTaskType({ name: `t${String(i).padStart(2, '0')}` });
    await orrery.createTasks([{ type: 't00', policy: 'oneshot' as const }, { type: 't00', policy: 'oneshot' as const, arguments: { args: [2], kwargs: {} } }, { type: 't01', policy: 'oneshot' as const }]);
    const runner = new Runner(orrery, { maxSleepMs: 600_000, graceMs: 0, logger });
    runner.start();
    onCleanup(() => runner.stop());
    await waitFor(async () => lines.some((l) => l.startsWith('scheduled 1 run of t01')), 'the per-type lines');
    expect(lines.filter((l) => l.startsWith('scheduled'))).toEqual(['scheduled 2 runs of t00', 'scheduled 1 run of t01']);
    await orrery.createTasks(Array.from({ length: 13 }, (_, i) => ({ type: `t${String(i % 12).padStart(2, '0')}`, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    const summary = await waitFor(async () => lines.find((l) => l.includes('types (most:')) ?? null, 'the one-line summary');
    expect(summary).toBe('scheduled 13 runs of 12 types (most: t00 2, t01 1, t02 1, t03 1, t04 1, t05 1, t06 1, t07 1, t08 1, t09 1, …)');
  });

  it('sleeps until the earliest nextRun, then schedules it', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const runner = new Runner(orrery, { maxSleepMs: 600_000 });
    const due = new Date(Date.now() + 300);
    const task = await orrery.createTask({ type: 'job', policy: 'oneshot', nextRun: due });
    runner.start();
    onCleanup(() => runner.stop());
    const [run] = await waitFor(async () => orrery.listRuns(task.id).then((r) => (r.length > 0 ? r : null)), "the due run", 10_000, 5);
    expect(run!.scheduled.getTime()).toBeGreaterThanOrEqual(due.getTime());
  });

  it('leaves due work in a full queue until a claim frees a slot', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'narrow', maxQueueLength: 1 });
    await orrery.createTasks([1, 2].map((n) => ({ type: 'narrow', policy: 'oneshot' as const, arguments: { args: [n], kwargs: {} } })));
    const runner = new Runner(orrery, { maxSleepMs: 600_000 });
    runner.start();
    onCleanup(() => runner.stop());
    await waitFor(async () => (await orrery.searchTasks({ status: 'next_run_scheduled' })).length === 1, 'first run');
    await orrery.claimRuns({ worker: 'w', types: ['narrow'], limit: 1 });
    await waitFor(async () => (await orrery.searchTasks({ status: 'next_run_scheduled' })).length === 2, 'second run after the claim');
  });

  it('fills a single freed slot of a large queue (SPEC §2.2: slots > 0), not only a tenth of it', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'wide', maxQueueLength: 20 });
    await orrery.createTasks(Array.from({ length: 22 }, (_, n) => ({ type: 'wide', policy: 'oneshot' as const, arguments: { args: [n], kwargs: {} } })));
    const runner = new Runner(orrery, { maxSleepMs: 600_000 });
    runner.start();
    onCleanup(() => runner.stop());
    const queued = async () => (await orrery.searchTasks({ status: 'next_run_scheduled' })).length;
    await waitFor(async () => (await queued()) === 20, 'a full queue');
    // One slot frees: before, the daemon waited for two (a tenth of 20) and left it empty.
    await orrery.claimRuns({ worker: 'w', types: ['wide'], limit: 1, due: false });
    await waitFor(async () => (await queued()) === 21, 'the freed slot filled');
  });
});
