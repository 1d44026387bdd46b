import { invalid } from './errors.js';

/** The forms parseInstant reads: a date, optionally a time (T or a space) and an offset. */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;

/** Parses an ISO 8601 instant (`2026-01-02`, `2026-01-02T03:04:05Z`, with offset). Date-only and zone-less forms are UTC. */
export function parseInstant(text: string, field = 'instant'): Date {
  const src = text.trim();
  if (!ISO_INSTANT.test(src)) throw invalid(field, `invalid ISO 8601 instant "${text}" (example: 2026-01-02T03:00:00Z)`);
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(src) && src.length > 10;
  const normalised = src.length === 10 ? `${src}T00:00:00Z` : hasZone ? src : `${src}Z`;
  const d = new Date(normalised.replace(' ', 'T'));
  if (Number.isNaN(d.getTime()) || !isCalendarDate(src.slice(0, 10))) throw invalid(field, `invalid instant "${text}"`);
  return d;
}

/** `Date` silently rolls 2026-02-30 over to 2026-03-02; reject days past the end of their month. */
function isCalendarDate(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const check = new Date(0);
  check.setUTCFullYear(y, m - 1, d);
  return check.getUTCFullYear() === y && check.getUTCMonth() === m - 1 && check.getUTCDate() === d;
}

/** Checks a given instant: absent (null or undefined) passes; anything but a valid Date is a ValidationError naming `path`. */
export function checkDate(v: unknown, path: string): void {
  if (v != null && (!(v instanceof Date) || Number.isNaN(v.getTime()))) throw invalid(path, 'must be a valid Date');
}

export function maxDate(a: Date, b: Date): Date {
  return a.getTime() >= b.getTime() ? a : b;
}
