import { describe, expect, it } from 'vitest';
import type { DagSchedule } from './dag.js';
import { duePoints, firstPoint, mergeSkipped, nextPointAfterChange, pointAfter, type PointRecord } from './dag-schedule.js';

const d = (s: string) => new Date(s);
const iso = (x: Date | null) => x?.toISOString() ?? null;
const hourly: DagSchedule = { kind: 'interval', everyMs: 3_600_000 };

describe('schedule points', () => {
  it('fixed interval: points are start + k * interval', () => {
    const start = d('2026-01-01T00:30:00Z');
    expect(iso(firstPoint(hourly, start))).toBe('2026-01-01T00:30:00.000Z');
    expect(iso(firstPoint(hourly, start, d('2026-01-01T02:00:00Z')))).toBe('2026-01-01T02:30:00.000Z');
    expect(iso(firstPoint(hourly, start, d('2026-01-01T02:30:00Z')))).toBe('2026-01-01T02:30:00.000Z');
    expect(iso(pointAfter(hourly, start))).toBe('2026-01-01T01:30:00.000Z');
  });

  it('an interval schedule ends at the latest instant a Date holds: no point past it (an invalid Date before)', () => {
    const latest = 8.64e15;
    const daily: DagSchedule = { kind: 'interval', everyMs: 86_400_000 };
    const last = new Date(latest - 3_600_000);
    expect(pointAfter(daily, last)).toBeNull();
    expect(pointAfter(daily, new Date(latest - 86_400_000))!.getTime()).toBe(latest);
    expect(firstPoint(daily, last, new Date(latest - 60_000))).toBeNull();
    // Missed points up to it counted, the one on time run, none after: the schedule has ended.
    const from = latest - 3 * 86_400_000 - 5;
    const r = duePoints({ schedule: daily, nextPoint: new Date(from), now: new Date(latest), catchUp: false, maxRuns: 10 });
    expect(r.records).toEqual([
      { kind: 'skipped', execTs: new Date(from), untilTs: new Date(from + 2 * 86_400_000), count: 3 },
      { kind: 'scheduled', execTs: new Date(latest - 5), untilTs: null, count: 1 },
    ]);
    expect(r.nextPoint).toBeNull();
    // Both points late: one counted range, and the point after it (past the latest instant) is none.
    const late = duePoints({ schedule: daily, nextPoint: new Date(latest - 86_400_000 - 2 * 60_000), now: new Date(latest), catchUp: false, maxRuns: 10 });
    expect(late.records).toEqual([{ kind: 'skipped', execTs: new Date(latest - 86_400_000 - 2 * 60_000), untilTs: new Date(latest - 2 * 60_000), count: 2 }]);
    expect(late.nextPoint).toBeNull();
  });

  it('fixed interval started late, with catch-up: every missed point gets a run, in order', () => {
    const r = duePoints({ schedule: hourly, nextPoint: d('2026-01-01T00:00:00Z'), now: d('2026-01-01T03:00:10Z'), catchUp: true, maxRuns: 100 });
    expect(r.records.map((p) => [p.kind, iso(p.execTs)])).toEqual([
      ['caught_up', '2026-01-01T00:00:00.000Z'],
      ['caught_up', '2026-01-01T01:00:00.000Z'],
      ['caught_up', '2026-01-01T02:00:00.000Z'],
      ['scheduled', '2026-01-01T03:00:00.000Z'],
    ]);
    expect(iso(r.nextPoint)).toBe('2026-01-01T04:00:00.000Z');
  });

  it('fixed interval started late, without catch-up: missed points are one skipped range; the next future point is used', () => {
    const r = duePoints({ schedule: hourly, nextPoint: d('2026-01-01T00:00:00Z'), now: d('2026-01-01T03:20:00Z'), catchUp: false, maxRuns: 100 });
    expect(r.records).toEqual([{ kind: 'skipped', execTs: d('2026-01-01T00:00:00Z'), untilTs: d('2026-01-01T03:00:00Z'), count: 4 }]);
    expect(iso(r.nextPoint)).toBe('2026-01-01T04:00:00.000Z');
  });

  it('a point reached within the lateness runs on time; one second later it is late', () => {
    const base = { schedule: hourly, nextPoint: d('2026-01-01T03:00:00Z'), catchUp: false, maxRuns: 10, latenessMs: 60_000 };
    expect(duePoints({ ...base, now: d('2026-01-01T03:01:00Z') }).records[0]!.kind).toBe('scheduled');
    expect(duePoints({ ...base, now: d('2026-01-01T03:01:01Z') }).records[0]!.kind).toBe('skipped');
    expect(duePoints({ ...base, now: d('2026-01-01T02:59:59Z') }).records).toEqual([]);
  });

  it('creates at most maxRuns runs per call and resumes where it stopped', () => {
    const first = duePoints({ schedule: hourly, nextPoint: d('2026-01-01T00:00:00Z'), now: d('2026-01-02T00:00:00Z'), catchUp: true, maxRuns: 10 });
    expect(first.records).toHaveLength(10);
    expect(iso(first.nextPoint)).toBe('2026-01-01T10:00:00.000Z');
    const second = duePoints({ schedule: hourly, nextPoint: first.nextPoint, now: d('2026-01-02T00:00:00Z'), catchUp: true, maxRuns: 100 });
    expect(second.records).toHaveLength(15);
    expect(second.records.at(-1)).toMatchObject({ kind: 'scheduled', execTs: d('2026-01-02T00:00:00Z') });
  });

  it('walks a long skipped backlog in bounded steps without losing count', () => {
    const minutely: DagSchedule = { kind: 'interval', everyMs: 60_000 };
    let next: Date | null = d('2026-01-01T00:00:00Z');
    const now = d('2026-01-08T00:00:00Z');
    let skipped = 0;
    for (let i = 0; i < 10 && next && next <= now; i++) {
      const r = duePoints({ schedule: minutely, nextPoint: next, now, catchUp: false, maxRuns: 100, maxWalk: 5000 });
      skipped += r.records.filter((p) => p.kind === 'skipped').reduce((n, p) => n + p.count, 0);
      expect(r.records.filter((p) => p.kind === 'skipped').length).toBeLessThanOrEqual(1);
      next = r.nextPoint;
    }
    // 7 days of minutes plus the point at now; only the latest due point (00:00, at now) runs: 23:59,
    // within the lateness, was missed all the same (00:00 is due too)
    expect(skipped).toBe(7 * 1440 + 1 - 1);
    expect(iso(next)).toBe('2026-01-08T00:01:00.000Z');
  });

  it('cron across DST changes in Europe/Warsaw: one point per local day, at the right UTC instant', () => {
    const cron: DagSchedule = { kind: 'cron', expr: '30 2 * * *', tz: 'Europe/Warsaw' };
    const spring = duePoints({ schedule: cron, nextPoint: firstPoint(cron, d('2026-03-27T00:00:00Z')), now: d('2026-03-31T12:00:00Z'), catchUp: true, maxRuns: 100 });
    // 29 March has no 02:30 local (02:00 -> 03:00): that day's run is at 03:00 CEST, not lost or doubled
    expect(spring.records.map((p) => iso(p.execTs))).toEqual([
      '2026-03-27T01:30:00.000Z',
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
      '2026-03-31T00:30:00.000Z',
    ]);
    const daily3: DagSchedule = { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' };
    const autumn = duePoints({ schedule: daily3, nextPoint: firstPoint(daily3, d('2026-10-24T00:00:00Z')), now: d('2026-10-27T12:00:00Z'), catchUp: true, maxRuns: 100 });
    // 03:00 local is 01:00Z in summer time and 02:00Z after the change (25 October 2026)
    expect(autumn.records.map((p) => iso(p.execTs))).toEqual([
      '2026-10-24T01:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
      '2026-10-26T02:00:00.000Z',
      '2026-10-27T02:00:00.000Z',
    ]);
  });

  it('after a schedule change, the next point is the new schedule\'s first after the last recorded one', () => {
    expect(iso(nextPointAfterChange(hourly, d('2026-01-01T00:00:00Z'), d('2026-01-01T05:00:00Z')))).toBe('2026-01-01T06:00:00.000Z');
    expect(iso(nextPointAfterChange(hourly, d('2026-01-01T00:00:00Z'), null))).toBe('2026-01-01T00:00:00.000Z');
    expect(firstPoint({ kind: 'none' }, d('2026-01-01T00:00:00Z'))).toBeNull();
  });

  it('a long outage of an interval schedule is one skipped range, counted (issue 16: 10,000 + 4,400 before)', () => {
    const minutely: DagSchedule = { kind: 'interval', everyMs: 60_000 };
    const r = duePoints({ schedule: minutely, nextPoint: d('2027-06-01T00:00:00Z'), now: d('2027-06-11T00:00:30Z'), catchUp: false, maxRuns: 100 });
    expect(r.records).toEqual([
      { kind: 'skipped', execTs: d('2027-06-01T00:00:00Z'), untilTs: d('2027-06-10T23:59:00Z'), count: 14_400 },
      { kind: 'scheduled', execTs: d('2027-06-11T00:00:00Z'), untilTs: null, count: 1 },
    ]);
    expect(iso(r.nextPoint)).toBe('2027-06-11T00:01:00.000Z');
  });

  it('a per-second interval after a one-day outage: one range of 86,400 points, then the latest point runs', () => {
    const secondly: DagSchedule = { kind: 'interval', everyMs: 1000 };
    const r = duePoints({ schedule: secondly, nextPoint: d('2027-06-01T00:00:00Z'), now: d('2027-06-02T00:00:00Z'), catchUp: false, maxRuns: 100 });
    // missed: every point of the first day, the last minute's too (each has a due point after it)
    expect(r.records).toEqual([
      { kind: 'skipped', execTs: d('2027-06-01T00:00:00Z'), untilTs: d('2027-06-01T23:59:59Z'), count: 86_400 },
      { kind: 'scheduled', execTs: d('2027-06-02T00:00:00Z'), untilTs: null, count: 1 },
    ]);
    expect(iso(r.nextPoint)).toBe('2027-06-02T00:00:01.000Z');
  });

  it('without catch-up, a short outage of a fast schedule runs the latest point once (it ran every point within the lateness)', () => {
    const every2s: DagSchedule = { kind: 'interval', everyMs: 2000 };
    const r = duePoints({ schedule: every2s, nextPoint: d('2027-06-01T00:00:02Z'), now: d('2027-06-01T00:00:17.5Z'), catchUp: false, maxRuns: 100 });
    expect(r.records).toEqual([
      { kind: 'skipped', execTs: d('2027-06-01T00:00:02Z'), untilTs: d('2027-06-01T00:00:14Z'), count: 7 },
      { kind: 'scheduled', execTs: d('2027-06-01T00:00:16Z'), untilTs: null, count: 1 },
    ]);
    // A cron schedule likewise (walked point by point), and catch-up still runs every point.
    const everyMinute: DagSchedule = { kind: 'cron', expr: '* * * * *', tz: 'UTC' };
    const c = duePoints({ schedule: everyMinute, nextPoint: d('2027-06-01T00:01:00Z'), now: d('2027-06-01T00:03:30Z'), catchUp: false, maxRuns: 100 });
    expect(c.records).toEqual([
      { kind: 'skipped', execTs: d('2027-06-01T00:01:00Z'), untilTs: d('2027-06-01T00:02:00Z'), count: 2 },
      { kind: 'scheduled', execTs: d('2027-06-01T00:03:00Z'), untilTs: null, count: 1 },
    ]);
    const caught = duePoints({ schedule: every2s, nextPoint: d('2027-06-01T00:00:02Z'), now: d('2027-06-01T00:00:17.5Z'), catchUp: true, maxRuns: 100 });
    expect(caught.records.map((p) => p.kind)).toEqual(Array(8).fill('scheduled'));
  });

  it('a single late interval point is a range of one (no untilTs)', () => {
    const r = duePoints({ schedule: hourly, nextPoint: d('2026-01-01T00:00:00Z'), now: d('2026-01-01T00:59:00Z'), catchUp: false, maxRuns: 100 });
    expect(r.records).toEqual([{ kind: 'skipped', execTs: d('2026-01-01T00:00:00Z'), untilTs: null, count: 1 }]);
    expect(iso(r.nextPoint)).toBe('2026-01-01T01:00:00.000Z');
  });

  it('a long cron backlog walked in bounded calls merges into one range', () => {
    const cron: DagSchedule = { kind: 'cron', expr: '* * * * *', tz: 'UTC' };
    const now = d('2027-06-11T00:00:30Z');
    let next: Date | null = d('2027-06-01T00:00:00Z');
    let last: PointRecord | null = null;
    const stored: PointRecord[] = [];
    for (let calls = 0; next && next <= now; calls++) {
      expect(calls).toBeLessThan(10);
      const r = duePoints({ schedule: cron, nextPoint: next, now, catchUp: false, maxRuns: 100, maxWalk: 5000 });
      expect(r.records.length).toBeGreaterThan(0);
      const m = mergeSkipped(last, r.records);
      if (m.extend) stored[stored.length - 1] = m.extend;
      stored.push(...m.insert);
      last = stored.filter((p) => p.kind !== 'triggered').at(-1) ?? null;
      next = r.nextPoint;
    }
    expect(stored).toEqual([
      { kind: 'skipped', execTs: d('2027-06-01T00:00:00Z'), untilTs: d('2027-06-10T23:59:00Z'), count: 14_400 },
      { kind: 'scheduled', execTs: d('2027-06-11T00:00:00Z'), untilTs: null, count: 1 },
    ]);
  });

  it('mergeSkipped: only a skipped range after a skipped latest record merges', () => {
    const skipped = (from: string, until: string | null, count: number): PointRecord => ({ kind: 'skipped', execTs: d(from), untilTs: until ? d(until) : null, count });
    const sched: PointRecord = { kind: 'scheduled', execTs: d('2026-01-01T05:00:00Z'), untilTs: null, count: 1 };
    expect(mergeSkipped(skipped('2026-01-01T00:00:00Z', null, 1), [skipped('2026-01-01T01:00:00Z', '2026-01-01T02:00:00Z', 2), sched])).toEqual({
      extend: skipped('2026-01-01T00:00:00Z', '2026-01-01T02:00:00Z', 3),
      insert: [sched],
    });
    expect(mergeSkipped(sched, [skipped('2026-01-01T06:00:00Z', null, 1)])).toEqual({ extend: null, insert: [skipped('2026-01-01T06:00:00Z', null, 1)] });
    expect(mergeSkipped(skipped('2026-01-01T00:00:00Z', null, 1), [sched])).toEqual({ extend: null, insert: [sched] });
    expect(mergeSkipped(null, [])).toEqual({ extend: null, insert: [] });
  });
});
