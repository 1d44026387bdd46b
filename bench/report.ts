/** The results section of docs/benchmarks.md, as Markdown tables built from a run's samples. */
import { fmt } from './stats.js';
import { key, PEERS, subject, type Results, type RunMeta } from './results.js';
import type { SystemName } from './systems/system.js';

const n0 = (v: number) => Math.round(v).toLocaleString('en');
const perS = (v: number) => `${n0(v)}/s`;
const x2 = (v: number) => `${v.toFixed(2)}x`;
const ms2 = (v: number) => (v < 10 ? `${v.toFixed(2)} ms` : fmt(v));
const mib = (v: number) => `${(v / 2 ** 20).toFixed(0)} MiB`;
const pct = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(0)}%`;
const share = (v: number) => `${(v * 100).toFixed(0)}%`;
const us = (v: number) => n0(v);
const levelName = (l: number) => (l >= 1e6 ? `${l / 1e6}M` : l >= 1e3 ? `${l / 1e3}k` : String(l));

/** "median (min .. max)" of a key's samples, after an optional monotonic map (e.g. a time to a rate). */
const BEST_PEER =
  '*Best peer*: the faster of graphile-worker and pg-boss in the same round and at the same concurrency (a drain stopped at the time cap counts at the rate it reached).';

export function cell(r: Results, k: string, f: (v: number) => string, map: (v: number) => number = (v) => v): string {
  const s = r.get(k);
  if (!s) return 'n/a';
  const [lo, hi] = [map(s.min), map(s.max)].sort((a, b) => a - b);
  return s.n > 1 ? `${f(map(s.median))} (${f(lo!)} .. ${f(hi!)})` : f(map(s.median));
}

export function resultsMarkdown(r: Results, meta: RunMeta): string {
  const L: string[] = [];
  const sys = meta.systems;
  const label = (s: SystemName) => meta.labels[s]!;
  const cs = meta.concurrencies;
  L.push(`Run of ${meta.date}: \`${meta.command}\`; ${meta.rounds} round${meta.rounds === 1 ? '' : 's'}, each figure the median (min .. max) over rounds, ratios computed within each round.`);
  L.push('');
  L.push(`- Machine: ${meta.machine}, Node ${meta.node}${meta.postgres ? `; ${meta.postgres}` : ''}.`);
  L.push(`- Tasks per throughput run: ${n0(meta.size)}; latency: ${meta.latencyCount} tasks per round; time cap per drain: ${fmt(meta.capMs)}.`);
  L.push('');
  L.push(`### Enqueue: ${n0(meta.size)} one-shot no-op tasks in one batch call`);
  L.push('');
  L.push('| system | time | tasks/s |');
  L.push('|---|---|---|');
  for (const s of sys) L.push(`| ${label(s)} | ${cell(r, key.enqueue(s), fmt)} | ${cell(r, key.enqueue(s), perS, (v) => (meta.size / v) * 1000)} |`);
  L.push('');
  L.push(`### Processing throughput: one worker process drains ${n0(meta.size)} no-op tasks`);
  L.push('');
  L.push(
    'CPU µs per task: *worker* is the worker process from `go` to drained (for the bare-SQL rows, the bench process running the loop), ' +
      '*server* the PostgreSQL server’s processes over the same span, *total* their sum; SQLite has no server (–). ' +
      '*Claimed directly*: the share of the runs Orrery’s worker claimed that its claims created from due tasks, the rest taken from the queue the runner fills.',
  );
  L.push('');
  L.push('| system | concurrency | tasks/s | CPU µs/task: worker | server | total | peak RSS | claimed directly |');
  L.push('|---|---|---|---|---|---|---|---|');
  for (const c of cs) {
    for (const s of sys) {
      const rate = cell(r, key.rate(s, c), perS) + (r.capped.has(key.rate(s, c)) ? ' *' : '');
      const direct = s.startsWith('orrery') ? cell(r, key.direct(s, c), share) : '–';
      L.push(`| ${label(s)} | ${c} | ${rate} | ${cpuCells(r, s, c, storeOf(s))} | ${cell(r, key.rss(s, c), mib)} | ${direct} |`);
    }
    for (const st of stores(meta)) {
      const name = st === 'sqlite' ? 'SQLite' : 'PostgreSQL';
      L.push(`| bare SQL cycle, ${name} (batches of ${c}) | ${c} | ${cell(r, key.bare(st, c), perS)} | ${cpuCells(r, subject.bare(st), c, st)} | – | – |`);
      for (const b of writeSetBatches(meta, c)) {
        L.push(`| Orrery’s write set in bare SQL, ${name} (batches of ${b}) | ${c} | ${cell(r, key.writeSet(st, b, c), perS)} | ${cpuCells(r, subject.writeSet(st, b), c, st)} | – | – |`);
      }
    }
  }
  if (r.capped.size > 0) L.push('', `\\* stopped at the time cap (${fmt(meta.capMs)}) before the queue was drained; the rate is that of the tasks it completed by then.`);
  L.push('');
  L.push('| ratio (per round) | ' + cs.map((c) => `concurrency ${c}`).join(' | ') + ' |');
  L.push('|---|' + cs.map(() => '---|').join(''));
  for (const s of sys.filter((s) => s.startsWith('orrery'))) {
    if (cs.some((c) => r.has(key.vsPeer(s, c)))) L.push(`| ${label(s)} / best peer | ${cs.map((c) => cell(r, key.vsPeer(s, c), x2)).join(' | ')} |`);
    L.push(`| ${label(s)} / bare SQL on its store | ${cs.map((c) => cell(r, key.vsBare(s, c), x2)).join(' | ')} |`);
    if (meta.claimBatch !== undefined) {
      L.push(`| ${label(s)} / Orrery’s write set in bare SQL on its store (batches of ${meta.claimBatch}) | ${cs.map((c) => cell(r, key.vsWriteSet(s, c), x2)).join(' | ')} |`);
    }
  }
  if (sys.some((s) => (PEERS as readonly string[]).includes(s))) L.push('', BEST_PEER);
  L.push('');
  L.push(`### Schedule-to-start latency: idle worker, ${meta.latencyCount} tasks created one at a time at random gaps`);
  L.push('');
  L.push('| system | p50 | p95 | p99 |');
  L.push('|---|---|---|---|');
  for (const s of sys) L.push(`| ${label(s)} | ${(['p50', 'p95', 'p99'] as const).map((q) => cell(r, key.latency(s, q), ms2)).join(' | ')} |`);
  if (meta.scaleLevels.length > 0 && meta.scaleStores.length > 0) {
    L.push('');
    L.push('### Scale: schedule and claim 1,000 due tasks beside L tasks not due and L finished runs (Orrery)');
    L.push('');
    L.push('| store | L | schedule 1,000 | claim 1,000 (10 claims of 100) | total | bulk load to L |');
    L.push('|---|---|---|---|---|---|');
    for (const st of meta.scaleStores) {
      for (const l of meta.scaleLevels) {
        L.push(`| ${st === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${levelName(l)} | ${cell(r, key.scale(st, l, 'schedule'), ms2)} | ${cell(r, key.scale(st, l, 'claim'), ms2)} | ${cell(r, key.scale(st, l, 'total'), ms2)} | ${cell(r, key.scaleLoad(st, l), fmt)} |`);
      }
      const lo = meta.scaleLevels[0]!, hi = meta.scaleLevels[meta.scaleLevels.length - 1]!;
      L.push(`| ${st === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | growth ${levelName(lo)} → ${levelName(hi)} | | | ${cell(r, key.scaleGrowth(st), pct)} | |`);
    }
  }
  L.push('');
  L.push('### Targets of issue 15 (the hot path)');
  L.push('');
  L.push('| target | this run (medians) | met |');
  L.push('|---|---|---|');
  for (const t of targets(r, meta)) L.push(`| ${t.target} | ${t.figure} | ${t.met} |`);
  return L.join('\n') + '\n';
}

