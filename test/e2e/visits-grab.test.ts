/**
 * Concurrent grabNextVisits from several processes (the built `orrery` binary): on SQLite sharing one
 * file, on PostgreSQL one server. No origin is handed out twice, and none is lost.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { createTestDatabase } from '../support/postgres.js';
import { useProcesses } from './process-helpers.js';

const ORIGINS = 5000;
const PROCESSES = 6;
const ROUNDS = 2;
const COUNT = 200;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function sqliteUrl() {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-visits-'));
  dirs.push(dir);
  return { url: `sqlite:${join(dir, 'orrery.db')}`, drop: async () => {} };
}

describe.each([
  ['sqlite', sqliteUrl],
  ['postgres', () => createTestDatabase('visits_grab')],
])('concurrent grab-next from several processes on %s', (_name, makeDb) => {
  const spawnOrrery = useProcesses();

  it(`${PROCESSES} processes x ${ROUNDS} grabs of ${COUNT} over ${ORIGINS} origins: each origin handed out once`, { timeout: 180_000 }, async () => {
    const db = await makeDb();
    const orrery = await openOrrery({ db: db.url });
    try {
      const l = await orrery.visits.getOrCreateLister('l');
      const other = await orrery.visits.getOrCreateLister('mirror');
      const origins = Array.from({ length: ORIGINS }, (_, i) => ({ listerId: l.id, url: `https://h/${i}`, visitType: 'git', ...(i % 2 ? { lastUpdate: new Date(1e12 + i) } : {}) }));
      // a tenth of them listed twice (by two listers): still one origin each
      await orrery.visits.recordListedOrigins([...origins, ...origins.filter((_, i) => i % 10 === 0).map((o) => ({ ...o, listerId: other.id }))]);
      const policies = ['oldest_scheduled_first', 'origins_without_last_update', 'never_visited_oldest_update_first'];
      const outputs = await Promise.all(
        Array.from({ length: PROCESSES }, async (_, p) => {
          const got: string[] = [];
          for (let r = 0; r < ROUNDS; r++) {
            const proc = spawnOrrery(['origin', 'grab-next', 'git', '--count', String(COUNT), '--policy', policies[(p + r) % policies.length]!, '--json', '--db', db.url]);
            const code = await proc.exited;
            expect(code, proc.output()).toBe(0);
            got.push(...(JSON.parse(proc.output()) as Array<{ url: string }>).map((o) => o.url));
          }
          return got;
        }),
      );
      const all = outputs.flat();
      expect(all.length).toBe(PROCESSES * ROUNDS * COUNT);
      expect(new Set(all).size).toBe(all.length);
      // every grabbed origin is marked scheduled, and only those
      const left = await orrery.visits.grabNextVisits('git', ORIGINS, 'oldest_scheduled_first', { dryRun: true });
      expect(left.length).toBe(ORIGINS - all.length);
      expect(left.some((o) => all.includes(o.url))).toBe(false);
    } finally {
      await orrery.close();
      await db.drop();
    }
  });
});
