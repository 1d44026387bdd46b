import { Command, InvalidArgumentError, Option } from 'commander';
import { readFile, stat } from 'node:fs/promises';
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { formatDuration } from '../core/durations.js';
import { ValidationError } from '../core/errors.js';
import type { Scenario } from '../simulate/scenario.js';
import type { SimulationProgress, SimulationResult } from '../simulate/simulate.js';
import { sqlitePath } from '../store/open-store.js';
import { redactUrl } from '../store/redact-url.js';
import { nonEmptyArg, nonNegativeIntArg, UsageError, type Io } from './common.js';

/** A scenario's seed: 0 to 4294967295, as in the file (docs/simulate.md#the-scenario). */
const seedArg = (v: string): number => {
  const n = nonNegativeIntArg(v);
  if (n > 2 ** 32 - 1) throw new InvalidArgumentError('at most 4294967295');
  return n;
};

interface SimulateFlags {
  out?: string;
  seed?: number;
  duration?: string;
  compare?: string;
  db?: string;
}

/** `orrery simulate SCENARIO.json`: the real engine on a virtual clock (docs/simulate.md). */
export function simulateCommand(io: Io): Command {
  return new Command('simulate')
    .description('forecast queues, lag and utilization of a workload with the real engine on a virtual clock (docs/simulate.md)')
    .argument('<scenario>', 'scenario file (JSON)')
    .option('--out <dir>', 'directory for summary.json, series.csv and report.html (default ./NAME-simulation, NAME the scenario file name)', nonEmptyArg)
    .option('--seed <n>', "random seed from 0 to 4294967295 (overrides the scenario's)", seedArg)
    .option('--duration <d>', "simulated duration (overrides the scenario's), e.g. 30d")
    .option('--compare <other>', 'a second scenario, run with the same --seed and --duration, drawn dashed on the same charts', nonEmptyArg)
    .addOption(new Option('--db <url>', "store URL for the simulation (overrides the scenario's store; default sqlite::memory:)"))
    .action(async (file: string, o: SimulateFlags) => {
      const overrides = { ...(o.seed !== undefined ? { seed: o.seed } : {}), ...(o.duration !== undefined ? { duration: o.duration } : {}) };
      const first = await loadScenario(file, overrides, o.db);
      const second = o.compare !== undefined ? await loadScenario(o.compare, overrides, o.db) : null;
      if (second) await sharedStore(first, second, o.db !== undefined);
      // Each store is looked at before anything runs or --out is made (the second's was found to hold
      // data only once the first simulation had run and written its own).
      await emptyStore(file, first);
      if (second) await emptyStore(o.compare!, second);
      const dir = resolve(o.out ?? `${basename(file).replace(/\.json$/i, '')}-simulation`);
      await outputDirectory(dir);
      const result = await runWithProgress(io, first);
      const other = second ? await runWithProgress(io, second) : undefined;
      const { writeSimulation } = await import('../simulate/outputs.js');
      const written = await writeSimulation(dir, result, other);
      for (const r of other ? [result, other] : [result]) io.out(line(r));
      io.out(`wrote ${written.join(', ')}\n`);
    });
}

/** Reads and validates a scenario file: a missing file, bad JSON or an invalid field is an input error (exit 2). */
async function loadScenario(file: string, overrides: { seed?: number; duration?: string }, db: string | undefined): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read scenario ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`scenario ${file} is not valid JSON: ${(e as Error).message}`);
  }
  // Loaded here, not at the CLI's start: the scenario parser loads zod, which other commands need not.
  const { overrideScenario, parseScenario, scenarioOnStore } = await import('../simulate/scenario.js');
  try {
    const s = overrideScenario(parseScenario(json), overrides);
    return db !== undefined ? scenarioOnStore(s, db) : s;
  } catch (e) {
    // Every problem on the line, after the file's name (main prints only the details of an error with several).
    if (e instanceof ValidationError) throw new UsageError(`${file}: ${e.details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ')}`);
    throw e;
  }
}

/**
 * Each simulation needs an empty store (docs/simulate.md#the-scenario): two that would write to the
 * same one (`--db` given with `--compare`, or both files naming it) are refused before anything runs,
 * as the second would find the first one's tasks. `sqlite::memory:` is a new database each time.
 */
async function sharedStore(first: Scenario, second: Scenario, fromDb: boolean): Promise<void> {
  if (first.store === 'sqlite::memory:') return;
  // Two PostgreSQL URLs are asked of the server (localhost and 127.0.0.1 reach one database); the URLs
  // alone decide when either cannot be reached (the store's own check then says why).
  const asked = sqlitePath(first.store) === null && sqlitePath(second.store) === null ? await samePostgresStore(first.store, second.store) : null;
  if (asked === false || (asked === null && sameStoreKey(first.store) !== sameStoreKey(second.store))) return;
  const { store } = first;
  if (fromDb) throw new UsageError(`--db: --compare runs two simulations and each needs an empty store; give --db only without --compare, or leave it out and give each scenario its own store (or sqlite::memory:)`);
  throw new UsageError(`store: both scenarios write to ${redactUrl(store)}, and each simulation needs an empty store; give the --compare scenario another store (or sqlite::memory:)`);
}

/** A scenario's store that already holds data is refused naming its file (exit 2), before anything runs. */
async function emptyStore(file: string, s: Scenario): Promise<void> {
  const { checkSimulationStore } = await import('../simulate/simulate.js');
  try {
    await checkSimulationStore(s.store);
  } catch (e) {
    // A store holding data is the scenario's to mend (named by its file); a URL that cannot be opened says so as before.
    if (e instanceof ValidationError && e.details.some((d) => d.path === 'store')) throw new UsageError(`${file}: ${e.message}`);
    throw e;
  }
}

