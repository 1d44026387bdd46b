import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { EARLIEST_INSTANT_MS, checkDate, maxDate, parseInstant } from './instants.js';

describe('parseInstant', () => {
  it.each([
    ['2026-01-02', '2026-01-02T00:00:00.000Z'],
    ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02T03:04:05.678Z', '2026-01-02T03:04:05.678Z'],
    ['2026-01-02T03:04:05z', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02T03:04:05+02:00', '2026-01-02T01:04:05.000Z'],
    ['2026-01-02T03:04:05-05:30', '2026-01-02T08:34:05.000Z'],
    ['2026-01-02T03:04:05+0200', '2026-01-02T01:04:05.000Z'],
    ['2026-01-02T03:04', '2026-01-02T03:04:00.000Z'],
    ['2026-01-02T03:04:05', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02 03:04:05', '2026-01-02T03:04:05.000Z'],
    ['  2026-01-02T03:04:05Z  ', '2026-01-02T03:04:05.000Z'],
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
    ['2026-01-01T00:30:00+01:00', '2025-12-31T23:30:00.000Z'],
    // An offset of hours alone after a time (http audit: ISO 8601 allows it; it was refused).
    ['2026-12-01T01:00:00+01', '2026-12-01T00:00:00.000Z'],
    ['2026-12-01T01:00-05', '2026-12-01T06:00:00.000Z'],
    ['2026-12-01 01:00:00.5+01', '2026-12-01T00:00:00.500Z'],
  ])('%j -> %s (zone-less forms are UTC)', (text, expected) => {
    expect(parseInstant(text).toISOString()).toBe(expected);
  });

  it.each([
    '',
    'now',
    'yesterday',
    '2026/01/02',
    '02-01-2026',
    '2026-1-2',
    '1767312000000',
    '2026-13-01',
    '2026-00-10',
    '2026-01-32',
    '2026-02-29',
    '2026-02-30',
    '2026-04-31',
    '2026-04-31T10:00:00Z',
    '2026-01-02T25:00:00Z',
    '2026-01-02T23:60:00Z',
    '2026-01-02T03:04:05+2',
    '2026-01-02+01',
    '2026-01-02-01',
    '2026-01-02T03:04:05+01:0',
    '20261201T000000Z',
    '2026-W49-2T00:00:00Z',
    '2026-335T00:00:00Z',
  ])('rejects %j', (text) => {
    expect(() => parseInstant(text)).toThrow(ValidationError);
  });

  it('names the field in the error', () => {
    expect(() => parseInstant('soon', 'tasks[0].nextRun')).toThrow(/^tasks\[0\]\.nextRun: invalid ISO 8601 instant "soon"/);
    expect(() => parseInstant('2026-02-30', 'at')).toThrow(/^at: invalid instant "2026-02-30"/);
    expect(() => parseInstant('later')).toThrow(/^instant: /);
  });
});

describe('maxDate', () => {
  it('returns the later instant, the first on a tie', () => {
    const a = new Date('2026-01-01T00:00:00.000Z');
    const b = new Date('2026-01-01T00:00:00.001Z');
    expect(maxDate(a, b)).toBe(b);
    expect(maxDate(b, a)).toBe(b);
    const a2 = new Date(a.getTime());
    expect(maxDate(a, a2)).toBe(a);
  });
});

describe('the range of instants', () => {
  it('text past 9999 or before 0000 in UTC (through an offset) is refused: it could not be written back', () => {
    expect(() => parseInstant('9999-12-31T23:00:00-12:00', 'nextRun')).toThrow('nextRun: instant "9999-12-31T23:00:00-12:00" is +010000-01-01T11:00:00.000Z in UTC, outside 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z');
    expect(() => parseInstant('0000-01-01T00:00:00+14:00')).toThrow(ValidationError);
    expect(parseInstant('9999-12-31T23:59:59.999Z').toISOString()).toBe('9999-12-31T23:59:59.999Z');
    expect(parseInstant('0000-01-01T00:00:00Z').toISOString()).toBe('0000-01-01T00:00:00.000Z');
  });

  it('a Date before the earliest instant both stores hold is refused, naming the field', () => {
    expect(() => checkDate(new Date(-8.64e15), 'nextRun')).toThrow('nextRun: must not be before 4714-11-24 BC');
    expect(() => checkDate(new Date(EARLIEST_INSTANT_MS), 'nextRun')).not.toThrow();
    expect(() => checkDate(new Date(8.64e15), 'nextRun')).not.toThrow();
    expect(() => checkDate(new Date('x'), 'nextRun')).toThrow('nextRun: must be a valid Date');
  });
});
