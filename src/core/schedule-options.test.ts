import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import type { CalendarSchedule } from './model.js';
import { firstOccurrence, nextOccurrenceOrNull, normaliseSchedule, previousOccurrenceOrNull, shortestInterval } from './schedule.js';

const iso = (s: string): Date => new Date(s);
const AT = iso('2026-01-01T00:00:00.000Z');
const norm = (s: unknown, at = AT) => normaliseSchedule(s, at) as CalendarSchedule;

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).details[0]?.path;
  }
  throw new Error('expected a ValidationError');
}

function series(s: CalendarSchedule, after: string, n: number): string[] {
  const out: string[] = [];
  for (let c: Date | null = iso(after), i = 0; i < n; i++) {
    c = nextOccurrenceOrNull(s, c!);
    if (c === null) break;
    out.push(c.toISOString());
  }
  return out;
}

describe('schedule options: normal form', () => {
  it('keeps only options that differ from their defaults, durations in ms, instants in UTC', () => {
    expect(norm({ kind: 'cron', expr: '0 * * * *', catchUp: 'latest', jitter: '0s' })).toEqual({ kind: 'cron', expr: '0 * * * *', tz: 'UTC' });
    expect(
      norm({ kind: 'cron', expr: '0 * * * *', catchUp: 'all', catchUpWindow: '6h', jitter: '5m', startAt: '2026-02-01T01:00:00+01:00', endAt: '2026-03-01', exclude: ['2026-02-14', '2026-02-10T10:00:00+01:00', '2026-02-14'] }),
    ).toEqual({
      kind: 'cron', expr: '0 * * * *', tz: 'UTC', catchUp: 'all', catchUpWindowMs: 6 * 3_600_000, jitterMs: 300_000,
      startAt: '2026-02-01T00:00:00.000Z', endAt: '2026-03-01T00:00:00.000Z', exclude: ['2026-02-10T09:00:00.000Z', '2026-02-14'],
    });
  });

  it.each([
    [{ catchUp: 'some' }, 'schedule.catchUp'],
    [{ catchUpWindow: -1 }, 'schedule.catchUpWindow'],
    [{ catchUpWindow: '-5m' }, 'schedule.catchUpWindow'],
    [{ catchUp: 'none', catchUpWindow: '1h' }, 'schedule.catchUpWindow'],
    [{ jitter: '-1s' }, 'schedule.jitter'],
    [{ jitter: '61m' }, 'schedule.jitter'],
    [{ startAt: 'tomorrow' }, 'schedule.startAt'],
    [{ startAt: '2026-02-01', endAt: '2026-01-31' }, 'schedule.endAt'],
    [{ endAt: '2025-12-31' }, 'schedule.endAt'],
    [{ exclude: '2026-12-25' }, 'schedule.exclude'],
    [{ exclude: ['2026-02-30'] }, 'schedule.exclude[0]'],
    [{ bogus: 1 }, 'schedule.bogus'],
  ])('rejects %j naming %s', (options, path) => {
    expect(fieldOf(() => norm({ kind: 'cron', expr: '0 * * * *', ...options }))).toBe(path);
  });

  it('a schedule left with no occurrence names what emptied it: the exclusions when it has occurrences without them, else its end', () => {
    const daily = { kind: 'cron', expr: '0 12 * * *' };
    // Two days before its end, both excluded: the exclusions emptied it, not the end.
    expect(fieldOf(() => norm({ ...daily, endAt: '2026-01-03', exclude: ['2026-01-01', '2026-01-02'] }))).toBe('schedule.exclude');
    // Ended before any occurrence: the end, whatever is excluded.
    expect(fieldOf(() => norm({ ...daily, endAt: '2026-01-01T06:00:00Z', exclude: ['2026-01-05'] }))).toBe('schedule.endAt');
    expect(fieldOf(() => norm({ kind: 'rrule', rule: 'FREQ=DAILY;COUNT=1', exclude: ['2026-01-01'] }))).toBe('schedule.exclude');
  });

  it('a jitter equal to the shortest interval is accepted; the shortest interval counts uneven gaps', () => {
    expect(norm({ kind: 'cron', expr: '0 * * * *', jitter: '1h' }).jitterMs).toBe(3_600_000);
    // 09:00 and 10:00 every day: the shortest gap is 1h, not 23h
    expect(fieldOf(() => norm({ kind: 'cron', expr: '0 9,10 * * *', jitter: '2h' }))).toBe('schedule.jitter');
    expect(shortestInterval(norm({ kind: 'cron', expr: '0 9,10 * * *' }), AT)).toBe(3_600_000);
    // a rule with a single occurrence has no interval: any jitter goes
    expect(norm({ kind: 'rrule', rule: 'FREQ=DAILY;COUNT=1', jitter: '30d' }).jitterMs).toBe(30 * 86_400_000);
  });

  it("counts the gaps a DST change shortens, however far it is past the first 500 occurrences", () => {
    // 01:00 and 03:00 in Paris are 2h apart, except on the spring-forward day (2027-03-28): 1h. Made in
    // April, the first 500 occurrences end before that day (the jitter of 2h was accepted, and jittered
    // runs overtook each other there).
    const april = iso('2026-04-01T00:00:00.000Z');
    const paris = { kind: 'cron', expr: '0 1,3 * * *', tz: 'Europe/Paris' };
    expect(shortestInterval(norm(paris, april), april)).toBe(3_600_000);
    expect(fieldOf(() => norm({ ...paris, jitter: '2h' }, april))).toBe('schedule.jitter');
    expect(fieldOf(() => norm({ ...paris, jitter: '2h' }, iso('2026-12-01T00:00:00.000Z')))).toBe('schedule.jitter');
    expect(norm({ ...paris, jitter: '1h' }, april).jitterMs).toBe(3_600_000);
    // An hourly schedule: no gap shorter than an hour on either change (the skipped hour has no occurrence).
    expect(shortestInterval(norm({ kind: 'cron', expr: '0 * * * *', tz: 'Europe/Paris' }, april), april)).toBe(3_600_000);
    // Lord Howe moves by half an hour: 01:45 and 02:45 local are 30 min apart on its spring-forward day.
    expect(shortestInterval(norm({ kind: 'cron', expr: '45 1,2 * * *', tz: 'Australia/Lord_Howe' }, april), april)).toBe(1_800_000);
  });

  it('an endAt equal to startAt allows the one occurrence at that instant', () => {
    const s = norm({ kind: 'cron', expr: '0 * * * *', startAt: '2026-01-02T05:00:00Z', endAt: '2026-01-02T05:00:00Z' });
    expect(firstOccurrence(s, AT)?.toISOString()).toBe('2026-01-02T05:00:00.000Z');
    expect(nextOccurrenceOrNull(s, iso('2026-01-02T05:00:00Z'))).toBeNull();
  });
});

