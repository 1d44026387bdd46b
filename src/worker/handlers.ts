import { inspect, types } from 'node:util';
import { durationMsProblem } from '../core/duration-limit.js';
import { ValidationError } from '../core/errors.js';
import { assertJson } from '../core/json-checks.js';
import { storableText, utf8Length } from '../core/storable.js';
import type { LogLevel, RunEndStatus, TaskRun } from '../core/model.js';
import type { TaskTypeInput } from '../core/validation.js';
import { DAG_BACKEND, dagTaskTypeOf } from '../core/dag.js';
import type { DagDefinition } from './dag-definition.js';
import { dagHandler } from './dag-handler.js';

export interface HandlerContext {
  /** The task's positional arguments. */
  args: unknown[];
  /** The task's keyword arguments. */
  kwargs: Record<string, unknown>;
  /** Fired on timeout, on a lost lease, on shutdown past the grace period. */
  signal: AbortSignal;
  /** Extends the lease now (the worker also does it every third of the lease). */
  heartbeat(): Promise<void>;
  /** Appends a record to the run's log. */
  /** `attributes`: an object is stored as its fields; any other value under `value` (docs/guide.md). */
  log(level: LogLevel, message: string, attributes?: unknown): void;
  /** The run being executed (its `attempt`, `backendId`, `scheduled`...). */
  run: TaskRun;
}

/**
 * What a handler returns: `{ eventful, result? }` (with `throttle: true` when it met pressure downstream,
 * docs/limits.md#adaptive-limits), a boolean (eventful or not), or nothing (uneventful).
 */
export type HandlerResult = { eventful: boolean; result?: unknown; throttle?: boolean } | boolean | null | undefined | void;
export type Handler = (ctx: HandlerContext) => Promise<HandlerResult> | HandlerResult;

/** What a handlers file exports: `handlers` (or a default export), optionally the task types they serve and a setup hook. */
export interface HandlersModule {
  /** One handler per backend name. */
  handlers: Record<string, Handler>;
  /** DAG workflows defined in the file (`export const dags = [dag(...)...]`); their tasks run under backend `orrery.dag`. */
  dags?: DagDefinition[];
  /** Task types created at start when no type of that name exists (an existing one is never updated). */
  taskTypes?: TaskTypeInput[];
  /** Called once by `orrery serve` (and `startServer`) after the loops start, with the `Orrery`; use it to create tasks. */
  /**
   * Called once with the running `Orrery` (import its type from 'orrery' to annotate it). Typed loosely
   * here because the worker layer does not depend on the engine; `unknown` made an unannotated
   * `setup: async (orrery) => orrery.createTask(…)` fail to compile.
   */
  setup?: (orrery: any) => unknown;
}

export interface Outcome {
  status: Extract<RunEndStatus, 'eventful' | 'uneventful' | 'failed' | 'permfailed'>;
  result?: unknown;
  error?: string;
  retryAfterMs?: number;
  /** The handler signalled pressure downstream: the run's type or key slows down (docs/limits.md#adaptive-limits). */
  throttle?: true;
}

/** Maps what a handler returned to the run's end. */
export function outcomeOfResult(value: unknown): Outcome {
  if (value === undefined || value === null) return { status: 'uneventful' };
  if (typeof value === 'boolean') return { status: value ? 'eventful' : 'uneventful' };
  if (typeof value === 'object' && typeof (value as { eventful?: unknown }).eventful === 'boolean') {
    const v = value as { eventful: boolean; result?: unknown; throttle?: unknown };
    // A throttle of 'yes' was read as false: the pressure it meant to signal was lost without a word.
    if (v.throttle !== undefined && typeof v.throttle !== 'boolean') return { status: 'failed', error: `handler returned a throttle of ${describe(v.throttle)}; it must be a boolean` };
    return { status: v.eventful ? 'eventful' : 'uneventful', ...(v.result !== undefined ? { result: v.result } : {}), ...(v.throttle === true ? { throttle: true as const } : {}) };
  }
  return { status: 'failed', error: `handler returned ${describe(value)}; expected { eventful: boolean, result? } or a boolean` };
}

/**
 * The most bytes of JSON (UTF-8) a handler's result may take (2 MiB): a run's end, result included,
 * must fit in one request of a remote worker (4 MB), and results are read back whole.
 */
