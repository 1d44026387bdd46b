import { Cron } from 'croner';
import { DateTime, IANAZone } from 'luxon';
import { formatDuration } from './durations.js';
import { boundedMemo } from './memo.js';
import { invalid, shown } from './errors.js';
import type { CalendarSchedule, Schedule } from './model.js';
import { checkRuleEnds, checkRuleParts, normaliseDtstart, parseRule, rruleAfter, rruleBefore, rruleMovedByDst } from './rrule-eval.js';
import { CALENDAR_OPTION_FIELDS, normaliseCalendarOptions } from './schedule-options.js';

/** Validates a schedule and returns its normal form; `at` anchors an rrule that has no DTSTART. */
export function normaliseSchedule(input: unknown, at: Date, field = 'schedule'): Schedule {
  if (input === undefined || input === null) return { kind: 'adaptive' };
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid(field, 'must be an object with a "kind"');
  const s = input as Record<string, unknown>;
  const allowed: Record<string, readonly string[]> = {
    adaptive: ['kind'],
    cron: ['kind', 'expr', 'tz', ...CALENDAR_OPTION_FIELDS],
    rrule: ['kind', 'rule', ...CALENDAR_OPTION_FIELDS],
  };
  const kind = s.kind;
  if (typeof kind !== 'string' || !(kind in allowed)) throw invalid(`${field}.kind`, 'must be "adaptive", "cron" or "rrule"');
  for (const key of Object.keys(s)) {
    if (!allowed[kind]!.includes(key)) throw invalid(`${field}.${key}`, `unknown field for ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} schedule`);
  }
  if (kind === 'adaptive') return { kind: 'adaptive' };
  let base: CalendarSchedule;
  if (kind === 'cron') {
    const tz = s.tz === undefined ? 'UTC' : s.tz;
    if (typeof s.expr !== 'string' || s.expr.trim() === '') throw invalid(`${field}.expr`, 'a cron expression is required');
    if (typeof tz !== 'string' || !IANAZone.isValidZone(tz)) throw invalid(`${field}.tz`, `unknown time zone "${shown(tz)}"`);
    const expr = s.expr.trim();
    try {
      makeCron(expr, tz);
    } catch (e) {
      throw invalid(`${field}.expr`, `invalid cron expression ${JSON.stringify(shown(expr))}: ${oneLine((e as Error).message)}`);
    }
    const cron = makeCron(expr, tz);
    // At or after `at`, as the task's first run (firstOccurrence): the last occurrence before 3000 may be `at` itself.
    if (cronNext(cron, tz, new Date(at.getTime() - 1)) === null) {
      // Cron schedules end before the year 3000 (the library looks no further; a year field may name a later one).
      const why =
        at.getUTCFullYear() >= 2999 ? `has no occurrence after ${at.toISOString()} before the year 3000, where cron schedules end`
        : cron.nextRun(at) !== null ? 'has no occurrence before the year 3000, where cron schedules end'
        : 'never fires';
      throw invalid(`${field}.expr`, `cron expression ${JSON.stringify(shown(expr))} ${why}`);
    }
    base = { kind: 'cron', expr, tz };
  } else {
    if (typeof s.rule !== 'string' || s.rule.trim() === '') throw invalid(`${field}.rule`, 'an RFC 5545 rule is required');
    base = { kind: 'rrule', rule: anchorRule(s.rule.trim(), at, `${field}.rule`) };
  }
  const schedule: CalendarSchedule = { ...base, ...normaliseCalendarOptions(s, field) };
  checkOccurs(schedule, at, field);
  return schedule;
}

