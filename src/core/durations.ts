import { invalid, shown } from './errors.js';

import { durationMsProblem } from './duration-limit.js';

export { MAX_DURATION_MS, durationMsProblem } from './duration-limit.js';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const COMPACT = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/;
const ISO = /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/**
 * Parses `90s`, `15m`, `12h`, `64d`, `1w`, `250ms`, combinations like `1d12h`, ISO 8601 (`P1DT12H`,
 * without years or months, which have no fixed length) or a bare number of milliseconds.
 * Returns exact milliseconds. `field` names the option in the error.
 */
export function parseDuration(text: string, field = 'duration'): number {
  const src = text.trim();
  if (src === '') throw invalid(field, 'empty duration');
  if (/^\d+$/.test(src)) return checked(Number(src), field, text);
  if (/^P/i.test(src)) {
    const m = ISO.exec(src);
    if (!m || src.toUpperCase() === 'P' || /T$/i.test(src)) {
      throw invalid(field, `invalid ISO 8601 duration "${shown(text)}" (use weeks, days, hours, minutes, seconds, e.g. P1DT12H)`);
    }
    const [, w, d, h, mi, s] = m;
    return exactMs([[w, UNIT_MS.w!], [d, UNIT_MS.d!], [h, UNIT_MS.h!], [mi, UNIT_MS.m!], [s, UNIT_MS.s!]], field, text);
  }
  let rest = src.toLowerCase();
  const parts: Array<[string, number]> = [];
  let last = Number.POSITIVE_INFINITY; // each unit once, largest first: `1d12h`, not `12h1d` or `1h1h`
  while (rest.length > 0) {
    const m = COMPACT.exec(rest);
    if (!m) throw invalid(field, `invalid duration "${shown(text)}" (examples: 90s, 15m, 12h, 64d, 1d12h, P1DT12H)`);
    const unit = UNIT_MS[m[2]!]!;
    if (unit >= last) throw invalid(field, `invalid duration "${shown(text)}": give each unit once, largest first (1d12h, 1h30m)`);
    last = unit;
    parts.push([m[1]!, unit]);
    rest = rest.slice(m[0].length);
  }
  return exactMs(parts, field, text);
}

/**
 * The sum of decimal numbers (as written) times their units, rounded to the nearest millisecond (half
 * up), computed exactly: in binary floating point `4.0005 * 1000` is 4000.4999..., which rounded down.
 */
function exactMs(parts: ReadonlyArray<readonly [string | undefined, number]>, field: string, text: string): number {
  const given = parts.filter((p): p is readonly [string, number] => p[0] !== undefined);
  const scale = Math.max(0, ...given.map(([v]) => (v.split('.')[1] ?? '').length));
  let total = 0n; // in 10^-scale ms
  for (const [v, unit] of given) {
    const [whole, frac = ''] = v.split('.');
    total += BigInt(whole! + frac.padEnd(scale, '0')) * BigInt(unit);
  }
  const den = 10n ** BigInt(scale);
  return checked(Number((total + den / 2n) / den), field, text);
}

function checked(ms: number, field: string, text: string): number {
  const rounded = Math.round(ms);
  if (!Number.isSafeInteger(rounded)) throw invalid(field, `duration "${shown(text)}" is too large`);
  return rounded;
}

/** Formats milliseconds as the compact form used in tables: `64d`, `1d12h`, `1h30m`, `45s`, `250ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}ms`);
  return sign + parts.join('');
}

/** Throws a ValidationError naming `field` unless `ms` is a non-negative integer number of milliseconds of at most 100 years. */
export function assertDurationMs(ms: unknown, field: string): void {
  const problem = durationMsProblem(ms);
  if (problem) throw invalid(field, problem);
}
