import { ValidationError } from '../core/errors.js';
import { parseInstant } from '../core/instants.js';
import { MAX_JSON_NESTING, lossyObject } from '../core/json-checks.js';

/** Fields of the API's shapes that hold instants (ISO strings on the wire, Dates in the client). */
const INSTANT_KEYS = new Set(['nextRun', 'created', 'scheduled', 'started', 'ended', 'leaseExpiresAt', 'at', 'scheduledFor', 'due', 'from', 'to', 'nextPoint', 'updated', 'startedAt', 'lastSeen', 'stoppedAt', 'until']);
/** As `toISOString` writes an instant: years 0000 to 9999, or signed six-digit years outside them. */
const ISO = /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
/** Fields that hold the user's own JSON: returned as sent, never revived (a kwarg named `at` stays a string). */
const USER_JSON = new Set(['arguments', 'result', 'metadata', 'params', 'attributes', 'extraLoaderArguments', 'currentState']);

/** A response's JSON with the API's instants as Dates, the user's own JSON untouched (as the library returns them). */
export function parseApiJson(text: string): unknown {
  return revive(JSON.parse(text) as unknown);
}

function revive(v: unknown): unknown {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = revive(v[i]);
    return v;
  }
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (USER_JSON.has(k)) continue;
    o[k] = typeof x === 'string' ? (INSTANT_KEYS.has(k) && ISO.test(x) ? new Date(x) : x) : revive(x);
  }
  return v;
}

/** An instant for the wire; a ValidationError naming `path` when it is not a valid Date (the library's answer). */
export function iso(d: Date, path: string): string {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new ValidationError(`${path}: must be a valid Date`, [{ path, message: 'must be a valid Date' }]);
  const problem = textInstantProblem(d);
  if (problem) throw new ValidationError(`${path}: ${problem}`, [{ path, message: problem }]);
  return d.toISOString();
}

/** The instants text holds: 0000-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z. */
const EARLIEST_TEXT_MS = Date.parse('0000-01-01T00:00:00.000Z');
const LATEST_TEXT_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * Why a valid Date cannot travel as text, or null: the API writes and reads the years 0000 to 9999
 * only (core parseInstant), so one outside them is refused before it is sent, in the library's words.
 */
function textInstantProblem(d: Date): string | null {
  // The common case without a parse (a remote worker's every end carries instants): within the years 0000 to 9999.
  const t = d.getTime();
  if (t >= EARLIEST_TEXT_MS && t <= LATEST_TEXT_MS) return null;
  try {
    parseInstant(d.toISOString(), '');
    return null;
  } catch (e) {
    return (e as ValidationError).details?.[0]?.message ?? (e as Error).message;
  }
}

/**
 * A request body as JSON text. What JSON cannot carry is refused with a ValidationError naming its
 * place, as the library refuses it, instead of being sent as `null` (NaN, Infinity, an invalid Date,
 * `undefined` in an array) or thrown as a TypeError (a BigInt, a cycle).
 */
export function requestJson(body: unknown): string {
  const problem = unsendable(body, '', new Set());
  if (problem) throw new ValidationError(`${problem.path || 'body'}: ${problem.message}`, [problem]);
  const text = JSON.stringify(body);
  return LONG_DIGITS.test(text) ? withExactIntegers(body, text) : text;
}

/** Levels a request body puts around the user's JSON at most (`{ items: [{ result: … }] }`). */
const BODY_WRAPPING = 8;

/** Digits enough to reach past 2^53−1: a cheap test before a second writing (most bodies hold none). */
const LONG_DIGITS = /\d{16}/;

/**
 * The body with each integer past ±(2^53−1) written in full (2^60 as 1152921504606846976, not as
 * JavaScript writes it, 1152921504606847000): the server refuses digits that parsing would change (a
 * number typed by hand), and these are read back as the very double sent. A remote worker's result of
 * 2 ** 60 was refused, and with it every end of its batch.
 */
function withExactIntegers(body: unknown, text: string): string {
  const mark = `\u0001orrery-int-${Math.random().toString(36).slice(2)}:`;
  let marked = false;
  const out = JSON.stringify(body, (_key, v: unknown) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || Number.isSafeInteger(v)) return v;
    marked = true;
    return `${mark}${BigInt(v).toString()}`;
  });
  if (!marked) return text;
  const written = JSON.stringify(mark).slice(1, -1).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return out.replace(new RegExp(`"${written}(-?\\d+)"`, 'g'), '$1');
}

function unsendable(v: unknown, path: string, seen: Set<object>, depth = 0): { path: string; message: string } | null {
  // The library counts the 128 levels from each field (a result, params), the server as well: the body
  // wraps a field a few levels down (items[0].result), so the walk only stops what the server would
  // refuse in any field, before it would overflow the stack (it refused a result of 126 levels).
  if (depth > MAX_JSON_NESTING + BODY_WRAPPING) return { path, message: `JSON nested deeper than ${MAX_JSON_NESTING} levels` };
  if (typeof v === 'number') return Number.isFinite(v) ? null : { path, message: `${v} is not a JSON number` };
  if (typeof v === 'bigint') return { path, message: 'a BigInt is not a JSON number' };
  if (v === null || typeof v !== 'object') return null;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) return { path, message: 'must be a valid Date' };
    const problem = textInstantProblem(v);
    return problem ? { path, message: problem } : null;
  }
  // What JSON would write as {} (a Map, a Set, an Error…): refused with the library's words (it was stored as {}).
  const lossy = lossyObject(v);
  if (lossy) return { path, message: lossy };
  if (seen.has(v)) return { path, message: 'refers to itself (a cycle)' };
  seen.add(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (v[i] === undefined || typeof v[i] === 'function' || typeof v[i] === 'symbol') return { path: `${path}[${i}]`, message: `${typeof v[i]} is not JSON` };
      const p = unsendable(v[i], `${path}[${i}]`, seen, depth + 1);
      if (p) return p;
    }
  } else {
    for (const [k, x] of Object.entries(v)) {
      // A function or a symbol JSON would leave out, key and all: refused, as the library refuses it.
      if (typeof x === 'function' || typeof x === 'symbol') return { path: path ? `${path}.${k}` : k, message: `${typeof x} is not JSON` };
      const p = unsendable(x, path ? `${path}.${k}` : k, seen, depth + 1);
      if (p) return p;
    }
  }
  seen.delete(v);
  return null;
}
