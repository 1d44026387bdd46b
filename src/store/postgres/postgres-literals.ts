/**
 * Values encoded and decoded by hand on the hot path: parameters sent as PostgreSQL text literals
 * (so the driver has nothing left to encode) and `timestamptz` read without a regular expression.
 */
import pg from 'pg';

/** The driver's own timestamptz parser (taken before Orrery installs its own): the fallback for unusual text. */
const driverParse = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ, 'text') as (s: string) => Date | number | null;
const parsePgDate = (s: string): Date | number | null => driverParse(s);

export type Cell = string | number | null;

/** A PostgreSQL array literal: numbers as they are, strings quoted (escaping `"` and `\`), null as NULL. */
export function arrayLiteral(values: readonly Cell[]): string {
  let s = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as Cell;
    if (i > 0) s += ',';
    s += v === null ? 'NULL' : typeof v === 'number' ? String(v) : NEEDS_ESCAPE.test(v) ? `"${v.replace(ESCAPE, '\\$&')}"` : `"${v}"`;
  }
  return `${s}}`;
}
const NEEDS_ESCAPE = /["\\]/;
const ESCAPE = /["\\]/g;

/** An instant as PostgreSQL reads it: ISO 8601 for years 1-9999, else `YYYYY-MM-DD HH:MM:SS.mmm+00` with ` BC` for years before 1. */
export function instantText(ms: number): string {
  const iso = new Date(ms).toISOString();
  if (iso.length === 24 && !iso.startsWith('0000')) return iso;
  const y = new Date(ms).getUTCFullYear();
  const year = String(y < 1 ? 1 - y : y).padStart(4, '0');
  return `${year}${iso.slice(-20, -1).replace('T', ' ')}+00${y < 1 ? ' BC' : ''}`;
}

const digit = (s: string, i: number): number => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};
const two = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1);

/**
 * A `timestamptz` in PostgreSQL's text output (`2026-12-02 07:52:18.915123+00`, any offset such as
 * `+05:30` or `-03`), as a Date with the milliseconds truncated like the driver's own parser. Anything
 * else (years before 1000 or after 9999, BC, infinity, another DateStyle) goes to that parser.
 */
export function parseTimestamptz(s: string): Date | number | null {
  const n = s.length;
  if (n < 22 || s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 32 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) {
    return parsePgDate(s);
  }
  const year = two(s, 0) * 100 + two(s, 2);
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46) {
    // Up to microseconds: the first three digits are the milliseconds, the rest is dropped.
    i++;
    let scale = 100;
    while (i < n) {
      const d = digit(s, i);
      if (Number.isNaN(d)) break;
      ms += d * scale;
      scale /= 10;
      i++;
    }
    ms = Math.floor(ms);
  }
  const sign = s.charCodeAt(i);
  if (sign !== 43 && sign !== 45) return parsePgDate(s);
  let offset = two(s, i + 1) * 60;
  i += 3;
  if (i < n && s.charCodeAt(i) === 58) {
    offset += two(s, i + 1);
    i += 3;
  }
  let offsetSeconds = offset * 60;
  if (i < n && s.charCodeAt(i) === 58) {
    offsetSeconds += two(s, i + 1);
    i += 3;
  }
  if (i !== n || year < 1000) return parsePgDate(s);
  const t = Date.UTC(year, two(s, 5) - 1, two(s, 8), two(s, 11), two(s, 14), two(s, 17), ms) - (sign === 43 ? 1 : -1) * offsetSeconds * 1000;
  return Number.isNaN(t) ? parsePgDate(s) : new Date(t);
}
