import * as crypto from 'node:crypto';
import type { Priority, TaskArguments, TaskPolicy, TaskStatus } from './model.js';
import { isStorableText } from './storable.js';

/**
 * Task identities: canonical JSON (object keys sorted) hashed with SHA-256. Stored keys must never
 * change, so the fast paths here produce exactly the text of `canonicalJson` and fall back to it for
 * anything they do not handle.
 */

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** Deeper than this, plainCanonicalJson gives up (a cycle, or a structure the general path handles). */
const MAX_DEPTH = 64;

/**
 * `canonicalJson(value)` for plain JSON data (null, booleans, finite numbers, strings, arrays, objects
 * with Object.prototype or no prototype), else undefined. A value it accepts also passes `assertJson`.
 * Declined: Dates and other class instances, toJSON, non-finite numbers, undefined in arrays, functions,
 * symbols, bigints, cycles, object keys that start with a digit (JSON.stringify orders array-index
 * keys numerically), the key "__proto__", and strings or keys a store cannot hold (NUL, lone surrogates).
 */
export function plainCanonicalJson(value: unknown): string | undefined {
  return write(value, 0);
}

function write(v: unknown, depth: number): string | undefined {
  switch (typeof v) {
    case 'string':
      return isStorableText(v) ? JSON.stringify(v) : undefined; // declined: assertJson names the field
    case 'number':
      return Number.isFinite(v) ? String(v) : undefined;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return undefined;
  }
  if (v === null) return 'null';
  if (depth >= MAX_DEPTH) return undefined;
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const x = write(v[i], depth + 1); // a hole reads as undefined: declined
      if (x === undefined) return undefined;
      out += i === 0 ? x : `,${x}`;
    }
    return `${out}]`;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.toJSON === 'function') return undefined;
  const keys = Object.keys(o);
  if (keys.length > 1) keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = '{';
  let first = true;
  for (const k of keys) {
    const c = k.charCodeAt(0);
    if ((c >= 48 && c <= 57) || k === '__proto__' || !isStorableText(k)) return undefined; // "__proto__": assertJson refuses it
    const x = o[k];
    if (x === undefined) continue; // JSON.stringify omits it; assertJson skips it
    const s = write(x, depth + 1);
    if (s === undefined) return undefined;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${s}`;
    first = false;
  }
  return `${out}}`;
}

type HashFn = (algorithm: string, data: string, encoding: 'base64url') => string;
/** crypto.hash (Node 20.12+) is a one-shot digest, about 2x faster than createHash for short text. */
const oneShot = (crypto as unknown as { hash?: HashFn }).hash;

export function sha256(text: string): string {
  return oneShot ? oneShot('sha256', text, 'base64url') : crypto.createHash('sha256').update(text).digest('base64url');
}

/**
 * Tasks equal in (type, arguments, policy, priority) — and nextRun for one-shot tasks, and the
 * schedule as given for cron/rrule tasks — share a key.
 */
export function dedupeKey(
  type: string,
  args: TaskArguments,
  policy: TaskPolicy,
  priority: Priority | null,
  nextRun: Date | null,
  schedule: unknown = null,
): string {
  return dedupeKeyOf(type, plainCanonicalJson(args) ?? canonicalJson(args), policy, priority, nextRun, schedule);
}

/** dedupeKey with the arguments already in canonical JSON. */
export function dedupeKeyOf(type: string, argsJson: string, policy: TaskPolicy, priority: Priority | null, nextRun: Date | null, schedule: unknown): string {
  // canonicalJson([type, args, policy, priority, nextRun ms, schedule?]), element by element.
  const tail = schedule === null || schedule === undefined ? '' : `,${plainCanonicalJson(schedule) ?? canonicalJson(schedule)}`;
  const when = nextRun ? JSON.stringify(nextRun.getTime()) : 'null';
  return sha256(`[${quoted(type)},${argsJson},${quoted(policy)},${priority === null ? 'null' : quoted(priority)},${when}${tail}]`);
}

/** JSON.stringify of a type name, policy or priority: a few distinct values, so remembered (up to 1,000). */
const quotes = new Map<string, string>();
function quoted(s: string): string {
  let q = quotes.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (quotes.size < 1000) quotes.set(s, q);
  }
  return q;
}

/** A task given a `key` is identified by (type, key) alone: another definition with that key is a conflict. */
export function keyIdentity(type: string, key: string): string {
  return sha256(`["key",${quoted(type)},${JSON.stringify(key)}]`);
}

/**
 * Whether a task in this status is the holder of its identity (it is active: waiting for or running
 * its next run). A completed or disabled task is not: an equal task can be created again. PostgreSQL
 * clears such a task's dedupe key at once; SQLite leaves it to the next equal task to take over.
 */
export function keepsDedupeKey(status: TaskStatus): boolean {
  return status === 'next_run_not_scheduled' || status === 'next_run_scheduled';
}
