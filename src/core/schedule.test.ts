import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import type { Schedule } from './model.js';
import { firstOccurrence, nextOccurrence, nextOccurrenceOrNull, normaliseSchedule } from './schedule.js';

const iso = (s: string): Date => new Date(s);
const AT = iso('2026-01-01T00:00:00.000Z');

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

/** The next `n` occurrences strictly after `after`. */
function series(schedule: Schedule, after: string, n: number): string[] {
  const out: string[] = [];
  let cursor = iso(after);
  for (let i = 0; i < n; i++) {
    cursor = nextOccurrence(schedule, cursor);
    out.push(cursor.toISOString());
  }
  return out;
}

describe('normaliseSchedule', () => {
  it('undefined and null mean adaptive', () => {
    expect(normaliseSchedule(undefined, AT)).toEqual({ kind: 'adaptive' });
    expect(normaliseSchedule(null, AT)).toEqual({ kind: 'adaptive' });
    expect(normaliseSchedule({ kind: 'adaptive' }, AT)).toEqual({ kind: 'adaptive' });
  });

  it('a cron schedule keeps its expression (trimmed) and zone; tz defaults to UTC', () => {
    expect(normaliseSchedule({ kind: 'cron', expr: ' 0 3 * * * ', tz: 'Europe/Warsaw' }, AT)).toEqual({
      kind: 'cron',
      expr: '0 3 * * *',
      tz: 'Europe/Warsaw',
    });
    expect(normaliseSchedule({ kind: 'cron', expr: '*/5 * * * *' }, AT)).toEqual({ kind: 'cron', expr: '*/5 * * * *', tz: 'UTC' });
  });

  it.each([
    [{ kind: 'cron', expr: '61 * * * *' }, 'schedule.expr'],
    [{ kind: 'cron', expr: 'every day' }, 'schedule.expr'],
    [{ kind: 'cron', expr: '* * *' }, 'schedule.expr'],
    [{ kind: 'cron', expr: '' }, 'schedule.expr'],
    [{ kind: 'cron' }, 'schedule.expr'],
    [{ kind: 'cron', expr: '0 0 31 2 *' }, 'schedule.expr'],
    [{ kind: 'cron', expr: '0 3 * * *', tz: 'Mars/Olympus' }, 'schedule.tz'],
    [{ kind: 'cron', expr: '0 3 * * *', tz: 42 }, 'schedule.tz'],
  ])('cron %j is rejected naming %s', (input, path) => {
    const e = errorOf(() => normaliseSchedule(input, AT));
    expect(e.message.startsWith(`${path}: `)).toBe(true);
    expect(e.details[0]?.path).toBe(path);
  });

  it('the field prefix is configurable', () => {
    expect(errorOf(() => normaliseSchedule({ kind: 'cron', expr: 'bad' }, AT, 'tasks[3].schedule')).message).toMatch(/^tasks\[3\]\.schedule\.expr: invalid cron expression "bad"/);
    expect(errorOf(() => normaliseSchedule({ kind: 'cron', expr: '* * * * *', tz: 'Nowhere/Town' }, AT, 'tasks[3].schedule')).message).toBe(
      'tasks[3].schedule.tz: unknown time zone "Nowhere/Town"',
    );
  });

  it('rejects unknown fields, naming them', () => {
    expect(errorOf(() => normaliseSchedule({ kind: 'cron', expr: '* * * * *', timezone: 'UTC' }, AT)).message).toBe(
      'schedule.timezone: unknown field for a cron schedule',
    );
    expect(errorOf(() => normaliseSchedule({ kind: 'adaptive', expr: '* * * * *' }, AT)).message).toBe('schedule.expr: unknown field for an adaptive schedule');
    expect(errorOf(() => normaliseSchedule({ kind: 'rrule', rule: 'FREQ=DAILY', tz: 'UTC' }, AT)).details[0]?.path).toBe('schedule.tz');
  });

  it.each([[{ kind: 'weekly' }], [{}], ['cron'], [[{ kind: 'cron' }]], [42]])('rejects %j (no valid kind)', (input) => {
    const e = errorOf(() => normaliseSchedule(input, AT));
    expect(e.message).toMatch(/^schedule(\.kind)?: /);
  });

  it('an rrule without DTSTART is anchored at `at`', () => {
    expect(normaliseSchedule({ kind: 'rrule', rule: 'FREQ=DAILY' }, iso('2026-02-03T04:05:06.000Z'))).toEqual({
      kind: 'rrule',
      rule: 'DTSTART:20260203T040506Z\nRRULE:FREQ=DAILY',
    });
    // DTSTART has whole seconds: a fractional `at` rounds up, so the first occurrence is not before `at`.
    const at = iso('2026-02-03T04:05:06.789Z');
    const s = normaliseSchedule({ kind: 'rrule', rule: 'RRULE:FREQ=HOURLY;INTERVAL=2' }, at);
    expect(s).toEqual({ kind: 'rrule', rule: 'DTSTART:20260203T040507Z\nRRULE:FREQ=HOURLY;INTERVAL=2' });
    expect(firstOccurrence(s, at)?.toISOString()).toBe('2026-02-03T04:05:07.000Z');
    expect(normaliseSchedule({ kind: 'rrule', rule: 'FREQ=DAILY;COUNT=1' }, at)).toMatchObject({ kind: 'rrule' });
  });

  it('an anchored rrule fires from `at` on', () => {
    const s = normaliseSchedule({ kind: 'rrule', rule: 'FREQ=DAILY' }, iso('2026-02-03T04:05:06.000Z'));
    expect(firstOccurrence(s, iso('2026-02-03T04:05:06.000Z'))?.toISOString()).toBe('2026-02-03T04:05:06.000Z');
    expect(series(s, '2026-02-03T04:05:06.000Z', 2)).toEqual(['2026-02-04T04:05:06.000Z', '2026-02-05T04:05:06.000Z']);
  });

  it('an rrule with its own DTSTART is kept as given', () => {
    const rule = 'DTSTART;TZID=America/New_York:20260101T090000\nRRULE:FREQ=DAILY';
    expect(normaliseSchedule({ kind: 'rrule', rule }, AT)).toEqual({ kind: 'rrule', rule });
  });

  it.each([
    ['DTSTART;VALUE=DATE:20270327\nRRULE:FREQ=DAILY', 'DTSTART:20270327\nRRULE:FREQ=DAILY', '2027-03-27T00:00:00.000Z'],
    ['DTSTART;VALUE=DATE-TIME:20270327T090000Z\nRRULE:FREQ=DAILY', 'DTSTART:20270327T090000Z\nRRULE:FREQ=DAILY', '2027-03-27T09:00:00.000Z'],
    ['dtstart;tzid=Europe/Paris;value=date-time:20270327T090000\nRRULE:FREQ=DAILY', 'DTSTART;TZID=Europe/Paris:20270327T090000\nRRULE:FREQ=DAILY', '2027-03-27T08:00:00.000Z'],
    ['DTSTART;VALUE=DATE-TIME;TZID=Europe/Paris:20270327T090000\nRRULE:FREQ=DAILY', 'DTSTART;TZID=Europe/Paris:20270327T090000\nRRULE:FREQ=DAILY', '2027-03-27T08:00:00.000Z'],
  ])("an rrule's DTSTART with a VALUE parameter (RFC 5545) is stored without it: %j (it was dropped, the rule starting at each evaluation's real time, or refused naming UNTIL) (time zone audit)", (rule, stored, first) => {
    const s = normaliseSchedule({ kind: 'rrule', rule }, AT);
    expect(s).toEqual({ kind: 'rrule', rule: stored });
    expect(firstOccurrence(s, AT)?.toISOString()).toBe(first);
  });

  it.each([
    ['DTSTART;FOO=BAR:20270327\nRRULE:FREQ=DAILY', 'DTSTART parameter "FOO=BAR" is not supported: a DTSTART may have TZID=ZONE and VALUE=DATE or VALUE=DATE-TIME'],
    ['DTSTART;VALUE=DATE:20270327T090000\nRRULE:FREQ=DAILY', 'DTSTART "20270327T090000" is not a date (YYYYMMDD), as its VALUE=DATE says'],
    ['DTSTART;VALUE=DATE-TIME:20270327\nRRULE:FREQ=DAILY', 'DTSTART "20270327" is not a date-time (YYYYMMDDTHHMMSS), as its VALUE=DATE-TIME says'],
    ['DTSTART;TZID=Europe/Paris;TZID=UTC:20270327T090000\nRRULE:FREQ=DAILY', 'DTSTART parameter TZID is given twice'],
  ])('refuses a DTSTART parameter it cannot honour: %j', (rule, why) => {
    expect(errorOf(() => normaliseSchedule({ kind: 'rrule', rule }, AT)).message).toBe(`schedule.rule: invalid rrule ${JSON.stringify(rule)}: ${why}`);
  });

  it.each([
    'FREQ=BOGUS',
    'FOO=BAR',
    'garbage',
    'DTSTART;TZID=Mars/Olympus:20260101T000000\nRRULE:FREQ=DAILY',
  ])('rejects the invalid rrule %j naming schedule.rule', (rule) => {
    const e = errorOf(() => normaliseSchedule({ kind: 'rrule', rule }, AT));
    expect(e.message).toMatch(/^schedule\.rule: invalid rrule/);
    expect(e.message).not.toContain('\n'); // one line: a rule of several lines is quoted escaped
  });

  it.each([
    ['FREQ=DAILY;INTERVAL=-1', 'INTERVAL=-1: must be an integer from 1 to 2147483647'],
    ['FREQ=DAILY;INTERVAL=abc', 'INTERVAL=abc: must be an integer'],
    ['FREQ=DAILY;INTERVAL=1.5', 'INTERVAL=1.5: must be an integer'],
    ['FREQ=DAILY;INTERVAL=1e309', 'INTERVAL=1e309: must be an integer'],
    ['FREQ=DAILY;COUNT=-1', 'COUNT=-1: must be an integer'],
    ['FREQ=DAILY;BYHOUR=25', 'BYHOUR=25: each value must be an integer from 0 to 23'],
    ['FREQ=DAILY;BYMINUTE=-1', 'BYMINUTE=-1: each value must be an integer from 0 to 59'],
    ['FREQ=MONTHLY;BYMONTHDAY=0', 'BYMONTHDAY=0: each value must be an integer from 1 to 31 or -31 to -1'],
    ['FREQ=DAILY;WKST=XX', 'WKST=XX: must be one of MO'],
    ['FREQ=WEEKLY;BYDAY=MO,XX', 'BYDAY=MO,XX: each value must be a weekday'],
    ['FREQ=DAILY;X-NAME=1', 'unknown part "X-NAME=1"'],
    // RFC 5545: FREQ is required, each part once, COUNT or UNTIL (the library read these as yearly, kept the last part, dropped one end)
    ['INTERVAL=2', 'FREQ is missing: every RRULE needs one (one of YEARLY, MONTHLY, WEEKLY, DAILY, HOURLY, MINUTELY, SECONDLY)'],
    ['DTSTART:20260101T000000Z\nRRULE:INTERVAL=2', 'FREQ is missing'],
    ['DTSTART:20260101T000000Z\nRRULE:', 'FREQ is missing'],
    ['DTSTART:20260101T000000Z', 'no RRULE line: a rule needs one, with FREQ (RRULE:FREQ=DAILY)'],
    ['DTSTART:20260101T000000Z\nEXDATE:20260102T000000Z', 'no RRULE line'],
    ['FREQ=DAILY;FREQ=WEEKLY', 'FREQ is given twice: each part of the RRULE may appear once'],
    ['FREQ=DAILY;INTERVAL=2;INTERVAL=3', 'INTERVAL is given twice'],
    ['FREQ=DAILY;interval=2;INTERVAL=2', 'INTERVAL is given twice'],
    ['FREQ=WEEKLY;BYDAY=MO;BYWEEKDAY=TU', 'BYWEEKDAY (BYDAY) is given twice'],
    ['FREQ=DAILY;COUNT=3;UNTIL=20300101T000000Z', 'COUNT and UNTIL are both given: an RRULE may end by one or the other, not both'],
    // Dates that do not exist (the library moved them into the next month or day) and unreadable ones (it named them UNTIL)
    ['DTSTART:20260230T250000Z\nRRULE:FREQ=DAILY', 'DTSTART "20260230T250000Z": no such date or time'],
    ['DTSTART:20261301T000000Z\nRRULE:FREQ=DAILY', 'DTSTART "20261301T000000Z": no such date or time'],
    ['FREQ=DAILY;UNTIL=20261332T000000Z', 'UNTIL "20261332T000000Z": no such date or time'],
    ['DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY\nEXDATE:20260102T000000Z,garbage', 'EXDATE "garbage": must be a date (YYYYMMDD) or a date-time (YYYYMMDDTHHMMSS, with Z for UTC)'],
    // Rules the library would search for ever (or to the year 9999): refused at once
    ['FREQ=SECONDLY;BYSECOND=60', "BYSECOND=60 is never reached: this rule's seconds are 0 to 59, so it has no occurrence"],
    ['DTSTART:20260101T000000Z\nRRULE:FREQ=MINUTELY;INTERVAL=2;BYMINUTE=1,59', "BYMINUTE=1,59 is never reached: this rule's minutes are 0, 2, ... (every 2 from DTSTART's 0)"],
    ['DTSTART:20260101T010000Z\nRRULE:FREQ=HOURLY;INTERVAL=6;BYHOUR=0,12', "BYHOUR=0,12 is never reached: this rule's hours are 1, 7, ... (every 6 from DTSTART's 1)"],
    ['DTSTART:20260101T000000Z\nRRULE:FREQ=SECONDLY;INTERVAL=7200;BYHOUR=1', 'BYHOUR=1 is never reached'],
    ['FREQ=SECONDLY;BYSETPOS=2', 'BYSETPOS=2 is never filled: a period of this rule holds at most 1 occurrence'],
    ['FREQ=DAILY;BYHOUR=1,2;BYSETPOS=3,-3', 'BYSETPOS=3,-3 is never filled: a period of this rule holds at most 2 occurrences'],
    ['FREQ=SECONDLY;BYWEEKNO=53;BYMONTH=6', 'its day parts (BYMONTH, BYWEEKNO, BYYEARDAY, BYMONTHDAY, BYDAY) leave out every day, so it has no occurrence'],
    ['DTSTART:20260101T000000Z\nRRULE:FREQ=HOURLY;BYWEEKNO=1;BYMONTH=12;BYDAY=MO;WKST=TU', 'its day parts (BYMONTH, BYWEEKNO, BYYEARDAY, BYMONTHDAY, BYDAY) leave out every day'],
    ['FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31', 'its day parts (BYMONTH, BYWEEKNO, BYYEARDAY, BYMONTHDAY, BYDAY) leave out every day'],
  ])('rejects the rrule %j, whose part the library would take out of range (a negative INTERVAL walked back forever)', (rule, why) => {
    const e = errorOf(() => normaliseSchedule({ kind: 'rrule', rule }, AT));
    expect(e.message).toContain(`schedule.rule: invalid rrule ${JSON.stringify(rule)}: ${why}`);
  });

  it.each([
    'FREQ=SECONDLY;BYSECOND=59,60',
    'DTSTART:20260101T000001Z\nRRULE:FREQ=SECONDLY;INTERVAL=2;BYSECOND=3',
    'DTSTART:20260101T000000Z\nRRULE:FREQ=MINUTELY;INTERVAL=7;BYMINUTE=1',
    'FREQ=MINUTELY;BYSECOND=60',
    'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29',
    'FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO',
    'FREQ=DAILY;BYWEEKNO=53',
    // Week 1 counted from WKST: with weeks from Sunday, a December Sunday can be in week 1 (2028-12-31)
    'DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;BYWEEKNO=1;BYMONTH=12;BYDAY=SU;WKST=SU',
    'DTSTART:20260103T000000Z\nRRULE:FREQ=WEEKLY;BYEASTER=0',
    'FREQ=WEEKLY;BYDAY=2MO',
    'FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1',
    'DTSTART;TZID=Europe/Paris:20270101T090000\nRRULE:FREQ=WEEKLY\nEXDATE;TZID=Europe/Paris:20270108T090000,20270115',
  ])('accepts the rrule %j, which has occurrences (quickly found)', (rule) => {
    expect(normaliseSchedule({ kind: 'rrule', rule }, AT)).toMatchObject({ kind: 'rrule' });
  });

  it.each(['FREQ=WEEKLY;BYDAY=MO,-1FR,2TU;WKST=SU', 'FREQ=MONTHLY;BYMONTHDAY=-1,15;BYSETPOS=1', 'FREQ=DAILY;BYHOUR=0,23;BYMINUTE=0,59;BYSECOND=0', 'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20300101T000000Z'])(
    'accepts the rrule %j',
    (rule) => {
      expect(normaliseSchedule({ kind: 'rrule', rule }, AT)).toMatchObject({ kind: 'rrule' });
    },
  );

  it('reads BYSECOND=60 (a leap second) as second 0 of the next minute, as guide.md says', () => {
    const rule = 'DTSTART:20260101T000000Z\nRRULE:FREQ=MINUTELY;BYSECOND=60';
    const s = normaliseSchedule({ kind: 'rrule', rule }, AT);
    expect(nextOccurrence(s, new Date('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-01T00:01:00.000Z');
    expect(nextOccurrence(s, new Date('2026-01-01T00:01:00Z')).toISOString()).toBe('2026-01-01T00:02:00.000Z');
  });

  it('rejects an rrule with no rule text', () => {
    expect(errorOf(() => normaliseSchedule({ kind: 'rrule' }, AT)).message).toMatch(/^schedule\.rule: /);
    expect(errorOf(() => normaliseSchedule({ kind: 'rrule', rule: '  ' }, AT)).message).toMatch(/^schedule\.rule: /);
  });

  it('rejects an rrule that has no occurrence at or after `at`', () => {
    const rule = 'DTSTART:20250101T000000Z\nRRULE:FREQ=DAILY;COUNT=2';
    const message = errorOf(() => normaliseSchedule({ kind: 'rrule', rule }, AT)).message;
    expect(message).toBe('schedule.rule: rrule "DTSTART:20250101T000000Z\\nRRULE:FREQ=DAILY;COUNT=2" has no occurrence after 2026-01-01T00:00:00.000Z');
  });
});

describe('nextOccurrence / firstOccurrence (cron)', () => {
  const hourly: Schedule = { kind: 'cron', expr: '0 * * * *', tz: 'UTC' };

  it('nextOccurrence is strictly after its argument', () => {
    expect(nextOccurrence(hourly, iso('2026-01-01T10:00:00.000Z')).toISOString()).toBe('2026-01-01T11:00:00.000Z');
    expect(nextOccurrence(hourly, iso('2026-01-01T09:59:59.999Z')).toISOString()).toBe('2026-01-01T10:00:00.000Z');
    expect(nextOccurrence(hourly, iso('2026-01-01T10:00:00.001Z')).toISOString()).toBe('2026-01-01T11:00:00.000Z');
  });

  it('firstOccurrence is at or after its argument', () => {
    expect(firstOccurrence(hourly, iso('2026-01-01T10:00:00.000Z'))?.toISOString()).toBe('2026-01-01T10:00:00.000Z');
    expect(firstOccurrence(hourly, iso('2026-01-01T10:00:00.001Z'))?.toISOString()).toBe('2026-01-01T11:00:00.000Z');
    expect(firstOccurrence(hourly, iso('2026-01-01T09:30:00.000Z'))?.toISOString()).toBe('2026-01-01T10:00:00.000Z');
  });

  it("'0 3 * * *' in Europe/Warsaw across 2026-03-29 (CET -> CEST)", () => {
    const s = normaliseSchedule({ kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' }, AT);
    expect(series(s, '2026-03-27T12:00:00.000Z', 3)).toEqual(['2026-03-28T02:00:00.000Z', '2026-03-29T01:00:00.000Z', '2026-03-30T01:00:00.000Z']);
  });

  it("'0 3 * * *' in Europe/Warsaw across 2026-10-25 (CEST -> CET)", () => {
    const s = normaliseSchedule({ kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' }, AT);
    expect(series(s, '2026-10-23T12:00:00.000Z', 3)).toEqual(['2026-10-24T01:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-26T02:00:00.000Z']);
  });

  it('a wall-clock time inside the ambiguous hour fires once on 2026-10-25', () => {
    const s = normaliseSchedule({ kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Warsaw' }, AT);
    // 02:30 happens twice that night (00:30Z in CEST, 01:30Z in CET): the task fires at the first only.
    expect(series(s, '2026-10-24T12:00:00.000Z', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('nextOccurrenceOrNull and nextOccurrence reject an adaptive schedule', () => {
    expect(() => nextOccurrenceOrNull({ kind: 'adaptive' }, AT)).toThrow(/adaptive/);
    expect(() => nextOccurrence({ kind: 'adaptive' }, AT)).toThrow(/adaptive/);
  });
});

describe('nextOccurrence / firstOccurrence (rrule)', () => {
  const ny = (): Schedule => normaliseSchedule({ kind: 'rrule', rule: 'DTSTART;TZID=America/New_York:20260101T090000\nRRULE:FREQ=DAILY' }, AT);

  it('is evaluated in the DTSTART zone across 2026-03-08 (EST -> EDT)', () => {
    expect(series(ny(), '2026-03-06T12:00:00.000Z', 4)).toEqual([
      '2026-03-06T14:00:00.000Z',
      '2026-03-07T14:00:00.000Z',
      '2026-03-08T13:00:00.000Z',
      '2026-03-09T13:00:00.000Z',
    ]);
  });

  it('is evaluated in the DTSTART zone across 2026-11-01 (EDT -> EST)', () => {
    expect(series(ny(), '2026-10-30T12:00:00.000Z', 4)).toEqual([
      '2026-10-30T13:00:00.000Z',
      '2026-10-31T13:00:00.000Z',
      '2026-11-01T14:00:00.000Z',
      '2026-11-02T14:00:00.000Z',
    ]);
  });

  it('nextOccurrence is strictly after, firstOccurrence at or after', () => {
    const s = ny();
    expect(nextOccurrence(s, iso('2026-03-08T13:00:00.000Z')).toISOString()).toBe('2026-03-09T13:00:00.000Z');
    expect(firstOccurrence(s, iso('2026-03-08T13:00:00.000Z'))?.toISOString()).toBe('2026-03-08T13:00:00.000Z');
    expect(firstOccurrence(s, iso('2026-03-08T13:00:00.001Z'))?.toISOString()).toBe('2026-03-09T13:00:00.000Z');
  });

  it('before DTSTART the first occurrence is DTSTART', () => {
    expect(firstOccurrence(ny(), iso('2025-06-01T00:00:00.000Z'))?.toISOString()).toBe('2026-01-01T14:00:00.000Z');
  });

  it('a UTC rule with BYDAY', () => {
    const s = normaliseSchedule({ kind: 'rrule', rule: 'DTSTART:20260105T080000Z\nRRULE:FREQ=WEEKLY;BYDAY=MO,TH' }, AT);
    expect(series(s, '2026-01-05T08:00:00.000Z', 3)).toEqual(['2026-01-08T08:00:00.000Z', '2026-01-12T08:00:00.000Z', '2026-01-15T08:00:00.000Z']);
  });

  it('an exhausted COUNT gives null from nextOccurrenceOrNull and a ValidationError from nextOccurrence', () => {
    const s = normaliseSchedule({ kind: 'rrule', rule: 'FREQ=HOURLY;COUNT=3' }, iso('2026-01-01T10:00:00.000Z'));
    expect(s).toEqual({ kind: 'rrule', rule: 'DTSTART:20260101T100000Z\nRRULE:FREQ=HOURLY;COUNT=3' });
    expect(series(s, '2026-01-01T09:00:00.000Z', 3)).toEqual(['2026-01-01T10:00:00.000Z', '2026-01-01T11:00:00.000Z', '2026-01-01T12:00:00.000Z']);
    expect(nextOccurrenceOrNull(s, iso('2026-01-01T12:00:00.000Z'))).toBeNull();
    expect(firstOccurrence(s, iso('2026-01-01T12:00:00.001Z'))).toBeNull();
    expect(() => nextOccurrence(s, iso('2026-01-01T12:00:00.000Z'))).toThrow(ValidationError);
  });

  it('an UNTIL in the past of the cursor gives null', () => {
    const s = normaliseSchedule({ kind: 'rrule', rule: 'DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;UNTIL=20260110T000000Z' }, AT);
    expect(nextOccurrenceOrNull(s, iso('2026-01-09T12:00:00.000Z'))?.toISOString()).toBe('2026-01-10T00:00:00.000Z');
    expect(nextOccurrenceOrNull(s, iso('2026-01-10T00:00:00.000Z'))).toBeNull();
  });
});

describe('cron schedules end before the year 3000', () => {
  it('says so instead of "never fires" when created from 2999 on', () => {
    const e = errorOf(() => normaliseSchedule({ kind: 'cron', expr: '0 0 * * *' }, iso('2999-12-31T00:00:01.000Z')));
    expect(e.message).toBe('schedule.expr: cron expression "0 0 * * *" has no occurrence after 2999-12-31T00:00:01.000Z before the year 3000, where cron schedules end');
    expect(errorOf(() => normaliseSchedule({ kind: 'cron', expr: '0 0 31 2 *' }, iso('2026-01-01T00:00:00.000Z'))).message).toContain('never fires');
    // The last occurrence is still one when the schedule is made at that very instant (it was refused).
    const last = iso('2999-12-31T12:00:00.000Z');
    expect(firstOccurrence(normaliseSchedule({ kind: 'cron', expr: '0 12 * * *' }, last), last)).toEqual(last);
    expect(errorOf(() => normaliseSchedule({ kind: 'cron', expr: '0 12 * * *' }, new Date(last.getTime() + 1))).message).toContain('has no occurrence after 2999-12-31T12:00:00.001Z before the year 3000');
    // Near JavaScript's last instant the cron library threw a RangeError of its own (library differential audit).
    for (const at of [new Date(8.64e15), new Date(8.64e15 - 3_600_000), iso('3000-01-02T00:00:00.000Z')]) {
      expect(errorOf(() => normaliseSchedule({ kind: 'cron', expr: '0 * * * *' }, at)).message).toBe(`schedule.expr: cron expression "0 * * * *" has no occurrence after ${at.toISOString()} before the year 3000, where cron schedules end`);
    }
  });

  it('a year field of 3000 or later does not reach past it', () => {
    expect(errorOf(() => normaliseSchedule({ kind: 'cron', expr: '0 0 0 1 1 * 3001' }, AT)).message).toBe(
      'schedule.expr: cron expression "0 0 0 1 1 * 3001" has no occurrence before the year 3000, where cron schedules end',
    );
    const s = normaliseSchedule({ kind: 'cron', expr: '0 0 0 1 1 * 2999-3005' }, AT);
    expect(nextOccurrenceOrNull(s, iso('2999-01-01T00:00:00.000Z'))).toBeNull();
    // In the schedule's zone: 3000-01-01 00:00 in Paris is 2999-12-31T23:00Z, and it ends there too.
    const paris = normaliseSchedule({ kind: 'cron', expr: '0 0 0 * * * 2999-3001', tz: 'Europe/Paris' }, AT);
    expect(nextOccurrenceOrNull(paris, iso('2999-12-30T12:00:00.000Z'))?.toISOString()).toBe('2999-12-30T23:00:00.000Z');
    expect(nextOccurrenceOrNull(paris, iso('2999-12-30T23:00:00.000Z'))).toBeNull();
  });
});

describe('rrules starting before the year 0100', () => {
  it('are refused (JavaScript reads the years 0 to 99 as 1900 to 1999)', () => {
    expect(errorOf(() => normaliseSchedule({ kind: 'rrule', rule: 'DTSTART:00990615T120000Z\nRRULE:FREQ=YEARLY' }, iso('0099-01-01T00:00:00.000Z'))).message).toContain(
      'DTSTART in the year 0099: rules starting before the year 0100 are not supported',
    );
    expect(errorOf(() => normaliseSchedule({ kind: 'rrule', rule: 'FREQ=DAILY' }, iso('0000-01-01T00:00:00.000Z'))).message).toContain('before the year 0100');
    expect(normaliseSchedule({ kind: 'rrule', rule: 'DTSTART:01000615T120000Z\nRRULE:FREQ=YEARLY' }, iso('0100-01-01T00:00:00.000Z'))).toMatchObject({ kind: 'rrule' });
  });
});
