import { InvalidArgumentError, Option, type Command } from 'commander';
import { formatDuration, parseDuration } from '../core/durations.js';
import { firstInexactInteger, inexactIntegerMessage } from '../core/exact-json.js';
import { OrreryError } from '../core/errors.js';
import { parseInstant } from '../core/instants.js';
import { parseRateLimit } from '../core/limits.js';
import { INT4_MAX } from '../core/storable.js';
import { apiTokenProblem, serverUrlProblem } from '../http/connection-checks.js';
import { MAX_TIMER_MS } from '../core/options.js';
import { workerIdProblem } from '../core/worker-registry.js';
import { openOrrery, type Orrery } from '../engine/service.js';
import { redactCredentials, webhookUrlProblem } from '../engine/dag-notifier.js';
import { DEFAULT_DB_URL, sqlitePath } from '../store/open-store.js';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { displayWidth, oneLine, padColumns, truncateColumns } from '../core/terminal-text.js';

/** Where output goes; tests pass buffers, the binary passes the process streams. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when `err` writes to a terminal (progress is then redrawn in place). */
  errIsTty?: boolean;
}

export interface DbOpts {
  db?: string;
}

export function addDb(cmd: Command): Command {
  return cmd.addOption(new Option('--db <url>', 'database URL (sqlite:PATH, sqlite::memory:, postgres://user:pass@host:port/db); default $ORRERY_DB or sqlite:./orrery.db'));
}

/**
 * Whether the running command may create a SQLite database file that does not exist yet. Only
 * commands that put something in it do (main.ts: CREATING_COMMANDS). Any other command on a missing
 * file answers as an empty database would, creates nothing, and says so on stderr: a mistyped --db
 * or a wrong working directory leaves no stray file and is named.
 */
let mayCreateDatabase = true;
let noteMissing: (text: string) => void = () => {};
export function setDatabaseCreation(allowed: boolean, note: (text: string) => void = () => {}): void {
  mayCreateDatabase = allowed;
  noteMissing = note;
}

/** The empty in-memory databases that answer for a missing file (open): a command writes no file of its own for them. */
const standIns = new WeakSet<Orrery>();
export function isStandIn(o: Orrery): boolean {
  return standIns.has(o);
}

export async function open(opts: DbOpts): Promise<Orrery> {
  if (!mayCreateDatabase) {
    const url = opts.db ?? (process.env.ORRERY_DB || DEFAULT_DB_URL);
    const path = sqlitePath(url);
    // A blank path is no file: openOrrery refuses it as it refuses a blank URL (exit 2). A path in a
    // directory that does not exist cannot be opened (openOrrery says so, exit 1), as for a write.
    if (path !== null && path.trim() !== '' && path !== ':memory:' && !existsSync(path) && existsSync(dirname(resolve(path)))) {
      const from = opts.db !== undefined ? '--db' : process.env.ORRERY_DB ? '$ORRERY_DB' : 'the default --db';
      noteMissing(`no database at ${oneLine(path)} (${from}): answered as an empty database, nothing created`);
      const standIn = await openOrrery({ db: 'sqlite::memory:' });
      standIns.add(standIn);
      return standIn;
    }
  }
  // A bad URL from the environment is named $ORRERY_DB by openOrrery, not as a --db never given.
  return openOrrery(opts.db !== undefined ? { db: opts.db } : {});
}

/** Opens Orrery, runs `fn`, always closes. */
export async function withOrrery<T>(opts: DbOpts, fn: (o: Orrery) => Promise<T>): Promise<T> {
  const o = await open(opts);
  try {
    return await fn(o);
  } finally {
    await o.close();
  }
}

// --- option parsers: each throws InvalidArgumentError, which commander reports as exit 2 ---------

function wrap<T>(fn: (v: string) => T): (v: string) => T {
  return (v: string) => {
    try {
      return fn(v);
    } catch (e) {
      throw new InvalidArgumentError(e instanceof OrreryError ? (e.details[0]?.message ?? e.message) : (e as Error).message);
    }
  };
}

export const durationArg = wrap((v) => parseDuration(v, ''));

