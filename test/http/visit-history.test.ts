/**
 * Visit history over HTTP (issue 9 item 5): metrics over time and an origin's visits, their 4xx answers,
 * the OpenAPI document, and the typed client, against a real server on a real SQLite file.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OrreryClient } from '../../src/http/client.js';
import { createHttpApp } from '../../src/http/app.js';
import { startHttpServer } from '../../src/http/server.js';
import { errorOf, openHttp, T0, type HttpHarness } from './http-helpers.js';

const at = (ms: number) => new Date(new Date(T0).getTime() + ms).toISOString();
const HOUR = 3_600_000;

describe('HTTP API: visit history', () => {
  let h: HttpHarness;
  afterEach(async () => h?.close());

  it('serves metrics over time and an origin visit history, newest first', async () => {
    h = await openHttp({ metrics: null });
    const { call } = h;
    const lister = (await call('POST', '/api/listers', { name: 'gitlab' })).body as { id: string };
    await call('POST', '/api/origins', { origins: ['https://x/1', 'https://x/2'].map((url) => ({ listerId: lister.id, url, visitType: 'git' })) });
    await call('POST', '/api/visit-metrics/update', { at: at(HOUR) });
    await call('POST', '/api/origins/visited', { url: 'https://x/1', visitType: 'git', status: 'successful', snapshot: 's1', at: at(HOUR + 1) });
    await call('POST', '/api/origins/visited', { url: 'https://x/1', visitType: 'git', status: 'failed', at: at(2 * HOUR) });
    await call('POST', '/api/visit-metrics/update', { at: at(3 * HOUR) });

    const history = await call('GET', `/api/visit-metrics/history?lister=${lister.id}&visitType=git`);
    expect(history.status).toBe(200);
    expect(history.body).toEqual([
      {
        listerId: lister.id,
        visitType: 'git',
        points: [
          { at: at(HOUR), originsKnown: 2, originsEnabled: 2, originsNeverVisited: 2, originsWithPendingChanges: 0 },
          { at: at(3 * HOUR), originsKnown: 2, originsEnabled: 2, originsNeverVisited: 1, originsWithPendingChanges: 0 },
        ],
      },
    ]);
    expect((await call('GET', `/api/visit-metrics/history?since=${encodeURIComponent(at(2 * HOUR))}`)).body).toMatchObject([{ points: [{ at: at(3 * HOUR) }] }]);
    expect((await call('GET', '/api/visit-metrics/history?limit=1')).body).toMatchObject([{ points: [{ at: at(3 * HOUR) }] }]);

    const visits = await call('GET', '/api/origins/visits?url=https%3A%2F%2Fx%2F1&visitType=git');
    expect(visits.body).toEqual([
      { url: 'https://x/1', visitType: 'git', at: at(2 * HOUR), status: 'failed', snapshot: null, eventful: false },
      { url: 'https://x/1', visitType: 'git', at: at(HOUR + 1), status: 'successful', snapshot: 's1', eventful: true },
    ]);
    const next = await call('GET', `/api/origins/visits?url=https%3A%2F%2Fx%2F1&visitType=git&limit=1&before=${encodeURIComponent(at(2 * HOUR))}`);
    expect((next.body as Array<{ at: string }>).map((v) => v.at)).toEqual([at(HOUR + 1)]);
    expect((await call('GET', '/api/origins/visits?url=https%3A%2F%2Fx%2F2&visitType=git')).body).toEqual([]);
  });

  it('answers bad input with 400 naming the parameter', async () => {
    h = await openHttp({ metrics: null });
    const bad: Array<[string, string]> = [
      ['/api/visit-metrics/history?lister=nope', 'query.lister'],
      ['/api/visit-metrics/history?since=yesterday', 'query.since'],
      ['/api/visit-metrics/history?limit=0', 'query.limit'],
      ['/api/visit-metrics/history?limit=10001', 'query.limit'],
      ['/api/visit-metrics/history?colour=red', 'query'],
      ['/api/origins/visits?visitType=git', 'query.url'],
      ['/api/origins/visits?url=u', 'query.visitType'],
      ['/api/origins/visits?url=u&visitType=Git%20Hub', 'visitType'],
      ['/api/origins/visits?url=u&visitType=git&before=soon', 'query.before'],
    ];
    for (const [path, field] of bad) {
      const r = await h.call('GET', path);
      expect(r.status, path).toBe(400);
      expect(errorOf(r.body).details.map((d) => d.path).join(' '), path).toContain(field);
    }
  });

  it('documents both routes in the OpenAPI document; the typed client revives instants', async () => {
    h = await openHttp({ metrics: null });
    const doc = (await h.call('GET', '/api/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    expect(doc.paths['/api/visit-metrics/history']?.get).toBeDefined();
    expect(doc.paths['/api/origins/visits']?.get).toBeDefined();

    const { server, port } = await startHttpServer(createHttpApp(h.orrery), '127.0.0.1', 0);
    try {
      const client = new OrreryClient(`http://127.0.0.1:${port}`);
      const l = await client.visits.getOrCreateLister('cran');
      await client.visits.recordListedOrigins([{ listerId: l.id, url: 'https://cran/x', visitType: 'tar' }]);
      await client.visits.updateMetrics({ at: new Date(at(HOUR)) });
      await client.visits.recordVisit('https://cran/x', 'tar', 'not_found', null, new Date(at(2 * HOUR)));
      expect(await client.visits.getMetricsHistory({ visitType: 'tar', since: new Date(T0), limit: 5 })).toEqual([
        { listerId: l.id, visitType: 'tar', points: [{ at: new Date(at(HOUR)), originsKnown: 1, originsEnabled: 1, originsNeverVisited: 1, originsWithPendingChanges: 0 }] },
      ]);
      expect(await client.visits.getOriginVisits('https://cran/x', 'tar', { limit: 10 })).toEqual([
        { url: 'https://cran/x', visitType: 'tar', at: new Date(at(2 * HOUR)), status: 'not_found', snapshot: null, eventful: false },
      ]);
      client.close();
    } finally {
      server.close();
    }
  });
});
