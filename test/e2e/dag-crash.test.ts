import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTempOrrery, waitFor } from '../engine/engine-helpers.js';
import { ROOT, useProcesses } from './process-helpers.js';

const DAG_HANDLERS = join(ROOT, 'test', 'fixtures', 'dag-crash-handlers.ts');

const runsOf = (runs: Array<{ id: number }>) => runs.map((r) => r.id).sort();

describe('DAG scheduler killed with SIGKILL mid-run', () => {
  const setup = useTempOrrery();
  const spawnOrrery = useProcesses();

  it('continues the run on restart: finished tasks are not re-run, no schedule point is lost or duplicated', async () => {
    const { orrery, path, dir } = await setup();
    const ledger = join(dir, 'ledger.txt');
    writeFileSync(ledger, '');
    const start = new Date(Math.floor(Date.now() / 1000) * 1000 + 1000).toISOString();
    const env = { ORRERY_TEST_LEDGER: ledger, ORRERY_TEST_START: start };
    const args = ['serve', '--db', `sqlite:${path}`, '--handlers', DAG_HANDLERS, '--port', '0', '--max-sleep', '100ms', '--poll', '100ms', '--concurrency', '8'];
    const first = spawnOrrery(args, env);
    await waitFor(async () => (await orrery.store.dags.getDags(['slow'])).length === 1, 'the DAGs to be synced', 30_000);
    const run = await orrery.dags.trigger('slow');
    // Kill while the branches run: a is done, the b's started.
    await waitFor(() => readFileSync(ledger, 'utf8').includes(`start ${run.id} b`), 'a branch to start', 30_000);
    first.child.kill('SIGKILL');
    await first.exited;

    const db = new Database(path, { readonly: true });
    const finished = (db.prepare(`SELECT task_id FROM dag_task_instances WHERE run = ? AND status = 'success'`).all(run.id) as Array<{ task_id: string }>).map((r) => r.task_id);
    db.close();
    expect(finished).toContain('a');
    const beforeRestart = readFileSync(ledger, 'utf8').length;

    await new Promise((r) => setTimeout(r, 1500)); // downtime: ticker points pass while nobody schedules
    const second = spawnOrrery(args, env);
    const done = await waitFor(async () => {
      const r = await orrery.dags.run(run.id);
      return r.status === 'success' || r.status === 'failed' ? r : null;
    }, 'the run to finish after the restart', 30_000);
    expect(done.tasks.filter((t) => t.error).map((t) => `${t.taskId}: ${t.error}`)).toEqual([]);
    expect(done.status).toBe('success');
    expect(done.tasks.find((t) => t.taskId === 'join')!.result).toEqual(['b1', 'b2', 'b3', 'b4', 'b5']);

    // Tasks finished before the crash never started again.
    const after = readFileSync(ledger, 'utf8').slice(beforeRestart).split('\n');
    for (const t of finished) expect(after).not.toContain(`start ${run.id} ${t}`);
    // Every task finished exactly once as far as the DAG is concerned.
    expect(done.tasks.every((t) => t.status === 'success')).toBe(true);

    // Ticker: one run per second since START, in order, none twice, none missing (catch-up after the downtime).
    await waitFor(async () => (await orrery.dags.runs({ dag: 'ticker', limit: 1000 })).length >= 4, 'ticker runs', 30_000);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const ticks = (await orrery.dags.runs({ dag: 'ticker', limit: 10_000 })).map((r) => r.execTs.getTime()).sort((a, b) => a - b);
    expect(new Set(ticks).size).toBe(ticks.length);
    ticks.forEach((t, i) => expect(t).toBe(new Date(start).getTime() + i * 1000));
    const points = await orrery.store.dags.listDagPoints('ticker', 10_000);
    // Every point recorded once, each with its run (the 1.5 s downtime is within the lateness: on time).
    expect(points.filter((p) => p.kind === 'skipped')).toEqual([]);
    expect(points.map((p) => p.run).sort()).toEqual(runsOf(await orrery.dags.runs({ dag: 'ticker', limit: 10_000 })));
  });
});
