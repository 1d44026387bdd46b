import { shown } from './errors.js';
import { DateTime, IANAZone } from 'luxon';
import { createRequire } from 'node:module';
import type { RRule as RRuleClass } from 'rrule';
import { boundedMemo } from './memo.js';

/**
 * RRULE evaluation. Rules are evaluated in "floating" wall-clock time (as if the zone were UTC), then
 * mapped to real instants. The rrule library walks every occurrence from DTSTART on each question, so
 * a rule with a DTSTART long ago (FREQ=SECONDLY from last year: millions of occurrences) is first
 * moved forward: its DTSTART is advanced by a whole number of periods (FREQ × INTERVAL) to just
 * before the instant asked about, which keeps every later occurrence where it was. Rules with a COUNT
 * (counted from the original DTSTART), monthly or yearly rules (a few occurrences per year) and the
 * rules parseRule names off-grid are walked from their own DTSTART, in one pass.
 */

/** rrule is loaded on first use: most commands never meet an rrule schedule and start faster without it. */
let rruleModule: typeof import('rrule') | null = null;
function rrule(): typeof import('rrule') {
  rruleModule ??= createRequire(import.meta.url)('rrule') as typeof import('rrule');
  return rruleModule;
}

interface ParsedRule {
  rule: RRuleClass;
  zone: string;
  /** EXDATE wall-clock times (floating, as the rule's own coordinates), in ms. */
  exdates: Set<number>;
  /** FREQ × INTERVAL in ms when the rule may be moved forward (no COUNT; secondly to weekly), else null. */
  stepMs: number | null;
}

const parsedRules = boundedMemo<ParsedRule>(1000);
/** Three hours either side: wider than any DST change, so a folded or skipped hour is never missed. */
const FOLD_MS = 3 * 3_600_000;

/** One RRULE with an optional DTSTART and EXDATE lines (wall-clock times in the rule's zone); throws on anything else. */
export function parseRule(text: string): ParsedRule {
  return parsedRules(text, () => parseRuleText(text));
}

function parseRuleText(stored: string): ParsedRule {
  checkRuleParts(stored);
  // A rule stored before its DTSTART's VALUE parameter was rewritten: the library would not see its DTSTART.
  const text = normaliseDtstart(stored, false);
  const { rrulestr, RRule, RRuleSet } = rrule();
  const parsed = rrulestr(text, { forceset: false });
  let single: RRuleClass;
  let exdates: Date[] = [];
  if (parsed instanceof RRuleSet) {
    if (parsed.rrules().length !== 1 || parsed.rdates().length > 0 || parsed.exrules().length > 0) {
      throw new Error('only a single RRULE (with an optional DTSTART and EXDATE) is supported');
    }
    single = parsed.rrules()[0]!;
    exdates = parsed.exdates();
  } else if (parsed instanceof RRule) single = parsed;
  else throw new Error('only a single RRULE (with an optional DTSTART and EXDATE) is supported');
  const zone = single.origOptions.tzid ?? 'UTC';
  if (!IANAZone.isValidZone(zone)) throw new Error(`unknown time zone "${shown(zone)}"`);
  // The rule is walked in the zone's wall-clock time, where the library also puts a UNTIL or EXDATE given
  // in UTC (`…Z`, the form RFC 5545 requires for UNTIL beside a DTSTART with a TZID): they are written as
  // the zone's wall-clock time first (a UTC UNTIL was read as local time, a run too many or too few).
  const options = { ...single.origOptions, tzid: null };
  if (zone !== 'UTC') {
    if (options.until && /UNTIL=\d{8}T\d{6}Z/i.test(text)) options.until = new Date(floatingOf(options.until, zone));
    const utc = utcExdates(text);
    exdates = exdates.map((d) => (utc.has(d.getTime()) ? new Date(floatingOf(d, zone)) : d));
  }
  // No cache: the library's own memo of every question asked would grow for as long as the process runs.
  const floating = new RRule(options, true);
  const periods: Partial<Record<number, number>> = {
    [RRule.SECONDLY]: 1000,
    [RRule.MINUTELY]: 60_000,
    [RRule.HOURLY]: 3_600_000,
    [RRule.DAILY]: 86_400_000,
    [RRule.WEEKLY]: 7 * 86_400_000,
  };
  const o = floating.options;
  const period = periods[o.freq];
  const interval = o.interval || 1;
  // The library steps a secondly rule past an hour or minute its BYHOUR / BYMINUTE leave out (a minutely
  // one past an hour) a whole minute (hour) at a time, leaving the rule's grid unless INTERVAL divides
  // 60: its occurrences then depend on the whole walk from DTSTART, which must not move.
  const offGrid =
    60 % interval !== 0 &&
    ((o.freq === RRule.SECONDLY && (nonEmpty(o.byhour) || nonEmpty(o.byminute))) || (o.freq === RRule.MINUTELY && nonEmpty(o.byhour)));
  const stepMs = o.count == null && period !== undefined && !offGrid ? period * interval : null;
  return { rule: floating, zone, exdates: new Set(exdates.map((d) => d.getTime())), stepMs };
}

