/**
 * The bare-SQL floors measured beside the drains at one concurrency, on each store, in the bench
 * process: the bare claim-and-complete cycle in batches of the concurrency (bench/bare-sql.ts), and
 * Orrery's own write set on its real schema in batches of the claim size and of the concurrency
 * (bench/write-set.ts). Each gets a fresh SQLite file or PostgreSQL database, removed afterwards.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { barePostgresCycle, bareSqliteCycle } from './bare-sql.js';
import type { Measured } from './cpu.js';
import type { BenchEnv } from './systems/system.js';
import { writeSetPostgres, writeSetSqlite } from './write-set.js';

export interface Floor {
  store: 'sqlite' | 'postgres';
  kind: 'bare' | 'write-set';
  /** Runs per claim (and per end). */
  batch: number;
  m: Measured;
}

export async function measureFloors(
  env: BenchEnv,
  tag: (what: string) => string,
  stores: ReadonlyArray<'sqlite' | 'postgres'>,
  n: number,
  concurrency: number,
  claimBatch: number,
): Promise<Floor[]> {
  const out: Floor[] = [];
  const batches = [...new Set([claimBatch, concurrency])];
  if (stores.includes('sqlite')) {
    const inFile = async (what: string, fn: (path: string) => Promise<Measured>) => {
      const path = join(env.dir, `${tag(what)}.db`);
      try {
        return await fn(path);
      } finally {
        for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
      }
    };
    out.push({ store: 'sqlite', kind: 'bare', batch: concurrency, m: await inFile('bare', (p) => bareSqliteCycle(p, n, concurrency)) });
    for (const b of batches) out.push({ store: 'sqlite', kind: 'write-set', batch: b, m: await inFile('write_set', (p) => writeSetSqlite(p, n, b)) });
  }
  const pg = env.pg;
  if (stores.includes('postgres') && pg) {
    const inDatabase = async (what: string, fn: (url: string) => Promise<Measured>) => {
      const name = `bench_${tag(what)}`;
      const url = await pg.createDatabase(name);
      try {
        return await fn(url);
      } finally {
        await pg.dropDatabase(name);
      }
    };
    const cpu = () => pg.cpuMicros();
    out.push({ store: 'postgres', kind: 'bare', batch: concurrency, m: await inDatabase('bare', (u) => barePostgresCycle(u, n, concurrency, cpu)) });
    for (const b of batches) out.push({ store: 'postgres', kind: 'write-set', batch: b, m: await inDatabase('write_set', (u) => writeSetPostgres(u, n, b, cpu)) });
  }
  return out;
}
