/**
 * npm run bench [-- --quick] [--size N] [--rounds N] [--systems a,b] [--claim-batch N] [--scale-max N] [--out DIR] [--docs]
 *
 * Orrery (SQLite and PostgreSQL), graphile-worker and pg-boss side by side against one PostgreSQL
 * server, in one command: enqueue, processing throughput with CPU per task and peak RSS,
 * schedule-to-start latency, the bare-SQL limit of each store and Orrery's write set in bare SQL,
 * and Orrery's scale. Rounds interleave the systems (their order turns every round) and ratios
 * are computed within a round. Prints the Markdown tables; --out DIR also
 * writes results.json, results.md and benchmarks.svg there; --docs writes the tables into
 * docs/benchmarks.md (between its bench markers) and the chart to docs/images/benchmarks.svg;
 * --from results.json renders a saved run again without measuring.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from './build-check.js';
import { throughputChart } from './chart.js';
import { measureFloors } from './floors.js';
import { latency, seededRng, throughput } from './measures.js';
import { parseOptions, scaleLevels } from './options.js';
import { startPgServer, type PgServer } from './postgres-server.js';
import { resultsMarkdown } from './report.js';
import { key, PEERS, Results, subject, type RunMeta } from './results.js';
import { openScaleStore } from './scale.js';
import { fmt } from './stats.js';
import { SYSTEMS } from './systems/index.js';
import type { BenchEnv, SystemName } from './systems/system.js';

type Store = 'sqlite' | 'postgres';

const ROOT = join(import.meta.dirname, '..');
const opts = parseOptions(process.argv.slice(2));
const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const results = new Results();
const dir = mkdtempSync(join(tmpdir(), 'orrery-bench-'));
const needsPg = opts.systems.some((s) => s !== 'orrery-sqlite') || opts.scaleStores.includes('postgres');
const storeOf = (s: SystemName): Store => (s === 'orrery-sqlite' ? 'sqlite' : 'postgres');
const levels = scaleLevels(opts.scaleMax);
const began = performance.now();
let pg: PgServer | null = null;
let seq = 0;
const runId = randomBytes(3).toString('hex'); // databases of runs sharing one server never collide
const tag = (what: string) => `${runId}_${what.replace(/[^a-z0-9]/g, '_')}_${++seq}`;

if (opts.from) {
  // Re-render a saved run (results.json of --out): the same tables and chart, no measuring.
  const saved = JSON.parse(readFileSync(opts.from, 'utf8')) as { meta: RunMeta; samples: Record<string, number[]>; capped: string[] };
  Object.assign(results.samples, saved.samples);
  saved.capped.forEach((k) => results.capped.add(k));
  output(saved.meta);
  rmSync(dir, { recursive: true, force: true });
} else await measureAll();

async function measureAll(): Promise<void> {
  try {
    if (opts.systems.some((s) => s.startsWith('orrery'))) ensureBuilt(ROOT, log);
    if (needsPg) {
      log('starting PostgreSQL');
      pg = await startPgServer();
    }
    const env: BenchEnv = { pg, dir };
    for (let round = 1; round <= opts.rounds; round++) {
      // The systems' order turns every round, so drift during a round hits each in a different place.
      const order = opts.systems.map((_, i) => opts.systems[(i + round - 1) % opts.systems.length]!);
      for (const c of opts.concurrencies) {
        const rate: Partial<Record<SystemName, number>> = {};
        for (const s of order) {
          const r = await throughput(SYSTEMS[s], env, tag(`${s}_c${c}`), opts.size, c, opts.capMs);
          const cpu = addCpu(s, c, storeOf(s), r.completed, r.workerMicros, r.serverMicros);
          const direct = r.claims && r.claims.runs > 0 ? r.claims.created / r.claims.runs : null;
          log(
            `round ${round} c${c} ${s}: ${Math.round(r.perSecond)}/s${r.capped ? ` (capped: ${r.completed} done)` : ''}, ${cpu}, ` +
              `enqueue ${fmt(r.enqueueMs)}, peak RSS ${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB${direct === null ? '' : `, ${(direct * 100).toFixed(0)}% of runs claimed directly`}`,
          );
          rate[s] = r.perSecond;
          results.add(key.rate(s, c), r.perSecond);
          results.add(key.rss(s, c), r.peakRssBytes);
          if (direct !== null) results.add(key.direct(s, c), direct);
          if (r.capped) results.capped.add(key.rate(s, c));
          if (c === opts.concurrencies[0]) results.add(key.enqueue(s), r.enqueueMs);
        }
        const stores: Store[] = [];
        if (opts.systems.includes('orrery-sqlite')) stores.push('sqlite');
        if (pg && opts.systems.some((s) => s !== 'orrery-sqlite')) stores.push('postgres');
        const bare: Partial<Record<Store, number>> = {};
        const writeSet: Partial<Record<Store, number>> = {};
        for (const f of await measureFloors(env, tag, stores, opts.size, c, opts.claimBatch)) {
          const perSecond = (opts.size / f.m.ms) * 1000;
          const what = f.kind === 'bare' ? subject.bare(f.store) : subject.writeSet(f.store, f.batch);
          const cpu = addCpu(what, c, f.store, opts.size, f.m.ownMicros, f.m.serverMicros);
          log(`round ${round} c${c} ${f.kind === 'bare' ? 'bare SQL' : "Orrery's write set"}, ${f.store}, batches of ${f.batch}: ${Math.round(perSecond)}/s, ${cpu}`);
          if (f.kind === 'bare') {
            bare[f.store] = perSecond;
            results.add(key.bare(f.store, c), perSecond);
          } else {
            if (f.batch === opts.claimBatch) writeSet[f.store] = perSecond;
            results.add(key.writeSet(f.store, f.batch, c), perSecond);
          }
        }
        const peers = PEERS.map((p) => rate[p]).filter((v): v is number => v !== undefined);
        for (const s of ['orrery-sqlite', 'orrery-pg'] as const) {
          if (rate[s] === undefined) continue;
          if (peers.length > 0) results.add(key.vsPeer(s, c), rate[s]! / Math.max(...peers));
          const b = bare[storeOf(s)];
          if (b !== undefined) results.add(key.vsBare(s, c), rate[s]! / b);
          const w = writeSet[storeOf(s)];
          if (w !== undefined) results.add(key.vsWriteSet(s, c), rate[s]! / w);
        }
      }
      const rng = seededRng(round);
      const gaps = Array.from({ length: opts.latencyCount }, rng);
      for (const s of opts.latencyCount > 0 ? order : []) {
        let i = 0;
        const r = await latency(SYSTEMS[s], env, tag(`${s}_lat`), opts.latencyCount, opts.latencyGapMs, () => gaps[i++ % gaps.length]!);
        log(`round ${round} latency ${s}: p50 ${r.p50.toFixed(2)} ms, p95 ${r.p95.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
        results.add(key.latency(s, 'p50'), r.p50);
        results.add(key.latency(s, 'p95'), r.p95);
        results.add(key.latency(s, 'p99'), r.p99);
      }
    }
    for (const st of levels.length > 0 ? opts.scaleStores : []) {
      let db: string;
      let path: string | null = null;
      let name: string | null = null;
      if (st === 'sqlite') {
        path = join(dir, 'scale.db');
        db = `sqlite:${path}`;
      } else {
        if (!pg) throw new Error('scale on PostgreSQL needs the server');
        name = `bench_${tag('scale')}`;
        db = await pg.createDatabase(name);
      }
      const store = await openScaleStore(db, path);
      try {
        const totals: number[][] = [];
        for (const level of levels) {
          const loadMs = await store.grow(level);
          results.add(key.scaleLoad(st, level), loadMs);
          const row: number[] = [];
          await store.measure(); // warm-up: the first pass after a load reads cold pages
          for (let round = 0; round < opts.rounds; round++) {
            const m = await store.measure();
            results.add(key.scale(st, level, 'schedule'), m.scheduleMs);
            results.add(key.scale(st, level, 'claim'), m.claimMs);
            results.add(key.scale(st, level, 'total'), m.scheduleMs + m.claimMs);
            row.push(m.scheduleMs + m.claimMs);
          }
          totals.push(row);
          log(`scale ${st} ${level.toLocaleString('en')}: loaded in ${fmt(loadMs)}, schedule+claim 1,000: ${row.map((v) => fmt(v)).join(', ')}`);
        }
        if (totals.length > 1) totals[0]!.forEach((lo, i) => results.add(key.scaleGrowth(st), totals[totals.length - 1]![i]! / lo - 1));
      } finally {
        await store.close();
        if (path) rmSync(path, { force: true });
        if (name && pg) await pg.dropDatabase(name);
      }
    }

    const meta: RunMeta = {
      date: new Date().toISOString().slice(0, 10),
      machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}`,
      node: process.version,
      postgres: pg ? await pg.describe() : null,
      size: opts.size,
      rounds: opts.rounds,
      concurrencies: opts.concurrencies,
      claimBatch: opts.claimBatch,
      systems: opts.systems,
      labels: Object.fromEntries(opts.systems.map((s) => [s, SYSTEMS[s].label])),
      settings: Object.fromEntries(opts.systems.map((s) => [s, opts.concurrencies.map((c) => SYSTEMS[s].settings(c)).join(' / ')])),
      latencyCount: opts.latencyCount,
      scaleLevels: levels,
      scaleStores: levels.length > 0 ? opts.scaleStores : [],
      capMs: opts.capMs,
      quick: opts.quick,
      command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    };
    output(meta);
    log(`done in ${fmt(performance.now() - began)}`);
  } finally {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Records CPU µs per task of a system or a bare cycle at concurrency c: the worker's (or the bench
 * process's) own, the PostgreSQL server's when it could be read, and their total; returns a log text.
 */
