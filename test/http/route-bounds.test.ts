/**
 * Route checks that agree with core (regression audit): the archive's `before` takes every instant form
 * core reads with an offset, names in a claim's `types` are counted in UTF-16 code units, and a
 * not-found answer shows a long id bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openHttp, type HttpHarness } from './http-helpers.js';

describe('route bounds agree with core', () => {
  let h: HttpHarness | null = null;
  afterEach(async () => {
    await h?.close();
    h = null;
  });

  it('archive before, claim type names, not-found ids', async () => {
    h = await openHttp({ metrics: null });
    // Every form with an offset: zod's datetime refused these, saying the offset was missing.
    for (const before of ['2026-12-01T00:00:00+01', '2026-12-01T00:00:00+0100', '2026-12-01T00:00+01:00', '2026-12-01 00:00:00Z']) {
      expect((await h.call('POST', '/api/archive', { before })).status, before).toBe(200);
    }
    expect((await h.call('POST', '/api/archive', { before: '2026-12-01T00:00:00' })).status).toBe(400);
    // 200 emoji are 400 UTF-16 code units: over the 256 a claim's type name takes (it passed as 200 code points).
    const claim = await h.call('POST', '/api/jobboard/claim', { worker: 'w', limit: 1, types: ['😀'.repeat(200)] });
    expect(claim.status).toBe(400);
    expect(JSON.stringify(claim.body)).toContain('at most 256 characters');
    // A 400-character id is shown bounded (it was quoted whole).
    const long = 'Q'.repeat(400);
    for (const path of [`/api/runs/${long}`, `/api/task-types/${long}`]) {
      const r = await h.call('GET', path);
      expect(r.status).toBe(404);
      expect(JSON.stringify(r.body).length, path).toBeLessThan(800);
      expect(JSON.stringify(r.body)).toContain('characters)');
    }
  });
});
