import { describe, expect, it } from 'vitest';
import { backfillRange, dagPointsBetween, nextInRange, occurrencesBetween } from './backfill.js';
import { ValidationError } from './errors.js';
import type { CalendarSchedule } from './model.js';
import { normaliseSchedule } from './schedule.js';

const iso = (s: string): Date => new Date(s);
const NOW = iso('2026-02-01T00:00:00Z');
const hourly = normaliseSchedule({ kind: 'cron', expr: '0 * * * *', tz: 'UTC', exclude: ['2026-01-01T02:00:00Z'] }, NOW) as CalendarSchedule;
const fieldOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).details[0]?.path;
  }
  throw new Error('expected a ValidationError');
};

describe('backfill ranges', () => {
  it('both ends are inclusive; exclusions apply', () => {
    const range = backfillRange({ from: '2026-01-01T00:00:00Z', to: '2026-01-01T03:00:00Z' }, NOW);
    expect(occurrencesBetween(hourly, range).map((d) => d.toISOString())).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T01:00:00.000Z', '2026-01-01T03:00:00.000Z']);
    expect(nextInRange(hourly, iso('2026-01-01T01:00:00Z'), range)).toEqual(iso('2026-01-01T03:00:00Z'));
    expect(nextInRange(hourly, iso('2026-01-01T03:00:00Z'), range)).toBeNull();
  });

  it.each([
    [{ from: '2026-01-02', to: '2026-01-01' }, 'to'],
    [{ from: '2026-01-01', to: '2026-03-01' }, 'to'],
    [{ from: 'yesterday', to: '2026-01-01' }, 'from'],
    [{ to: '2026-01-01' }, 'from'],
    // Before: an unknown key was ignored, and null a TypeError
    [{ from: '2026-01-01', to: '2026-01-01', foo: 1 }, 'options.foo'],
    [null, 'options'],
  ])('rejects %j naming %s', (input, path) => expect(fieldOf(() => backfillRange(input as { from?: unknown }, NOW))).toBe(path));

  it('a range without occurrence, or with more than the most allowed, is refused', () => {
    const empty = backfillRange({ from: '2026-01-01T00:10:00Z', to: '2026-01-01T00:50:00Z' }, NOW);
    expect(fieldOf(() => occurrencesBetween(hourly, empty))).toBe('from');
    const month = backfillRange({ from: '2026-01-01', to: '2026-01-31' }, NOW);
    expect(fieldOf(() => occurrencesBetween(hourly, month, 100))).toBe('to');
  });

  it("DAG points keep an interval schedule's phase, also before its start", () => {
    const range = backfillRange({ from: '2026-01-01T00:00:00Z', to: '2026-01-01T02:00:00Z' }, NOW);
    for (const start of ['2025-12-31T23:30:00Z', '2026-01-05T00:30:00Z']) {
      expect(dagPointsBetween({ kind: 'interval', everyMs: 3_600_000 }, iso(start), range).map((d) => d.toISOString())).toEqual([
        '2026-01-01T00:30:00.000Z',
        '2026-01-01T01:30:00.000Z',
      ]);
    }
    expect(dagPointsBetween({ kind: 'cron', expr: '0 * * * *', tz: 'UTC' }, iso('2026-01-05T00:00:00Z'), range)).toHaveLength(3);
    expect(fieldOf(() => dagPointsBetween({ kind: 'none' }, NOW, range))).toBe('id');
  });
});
