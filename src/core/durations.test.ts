import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './durations.js';
import { ValidationError } from './errors.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('parseDuration', () => {
  it.each([
    ['90s', 90 * SECOND],
    ['15m', 15 * MINUTE],
    ['12h', 12 * HOUR],
    ['64d', 64 * DAY],
    ['1d12h', 36 * HOUR],
    ['250ms', 250],
    ['1w', 7 * DAY],
    ['1h30m', 90 * MINUTE],
    ['1m30s', 90 * SECOND],
    ['2w3d4h5m6s7ms', 2 * 7 * DAY + 3 * DAY + 4 * HOUR + 5 * MINUTE + 6 * SECOND + 7],
    ['1.5h', 90 * MINUTE],
    ['0s', 0],
    ['90S', 90 * SECOND],
    ['  15m  ', 15 * MINUTE],
  ])('compact %j -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['P1DT12H', 36 * HOUR],
    ['PT15M', 15 * MINUTE],
    ['PT90S', 90 * SECOND],
    ['P2W', 14 * DAY],
    ['P64D', 64 * DAY],
    ['PT1H30M', 90 * MINUTE],
    ['PT0.5S', 500],
    ['p1dt1h', 25 * HOUR],
  ])('ISO 8601 %j -> %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['0', 0],
    ['1500', 1_500],
    ['86400000', DAY],
  ])('plain integer %j is milliseconds', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('rounds a half millisecond up, exactly (4.0005 * 1000 is 4000.4999... in binary floating point)', () => {
    expect(parseDuration('1.0005s')).toBe(1_001);
    expect(parseDuration('4.0005s')).toBe(4_001);
    expect(parseDuration('PT4.0005S')).toBe(4_001);
    expect(parseDuration('1d0.0005s')).toBe(86_400_001);
    expect(parseDuration('0.4999ms')).toBe(0);
    expect(parseDuration('0.1h0.5ms')).toBe(360_001);
  });

  it('a day is exactly 86,400,000 ms', () => {
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('P1D')).toBe(86_400_000);
  });

  it.each(['', '   ', 'abc', '1x', 'P1M', 'P1Y', 'P1Y2D', 'PT1M1Y', '-5s', '-5', 'PT', 'P', 'P1DT', '1h30', '1 h', 'h', '1d-1h', 'P-1D', '1.5'])(
    'rejects %j with a ValidationError',
    (text) => {
      expect(() => parseDuration(text)).toThrow(ValidationError);
    },
  );

  it('each unit once, largest first: 1h1h, 1m1h and 30s1m are refused, not added up', () => {
    for (const text of ['1h1h', '1m1h', '30s1m', '1d2d', '5ms1s', '1h30m1h']) {
      expect(errorOf(() => parseDuration(text, 'lease')).message, text).toBe(`lease: invalid duration "${text}": give each unit once, largest first (1d12h, 1h30m)`);
    }
    expect(parseDuration('1w1d1h1m1s1ms')).toBe(7 * DAY + DAY + HOUR + MINUTE + SECOND + 1);
  });

  it('P1M / P1Y are rejected (months and years have no fixed length)', () => {
    expect(errorOf(() => parseDuration('P1M', 'retryDelay')).message).toMatch(/^retryDelay: invalid ISO 8601 duration "P1M"/);
    expect(errorOf(() => parseDuration('P1Y', 'retryDelay')).message).toMatch(/^retryDelay: invalid ISO 8601 duration "P1Y"/);
  });

  it('the error message and details name the field passed as second argument', () => {
    const e = errorOf(() => parseDuration('abc', 'types[2].retryDelay'));
    expect(e.message).toMatch(/^types\[2\]\.retryDelay: /);
    expect(e.message).toContain('"abc"');
    expect(e.details).toEqual([{ path: 'types[2].retryDelay', message: expect.stringContaining('invalid duration "abc"') }]);
    expect(e.code).toBe('validation_error');
  });

  it('names the field for every kind of rejection', () => {
    for (const text of ['', '1x', '-5s', 'PT', 'P1M']) {
      expect(errorOf(() => parseDuration(text, 'lease')).message.startsWith('lease: ')).toBe(true);
    }
  });

  it('defaults the field name to "duration"', () => {
    expect(errorOf(() => parseDuration('nope')).message).toMatch(/^duration: /);
    expect(errorOf(() => parseDuration('')).message).toBe('duration: empty duration');
  });

  it('rejects a duration too large for exact integer milliseconds', () => {
    expect(errorOf(() => parseDuration('99999999999999999999', 'timeout')).message).toMatch(/^timeout: duration .* is too large/);
    expect(errorOf(() => parseDuration('999999999999w', 'timeout')).message).toMatch(/too large/);
  });
});

describe('formatDuration', () => {
  it.each([
    [64 * DAY, '64d'],
    [36 * HOUR, '1d12h'],
    [90 * MINUTE, '1h30m'],
    [45 * SECOND, '45s'],
    [250, '250ms'],
    [0, '0s'],
    [7 * DAY, '7d'],
    [DAY + SECOND + 5, '1d1s5ms'],
    [-90 * MINUTE, '-1h30m'],
  ])('%d ms -> %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 60_000, 3_723_004, 64 * DAY, 36 * HOUR + 5]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
