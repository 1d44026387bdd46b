import { invalid } from './errors.js';
import { hideUserInfo } from './url-text.js';

/**
 * An options object a call may leave out: undefined is `{}`; anything else that is not an object
 * (null, a number, a string) is a ValidationError naming `name`, not a TypeError from inside the call.
 */
export function optionsObject<T>(opts: T | null | undefined, name = 'options', stringKey?: string): T {
  if (opts === undefined) return {} as T;
  // A string where its one option is meant (`openOrrery('sqlite:x.db')`): the answer shows the call.
  if (typeof opts === 'string' && stringKey) throw invalid(name, `must be an object (or left out), not a string: pass it as { ${stringKey}: ${JSON.stringify(hideUserInfo(opts))} }`);
  if (opts === null || typeof opts !== 'object') throw invalid(name, 'must be an object (or left out)');
  // An array's own `at` (Array.prototype.at, a function) was read as the instant: "at: must be a valid Date".
  if (Array.isArray(opts)) throw invalid(name, 'must be an object (or left out), not an array');
  // A Date here would be read as an object without `at` and its instant dropped without a word.
  if (opts instanceof Date) throw invalid(name, 'must be an options object ({ at } for an instant), not a Date');
  return opts;
}

/**
 * optionsObject, with every key given one of `known`: a misspelt option (`nextrun`, `reasn`) would change
 * what the call does without a word (a respawn due now, a pause without its reason).
 */
export function knownOptions<T>(opts: T | null | undefined, known: readonly string[], name = 'options'): T {
  const o = optionsObject(opts, name);
  refuseUnknownKeys(o as object, known, name);
  return o;
}

/**
 * An array of a batch without holes (`[a, , b]`): a hole is refused naming its place, as an undefined
 * item would be (the stores skipped it, or failed with a TypeError of their driver).
 */
export function refuseHoles(items: readonly unknown[], path: string): void {
  for (let i = 0; i < items.length; i++) if (!(i in items)) throw invalid(`${path}[${i}]`, 'is missing (a hole in the array)');
}

/** A flag given as anything but a boolean is refused (`fill: 'no'` or `ids: 'yes'` would have been read as true). */
export function checkFlag(v: unknown, name: string): void {
  if (v !== undefined && typeof v !== 'boolean') throw invalid(name, 'must be a boolean');
}

/** A callback option given as anything but a function is refused before the work starts (not a TypeError half way). */
export function checkCallback(v: unknown, name: string): void {
  if (v !== undefined && typeof v !== 'function') throw invalid(name, 'must be a function');
}

/** An options object a call needs: given as null, or left out, it names what it expects (`shape`). */
export function requireOptions(opts: unknown, shape: string): void {
  if (opts === null || typeof opts !== 'object') throw invalid('options', `must be an object ${shape}`);
  // Their own fields are what is read: an array's or a Date's would be none, and every default taken without a word.
  if (Array.isArray(opts)) throw invalid('options', `must be an object ${shape}, not an array`);
  if (opts instanceof Date) throw invalid('options', `must be an object ${shape}, not a Date`);
}

/** Longest delay a Node timer takes (2^31 - 1 ms, about 24.8 days): a longer one fires at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A number of milliseconds from `min` to `max` (default: what a timer takes), or a ValidationError naming `name`. */
export function checkMs(v: unknown, name: string, min = 0, max = MAX_TIMER_MS): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw invalid(name, `must be a number of milliseconds from ${min} to ${max}`);
  return v;
}

/** A whole number from `min` to `max`, or a ValidationError naming `name`. */
export function checkInteger(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw invalid(name, `must be an integer from ${min} to ${max}`);
  return v;
}

/** A list of names (task types): an array of non-empty strings (with `nonEmpty`, at least one), or a ValidationError naming `name`. */
export function checkNames(v: unknown, name: string, nonEmpty = false): string[] {
  if (!Array.isArray(v)) throw invalid(name, 'must be an array of names');
  if (nonEmpty && v.length === 0) throw invalid(name, 'names no task type (leave it out to serve every type with a handler)');
  v.forEach((n, i) => {
    if (typeof n !== 'string' || n === '') throw invalid(`${name}[${i}]`, 'must be a non-empty string');
  });
  return v as string[];
}

/** An object whose listed members are functions (a logger, a clock), or a ValidationError naming the first missing one. */
export function checkMethods<T>(v: T, name: string, methods: readonly string[]): T {
  if (v === null || typeof v !== 'object') throw invalid(name, `must be an object with the methods ${methods.join(', ')}`);
  for (const m of methods) {
    if (typeof (v as Record<string, unknown>)[m] !== 'function') throw invalid(`${name}.${m}`, `must be a function (a ${name} needs ${methods.join(', ')})`);
  }
  return v;
}

/** The most runs a "last N runs of a task" read returns (`listRuns`'s `last`, `?runs=`, `task show --runs`). */
export const MAX_LAST_RUNS = 100_000;

/** `last` (or `runs`) runs of a task: left out for all of them, else an integer from 1 to MAX_LAST_RUNS. */
export function lastRunsOption(v: unknown, name: string): number | undefined {
  return v === undefined ? undefined : checkInteger(v, name, 1, MAX_LAST_RUNS);
}

/**
 * A key a call does not know, given a value, is refused naming it (`options.dryrun: unknown field`):
 * a misspelt filter (`statuss`) or option (`dryrun`) would otherwise be left out without a word, and
 * a bulk action would change more tasks than meant, or change them for real instead of counting
 * them. A key given `undefined` is no key (options built from optional values).
 */
export function refuseUnknownKeys(o: object, known: readonly string[], path: string): void {
  // Own keys walked without building an array: it runs per heartbeat item and per claim.
  for (const k in o) {
    if (!Object.hasOwn(o, k) || known.includes(k) || (o as Record<string, unknown>)[k] === undefined) continue;
    throw invalid(path ? `${path}.${k}` : k, `unknown field (one of ${known.join(', ')})`);
  }
}
