/**
 * Where a drain's time goes, phase by phase, on each store (no worker process, no handlers): create
 * N due one-shot tasks, schedule them (runner passes), claim them in batches of C, end them in
 * batches of C; then N more, claimed straight from the due tasks (no runner) in batches of C.
 * `npm run bench:phases -- [N] [C] [sqlite,pg]` (defaults 20000, 10, both): a profiling aid, not
 * part of the report. Each phase runs alone, so the figures are its cost without contention.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openOrrery, type Orrery } from '../src/engine/service.js';
import { startPgServer } from './postgres-server.js';

function usage(message: string): never {
  process.stderr.write(`bench:phases: ${message}\nusage: npm run bench:phases -- [N tasks] [C per claim and end batch] [sqlite,pg]\n`);
  process.exit(2);
}
const positive = (raw: string | undefined, fallback: number, what: string): number => {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > 1_000_000) usage(`${what} must be an integer from 1 to 1,000,000, not "${raw}"`);
  return v;
};
const n = positive(process.argv[2], 20_000, 'N');
const c = positive(process.argv[3], 10, 'C');
const stores = (process.argv[4] ?? 'sqlite,pg').split(',');
for (const s of stores) if (s !== 'sqlite' && s !== 'pg') usage(`unknown store "${s}" (sqlite, pg)`);

async function phases(label: string, orrery: Orrery): Promise<void> {
  await orrery.createTaskType({ name: 'noop', maxQueueLength: null });
  const inputs = Array.from({ length: n }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));
  let t = performance.now();
  await orrery.createTasks(inputs);
  const enqueue = performance.now() - t;
  t = performance.now();
  let scheduled = 0;
  for (;;) {
    const runs = await orrery.scheduleDue({});
    if (runs.length === 0) break;
    scheduled += runs.length;
  }
  const schedule = performance.now() - t;
  t = performance.now();
  const held: string[][] = [];
  for (;;) {
    const out = await orrery.store.claimRuns({ worker: 'w', types: ['noop'], limit: c, startNow: c, at: new Date() });
    if (out.runs.length === 0) break;
    held.push(out.runs.map((r) => r.run.backendId));
  }
  const claim = performance.now() - t;
  t = performance.now();
  for (const batch of held) {
    await orrery.endRuns(batch.map((backendId) => ({ backendId, status: 'uneventful' as const, worker: 'w' })));
  }
  const end = performance.now() - t;
  // Direct claims of due tasks (no runner): as many tasks again, claimed and ended in batches of c.
  await orrery.createTasks(inputs.map((x) => ({ ...x, arguments: { args: x.arguments.args, kwargs: { direct: true } } })));
  t = performance.now();
  const direct: string[][] = [];
  for (;;) {
    const out = await orrery.store.claimRuns({ worker: 'w', types: ['noop'], limit: c, startNow: c, at: new Date(), due: true });
    if (out.runs.length === 0) break;
    direct.push(out.runs.map((r) => r.run.backendId));
  }
  const claimDue = performance.now() - t;
  for (const batch of direct) await orrery.endRuns(batch.map((backendId) => ({ backendId, status: 'uneventful' as const, worker: 'w' })));
  const per = (ms: number) => `${((ms / n) * 1000).toFixed(0)} µs/task (${Math.round((n / ms) * 1000)}/s)`;
  console.log(`${label} n=${n} c=${c} scheduled=${scheduled}\n  enqueue  ${per(enqueue)}\n  schedule ${per(schedule)}\n  claim    ${per(claim)}\n  end      ${per(end)}\n  cycle    ${per(schedule + claim + end)}\n  direct claim (schedule + claim) ${per(claimDue)}`);
}

const dir = mkdtempSync(join(tmpdir(), 'orrery-phases-'));
try {
  if (stores.includes('sqlite')) {
    const o = await openOrrery({ db: `sqlite:${join(dir, 'p.db')}` });
    await phases('sqlite', o);
    await o.close();
  }
  if (stores.includes('pg')) {
    const server = await startPgServer();
    try {
      const o = await openOrrery({ db: await server.createDatabase('phases') });
      await phases('postgres', o);
      await o.close();
    } finally {
      await server.stop();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
