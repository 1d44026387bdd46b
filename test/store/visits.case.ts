import { describe, expect, it } from 'vitest';
import { NotFoundError, StaleDataError, ValidationError } from '../../src/core/errors.js';
import { applyVisit, type ListedOrigin } from '../../src/core/visits.js';
import type { Orrery } from '../../src/engine/service.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, HOUR, T0, plus, useOrrery, claimStarted } from './fixtures.js';

const MIN = 60_000;
const SEC = 1000;
const ZERO = { absoluteMs: 0, scheduledMs: 0, failedMs: 0, notFoundMs: 0 };
const urls = (os: ListedOrigin[]) => os.map((o) => o.url);

/** Marks the next never-scheduled origin (in insertion order) as scheduled at `at`. */
async function scheduleNext(o: Orrery, visitType: string, at: Date, expected: string) {
  const got = await o.visits.grabNextVisits(visitType, 1, 'oldest_scheduled_first', { at, cooldowns: ZERO });
  expect(urls(got)).toEqual([expected]);
}

/**
 * The fixed data set of docs/visits.md, as of G = T0 + 30 days (lastUpdate / lastScheduled / last visit):
 *   a  1d    5d  successful 5d1h       c  20d  6d  successful 6d1h (relisted with a newer update)
 *   d  2d    7d  failed 7d1h           e  -    8d  not_found 8d1h
 *   f  10d   9d  successful 9d1h       b  -    -   never visited
 */
async function fixedDataSet(o: Orrery) {
  const lister = await o.visits.getOrCreateLister('gitlab', 'gitlab.example', { at: T0 });
  const lastUpdate: Record<string, Date | null> = { a: plus(T0, DAY), c: plus(T0, 3 * DAY), d: plus(T0, 2 * DAY), e: null, f: plus(T0, 10 * DAY), b: null };
  let i = 0;
  for (const [url, lu] of Object.entries(lastUpdate)) {
    await o.visits.recordListedOrigins([{ listerId: lister.id, url, visitType: 'git', lastUpdate: lu }], { at: plus(T0, i++ * MIN) });
  }
  const steps: Array<[string, number, 'successful' | 'failed' | 'not_found', string | null]> = [
    ['a', 5, 'successful', 's1'],
    ['c', 6, 'successful', 's2'],
    ['d', 7, 'failed', null],
    ['e', 8, 'not_found', null],
    ['f', 9, 'successful', 's3'],
  ];
  for (const [url, day, status, snapshot] of steps) {
    await scheduleNext(o, 'git', plus(T0, day * DAY), url);
    await o.visits.recordVisit(url, 'git', status, snapshot, { at: plus(T0, day * DAY + HOUR) });
  }
  await o.visits.recordListedOrigins([{ listerId: lister.id, url: 'c', visitType: 'git', lastUpdate: plus(T0, 20 * DAY) }], { at: plus(T0, 21 * DAY) });
  return { lister, G: plus(T0, 30 * DAY) };
}

