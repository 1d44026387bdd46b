/**
 * Visit scheduling over HTTP (routes, error shapes, OpenAPI document, /metrics) and the typed client
 * against a real server on a real SQLite file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StaleDataError } from '../../src/core/errors.js';
import { OrreryClient } from '../../src/http/client.js';
import { createMetrics } from '../../src/http/metrics.js';
import { startHttpServer } from '../../src/http/server.js';
import { createHttpApp } from '../../src/http/app.js';
import { errorOf, openHttp, T0, type HttpHarness } from './http-helpers.js';

const at = (ms: number) => new Date(new Date(T0).getTime() + ms).toISOString();
const DAY = 86_400_000;

describe('HTTP API: listers, origins, visits, metrics', () => {
  let h: HttpHarness;
  afterEach(async () => h?.close());

  it('walks the whole visit API with exact shapes', async () => {
    h = await openHttp({ metrics: null });
    const { call } = h;
    const created = await call('POST', '/api/listers', { name: 'gitlab', instanceName: 'gitlab.example' });
    expect(created.status).toBe(200);
    const lister = created.body as { id: string; updated: string };
    expect(lister).toEqual({ id: lister.id, name: 'gitlab', instanceName: 'gitlab.example', currentState: {}, created: T0, updated: T0, lastListingFinishedAt: null });
    expect((await call('GET', `/api/listers/${lister.id}`)).body).toEqual(lister);
    expect((await call('GET', '/api/listers')).body).toEqual([lister]);

    const rec = await call('POST', '/api/origins', {
      origins: [
        { listerId: lister.id, url: 'https://x/1', visitType: 'git', lastUpdate: at(-DAY), extraLoaderArguments: { depth: 1 } },
        { listerId: lister.id, url: 'https://x/2', visitType: 'git' },
      ],
    });
    expect(rec.status).toBe(201);
    expect((rec.body as { origins: unknown[] }).origins).toHaveLength(2);
    const page = await call('GET', '/api/origins?limit=1');
    expect(page.body).toEqual({
      origins: [{ listerId: lister.id, url: 'https://x/1', visitType: 'git', extraLoaderArguments: { depth: 1 }, lastUpdate: at(-DAY), firstSeen: T0, lastSeen: T0, enabled: true }],
      nextPageToken: expect.any(String),
    });
    const page2 = await call('GET', `/api/origins?limit=1&pageToken=${(page.body as { nextPageToken: string }).nextPageToken}`);
    expect(page2.body).toMatchObject({ origins: [{ url: 'https://x/2' }], nextPageToken: null });

    const grab = await call('POST', '/api/origins/grab', { visitType: 'git', count: 5, policy: 'origins_without_last_update' });
    expect((grab.body as Array<{ url: string }>).map((o) => o.url)).toEqual(['https://x/2']);
    const visited = await call('POST', '/api/origins/visited', { url: 'https://x/2', visitType: 'git', status: 'not_found', at: at(3600_000) });
    expect(visited.body).toMatchObject({ applied: true, eventful: false, disabled: false, stats: { lastVisitStatus: 'not_found', lastScheduled: T0, nextPositionOffset: 5 } });
    expect((await call('GET', '/api/origins/stats?url=https%3A%2F%2Fx%2F2&visitType=git')).body).toEqual((visited.body as { stats: unknown }).stats);
    expect((await call('POST', '/api/origins/disable', { origins: [{ url: 'https://x/1', visitType: 'git' }] })).body).toEqual({ changed: 1 });

    const upd = await call('POST', `/api/listers/${lister.id}/update`, { updated: lister.updated, currentState: { page: 3 }, lastListingFinishedAt: T0 });
    expect(upd.body).toMatchObject({ currentState: { page: 3 }, lastListingFinishedAt: T0 });
    const stale = await call('POST', `/api/listers/${lister.id}/update`, { updated: lister.updated, currentState: {} });
    expect(stale.status).toBe(409);
    expect(errorOf(stale.body).code).toBe('stale_data');
    // A body without currentState keeps the stored state.
    const kept = await call('POST', `/api/listers/${lister.id}/update`, { updated: (upd.body as { updated: string }).updated });
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ currentState: { page: 3 }, lastListingFinishedAt: T0 });

    // Counted now (fresh=true) before any update; the stored rows only after one.
    expect((await call('GET', '/api/visit-metrics')).body).toEqual([]);
    expect((await call('GET', '/api/visit-metrics?fresh=true')).body).toEqual([
      { listerId: lister.id, visitType: 'git', updated: T0, originsKnown: 2, originsEnabled: 1, originsNeverVisited: 1, originsWithPendingChanges: 0 },
    ]);
    expect((await call('GET', '/api/visit-metrics?fresh=yes')).status).toBe(400);
    expect((await call('POST', '/api/visit-metrics/update', {})).body).toEqual([
      { listerId: lister.id, visitType: 'git', updated: T0, originsKnown: 2, originsEnabled: 1, originsNeverVisited: 1, originsWithPendingChanges: 0 },
    ]);
    expect((await call('GET', '/api/visit-metrics?visitType=git')).body).toHaveLength(1);
  });

  it('answers bad requests with 4xx JSON errors naming the field, and writes nothing', async () => {
    h = await openHttp({ metrics: null });
    const { call } = h;
    const lister = (await call('POST', '/api/listers', { name: 'l' })).body as { id: string };
    const bad: Array<[string, string, unknown, number, string]> = [
      ['POST', '/api/origins', { origins: [{ listerId: lister.id, url: 'u', visitType: 'git' }, { listerId: 'x', url: 'u', visitType: 'git' }] }, 400, 'origins[1].listerId'],
      ['POST', '/api/origins', { origins: [{ listerId: '00000000-0000-4000-8000-000000000000', url: 'u', visitType: 'git' }] }, 400, 'origins[0].listerId'],
      ['POST', '/api/origins', { origins: [{ listerId: lister.id, url: 'u', visitType: 'Git Hub' }] }, 400, 'origins[0].visitType'],
      ['POST', '/api/origins/grab', { visitType: 'git', count: 1, policy: 'random' }, 400, 'policy'],
      ...[-1, 1.5, '2', 100_001, null].map((count): [string, string, unknown, number, string] => ['POST', '/api/origins/grab', { visitType: 'git', count, policy: 'oldest_scheduled_first' }, 400, 'count']),
      ['POST', '/api/origins/grab', { visitType: 'git', count: 1, policy: 'first_visits_after_listing' }, 400, 'lister'],
      ['POST', '/api/origins/grab', { visitType: 'git', count: 1, policy: 'oldest_scheduled_first', cooldowns: { failedMs: -1 } }, 400, 'cooldowns.failedMs'],
      ['POST', '/api/origins/grab', { visitType: 'git', count: 1, policy: 'oldest_scheduled_first', lister: '00000000-0000-4000-8000-000000000000' }, 404, 'lister'],
      ['POST', '/api/origins/visited', { url: 'u', visitType: 'git', status: 'successful', snapshot: '' }, 400, 'snapshot'],
      ['POST', `/api/listers/${lister.id}/update`, { updated: 'yesterday' }, 400, 'updated'],
      ['GET', '/api/listers/nope', undefined, 400, 'id'],
      ['GET', '/api/listers/00000000-0000-4000-8000-000000000000', undefined, 404, 'id'],
      ['GET', '/api/origins?pageToken=zz', undefined, 400, 'query.pageToken'],
      ['GET', '/api/origins?lister=00000000-0000-4000-8000-000000000000', undefined, 404, 'query.lister'],
      ['GET', '/api/visit-metrics/history?lister=00000000-0000-4000-8000-000000000000', undefined, 404, 'query.lister'],
      ['POST', '/api/origins/disable', { origins: [{ url: 'u', visitType: 'git' }], lister: '00000000-0000-4000-8000-000000000000' }, 404, 'lister'],
      ['GET', '/api/origins/stats?url=u&visitType=git', undefined, 404, 'url'],
      // A visit type in capitals is named as the query's field (it named origins[0].visitType, a field the request does not have).
      ['GET', '/api/origins/stats?url=b&visitType=Git', undefined, 400, 'query.visitType'],
    ];
    for (const [method, path, body, status, field] of bad) {
      const r = await call(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(errorOf(r.body).details.map((d) => d.path), `${method} ${path}`).toContain(field);
      // A grab's count in the library's words, whatever is wrong with it (docs/visits.md).
      if (field === 'count') expect(errorOf(r.body).details).toEqual([{ path: 'count', message: 'must be an integer from 0 to 100000' }]);
    }
    expect(((await call('GET', '/api/origins')).body as { origins: unknown[] }).origins).toEqual([]);
    // A URL past 2,048 characters is worded as the library and the CLI word it (it said "at most 2048 characters": visits audit).
    const long = 'x'.repeat(2049);
    const rule = 'must be a non-empty string of at most 2048 bytes of UTF-8 (2048 ASCII characters)';
    for (const [path, body, field] of [
      ['/api/origins/visited', { url: long, visitType: 'git', status: 'failed' }, 'url'],
      ['/api/origins', { origins: [{ listerId: lister.id, url: long, visitType: 'git' }] }, 'origins[0].url'],
    ] as const) expect(errorOf((await call('POST', path, body)).body).details).toEqual([{ path: field, message: rule }]);
  });

  it('records a batch of visits in order, in one transaction: one bad visit rejects the batch and writes nothing', async () => {
    h = await openHttp({ metrics: null });
    const { call } = h;
    const lister = (await call('POST', '/api/listers', { name: 'l' })).body as { id: string };
    await call('POST', '/api/origins', { origins: [{ listerId: lister.id, url: 'https://x/1', visitType: 'git' }, { listerId: lister.id, url: 'https://x/2', visitType: 'git' }] });
    const batch = [
      { url: 'https://x/1', visitType: 'git', status: 'successful', snapshot: 's1', at: at(1000) },
      { url: 'https://x/2', visitType: 'git', status: 'failed', at: at(2000) },
      { url: 'https://x/1', visitType: 'git', status: 'successful', snapshot: 's1', at: at(500) },
    ];
    const r = await call('POST', '/api/origins/visited/batch', { visits: batch });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const visits = (r.body as { visits: Array<{ applied: boolean; eventful: boolean; stats: { url: string; lastVisitStatus: string } }> }).visits;
    // In order: the third is older than the first, so it is ignored.
    expect(visits.map((v) => [v.stats.url, v.applied, v.eventful, v.stats.lastVisitStatus])).toEqual([
      ['https://x/1', true, true, 'successful'],
      ['https://x/2', true, false, 'failed'],
      ['https://x/1', false, false, 'successful'],
    ]);
    expect((await call('GET', '/api/origins/stats?url=https%3A%2F%2Fx%2F1&visitType=git')).body).toEqual(visits[0]!.stats);

    const stats = async () => (await h.orrery.visits.getVisitStats([{ url: 'https://x/1', visitType: 'git' }, { url: 'https://x/2', visitType: 'git' }]));
    const before = await stats();
    const bad: Array<[unknown, string]> = [
      [{ visits: [{ url: 'https://x/1', visitType: 'git', status: 'successful', at: at(9000) }, { url: 'https://x/2', visitType: 'Git Hub', status: 'failed' }] }, 'visits[1].visitType'],
      [{ visits: [{ url: 'https://x/1', visitType: 'Git Hub', status: 'failed' }] }, 'visits[0].visitType'],
      [{ visits: [{ url: '   ', visitType: 'git', status: 'failed' }] }, 'visits[0].url'],
      [{ visits: [{ url: 'https://x/1', visitType: 'git', status: 'gone' }] }, 'visits[0].status'],
      [{ visits: [{ url: 'https://x/1', visitType: 'git', status: 'failed', extra: 1 }] }, 'visits[0].extra'],
      [{ visits: [] }, 'visits'],
      [{ visits: Array.from({ length: 10_001 }, () => ({ url: 'u', visitType: 'git', status: 'failed' })) }, 'visits'],
      [{ visits: [{ url: 'https://x/1', visitType: 'git', status: 'failed' }], at: at(1) }, 'at'],
    ];
    for (const [body, field] of bad) {
      const res = await call('POST', '/api/origins/visited/batch', body);
      expect(res.status, field).toBe(400);
      expect(errorOf(res.body).details.map((d) => d.path), field).toContain(field);
    }
    expect(await stats()).toEqual(before);
  });

  it("answers a visit type's global queue position: null before it has one, then the library's", async () => {
    h = await openHttp({ metrics: null });
    const { call } = h;
    expect((await call('GET', '/api/visit-queue-position?visitType=git')).body).toEqual({ visitType: 'git', position: null });
    const lister = await h.orrery.visits.getOrCreateLister('l');
    await h.orrery.visits.recordListedOrigins([{ listerId: lister.id, url: 'https://x/1', visitType: 'git' }]);
    await h.orrery.visits.recordVisit('https://x/1', 'git', 'successful', 's1');
    await h.orrery.visits.grabNextVisits('git', 1, 'origins_without_last_update', { at: new Date(Date.parse(T0) + DAY) });
    const position = await h.orrery.visits.getQueuePosition('git');
    expect(position).toEqual(expect.any(Number));
    expect((await call('GET', '/api/visit-queue-position?visitType=git')).body).toEqual({ visitType: 'git', position });
    for (const [path, field] of [
      ['/api/visit-queue-position', 'query.visitType'],
      ['/api/visit-queue-position?visitType=Git%20Hub', 'query.visitType'],
      ['/api/visit-queue-position?visitType=git&lister=x', 'query.lister'],
    ] as const) {
      const r = await call('GET', path);
      expect(r.status, path).toBe(400);
      expect(errorOf(r.body).details.map((d) => d.path), path).toContain(field);
    }
  });

  it('documents every visit route in the OpenAPI document', async () => {
    h = await openHttp({ metrics: null });
    const doc = (await h.call('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    for (const p of ['/api/listers', '/api/listers/{id}', '/api/listers/{id}/update', '/api/origins', '/api/origins/grab', '/api/origins/visited', '/api/origins/visited/batch', '/api/origins/stats', '/api/visit-queue-position', '/api/visit-metrics', '/api/visit-metrics/update']) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });

  it('serves the stored metrics per (lister, visit type) on /metrics', async () => {
    h = await openHttp({ metrics: null });
    const l = await h.orrery.visits.getOrCreateLister('l');
    await h.orrery.visits.recordListedOrigins(['a', 'b', 'c'].map((url) => ({ listerId: l.id, url, visitType: 'git' })));
    await h.orrery.visits.updateMetrics();
    const text = await createMetrics(h.orrery, { defaultMetrics: false }).render();
    expect(text).toContain(`orrery_visit_origins_known{lister="${l.id}",visit_type="git"} 3`);
    expect(text).toContain(`orrery_visit_origins_never_visited{lister="${l.id}",visit_type="git"} 3`);
    expect(text).toContain(`orrery_visit_origins_pending_changes{lister="${l.id}",visit_type="git"} 0`);
  });

  it('the typed client mirrors orrery.visits, errors included', async () => {
    h = await openHttp({ metrics: null });
    const { server, port } = await startHttpServer(createHttpApp(h.orrery), '127.0.0.1', 0);
    try {
      const client = new OrreryClient(`http://127.0.0.1:${port}`);
      const l = await client.visits.getOrCreateLister('cran');
      expect(l.updated).toEqual(new Date(T0));
      await client.visits.recordListedOrigins([{ listerId: l.id, url: 'https://cran/x', visitType: 'tar', lastUpdate: new Date(T0) }]);
      const [o] = await client.visits.grabNextVisits('tar', 1, 'never_visited_oldest_update_first');
      expect(o).toMatchObject({ url: 'https://cran/x', lastUpdate: new Date(T0), firstSeen: new Date(T0) });
      const r = await client.visits.recordVisit('https://cran/x', 'tar', 'successful', 's1', new Date(new Date(T0).getTime() + 1000));
      expect(r).toMatchObject({ applied: true, eventful: true, stats: { lastSnapshot: 's1', lastScheduled: new Date(T0) } });
      await client.visits.updateLister({ id: l.id, updated: l.updated, currentState: { a: 1 } });
      await expect(client.visits.updateLister({ id: l.id, updated: l.updated })).rejects.toBeInstanceOf(StaleDataError);
      // A batch's bad instant is named by its place, as the library names it (it said `at`).
      const twoVisits = [{ url: 'https://cran/x', visitType: 'tar', status: 'failed' as const, at: new Date(T0) }, { url: 'https://cran/x', visitType: 'tar', status: 'failed' as const, at: 'x' as never }];
      for (const o of [h.orrery.visits, client.visits]) await expect(o.recordVisits(twoVisits)).rejects.toMatchObject({ code: 'validation_error', message: 'visits[1].at: must be a valid Date' });
      expect((await client.visits.getListedOrigins({ visitType: 'tar' })).origins).toHaveLength(1);
      // The library's call forms, with its answers: listerId, stats of many keys, enabling and disabling.
      const other = await client.visits.getOrCreateLister('pypi');
      for (const f of [{ listerId: other.id }, { lister: other.id }]) {
        expect((await client.visits.getListedOrigins(f)).origins).toEqual([]);
        expect((await h.orrery.visits.getListedOrigins(f)).origins).toEqual([]);
      }
      const keys = [{ url: 'https://cran/x', visitType: 'tar' }, { url: 'https://nowhere', visitType: 'tar' }];
      expect(await client.visits.getVisitStats(keys)).toEqual(await h.orrery.visits.getVisitStats(keys));
      expect(await client.visits.setOriginsEnabled([keys[0]!], false)).toBe(1);
      expect((await h.orrery.visits.getListedOrigins({ enabled: false })).origins.map((x) => x.url)).toEqual(['https://cran/x']);
      expect(await client.visits.setOriginsEnabled([keys[0]!], true, l.id)).toBe(1);
      // findLister, getListers, recordVisits and getQueuePosition, with the library's answers.
      expect(await client.visits.findLister('cran')).toEqual(await h.orrery.visits.findLister('cran'));
      expect(await client.visits.findLister('cran', 'elsewhere')).toBeNull();
      expect(await h.orrery.visits.findLister('cran', 'elsewhere')).toBeNull();
      const ids = [other.id, '00000000-0000-4000-8000-000000000000', l.id.toUpperCase()];
      expect(await client.visits.getListers(ids)).toEqual(await h.orrery.visits.getListers(ids));
      expect((await client.visits.getListers(ids)).map((x) => x.name).sort()).toEqual(['cran', 'pypi']);
      await expect(client.visits.getListers(['nope'])).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'ids[0]' }] });
      expect(await client.visits.getQueuePosition('tar')).toEqual(await h.orrery.visits.getQueuePosition('tar'));
      const recorded = await client.visits.recordVisits([
        { url: 'https://cran/x', visitType: 'tar', status: 'successful', snapshot: 's2', at: new Date(new Date(T0).getTime() + 2000) },
        { url: 'https://cran/x', visitType: 'tar', status: 'failed', at: new Date(new Date(T0).getTime() + 1500) },
      ]);
      expect(recorded.map((x) => [x.applied, x.eventful])).toEqual([[true, true], [false, false]]);
      expect(recorded[0]!.stats).toEqual((await h.orrery.visits.getVisitStats([{ url: 'https://cran/x', visitType: 'tar' }]))[0]);
      expect(recorded[0]!.stats.lastVisit).toEqual(new Date(new Date(T0).getTime() + 2000));
      await expect(client.visits.recordVisits([{ url: 'https://cran/x', visitType: 'tar', status: 'failed', at: new Date('x') }])).rejects.toMatchObject({ code: 'validation_error', details: [{ path: 'at' }] }); // as the library names it
      // An instant given as { at } or as a Date, by the client and the library alike, is the one used (the
      // client threw on { at }, and dropped it from recordListedOrigins and updateLister; the library dropped a Date).
      const later = (ms: number) => new Date(new Date(T0).getTime() + ms);
      const byClient = await client.visits.getOrCreateLister('npm', 'a', { at: later(1) });
      const byLibrary = await h.orrery.visits.getOrCreateLister('npm', 'b', later(2));
      expect([byClient.created, byLibrary.created, (await client.visits.getOrCreateLister('npm', 'c', later(3))).created]).toEqual([later(1), later(2), later(3)]);
      const [listed] = await client.visits.recordListedOrigins([{ listerId: byClient.id, url: 'https://npm/y', visitType: 'tar' }], { at: later(4) });
      expect(listed).toMatchObject({ firstSeen: later(4), lastSeen: later(4) });
      const updated = await client.visits.updateLister({ id: byClient.id, updated: byClient.updated, currentState: { b: 2 } }, { at: later(5) });
      expect(updated.updated).toEqual(later(5));
      // Anything else in that place is a ValidationError naming it, in the library and through the client.
      await expect(h.orrery.visits.recordListedOrigins([], 'soon' as never)).rejects.toThrow(/^at: must be a Date/);
      await expect(client.visits.getOrCreateLister('npm', 'd', 5 as never)).rejects.toThrow(/^at: must be a Date/);
      // Elsewhere an options object given as a Date is refused, not read as one without its instant.
      await expect(h.orrery.createTask({ type: 'nope', policy: 'oneshot' }, later(6) as never)).rejects.toThrow(/^options: must be an options object \(\{ at \} for an instant\), not a Date/);
      client.close();
    } finally {
      server.close();
    }
  });
});