const storeOf = (s: SystemName): 'sqlite' | 'postgres' => (s === 'orrery-sqlite' ? 'sqlite' : 'postgres');

/** Worker, server and total CPU µs per task of a system or a bare cycle (`what`); '–' for the server of SQLite. */
function cpuCells(r: Results, what: string, c: number, store: 'sqlite' | 'postgres'): string {
  const server = store === 'sqlite' ? '–' : cell(r, key.cpu(what, c, 'server'), us);
  return `${cell(r, key.cpu(what, c, 'worker'), us)} | ${server} | ${cell(r, key.cpu(what, c, 'total'), us)}`;
}

/** The batch sizes Orrery's write set was measured at beside the drains at concurrency c (none in older results). */
function writeSetBatches(meta: RunMeta, c: number): number[] {
  return meta.claimBatch === undefined ? [] : [...new Set([meta.claimBatch, c])];
}

function stores(meta: RunMeta): Array<'sqlite' | 'postgres'> {
  const out: Array<'sqlite' | 'postgres'> = [];
  if (meta.systems.includes('orrery-sqlite')) out.push('sqlite');
  if (meta.systems.some((s) => s !== 'orrery-sqlite')) out.push('postgres');
  return out;
}

export function targets(r: Results, meta: RunMeta): Array<{ target: string; figure: string; met: string }> {
  const out: Array<{ target: string; figure: string; met: string }> = [];
  const verdict = (ok: boolean | null) => (ok === null ? 'not measured' : ok ? 'yes' : 'no');
  // No figure (no concurrency measured, or a system left out): not measured, never a vacuous yes.
  const all = (ks: string[], f: (v: number) => boolean) => (ks.length > 0 && ks.every((k) => r.get(k)) ? ks.every((k) => f(r.get(k)!.median)) : null);
  const perC = (ks: string[]) => meta.concurrencies.map((c, i) => `c${c}: ${cell(r, ks[i]!, x2)}`).join('; ');
  // Issue 15 (the hot path); read from the report, never asserted in tests.
  const peer = meta.concurrencies.map((c) => key.vsPeer('orrery-pg', c));
  out.push({ target: 'Orrery on PostgreSQL ≥ 1.0x the best peer’s throughput (stretch 1.5x)', figure: perC(peer), met: verdict(all(peer, (v) => v >= 1.0)) });
  const sqlitePeer = meta.concurrencies.map((c) => key.vsPeer('orrery-sqlite', c));
  out.push({ target: 'Orrery on SQLite ≥ 1.2x the best peer’s throughput', figure: perC(sqlitePeer), met: verdict(all(sqlitePeer, (v) => v >= 1.2)) });
  const writeSet = meta.concurrencies.map((c) => key.vsWriteSet('orrery-sqlite', c));
  out.push({ target: 'Orrery on SQLite ≥ 80% of its write set in bare SQL', figure: perC(writeSet), met: verdict(all(writeSet, (v) => v >= 0.8)) });
  for (const s of ['orrery-pg', 'orrery-sqlite'] as const) {
    const p99 = key.latency(s, 'p99');
    out.push({ target: `${meta.labels[s] ?? s} p99 schedule-to-start < 5 ms`, figure: cell(r, p99, ms2), met: verdict(all([p99], (v) => v < 5)) });
  }
  for (const s of ['orrery-pg', 'orrery-sqlite'] as const) {
    const mine = meta.concurrencies.map((c) => key.rss(s, c));
    const theirs = meta.concurrencies.map((c) => key.rss('graphile-worker', c));
    const ok = mine.length > 0 && mine.every((k) => r.get(k)) && theirs.every((k) => r.get(k)) ? mine.every((k, i) => r.get(k)!.median <= r.get(theirs[i]!)!.median) : null;
    out.push({ target: `${meta.labels[s] ?? s} worker peak RSS ≤ graphile-worker’s`, figure: meta.concurrencies.map((c, i) => `c${c}: ${cell(r, mine[i]!, mib)} vs ${cell(r, theirs[i]!, mib)}`).join('; '), met: verdict(ok) });
  }
  const enq = key.enqueue('orrery-pg');
  const enqOk = r.get(enq) ? (meta.size / r.get(enq)!.median) * 1000 >= 30_000 : null;
  out.push({ target: 'Enqueue on PostgreSQL ≥ 30,000 tasks/s', figure: cell(r, enq, perS, (v) => (meta.size / v) * 1000), met: verdict(enqOk) });
  const reached = meta.scaleLevels.includes(10_000) && meta.scaleLevels[meta.scaleLevels.length - 1]! >= 10_000_000;
  for (const st of meta.scaleStores) {
    const g = key.scaleGrowth(st);
    const ok = all([g], (v) => v < 0.2);
    out.push({
      target: `Scale cost 10k → 10M grows < 20% (${st === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`,
      figure: `${cell(r, g, pct)}${reached ? '' : ` (up to ${levelName(meta.scaleLevels[meta.scaleLevels.length - 1] ?? 0)} only)`}`,
      met: reached ? verdict(ok) : 'not measured at 10M',
    });
  }
  return out;
}
