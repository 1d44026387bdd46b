import { invalid, type ErrorDetail } from './errors.js';

/**
 * What both stores can hold, checked once at the boundary so that SQLite and PostgreSQL accept and
 * refuse the same input (docs/http.md, "Limits of stored values"). PostgreSQL refuses NUL in text and
 * JSON (`\u0000`) and lone surrogates in JSON; SQLite would store them. Both refuse them here.
 */

/** Largest value of a 4-byte integer column (PostgreSQL `integer`): counts such as numRetries, maxRunning. */
export const INT4_MAX = 2_147_483_647;

const SUSPECT = /[\0\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const NUL_MESSAGE = 'must not contain NUL characters (U+0000)';
export const SURROGATE_MESSAGE = 'must not contain lone UTF-16 surrogates (not valid Unicode)';

/** Why a string cannot be stored, or null when it can. */
export function textProblem(s: string): string | null {
  if (!SUSPECT.test(s)) return null;
  if (s.includes('\0')) return NUL_MESSAGE;
  return LONE_SURROGATE.test(s) ? SURROGATE_MESSAGE : null;
}

/** True when a string can be stored as text by both stores. */
export const isStorableText = (s: string): boolean => textProblem(s) === null;

/** Throws a ValidationError naming `path` when `s` is a string that cannot be stored. */
export function assertText(s: unknown, path: string): void {
  if (typeof s !== 'string') return;
  const p = textProblem(s);
  if (p) throw invalid(path, p);
}

/**
 * A task type name a lookup is given: a string both stores can hold (non-empty unless `emptyOk`: a
 * filter of no type matches nothing), else a ValidationError naming `path` (PostgreSQL cannot even
 * compare a NUL: its driver's error answered 500 on HTTP).
 */
export function checkTypeName(v: unknown, path = 'name', emptyOk = false): string {
  if (typeof v !== 'string' || (v === '' && !emptyOk)) throw invalid(path, 'a task type name is required');
  assertText(v, path);
  return v;
}

/**
 * The first string or object key inside a JSON-like value that cannot be stored, with its path
 * (a bad key is named escaped: `arguments.kwargs["a\\u0000"]`), or the first place where the value
 * contains itself (it has no JSON form). Walks without recursion; an object met twice elsewhere
 * (not inside itself) is checked once.
 */
export function findTextProblem(value: unknown, path: string): ErrorDetail | null {
  // [value, path, leaving]: `leaving` marks the end of an object's walk (it is no longer an ancestor).
  const stack: Array<[unknown, string, boolean]> = [[value, path, false]];
  // Made at the first object met (a value of plain strings and numbers needs neither).
  let ancestors: Set<object> | null = null;
  let checked: Set<object> | null = null;
  while (stack.length > 0) {
    const [v, at, leaving] = stack.pop()!;
    if (leaving) {
      ancestors!.delete(v as object);
      checked!.add(v as object);
      continue;
    }
    if (typeof v === 'string') {
      const p = textProblem(v);
      if (p) return { path: at, message: p };
      continue;
    }
    if (v === null || typeof v !== 'object' || v instanceof Date) continue;
    // What JSON writes for it: its toJSON()'s value (a class that serialises itself as text, say).
    if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      const written = (v as { toJSON(key: string): unknown }).toJSON('');
      if (written !== v) {
        stack.push([written, at, false]);
        continue;
      }
    }
    ancestors ??= new Set();
    checked ??= new Set();
    if (checked.has(v)) continue;
    if (ancestors.has(v)) return { path: at || '(value)', message: 'must not contain itself (a circular value has no JSON form)' };
    ancestors.add(v);
    stack.push([v, at, true]);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${at}[${i}]`, false]);
      continue;
    }
    const keys = Object.keys(v);
    for (const k of keys) {
      const p = textProblem(k);
      // The key is shown escaped (`kwargs["a\u0000"]`): the message itself stays storable text.
      if (p) return { path: `${at}[${JSON.stringify(k)}]`, message: `key ${p}` };
    }
    for (let i = keys.length - 1; i >= 0; i--) stack.push([(v as Record<string, unknown>)[keys[i]!], at ? `${at}.${keys[i]!}` : keys[i]!, false]);
  }
  return null;
}

/** Throws a ValidationError for the first string or key in `value` that cannot be stored. */
export function assertStorable(value: unknown, path: string): void {
  const p = findTextProblem(value, path);
  if (p) throw invalid(p.path, p.message);
}

/**
 * `s` with each NUL and lone surrogate replaced by U+FFFD: for text Orrery itself records from
 * arbitrary sources (a handler's error message, its log lines), which must not fail a run's end.
 */
export function storableText(s: string): string {
  if (!SUSPECT.test(s)) return s;
  return s.replace(/\0/g, '\uFFFD').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * Whether `s` has more than `max` characters, counted as code points (an emoji is one), as the input
 * schemas count them (zod): a value one of them accepts is not refused by another.
 */
export function longerThan(s: string, max: number): boolean {
  if (s.length <= max) return false;
  let n = 0;
  for (const _ of s) if (++n > max) return true;
  return false;
}

/**
 * The length of `s` in UTF-8 bytes (what a request body's limit counts), without encoding it: 1 byte
 * below U+0080, 2 below U+0800, 4 for a surrogate pair, 3 otherwise (a lone surrogate too, as U+FFFD).
 */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // the pair: 2 code units, 4 bytes
      i++;
    } else n += 2;
  }
  return n;
}

/**
 * A listing's `limit` that may be 0 (`searchTasks`, `readArchivedRuns`, `listDagRuns`): a whole number
 * from 0 to 2147483647, or a ValidationError naming `path`; past that, the stores' own errors would
 * answer (SQLite's `datatype mismatch`, PostgreSQL's `invalid input syntax for type bigint`).
 */
export function checkCountLimit(limit: unknown, path = 'limit'): void {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0 || limit > INT4_MAX) throw invalid(path, `must be an integer from 0 to ${INT4_MAX}`);
}
