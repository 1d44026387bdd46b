/**
 * npm run bench [-- --tasks 100000 --runs 10000 --rounds 3]
 * Medians over rounds, each with a bare-SQL baseline measured in the same round.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../src/engine/daemon.js';
import { openOrrery, type Orrery } from '../src/engine/service.js';
import { bareClaimComplete, bareInsert } from './baseline.js';
import { fmt, parseFlags, summary } from './stats.js';

const flags = parseFlags(process.argv.slice(2));
const TASKS = Number(flags.tasks ?? 100_000);
const RUNS = Number(flags.runs ?? 10_000);
const ROUNDS = Number(flags.rounds ?? 3);
const ROOT = join(import.meta.dirname, '..');

const tasksOf = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));

async function createBatch(dir: string): Promise<number> {
  const orrery = await openOrrery({ db: `sqlite:${join(dir, 'create.db')}` });
  await orrery.createTaskType({ name: 'noop', maxQueueLength: null });
  const inputs = tasksOf(TASKS);
  const start = performance.now();
  await orrery.createTasks(inputs);
  const ms = performance.now() - start;
  await orrery.close();
  return ms;
}

async function executeInProcess(dir: string, concurrency: number): Promise<number> {
  const orrery = await openOrrery({ db: `sqlite:${join(dir, `exec-${concurrency}.db`)}` });
  await orrery.createTaskType({ name: 'noop', maxQueueLength: null });
  await orrery.createTasks(tasksOf(RUNS));
  const daemon = new Daemon(orrery, { runner: true, reaper: true, worker: { handlers: { noop: async () => false }, concurrency } });
  const start = performance.now();
  daemon.start();
  while (!(await allDone(orrery))) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - start;
  await daemon.stop();
  const completed = await orrery.searchTasks({ status: 'completed', limit: RUNS });
  if (completed.length !== RUNS) throw new Error(`only ${completed.length} of ${RUNS} tasks completed`);
  await orrery.close();
  return ms;
}

/** The real `orrery serve` process on tasks already waiting; the clock stops when the database shows them all completed. */
async function executeServe(dir: string): Promise<number> {
  const path = join(dir, 'serve.db');
  const orrery = await openOrrery({ db: `sqlite:${path}` });
  await orrery.createTaskType({ name: 'noop', maxQueueLength: null });
  await orrery.createTasks(tasksOf(RUNS));
  const start = performance.now();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'orrery.js'), 'serve', '--db', `sqlite:${path}`, '--handlers', join(ROOT, 'test', 'fixtures', 'handlers.ts'), '--port', '0', '--types', 'noop', '--log-format', 'json'], {
    stdio: 'ignore',
    env: { ...process.env, ORRERY_LOG_LEVEL: 'warn' },
  });
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  while (!(await allDone(orrery))) {
    if (exited !== undefined) throw new Error(`orrery serve exited early with code ${exited}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const ms = performance.now() - start;
  child.kill('SIGTERM');
  if (exited === undefined) await new Promise((r) => child.on('exit', r));
  await orrery.close();
  return ms;
}

/** No task waits or runs any more (cheap: two index probes). */
async function allDone(orrery: Orrery): Promise<boolean> {
  const waiting = await orrery.searchTasks({ status: 'next_run_not_scheduled', limit: 1 });
  return waiting.length === 0 && (await orrery.searchTasks({ status: 'next_run_scheduled', limit: 1 })).length === 0;
}

const results: Record<string, number[]> = {};
const add = (k: string, v: number) => (results[k] ??= []).push(v);
for (let round = 1; round <= ROUNDS; round++) {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-bench-'));
  try {
    const base = bareInsert(join(dir, 'bare.db'), TASKS);
    const create = await createBatch(dir);
    add('create', create);
    add('create ratio', create / base);
    const bareCycle = bareClaimComplete(join(dir, 'bare-cycle.db'), RUNS);
    for (const c of [10, 50]) {
      const ms = await executeInProcess(dir, c);
      add(`exec c${c}`, ms);
      add(`exec c${c} rate`, (RUNS / ms) * 1000);
      add(`exec c${c} ratio`, bareCycle / ms);
    }
    add('bare cycle', bareCycle);
    add('serve', await executeServe(dir));
    process.stderr.write(`round ${round}/${ROUNDS} done\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const line = (label: string, key: string, unit: (v: number) => string) => {
  const s = summary(results[key]!);
  console.log(`| ${label} | ${unit(s.median)} | ${unit(s.min)} .. ${unit(s.max)} |`);
};
const perSecond = (v: number) => `${Math.round(v).toLocaleString('en')}/s`;
const x = (v: number) => `${v.toFixed(2)}x`;
console.log(`\nOrrery on SQLite, ${ROUNDS} rounds, node ${process.version}\n`);
console.log('| measure | median | min .. max |\n|---|---|---|');
line(`create ${TASKS.toLocaleString('en')} tasks in one batch`, 'create', fmt);
line('  ... time vs bare SQL insert of the same rows', 'create ratio', x);
line(`execute ${RUNS.toLocaleString('en')} no-op one-shot tasks in-process, concurrency 10`, 'exec c10', fmt);
line('  ... throughput', 'exec c10 rate', perSecond);
line('  ... as a fraction of bare SQL claim+complete', 'exec c10 ratio', x);
line(`execute ${RUNS.toLocaleString('en')} no-op tasks in-process, concurrency 50`, 'exec c50', fmt);
line('  ... throughput', 'exec c50 rate', perSecond);
line('  ... as a fraction of bare SQL claim+complete', 'exec c50 ratio', x);
line(`bare SQL claim 10 + complete each, ${RUNS.toLocaleString('en')} runs`, 'bare cycle', fmt);
line(`\`orrery serve\` process executes ${RUNS.toLocaleString('en')} waiting no-op tasks (incl. start-up)`, 'serve', fmt);