function addCpu(what: string, c: number, store: Store, tasks: number, ownMicros: number, serverMicros: number | null): string {
  if (tasks === 0) return 'no task done';
  const own = ownMicros / tasks;
  results.add(key.cpu(what, c, 'worker'), own);
  if (store === 'sqlite') {
    results.add(key.cpu(what, c, 'total'), own);
    return `CPU ${own.toFixed(0)} µs/task`;
  }
  if (serverMicros === null) return `CPU ${own.toFixed(0)} µs/task + server n/a`;
  const server = serverMicros / tasks;
  results.add(key.cpu(what, c, 'server'), server);
  results.add(key.cpu(what, c, 'total'), own + server);
  return `CPU ${own.toFixed(0)} + server ${server.toFixed(0)} = ${(own + server).toFixed(0)} µs/task`;
}

function output(meta: RunMeta): void {
  const md = resultsMarkdown(results, meta);
  const svg = throughputChart(results, meta);
  console.log(md);
  if (opts.out) {
    mkdirSync(opts.out, { recursive: true });
    writeFileSync(join(opts.out, 'results.json'), JSON.stringify({ meta, ...results.toJSON() }, null, 2));
    writeFileSync(join(opts.out, 'results.md'), md);
    writeFileSync(join(opts.out, 'benchmarks.svg'), svg);
  }
  if (opts.docs) {
    writeDocs(md, svg);
    log('wrote docs/benchmarks.md and docs/images/benchmarks.svg');
  }
}

function writeDocs(md: string, svg: string): void {
  const path = join(ROOT, 'docs', 'benchmarks.md');
  const [start, end] = ['<!-- bench:results:start -->', '<!-- bench:results:end -->'];
  const doc = readFileSync(path, 'utf8');
  const a = doc.indexOf(start), b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/benchmarks.md has no ${start} ... ${end} section`);
  writeFileSync(path, `${doc.slice(0, a + start.length)}\n${md}${doc.slice(b)}`);
  mkdirSync(join(ROOT, 'docs', 'images'), { recursive: true });
  writeFileSync(join(ROOT, 'docs', 'images', 'benchmarks.svg'), svg);
}