/** A wait a timer measures (`--grace`, `--runner-grace`): at most 2147483647ms (about 24.8 days; a longer timer fires at once). */
export const timerArg = (v: string): number => {
  const ms = durationArg(v);
  if (ms > MAX_TIMER_MS) throw new InvalidArgumentError(`at most ${MAX_TIMER_MS}ms (about 24.8 days)`);
  return ms;
};

/** A sleep or poll interval: at least 10 ms, so a loop can never spin without sleeping, and at most what a timer takes. */
export const intervalArg = (v: string): number => {
  const ms = timerArg(v);
  if (ms < 10) throw new InvalidArgumentError('must be at least 10ms');
  return ms;
};
export const instantArg = wrap((v) => parseInstant(v, ''));
/** `100/1m`: COUNT/DURATION (docs/limits.md). */
export const rateLimitArg = wrap((v) => parseRateLimit(v, ''));

export const nonNegativeIntArg = (v: string): number => {
  if (!/^\d+$/.test(v.trim())) throw new InvalidArgumentError(`"${v}" is not a non-negative integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`"${v}" is too large`);
  return n;
};

export const positiveIntArg = (v: string): number => {
  const n = nonNegativeIntArg(v);
  if (n === 0) throw new InvalidArgumentError('must be at least 1');
  return n;
};

/** An integer from `min` to `max` (`--concurrency`, `--prefetch`, `--max-memory`, `--port`). */
export const boundedIntArg = (min: number, max: number) => (v: string): number => {
  const n = nonNegativeIntArg(v);
  if (n < min) throw new InvalidArgumentError(`must be at least ${min}`);
  if (n > max) throw new InvalidArgumentError(`at most ${max}`);
  return n;
};

/** `--host`: an address or host name to listen on; an IPv6 address may be written in brackets (`[::1]`, as in a URL). */
export const hostArg = (v: string): string => {
  const h = v.trim().replace(/^\[(.*)\]$/, '$1');
  if (h === '' || /[\s/[\]]/.test(h)) throw new InvalidArgumentError('not an address or host name');
  return h;
};

/** `--url`: a server's address (http(s), no query, no fragment). */
export const serverUrlArg = (v: string): string => {
  const problem = serverUrlProblem(v);
  if (problem) throw new InvalidArgumentError(problem);
  return v;
};

/** `--notify-webhook`: an http(s) URL to POST alerts to (the notifiers' own rule). */
export const webhookUrlArg = (v: string): string => {
  const problem = webhookUrlProblem(v);
  // Commander's refusal quotes the argument: a URL with a password is named with it hidden instead.
  const u = problem && URL.canParse(v) ? new URL(v) : null;
  if (u && (u.username !== '' || u.password !== '')) throw new UsageError(`--notify-webhook ${redactCredentials(u)}: ${problem}${problem!.startsWith('must not hold') ? ': the CLI sends no headers; give the receiver a token in the URL (its path or query), or post through the library\'s notifiers with headers' : ''}`);
  if (problem) throw new InvalidArgumentError(problem);
  return v;
};

/** A count stored in a 4-byte integer column (numRetries, maxRunning...): 0 to 2147483647. */
export const countArg = boundedIntArg(0, INT4_MAX);

/** countArg from 1. */
export const positiveCountArg = boundedIntArg(1, INT4_MAX);

/** A decimal number as text (Number() would also read "0x10" as 16 and "0b11" as 3). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export const numberArg = (v: string): number => {
  const n = Number(v);
  if (!DECIMAL.test(v.trim()) || !Number.isFinite(n)) throw new InvalidArgumentError(`"${v}" is not a number`);
  return n;
};

/**
 * A limit that also accepts `none` / `unbounded`, parsed as Infinity: commander replaces a parser's
 * `null` with `""`, so callers map Infinity to null themselves.
 */
export const limitOrNoneArg = (v: string): number => (/^(none|unbounded|null)$/i.test(v.trim()) ? Infinity : countArg(v));

/**
 * Fair shares between keys (docs/limits.md#fair-shares): `on` (every key weighs 1), `KEY=N,KEY=N` or a
 * JSON object of weights; `none` (turned off) is handled with the other nullable options. The weights'
 * values are checked by the service (a ValidationError naming `fairShare.weights.KEY`).
 */
export const fairShareArg = (v: string): { weights: Record<string, unknown> } | true => {
  const t = v.trim();
  if (/^(on|true|yes)$/i.test(t)) return true;
  if (t.startsWith('{')) {
    // Not held to exactJson: a weight past 2^53 is refused by the service anyway (`at most …`), not stored rounded.
    const weights = asObject(parseJson(t));
    // JSON.parse keeps "__proto__" as a key, which the weights' record would drop without a word.
    if (Object.hasOwn(weights, '__proto__')) throw new InvalidArgumentError('the key "__proto__" is not accepted');
    return { weights };
  }
  const weights: Record<string, unknown> = {};
  for (const part of t.split(',')) {
    // Split at the first '=': "a=3 b=2" (a missing comma) is a bad weight for a, not a key "a=3 b" (keys with '=' take the JSON form).
    const m = /^([^=]+)=(.*)$/.exec(part.trim());
    if (!m || m[1]!.trim() === '') throw new InvalidArgumentError(`"${part}" is not KEY=WEIGHT; expected on, none, KEY=N,KEY=N or a JSON object of weights`);
    const key = m[1]!.trim();
    if (Object.hasOwn(weights, key)) throw new InvalidArgumentError(`key "${key}" given twice`);
    // A number stays a number (the service says what is wrong with 1.5 or 0); anything else is left as text for it to refuse.
    const w = m[2]!.trim();
    weights[key] = DECIMAL.test(w) ? Number(w) : w;
  }
  return { weights };
};

/**
 * An API bearer token (`--token`): not empty (`--token "$UNSET"` would otherwise serve the API without
 * one, or send none), and printable ASCII without spaces, the only text an `Authorization` header carries intact.
 */
export const tokenArg = (v: string): string => {
  const problem = apiTokenProblem(v);
  if (problem) throw new InvalidArgumentError(v === '' ? 'must not be empty (leave --token out for no token)' : problem);
  return v;
};

/**
 * `--token`'s default, `$ORRERY_API_TOKEN`, held to the same rule as the option (unset: no token); an
 * empty or malformed one is a usage error naming the variable (an empty one is usually a secret that
 * failed to expand, which must not mean "serve without a token").
 */
export function envToken(): string | null {
  const v = process.env.ORRERY_API_TOKEN;
  if (v === undefined) return null;
  if (v === '') throw new UsageError('ORRERY_API_TOKEN: is set but empty: give a token, or unset the variable to give none');
  try {
    return tokenArg(v);
  } catch (e) {
    throw new UsageError(`ORRERY_API_TOKEN: ${(e as Error).message}`);
  }
}

/** Any text but the empty string (an empty value would silently mean "not given"). */
export const nonEmptyArg = (v: string): string => {
  if (v === '') throw new InvalidArgumentError('must not be empty');
  return v;
};

/** A worker id (`--id`): what the registry and the jobboard accept (core/worker-registry.ts). */
export const workerIdArg = (v: string): string => {
  const problem = workerIdProblem(v);
  if (problem) throw new InvalidArgumentError(problem);
  return v;
};

/** Parsed JSON text, or the option's error. */
function parseJson(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch (e) {
    throw new InvalidArgumentError(`invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Parsed JSON data that holds what was typed: an integer written beyond ±(2^53−1) anywhere in it would
 * be kept rounded (core/exact-json.ts), so it is refused, saying how to pass it as text.
 */
export function exactJson(v: string): unknown {
  const value = parseJson(v);
  const problem = inexactJsonProblem(v);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

/**
 * Why valid JSON text would not be kept as typed (an integer past ±(2^53−1), core/exact-json.ts), with
 * how to pass it as text; null when it would. `asText` writes the token that passes a whole value as
 * a string (`k="…"` for a task's kwarg).
 */
export function inexactJsonProblem(text: string, asText = (quoted: string) => quoted): string | null {
  const inexact = firstInexactInteger(text);
  if (!inexact) return null;
  const how = inexact.path === '' ? `quote it as a JSON string: '${asText(JSON.stringify(inexact.written))}'` : 'write that number in quotes, as a JSON string';
  return `${inexactIntegerMessage(inexact)}; to pass it as text, ${how}`;
}

function asObject(parsed: unknown): Record<string, unknown> {
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError('must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** A JSON object of data (`--metadata`, `--params`, `--extra`): held as typed, or refused (exactJson). */
export const jsonObjectArg = (v: string): Record<string, unknown> => asObject(exactJson(v));

/** Any JSON value (`--result`), boxed: commander replaces a parser's `null` with `""`, so `null` cannot be returned bare. */
export const jsonArg = (v: string): { value: unknown } => ({ value: exactJson(v) });

export function choiceOption(flags: string, description: string, choices: readonly string[]): Option {
  return new Option(flags, description).choices(choices);
}

/** A task id argument (or, with `noun`, another id: `backfill id`): a positive integer. */
export function parseId(v: string, what = 'ID', noun = 'task id'): number {
  if (!/^\d+$/.test(v) || Number(v) === 0 || !Number.isSafeInteger(Number(v))) throw new UsageError(`${what}: "${v}" is not a ${noun}`);
  return Number(v);
}

/** Invalid command-line input found after parsing: exit 2. */
export class UsageError extends Error {}

/**
 * A listing filtered by task type names types that exist (docs/cli.md: an unknown type is exit 2):
 * a typo would otherwise print an empty listing, exit 0.
 */
export async function requireTypes(orrery: Orrery, option: string, names: readonly string[]): Promise<void> {
  const known = new Set((await orrery.listTaskTypes(names)).map((t) => t.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) throw new UsageError(`${option}: unknown task type${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')}`);
}

// --- output -------------------------------------------------------------------------------------

export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2) + '\n');
}

export function iso(d: Date | null | undefined): string {
  return d ? d.toISOString() : '-';
}

export function dur(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : formatDuration(ms);
}

/**
 * A plain aligned table, one line a row: a cell's line breaks, tabs and control characters are shown
 * as escapes (terminal-text.ts), and columns are measured in terminal columns (wide characters 2).
 */
export function table(io: Io, headers: string[], rows: string[][]): void {
  const cells = rows.map((r) => r.map((c) => oneLine(c ?? '')));
  // A loop, not Math.max(...rows): spreading 100,000+ rows into one call overflows the stack.
  const widths = headers.map((h) => displayWidth(h));
  for (const r of cells) for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, displayWidth(r[i] ?? ''));
  const line = (cs: string[]) => cs.map((c, i) => (i === cs.length - 1 ? c : padColumns(c, widths[i]!))).join('  ').trimEnd();
  io.out(line(headers) + '\n');
  for (const r of cells) io.out(line(r) + '\n');
}

/** `s` cut to `n` terminal columns with `…`, never inside a character. */
export function truncate(s: string, n: number): string {
  // Escaped first (a newline is `\n`, two columns), so the cell is at most n columns as shown.
  return truncateColumns(oneLine(s), n);
}

const typeNames = (v: string): string[] => v.split(',').map((t) => t.trim()).filter(Boolean);

/**
 * Whether a comma-separated list leaves a name out (`a,,b`, or a stray comma at either end): it would
 * be read as `a,b` without a word (`--types`, `--visit-types`).
 */
export const hasEmptyName = (v: string): boolean => v.split(',').some((t) => t.trim() === '');

/** `--types`, checked as it is parsed (before a handlers file loads): a value naming no type (`''`, `,`) is a usage error. */
export const typesArg = (v: string): string => {
  if (typeNames(v).length === 0) throw new InvalidArgumentError(`"${v}" names no task type (give comma-separated names)`);
  if (hasEmptyName(v)) throw new InvalidArgumentError(`"${v}" has an empty name between its commas (give comma-separated names, none empty)`);
  const names = typeNames(v);
  const twice = names.find((t, i) => names.indexOf(t) !== i);
  if (twice !== undefined) throw new InvalidArgumentError(`"${twice}" is named twice (give each task type once)`);
  return v;
};

/** `--types a,b` (checked by typesArg): the names, or undefined without the option (every type with a handler). */
export function typesOption(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : typeNames(value);
}