/** A schedule with options must still have an occurrence, and a jitter no longer than its shortest interval. */
function checkOccurs(schedule: CalendarSchedule, at: Date, field: string): void {
  const from = schedule.startAt && schedule.startAt > at.toISOString() ? new Date(schedule.startAt) : at;
  const first = firstOccurrence(schedule, from);
  if (first === null) {
    // The exclusions are to blame when the schedule has occurrences without them (before its endAt, if any).
    const { exclude, ...unexcluded } = schedule;
    const excludedAll = exclude !== undefined && firstOccurrence(unexcluded, from) !== null;
    const why = excludedAll ? `${field}.exclude` : schedule.endAt ? `${field}.endAt` : field;
    throw invalid(why, `the schedule has no occurrence from ${from.toISOString()}${schedule.endAt ? ` to ${schedule.endAt}` : ''}`);
  }
  if (schedule.jitterMs !== undefined) {
    const gap = shortestInterval(schedule, first);
    if (gap !== null && schedule.jitterMs > gap) {
      throw invalid(`${field}.jitter`, `must not be longer than the schedule's shortest interval (${formatDuration(gap)})`);
    }
  }
}

/**
 * The shortest time between consecutive occurrences (null: fewer than two): among the next `samples`
 * from `from`, and around each change of the zone's UTC offset in the year after it, where a DST
 * change shortens a gap (an occurrence at 01:00 and one at 03:00 an hour apart on a spring-forward
 * day) whether or not the first samples reach that far.
 */
export function shortestInterval(schedule: CalendarSchedule, from: Date, samples = 500): number | null {
  // A batch of tasks with one schedule asks once (the walk costs tens of milliseconds).
  const { jitterMs: _jitter, ...rest } = schedule;
  return gapsSeen(`${JSON.stringify(rest)} ${from.getTime()} ${samples}`, () => walkShortestInterval(schedule, from, samples));
}

/** Recent answers of shortestInterval, by schedule (its jitter aside) and instant. */
const gapsSeen = boundedMemo<number | null>(256);

function walkShortestInterval(schedule: CalendarSchedule, from: Date, samples: number): number | null {
  let gap: number | null = null;
  const walk = (start: Date | null, count: number) => {
    let prev = start;
    for (let i = 0; prev !== null && i < count; i++) {
      const next = nextOccurrenceOrNull(schedule, prev);
      if (next === null) break;
      const d = next.getTime() - prev.getTime();
      if (gap === null || d < gap) gap = d;
      prev = next;
    }
  };
  walk(firstOccurrence(schedule, from), samples);
  // Around each offset change in the year: from three occurrences before it, the next six gaps
  // (a DST change shortens only the gaps that straddle it).
  for (const change of offsetChanges(scheduleZone(schedule), from)) {
    let start: Date | null = null;
    let cursor = new Date(change);
    for (let i = 0; i < 3; i++) {
      const prev = previousOccurrenceOrNull(schedule, cursor);
      if (prev === null || prev.getTime() < from.getTime()) break;
      start = prev;
      cursor = new Date(prev.getTime() - 1);
    }
    walk(start ?? firstOccurrence(schedule, new Date(change)), 6);
  }
  return gap;
}

const DAY_MS = 86_400_000;

/** The offset changes of recent calls, by zone and day (a batch of tasks made at one instant asks once). */
const changesSeen = boundedMemo<number[]>(64);

/** The instants (ms) in the year after `from` at which `zone`'s UTC offset changes (found day by day, then to the minute). */
function offsetChanges(zone: string, from: Date): number[] {
  const day = Math.floor(from.getTime() / DAY_MS);
  return changesSeen(`${zone} ${day}`, () => {
    const offset = (ms: number) => DateTime.fromMillis(ms, { zone }).offset;
    const out: number[] = [];
    let before = offset(day * DAY_MS);
    for (let t = day * DAY_MS; t < (day + 366) * DAY_MS; t += DAY_MS) {
      const after = offset(t + DAY_MS);
      if (after === before) continue;
      let lo = t;
      let hi = t + DAY_MS;
      while (hi - lo > 60_000) {
        const mid = lo + Math.floor((hi - lo) / 2);
        if (offset(mid) === before) lo = mid;
        else hi = mid;
      }
      out.push(hi);
      before = after;
    }
    return out;
  });
}

/** First occurrence strictly after `after`, in the schedule's zone. Adaptive schedules have no occurrences. */
export function nextOccurrence(schedule: Schedule, after: Date): Date {
  const next = nextOccurrenceOrNull(schedule, after);
  if (next === null) throw invalid('schedule', 'the schedule has no occurrence after ' + after.toISOString());
  return next;
}