export const MAX_RESULT_JSON = 2 * 1024 * 1024;
/** The most characters of a handler's error text kept (64 KiB); a longer one keeps its start and end. */
export const MAX_ERROR_TEXT = 64 * 1024;
/** The most bytes of JSON a log record's attributes keep (64 KiB); larger ones keep their first 8,192 characters. */
export const MAX_LOG_ATTRIBUTES = 64 * 1024;

/** `text` cut in its middle to at most `max` characters, saying how many were left out. */
export function elided(text: string, max: number): string {
  if (text.length <= max) return text;
  const tail = Math.floor(max / 4);
  const note = `\n… (${text.length - max + 64} characters left out) …\n`;
  return storableText(`${text.slice(0, max - tail - 64)}${note}${text.slice(-tail)}`);
}

/** Maps what a handler threw to the run's end: PermanentFailure, RetryAfter(ms), anything else fails. */
export function outcomeOfError(e: unknown): Outcome {
  // A thrown value that is not an Error is named by its text alone (an Error made here would carry
  // Orrery's own stack frames into the run's error). A value whose text cannot be read (a toString
  // that throws) throws here: outcomeOfSettled says it could not be read.
  const err = e instanceof Error ? e : Object.assign(new Error(String(e)), { stack: '' });
  // Error text may come from anywhere (binary data, a decoder): made storable, so the end is recorded.
  const stack = typeof err.stack === 'string' ? err.stack : '';
  const text = elided(storableText(stack && stack.includes(String(err.message)) ? stack : `${String(err.name)}: ${String(err.message)}`), MAX_ERROR_TEXT);
  if (err.name === 'PermanentFailure') return { status: 'permfailed', error: text };
  const delay = (err as { delayMs?: unknown }).delayMs;
  if (err.name === 'RetryAfter' && typeof delay === 'number') {
    const flag = (err as { throttle?: unknown }).throttle;
    const throttle = flag === true ? { throttle: true as const } : {};
    // A RetryAfter of another make may carry a delay the end would refuse (a fraction, past 100 years):
    // rounded, and if still refused, the end is recorded with the type's retry delay and says why. A
    // throttle that is no boolean is not read as false in silence: the run fails with the type's delay, saying so.
    const ms = Math.round(delay);
    if (flag !== undefined && typeof flag !== 'boolean') {
      return { status: 'failed', error: elided(`${text}\n(its RetryAfter delay was not used: its throttle of ${describe(flag)} must be a boolean)`, MAX_ERROR_TEXT) };
    }
    const problem = durationMsProblem(ms);
    if (problem === undefined) return { status: 'failed', error: text, retryAfterMs: ms, ...throttle };
    return { status: 'failed', error: elided(`${text}\n(its RetryAfter delay of ${delay} ms was not used: it ${problem})`, MAX_ERROR_TEXT), ...throttle };
  }
  return { status: 'failed', error: text };
}

function describe(v: unknown): string {
  let s: string | undefined;
  try {
    s = JSON.stringify(v);
  } catch {
    // Cyclic, a bigint, a throwing toJSON: named by its kind, never thrown on.
    return typeof v === 'bigint' ? 'a bigint' : `${Object.prototype.toString.call(v)} (not JSON)`;
  }
  return s === undefined ? typeof v : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * A run log record's attributes as stored, the one rule for inline and isolated handlers, never
 * thrown on and never refused by the store: an object as JSON writes it (NUL and lone surrogates in
 * keys and strings replaced with U+FFFD); a value that is not an object once written (an array, a
 * Date, a string) under `value`; one that is not JSON (a cycle, a bigint, a throwing toJSON), or
 * that the store would refuse (a `__proto__` key, nesting past the limit), as
 * `{ "unserialisable": TEXT }`.
 */
export function logAttributes(attributes: unknown): Record<string, unknown> {
  let json: string | undefined;
  try {
    json = JSON.stringify(attributes);
  } catch {
    // As Node prints it (`{ n: 10n, self: [Circular *1] }`), not `[object Object]`: what was logged shows.
    return { unserialisable: storableText(inspected(attributes)) };
  }
  if (json === undefined) return {}; // a toJSON answering undefined, a function
  // A record must fit in a remote worker's request with others: a larger one keeps its start.
  const bytes = json.length > MAX_LOG_ATTRIBUTES / 3 ? utf8Length(json) : json.length;
  if (bytes > MAX_LOG_ATTRIBUTES) return { truncated: storableText(json.slice(0, 8192)), bytes };
  const parsed = (/\\u(?:0000|[dD][89a-fA-F])/.test(json) ? JSON.parse(json, storableJson) : JSON.parse(json)) as unknown;
  const record = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : { value: parsed };
  try {
    assertJson(record, 'attributes');
    return record;
  } catch {
    return { unserialisable: storableText(json.length > 10_000 ? `${json.slice(0, 10_000)}…` : json) };
  }
}

/** A JSON.parse reviver that replaces NUL and lone surrogates in strings and keys with U+FFFD. */
function storableJson(_key: string, v: unknown): unknown {
  if (typeof v === 'string') return storableText(v);
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) Object.defineProperty(out, storableText(k), { value: x, enumerable: true, writable: true, configurable: true });
  return out;
}

