/**
 * One visit-scheduler pass may grab more than 120,000 origins (`visit-scheduler --queue` has no upper
 * bound): they are collected one by one, not spread into one call (`push(...grabbed)`, which overflowed
 * the stack at that size). SQLite only: the PostgreSQL store collects them with the same loop, and
 * 130,000 origins there would add tens of seconds to the suite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'orrery-grab-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a visit-scheduler pass of 130,000 origins', () => {
  it('creates one task per origin', async () => {
    const o = await openOrrery({ db: `sqlite:${join(dir, 'o.db')}` });
    try {
      await o.ensureTaskType({ name: 'git', maxQueueLength: null });
      const l = await o.visits.getOrCreateLister('l', '');
      const n = 130_000;
      for (let i = 0; i < n; i += 10_000) {
        await o.visits.recordListedOrigins(Array.from({ length: 10_000 }, (_, j) => ({ listerId: l.id, url: `https://example.org/${i + j}`, visitType: 'git' })));
      }
      const { tasks, origins } = await o.visits.scheduleVisits('git', n, [{ policy: 'origins_without_last_update', weight: 1 }]);
      expect(tasks).toHaveLength(n);
      expect(new Set(origins.map((x) => x.url)).size).toBe(n);
    } finally {
      await o.close();
    }
  }, 120_000);
});
