import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, HOUR, T0, claimOne, plus, useOrrery } from './fixtures.js';

const point = (at: Date, known: number, enabled: number, never: number, pending: number) => ({
  at,
  originsKnown: known,
  originsEnabled: enabled,
  originsNeverVisited: never,
  originsWithPendingChanges: pending,
});

/** Issue 9 item 5: metrics over time, and each origin's visit history (docs/visits.md, "History"). */
export function visitHistoryCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);
  const open = async () => {
    const { orrery } = await setup([{ name: 'git' }]);
    orrery.visits.rng = () => 0.5;
    return orrery;
  };

  describe('visit history: origin visits', () => {
    it('each applied visit is appended (newest first); late and duplicate results are not', async () => {
      const o = await open();
      await o.visits.recordVisit('u', 'git', 'successful', 's1', { at: plus(T0, DAY) });
      await o.visits.recordVisit('u', 'git', 'successful', 's1', { at: plus(T0, 2 * DAY) });
      await o.visits.recordVisit('other', 'git', 'not_found', null, { at: plus(T0, 2 * DAY) });
      await o.visits.recordVisit('u', 'hg', 'failed', null, { at: plus(T0, 2 * DAY) });
      const [late, dup, last] = await o.visits.recordVisits([
        { url: 'u', visitType: 'git', status: 'failed', at: plus(T0, 3 * DAY) },
        { url: 'u', visitType: 'git', status: 'successful', snapshot: 's9', at: plus(T0, DAY + HOUR) }, // older: ignored
        { url: 'u', visitType: 'git', status: 'successful', snapshot: 's2', at: plus(T0, 4 * DAY) },
      ]);
      expect([late!.applied, dup!.applied, last!.applied]).toEqual([true, false, true]);
      expect((await o.visits.recordVisit('u', 'git', 'failed', null, { at: plus(T0, 4 * DAY) })).applied).toBe(false); // duplicate instant

      const all = await o.visits.getOriginVisits('u', 'git');
      expect(all).toEqual([
        { url: 'u', visitType: 'git', at: plus(T0, 4 * DAY), status: 'successful', snapshot: 's2', eventful: true },
        { url: 'u', visitType: 'git', at: plus(T0, 3 * DAY), status: 'failed', snapshot: null, eventful: false },
        { url: 'u', visitType: 'git', at: plus(T0, 2 * DAY), status: 'successful', snapshot: 's1', eventful: false },
        { url: 'u', visitType: 'git', at: plus(T0, DAY), status: 'successful', snapshot: 's1', eventful: true },
      ]);
      // pages: limit, then before the last row's instant
      const first = await o.visits.getOriginVisits('u', 'git', { limit: 3 });
      expect(first).toEqual(all.slice(0, 3));
      expect(await o.visits.getOriginVisits('u', 'git', { limit: 3, before: first[2]!.at })).toEqual(all.slice(3));
      expect(await o.visits.getOriginVisits('u', 'svn')).toEqual([]);
      expect((await o.visits.getOriginVisits('u', 'hg')).map((v) => v.status)).toEqual(['failed']);
      await expect(o.visits.getOriginVisits('u', 'git', { limit: 0 })).rejects.toBeInstanceOf(ValidationError);
      await expect(o.visits.getOriginVisits('', 'git')).rejects.toBeInstanceOf(ValidationError);
    });

    it('a visit recorded from a finished visit task is appended in the same transaction', async () => {
      const o = await open();
      const lister = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: lister.id, url: 'https://x/a', visitType: 'git' }], { at: T0 });
      const { tasks } = await o.visits.scheduleVisits('git', 1, [{ policy: 'oldest_scheduled_first', weight: 1 }], { at: T0 });
      const run = await claimOne(o, tasks[0]!.id, T0, 'w');
      await o.endRun(run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 2000), result: { status: 'successful', snapshot: 'snap-a' } });
      expect((await o.visits.collectFinishedVisits()).map((c) => c.recorded?.applied)).toEqual([true]);
      expect(await o.visits.getOriginVisits('https://x/a', 'git')).toEqual([
        { url: 'https://x/a', visitType: 'git', at: plus(T0, 2000), status: 'successful', snapshot: 'snap-a', eventful: true },
      ]);
    });
  });

  describe('visit history: metrics over time', () => {
    it('updateMetrics answers its groups in code point order of lister and visit type, as the other metrics reads (docs/postgres.md)', async () => {
      const o = await open();
      const l = await o.visits.getOrCreateLister('gl', '', { at: T0 });
      const types = ['v-b', 'v_b', 'v.b', 'v:b', 'v0'];
      await o.visits.recordListedOrigins(types.map((visitType, i) => ({ listerId: l.id, url: `u${i}`, visitType, lastUpdate: null })), { at: T0 });
      const order = ['v-b', 'v.b', 'v0', 'v:b', 'v_b'];
      expect((await o.visits.updateMetrics({ at: plus(T0, HOUR) })).map((m) => m.visitType)).toEqual(order);
      expect((await o.visits.getMetrics()).map((m) => m.visitType)).toEqual(order);
    });

    it('every updateMetrics appends one point per (lister, visit type); last N, since, filters', async () => {
      const o = await open();
      const a = await o.visits.getOrCreateLister('a', '', { at: T0 });
      const b = await o.visits.getOrCreateLister('b', '', { at: T0 });
      const origins = (lister: string, visitType: string, urls: string[], lastUpdate: Date | null = null) =>
        o.visits.recordListedOrigins(urls.map((url) => ({ listerId: lister, url, visitType, lastUpdate })), { at: T0 });
      await origins(a.id, 'git', ['g1', 'g2']);
      await origins(a.id, 'hg', ['h1']);
      await origins(b.id, 'git', ['g3']);
      expect(await o.visits.getMetricsHistory()).toEqual([]);

      await o.visits.updateMetrics({ at: plus(T0, HOUR) });
      await o.visits.recordVisit('g1', 'git', 'successful', 's', { at: plus(T0, HOUR + 1) });
      await origins(a.id, 'git', ['g4'], plus(T0, DAY));
      await o.visits.updateMetrics({ at: plus(T0, 2 * HOUR) });
      await origins(a.id, 'git', ['g1'], plus(T0, DAY)); // changed after its visit: pending
      await o.visits.setOriginsEnabled([{ url: 'g2', visitType: 'git' }], false);
      await o.visits.updateMetrics({ at: plus(T0, 3 * HOUR), lister: a.id }); // b gets no point

      const ids = [a.id, b.id].sort();
      const all = await o.visits.getMetricsHistory();
      expect(all.map((s) => [s.listerId, s.visitType])).toEqual(
        [[a.id, 'git'], [a.id, 'hg'], [b.id, 'git']].sort((x, y) => ids.indexOf(x[0]!) - ids.indexOf(y[0]!) || x[1]!.localeCompare(y[1]!)),
      );
      const aGit = all.find((s) => s.listerId === a.id && s.visitType === 'git')!;
      expect(aGit.points).toEqual([
        point(plus(T0, HOUR), 2, 2, 2, 0),
        point(plus(T0, 2 * HOUR), 3, 3, 2, 0),
        point(plus(T0, 3 * HOUR), 3, 2, 1, 1),
      ]);
      expect(all.find((s) => s.listerId === b.id)!.points).toEqual([point(plus(T0, HOUR), 1, 1, 1, 0), point(plus(T0, 2 * HOUR), 1, 1, 1, 0)]);

      expect(await o.visits.getMetricsHistory({ lister: a.id, visitType: 'git', limit: 2 })).toEqual([{ ...aGit, points: aGit.points.slice(1) }]);
      expect(await o.visits.getMetricsHistory({ lister: a.id, visitType: 'git', since: plus(T0, 2 * HOUR) })).toEqual([{ ...aGit, points: aGit.points.slice(1) }]);
      expect(await o.visits.getMetricsHistory({ lister: a.id, visitType: 'git', since: plus(T0, 2 * HOUR), limit: 1 })).toEqual([{ ...aGit, points: aGit.points.slice(2) }]);
      expect((await o.visits.getMetricsHistory({ visitType: 'hg' })).map((s) => s.points.length)).toEqual([3]);
      expect(await o.visits.getMetricsHistory({ visitType: 'svn' })).toEqual([]);
      await expect(o.visits.getMetricsHistory({ limit: 10_001 })).rejects.toBeInstanceOf(ValidationError);
    });

    it('keeps at most keepHistory points per pair, pruning the oldest; one point per instant', async () => {
      const o = await open();
      const a = await o.visits.getOrCreateLister('a', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: a.id, url: 'g1', visitType: 'git' }, { listerId: a.id, url: 'h1', visitType: 'hg' }], { at: T0 });
      for (let i = 1; i <= 3; i++) await o.visits.updateMetrics({ at: plus(T0, i * HOUR) });
      await o.visits.setOriginsEnabled([{ url: 'g1', visitType: 'git' }], false);
      await o.visits.updateMetrics({ at: plus(T0, 3 * HOUR) }); // same instant: replaces that point
      for (let i = 4; i <= 6; i++) await o.visits.updateMetrics({ at: plus(T0, i * HOUR), keepHistory: 4 });
      const [git, hg] = await o.visits.getMetricsHistory();
      expect(git!.points.map((p) => p.at)).toEqual([3, 4, 5, 6].map((i) => plus(T0, i * HOUR)));
      expect(git!.points[0]!.originsEnabled).toBe(0);
      expect(hg!.points.map((p) => p.at)).toEqual([3, 4, 5, 6].map((i) => plus(T0, i * HOUR)));
      await o.visits.updateMetrics({ at: plus(T0, 7 * HOUR), keepHistory: 1 });
      expect((await o.visits.getMetricsHistory()).map((s) => s.points.map((p) => p.at))).toEqual([[plus(T0, 7 * HOUR)], [plus(T0, 7 * HOUR)]]);
      await expect(o.visits.updateMetrics({ keepHistory: 0 })).rejects.toBeInstanceOf(ValidationError);
    });
  });
}
