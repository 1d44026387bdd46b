import { invalid, shown } from './errors.js';

/**
 * The forms parseInstant reads: a date, optionally a time (T or a space) and an offset (`Z`, `+01:00`,
 * `+0100`, or after a time `+01`). ISO 8601's basic, week and ordinal forms are not read (docs/cli.md).
 */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?|Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * The offset the text of an instant in ISO_INSTANT's forms ends with (`Z`, `+01:00`, `+0100`, `+01`),
 * or null: a date alone, or a time without one (read as UTC).
 */
export function instantOffset(text: string): string | null {
  const src = text.trim();
  return src.length <= 10 ? null : (/(?:Z|[+-]\d{2}(?::?\d{2})?)$/i.exec(src)?.[0] ?? null);
}

/** Parses an ISO 8601 instant (`2026-01-02`, `2026-01-02T03:04:05Z`, with offset). Date-only and zone-less forms are UTC. */
export function parseInstant(text: string, field = 'instant'): Date {
  const src = text.trim();
  if (!ISO_INSTANT.test(src)) throw invalid(field, `invalid ISO 8601 instant "${shown(text)}" (example: 2026-01-02T03:00:00Z)`);
  const offset = instantOffset(src);
  // An offset of hours alone (`+01`) is written out in full for Date (which reads no such form).
  const normalised = src.length === 10 ? `${src}T00:00:00Z` : offset === null ? `${src}Z` : offset.length === 3 ? `${src}:00` : src;
  const d = new Date(normalised.replace(' ', 'T'));
  if (Number.isNaN(d.getTime()) || !isCalendarDate(src.slice(0, 10))) throw invalid(field, `invalid instant "${shown(text)}"`);
  // An offset may carry a written year past 9999 or before 0000 in UTC, which this form could not write back.
  if (d.getTime() > LATEST_TEXT_MS || d.getTime() < EARLIEST_TEXT_MS) {
    throw invalid(field, `instant "${shown(text)}" is ${d.toISOString()} in UTC, outside 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z`);
  }
  return d;
}

/** The range of instants written as text (years 0000 to 9999 in UTC). */
const LATEST_TEXT_MS = Date.parse('9999-12-31T23:59:59.999Z');
const EARLIEST_TEXT_MS = Date.parse('0000-01-01T00:00:00.000Z');

/** `Date` silently rolls 2026-02-30 over to 2026-03-02; reject days past the end of their month. */
function isCalendarDate(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const check = new Date(0);
  check.setUTCFullYear(y, m - 1, d);
  return check.getUTCFullYear() === y && check.getUTCMonth() === m - 1 && check.getUTCDate() === d;
}

/**
 * The earliest instant both stores hold: PostgreSQL's timestamptz starts at 4714-11-24 BC (SQLite
 * would take earlier ones). The latest is JavaScript's own (+275760-09-13), which PostgreSQL holds too.
 */
export const EARLIEST_INSTANT_MS = Date.UTC(-4713, 10, 24);
export const LATEST_INSTANT_MS = 8.64e15;

/** Why a Date is not an instant Orrery takes (invalid, or before the earliest both stores hold); null when it is. */
export function instantProblem(d: Date): string | null {
  const t = d.getTime();
  if (Number.isNaN(t)) return 'must be a valid Date';
  if (t < EARLIEST_INSTANT_MS) return 'must not be before 4714-11-24 BC (-004713-11-24T00:00:00.000Z), the earliest instant both stores hold';
  return null;
}

/** `d` minus `ms`, held at the earliest instant both stores hold (an interval taken from an instant near it). */
export function earlier(d: Date, ms: number): Date {
  return new Date(Math.max(d.getTime() - ms, EARLIEST_INSTANT_MS));
}

/** `d` plus `ms`, held at the latest instant a Date can be (an interval added to an instant near it). */
export function later(d: Date, ms: number): Date {
  return new Date(Math.min(d.getTime() + ms, LATEST_INSTANT_MS));
}

/** A required instant given as a Date: anything but a valid Date in range is a ValidationError naming `path`. */
export function requireInstant(v: unknown, path: string): Date {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw invalid(path, 'must be a valid instant');
  const problem = instantProblem(v);
  if (problem) throw invalid(path, problem);
  return v;
}

/** Checks a given instant: absent (null or undefined) passes; anything but a valid Date in range is a ValidationError naming `path`. */
export function checkDate(v: unknown, path: string): void {
  if (v == null) return;
  if (!(v instanceof Date)) throw invalid(path, 'must be a valid Date');
  const problem = instantProblem(v);
  if (problem) throw invalid(path, problem);
}

export function maxDate(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}
