/**
 * Rules RFC 5545 does not allow, with the start of the reason Orrery gives: the same cases for each
 * interface that takes a rule (CLI, HTTP; the library's own in src/core/schedule.test.ts).
 */
export const BAD_RRULES: ReadonlyArray<readonly [rule: string, why: string]> = [
  ['INTERVAL=2', 'FREQ is missing'],
  ['DTSTART:20260101T000000Z', 'no RRULE line'],
  ['FREQ=DAILY;FREQ=WEEKLY', 'FREQ is given twice'],
  ['FREQ=DAILY;INTERVAL=2;INTERVAL=3', 'INTERVAL is given twice'],
  ['FREQ=DAILY;COUNT=3;UNTIL=20300101T000000Z', 'COUNT and UNTIL are both given'],
];