/**
 * First occurrence strictly after `after` that the schedule's bounds (`startAt`, `endAt`) and
 * exclusions let happen; null when there is none.
 */
export function nextOccurrenceOrNull(schedule: Schedule, after: Date): Date | null {
  if (schedule.kind === 'adaptive') throw new Error('an adaptive schedule has no occurrences');
  let cursor = after;
  if (schedule.startAt !== undefined) {
    const start = Date.parse(schedule.startAt);
    if (cursor.getTime() < start) cursor = new Date(start - 1);
  }
  const end = schedule.endAt === undefined ? Infinity : Date.parse(schedule.endAt);
  for (let i = 0; i < 100_000; i++) {
    const next = rawNext(schedule, cursor);
    if (next === null || next.getTime() > end) return null;
    const skip = exclusionEnd(schedule, next);
    if (skip === null) return next;
    cursor = skip;
  }
  return null;
}

/** The latest occurrence at or before `at` that bounds and exclusions let happen; null when there is none. */
export function previousOccurrenceOrNull(schedule: Schedule, at: Date): Date | null {
  if (schedule.kind === 'adaptive') throw new Error('an adaptive schedule has no occurrences');
  let cursor = at;
  if (schedule.endAt !== undefined) {
    const end = Date.parse(schedule.endAt);
    if (cursor.getTime() > end) cursor = new Date(end);
  }
  const start = schedule.startAt === undefined ? -Infinity : Date.parse(schedule.startAt);
  for (let i = 0; i < 100_000; i++) {
    const prev = rawPrevious(schedule, cursor);
    if (prev === null || prev.getTime() < start) return null;
    if (exclusionEnd(schedule, prev) === null) return prev;
    cursor = exclusionStart(schedule, prev);
  }
  return null;
}

/** First occurrence at or after `at` (the default `nextRun` of a new cron/rrule task). */
export function firstOccurrence(schedule: Schedule, at: Date): Date | null {
  return nextOccurrenceOrNull(schedule, new Date(at.getTime() - 1));
}

/** The IANA zone a cron or rrule schedule is evaluated in. */
export function scheduleZone(schedule: CalendarSchedule): string {
  return schedule.kind === 'cron' ? schedule.tz : parseRule(schedule.rule).zone;
}

function rawNext(schedule: CalendarSchedule, after: Date): Date | null {
  return schedule.kind === 'cron' ? cronNext(makeCron(schedule.expr, schedule.tz), schedule.tz, after) : rruleAfter(schedule.rule, after);
}

/** The latest raw occurrence at or before `at`. */
function rawPrevious(schedule: CalendarSchedule, at: Date): Date | null {
  if (schedule.kind === 'rrule') return rruleBefore(schedule.rule, at);
  return makeCron(schedule.expr, schedule.tz).previousRuns(1, new Date(at.getTime() + 1))[0] ?? null;
}

/**
 * Null when `instant` is not excluded; otherwise the instant to continue searching after: the end of
 * its excluded local day (so a minutely schedule does not step through a whole excluded day), or the
 * instant itself.
 */
function exclusionEnd(schedule: CalendarSchedule, instant: Date): Date | null {
  const hit = exclusionOf(schedule, instant);
  if (hit === null) return null;
  if (hit === 'instant') return instant;
  return new Date(DateTime.fromJSDate(instant, { zone: scheduleZone(schedule) }).endOf('day').toMillis());
}

/** Where to search backwards from past an excluded occurrence: the start of its local day, or just before it. */
function exclusionStart(schedule: CalendarSchedule, instant: Date): Date {
  if (exclusionOf(schedule, instant) === 'day') {
    return new Date(DateTime.fromJSDate(instant, { zone: scheduleZone(schedule) }).startOf('day').toMillis() - 1);
  }
  return new Date(instant.getTime() - 1);
}

function exclusionOf(schedule: CalendarSchedule, instant: Date): 'day' | 'instant' | null {
  if (schedule.exclude === undefined || schedule.exclude.length === 0) return null;
  const set = exclusionSet(schedule.exclude);
  if (set.has(instant.toISOString())) return 'instant';
  const day = DateTime.fromJSDate(instant, { zone: scheduleZone(schedule) }).toISODate();
  return day !== null && set.has(day) ? 'day' : null;
}

