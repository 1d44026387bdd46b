/** Starts a system's worker process and talks to it (bench/worker-process.ts). */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ClaimCounts, SystemName } from './systems/system.js';
import type { FromWorker, ToWorker } from './worker-process.js';

const ENTRY = join(import.meta.dirname, 'worker-process.ts');
const READY_TIMEOUT_MS = 60_000;

export interface WorkerReport {
  peakRssBytes: number;
  /** CPU µs the worker process used from `go` to `stop`. */
  cpuMicros: number;
  claims: ClaimCounts | null;
  latencies: number[];
  handled: number;
}

export class WorkerHost {
  private messages: FromWorker[] = [];
  private waiters: Array<() => void> = [];
  private exited: string | null = null;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: FromWorker) => {
      this.messages.push(m);
      this.waiters.splice(0).forEach((w) => w());
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
      if (process.env.ORRERY_BENCH_COUNT_QUERIES) process.stderr.write(d);
    });
    child.on('exit', (code, signal) => {
      this.exited = `exited with ${signal ?? code}`;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** Spawns the worker and waits until it is connected and prepared. */
  static async start(system: SystemName, db: string, concurrency: number): Promise<WorkerHost> {
    // ORRERY_BENCH_CPU_PROF=DIR: each worker process writes a CPU profile there (node --cpu-prof).
    const prof = process.env.ORRERY_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.ORRERY_BENCH_CPU_PROF}`] : [];
    const child = spawn(process.execPath, [...prof, '--import', 'tsx', ENTRY, system, db, String(concurrency)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, ORRERY_LOG_LEVEL: 'warn' },
    });
    const host = new WorkerHost(child);
    await host.next('ready', READY_TIMEOUT_MS);
    return host;
  }

  /** Starts the worker (the caller's clock starts here). */
  go(): void {
    this.send({ type: 'go' });
  }

  /** Fails if the worker process died (polled by the measurement loops). */
  check(): void {
    if (this.exited) throw new Error(`worker process ${this.exited}\n${this.stderr}`);
  }

  async stop(): Promise<WorkerReport> {
    this.send({ type: 'stop' });
    const done = (await this.next('done', 30_000)) as Extract<FromWorker, { type: 'done' }>;
    if (!this.exited) await new Promise((r) => this.child.once('exit', r));
    return { peakRssBytes: done.peakRssBytes, cpuMicros: done.cpuMicros, claims: done.claims, latencies: done.latencies, handled: done.handled };
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private send(m: ToWorker): void {
    this.check();
    this.child.send(m);
  }

  private async next(type: FromWorker['type'], timeoutMs: number): Promise<FromWorker> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex((m) => m.type === type);
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      if (this.exited) throw new Error(`worker process ${this.exited} before "${type}"\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`worker process sent no "${type}" within ${timeoutMs} ms\n${this.stderr}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
}