/**
 * The rule with its DTSTART line in the form the library reads: `DTSTART:VALUE` or
 * `DTSTART;TZID=ZONE:VALUE`. RFC 5545 also allows a `VALUE=DATE` or `VALUE=DATE-TIME` parameter,
 * which the library does not: it dropped such a DTSTART (the rule then started at the real time of
 * each evaluation) or read the parameter as the zone. Those are taken out here (a value of the other
 * kind refused). Any other parameter is refused when `strict` (a rule given to be stored or
 * previewed); a rule read back is left as it was stored.
 */
export function normaliseDtstart(text: string, strict: boolean): string {
  const lines = text.split(/\r?\n/);
  let changed = false;
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*DTSTART;([^:]*):(.*)$/i.exec(lines[i]!);
    if (!m) continue;
    let tzid: string | null = null;
    let kind: string | null = null;
    for (const param of m[1]!.split(';')) {
      const eq = param.indexOf('=');
      const key = (eq < 0 ? param : param.slice(0, eq)).toUpperCase();
      const value = eq < 0 ? '' : param.slice(eq + 1);
      const twice = (key === 'TZID' && tzid !== null) || (key === 'VALUE' && kind !== null);
      const known = key === 'TZID' ? value !== '' : key === 'VALUE' && /^DATE(-TIME)?$/i.test(value);
      if (!known || twice) {
        if (!strict) return text;
        throw new Error(
          twice ? `DTSTART parameter ${key} is given twice` : `DTSTART parameter "${shown(param)}" is not supported: a DTSTART may have TZID=ZONE and VALUE=DATE or VALUE=DATE-TIME`,
        );
      }
      if (key === 'TZID') tzid = value;
      else kind = value.toUpperCase();
    }
    const value = m[2]!.trim();
    if (kind !== null && /T/i.test(value) !== (kind === 'DATE-TIME')) {
      if (!strict) return text;
      throw new Error(`DTSTART "${shown(value)}" is not a ${kind === 'DATE' ? 'date (YYYYMMDD), as its VALUE=DATE says' : 'date-time (YYYYMMDDTHHMMSS), as its VALUE=DATE-TIME says'}`);
    }
    const line = `DTSTART${tzid !== null ? `;TZID=${tzid}` : ''}:${value}`;
    // A DTSTART already in the library's form is kept as written (the rule's line ends too).
    if (line !== lines[i]) [lines[i], changed] = [line, true];
  }
  return changed ? lines.join('\n') : text;
}

/** The instants (ms) of the EXDATE values given in UTC (`…Z`, on an EXDATE line without TZID). */
function utcExdates(text: string): Set<number> {
  const out = new Set<number>();
  for (const line of text.split(/\r?\n/)) {
    const m = /^EXDATE(;[^:]*)?:(.*)$/i.exec(line.trim());
    if (!m || /TZID=/i.test(m[1] ?? '')) continue;
    for (const v of m[2]!.split(',')) {
      const t = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/i.exec(v.trim());
      if (t) out.add(Date.UTC(+t[1]!, +t[2]! - 1, +t[3]!, +t[4]!, +t[5]!, +t[6]!));
    }
  }
  return out;
}