/** Makes the output directory before anything runs: a path that is a file, or one that cannot be made, is an input error (exit 2). */
async function outputDirectory(dir: string): Promise<void> {
  const existing = await stat(dir).catch(() => null);
  if (existing && !existing.isDirectory()) throw new UsageError(`--out ${dir}: not a directory`);
  const { makeDirectories, outputsInTheWay } = await import('../simulate/outputs.js');
  try {
    await makeDirectories(dir);
  } catch (e) {
    throw new UsageError(`--out ${dir}: cannot create the directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // Found now, not once the simulation has run (it ended in a raw EISDIR, exit 1).
  const problem = await outputsInTheWay(dir);
  if (problem !== null) throw new UsageError(`--out ${dir}: ${problem}`);
}

async function runWithProgress(io: Io, s: Scenario): Promise<SimulationResult> {
  const { runSimulation } = await import('../simulate/simulate.js');
  if (!io.errIsTty) return runSimulation(s);
  let drawn = 0;
  const draw = (p: SimulationProgress, done = false) => {
    const now = performance.now();
    if (!done && now - drawn < 100) return;
    drawn = now;
    const frac = Math.min(1, (p.at.getTime() - p.from.getTime()) / (p.to.getTime() - p.from.getTime()));
    const bar = '#'.repeat(Math.round(frac * 30)).padEnd(30, '.');
    const rate = p.wallMs > 0 ? Math.round((p.runs / p.wallMs) * 1000) : 0;
    io.err(`\r${s.name} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${p.at.toISOString().slice(0, 16)}Z  ${p.runs} runs  ${rate} runs/s${done ? '\n' : ''}`);
  };
  let last: SimulationProgress | null = null;
  const result = await runSimulation(s, {
    onProgress: (p) => {
      last = p;
      draw(p);
    },
  });
  if (last) draw({ ...(last as SimulationProgress), at: new Date(result.summary.simulated.to), runs: result.summary.runs.total }, true);
  return result;
}

function line(r: SimulationResult): string {
  const s = r.summary;
  const lags = Object.entries(s.byType)
    .map(([t, x]) => `${t} lag p95 ${x.lagMs.p95 < 1000 ? `${Math.round(x.lagMs.p95)}ms` : formatDuration(Math.round(x.lagMs.p95 / 1000) * 1000)}`)
    .join(', ');
  return `${s.scenario}: ${s.runs.total} runs over ${s.simulated.from} .. ${s.simulated.to} (utilization ${(s.workers.utilization * 100).toFixed(1)}%; ${lags}) in ${s.wallMs < 1000 ? `${s.wallMs}ms` : formatDuration(Math.round(s.wallMs / 1000) * 1000)} wall, ${s.runsPerWallSecond} runs/s\n`;
}

/**
 * What tells two store URLs apart: a SQLite file by its absolute path, however it is spelled
 * (`sqlite:X`, a bare `X`, `sqlite:///abs/X`, `./X`); any other URL as it is written.
 */
function sameStoreKey(url: string): string {
  const path = sqlitePath(url);
  if (path === null) return postgresKey(url);
  if (path === '' || path === ':memory:') return url;
  // One file however it is spelled: through a symlink (of the file or of a directory on its way) too.
  return `sqlite:${realFile(resolve(path))}`;
}

/**
 * The file `full` names, through symlinks of it and of the directories on its way, also when it is not
 * made yet: a symlink to a file not there yet (a fresh store's usual state) is followed by hand.
 */
function realFile(full: string, hops = 0): string {
  try {
    return realpathSync(full);
  } catch {
    let dir = dirname(full);
    try {
      dir = realpathSync(dir);
    } catch {
      return full; // neither exists: compared as written
    }
    const inDir = join(dir, basename(full));
    try {
      if (hops < 40 && lstatSync(inDir).isSymbolicLink()) return realFile(resolve(dir, readlinkSync(inDir)), hops + 1);
    } catch {
      // not there: a file not made yet
    }
    return inDir;
  }
}

/**
 * Whether two PostgreSQL URLs reach one store (one database, one schema), asked of the server: the first
 * connection is named by a token the second looks for among the database's sessions. Null when either
 * cannot be reached.
 */
async function samePostgresStore(a: string, b: string): Promise<boolean | null> {
  const { default: pg } = await import('pg');
  const token = `orrery-compare-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const first = new pg.Client({ connectionString: a, application_name: token, connectionTimeoutMillis: 10_000 });
  const second = new pg.Client({ connectionString: b, connectionTimeoutMillis: 10_000 });
  first.on('error', () => {});
  second.on('error', () => {});
  try {
    await first.connect();
    await second.connect();
    const seen = await second.query<{ n: number; schema: string | null }>(
      'SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()) AS n, current_schema() AS schema',
      [token],
    );
    if (seen.rows[0]!.n === 0) return false;
    const mine = await first.query<{ schema: string | null }>('SELECT current_schema() AS schema');
    return mine.rows[0]!.schema === seen.rows[0]!.schema;
  } catch {
    return null;
  } finally {
    await Promise.allSettled([first.end(), second.end()]);
  }
}

/**
 * One PostgreSQL database however its URL is spelled: `postgres:` or `postgresql:`, any user or
 * password, the host in any case, the default port left out or given (it was taken for another store,
 * found holding the first simulation's rows once that had run). A URL that does not parse is compared as written.
 */
function postgresKey(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return url;
    const host = u.searchParams.get('host') ?? u.hostname.toLowerCase();
    return `postgres://${host}:${u.port || '5432'}/${decodeURIComponent(u.pathname.replace(/^\//, ''))}`;
  } catch {
    return url;
  }
}
