import { MAX_CONCURRENCY, MAX_PREFETCH } from '../core/claim-ahead.js';
import { fieldPath, invalid } from '../core/errors.js';
import { checkInteger, checkMethods, checkMs, checkNames } from '../core/options.js';
import { workerIdProblem } from '../core/worker-registry.js';
import type { Clock } from './clock.js';
import { checkNotifier } from './dag-notifier.js';
import { checkTaskNotifier } from './task-notifier.js';
import type { Logger } from './logger.js';

/** What Orrery calls on a logger (pino's do; a child is asked of it for each loop). */
export const LOGGER_METHODS = ['error', 'warn', 'info', 'debug', 'child', 'isLevelEnabled'] as const;
/** What Orrery calls on a clock. */
export const CLOCK_METHODS = ['now', 'setTimer', 'sleep'] as const;

/**
 * A logger given in options (left out: undefined), checked when the loop is built: one missing a
 * method was a TypeError long after start (an unhandled rejection, or each run's end taken for lost).
 */
export function checkLogger(v: unknown, name = 'logger'): Logger | undefined {
  if (v === undefined) return undefined;
  return checkMethods(v, name, LOGGER_METHODS) as Logger;
}

/** A logger's child for a loop (`logger.child({ loop })`), checked as the logger is. */
export function childLogger(logger: Logger, bindings: Record<string, unknown>, name = 'logger'): Logger {
  const child: unknown = logger.child(bindings);
  if (child === null || typeof child !== 'object') throw invalid(`${name}.child`, 'must return a logger');
  return checkMethods(child, `${name}.child()`, LOGGER_METHODS) as Logger;
}

/**
 * The Orrery a loop or server is built on (`startServer(orrery, options)`, `new Daemon(orrery, options)`):
 * given the options in its place, it was a TypeError about `assertWritable` or `clock`.
 */
export function checkOrrery(v: unknown): void {
  const o = v as { store?: unknown; claimRuns?: unknown } | null;
  if (o === null || typeof o !== 'object' || typeof o.claimRuns !== 'function' || o.store === null || typeof o.store !== 'object') {
    throw invalid('orrery', 'must be an Orrery (openOrrery({ db }) gives one), given before the options');
  }
}

/**
 * The jobboard a Worker runs against: an Orrery, or an OrreryClient for a remote one (`new Worker(null,
 * ...)` was a TypeError about its clock).
 */
export function checkBoard(v: unknown): void {
  const b = v as { claimRuns?: unknown; endRuns?: unknown; now?: unknown } | null;
  if (b === null || typeof b !== 'object' || typeof b.claimRuns !== 'function' || typeof b.endRuns !== 'function' || typeof b.now !== 'function') {
    throw invalid('orrery', 'must be an Orrery (openOrrery({ db }) gives one) or an OrreryClient, given before the options');
  }
}

/** A clock given in options (left out: undefined): an object with now(), setTimer() and sleep(). */
export function checkClock(v: unknown, name = 'clock'): Clock | undefined {
  if (v === undefined) return undefined;
  const clock = checkMethods(v, name, CLOCK_METHODS) as Clock;
  const now: unknown = clock.now();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw invalid(`${name}.now`, 'must return a valid Date');
  return clock;
}

/** A handlers object: every member a function (the handler of that backend name), checked when a worker is built rather than failing each run. */
export function checkHandlers(handlers: unknown, name = 'handlers'): void {
  if (handlers === null || typeof handlers !== 'object' || Array.isArray(handlers)) throw invalid(name, 'must be an object of handler functions, one per backend name');
  for (const [backend, h] of Object.entries(handlers)) {
    if (typeof h !== 'function') throw invalid(`${name}.${backend}`, 'must be a function (the handler of that backend)');
  }
}

/** The options of a worker that startServer, a Daemon and a Worker take alike (WorkerOptions, ServerWorkerOptions). */
export interface WorkerRunOptions {
  /** Task types to serve; default: every type whose backendName has a handler (re-read as types appear). */
  types?: readonly string[];
  /** Runs executed at once (default 10). */
  concurrency?: number;
  /**
   * Claim-ahead: most runs the worker holds in its buffer beyond its running handlers (default 500;
   * 0 claims only for free slots). The buffer adapts to the handlers' pace (docs/guarantees.md).
   */
  prefetch?: number;
  /** Longest idle sleep when nothing wakes the worker (work scheduled by other processes is found by polling). */
  pollMs?: number;
  /** On stop, how long running handlers may take before their runs are abandoned. */
  graceMs?: number;
  /** Worker id recorded on runs (default `host:pid:random`). */
  id?: string;
}

/**
 * A worker's options, each given one of the right kind, or a ValidationError naming it under
 * `prefix`: `concurrency` for a Worker's own options, `worker.concurrency` for the `worker` of
 * startServer and of a Daemon (checked before anything is built, with the name the caller gave).
 */
export function checkWorkerRunOptions(w: WorkerRunOptions, prefix = ''): void {
  const name = (field: string) => fieldPath(prefix, [field]);
  if (w.types !== undefined) checkNames(w.types, name('types'), true);
  if (w.concurrency !== undefined) checkInteger(w.concurrency, name('concurrency'), 1, MAX_CONCURRENCY);
  if (w.prefetch !== undefined) checkInteger(w.prefetch, name('prefetch'), 0, MAX_PREFETCH);
  // As the CLI's --poll: a shorter sleep would spin the claim loop (pollMs 0 kept a core busy while idle).
  if (w.pollMs !== undefined) checkMs(w.pollMs, name('pollMs'), 10);
  if (w.graceMs !== undefined) checkMs(w.graceMs, name('graceMs'));
  if (w.id !== undefined) {
    const problem = typeof w.id === 'string' ? workerIdProblem(w.id) : 'must be a string';
    if (problem) throw invalid(name('id'), problem);
  }
  // Anything but false was read as true ('no', 0 and null registered the worker).
  const registry = (w as { registry?: unknown }).registry;
  if (registry !== undefined && typeof registry !== 'boolean') throw invalid(name('registry'), 'must be a boolean');
}

/** The options of the loops one process runs, as startServer and a Daemon both take them (same names). */
export interface LoopsRunOptions {
  runner?: boolean;
  reaper?: boolean;
  maxSleepMs?: number;
  runnerGraceMs?: number;
  logger?: Logger;
  dagNotifier?: unknown;
  logDagRetries?: boolean;
  taskNotifier?: unknown;
}

/**
 * startServer's and a Daemon's options for their loops, each checked before any loop is built and
 * named as the caller gave it (`runnerGraceMs`, not the runner's own `graceMs`), whether or not the
 * loop it tunes is run.
 */
export function checkLoopsRunOptions(opts: LoopsRunOptions): void {
  checkLogger(opts.logger);
  for (const k of ['runner', 'reaper', 'logDagRetries'] as const) {
    if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw invalid(k, 'must be a boolean');
  }
  // As the CLI's --max-sleep: a shorter sleep would spin the loops.
  if (opts.maxSleepMs !== undefined) checkMs(opts.maxSleepMs, 'maxSleepMs', 10);
  if (opts.runnerGraceMs !== undefined) checkMs(opts.runnerGraceMs, 'runnerGraceMs');
  if (opts.taskNotifier !== undefined) checkTaskNotifier(opts.taskNotifier);
  if (opts.dagNotifier !== undefined) checkNotifier(opts.dagNotifier, 'dagNotifier');
}