/** The integer parts of an RRULE and their ranges ([min, max]; `signed`: -max..-min accepted too). */
const INTEGER_PARTS: Record<string, { min: number; max: number; signed?: true; list?: true }> = {
  INTERVAL: { min: 1, max: 2_147_483_647 },
  COUNT: { min: 1, max: 2_147_483_647 },
  BYSECOND: { min: 0, max: 60, list: true },
  BYMINUTE: { min: 0, max: 59, list: true },
  BYHOUR: { min: 0, max: 23, list: true },
  BYMONTH: { min: 1, max: 12, list: true },
  BYMONTHDAY: { min: 1, max: 31, signed: true, list: true },
  BYYEARDAY: { min: 1, max: 366, signed: true, list: true },
  BYWEEKNO: { min: 1, max: 53, signed: true, list: true },
  BYSETPOS: { min: 1, max: 366, signed: true, list: true },
};
const FREQS = ['YEARLY', 'MONTHLY', 'WEEKLY', 'DAILY', 'HOURLY', 'MINUTELY', 'SECONDLY'];
const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];

/**
 * Checks each part of the rule's RRULE line before the library reads it: the library takes a negative
 * INTERVAL (and then walks backwards forever), a fractional or unreadable number, and an hour or minute
 * out of range (moved into the next day or hour) without a word.
 * `given`: a rule given to be stored or previewed (not one read back from the database) must also have
 * the shape RFC 5545 requires, which the library does not check: an RRULE line with FREQ, each part at
 * most once, not both COUNT and UNTIL. A rule stored before these checks keeps being evaluated as it was.
 */
export function checkRuleParts(text: string, given = false): void {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  // Years 0 to 99 would be read as 1900 to 1999 (JavaScript's two-digit years).
  for (const l of lines) {
    const start = /^DTSTART[^:]*:(\d{4})/i.exec(l);
    if (start && Number(start[1]) < 100) throw new Error(`DTSTART in the year ${start[1]}: rules starting before the year 0100 are not supported (a rule without DTSTART starts at its creation instant)`);
  }
  if (given) {
    for (const l of lines) {
      const m = /^(DTSTART|EXDATE)[^:]*:(.*)$/i.exec(l);
      if (m) for (const v of m[1]!.toUpperCase() === 'EXDATE' ? m[2]!.split(',') : [m[2]!]) checkDateTime(m[1]!.toUpperCase(), v.trim());
    }
  }
  const ruleLines = lines.filter((l) => /^RRULE:/i.test(l) || !/^(DTSTART|EXDATE|RDATE|EXRULE)[:;]/i.test(l));
  // Without a rule line the library makes up a yearly rule from DTSTART.
  if (given && ruleLines.length === 0) throw new Error('no RRULE line: a rule needs one, with FREQ (RRULE:FREQ=DAILY)');
  for (const line of ruleLines) {
    // RFC 5545: FREQ is required, each part appears at most once, and COUNT and UNTIL exclude each other
    // (the library reads a rule without FREQ as yearly, keeps the last of a repeated part, and ignores COUNT or UNTIL).
    const seen = new Set<string>();
    for (const part of line.replace(/^RRULE:/i, '').split(';')) {
      if (part === '') continue; // the library names an empty part itself
      const eq = part.indexOf('=');
      const key = (eq < 0 ? part : part.slice(0, eq)).toUpperCase();
      const value = eq < 0 ? '' : part.slice(eq + 1);
      const name = key === 'BYWEEKDAY' ? 'BYDAY' : key; // the library's other name for BYDAY
      if (given && seen.has(name)) throw new Error(`${key === name ? key : `${key} (BYDAY)`} is given twice: each part of the RRULE may appear once`);
      seen.add(name);
      const spec = INTEGER_PARTS[key];
      if (spec) {
        for (const v of spec.list ? value.split(',') : [value]) {
          const n = /^[+-]?\d{1,10}$/.test(v) ? Number(v) : NaN;
          const size = spec.signed ? Math.abs(n) : n;
          if (!(size >= spec.min && size <= spec.max)) {
            const range = spec.signed ? `${spec.min} to ${spec.max} or -${spec.max} to -${spec.min}` : `${spec.min} to ${spec.max}`;
            throw new Error(`${key}=${value}: ${spec.list ? 'each value ' : ''}must be an integer from ${range}`);
          }
        }
      } else if (key === 'FREQ') {
        if (!FREQS.includes(value.toUpperCase())) throw new Error(`FREQ=${value}: must be one of ${FREQS.join(', ')}`);
      } else if (key === 'WKST') {
        if (!DAYS.includes(value.toUpperCase())) throw new Error(`WKST=${value}: must be one of ${DAYS.join(', ')}`);
      } else if (key === 'BYDAY' || key === 'BYWEEKDAY') {
        for (const d of value.split(',')) {
          const m = /^([+-]?\d{1,2})?([A-Za-z]{2})$/.exec(d);
          const nth = m?.[1] === undefined ? null : Math.abs(Number(m[1]));
          if (!m || !DAYS.includes(m[2]!.toUpperCase()) || (nth !== null && (nth < 1 || nth > 53))) {
            throw new Error(`${key}=${value}: each value must be a weekday (MO to SU), optionally with an ordinal from 1 to 53 or -53 to -1 (2MO, -1FR)`);
          }
        }
      } else if (key === 'UNTIL') {
        if (given) checkDateTime('UNTIL', value);
      } else if (!['DTSTART', 'TZID', 'BYEASTER'].includes(key)) {
        throw new Error(`unknown part "${shown(part)}" of the RRULE`);
      }
    }
    if (!given) continue;
    if (!seen.has('FREQ')) throw new Error(`FREQ is missing: every RRULE needs one (one of ${FREQS.join(', ')})`);
    if (seen.has('COUNT') && seen.has('UNTIL')) throw new Error('COUNT and UNTIL are both given: an RRULE may end by one or the other, not both');
  }
}

