/** One measurement of one system: throughput (with enqueue, CPU and peak RSS) or schedule-to-start latency. */
import { anchorPreciseNow, preciseNow, type BenchEnv, type ClaimCounts, type System } from './systems/system.js';
import { WorkerHost } from './worker-host.js';

const POLL_MS = 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ThroughputResult {
  enqueueMs: number;
  /** Until every task was recorded complete, or until the cap. */
  ms: number;
  completed: number;
  capped: boolean;
  perSecond: number;
  peakRssBytes: number;
  /** CPU µs of the worker process from `go` to drained. */
  workerMicros: number;
  /** CPU µs of the PostgreSQL server over the same span; null on SQLite or when it cannot be read. */
  serverMicros: number | null;
  /** What the worker's claims returned (Orrery), or null. */
  claims: ClaimCounts | null;
}

/**
 * Enqueues n tasks (timed: the batch call alone), starts the system's worker process, and times it
 * from `go` until the database shows every task complete. A system still draining after `capMs` is
 * stopped there and rated on what it completed (reported as capped). The worker process reports its
 * own CPU from `go` to `stop`; the server's is read around the same span (it includes the bench's polls).
 */
export async function throughput(system: System, env: BenchEnv, tag: string, n: number, concurrency: number, capMs: number): Promise<ThroughputResult> {
  const inst = await system.open(env, tag);
  let host: WorkerHost | null = null;
  try {
    const enqueueMs = await inst.enqueue(n);
    host = await WorkerHost.start(system.name, inst.db, concurrency);
    const serverCpu = () => (system.store === 'postgres' ? (env.pg?.cpuMicros() ?? null) : null);
    const server0 = serverCpu();
    const start = performance.now();
    host.go();
    let capped = false;
    while (await inst.pending()) {
      host.check();
      if (performance.now() - start > capMs) {
        capped = true;
        break;
      }
      await sleep(POLL_MS);
    }
    const ms = performance.now() - start;
    const server1 = serverCpu();
    const report = await host.stop();
    host = null;
    const completed = await inst.completed();
    if (!capped && completed !== n) throw new Error(`${system.name}: ${completed} of ${n} tasks complete when none was pending`);
    return {
      enqueueMs,
      ms,
      completed,
      capped,
      perSecond: (completed / ms) * 1000,
      peakRssBytes: report.peakRssBytes,
      workerMicros: report.cpuMicros,
      serverMicros: server0 === null || server1 === null ? null : server1 - server0,
      claims: report.claims,
    };
  } finally {
    host?.kill();
    await inst.close();
  }
}

export interface LatencyResult {
  p50: number;
  p95: number;
  p99: number;
  count: number;
}

/**
 * An idle worker (concurrency 10); `count` tasks created one at a time at random gaps of
 * `gapMs[0]..gapMs[1]`; each handler reports its start minus the instant just before its create call.
 */
export async function latency(system: System, env: BenchEnv, tag: string, count: number, gapMs: [number, number], rng: () => number): Promise<LatencyResult> {
  const inst = await system.open(env, tag);
  let host: WorkerHost | null = await WorkerHost.start(system.name, inst.db, 10);
  try {
    host.go();
    await sleep(500); // started and idle
    anchorPreciseNow(); // as the worker process did at its start
    for (let i = 0; i < count; i++) {
      await sleep(gapMs[0] + rng() * (gapMs[1] - gapMs[0]));
      host.check();
      await inst.createOne(preciseNow());
    }
    const deadline = performance.now() + 30_000;
    while ((await inst.pending()) && performance.now() < deadline) await sleep(POLL_MS);
    const report = await host.stop();
    host = null;
    if (report.latencies.length !== count) throw new Error(`${system.name}: ${report.latencies.length} of ${count} latency tasks started`);
    const s = [...report.latencies].sort((a, b) => a - b);
    return { p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), count };
  } finally {
    host?.kill();
    await inst.close();
  }
}

/** Nearest-rank quantile of a sorted list. */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A small deterministic PRNG (mulberry32), so every system sees the same gaps in a round. */
export function seededRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
