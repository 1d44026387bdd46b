/**
 * Checks of input values that need no schema library: JSON values, metadata, a few shared names.
 * Kept apart from validation.ts (zod) so that the modules every process loads (stores, the worker)
 * do not load zod: a worker that parses no user input never carries it (docs/architecture.md).
 */
import { ValidationError, invalid, type ErrorDetail } from './errors.js';
import { textProblem } from './storable.js';

export const TASK_TYPE_NAME = /^[a-z0-9][a-z0-9._:-]*$/;

/** How deep user JSON may nest (arguments, results, metadata, params...): the same limit for every interface. */
export const MAX_JSON_NESTING = 128;

/** Weights in one order (code units): stores may reorder JSON keys, and two equal types compare equal. */
export function sortedWeights(w: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(w).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export const ON_CONFLICT_MODES = ['return', 'replace', 'error'] as const;
export type OnConflict = (typeof ON_CONFLICT_MODES)[number];

/** Why a `__proto__` key is refused wherever data comes in (task kwargs here, any HTTP body in http/guards.ts). */
export const PROTO_KEY = 'the key "__proto__" is not accepted (an object of the server cannot hold it: it would be dropped)';

/**
 * Rejects values JSON cannot carry faithfully (functions, NaN, cycles, undefined in arrays) and text
 * a store cannot hold (NUL, lone surrogates, in strings and in keys: core/storable.ts).
 */
export function assertJson(value: unknown, path: string): void {
  // The common case (a small clean value) is checked without building paths; the walk below names the problem.
  if (cleanJson(value, 0)) return;
  const seen = new Set<object>();
  const walk = (v: unknown, at: string, depth = 0): void => {
    if (typeof v === 'string') {
      const p = textProblem(v);
      if (p) throw invalid(at, p);
      return;
    }
    if (v === null || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw invalid(at, 'numbers must be finite');
      return;
    }
    if (typeof v !== 'object') throw invalid(at, `${typeof v} is not JSON`);
    const lossy = lossyObject(v);
    if (lossy) throw invalid(at, lossy);
    // JSON writes what its toJSON() gives (a Date's is its instant): that is what is checked.
    if (!(v instanceof Date) && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      if (depth >= MAX_JSON_NESTING) throw invalid(path, `JSON nested deeper than ${MAX_JSON_NESTING} levels`);
      const written = (v as { toJSON(k: string): unknown }).toJSON('');
      if (written !== v) return walk(written, at, depth + 1);
    }
    if (seen.has(v)) throw invalid(at, 'circular value');
    // Deeper values would overflow the stack of this walk and of the stores' (a crash, not an answer).
    if (depth >= MAX_JSON_NESTING) throw invalid(path, `JSON nested deeper than ${MAX_JSON_NESTING} levels`);
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        // JSON writes a hole as null, as it would an undefined (refused by the walk)
        if (!(i in v)) throw invalid(`${at}[${i}]`, 'an array hole is not JSON (it would be written as null)');
        walk(v[i], `${at}[${i}]`, depth + 1);
      }
    }
    else if (v instanceof Date) return;
    else {
      for (const [k, x] of Object.entries(v)) {
        // JSON.parse keeps "__proto__" as a key; refused at any depth, as HTTP bodies refuse it (one rule everywhere)
        if (k === '__proto__') throw invalid(`${at}.__proto__`, PROTO_KEY);
        const p = textProblem(k);
        if (p) throw invalid(`${at}[${JSON.stringify(k)}]`, `key ${p}`);
        if (x !== undefined) walk(x, `${at}.${k}`, depth + 1);
      }
    }
    seen.delete(v);
  };
  walk(value, path);
}

/**
 * Why an object that JSON would write without complaint loses what it holds (a Map, a Set or an Error
 * written as `{}`, an invalid Date as `null`), or null.
 */
