import { Cron } from 'croner';
import { DateTime, IANAZone } from 'luxon';
import { createRequire } from 'node:module';
import type { RRule as RRuleClass } from 'rrule';
import { invalid } from './errors.js';
import type { Schedule } from './model.js';

/** rrule is loaded on first use: most commands never meet an rrule schedule and start faster without it. */
let rruleModule: typeof import('rrule') | null = null;
function rrule(): typeof import('rrule') {
  rruleModule ??= createRequire(import.meta.url)('rrule') as typeof import('rrule');
  return rruleModule;
}

/** Validates a schedule and returns its normal form; `at` anchors an rrule that has no DTSTART. */
export function normaliseSchedule(input: unknown, at: Date, field = 'schedule'): Schedule {
  if (input === undefined || input === null) return { kind: 'adaptive' };
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid(field, 'must be an object with a "kind"');
  const s = input as Record<string, unknown>;
  const allowed: Record<string, string[]> = { adaptive: ['kind'], cron: ['kind', 'expr', 'tz'], rrule: ['kind', 'rule'] };
  const kind = s.kind;
  if (typeof kind !== 'string' || !(kind in allowed)) throw invalid(`${field}.kind`, 'must be "adaptive", "cron" or "rrule"');
  for (const key of Object.keys(s)) {
    if (!allowed[kind]!.includes(key)) throw invalid(`${field}.${key}`, `unknown field for a ${kind} schedule`);
  }
  if (kind === 'adaptive') return { kind: 'adaptive' };
  if (kind === 'cron') {
    const tz = s.tz === undefined ? 'UTC' : s.tz;
    if (typeof s.expr !== 'string' || s.expr.trim() === '') throw invalid(`${field}.expr`, 'a cron expression is required');
    if (typeof tz !== 'string' || !IANAZone.isValidZone(tz)) throw invalid(`${field}.tz`, `unknown time zone "${String(tz)}"`);
    const expr = s.expr.trim();
    try {
      makeCron(expr, tz);
    } catch (e) {
      throw invalid(`${field}.expr`, `invalid cron expression "${expr}": ${(e as Error).message}`);
    }
    if (makeCron(expr, tz).nextRun(at) === null) throw invalid(`${field}.expr`, `cron expression "${expr}" never fires`);
    return { kind: 'cron', expr, tz };
  }
  if (typeof s.rule !== 'string' || s.rule.trim() === '') throw invalid(`${field}.rule`, 'an RFC 5545 rule is required');
  const rule = anchorRule(s.rule.trim(), at, `${field}.rule`);
  return { kind: 'rrule', rule };
}

/** First occurrence strictly after `after`, in the schedule's zone. Adaptive schedules have no occurrences. */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const next = nextOccurrenceOrNull(schedule, after);
  if (next === null) throw invalid('schedule', 'the schedule has no occurrence after ' + after.toISOString());
  return next;
}

export function nextOccurrenceOrNull(schedule: Schedule, after: Date): Date | null {
  if (schedule.kind === 'cron') return makeCron(schedule.expr, schedule.tz).nextRun(after);
  if (schedule.kind === 'rrule') return rruleAfter(schedule.rule, after);
  throw new Error('an adaptive schedule has no occurrences');
}

/** First occurrence at or after `at` (the default `nextRun` of a new cron/rrule task). */
export function firstOccurrence(schedule: Schedule, at: Date): Date | null {
  return nextOccurrenceOrNull(schedule, new Date(at.getTime() - 1));
}

function makeCron(expr: string, tz: string): Cron {
  return new Cron(expr, { timezone: tz, paused: true });
}

interface ParsedRule {
  rule: RRuleClass;
  zone: string;
}

const ruleCache = new Map<string, ParsedRule>();

/** Rules are evaluated in "floating" wall-clock time (as if the zone were UTC), then mapped to real instants. */
function parseRule(text: string): ParsedRule {
  const cached = ruleCache.get(text);
  if (cached) return cached;
  const { rrulestr, RRule } = rrule();
  const parsed = rrulestr(text, { forceset: false });
  if (!(parsed instanceof RRule)) throw new Error('only a single RRULE (with an optional DTSTART) is supported');
  const zone = parsed.origOptions.tzid ?? 'UTC';
  if (!IANAZone.isValidZone(zone)) throw new Error(`unknown time zone "${zone}"`);
  const floating = new RRule({ ...parsed.origOptions, tzid: null });
  const result = { rule: floating, zone };
  if (ruleCache.size > 1000) ruleCache.clear();
  ruleCache.set(text, result);
  return result;
}

function rruleAfter(text: string, after: Date): Date | null {
  const { rule, zone } = parseRule(text);
  // Wall-clock time of `after` in the zone, written as a UTC date: the rule's own coordinate system.
  const local = DateTime.fromJSDate(after, { zone });
  let cursor = new Date(Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second, local.millisecond));
  cursor = new Date(cursor.getTime() - 3_600_000 * 3); // fold-safe: start a little before and skip past `after`
  for (let i = 0; i < 1000; i++) {
    const floating = rule.after(cursor, false);
    if (floating === null) return null;
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
    ).toJSDate();
    if (real.getTime() > after.getTime()) return real;
    cursor = floating;
  }
  return null;
}

function anchorRule(text: string, at: Date, field: string): string {
  let source = text;
  if (!/^DTSTART/im.test(source)) {
    // DTSTART has whole seconds: round up, so the first occurrence is not before `at`.
    const anchor = new Date(Math.ceil(at.getTime() / 1000) * 1000);
    const stamp = anchor.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    source = `DTSTART:${stamp}\n${/^RRULE:/im.test(source) ? source : `RRULE:${source}`}`;
  }
  try {
    parseRule(source);
  } catch (e) {
    throw invalid(field, `invalid rrule "${text}": ${(e as Error).message}`);
  }
  if (rruleAfter(source, new Date(at.getTime() - 1)) === null) throw invalid(field, `rrule "${text}" has no occurrence after ${at.toISOString()}`);
  return source;
}