/**
 * A DTSTART, UNTIL or EXDATE value: a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, Z for UTC)
 * that exists. The library moves an impossible one (February 30, hour 25) into the next month or day
 * without a word, and names every unreadable one UNTIL.
 */
function checkDateTime(part: string, value: string): void {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/i.exec(value);
  const bad = (why: string) => new Error(`${part} "${shown(value)}": ${why}`);
  if (!m) throw bad('must be a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, with Z for UTC)');
  const [y, mo, d, h = 0, mi = 0, sec = 0] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const days = mo! >= 1 && mo! <= 12 ? new Date(Date.UTC(y!, mo!, 0)).getUTCDate() : 0;
  if (days === 0 || d! < 1 || d! > days || h > 23 || mi > 59 || sec > 59) throw bad('no such date or time');
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

const SUB_DAILY_PARTS = [
  { name: 'BYSECOND', unit: 1, modulus: 60, of: (d: Date) => d.getUTCSeconds(), list: (o: RRuleClass['options']) => o.bysecond },
  { name: 'BYMINUTE', unit: 60, modulus: 60, of: (d: Date) => d.getUTCMinutes(), list: (o: RRuleClass['options']) => o.byminute },
  { name: 'BYHOUR', unit: 3600, modulus: 24, of: (d: Date) => d.getUTCHours(), list: (o: RRuleClass['options']) => o.byhour },
];

/**
 * Refuses a rule given to be stored or previewed (not one read back: such a rule had an occurrence
 * when it was stored, so it was not one of these) that the library would search for ever (it stops only past the year 9999, or never: its
 * step of an hourly to secondly rule loops until the hour, minute and second match their lists).
 * - An hourly, minutely or secondly rule whose step is a whole number of hours (minutes, seconds)
 *   moves that part of the time in steps of a fixed size, from DTSTART's: a list holding no value it
 *   reaches (BYSECOND=60 on FREQ=SECONDLY; BYMINUTE=1 on FREQ=MINUTELY;INTERVAL=2 from an even
 *   minute) is never matched.
 * - BYSETPOS positions beyond the most occurrences one period can hold (one for FREQ=SECONDLY) are
 *   never filled.
 */
export function checkRuleEnds(text: string): void {
  checkEnds(parseRule(text).rule);
}

function checkEnds(rule: RRuleClass): void {
  const { RRule } = rrule();
  const o = rule.options;
  const units: Partial<Record<number, number>> = { [RRule.HOURLY]: 3600, [RRule.MINUTELY]: 60, [RRule.SECONDLY]: 1 };
  const unit = units[o.freq];
  const interval = o.interval || 1;
  if (unit !== undefined) {
    const step = unit * interval;
    for (const part of SUB_DAILY_PARTS) {
      const list = part.list(o);
      if (part.unit < unit || step % part.unit !== 0 || !nonEmpty(list)) continue;
      const g = gcd(step / part.unit, part.modulus);
      const from = part.of(o.dtstart);
      if (!list!.some((v) => v < part.modulus && (((v - from) % g) + g) % g === 0)) {
        const reached = g === 1 ? `0 to ${part.modulus - 1}` : `${from % g}, ${(from % g) + g}, ... (every ${g} from DTSTART's ${from})`;
        throw new Error(`${part.name}=${list!.join(',')} is never reached: this rule's ${part.name.slice(2).toLowerCase()}s are ${reached}, so it has no occurrence`);
      }
    }
  }
  // A weekly to secondly rule steps day by day through days its day parts leave out: when they leave out
  // every day, it would walk to the year 9999. The calendar repeats every 400 years, so a yearly rule
  // with the same day parts walked through one such cycle (9600 to 9999, where the library stops) says.
  // The parts as the library reads them (its defaults from DTSTART filled in), week numbers counted from WKST.
  const monthdays = [...(o.bymonthday ?? []), ...(o.bynmonthday ?? [])];
  const dayParts = nonEmpty(o.byweekno) || nonEmpty(o.byyearday) || monthdays.length > 0 || nonEmpty(o.byweekday) || o.byeaster !== null;
  if (o.freq >= RRule.WEEKLY && dayParts) {
    const probe = new RRule(
      {
        freq: RRule.YEARLY,
        dtstart: new Date(Date.UTC(9600, 0, 1)),
        wkst: o.wkst,
        bymonth: nonEmpty(o.bymonth) ? o.bymonth : null,
        byweekno: nonEmpty(o.byweekno) ? o.byweekno : null,
        byyearday: nonEmpty(o.byyearday) ? o.byyearday : null,
        bymonthday: monthdays.length > 0 ? monthdays : null,
        byweekday: nonEmpty(o.byweekday) ? o.byweekday : null,
        byeaster: o.byeaster,
        byhour: 0,
        byminute: 0,
        bysecond: 0,
      },
      true,
    );
    if (probe.after(new Date(Date.UTC(9600, 0, 1)), true) === null) throw new Error('its day parts (BYMONTH, BYWEEKNO, BYYEARDAY, BYMONTHDAY, BYDAY) leave out every day, so it has no occurrence');
  }
  if (nonEmpty(o.bysetpos)) {
    const size = (list: number[] | null | undefined) => (nonEmpty(list) ? list!.length : 1);
    const perDay = (o.freq <= RRule.DAILY ? size(o.byhour) : 1) * (o.freq <= RRule.HOURLY ? size(o.byminute) : 1) * (o.freq <= RRule.MINUTELY ? size(o.bysecond) : 1);
    const days: Partial<Record<number, number>> = { [RRule.YEARLY]: 366, [RRule.MONTHLY]: 31, [RRule.WEEKLY]: 7 };
    const most = perDay * (days[o.freq] ?? 1);
    if (o.bysetpos.every((p) => Math.abs(p) > most)) {
      throw new Error(`BYSETPOS=${o.bysetpos.join(',')} is never filled: a period of this rule holds at most ${most} occurrence${most === 1 ? '' : 's'}`);
    }
  }
}

function nonEmpty(list: number[] | null | undefined): boolean {
  return list != null && list.length > 0;
}

/**
 * The rule with its DTSTART moved forward by whole periods to at least `back` periods before the
 * floating instant `cursor` (the rule itself when it cannot move or is already that close).
 */
function ruleNear(p: ParsedRule, cursor: number, back: number): RRuleClass {
  if (p.stepMs === null) return p.rule;
  const start = p.rule.options.dtstart.getTime();
  const k = Math.floor((cursor - start) / p.stepMs) - back;
  if (k <= 0) return p.rule;
  const { RRule } = rrule();
  return new RRule({ ...p.rule.origOptions, tzid: null, dtstart: new Date(start + k * p.stepMs) }, true);
}

/** The wall-clock time of `instant` in `zone`, written as a UTC date: the rule's own coordinate system. */
function floatingOf(instant: Date, zone: string): number {
  const l = DateTime.fromJSDate(instant, { zone });
  return Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute, l.second, l.millisecond);
}