/** `String(v)`, or the value's kind when its own conversion throws. */
/** A value that is not JSON, as `util.inspect` prints it on one line, at most 10,000 characters. */
function inspected(v: unknown): string {
  let text: string;
  try {
    // A Proxy is printed as its target (`{}` for one whose every trap throws): its own text says more.
    text = types.isProxy(v) ? safeString(v) : inspect(v, { depth: 4, breakLength: Infinity, maxArrayLength: 100, maxStringLength: 1000 });
  } catch {
    text = safeString(v);
  }
  return text.length > 10_000 ? `${text.slice(0, 10_000)}…` : text;
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    try {
      return Object.prototype.toString.call(v);
    } catch {
      return 'an unreadable value'; // a Proxy whose every trap throws
    }
  }
}

/**
 * The run's end for whatever a handler returned or threw, even a value that throws when read (a
 * getter, a conversion): such a value ends the run `failed`, naming why, and never escapes into the
 * worker, where it would take every run in flight down with it. A result that is not JSON fails the
 * run too. The one rule for inline and isolated handlers (isolate-entry.ts applies it in the isolate).
 */
export function outcomeOfSettled(r: { value?: unknown; error?: unknown }): Outcome {
  try {
    if ('error' in r) return outcomeOfError(r.error);
    const outcome = outcomeOfResult(r.value);
    if (outcome.result !== undefined) {
      let json: string;
      try {
        assertJson(outcome.result, 'result');
        // Written once, here: the run's end carries this copy, so a toJSON that answers differently
        // (or throws) the next time, or a handler that changes its result later, cannot touch the end.
        json = JSON.stringify(outcome.result);
      } catch (e) {
        return { status: 'failed', error: `handler result is not JSON: ${safeString((e as Error)?.message)}` };
      }
      const bytes = json.length > MAX_RESULT_JSON / 3 ? utf8Length(json) : json.length; // under a third, surely within
      if (bytes > MAX_RESULT_JSON) {
        return { status: 'failed', error: `handler result is too large: ${bytes} bytes of JSON, at most ${MAX_RESULT_JSON} (2 MiB)` };
      }
      try {
        // The copy is what is stored: what a toJSON wrote (text with NUL, a "__proto__" key, deep nesting) is checked too.
        outcome.result = JSON.parse(json) as unknown;
        assertJson(outcome.result, 'result');
      } catch (e) {
        return { status: 'failed', error: `handler result is not JSON: ${safeString((e as Error)?.message)}` };
      }
    }
    return outcome;
  } catch (e) {
    const why = e instanceof Error ? e.message : 'an unreadable value';
    // The hint on return values is for a returned value only.
    if ('error' in r) return { status: 'failed', error: `handler threw a value that could not be read (${safeString(why)})` };
    return { status: 'failed', error: `handler returned a value that could not be read (${safeString(why)}); expected { eventful: boolean, result? } or a boolean` };
  }
}

/**
 * Checks a loaded module's shape, naming the offending export; messages start with `source` (the
 * handlers file as `--handlers FILE`, or `handlers` for a module given to startServer as an object).
 */