export function lossyObject(v: object): string | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an invalid Date is not JSON (it would be written as null)' : null;
  // Boxed primitives JSON cannot write (Object(1n) throws in JSON.stringify; a NaN Number is written as null)
  if (v instanceof BigInt) return 'bigint is not JSON';
  if (v instanceof Symbol) return 'symbol is not JSON';
  if (v instanceof Number && !Number.isFinite(v.valueOf())) return 'numbers must be finite';
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return null; // it says how it is written
  if (v instanceof Map) return 'a Map is not JSON (it would be written as {}): convert it, e.g. Object.fromEntries(map)';
  if (v instanceof Set) return 'a Set is not JSON (it would be written as {}): convert it, e.g. Array.from(set)';
  if (v instanceof Error) return 'an Error is not JSON (it would be written as {}): keep its message';
  if (v instanceof RegExp) return 'a RegExp is not JSON (it would be written as {}): keep its source';
  if (v instanceof Promise) return 'a Promise is not JSON (it would be written as {}): await it first';
  if (v instanceof WeakMap || v instanceof WeakSet) return `a ${v instanceof WeakMap ? 'WeakMap' : 'WeakSet'} is not JSON (it would be written as {})`;
  return null;
}

/** Depth past which the quick check gives up (a cycle, or a value deep enough to walk the careful way). */
const QUICK_DEPTH = 64;

/** True when `v` is JSON with storable text throughout; false when in doubt (the careful walk decides). */
function cleanJson(v: unknown, depth: number): boolean {
  if (typeof v === 'string') return textProblem(v) === null;
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || depth > QUICK_DEPTH) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!cleanJson(v[i], depth + 1)) return false;
    return true;
  }
  if (v instanceof Date) return !Number.isNaN(v.getTime());
  // Plain objects only: a class instance or a boxed value (Object(1n), a RegExp, a Map) takes the careful walk.
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return false;
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const x = (v as Record<string, unknown>)[k];
    if (k === '__proto__' || textProblem(k) !== null || (x !== undefined && !cleanJson(x, depth + 1))) return false;
  }
  return true;
}

export function validateMetadata(value: unknown, path = 'metadata'): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  assertJsonObject(value, path);
  return value as Record<string, unknown>;
}

/**
 * A JSON object as JSON.stringify writes it: an object with a `toJSON()` method is judged by what that
 * method returns (a `Date`, or a `toJSON()` returning text or an array, is not an object; stored, it
 * made the run unreadable on PostgreSQL), and the whole value is checked by assertJson.
 */
export function assertJsonObject(value: unknown, path: string): void {
  const written = value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function' ? (value as { toJSON(key: string): unknown }).toJSON('') : value;
  if (written === null || typeof written !== 'object' || Array.isArray(written)) throw invalid(path, 'must be a JSON object');
  assertJson(value, path);
}

export function fromDetails(details: ErrorDetail[]): ValidationError {
  const first = details[0]!;
  const more = details.length > 1 ? ` (and ${details.length - 1} more problem${details.length > 2 ? 's' : ''})` : '';
  return new ValidationError(`${first.path ? `${first.path}: ` : ''}${first.message}${more}`, details);
}

/** Longest pause reason kept. */
export const MAX_PAUSE_REASON = 1000;

/** A pause's reason: trimmed, at most MAX_PAUSE_REASON characters, text both stores hold (no NUL, no lone surrogate). */
export function validatePauseReason(reason: unknown): string {
  if (reason === undefined || reason === null) return '';
  if (typeof reason !== 'string') throw invalid('reason', 'must be a string');
  const r = reason.trim();
  if (r.length > MAX_PAUSE_REASON) throw invalid('reason', `at most ${MAX_PAUSE_REASON} characters`);
  const problem = textProblem(r);
  if (problem !== null) throw invalid('reason', problem);
  return r;
}

/** True when arrays and objects in `value` nest deeper than `max` levels (checked without recursion). */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const x of Object.values(v)) if (x !== null && typeof x === 'object') stack.push([x, depth + 1]);
  }
  return false;
}
