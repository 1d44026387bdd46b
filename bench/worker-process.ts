/**
 * The worker process of one system (node --import tsx bench/worker-process.ts SYSTEM DB CONCURRENCY).
 * Every system's worker is started the same way: it connects and prepares, says `ready`, starts on
 * `go`, and on `stop` reports its peak RSS and the schedule-to-start latencies its handler saw.
 */
import { WORKER_MODULES } from './systems/index.js';
import { preciseNow, type Payload, type SystemName, type WorkerModule } from './systems/system.js';

export type ToWorker = { type: 'go' } | { type: 'stop' };
export type FromWorker = { type: 'ready' } | { type: 'started' } | { type: 'done'; peakRssBytes: number; latencies: number[]; handled: number };

const [system, db, concurrency] = process.argv.slice(2) as [SystemName, string, string];
const send = (m: FromWorker) => process.send!(m);
const latencies: number[] = [];
let handled = 0;
const handle = (p: Payload) => {
  handled += 1;
  if (p && typeof p.sentAt === 'number') latencies.push(preciseNow() - p.sentAt);
};

const mod = (await import(WORKER_MODULES[system])) as WorkerModule;
const worker = await mod.prepareWorker({ db, concurrency: Number(concurrency), handle });
process.on('message', (m: ToWorker) => {
  if (m.type === 'go') {
    void worker.start().then(() => send({ type: 'started' }));
  } else if (m.type === 'stop') {
    // maxRSS is the process's peak resident set size so far, in KiB.
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    void worker
      .stop()
      .catch((e: unknown) => process.stderr.write(`stop failed: ${String(e)}\n`))
      .finally(() => {
        send({ type: 'done', peakRssBytes, latencies, handled });
        process.disconnect();
        setTimeout(() => process.exit(0), 100).unref();
      });
  }
});
send({ type: 'ready' });
