import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import {
  applyVisit,
  cooldownThresholds,
  DEFAULT_COOLDOWNS,
  newVisitStats,
  offsetDays,
  splitByWeight,
  validateCooldowns,
  validateVisitResult,
  visitFromRun,
  type OriginVisitStats,
  type VisitResult,
  type VisitStatus,
  trimToRoom,
} from './visits.js';
import { validateListedOrigins } from './visit-input.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const at = (days: number) => new Date(T0.getTime() + days * DAY);
const mid = () => 0.5; // jitter factor exactly 1
const URL = 'https://example.org/repo';

function visit(status: VisitStatus, when: Date, snapshot: string | null = null): VisitResult {
  return { url: URL, visitType: 'git', status, snapshot, at: when };
}

/** Applies visits in order, returning every outcome. */
function replay(visits: VisitResult[], start: OriginVisitStats | null = null, global: number | null = null) {
  let stats = start;
  return visits.map((v) => {
    const o = applyVisit(stats, v, global, mid);
    stats = o.stats;
    return o;
  });
}

describe('offsetDays', () => {
  it('is 1 up to offset 1, 2 for 2..4, then 4^(o-4)', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 10].map(offsetDays)).toEqual([1, 1, 2, 2, 2, 4, 16, 64, 4096]);
  });
});

describe('applyVisit (recordVisit transition)', () => {
  it('first not_found: offset 4 -> 5, position 0 + 4 days, one failure in a row, not disabled', () => {
    const [o] = replay([visit('not_found', at(1))]);
    expect(o).toMatchObject({ applied: true, eventful: false, disable: false });
    expect(o!.stats).toEqual({
      ...newVisitStats(URL, 'git'),
      lastVisit: at(1),
      lastVisitStatus: 'not_found',
      nextPositionOffset: 5,
      nextVisitQueuePosition: 4 * 86_400,
      successiveVisits: 1,
    });
  });

  it('three not_found in a row disable the origin; failed and not_found share the streak', () => {
    const outs = replay([visit('not_found', at(1)), visit('not_found', at(2)), visit('not_found', at(3))]);
    expect(outs.map((o) => [o.stats.successiveVisits, o.disable, o.stats.nextPositionOffset])).toEqual([
      [1, false, 5],
      [2, false, 6],
      [3, true, 7],
    ]);
    const mixed = replay([visit('failed', at(1)), visit('not_found', at(2)), visit('failed', at(3))]);
    expect(mixed.map((o) => o.disable)).toEqual([false, false, true]);
  });

  it('a success breaks the failure streak', () => {
    const outs = replay([visit('failed', at(1)), visit('failed', at(2)), visit('successful', at(3), 's1'), visit('failed', at(4)), visit('failed', at(5))]);
    expect(outs.map((o) => [o.stats.successiveVisits, o.disable])).toEqual([
      [1, false],
      [2, false],
      [1, false],
      [1, false],
      [2, false],
    ]);
  });

  it('eventful and uneventful sequences move the offset -2 / +1 within [0, 10] and the position by its days', () => {
    const outs = replay([
      visit('successful', at(1), 's1'), // eventful: 4 -> 2 (2 days)
      visit('successful', at(2), 's2'), // eventful: 2 -> 0 (1 day)
      visit('successful', at(3), 's3'), // eventful: clamped at 0 (1 day)
      visit('successful', at(4), 's3'), // uneventful: 0 -> 1 (1 day)
      visit('successful', at(5), 's3'), // 2 (2 days)
    ]);
    expect(outs.map((o) => o.eventful)).toEqual([true, true, true, false, false]);
    expect(outs.map((o) => o.stats.nextPositionOffset)).toEqual([2, 0, 0, 1, 2]);
    expect(outs.map((o) => o.stats.nextVisitQueuePosition! / 86_400)).toEqual([2, 3, 4, 5, 7]);
    expect(outs.map((o) => o.stats.successiveVisits)).toEqual([1, 2, 3, 4, 5]);
    expect(outs[4]!.stats).toMatchObject({ lastSuccessful: at(5), lastSnapshot: 's3', lastVisitStatus: 'successful' });

    const idle = replay(Array.from({ length: 8 }, (_, i) => visit('successful', at(i + 1), 'same')));
    expect(idle.map((o) => o.stats.nextPositionOffset)).toEqual([2, 3, 4, 5, 6, 7, 8, 9].map((x, i) => (i === 0 ? 2 : x)));
    const more = replay(Array.from({ length: 12 }, (_, i) => visit('failed', at(i + 1))));
    expect(more.map((o) => o.stats.nextPositionOffset).slice(-3)).toEqual([10, 10, 10]);
  });

  it('ignores older and duplicate results: nothing changes', () => {
    const [first] = replay([visit('successful', at(5), 's1')]);
    for (const late of [visit('failed', at(4)), visit('successful', at(5), 's2'), visit('not_found', at(1))]) {
      const o = applyVisit(first!.stats, late, null, mid);
      expect(o).toEqual({ stats: first!.stats, applied: false, eventful: false, disable: false });
    }
    // out of order: the newer result wins whichever arrives first
    const newerFirst = replay([visit('successful', at(5), 'new'), visit('successful', at(3), 'old')]);
    expect(newerFirst[1]!.stats.lastSnapshot).toBe('new');
  });

  it('starts from the global queue position when the origin has none, and jitters by +-10% from the rng', () => {
    const low = applyVisit(null, visit('failed', at(1)), 1000, () => 0).stats.nextVisitQueuePosition;
    const high = applyVisit(null, visit('failed', at(1)), 1000, () => 0.999999).stats.nextVisitQueuePosition;
    expect(low).toBe(1000 + 4 * 86_400 * 0.9);
    expect(high).toBeGreaterThan(1000 + 4 * 86_400 * 1.0999);
    expect(high).toBeLessThan(1000 + 4 * 86_400 * 1.1);
    const existing = { ...newVisitStats(URL, 'git'), nextVisitQueuePosition: 50 };
    expect(applyVisit(existing, visit('failed', at(1)), 1000, mid).stats.nextVisitQueuePosition).toBe(50 + 4 * 86_400);
  });

  it('keeps lastScheduled, and a failure keeps the last snapshot and last success', () => {
    const start = { ...newVisitStats(URL, 'git'), lastScheduled: at(0) };
    const [, failed] = replay([visit('successful', at(1), 's1'), visit('failed', at(2))], start);
    expect(failed!.stats).toMatchObject({ lastScheduled: at(0), lastSnapshot: 's1', lastSuccessful: at(1), lastVisit: at(2), lastVisitStatus: 'failed' });
  });
});

