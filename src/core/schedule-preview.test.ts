import { describe, expect, it } from 'vitest';
import { dueAt } from './catch-up.js';
import type { CalendarSchedule } from './model.js';
import { normaliseSchedule } from './schedule.js';
import { previewDag, previewSchedule, repetition } from './schedule-preview.js';

const iso = (s: string): Date => new Date(s);
const cron = (expr: string, tz: string, options: object = {}) => normaliseSchedule({ kind: 'cron', expr, tz, ...options }, iso('2026-01-01T00:00:00Z')) as CalendarSchedule;
const rows = (p: ReturnType<typeof previewSchedule>) => p.occurrences.map((o) => `${o.at.toISOString()} ${o.local} ${o.dst ?? '-'}`);

describe('previewSchedule', () => {
  it('marks a local time skipped by the spring change (cron moves it to the end of the gap)', () => {
    expect(rows(previewSchedule(cron('30 2 * * *', 'Europe/Paris'), iso('2026-03-28T00:00:00Z'), 3))).toEqual([
      '2026-03-28T01:30:00.000Z 2026-03-28T02:30:00.000+01:00 -',
      '2026-03-29T01:00:00.000Z 2026-03-29T03:00:00.000+02:00 skipped',
      '2026-03-30T00:30:00.000Z 2026-03-30T02:30:00.000+02:00 -',
    ]);
  });

  it('marks both instants of a repeated local time (autumn change)', () => {
    expect(rows(previewSchedule(cron('30 * * * *', 'Europe/Paris'), iso('2026-10-24T23:00:00Z'), 4))).toEqual([
      '2026-10-24T23:30:00.000Z 2026-10-25T01:30:00.000+02:00 -',
      '2026-10-25T00:30:00.000Z 2026-10-25T02:30:00.000+02:00 repeated-first',
      '2026-10-25T01:30:00.000Z 2026-10-25T02:30:00.000+01:00 repeated-second',
      '2026-10-25T02:30:00.000Z 2026-10-25T03:30:00.000+01:00 -',
    ]);
  });

  it('a cron with several fixed times in the skipped or repeated hour fires each once (lists and ranges are fixed times; a * or a step follows real time)', () => {
    const at = (p: ReturnType<typeof previewSchedule>) => p.occurrences.map((o) => o.at.toISOString().slice(5, 16));
    // Spring, Paris: 02:00 and 02:30 do not exist; both move to 03:00, which fires once (before: nothing that day).
    expect(at(previewSchedule(cron('0,30 2 * * *', 'Europe/Paris'), iso('2026-03-28T23:30:00Z'), 3))).toEqual(['03-29T01:00', '03-30T00:00', '03-30T00:30']);
    // 02:30 moves to 03:00 and 03:30 still fires (before: 02:30 was lost).
    expect(at(previewSchedule(cron('30 2,3 * * *', 'Europe/Paris'), iso('2026-03-28T23:30:00Z'), 3))).toEqual(['03-29T01:00', '03-29T01:30', '03-30T00:30']);
    // Autumn, New York: 01:00 and 01:30 happen twice; each fires once, at its first instant (before: four runs).
    expect(at(previewSchedule(cron('0,30 1 * * *', 'America/New_York'), iso('2026-10-31T23:30:00Z'), 3))).toEqual(['11-01T05:00', '11-01T05:30', '11-02T06:00']);
    expect(at(previewSchedule(cron('15 1,2 * * *', 'America/New_York'), iso('2026-10-31T23:30:00Z'), 3))).toEqual(['11-01T05:15', '11-01T07:15', '11-02T06:15']);
    // A step in the minutes follows real time: nothing in the skipped hour.
    expect(at(previewSchedule(cron('*/30 2 * * *', 'Europe/Paris'), iso('2026-03-28T23:30:00Z'), 2))).toEqual(['03-30T00:00', '03-30T00:30']);
  });

  it('an rrule with a TZID DTSTART reads a UTC (Z) UNTIL and EXDATE as instants, not as wall-clock times', () => {
    const rule = (r: string) => normaliseSchedule({ kind: 'rrule', rule: r }, iso('2025-12-01T00:00:00Z')) as CalendarSchedule;
    const at = (p: ReturnType<typeof previewSchedule>) => p.occurrences.map((o) => o.at.toISOString().slice(5, 16));
    // UNTIL 10:00Z is 05:00 in New York: the 09:00 of the 3rd is after it (before: it ran).
    expect(at(previewSchedule(rule('DTSTART;TZID=America/New_York:20260101T090000\nRRULE:FREQ=DAILY;UNTIL=20260103T100000Z'), iso('2026-01-01T00:00:00Z'), 5))).toEqual(['01-01T14:00', '01-02T14:00']);
    // UNTIL 22:00Z is exactly 07:00 of the 3rd in Tokyo: included (before: dropped).
    expect(at(previewSchedule(rule('DTSTART;TZID=Asia/Tokyo:20260101T070000\nRRULE:FREQ=DAILY;UNTIL=20260102T220000Z'), iso('2025-12-31T00:00:00Z'), 5))).toEqual(['12-31T22:00', '01-01T22:00', '01-02T22:00']);
    // An EXDATE in UTC removes the occurrence at that instant, as one with the rule's TZID does.
    for (const ex of ['EXDATE:20260101T220000Z', 'EXDATE;TZID=Asia/Tokyo:20260102T070000']) {
      expect(at(previewSchedule(rule(`DTSTART;TZID=Asia/Tokyo:20260101T070000\nRRULE:FREQ=DAILY;COUNT=4\n${ex}`), iso('2025-12-31T00:00:00Z'), 5))).toEqual(['12-31T22:00', '01-02T22:00', '01-03T22:00']);
    }
  });

  it('marks an rrule occurrence moved out of a gap (America/New_York, 2026-03-08)', () => {
    const s = normaliseSchedule({ kind: 'rrule', rule: 'DTSTART;TZID=America/New_York:20260307T023000\nRRULE:FREQ=DAILY;COUNT=3' }, iso('2026-01-01T00:00:00Z')) as CalendarSchedule;
    const p = previewSchedule(s, iso('2026-03-07T00:00:00Z'), 5);
    expect(p.zone).toBe('America/New_York');
    expect(p.occurrences.map((o) => o.dst)).toEqual([null, 'skipped', null]);
  });

  it('a task preview starts at its own occurrence and shows each due instant with its jitter', () => {
    const s = cron('0 * * * *', 'UTC', { jitter: '10m' });
    const task = { id: 3, scheduledFor: iso('2026-01-01T05:00:00Z'), nextRun: iso('2026-01-01T05:20:00Z') }; // a retry pushed it
    const p = previewSchedule(s, iso('2026-01-01T00:00:00Z'), 3, task);
    expect(p.occurrences.map((o) => o.at.toISOString())).toEqual(['2026-01-01T05:00:00.000Z', '2026-01-01T06:00:00.000Z', '2026-01-01T07:00:00.000Z']);
    expect(p.occurrences[0]!.due).toEqual(task.nextRun);
    expect(p.occurrences[1]!.due).toEqual(dueAt(s, 3, iso('2026-01-01T06:00:00Z')));
  });

  it('a task whose next run is off its schedule (given by hand, a respawn) is no DST mark', () => {
    const daily = cron('0 9 * * *', 'UTC');
    const off = iso('2026-01-05T12:34:00Z');
    const p = previewSchedule(daily, iso('2026-01-05T00:00:00Z'), 2, { id: 1, scheduledFor: off, nextRun: off });
    expect(rows(p)).toEqual(['2026-01-05T12:34:00.000Z 2026-01-05T12:34:00.000Z -', '2026-01-06T09:00:00.000Z 2026-01-06T09:00:00.000Z -']);
    const paris = cron('30 2 * * *', 'Europe/Paris');
    expect(previewSchedule(paris, iso('2026-07-01T00:00:00Z'), 1, { id: 1, scheduledFor: iso('2026-07-01T10:00:00Z'), nextRun: iso('2026-07-01T10:00:00Z') }).occurrences[0]!.dst).toBeNull();
  });

  it('DAG points: cron in its zone, intervals from the start', () => {
    expect(previewDag({ kind: 'interval', everyMs: 3_600_000 }, iso('2026-01-01T00:30:00Z'), iso('2026-01-01T02:00:00Z'), 2).occurrences.map((o) => o.at.toISOString())).toEqual([
      '2026-01-01T02:30:00.000Z',
      '2026-01-01T03:30:00.000Z',
    ]);
    expect(previewDag({ kind: 'none' }, iso('2026-01-01T00:00:00Z'), iso('2026-01-01T00:00:00Z'), 5).occurrences).toEqual([]);
  });

  it('repetition is null away from a change and in a zone without DST', () => {
    expect(repetition(iso('2026-07-01T00:30:00Z'), 'Europe/Paris')).toBeNull();
    expect(repetition(iso('2026-10-25T00:30:00Z'), 'UTC')).toBeNull();
    expect(repetition(iso('2026-03-29T01:30:00Z'), 'Europe/Paris')).toBeNull();
  });
});