/** The real instant of a floating wall-clock time in `zone` (a time in a DST gap moves forward; a repeated one is its first). */
function realOf(floating: Date, zone: string): Date {
  const real = DateTime.fromObject(
    {
      year: floating.getUTCFullYear(),
      month: floating.getUTCMonth() + 1,
      day: floating.getUTCDate(),
      hour: floating.getUTCHours(),
      minute: floating.getUTCMinutes(),
      second: floating.getUTCSeconds(),
      millisecond: floating.getUTCMilliseconds(),
    },
    { zone },
  );
  // A wall-clock time that happens twice (clocks set back) is taken at its first instant, as cron does.
  const earlier = real.minus({ minutes: real.minus({ hours: 6 }).offset - real.offset });
  return earlier < real && earlier.hour === real.hour && earlier.minute === real.minute && earlier.second === real.second ? earlier.toJSDate() : real.toJSDate();
}

/**
 * The zone's offset in ms when it is the same three hours either side of `instant` (no DST change
 * near: floating and real times differ by exactly it), else null.
 */
function steadyOffset(zone: string, instant: number): number | null {
  const z = IANAZone.create(zone);
  const offset = z.offset(instant - FOLD_MS);
  return z.offset(instant + FOLD_MS) === offset ? offset * 60_000 : null;
}

