/**
 * Graceful shutdown under load (issue 7, item 4): SIGTERM to a worker with 50 running handlers. Half
 * of them finish within the grace period and end normally; the other half are abandoned (runs `lost`,
 * tasks due again at once, no retry used, one abandon counted); runs still waiting in the jobboard are
 * not claimed; the worker exits 0 and, with --isolation process, leaves no handler process behind.
 * (graceful-shutdown.test.ts covers the single-handler case and --types checks.)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { ROOT, useProcesses } from './process-helpers.js';

const HANDLERS = join(ROOT, 'test', 'fixtures', 'fault-handlers.ts');
/**
 * Handlers running at SIGTERM. With --isolation process each one is a child process (Node and tsx:
 * about a second of CPU each; 50 of them take some 40 s to start on a 2-core machine), so that variant
 * runs 8 (its own assertions, that no child outlives the worker, do not depend on the count).
 */
const RUNNING_OF = { inline: 50, process: 8 } as const;
const WAITING = 10;
const QUICK_MS = 200; // after the gate opens: well within the grace period
const SLOW_MS = 120_000; // never within it
const GRACE_MS = 2_000;

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.each(['inline', 'process'] as const)('SIGTERM to a worker with %s handlers under load', (isolation) => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();
  const RUNNING = RUNNING_OF[isolation];

  it(`lets the ${RUNNING / 2} handlers that finish within the grace end normally, abandons the other ${RUNNING / 2}, claims nothing more, exits 0`, async () => {
    const { orrery, path, dir } = await setup();
    const ledger = join(dir, 'ledger');
    const gate = join(dir, 'gate');
    const worker = spawnOrrery([
      'worker', '--db', `sqlite:${path}`, '--handlers', HANDLERS, '--types', 'gated-sleep', '--isolation', isolation,
      '--concurrency', String(RUNNING), '--grace', `${GRACE_MS}ms`, '--poll', '100ms',
    ]);
    await waitFor(() => /orrery started/.test(worker.output()), 'the worker to start', 30_000);
    const type = (await orrery.getTaskType('gated-sleep'))!;
    // Alternate quick and slow, so both kinds are claimed; then more than the worker can take.
    const tasks = await orrery.createTasks(
      Array.from({ length: RUNNING + WAITING }, (_, i) => ({
        type: 'gated-sleep',
        policy: 'oneshot' as const,
        arguments: { args: [i % 2 === 0 ? QUICK_MS : SLOW_MS, i], kwargs: { ledger, gate } },
      })),
    );
    await orrery.scheduleDue();
    const lines = () => (existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n') : []);
    await waitFor(() => lines().filter((l) => l.startsWith('start ')).length === RUNNING, `${RUNNING} handlers to be running`, 45_000, 50);
    const started = lines().map((l) => l.split(' '));
    const pids = new Set(started.map(([, , pid]) => Number(pid)));
    expect(pids.size).toBe(isolation === 'process' ? RUNNING : 1);

    writeFileSync(gate, ''); // the quick handlers now finish QUICK_MS later; the slow ones would take minutes
    const termAt = Date.now();
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const stoppedIn = Date.now() - termAt;
    expect(stoppedIn).toBeGreaterThanOrEqual(GRACE_MS);

    const runStarted = new Set(started.map(([, task]) => Number(task)));
    const byTask = new Map(tasks.map((t) => [t.id, t]));
    const quick = [...runStarted].filter((id) => byTask.get(id)!.arguments.args[0] === QUICK_MS);
    const slow = [...runStarted].filter((id) => byTask.get(id)!.arguments.args[0] === SLOW_MS);
    const waiting = tasks.filter((t) => !runStarted.has(t.id));
    expect(waiting).toHaveLength(WAITING);
    expect(quick.length).toBeGreaterThan(0);
    expect(slow.length).toBeGreaterThan(0);

    // Finished within the grace: ended normally, task completed, recorded in the ledger.
    const ended = new Set(lines().filter((l) => l.startsWith('end ')).map((l) => Number(l.split(' ')[1])));
    expect([...ended].sort()).toEqual([...quick].sort());
    for (const id of quick) {
      const [run] = await orrery.listRuns(id);
      expect(run, `task ${id}`).toMatchObject({ status: 'eventful', attempt: 1 });
      expect((await orrery.getTask(id))!.status).toBe('completed');
    }
    // Abandoned: lost, due again at the abandon instant, no retry used, one abandon counted.
    for (const id of slow) {
      const [run] = await orrery.listRuns(id);
      expect(run, `task ${id}`).toMatchObject({ status: 'lost', error: 'worker shutting down' });
      expect((await orrery.getTask(id))!, `task ${id}`).toMatchObject({
        status: 'next_run_not_scheduled',
        nextRun: run!.ended,
        retriesLeft: type.numRetries,
        consecutiveAbandons: 1,
      });
    }
    // Never claimed: still waiting in the jobboard for the next worker.
    for (const t of waiting) {
      expect((await orrery.listRuns(t.id)).map((r) => [r.status, r.worker])).toEqual([['scheduled', null]]);
    }
    // What is left of the grace, counted from the signal (the buffer given back first).
    const waited = /waiting up to (\d+) ms for (\d+) running handler\(s\)/.exec(worker.output());
    expect(waited, worker.output()).not.toBeNull();
    expect(Number(waited![1])).toBeLessThanOrEqual(GRACE_MS);
    expect(Number(waited![1])).toBeGreaterThan(GRACE_MS / 2);
    expect(Number(waited![2])).toBe(RUNNING);
    expect(worker.output().match(/abandoned: worker shutting down/g)).toHaveLength(slow.length);
    // No handler outlives its worker (inline: the worker's own pid).
    await waitFor(() => ![...pids].some(pidAlive), 'the handler processes to be gone', 5_000);
    console.log(`graceful-load (${isolation}): ${RUNNING} running, ${quick.length} finished within the grace, ${slow.length} abandoned, ${WAITING} left unclaimed; stopped ${stoppedIn} ms after SIGTERM (grace ${GRACE_MS} ms); ${pids.size} handler pid(s), 0 alive after exit`);
  }, 90_000);
});