describe('bounds and exclusions', () => {
  const daily = (extra: object = {}) => norm({ kind: 'cron', expr: '0 9 * * *', tz: 'Europe/Paris', ...extra });

  it('startAt: no occurrence before it, including an occurrence exactly at it', () => {
    const s = daily({ startAt: '2026-01-05T08:00:00Z' });
    expect(firstOccurrence(s, AT)?.toISOString()).toBe('2026-01-05T08:00:00.000Z');
    expect(previousOccurrenceOrNull(s, iso('2026-01-05T07:59:59.999Z'))).toBeNull();
  });

  it('endAt: the last occurrence is the one at or before it', () => {
    const s = daily({ endAt: '2026-01-03T08:00:00Z' });
    expect(series(s, '2026-01-01T12:00:00Z', 5)).toEqual(['2026-01-02T08:00:00.000Z', '2026-01-03T08:00:00.000Z']);
    expect(previousOccurrenceOrNull(s, iso('2026-01-09T00:00:00Z'))?.toISOString()).toBe('2026-01-03T08:00:00.000Z');
  });

  it('an excluded local date drops every occurrence on that day in the zone, an excluded instant just that one', () => {
    const s = daily({ exclude: ['2026-01-03', '2026-01-05T08:00:00Z'] });
    expect(series(s, '2026-01-01T12:00:00Z', 3)).toEqual(['2026-01-02T08:00:00.000Z', '2026-01-04T08:00:00.000Z', '2026-01-06T08:00:00.000Z']);
    expect(previousOccurrenceOrNull(s, iso('2026-01-05T12:00:00Z'))?.toISOString()).toBe('2026-01-04T08:00:00.000Z');
    // a minutely schedule skips a whole excluded day in one step
    const minutely = norm({ kind: 'cron', expr: '* * * * *', tz: 'Europe/Paris', exclude: ['2026-01-03'] });
    expect(nextOccurrenceOrNull(minutely, iso('2026-01-02T22:59:00Z'))?.toISOString()).toBe('2026-01-03T23:00:00.000Z');
  });

  it('rrule EXDATE lines are wall-clock times in the rule zone', () => {
    const s = norm({ kind: 'rrule', rule: 'DTSTART;TZID=Europe/Paris:20260101T090000\nRRULE:FREQ=DAILY\nEXDATE;TZID=Europe/Paris:20260102T090000' });
    expect(series(s, '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-01T08:00:00.000Z', '2026-01-03T08:00:00.000Z']);
    expect(previousOccurrenceOrNull(s, iso('2026-01-02T12:00:00Z'))?.toISOString()).toBe('2026-01-01T08:00:00.000Z');
  });

  it('a schedule whose every occurrence is excluded is refused, naming exclude', () => {
    expect(fieldOf(() => norm({ kind: 'rrule', rule: 'DTSTART:20260102T000000Z\nRRULE:FREQ=DAILY;COUNT=1', exclude: ['2026-01-02'] }))).toBe('schedule.exclude');
  });

  it('previous occurrence across DST: the repeated hour and the gap', () => {
    const s = norm({ kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Paris' });
    // the gap night: 02:30 does not exist, the occurrence moved to 03:00 CEST (01:00Z)
    expect(previousOccurrenceOrNull(s, iso('2026-03-29T06:00:00Z'))?.toISOString()).toBe('2026-03-29T01:00:00.000Z');
    // the repeat night: the first 02:30 (CEST, 00:30Z) only
    expect(previousOccurrenceOrNull(s, iso('2026-10-25T06:00:00Z'))?.toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });
});