describe('validation', () => {
  const lister = '0b5e8a66-5c3e-4f5e-9d0e-1a2b3c4d5e6f';
  it('rejects a batch with one bad row, naming every problem', () => {
    const bad = () =>
      validateListedOrigins([
        { listerId: lister, url: 'https://a', visitType: 'git' },
        { listerId: 'nope', url: '', visitType: 'Git!' },
        { listerId: lister, url: 'https://b', visitType: 'git', extraLoaderArguments: [] },
      ]);
    expect(bad).toThrow(ValidationError);
    try {
      bad();
    } catch (e) {
      expect((e as ValidationError).details.map((d) => d.path)).toEqual(['origins[1].listerId', 'origins[2].extraLoaderArguments']);
    }
    expect(validateListedOrigins([{ listerId: lister.toUpperCase(), url: 'u', visitType: 'git' }])).toEqual([
      { listerId: lister, url: 'u', visitType: 'git', extraLoaderArguments: {}, lastUpdate: null },
    ]);
  });

  it('names one nesting limit for extra loader arguments, 127 levels, however deep they go', () => {
    // Objects nested n levels deep: {a:{a:...{}}}.
    const nested = (n: number) => {
      let v: Record<string, unknown> = {};
      for (let i = 1; i < n; i++) v = { a: v };
      return v;
    };
    const origin = (n: number) => [{ listerId: lister, url: 'https://a', visitType: 'git', extraLoaderArguments: nested(n) }];
    expect(validateListedOrigins(origin(127))).toHaveLength(1);
    for (const n of [128, 129, 500]) {
      expect(() => validateListedOrigins(origin(n))).toThrow(/^origins\[0\]\.extraLoaderArguments: JSON nested deeper than 127 levels \(it becomes the kwargs/);
    }
    // Another problem of a shallow value is named as it is.
    expect(() => validateListedOrigins([{ listerId: lister, url: 'https://a', visitType: 'git', extraLoaderArguments: { a: 'x\u0000' } }])).toThrow(/extraLoaderArguments\.a: /);
  });

  it('takes a successful visit with or without a snapshot, and needs a known status', () => {
    expect(validateVisitResult({ url: 'u', visitType: 'git', status: 'successful', at: T0 }).snapshot).toBeNull();
    // Without a snapshot: successful, not eventful, the last snapshot kept.
    const first = applyVisit(null, visit('successful', T0, 's1'), null, () => 0.5);
    const bare = applyVisit(first.stats, visit('successful', new Date(T0.getTime() + 1000)), null, () => 0.5);
    expect(bare).toMatchObject({ applied: true, eventful: false, stats: { lastSnapshot: 's1', lastVisitStatus: 'successful', lastSuccessful: new Date(T0.getTime() + 1000) } });
    expect(visitFromRun({ status: 'uneventful', ended: T0, result: { status: 'successful' } })).toEqual({ status: 'successful', snapshot: null, at: T0 });
    expect(() => validateVisitResult({ url: 'u', visitType: 'git', status: 'partial', at: T0 })).toThrow(/status/);
    expect(validateVisitResult({ url: 'u', visitType: 'git', status: 'failed', snapshot: 'x', at: T0 }).snapshot).toBeNull();
  });

  it('fills cooldown defaults and rejects negative ones', () => {
    expect(validateCooldowns({ failedMs: 0 })).toEqual({ ...DEFAULT_COOLDOWNS, failedMs: 0 });
    expect(() => validateCooldowns({ absoluteMs: -1 })).toThrow(/cooldowns.absoluteMs/);
    expect(() => validateCooldowns({ bogus: 1 } as never)).toThrow(/unknown cooldown/);
    expect(cooldownThresholds(at(40), DEFAULT_COOLDOWNS)).toEqual({
      absoluteBefore: new Date(at(40).getTime() - 12 * 3_600_000),
      scheduledBefore: at(33),
      failedBefore: at(26),
      notFoundBefore: at(9),
    });
  });
});

describe('splitByWeight and visitFromRun', () => {
  it('splits slots exactly by weight', () => {
    const w = [
      { policy: 'oldest_scheduled_first' as const, weight: 40 },
      { policy: 'never_visited_oldest_update_first' as const, weight: 40 },
      { policy: 'origins_without_last_update' as const, weight: 20 },
    ];
    expect(splitByWeight(100, w).map((x) => x.count)).toEqual([40, 40, 20]);
    expect(splitByWeight(7, w).map((x) => x.count)).toEqual([3, 3, 1]);
    expect(splitByWeight(1, w).reduce((s, x) => s + x.count, 0)).toBe(1);
    expect(() => splitByWeight(1, [])).toThrow(ValidationError);
  });

  it('reads a visit from a run result; anything else is a failed visit', () => {
    const ended = at(1);
    expect(visitFromRun({ status: 'eventful', ended, result: { status: 'successful', snapshot: 's' } })).toEqual({ status: 'successful', snapshot: 's', at: ended });
    expect(visitFromRun({ status: 'uneventful', ended, result: { status: 'not_found' } })).toEqual({ status: 'not_found', snapshot: null, at: ended });
    expect(visitFromRun({ status: 'uneventful', ended, result: 'weird' })!.status).toBe('failed');
    // A snapshot that cannot be recorded fails the visit instead of being dropped from a success.
    for (const snapshot of [{ id: 1 }, 42, '', 'x'.repeat(1025), true]) {
      expect(visitFromRun({ status: 'eventful', ended, result: { status: 'successful', snapshot } })).toEqual({ status: 'failed', snapshot: null, at: ended });
    }
    expect(visitFromRun({ status: 'eventful', ended, result: { status: 'successful', snapshot: null } })).toEqual({ status: 'successful', snapshot: null, at: ended });
    expect(visitFromRun({ status: 'failed', ended, result: null })!.status).toBe('failed');
    expect(visitFromRun({ status: 'started', ended: null, result: null })).toBeNull();
  });
});

describe('trimToRoom', () => {
  const p = [
    { policy: 'oldest_scheduled_first' as const, count: 6 },
    { policy: 'never_visited_oldest_update_first' as const, count: 3 },
    { policy: 'origins_without_last_update' as const, count: 0 },
  ];
  it('keeps counts that fit, splits the room in proportion otherwise, and gives nothing without room', () => {
    expect(trimToRoom(p, 9)).toEqual(p);
    expect(trimToRoom(p, 3)).toEqual([
      { policy: 'oldest_scheduled_first', count: 2 },
      { policy: 'never_visited_oldest_update_first', count: 1 },
    ]);
    expect(trimToRoom(p, 0)).toEqual([]);
    expect(trimToRoom(p, -5)).toEqual([]);
  });
});
