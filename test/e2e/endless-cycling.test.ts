/**
 * Endless cycling (issue 7, item 5; TaskFlow's failure mode): a task whose handler kills its own
 * worker every time. Restarted by a supervisor, the worker would claim it and die again forever;
 * Orrery dead-letters it after `maxAbandons` lost runs instead. `orrery task list --status disabled`
 * shows why, and `orrery task respawn` brings it back. With --isolation process the same handler kills
 * only its child process: the run fails with the cause and the worker survives.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { BIN, ROOT, useProcesses, type Proc } from './process-helpers.js';

const HANDLERS = join(ROOT, 'test', 'fixtures', 'fault-handlers.ts');
const TYPE = 'kills-its-worker'; // backend kill-self; leaseMs 1s, maxAbandons 2, numRetries 5, retryDelayMs 0s

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a handler that kills its worker every time', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('inline: is dead-lettered after maxAbandons lost runs and stops cycling; task list shows why; respawn brings it back', async () => {
    const { orrery, path, dir } = await setup();
    const db = ['--db', `sqlite:${path}`];
    const ledger = join(dir, 'ledger');
    const runner = spawnOrrery(['runner', ...db, '--max-sleep', '100ms']);
    const startWorker = () => spawnOrrery(['worker', ...db, '--handlers', HANDLERS, '--types', TYPE, '--poll', '100ms']);
    let worker: Proc = startWorker();
    await waitFor(() => /orrery started/.test(worker.output()), 'the worker to start', 30_000);
    const type = (await orrery.getTaskType(TYPE))!;
    expect(type).toMatchObject({ leaseMs: 1000, maxAbandons: 2, numRetries: 5 });
    const task = await orrery.createTask({ type: TYPE, policy: 'oneshot', arguments: { args: [], kwargs: { ledger } } });

    // The supervisor: restart the worker whenever it dies, until the task is disabled.
    const t0 = Date.now();
    const deaths: Array<string | null> = [];
    await waitFor(async () => {
      if (worker.child.exitCode !== null || worker.child.signalCode !== null) {
        deaths.push(worker.child.signalCode);
        worker = startWorker();
      }
      return (await orrery.getTask(task.id))!.status === 'disabled';
    }, 'the task to be dead-lettered', 30_000, 50);
    const deadLetteredIn = Date.now() - t0;

    const disabled = (await orrery.getTask(task.id))!;
    expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'dead_letter', consecutiveAbandons: type.maxAbandons });
    expect(disabled.retriesLeft).toBeGreaterThan(0); // dead-lettered whatever its retries
    const runs = await orrery.listRuns(task.id);
    expect(runs.map((r) => r.status)).toEqual(Array(type.maxAbandons).fill('lost'));
    for (const r of runs) expect(r.error).toMatch(/lease expired/);
    expect(deaths).toEqual(Array(type.maxAbandons).fill('SIGKILL'));

    // It stops cycling: the restarted worker lives on and nothing claims the task again.
    await waitFor(() => /orrery started/.test(worker.output()), 'the last worker to start', 30_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(worker.child.exitCode).toBeNull();
    expect(await orrery.listRuns(task.id)).toHaveLength(type.maxAbandons);
    const executions = readFileSync(ledger, 'utf8').trim().split('\n').length;
    expect(executions).toBe(type.maxAbandons);

    // Stop the processes (so that the respawned task is not claimed again at once), then look.
    worker.child.kill('SIGTERM');
    runner.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(await runner.exited).toBe(0);

    const listed = cli(['task', 'list', ...db, '--status', 'disabled', '--json']);
    expect(listed.status).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: task.id, type: TYPE, status: 'disabled', disabledReason: 'dead_letter', consecutiveAbandons: 2 })]);
    const table = cli(['task', 'list', ...db, '--status', 'disabled']);
    expect(table.status).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^\\s*${task.id}\\b.*${TYPE}.*disabled \\(dead_letter\\)`, 'm'));

    const respawned = cli(['task', 'respawn', ...db, String(task.id), '--json']);
    expect(respawned.status, respawned.stderr).toBe(0);
    expect(JSON.parse(respawned.stdout)).toEqual([
      expect.objectContaining({ id: task.id, status: 'next_run_not_scheduled', disabledReason: null, consecutiveAbandons: 0, retriesLeft: type.numRetries }),
    ]);
    expect((await orrery.getTask(task.id))!).toMatchObject({ status: 'next_run_not_scheduled', consecutiveAbandons: 0 });
    console.log(`endless-cycling (inline): dead-lettered after ${runs.length} lost runs, ${deaths.length} worker deaths, in ${deadLetteredIn} ms; ${executions} executions`);
  }, 60_000);

  it('--isolation process: the handler kills only its child process; the runs fail with the cause and the worker survives', async () => {
    const { orrery, path, dir } = await setup();
    const db = ['--db', `sqlite:${path}`];
    const ledger = join(dir, 'ledger');
    const serve = spawnOrrery(['serve', ...db, '--handlers', HANDLERS, '--types', TYPE, '--isolation', 'process', '--port', '0', '--max-sleep', '100ms', '--poll', '100ms']);
    await waitFor(() => /orrery started/.test(serve.output()), 'the worker to start', 30_000);
    const type = (await orrery.getTaskType(TYPE))!;
    const task = await orrery.createTask({ type: TYPE, policy: 'oneshot', arguments: { args: [], kwargs: { ledger } } });

    // Each run fails (a retry is used), none is lost: no abandon is counted, so no dead letter; the
    // retries run out instead.
    const done = await waitFor(async () => {
      const t = (await orrery.getTask(task.id))!;
      return t.status === 'disabled' ? t : null;
    }, 'the task to run out of retries', 45_000, 50);
    expect(done).toMatchObject({ disabledReason: 'retries_exhausted', consecutiveAbandons: 0 });
    const runs = await orrery.listRuns(task.id);
    expect(runs).toHaveLength(type.numRetries + 1);
    for (const r of runs) {
      expect(r.status).toBe('failed');
      expect(r.error).toBe('handler crashed: its process was killed by SIGKILL');
    }
    // One worker all along; every execution in a child process of its own.
    expect(serve.child.exitCode).toBeNull();
    const pids = readFileSync(ledger, 'utf8').trim().split('\n').map((l) => Number(l.split(' ')[2]));
    expect(pids).toHaveLength(type.numRetries + 1);
    expect(pids).not.toContain(serve.child.pid);
    expect(new Set(pids).size).toBe(pids.length);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    expect(existsSync(ledger)).toBe(true);
    console.log(`endless-cycling (process): ${runs.length} runs failed (${runs[0]!.error!.split('\n')[0]}), 0 lost, the worker survived`);
  }, 60_000);
});