export function toHandlersModule(mod: Record<string, unknown>, file: string, source = `--handlers ${file}`): HandlersModule {
  // A TypeScript file compiled to CommonJS (a package without "type": "module") comes back with its
  // default export wrapped twice: { default: { __esModule: true, default: X } }.
  const wrapped = mod.default as Record<string, unknown> | undefined;
  const def = (wrapped && typeof wrapped === 'object' && wrapped.__esModule === true && 'default' in wrapped ? wrapped.default : wrapped) as Record<string, unknown> | undefined;
  const dags = mod.dags ?? def?.dags;
  // Duck-typed: a handlers file may build its DAGs with another copy of this package (src vs dist).
  const isDag = (d: unknown) => typeof (d as DagDefinition)?.toInput === 'function' && typeof (d as DagDefinition)?.fn === 'function';
  if (dags !== undefined && (!Array.isArray(dags) || !dags.every(isDag))) {
    throw new ValidationError(`${source}: "dags" must be an array of dag(...) definitions`);
  }
  const shape = `export an object "handlers" mapping backend names to functions (or "dags")`;
  // The default export (or a CommonJS file's module.exports) is the handler map itself only when it
  // is not a module's shape: one with taskTypes, setup or dags but no handlers names the missing export.
  const defIsModule = def !== undefined && def !== null && typeof def === 'object' && ['taskTypes', 'setup', 'dags'].some((k) => k in def);
  const explicit = mod.handlers ?? def?.handlers;
  const found = (explicit ?? (dags || defIsModule ? undefined : def)) as unknown;
  if (found === undefined && !dags) throw new ValidationError(`${source}: ${shape}`);
  const handlers = found === undefined ? {} : found;
  if (!handlers || typeof handlers !== 'object' || Array.isArray(handlers) || handlers instanceof Map) {
    throw new ValidationError(`${source}: ${shape}${handlers instanceof Map ? ', a plain object, not a Map' : ''}`);
  }
  for (const [name, fn] of Object.entries(handlers)) {
    if (typeof fn !== 'function') {
      // A default export taken as the map: its stray member is more likely a misnamed export than a bad handler.
      throw new ValidationError(explicit === undefined ? `${source}: ${shape}; its default export has "${name}", which is not a function` : `${source}: handler "${name}" is not a function`);
    }
  }
  if (Object.keys(handlers).length === 0 && !(dags && dags.length > 0)) {
    throw new ValidationError(`${source}: no handler: ${shape}, with at least one (a file that exports nothing, or a CommonJS file that never sets module.exports, has none)`);
  }
  const taskTypes = mod.taskTypes ?? def?.taskTypes;
  if (taskTypes !== undefined && !Array.isArray(taskTypes)) throw new ValidationError(`${source}: "taskTypes" must be an array`);
  const setup = mod.setup ?? def?.setup;
  if (setup !== undefined && typeof setup !== 'function') throw new ValidationError(`${source}: "setup" must be a function`);
  const all = { ...(handlers as Record<string, Handler>) };
  if (dags && dags.length > 0 && !(DAG_BACKEND in all)) {
    // It serves the types of its own DAGs' tasks only: an attempt of a DAG this file lacks is left to a worker that has it.
    all[DAG_BACKEND] = withServedTypes(dagHandler(dags as DagDefinition[]), dagTaskTypes(dags as DagDefinition[]));
  }
  return {
    handlers: all,
    ...(dags ? { dags: dags as DagDefinition[] } : {}),
    ...(taskTypes ? { taskTypes: taskTypes as TaskTypeInput[] } : {}),
    ...(setup ? { setup: setup as HandlersModule['setup'] } : {}),
  };
}

/** Marks the task types a handler serves, when it serves fewer than every type of its backend. */
const SERVED_TYPES = Symbol.for('orrery.servedTypes');

/** The handler, marked as serving `types` only (a worker claims no other type of its backend for it). */
export function withServedTypes(h: Handler, types: ReadonlySet<string>): Handler {
  return Object.assign(h, { [SERVED_TYPES]: types });
}

/** The task types a handler serves, or undefined for every type whose backend it is. */
export function servedTypesOf(h: Handler | undefined): ReadonlySet<string> | undefined {
  return (h as { [SERVED_TYPES]?: ReadonlySet<string> } | undefined)?.[SERVED_TYPES];
}

/** The jobboard types the attempts of these DAGs run as (a task's `type`, else the DAG's default, else `orrery.dag`). */
function dagTaskTypes(dags: readonly DagDefinition[]): Set<string> {
  const out = new Set<string>();
  for (const d of dags) {
    const input = d.toInput();
    for (const t of input.tasks ?? []) out.add(dagTaskTypeOf(t, input.defaults));
  }
  return out;
}

/**
 * A handler's heartbeat promise, already handled: a handler that calls `heartbeat()` without awaiting
 * it (from a timer) must not crash its worker with an unhandled rejection once the lease is lost; one
 * that awaits it still gets the LeaseLostError.
 */
export function quietIfUnawaited<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
