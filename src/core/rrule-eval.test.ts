import { describe, expect, it } from 'vitest';
import { rruleAfter, rruleBefore, rruleMovedByDst } from './rrule-eval.js';
import type { CalendarSchedule } from './model.js';
import { normaliseSchedule, nextOccurrence, previousOccurrenceOrNull, shortestInterval } from './schedule.js';

const iso = (s: string): Date => new Date(s);

describe('rrule with a DTSTART long ago', () => {
  it('FREQ=SECONDLY from eleven months back: next and previous on the rule’s own grid, not null', () => {
    const rule = 'DTSTART:20260101T000000Z\nRRULE:FREQ=SECONDLY;INTERVAL=7';
    const s = normaliseSchedule({ kind: 'rrule', rule }, iso('2026-12-04T10:00:00Z')) as CalendarSchedule;
    // 2026-12-04T10:00:00Z is 29,152,800 s after DTSTART; 29,152,795 is the last multiple of 7 before it.
    expect(nextOccurrence(s, iso('2026-12-04T10:00:00.500Z')).toISOString()).toBe('2026-12-04T10:00:02.000Z');
    expect(previousOccurrenceOrNull(s, iso('2026-12-04T10:00:00.500Z'))?.toISOString()).toBe('2026-12-04T09:59:55.000Z');
    expect(shortestInterval(s, iso('2026-12-04T10:00:00Z'))).toBe(7000);
  });

  it('FREQ=SECONDLY every second: the next occurrence is not lost behind thousands of earlier ones', () => {
    const rule = 'DTSTART:20200101T000000Z\nRRULE:FREQ=SECONDLY';
    expect(rruleAfter(rule, iso('2026-12-04T10:00:00.250Z'))?.toISOString()).toBe('2026-12-04T10:00:01.000Z');
    expect(rruleBefore(rule, iso('2026-12-04T10:00:00.250Z'))?.toISOString()).toBe('2026-12-04T10:00:00.000Z');
  });

  it('a sparse rule moved forward still finds its last occurrence far back', () => {
    // Only in January: on 4 December the previous occurrence is 31 January 23:59:50.
    const rule = 'DTSTART:20200101T000000Z\nRRULE:FREQ=SECONDLY;INTERVAL=10;BYMONTH=1';
    expect(rruleBefore(rule, iso('2026-12-04T10:00:00Z'))?.toISOString()).toBe('2026-01-31T23:59:50.000Z');
    expect(rruleAfter(rule, iso('2026-12-04T10:00:00Z'))?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  // The same rule with a COUNT it never reaches is walked from its own DTSTART (it cannot be moved
  // forward): the answers must agree with the moved rule's, DST changes and EXDATEs included.
  const rules = [
    'DTSTART;TZID=America/New_York:20261020T013000\nRRULE:FREQ=MINUTELY;INTERVAL=13',
    'DTSTART;TZID=America/New_York:20250105T023000\nRRULE:FREQ=HOURLY;INTERVAL=5;BYMINUTE=0,30',
    'DTSTART;TZID=Europe/Warsaw:20100103T020000\nRRULE:FREQ=DAILY;INTERVAL=3',
    'DTSTART;TZID=Europe/Warsaw:20100103T023000\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=SU,WE',
    'DTSTART;TZID=America/New_York:20260101T000000\nRRULE:FREQ=HOURLY;BYHOUR=1,2,3\nEXDATE;TZID=America/New_York:20261101T010000',
    'DTSTART;TZID=Europe/Warsaw:20260320T000000\nRRULE:FREQ=MINUTELY;INTERVAL=15;BYHOUR=1,2,3,9',
    'DTSTART:20261020T000000Z\nRRULE:FREQ=SECONDLY;INTERVAL=20;BYMINUTE=0,30',
    // Off the rule's grid (the library steps past a left-out hour a minute at a time): walked, never moved.
    'DTSTART:20261020T000000Z\nRRULE:FREQ=SECONDLY;INTERVAL=97;BYHOUR=1,2',
  ];
  const instants = ['2026-03-08T06:20:00Z', '2026-03-08T07:10:00Z', '2026-03-29T00:59:59Z', '2026-03-29T01:30:00Z', '2026-10-25T00:30:00Z', '2026-10-25T01:00:00Z', '2026-11-01T05:30:00Z', '2026-11-01T06:00:00Z', '2026-11-01T06:30:00Z', '2026-12-04T10:00:00Z'];
  it.each(rules)('moved forward, %j answers as walked from its DTSTART', (rule) => {
    const walked = rule.replace(/(RRULE:[^\n]*)/, '$1;COUNT=100000000');
    for (const at of instants) {
      const t = iso(at);
      expect(rruleAfter(rule, t)?.toISOString(), `after ${at}`).toBe(rruleAfter(walked, t)?.toISOString());
      expect(rruleBefore(rule, t)?.toISOString(), `before ${at}`).toBe(rruleBefore(walked, t)?.toISOString());
      const next = rruleAfter(rule, t)!;
      expect(rruleMovedByDst(rule, next), `moved ${next.toISOString()}`).toBe(rruleMovedByDst(walked, next));
    }
  });
});

describe('a rule stored before the RFC 5545 shape checks (FREQ, each part once, COUNT or UNTIL)', () => {
  it('is evaluated as it was stored: the checks refuse such a rule when it is given, not when the scheduler reads it back', () => {
    // The library reads a rule without FREQ as yearly: a task stored with one keeps its occurrences (and the scheduling pass its other tasks).
    expect(rruleAfter('DTSTART:20260101T000000Z\nRRULE:INTERVAL=2', new Date('2026-06-01T00:00:00Z'))?.toISOString()).toBe('2028-01-01T00:00:00.000Z');
    expect(rruleAfter('DTSTART:20260101T000000Z', new Date('2026-06-01T00:00:00Z'))?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(rruleAfter('DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY;COUNT=3;UNTIL=20300101T000000Z', new Date('2026-01-01T12:00:00Z'))).not.toBeNull();
  });
});

describe('a rule stored with a VALUE parameter on its DTSTART (before it was rewritten)', () => {
  it('is evaluated from its own DTSTART, not from the real time of each evaluation', () => {
    expect(rruleAfter('DTSTART;VALUE=DATE:20270327\nRRULE:FREQ=DAILY', new Date('2027-03-27T05:00:00Z'))?.toISOString()).toBe('2027-03-28T00:00:00.000Z');
    expect(rruleAfter('DTSTART;TZID=Europe/Paris;VALUE=DATE-TIME:20270327T090000\nRRULE:FREQ=DAILY', new Date('2027-03-27T00:00:00Z'))?.toISOString()).toBe('2027-03-27T08:00:00.000Z');
  });
});

describe('a rule read back from the database', () => {
  it('is evaluated without the checks a given rule passes: the scheduler never gets an error from them', () => {
    // Refused when given (no month holds a 300th day); read back, it is evaluated as stored: no occurrence.
    const rule = 'DTSTART:20260101T000000Z\nRRULE:FREQ=MONTHLY;BYSETPOS=300';
    expect(() => normaliseSchedule({ kind: 'rrule', rule }, new Date('2026-01-01T00:00:00Z'))).toThrow(/BYSETPOS=300 is never filled/);
    expect(rruleAfter(rule, new Date('2026-01-01T00:00:00Z'))).toBeNull();
  });
});
