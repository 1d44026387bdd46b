/**
 * The worker process of one system (node --import tsx bench/worker-process.ts SYSTEM DB CONCURRENCY).
 * Every system's worker is started the same way: it connects and prepares, says `ready`, starts on
 * `go`, and on `stop` reports its peak RSS, the CPU it used from `go` to `stop` (the bench sends
 * `stop` as soon as the queue is drained), the schedule-to-start latencies its handler saw, and its
 * claim counts where the system keeps them.
 */
import { ownCpuMicros } from './cpu.js';
import { WORKER_MODULES } from './systems/worker-modules.js';
import { anchorPreciseNow, preciseNow, type ClaimCounts, type Payload, type SystemName, type WorkerModule } from './systems/system.js';

export type ToWorker = { type: 'go' } | { type: 'stop' };
export type FromWorker =
  | { type: 'ready' }
  | { type: 'started' }
  | { type: 'done'; peakRssBytes: number; cpuMicros: number; claims: ClaimCounts | null; latencies: number[]; handled: number };

const [system, db, concurrency] = process.argv.slice(2) as [SystemName, string, string];
const send = (m: FromWorker) => process.send!(m);
const latencies: number[] = [];
let handled = 0;
const handle = (p: Payload) => {
  handled += 1;
  if (p && typeof p.sentAt === 'number') latencies.push(preciseNow() - p.sentAt);
};

// ORRERY_BENCH_COUNT_QUERIES=1: the worker counts its statements (PostgreSQL and SQLite) by their first 60
// characters from `go` to `stop` and prints them on stderr (a profiling aid).
const queryCounts = process.env.ORRERY_BENCH_COUNT_QUERIES ? await countQueries() : null;
const mod = (await import(WORKER_MODULES[system])) as WorkerModule;
const worker = await mod.prepareWorker({ db, concurrency: Number(concurrency), handle });
let cpuAtGo = process.cpuUsage();
process.on('message', (m: ToWorker) => {
  if (m.type === 'go') {
    anchorPreciseNow(); // the bench process anchors its own just after, before it creates latency tasks
    cpuAtGo = process.cpuUsage();
    queryCounts?.clear();
    void worker.start().then(() => send({ type: 'started' }));
  } else if (m.type === 'stop') {
    const cpuMicros = ownCpuMicros(cpuAtGo);
    if (queryCounts) {
      const lines = [...queryCounts].sort((a, b) => b[1] - a[1]).map(([q, n]) => `${String(n).padStart(7)}  ${q}`);
      process.stderr.write(`${system} c${concurrency}: statements from go to stop (${handled} handled)\n${lines.join('\n')}\n`);
    }
    const claims = worker.claims?.() ?? null;
    // maxRSS is the process's peak resident set size so far, in KiB.
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    void worker
      .stop()
      .catch((e: unknown) => process.stderr.write(`stop failed: ${String(e)}\n`))
      .finally(() => {
        send({ type: 'done', peakRssBytes, cpuMicros, claims, latencies, handled });
        process.disconnect();
        setTimeout(() => process.exit(0), 100).unref();
      });
  }
});
send({ type: 'ready' });

async function countQueries(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const pg = (await import('pg')).default;
  const query = pg.Client.prototype.query as (...a: unknown[]) => unknown;
  pg.Client.prototype.query = function (this: unknown, ...a: unknown[]) {
    const q = a[0] as string | { text?: string; name?: string };
    const text = (typeof q === 'string' ? q : (q?.name ?? q?.text ?? '?')).replace(/\s+/g, ' ').slice(0, 60);
    counts.set(text, (counts.get(text) ?? 0) + 1);
    return query.apply(this, a);
  } as typeof pg.Client.prototype.query;
  // SQLite: every statement execution, BEGIN and COMMIT of transactions included.
  const Database = (await import('better-sqlite3')).default;
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, (...a: unknown[]) => unknown>;
  probe.close();
  for (const m of ['run', 'get', 'all', 'iterate']) {
    const original = proto[m]!;
    proto[m] = function (this: { source: string }, ...a: unknown[]) {
      const text = this.source.replace(/\s+/g, ' ').slice(0, 60);
      counts.set(text, (counts.get(text) ?? 0) + 1);
      return original.apply(this, a);
    };
  }
  return counts;
}