const exclusionSets = boundedMemo<Set<string>>(1000);
function exclusionSet(list: readonly string[]): Set<string> {
  return exclusionSets(list.join('|'), () => new Set(list));
}

/**
 * A cron in its zone. `no-wildcard`: a cron whose second, minute and hour fields have no `*` and no step
 * (`30 2 * * *`, `0,30 2 * * *`, `30 2,3 * * *`) keeps fixed wall-clock times, so each of its times in
 * a DST gap fires once, at the end of the gap, and each repeated one once, at its first instant; a cron
 * with a `*` or a step there (`30 * * * *`, `*\/15 2 * * *`) follows real time (none in the gap, both
 * passes of a repeated hour), as Vixie cron classifies them. Croner's default counted only single
 * values as fixed: `0,30 2 * * *` lost its run on the spring day and ran twice on the autumn one.
 */
function makeCron(expr: string, tz: string): Cron {
  return new Cron(expr, { timezone: tz, paused: true, fixedTimeRule: 'no-wildcard' });
}

/** Late in 2999 in every zone: occurrences before it are in a year before 3000 wherever they are seen. */
const CRON_END_NEAR = Date.UTC(2999, 11, 30);
/** Early in 3000 in every zone: no occurrence after it is before the year 3000 anywhere. */
const CRON_END_FAR = Date.UTC(3000, 0, 2);

/**
 * The cron's next occurrence after `after`, null from the year 3000 on (local time in `tz`): the cron
 * library looks no further without a year field, and one that names 3000 or later must not reach past it.
 */
function cronNext(cron: Cron, tz: string, after: Date): Date | null {
  // From the year 3000 in every zone on, there is none (the library fails on instants near JavaScript's last).
  if (after.getTime() >= CRON_END_FAR) return null;
  const next = cron.nextRun(after);
  if (next === null || next.getTime() < CRON_END_NEAR) return next;
  return DateTime.fromJSDate(next, { zone: tz }).year >= 3000 ? null : next;
}

/**
 * Whether an occurrence happens at a local time other than the one its schedule asked for: a wall-clock
 * time that does not exist (skipped by a DST change) moves forward, to the end of the gap.
 */
export function movedByDst(schedule: CalendarSchedule, instant: Date): boolean {
  if (schedule.kind === 'cron') return !makeCron(schedule.expr, schedule.tz).match(instant);
  return rruleMovedByDst(schedule.rule, instant);
}

function anchorRule(text: string, at: Date, field: string): string {
  let source: string;
  try {
    // Stored as the library reads it: without a VALUE parameter on its DTSTART.
    source = normaliseDtstart(text, true);
  } catch (e) {
    throw invalid(field, `invalid rrule ${JSON.stringify(shown(text))}: ${oneLine((e as Error).message)}`);
  }
  if (!/^DTSTART/im.test(source)) {
    // DTSTART has whole seconds: round up, so the first occurrence is not before `at`.
    const anchor = new Date(Math.ceil(at.getTime() / 1000) * 1000);
    const stamp = anchor.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    source = `DTSTART:${stamp}\n${/^RRULE:/im.test(source) ? source : `RRULE:${source}`}`;
  }
  try {
    checkRuleParts(source, true);
    checkRuleEnds(source);
  } catch (e) {
    throw invalid(field, `invalid rrule ${JSON.stringify(shown(text))}: ${oneLine((e as Error).message)}`);
  }
  if (rruleAfter(source, new Date(at.getTime() - 1)) === null) throw invalid(field, `rrule ${JSON.stringify(shown(text))} has no occurrence after ${at.toISOString()}`);
  return source;
}

/** A library's error message on one line (a rule of several lines is quoted with its line breaks escaped). */
function oneLine(message: string): string {
  // Bounded: a library's message may quote the whole input (a cron or rrule of 100,000 characters).
  return shown(message.replace(/\r?\n/g, '\\n'));
}
