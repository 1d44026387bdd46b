/**
 * npm run bench:fair-share [-- --keys 10000] [--big 100000] [--claims 300] [--limit 10] [--stores sqlite,postgres]
 *
 * The cost of a claim of a type whose concurrency keys take turns (docs/limits.md#fair-shares): `keys`
 * distinct keys with 2 waiting runs each, plus one key with `big` waiting runs queued before them all.
 * Each claim takes `limit` runs (the worker's free slots); the time of each claim call (the service's
 * `claim`, one transaction) is measured, median and 95th percentile over `claims` claims (after 20
 * claims not measured), for:
 *
 * - `claim order`: a limited type (maxRunning) that takes runs in claim order: the big key's runs;
 * - `fair shares`: `fairShare: true`: one run of each key in turn, through task_runs_key_queue;
 * - `fifoPerKey`: one held run per key, the claimed runs ended before the next claim (each key's
 *   held runs counted, every key read once per claim).
 *
 * The tasks are created and queued through the API (createTasks, scheduleDue) before the clock starts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/engine/clock.js';
import { openOrrery, type Orrery } from '../src/engine/service.js';
import { startPgServer, type PgServer } from './postgres-server.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const KEYS = arg('keys', 10_000);
const BIG = arg('big', 100_000);
const CLAIMS = arg('claims', 300);
const LIMIT = arg('limit', 10);
/** Claims made before the clock starts (the first commits after the fill also checkpoint its WAL). */
const WARMUP = 20;
const storesArg = process.argv.indexOf('--stores');
const STORES = (storesArg >= 0 ? process.argv[storesArg + 1]! : 'sqlite,postgres').split(',');
const T0 = new Date('2026-01-01T00:00:00Z');
const log = (m: string) => process.stderr.write(`[fair-share ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface Mode {
  name: string;
  type: Record<string, unknown>;
  /** End the claimed runs before the next claim (so fifoPerKey keys free again). */
  end: boolean;
}
const MODES: Mode[] = [
  { name: 'claim order', type: { maxRunning: 1_000_000 }, end: false },
  { name: 'fair shares', type: { fairShare: true }, end: false },
  { name: 'fifoPerKey', type: { fifoPerKey: true }, end: true },
];

async function fill(o: Orrery, type: string): Promise<void> {
  const chunk = 5000;
  const specs: Array<[string, number]> = [['big', BIG], ...Array.from({ length: KEYS }, (_, i): [string, number] => [`tenant-${String(i).padStart(6, '0')}`, 2])];
  let batch: Array<{ type: string; policy: 'oneshot'; arguments: { args: unknown[]; kwargs: Record<string, unknown> }; concurrencyKey: string }> = [];
  let n = 0;
  for (const [key, count] of specs) {
    for (let i = 0; i < count; i++) {
      batch.push({ type, policy: 'oneshot', arguments: { args: [n++], kwargs: {} }, concurrencyKey: key });
      if (batch.length === chunk) (await o.createTasks(batch, { at: T0 }), (batch = []));
    }
  }
  if (batch.length > 0) await o.createTasks(batch, { at: T0 });
  while ((await o.scheduleDue({ type, at: T0 })).length > 0);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function measure(db: string, mode: Mode): Promise<{ median: number; p95: number; keys: number }> {
  const clock = new ManualClock(T0);
  const o = await openOrrery({ db, clock });
  try {
    const type = 'fair';
    await o.createTaskType({ name: type, maxQueueLength: null, leaseMs: '1h', ...mode.type });
    const filled = performance.now();
    await fill(o, type);
    log(`${mode.name}: ${BIG + 2 * KEYS} runs queued in ${((performance.now() - filled) / 1000).toFixed(1)} s`);
    const times: number[] = [];
    const keys = new Set<string>();
    for (let i = -WARMUP; i < CLAIMS; i++) {
      const t = performance.now();
      const got = await o.claim({ worker: 'w', types: [type], limit: LIMIT, startNow: LIMIT, due: false, at: T0 });
      if (i >= 0) times.push(performance.now() - t);
      for (const c of got.runs) keys.add(c.task?.concurrencyKey ?? '');
      if (mode.end && got.runs.length > 0) await o.endRuns(got.runs.map((c) => ({ backendId: c.run.backendId, status: 'uneventful' as const, worker: 'w', at: T0, held: { run: c.run, task: c.task! } })));
    }
    return { median: quantile(times, 0.5), p95: quantile(times, 0.95), keys: keys.size };
  } finally {
    await o.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'orrery-fair-share-'));
let pgServer: PgServer | null = null;
const rows: string[] = [];
try {
  for (const store of STORES) {
    for (const mode of MODES) {
      let db: string;
      let name = '';
      if (store === 'sqlite') db = `sqlite:${join(dir, `${mode.name.replace(/\W/g, '')}.db`)}`;
      else {
        pgServer ??= await startPgServer();
        name = `fair_${mode.name.replace(/\W/g, '_').toLowerCase()}`;
        db = await pgServer.createDatabase(name);
      }
      const r = await measure(db, mode);
      if (pgServer && name) await pgServer.dropDatabase(name);
      const row = `| ${store} | ${mode.name} | ${r.median.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.keys} |`;
      log(row);
      rows.push(row);
    }
  }
} finally {
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(
  [
    `${KEYS.toLocaleString('en')} keys with 2 waiting runs each, one key with ${BIG.toLocaleString('en')} waiting runs queued first; ${CLAIMS} claims of ${LIMIT} runs after ${WARMUP}`,
    '',
    '| store | how keys are taken | claim median (ms) | claim p95 (ms) | distinct keys claimed (warm-up included) |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
