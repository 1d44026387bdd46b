/**
 * node --import tsx bench/visits.ts [--origins 1000000] [--store sqlite|postgres|both] [--rounds 5] [--count 1000] [--pg URL] [--bulk]
 *
 * Loads N listed origins through the real API (recordListedOrigins, batches of 10,000), visits 10,000
 * of them (recordVisits), then times grabNextVisits of `count` origins per policy, `rounds` times each
 * (every grab marks what it took, so each round takes the next origins). Prints load time, the median
 * grab per policy and the PostgreSQL / SQLite plan of each grab query. Without --pg, an embedded
 * PostgreSQL server is started in a temp directory.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { VISIT_POLICIES } from '../src/core/visits.js';
import { openOrrery, type Orrery } from '../src/engine/service.js';
import { grabSql } from '../src/store/postgres/postgres-visits.js';
import { sqliteGrabSql } from '../src/store/sqlite/sqlite-visits.js';
import { startPgServer } from './postgres-server.js';
import { fmt, parseFlags, summary } from './stats.js';

const flags = parseFlags(process.argv.slice(2));
const N = Number(flags.origins ?? 1_000_000);
const ROUNDS = Number(flags.rounds ?? 5);
const COUNT = Number(flags.count ?? 1000);
const STORES = (flags.store ?? 'both') === 'both' ? ['sqlite', 'postgres'] : [flags.store!];
const BATCH = 10_000;
const VISITED = 10_000;
const T0 = new Date('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const G = new Date(T0.getTime() + 40 * DAY);

/**
 * --bulk: one INSERT ... SELECT over a generated series instead of the API (URLs in key order, so the
 * load is not dominated by random B-tree inserts); the rows are the same shape as the API's.
 */
async function bulkLoad(o: Orrery, listerId: string, pgUrl: string | null, sqlitePath: string): Promise<void> {
  const lu = (i: string) => `${T0.getTime()} + ((${i} * 7919) % 1000000) * 1000 - 500000000`;
  if (pgUrl) {
    const c = new pg.Client({ connectionString: pgUrl });
    await c.connect();
    await c.query(
      `INSERT INTO listed_origins (lister_id, url, visit_type, last_update, first_seen, last_seen)
       SELECT $1, 'https://forge.example/' || lpad(i::text, 9, '0'), 'git',
              CASE WHEN i % 2 = 1 THEN to_timestamp((${lu('i::bigint')}) / 1000.0) END, $2, $2
       FROM generate_series(0, $3::int - 1) AS i`,
      [listerId, new Date(T0.getTime() - 10 * DAY), N],
    );
    await c.end();
  } else {
    const db = new Database(sqlitePath);
    db.pragma('journal_mode = WAL');
    db.pragma('cache_size = -1048576');
    db.prepare(
      `WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < @n)
       INSERT INTO listed_origins (lister_id, url, visit_type, last_update, first_seen, last_seen)
       SELECT @lister, 'https://forge.example/' || printf('%09d', i), 'git', CASE WHEN i % 2 = 1 THEN ${lu('i')} END, @seen, @seen FROM s`,
    ).run({ lister: listerId, n: N, seen: T0.getTime() - 10 * DAY });
    db.close();
  }
  void o;
}

async function load(o: Orrery, pgUrl: string | null, sqlitePath: string): Promise<{ listerId: string; seconds: number }> {
  const lister = await o.visits.getOrCreateLister('bench', '', { at: T0 });
  const start = performance.now();
  if (flags.bulk !== undefined) await bulkLoad(o, lister.id, pgUrl, sqlitePath);
  else for (let i = 0; i < N; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      // half the origins have a last update spread around T0, half have none
      const lastUpdate = j % 2 ? new Date(T0.getTime() + ((j * 7919) % 1_000_000) * 1000 - 500_000_000) : null;
      batch.push({ listerId: lister.id, url: `https://forge.example/${(j * 2654435761) % 4294967296}/${j}`, visitType: 'git', lastUpdate });
    }
    await o.visits.recordListedOrigins(batch, { at: new Date(T0.getTime() - 10 * DAY + i) });
    if ((i / BATCH) % 100 === 99) process.stdout.write(`  loaded ${(i + BATCH).toLocaleString('en')} in ${fmt(performance.now() - start)}\n`);
  }
  const seconds = (performance.now() - start) / 1000;
  // visit 10,000 of them: successful at T0 (about half then have an update after their visit: a lag)
  const grabbed = await o.visits.grabNextVisits('git', VISITED, 'oldest_scheduled_first', { at: new Date(T0.getTime() - DAY) });
  await o.visits.recordVisits(grabbed.map((g, i) => ({ url: g.url, visitType: 'git', status: i % 10 ? ('successful' as const) : ('failed' as const), snapshot: i % 10 ? `s${i}` : null, at: T0 })));
  return { listerId: lister.id, seconds };
}

