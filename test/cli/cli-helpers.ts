/**
 * Helpers for the CLI integration tests: they drive the BUILT CLI (`dist/cli/main.js`, what
 * `bin/orrery.js` runs). Build first: `node scripts/build.mjs` (`npm test` does it through `pretest`).
 *
 * A command that ends by itself runs in this process: the built `main(argv, io)` with this call's
 * environment and working directory, its output captured (also anything written straight to
 * process.stdout or process.stderr meanwhile). That is what the binary does, less about 0.7 s of
 * CPU to start Node and load the CLI, hundreds of times over. Calls are serialized. In a child
 * process (`node bin/orrery.js ...`, exactly as a user runs it) go: the daemons (`runner`, `worker`,
 * `serve`, `visit-scheduler` without --once), `--follow`, `--handlers` (loaded through tsx),
 * stdin (`-`), another command (`command`), and any call with `spawn: true` (the tests of the
 * binary itself: help, version, npx). ORRERY_TEST_CLI=spawn runs every call in a child process.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { main as Main } from '../../src/cli/main.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'orrery.js');

if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) {
  throw new Error('dist/ is missing: run `node scripts/build.mjs` (or `npm test`, which builds first) before the CLI tests');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Extra environment variables; `undefined` removes a variable. ORRERY_DB is removed unless given. */
  env?: Record<string, string | undefined>;
  /** Working directory; defaults to a scratch directory so a forgotten --db never writes into the checkout. */
  cwd?: string;
  /** Run this command instead of `node bin/orrery.js` (e.g. `npx`); `args` follow it. */
  command?: string;
  /** Run the binary in a child process even where the call could run in this one. */
  spawn?: boolean;
}

let scratch: string | undefined;
const dirs: string[] = [];

/** A fresh temporary directory, removed by `removeTempDirs()`. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'orrery-cli-'));
  dirs.push(d);
  return d;
}

export interface TempDb {
  dir: string;
  path: string;
  /** `sqlite:/tmp/.../x.db`, for `--db`. */
  url: string;
  /** `['--db', url]`, to append to a command line. */
  db: string[];
}

/** A database file path in a fresh temporary directory (the file does not exist yet). */
export function tempDb(name = 'x.db'): TempDb {
  const dir = tempDir();
  const path = join(dir, name);
  const url = `sqlite:${path}`;
  return { dir, path, url, db: ['--db', url] };
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  scratch = undefined;
}

/** Commands that run until a signal: always in a child process. */
const DAEMONS = new Set(['runner', 'worker', 'serve']);

/** Whether `orrery ARGS` must run in a child process (see the top of the file). */
function needsProcess(args: readonly string[], opts: RunOptions): boolean {
  if (opts.spawn || opts.command || process.env.ORRERY_TEST_CLI === 'spawn') return true;
  const first = (args[0] === '--db' ? args.slice(2) : args).find((a) => !a.startsWith('-'));
  if (first !== undefined && DAEMONS.has(first)) return true;
  if (first === 'visit-scheduler' && !args.includes('--once')) return true;
  return args.some((a) => a === '-' || a === '--follow' || a === '-f' || a === '--handlers' || a.startsWith('--handlers='));
}

/** Runs `orrery ARGS...` (the built CLI) and resolves with its exit code and output; never rejects on a non-zero exit. */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'ORRERY_DB' && k !== 'ORRERY_DEBUG') env[k] = v;
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const cwd = opts.cwd ?? (scratch ??= tempDir());
  if (!needsProcess(args, opts)) {
    const call = inProcess.then(() => runInProcess(args, env, cwd));
    inProcess = call.catch(() => {});
    return call;
  }
  const [cmd, argv] = opts.command ? [opts.command, [...args]] : [process.execPath, [BIN, ...args]];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The previous in-process call: the next one waits for it (they share process.env, the cwd and the streams). */
let inProcess: Promise<unknown> = Promise.resolve();
let mainOf: Promise<typeof Main> | undefined;

/** Runs the built `main` here with `env` as process.env and `cwd` as the working directory, as bin/orrery.js would. */
async function runInProcess(args: readonly string[], env: Record<string, string>, cwd: string): Promise<CliResult> {
  // The built module (what bin/orrery.js imports), not src/: the same code the binary runs.
  const main = await (mainOf ??= import(pathToFileURL(join(ROOT, 'dist', 'cli', 'main.js')).href).then((m: { main: typeof Main }) => m.main));
  const savedEnv = { ...process.env };
  const savedCwd = process.cwd();
  const streams = [process.stdout, process.stderr] as const;
  const savedWrites = streams.map((s) => s.write);
  let stdout = '';
  let stderr = '';
  const capture = (to: 'out' | 'err') =>
    function write(chunk: string | Uint8Array, ...rest: unknown[]): boolean {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (to === 'out') stdout += text;
      else stderr += text;
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  Object.assign(process.env, env);
  process.chdir(cwd);
  process.stdout.write = capture('out') as typeof process.stdout.write;
  process.stderr.write = capture('err') as typeof process.stderr.write;
  try {
    const code = await main([...args], { out: (t) => void (stdout += t), err: (t) => void (stderr += t), errIsTty: false });
    return { code, stdout, stderr };
  } finally {
    streams.forEach((s, i) => (s.write = savedWrites[i]!));
    process.chdir(savedCwd);
    for (const k of Object.keys(process.env)) if (!(k in savedEnv)) delete process.env[k];
    Object.assign(process.env, savedEnv);
  }
}

/** Runs a command that must succeed (exit 0, nothing on stderr) and parses its whole stdout as one JSON document. */
export async function runJson<T = any>(args: readonly string[], opts: RunOptions = {}): Promise<T> {
  const r = await runCli(args, opts);
  if (r.code !== 0 || r.stderr !== '') {
    throw new Error(`orrery ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as T;
}

/** Runs a command that must succeed (exit 0, nothing on stderr) and returns its stdout. */
export async function runOk(args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await runCli(args, opts);
  if (r.code !== 0 || r.stderr !== '') {
    throw new Error(`orrery ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r.stdout;
}

/** The hint that ends the option parser's error lines; not part of the error message itself. */
export const HELP_HINT = ' (run with --help for usage)';

/** The lines of an error output, without the help hint that ends a parser error. */
export function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .map((l) => (l.endsWith(HELP_HINT) ? l.slice(0, -HELP_HINT.length) : l));
}

/**
 * Every row of every table of a SQLite file, read directly (read-only), to prove a failed command
 * wrote nothing. Schema-agnostic: it lists the tables from sqlite_master.
 */
export function dumpDb(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
    const out: Record<string, unknown[]> = {};
    for (const { name } of tables) out[name] = db.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}" ORDER BY rowid`).all();
    return out;
  } finally {
    db.close();
  }
}

/** ISO 8601 UTC with milliseconds, as SPEC §6.3 requires for every instant. */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const HOUR = 3_600_000;
export const DAY = 86_400_000;

/** `iso('2026-01-01T00:00:00Z', 12 * HOUR)`: the instant plus a duration, in the CLI's JSON form. */
export function iso(instant: string, plusMs = 0): string {
  return new Date(new Date(instant).getTime() + plusMs).toISOString();
}
