/**
 * npm run bench:simulate [-- SCENARIO.json] [--duration D] [--workers COUNTxCONCURRENCY] [--calls] [--out DIR]
 *
 * Times `runSimulation` on one scenario (default examples/simulations/month-100k.json, the benchmark
 * of docs/simulate.md: 100,000 recurring adaptive tasks over 30 simulated days with 48 worker
 * processes). Prints the runs of the window, wall time, CPU time (`cpuS`, and `windowCpuS` of the
 * simulated window alone), runs per wall second and the virtual clock's steps; `--duration` shortens
 * the window (`6h`, `2d`), `--workers 4x48` replaces the scenario's workers, `--calls` also counts
 * the store calls per run (SQLite and PostgreSQL stores alike: the calls that reach the store, after
 * the simulation's own short cuts), and `--out DIR` writes summary.json, series.csv and report.html
 * there (to compare two versions' forecasts). Run it with
 * `node --cpu-prof --import tsx bench/simulate.ts ...` for a profile.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirtualClock } from '../src/engine/virtual-clock.js';
import { overrideScenario, parseScenario } from '../src/simulate/scenario.js';
import { runSimulation } from '../src/simulate/simulate.js';
import { writeSimulation } from '../src/simulate/outputs.js';
import { countStoreCalls } from '../src/simulate/sim-store.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
};
const duration = flag('--duration');
const workers = flag('--workers');
const outDir = flag('--out');
const calls = args.includes('--calls');
if (calls) args.splice(args.indexOf('--calls'), 1);
const file = args[0] ?? join(import.meta.dirname, '..', 'examples', 'simulations', 'month-100k.json');

let s = overrideScenario(parseScenario(JSON.parse(readFileSync(file, 'utf8'))), duration !== undefined ? { duration } : {});
if (workers !== undefined) {
  const m = /^(\d+)x(\d+)$/.exec(workers);
  if (!m) throw new Error('--workers wants COUNTxCONCURRENCY, e.g. 48x4');
  s = { ...s, workers: [{ count: Number(m[1]), concurrency: Number(m[2]) }] };
}
const counts = calls ? countStoreCalls() : null;
let steps = 0;
/** CPU microseconds spent in the clock's runs (the simulated window, without the setup and the summary). */
let runCpu = 0;
const run = VirtualClock.prototype.run;
VirtualClock.prototype.run = async function (this: VirtualClock, ...a: Parameters<VirtualClock['run']>) {
  const c0 = process.cpuUsage();
  const r = await run.apply(this, a);
  const c = process.cpuUsage(c0);
  runCpu += c.user + c.system;
  steps = this.steps;
  return r;
};
const cpu0 = process.cpuUsage();
const result = await runSimulation(s, {
  onProgress: (p) => process.stderr.write(`\r${p.at.toISOString().slice(0, 16)}Z ${p.runs} runs ${Math.round(p.wallMs / 1000)} s   `),
});
const cpu = process.cpuUsage(cpu0);
const { summary } = result;
if (outDir !== undefined) await writeSimulation(outDir, result);
process.stderr.write('\n');
const total = summary.runs.total;
const out = {
  scenario: summary.scenario,
  simulated: summary.simulated,
  workers: `${summary.workers.processes} processes, ${summary.workers.slots} slots`,
  runs: total,
  wallS: Math.round(summary.wallMs / 100) / 10,
  cpuS: Math.round((cpu.user + cpu.system) / 100_000) / 10,
  windowCpuS: Math.round(runCpu / 100_000) / 10,
  windowCpuMsPerRun: total > 0 ? Math.round(runCpu / total) / 1000 : 0,
  runsPerWallSecond: summary.runsPerWallSecond,
  clockSteps: steps,
  stepsPerRun: total > 0 ? Math.round((steps / total) * 100) / 100 : 0,
  utilization: summary.workers.utilization,
  lagMs: Object.fromEntries(Object.entries(summary.byType).map(([t, b]) => [t, b.lagMs])),
  finalIntervalMs: Object.fromEntries(Object.entries(summary.byType).map(([t, b]) => [t, b.finalIntervalMs])),
};
console.log(JSON.stringify(out, null, 2));
if (counts) {
  console.log('store calls per run:');
  for (const [k, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${(n / Math.max(1, total)).toFixed(2).padStart(8)}  (${n})`);
}