async function grabs(o: Orrery, listerId: string): Promise<Record<string, { median: number; min: number; max: number; got: number }>> {
  const read = (await o.visits.getLister(listerId))!;
  await o.visits.updateLister({ id: listerId, updated: read.updated, lastListingFinishedAt: T0 }, { at: T0 });
  const out: Record<string, { median: number; min: number; max: number; got: number }> = {};
  for (const policy of VISIT_POLICIES) {
    const times: number[] = [];
    let got = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const start = performance.now();
      const res = await o.visits.grabNextVisits('git', COUNT, policy, { at: new Date(G.getTime() + r * 1000), ...(policy === 'first_visits_after_listing' ? { lister: listerId } : {}) });
      times.push(performance.now() - start);
      got += res.length;
    }
    out[policy] = { ...summary(times), got };
  }
  return out;
}

async function planSqlite(path: string): Promise<Record<string, string>> {
  const db = new Database(path, { readonly: true });
  const out: Record<string, string> = {};
  for (const p of VISIT_POLICIES) {
    // the same statement text the store prepares (INDEXED BY the policy's index)
    const sql = sqliteGrabSql(p, p === 'first_visits_after_listing');
    out[p] = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ vt: 'git', abs: 0, sched: 0, failed: 0, nf: 0, lister: '', listed: 0, n: COUNT }) as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join('; ');
  }
  db.close();
  return out;
}

async function planPostgres(url: string, listerId: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const out: Record<string, string> = {};
  for (const p of VISIT_POLICIES) {
    const byLister = p === 'first_visits_after_listing';
    const params: unknown[] = ['git', G, G, G, G, COUNT, ...(byLister ? [listerId, T0] : [])];
    const { rows } = await c.query(`EXPLAIN ${grabSql(p, byLister)}`, params);
    out[p] = rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'].trim()).filter((l: string) => /Index|Seq Scan|Sort/.test(l)).join('; ');
  }
  await c.end();
  return out;
}

/** The bench's PostgreSQL server (bench/postgres-server.ts), or the one given with --pg. */
async function startPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  if (flags.pg) return { url: flags.pg, stop: async () => {} };
  const server = await startPgServer();
  const url = await server.createDatabase('bench');
  return { url, stop: () => server.stop() };
}

const dir = mkdtempSync(join(tmpdir(), 'orrery-bench-visits-'));
try {
  for (const kind of STORES) {
    console.log(`\n== ${kind}: ${N.toLocaleString('en')} listed origins, grabs of ${COUNT}, ${ROUNDS} rounds ==`);
    const server = kind === 'postgres' ? await startPostgres() : null;
    const path = join(dir, 'visits.db');
    const o = await openOrrery({ db: server ? server.url : `sqlite:${path}` });
    try {
      const { listerId, seconds } = await load(o, server?.url ?? null, path);
      console.log(`load${flags.bulk !== undefined ? ' (bulk SQL)' : ' (API)'}: ${seconds.toFixed(1)} s (${Math.round(N / seconds).toLocaleString('en')} origins/s)${kind === 'sqlite' ? `, file ${(statSync(path).size / 2 ** 30).toFixed(2)} GiB` : ''}`);
      if (server) {
        const c = new pg.Client({ connectionString: server.url });
        await c.connect();
        await c.query('VACUUM ANALYZE listed_origins');
        await c.end();
      }
      const res = await grabs(o, listerId);
      const plans = server ? await planPostgres(server.url, listerId) : await planSqlite(path);
      for (const p of VISIT_POLICIES) {
        const r = res[p]!;
        console.log(`${p.padEnd(34)} median ${fmt(r.median).padStart(7)} (min ${fmt(r.min)}, max ${fmt(r.max)}), ${r.got} origins in ${ROUNDS} grabs`);
        console.log(`${''.padEnd(34)} plan: ${plans[p]}`);
      }
    } finally {
      await o.close();
      await server?.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
