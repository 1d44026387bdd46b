/**
 * Helpers for the CLI integration tests: they drive the BUILT binary (`bin/orrery.js`, which imports
 * `dist/`) in a child process, exactly as a user would. Build first: `node scripts/build.mjs`
 * (`npm test` does it through `pretest`).
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** Runs `orrery ARGS...` (the built binary) and resolves with its exit code and output; never rejects on a non-zero exit. */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'ORRERY_DB' && k !== 'ORRERY_DEBUG') env[k] = v;
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const cwd = opts.cwd ?? (scratch ??= tempDir());
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

/** The hint commander appends after a usage error; not part of the error message itself. */
export const HELP_HINT = '(run with --help for usage)';

/** The lines of an error output, without the trailing help hint. */
export function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && l !== HELP_HINT);
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