export function visitCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);
  const open = async () => {
    const { orrery, another } = await setup([{ name: 'git' }]);
    orrery.visits.rng = () => 0.5; // no jitter
    return { o: orrery, another };
  };

  describe('visits: listers', () => {
    it('getOrCreateLister is idempotent; listers are found by id and by name', async () => {
      const { o } = await open();
      const a = await o.visits.getOrCreateLister('github', '', { at: T0 });
      const again = await o.visits.getOrCreateLister('github', '', { at: plus(T0, HOUR) });
      const other = await o.visits.getOrCreateLister('github', 'mirror', { at: T0 });
      expect(again).toEqual(a);
      expect(a).toMatchObject({ name: 'github', instanceName: '', currentState: {}, created: T0, updated: T0, lastListingFinishedAt: null });
      expect(other.id).not.toBe(a.id);
      expect(await o.visits.getListers([other.id, a.id])).toEqual([a, other]);
      expect(await o.visits.findLister('github', 'mirror')).toEqual(other);
      expect(await o.visits.findLister('nope')).toBeNull();
      expect((await o.visits.listListers()).map((l) => l.instanceName)).toEqual(['', 'mirror']);
    });

    it('updateLister is optimistic: a stale `updated` raises StaleDataError and changes nothing', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('cran', '', { at: T0 });
      // same instant as the creation: `updated` still moves forward, so the old token is stale
      const u1 = await o.visits.updateLister({ id: l.id, updated: l.updated, currentState: { page: 2 }, lastListingFinishedAt: plus(T0, MIN) }, { at: T0 });
      expect(u1.updated.getTime()).toBe(T0.getTime() + 1);
      expect(u1).toMatchObject({ currentState: { page: 2 }, lastListingFinishedAt: plus(T0, MIN) });
      await expect(o.visits.updateLister({ id: l.id, updated: l.updated, currentState: { page: 99 } }, { at: plus(T0, HOUR) })).rejects.toBeInstanceOf(StaleDataError);
      expect(await o.visits.getLister(l.id)).toEqual(u1);
      const u2 = await o.visits.updateLister({ id: l.id, updated: u1.updated, currentState: { page: 3 } }, { at: plus(T0, HOUR) });
      expect(u2).toMatchObject({ updated: plus(T0, HOUR), currentState: { page: 3 }, lastListingFinishedAt: plus(T0, MIN) });
      await expect(o.visits.updateLister({ id: '00000000-0000-4000-8000-000000000000', updated: T0 })).rejects.toBeInstanceOf(NotFoundError);
      // An update without currentState keeps the stored state (it reset it to {}), as an absent lastListingFinishedAt keeps that.
      const u3 = await o.visits.updateLister({ id: l.id, updated: u2.updated, lastListingFinishedAt: plus(T0, 2 * HOUR) }, { at: plus(T0, 2 * HOUR) });
      expect(u3).toMatchObject({ updated: plus(T0, 2 * HOUR), currentState: { page: 3 }, lastListingFinishedAt: plus(T0, 2 * HOUR) });
      expect(await o.visits.getLister(l.id)).toEqual(u3);
      const u4 = await o.visits.updateLister({ id: l.id, updated: u3.updated, currentState: {} }, { at: plus(T0, 3 * HOUR) });
      expect(u4.currentState).toEqual({});
    });
  });

  describe('visits: listed origins', () => {
    it('upserts by (lister, url, visit type): firstSeen kept; lastSeen, lastUpdate and loader arguments refreshed', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('npm', '', { at: T0 });
      const [first] = await o.visits.recordListedOrigins([{ listerId: l.id, url: 'https://x', visitType: 'npm', extraLoaderArguments: { a: 1 } }], { at: T0 });
      expect(first).toEqual({ listerId: l.id, url: 'https://x', visitType: 'npm', extraLoaderArguments: { a: 1 }, lastUpdate: null, firstSeen: T0, lastSeen: T0, enabled: true });
      const [second] = await o.visits.recordListedOrigins(
        [
          { listerId: l.id, url: 'https://x', visitType: 'npm', extraLoaderArguments: { a: 0 } },
          { listerId: l.id, url: 'https://x', visitType: 'npm', extraLoaderArguments: { a: 2 }, lastUpdate: plus(T0, MIN) },
        ],
        { at: plus(T0, DAY) },
      );
      expect(second).toEqual({ ...first, extraLoaderArguments: { a: 2 }, lastUpdate: plus(T0, MIN), lastSeen: plus(T0, DAY) });
      expect((await o.visits.getListedOrigins()).origins).toEqual([second]);
      // metrics of never-visited origins only (no successful visit to compare with)
      expect(await o.visits.updateMetrics({ at: T0 })).toEqual([
        { listerId: l.id, visitType: 'npm', updated: T0, originsKnown: 1, originsEnabled: 1, originsNeverVisited: 1, originsWithPendingChanges: 0 },
      ]);
    });

    it('a batch is written in its order (listing, grabs and ties follow it) and its answer echoes the loader arguments as given', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('npm', '', { at: T0 });
      const urls = ['https://z/1', 'https://a/2', 'https://m/3', 'b', 'y', 'c'];
      const extra = { zz: 1, a: 2, b: { y: 1, x: 2 } };
      const out = await o.visits.recordListedOrigins(urls.map((url) => ({ listerId: l.id, url, visitType: 'npm', extraLoaderArguments: extra })), { at: T0 });
      // PostgreSQL wrote them in the order of its join with the visit stats (m/3, y, a/2, b, z/1, c).
      expect(out.map((x) => x.url)).toEqual(urls);
      expect((await o.visits.getListedOrigins()).origins.map((x) => x.url)).toEqual(urls);
      expect(JSON.stringify(out[0]!.extraLoaderArguments)).toBe(JSON.stringify(extra));
    });

    it('a batch with one bad row (or an unknown lister) is rejected whole and writes nothing', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('npm', '', { at: T0 });
      const good = { listerId: l.id, url: 'https://ok', visitType: 'npm' };
      await expect(o.visits.recordListedOrigins([good, { ...good, url: '' }], { at: T0 })).rejects.toThrow(/origins\[1\]\.url/);
      await expect(o.visits.recordListedOrigins([good, { ...good, listerId: '00000000-0000-4000-8000-000000000000' }], { at: T0 })).rejects.toThrow(
        /origins\[1\]\.listerId: unknown lister/,
      );
      // A lastUpdate before the earliest instant both stores hold (PostgreSQL failed the batch with its own error; SQLite stored it).
      await expect(o.visits.recordListedOrigins([good, { ...good, url: 'https://old', lastUpdate: new Date(Date.UTC(-5000, 0, 1)) }], { at: T0 })).rejects.toThrow(
        /^origins\[1\]\.lastUpdate: must not be before 4714-11-24 BC/,
      );
      expect((await o.visits.getListedOrigins()).origins).toEqual([]);
    });

    it('pages 2,500 origins at 1,000 per page without repeating or skipping one', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('big', '', { at: T0 });
      const all = Array.from({ length: 2500 }, (_, i) => ({ listerId: l.id, url: `https://h/${String(i).padStart(4, '0')}`, visitType: 'git' }));
      await o.visits.recordListedOrigins(all, { at: T0 });
      const pages: ListedOrigin[][] = [];
      let token: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof o.visits.getListedOrigins>> = await o.visits.getListedOrigins({ limit: 1000, pageToken: token, listerId: l.id });
        pages.push(page.origins);
        token = page.nextPageToken;
      } while (token !== null);
      expect(pages.map((p) => p.length)).toEqual([1000, 1000, 500]);
      expect(pages.flat().map((x) => x.url)).toEqual(all.map((x) => x.url));
      await expect(o.visits.getListedOrigins({ pageToken: 'x' })).rejects.toBeInstanceOf(ValidationError);
      expect((await o.visits.getListedOrigins({ url: 'https://h/0042' })).origins.map((x) => x.url)).toEqual(['https://h/0042']);
    });

    it('disabled origins are not grabbed until enabled again', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('npm', '', { at: T0 });
      await o.visits.recordListedOrigins(['u1', 'u2'].map((url) => ({ listerId: l.id, url, visitType: 'git' })), { at: T0 });
      expect(await o.visits.setOriginsEnabled([{ url: 'u1', visitType: 'git' }], false)).toBe(1);
      expect(urls(await o.visits.grabNextVisits('git', 10, 'oldest_scheduled_first', { at: T0, dryRun: true }))).toEqual(['u2']);
      expect((await o.visits.getListedOrigins({ enabled: false })).origins.map((x) => x.url)).toEqual(['u1']);
      await o.visits.setOriginsEnabled([{ url: 'u1', visitType: 'git' }], true);
      expect(urls(await o.visits.grabNextVisits('git', 10, 'oldest_scheduled_first', { at: T0, dryRun: true }))).toEqual(['u1', 'u2']);
      // Of one lister: the other lister's entry of the origin is left alone (visits audit: both changed on PostgreSQL).
      const m = await o.visits.getOrCreateLister('maven', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: m.id, url: 'u1', visitType: 'git' }], { at: T0 });
      expect(await o.visits.setOriginsEnabled([{ url: 'u1', visitType: 'git' }], false, m.id)).toBe(1);
      const entries = (await o.visits.getListedOrigins({ url: 'u1' })).origins.map((x) => [x.listerId === m.id ? 'maven' : 'npm', x.enabled]).sort();
      expect(entries).toEqual([['maven', false], ['npm', true]]);
    });

    it('enabling and disabling origins while their third failed visits disable them, from two services at once: every call answers (race audit: a deadlock reached the caller on PostgreSQL)', async () => {
      const { o, another } = await open();
      const other = await another();
      const l = await o.visits.getOrCreateLister('npm', '', { at: T0 });
      const keys = Array.from({ length: 300 }, (_, i) => ({ url: `https://d/${i}`, visitType: 'git' }));
      await o.visits.recordListedOrigins(keys.map((k) => ({ listerId: l.id, ...k })), { at: T0 });
      for (const d of [1, 2]) await o.visits.recordVisits(keys.map((k) => ({ ...k, status: 'failed' as const, at: plus(T0, d * HOUR) })));
      const third = (d: number, order: typeof keys) => order.map((k) => ({ ...k, status: 'failed' as const, at: plus(T0, d * HOUR) }));
      const calls = await Promise.allSettled([
        o.visits.recordVisits(third(3, keys)),
        other.visits.recordVisits(third(3, [...keys].reverse())),
        o.visits.setOriginsEnabled(keys, true),
        other.visits.setOriginsEnabled([...keys].reverse(), true),
        other.visits.setOriginsEnabled(keys, false),
      ]);
      expect(calls.filter((c) => c.status === 'rejected').map((c) => String((c as PromiseRejectedResult).reason))).toEqual([]);
    });

    it('URLs listed by many listers: a grab and its dry run hand out count distinct origins, and agree', async () => {
      const { o } = await open();
      const listers = [];
      for (let i = 0; i < 5; i++) listers.push(await o.visits.getOrCreateLister(`l${i}`, '', { at: T0 }));
      // s, t and w each listed by all five listers (in that order), then x by one: 16 rows, 4 origins.
      let i = 0;
      for (const url of ['s', 't', 'w']) {
        for (const l of listers) await o.visits.recordListedOrigins([{ listerId: l.id, url, visitType: 'git' }], { at: plus(T0, i++ * MIN) });
      }
      await o.visits.recordListedOrigins([{ listerId: listers[0]!.id, url: 'x', visitType: 'git' }], { at: plus(T0, i * MIN) });
      const at = plus(T0, DAY);
      for (const policy of ['oldest_scheduled_first', 'stop_after_success', 'origins_without_last_update'] as const) {
        const dry = urls(await o.visits.grabNextVisits('git', 4, policy, { at, dryRun: true }));
        expect(dry, policy).toHaveLength(4);
        expect(new Set(dry).size, policy).toBe(4);
      }
      const dry = urls(await o.visits.grabNextVisits('git', 4, 'oldest_scheduled_first', { at, dryRun: true }));
      expect(urls(await o.visits.grabNextVisits('git', 4, 'oldest_scheduled_first', { at }))).toEqual(dry);
    });

    it("SPEC §4's positional forms: grabNextVisits(type, count, policy, at, cooldowns) and recordVisit(..., snapshot, at) use that instant", async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('npm', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: l.id, url: 'p', visitType: 'git' }], { at: T0 });
      const at = plus(T0, HOUR);
      expect(urls(await o.visits.grabNextVisits('git', 5, 'oldest_scheduled_first', at, ZERO))).toEqual(['p']);
      const stats = async () => (await o.visits.getVisitStats([{ url: 'p', visitType: 'git' }]))[0];
      expect(await stats()).toMatchObject({ lastScheduled: at });
      const visited = plus(T0, 2 * HOUR);
      await o.visits.recordVisit('p', 'git', 'successful', 's1', visited);
      expect(await stats()).toMatchObject({ lastVisit: visited, lastSuccessful: visited, lastSnapshot: 's1' });
      // Anything else in that place is refused, not ignored.
      await expect(o.visits.recordVisit('p', 'git', 'successful', 's1', '2020-01-01' as never)).rejects.toThrow(/^at: must be a Date/);
      await expect(o.visits.grabNextVisits('git', 5, 'oldest_scheduled_first', 5 as never)).rejects.toThrow(/^at: must be a Date/);
    });

    it('a grab an hour after the earliest instant the stores hold: its cooldowns reach before it and are held there', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('npm', '', { at: T0 });
      const first = new Date(Date.UTC(-4713, 10, 24, 1));
      await o.visits.recordListedOrigins([{ listerId: l.id, url: 'p', visitType: 'git' }], { at: first });
      expect(urls(await o.visits.grabNextVisits('git', 5, 'oldest_scheduled_first', { at: first }))).toEqual(['p']);
      // Scheduled at that instant: the default cooldowns (which reach before it) keep it from a second grab.
      expect(urls(await o.visits.grabNextVisits('git', 5, 'oldest_scheduled_first', { at: plus(first, HOUR) }))).toEqual([]);
    });
  });

  describe('visits: grabNextVisits policies on the fixed data set', () => {
    it('selects and orders by each policy', async () => {
      const { o } = await open();
      const { lister, G } = await fixedDataSet(o);
      const grab = async (policy: string, extra: object = {}) => urls(await o.visits.grabNextVisits('git', 10, policy, { at: G, cooldowns: ZERO, dryRun: true, ...extra }));
      expect(await grab('oldest_scheduled_first')).toEqual(['b', 'a', 'c', 'd', 'e', 'f']);
      expect(await grab('stop_after_success')).toEqual(['d', 'e', 'b']);
      expect(await grab('never_visited_oldest_update_first')).toEqual(['d']);
      expect(await grab('already_visited_order_by_lag')).toEqual(['c', 'f']);
      expect(await grab('origins_without_last_update')).toEqual(['b', 'e']);
      await expect(grab('first_visits_after_listing')).rejects.toThrow(/needs a lister/);
      const read = (await o.visits.getLister(lister.id))!;
      await o.visits.updateLister({ id: lister.id, updated: read.updated, lastListingFinishedAt: plus(T0, 7 * DAY + 12 * HOUR) }, { at: G });
      expect(await grab('first_visits_after_listing', { lister: lister.id })).toEqual(['b', 'a', 'c', 'd']);
      expect(await grab('oldest_scheduled_first', { lister: lister.id })).toEqual(['b', 'a', 'c', 'd', 'e', 'f']);
      await expect(grab('newest_first')).rejects.toThrow(/unknown policy "newest_first"/);
      // default cooldowns: e's not_found visit (8d1h) is within 31 days
      expect(urls(await o.visits.grabNextVisits('git', 10, 'oldest_scheduled_first', { at: G, dryRun: true }))).toEqual(['b', 'a', 'c', 'd', 'f']);
      // The count is the positional one: a `count` among the options is refused, not taken or ignored.
      await expect(grab('oldest_scheduled_first', { count: 2 })).rejects.toThrow(/^options\.count: unknown field/);
      expect(urls(await o.visits.grabNextVisits('git', 2, 'stop_after_success', { at: G, cooldowns: ZERO, dryRun: true }))).toEqual(['d', 'e']);
    });

    it('marks lastScheduled atomically, and origins_without_last_update advances the global queue position', async () => {
      const { o } = await open();
      const { G } = await fixedDataSet(o);
      const [e] = await o.visits.getVisitStats([{ url: 'e', visitType: 'git' }]);
      expect(await o.visits.getQueuePosition('git')).toBeNull();
      expect(urls(await o.visits.grabNextVisits('git', 10, 'origins_without_last_update', { at: G, cooldowns: ZERO }))).toEqual(['b', 'e']);
      expect(await o.visits.getQueuePosition('git')).toBe(e!.nextVisitQueuePosition);
      const stats = await o.visits.getVisitStats([{ url: 'b', visitType: 'git' }, { url: 'e', visitType: 'git' }]);
      expect(stats.map((s) => [s.url, s.lastScheduled])).toEqual([
        ['b', G],
        ['e', G],
      ]);
      // just scheduled: the absolute cooldown keeps them out
      expect(urls(await o.visits.grabNextVisits('git', 10, 'oldest_scheduled_first', { at: plus(G, HOUR), cooldowns: { ...ZERO, absoluteMs: 12 * HOUR } }))).toEqual(['a', 'c', 'd', 'f']);
      // b's first visit starts from the global queue position
      await o.visits.recordVisit('b', 'git', 'failed', null, { at: plus(G, 2 * HOUR) });
      const [b] = await o.visits.getVisitStats([{ url: 'b', visitType: 'git' }]);
      expect(b!.nextVisitQueuePosition).toBe(e!.nextVisitQueuePosition! + 4 * 86_400);
    });

    it('metrics per (lister, visit type): known, enabled, never visited, with pending changes', async () => {
      const { o } = await open();
      const { lister, G } = await fixedDataSet(o);
      expect(await o.visits.getMetrics()).toEqual([]);
      const expected = { listerId: lister.id, visitType: 'git', updated: G, originsKnown: 6, originsEnabled: 6, originsNeverVisited: 3, originsWithPendingChanges: 2 };
      expect(await o.visits.updateMetrics({ at: G })).toEqual([expected]);
      await o.visits.setOriginsEnabled([{ url: 'c', visitType: 'git' }], false);
      expect(await o.visits.updateMetrics({ at: plus(G, 1), lister: lister.id })).toEqual([{ ...expected, updated: plus(G, 1), originsEnabled: 5, originsWithPendingChanges: 1 }]);
      expect(await o.visits.getMetrics({ visitType: 'hg' })).toEqual([]);
      expect((await o.visits.getMetrics({ lister: lister.id }))[0]!.originsEnabled).toBe(5);
      // Counted now (fresh): the same counts without an update, nothing stored, `updated` the service's now.
      await o.visits.setOriginsEnabled([{ url: 'a', visitType: 'git' }], false);
      const fresh = await o.visits.getMetrics({ fresh: true });
      expect(fresh).toHaveLength(1);
      const { updated, ...counts } = fresh[0]!;
      expect(counts).toEqual({ listerId: lister.id, visitType: 'git', originsKnown: 6, originsEnabled: 4, originsNeverVisited: 3, originsWithPendingChanges: 1 });
      expect(updated).toBeInstanceOf(Date);
      expect(await o.visits.getMetrics({ fresh: true, visitType: 'hg' })).toEqual([]);
      expect(await o.visits.getMetrics({ fresh: true, lister: lister.id, visitType: 'git' })).toEqual(fresh);
      expect((await o.visits.getMetrics())[0]!.originsEnabled).toBe(5); // the stored row is unchanged
    });
  });

  describe('visits: cooldowns at their boundary (one second before and after)', () => {
    const cases = [
      { name: 'absolute 12h since last scheduled', cooldowns: { ...ZERO, absoluteMs: 12 * HOUR }, visit: null, from: 'scheduled', ms: 12 * HOUR },
      { name: 'scheduled 7d unless visited since', cooldowns: { ...ZERO, scheduledMs: 7 * DAY }, visit: null, from: 'scheduled', ms: 7 * DAY },
      { name: 'failed 14d', cooldowns: { ...ZERO, failedMs: 14 * DAY }, visit: 'failed', from: 'visit', ms: 14 * DAY },
      { name: 'not_found 31d', cooldowns: { ...ZERO, notFoundMs: 31 * DAY }, visit: 'not_found', from: 'visit', ms: 31 * DAY },
    ] as const;
    for (const c of cases) {
      it(c.name, async () => {
        const { o } = await open();
        const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
        await o.visits.recordListedOrigins([{ listerId: l.id, url: 'u', visitType: 'git' }], { at: T0 });
        const S = plus(T0, DAY);
        await scheduleNext(o, 'git', S, 'u');
        const V = plus(S, HOUR);
        if (c.visit) await o.visits.recordVisit('u', 'git', c.visit, null, { at: V });
        const base = c.from === 'scheduled' ? S : V;
        const grab = (at: Date) => o.visits.grabNextVisits('git', 1, 'oldest_scheduled_first', { at, cooldowns: c.cooldowns, dryRun: true });
        expect(urls(await grab(plus(base, c.ms - SEC)))).toEqual([]);
        expect(urls(await grab(plus(base, c.ms)))).toEqual([]);
        expect(urls(await grab(plus(base, c.ms + SEC)))).toEqual(['u']);
      });
    }

    it('the scheduled cooldown ends early once the origin was visited after being scheduled', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: l.id, url: 'u', visitType: 'git' }], { at: T0 });
      await scheduleNext(o, 'git', T0, 'u');
      const cooldowns = { ...ZERO, scheduledMs: 7 * DAY };
      expect(urls(await o.visits.grabNextVisits('git', 1, 'oldest_scheduled_first', { at: plus(T0, HOUR), cooldowns, dryRun: true }))).toEqual([]);
      await o.visits.recordVisit('u', 'git', 'successful', 'snap', { at: plus(T0, 30 * MIN) });
      expect(urls(await o.visits.grabNextVisits('git', 1, 'oldest_scheduled_first', { at: plus(T0, HOUR), cooldowns, dryRun: true }))).toEqual(['u']);
    });
  });

  describe('visits: recordVisit', () => {
    it('first not_found, then three in a row disable the listed origin', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: l.id, url: 'u', visitType: 'git' }], { at: T0 });
      const r1 = await o.visits.recordVisit('u', 'git', 'not_found', null, { at: plus(T0, DAY) });
      expect(r1).toMatchObject({ applied: true, eventful: false, disabled: false });
      expect(r1.stats).toMatchObject({ lastVisitStatus: 'not_found', nextPositionOffset: 5, successiveVisits: 1, nextVisitQueuePosition: 4 * 86_400, lastSuccessful: null });
      await o.visits.recordVisit('u', 'git', 'not_found', null, { at: plus(T0, 2 * DAY) });
      expect((await o.visits.getListedOrigins()).origins[0]!.enabled).toBe(true);
      const r3 = await o.visits.recordVisit('u', 'git', 'not_found', null, { at: plus(T0, 3 * DAY) });
      expect(r3).toMatchObject({ applied: true, disabled: true });
      expect(r3.stats.successiveVisits).toBe(3);
      expect((await o.visits.getListedOrigins()).origins[0]!.enabled).toBe(false);
      expect(await o.visits.grabNextVisits('git', 5, 'oldest_scheduled_first', { at: plus(T0, 99 * DAY), cooldowns: ZERO })).toEqual([]);
    });

    it('eventful and uneventful sequences, stored exactly as the core transition computes them', async () => {
      const { o } = await open();
      const seq: Array<['successful' | 'failed', string | null]> = [
        ['successful', 's1'],
        ['successful', 's1'],
        ['successful', 's2'],
        ['failed', null],
        ['successful', 's2'],
      ];
      let expected = null;
      for (const [i, [status, snap]] of seq.entries()) {
        const at = plus(T0, (i + 1) * DAY);
        const r = await o.visits.recordVisit('u', 'git', status, snap, { at });
        const core = applyVisit(expected, { url: 'u', visitType: 'git', status, snapshot: snap, at }, null, () => 0.5);
        expected = core.stats;
        expect(r).toEqual({ stats: core.stats, applied: true, eventful: core.eventful, disabled: false });
        expect(await o.visits.getVisitStats([{ url: 'u', visitType: 'git' }])).toEqual([core.stats]);
      }
      expect(expected!.nextPositionOffset).toBe(4 - 2 + 1 - 2 + 1 + 1);
    });

    it("getVisitStats takes the typed client's (url, visitType) form too; anything but an array or that form is a ValidationError", async () => {
      const { o } = await open();
      await o.visits.recordVisit('u', 'git', 'failed', null, { at: plus(T0, DAY) });
      const [stats] = await o.visits.getVisitStats([{ url: 'u', visitType: 'git' }]);
      expect(await o.visits.getVisitStats('u', 'git')).toEqual(stats);
      expect(await o.visits.getVisitStats('never', 'git')).toBeNull();
      await expect(o.visits.getVisitStats({ url: 'u' } as never)).rejects.toBeInstanceOf(ValidationError);
      await expect(o.visits.getVisitStats('', 'git')).rejects.toThrow(/^url: /);
      await expect(o.visits.getVisitStats('u', '')).rejects.toThrow(/^visitType: /);
      await expect(o.visits.getVisitStats([null] as never)).rejects.toThrow(/^origins\[0\]\.url/);
      await expect(o.visits.setOriginsEnabled('u' as never, false)).rejects.toBeInstanceOf(ValidationError);
      // Items that are not objects, and ids that are not an array, are named, not a TypeError.
      await expect(o.visits.setOriginsEnabled([null] as never, false)).rejects.toThrow(/^origins\[0\]\.url/);
      await expect(o.visits.recordVisits([null] as never)).rejects.toBeInstanceOf(ValidationError);
      await expect(o.visits.getListers('x' as never)).rejects.toThrow(/^ids: /);
    });

    it('ignores out-of-order and duplicate results', async () => {
      const { o } = await open();
      await o.visits.recordVisit('u', 'git', 'successful', 'new', { at: plus(T0, 2 * DAY) });
      const before = await o.visits.getVisitStats([{ url: 'u', visitType: 'git' }]);
      const late = await o.visits.recordVisit('u', 'git', 'failed', null, { at: plus(T0, DAY) });
      const dup = await o.visits.recordVisit('u', 'git', 'successful', 'other', { at: plus(T0, 2 * DAY) });
      expect([late.applied, dup.applied]).toEqual([false, false]);
      expect(await o.visits.getVisitStats([{ url: 'u', visitType: 'git' }])).toEqual(before);
      // in one batch, in order: the older second result is ignored too
      const batch = await o.visits.recordVisits([
        { url: 'v', visitType: 'git', status: 'successful', snapshot: 'x', at: plus(T0, 5 * DAY) },
        { url: 'v', visitType: 'git', status: 'failed', at: plus(T0, 4 * DAY) },
      ]);
      expect(batch.map((b) => b.applied)).toEqual([true, false]);
      // A successful visit without a snapshot: recorded, not eventful.
      const [bare] = await o.visits.recordVisits([{ url: 'w', visitType: 'git', status: 'successful', at: T0 }]);
      expect(bare).toMatchObject({ applied: true, eventful: false, stats: { lastVisitStatus: 'successful', lastSnapshot: null, lastSuccessful: T0 } });
      await expect(o.visits.recordVisits([{ url: 'w', visitType: 'git', status: 'partial' as never, at: plus(T0, DAY) }])).rejects.toThrow(/status/);
    });
  });

  describe('visits: concurrent grabs', () => {
    it('two stores grabbing at once never hand out the same origin', async () => {
      const { o, another } = await open();
      const o2 = await another();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      const other = await o.visits.getOrCreateLister('l2', '', { at: T0 });
      const origins = Array.from({ length: 300 }, (_, i) => ({ listerId: l.id, url: `u${i}`, visitType: 'git' }));
      // every tenth origin listed by a second lister too: still one origin
      await o.visits.recordListedOrigins([...origins, ...origins.filter((_, i) => i % 10 === 0).map((x) => ({ ...x, listerId: other.id }))], { at: T0 });
      const grabs = await Promise.all(
        Array.from({ length: 16 }, (_, i) => (i % 2 ? o : o2).visits.grabNextVisits('git', 25, i % 4 < 2 ? 'oldest_scheduled_first' : 'origins_without_last_update', { at: plus(T0, HOUR) })),
      );
      const all = grabs.flatMap(urls);
      expect(all).toHaveLength(300);
      expect(new Set(all).size).toBe(300);
    });
  });

  describe('visits: a visit recorded while another lister lists its origin', () => {
    it("reaches the new listed rows: they never keep the stats copied before it", async () => {
      const { o, another } = await open();
      const o2 = await another();
      const first = await o.visits.getOrCreateLister('first', '', { at: T0 });
      const second = await o.visits.getOrCreateLister('second', '', { at: T0 });
      const all = Array.from({ length: 12_000 }, (_, i) => `https://x/${i}`);
      const sample = all.filter((_, i) => i % 60 === 0);
      await o.visits.recordListedOrigins(all.map((url) => ({ listerId: first.id, url, visitType: 'git' })), { at: T0 });
      await o.visits.recordVisits(sample.map((url) => ({ url, visitType: 'git', status: 'successful' as const, snapshot: 's', at: plus(T0, DAY) })));
      // The second lister lists every origin while each sampled one gets a failed visit, one at a time.
      const listing = o.visits.recordListedOrigins(all.map((url) => ({ listerId: second.id, url, visitType: 'git' })), { at: plus(T0, 2 * DAY) });
      for (const url of sample) await o2.visits.recordVisit(url, 'git', 'failed', null, { at: plus(T0, 2 * DAY) });
      await listing;
      // The second lister's rows know the failure: `stop_after_success` offers each sampled origin
      // again, and no grab hands one out within its failed cooldown.
      const retry = await o.visits.grabNextVisits('git', 100_000, 'stop_after_success', { at: plus(T0, 3 * DAY), cooldowns: ZERO, lister: second.id, dryRun: true });
      expect(sample.filter((u) => !urls(retry).includes(u))).toEqual([]);
      const grabbed = await o.visits.grabNextVisits('git', 100_000, 'oldest_scheduled_first', { at: plus(T0, 3 * DAY), dryRun: true });
      expect(urls(grabbed).filter((u) => sample.includes(u))).toEqual([]);
    });
  });

  describe('visits: scheduler queue (one-shot tasks) and results', () => {
    it('creates one one-shot task per grabbed origin and records each finished visit exactly once', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins(
        ['u1', 'u2', 'u3'].map((url) => ({ listerId: l.id, url, visitType: 'git', extraLoaderArguments: { depth: 1 } })),
        { at: T0 },
      );
      const { tasks, origins } = await o.visits.scheduleVisits('git', 2, [{ policy: 'oldest_scheduled_first', weight: 1 }], { at: T0 });
      expect(urls(origins)).toEqual(['u1', 'u2']);
      expect(tasks.map((t) => [t.type, t.policy, t.arguments])).toEqual([
        ['git', 'oneshot', { args: ['u1'], kwargs: { depth: 1 } }],
        ['git', 'oneshot', { args: ['u2'], kwargs: { depth: 1 } }],
      ]);
      expect(await o.visits.countInFlight('git')).toBe(2);
      await o.scheduleDue({ at: T0 });
      const claimed = await claimStarted(o, { worker: 'w', types: ['git'], limit: 10, at: T0 });
      const byUrl = new Map(claimed.map((c) => [c.arguments.args[0], c.run.backendId]));
      await o.endRun(byUrl.get('u1')!, { status: 'eventful', worker: 'w', at: plus(T0, MIN), result: { status: 'successful', snapshot: 'snap1' } });
      // A limit that is not an integer from 1 is refused on both stores (SQLite and PostgreSQL threw their driver's errors, or answered []).
      for (const limit of [-1, 0, 1.5, null, '2']) await expect(o.visits.collectFinishedVisits(limit as never)).rejects.toMatchObject({ name: 'ValidationError', details: [expect.objectContaining({ path: 'limit' })] });
      expect(await o.visits.collectFinishedVisits()).toHaveLength(1);
      expect(await o.visits.collectFinishedVisits()).toEqual([]);
      await o.endRun(byUrl.get('u2')!, { status: 'permfailed', worker: 'w', at: plus(T0, 2 * MIN), error: 'boom' });
      const [second] = await o.visits.collectFinishedVisits();
      expect(second).toMatchObject({ url: 'u2', recorded: { applied: true, stats: { lastVisitStatus: 'failed', lastVisit: plus(T0, 2 * MIN) } } });
      const stats = await o.visits.getVisitStats([{ url: 'u1', visitType: 'git' }]);
      expect(stats[0]).toMatchObject({ lastVisitStatus: 'successful', lastSnapshot: 'snap1', lastVisit: plus(T0, MIN), lastScheduled: T0 });
      expect(await o.visits.countInFlight('git')).toBe(0);
      await expect(o.visits.scheduleVisits('hg', 1, [{ policy: 'oldest_scheduled_first', weight: 1 }])).rejects.toBeInstanceOf(NotFoundError);
    });

    it('a visit task disabled while its run goes on is collected once the run ends, with its result (visits audit: it was collected at once and the result lost)', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: l.id, url: 'u1', visitType: 'git' }], { at: T0 });
      const { tasks } = await o.visits.scheduleVisits('git', 1, [{ policy: 'oldest_scheduled_first', weight: 1 }], { at: T0 });
      await o.scheduleDue({ at: T0 });
      const [c] = await claimStarted(o, { worker: 'w', types: ['git'], limit: 1, at: T0 });
      await o.disableTasks([tasks[0]!.id], { at: plus(T0, MIN) });
      expect(await o.visits.collectFinishedVisits()).toEqual([]);
      expect(await o.visits.countInFlight('git')).toBe(1);
      await o.endRun(c!.run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 2 * MIN), result: { status: 'successful', snapshot: 's1' } });
      const [collected] = await o.visits.collectFinishedVisits();
      expect(collected).toMatchObject({ url: 'u1', recorded: { applied: true, stats: { lastVisitStatus: 'successful', lastSnapshot: 's1' } } });
      expect(await o.visits.countInFlight('git')).toBe(0);
    });

    it('grabNextVisits, scheduleVisits and getListedOrigins refuse an option they do not know, naming it, and grab nothing', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: l.id, url: 'u1', visitType: 'git' }], { at: T0 });
      // Before: taken without a word (a misspelt dryRun grabbed for real)
      await expect(o.visits.grabNextVisits('git', 1, 'oldest_scheduled_first', { dryrun: true } as never)).rejects.toThrow(/^options\.dryrun: unknown field/);
      await expect(o.visits.scheduleVisits('git', 1, [{ policy: 'oldest_scheduled_first', weight: 1 }], { size: 3 } as never)).rejects.toThrow(/^options\.size: unknown field/);
      await expect(o.visits.getListedOrigins({ foo: 1 } as never)).rejects.toThrow(/^filter\.foo: unknown field/);
      await expect(o.visits.getMetricsHistory({ url: 'u1' } as never)).rejects.toThrow(/^filter\.url: unknown field \(one of lister, visitType, since, limit\)/);
      expect(await o.visits.getMetricsHistory({ since: T0, limit: 5 })).toEqual([]);
      expect((await o.visits.getVisitStats([{ url: 'u1', visitType: 'git' }]))[0]?.lastScheduled ?? null).toBeNull();
    });

    it('scheduleVisits has no dry run and checks its count and weights; enabled, fresh and the other visit options are checked too: nothing is written', async () => {
      const { o } = await open();
      await o.ensureTaskType({ name: 'git', defaultIntervalMs: '1d' });
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins([{ listerId: l.id, url: 'u1', visitType: 'git' }, { listerId: l.id, url: 'u2', visitType: 'git' }], { at: T0 });
      const oldest = [{ policy: 'oldest_scheduled_first' as const, weight: 1 }];
      const named = (path: string) => ({ name: 'ValidationError', details: [expect.objectContaining({ path })] });
      // Before: a dry run created the tasks; 1.5 scheduled 2, -1 and NaN nothing; a negative weight split the count into +6/-2.
      await expect(o.visits.scheduleVisits('git', 2, oldest, { at: T0, dryRun: true } as never)).rejects.toMatchObject(named('options.dryRun'));
      for (const count of [1.5, -1, Number.NaN, '2']) await expect(o.visits.scheduleVisits('git', count as never, oldest)).rejects.toMatchObject(named('count'));
      await expect(o.visits.scheduleVisits('git', 2, [{ policy: 'oldest_scheduled_first', weight: 3 }, { policy: 'never_visited_oldest_update_first', weight: -1 }])).rejects.toMatchObject(named('policies[1].weight'));
      await expect(o.visits.scheduleVisits('git', 2, [{ policy: 'oldest_scheduled_first', weight: '2' }] as never)).rejects.toMatchObject(named('policies[0].weight'));
      await expect(o.visits.scheduleVisits('git', 2, 'x' as never)).rejects.toMatchObject(named('policies'));
      await expect(o.visits.scheduleVisits('git', 2, [null] as never)).rejects.toMatchObject(named('policies[0]'));
      // A string for enabled was taken as true on one store and false on the other.
      await expect(o.visits.setOriginsEnabled([{ url: 'u1', visitType: 'git' }], 'false' as never)).rejects.toMatchObject(named('enabled'));
      await expect(o.visits.getListedOrigins({ enabled: 'false' } as never)).rejects.toMatchObject(named('enabled'));
      await expect(o.visits.getMetrics({ fresh: 'false' } as never)).rejects.toMatchObject(named('fresh'));
      await expect(o.visits.getMetrics({ lister: l.id, bogus: 1 } as never)).rejects.toMatchObject(named('filter.bogus'));
      await expect(o.visits.getOriginVisits('u1', 'git', { limt: 5 } as never)).rejects.toMatchObject(named('filter.limt'));
      await expect(o.visits.updateMetrics({ keep: 5 } as never)).rejects.toMatchObject(named('options.keep'));
      // A misspelt snapshot was dropped: a successful visit without it.
      await expect(o.visits.recordVisits([{ url: 'u1', visitType: 'git', status: 'successful', snap: 'x' } as never])).rejects.toMatchObject(named('snap'));
      await expect(o.visits.recordVisit('u1', 'git', 'successful', 's', { at: T0, bogus: 1 } as never)).rejects.toMatchObject(named('options.bogus'));
      await expect(o.visits.recordListedOrigins([{ listerId: l.id, url: 'u3', visitType: 'git' }], { at: T0, x: 1 } as never)).rejects.toMatchObject(named('options.x'));
      await expect(o.visits.updateLister({ id: l.id, updated: l.updated, curentState: {} } as never)).rejects.toMatchObject(named('curentState'));
      expect(await o.visits.countInFlight('git')).toBe(0);
      expect(await o.searchTasks({})).toEqual([]);
      expect((await o.visits.getListedOrigins({})).origins.map((x) => [x.url, x.enabled])).toEqual([['u1', true], ['u2', true]]);
      expect(await o.visits.getVisitStats([{ url: 'u1', visitType: 'git' }])).toEqual([]);
      expect((await o.visits.getLister(l.id))?.updated).toEqual(l.updated);
    });

    it('archiving holds back a finished visit task until its visit is recorded, then archives it', async () => {
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins(['u1', 'u2'].map((url) => ({ listerId: l.id, url, visitType: 'git' })), { at: T0 });
      await o.visits.scheduleVisits('git', 2, [{ policy: 'oldest_scheduled_first', weight: 1 }], { at: T0 });
      await o.scheduleDue({ at: T0 });
      const claimed = await claimStarted(o, { worker: 'w', types: ['git'], limit: 10, at: T0 });
      for (const c of claimed) await o.endRun(c.run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, MIN), result: { status: 'successful', snapshot: `s-${String(c.arguments.args[0])}` } });
      // Before: both tasks and runs went, and the next pass dropped the two visits unrecorded.
      expect(await o.archive({ before: plus(T0, DAY), at: plus(T0, DAY) })).toMatchObject({ runs: 0, tasks: 0 });
      expect(await o.visits.collectFinishedVisits()).toHaveLength(2);
      const stats = await o.visits.getVisitStats([{ url: 'u1', visitType: 'git' }]);
      expect(stats[0]).toMatchObject({ lastVisitStatus: 'successful', lastSnapshot: 's-u1' });
      expect(await o.archive({ before: plus(T0, DAY), at: plus(T0, DAY) })).toMatchObject({ runs: 2, tasks: 2 });
    });

    it('a pass with queueSize counts the queue again in its transaction: schedulers that read the same room together stay within it', async () => {
      // Two visit-schedulers each read 3 free places of a queue of 3, then write their passes (audit, 2026-12-05:
      // two schedulers on PostgreSQL left 200 visits in flight against --queue 100).
      const { o } = await open();
      const l = await o.visits.getOrCreateLister('l', '', { at: T0 });
      await o.visits.recordListedOrigins(['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'].map((url) => ({ listerId: l.id, url, visitType: 'git' })), { at: T0 });
      const weights = [
        { policy: 'oldest_scheduled_first' as const, weight: 2 },
        { policy: 'never_visited_oldest_update_first' as const, weight: 1 },
      ];
      const both = await Promise.all([0, 1].map(() => o.visits.scheduleVisits('git', 3, [{ policy: 'oldest_scheduled_first', weight: 1 }], { at: T0, queueSize: 3 })));
      expect(both.map((b) => b.tasks.length).sort()).toEqual([0, 3]);
      expect(await o.visits.countInFlight('git')).toBe(3);
      // Less room than asked: the room, split over the same policies.
      const more = await o.visits.scheduleVisits('git', 3, weights, { at: T0, queueSize: 4 });
      expect(more.tasks).toHaveLength(1);
      expect(await o.visits.countInFlight('git')).toBe(4);
      await expect(o.visits.scheduleVisits('git', 1, weights, { queueSize: 0 })).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'queueSize' }] });
    });
  });
}