/** First occurrence strictly after `after` (EXDATEs skipped); null when the rule has none. */
export function rruleAfter(text: string, after: Date): Date | null {
  const p = parseRule(text);
  const t = after.getTime();
  const offset = steadyOffset(p.zone, t);
  const local = floatingOf(after, p.zone);
  // Near a DST change, walk from a little before `after` (a folded hour) and skip past it, in one pass.
  const from = offset === null ? local - FOLD_MS : local;
  let found: Date | null = null;
  ruleNear(p, from, 1).all((floating) => {
    const f = floating.getTime();
    if (f <= from || p.exdates.has(f)) return true;
    const real = offset !== null && f <= local + FOLD_MS ? new Date(f - offset) : realOf(floating, p.zone);
    if (real.getTime() <= t) return true;
    found = real;
    return false;
  });
  return found;
}

/** The latest occurrence at or before `at` (EXDATEs skipped); null when the rule has none. */
export function rruleBefore(text: string, at: Date): Date | null {
  const p = parseRule(text);
  const t = at.getTime();
  const offset = steadyOffset(p.zone, t);
  const local = floatingOf(at, p.zone);
  // Near a DST change, walk up to a little after `at` and take the last occurrence whose real instant is not after it.
  const to = offset === null ? local + FOLD_MS : local;
  // Moved forward, the walk may start after the last occurrence (a sparse rule): walk the stretch
  // before it, and so on back, each stretch longer than the last, until one holds an occurrence.
  let end = to;
  for (let back = 64; ; back *= 16) {
    const rule = ruleNear(p, to, back);
    const first = end === to;
    let last: Date | null = null;
    const near: Date[] = [];
    rule.all((floating) => {
      const f = floating.getTime();
      if (first ? f > end : f >= end) return false;
      if (p.exdates.has(f)) return true;
      if (offset === null && f > local - FOLD_MS) near.push(floating);
      else last = floating;
      return true;
    });
    for (let i = near.length - 1; i >= 0; i--) {
      const real = realOf(near[i]!, p.zone);
      if (real.getTime() <= t) return real;
    }
    if (last !== null) {
      const f = (last as Date).getTime();
      return offset !== null && f >= local - FOLD_MS ? new Date(f - offset) : realOf(last, p.zone);
    }
    if (rule === p.rule) return null;
    end = rule.options.dtstart.getTime();
  }
}

/** Whether the floating wall-clock time of `instant` is not itself an occurrence (a DST gap moved it). */
export function rruleMovedByDst(text: string, instant: Date): boolean {
  const p = parseRule(text);
  const local = floatingOf(instant, p.zone);
  return ruleNear(p, local, 1).before(new Date(local), true)?.getTime() !== local;
}
