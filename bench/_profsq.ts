import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../src/engine/daemon.js';
import { openOrrery } from '../src/engine/service.js';
const N = Number(process.env.N ?? 20000);
const C = Number(process.env.C ?? 10);
const dir = mkdtempSync(join(tmpdir(), 'profsq-'));
const o = await openOrrery({ db: `sqlite:${join(dir, 'x.db')}` });
await o.createTaskType({ name: 'noop', maxQueueLength: null });
await o.createTasks(Array.from({ length: N }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
let created = 0, runs = 0, claims = 0;
const cr = o.store.claimRuns.bind(o.store);
o.store.claimRuns = async (req) => { const r = await cr(req); claims++; runs += r.runs.length; created += r.created?.length ?? 0; return r; };
let ends = 0; const er = o.store.endRuns.bind(o.store); o.store.endRuns = async (items: any) => { ends++; return er(items); };
let done = 0; let resolveDone!: () => void; const allDone = new Promise<void>((r) => (resolveDone = r));
const { Session } = await import('node:inspector/promises');
const sess = new Session(); sess.connect();
if (process.env.PROF) { await sess.post('Profiler.enable'); await sess.post('Profiler.setSamplingInterval', { interval: 200 }); await sess.post('Profiler.start'); }
const cpu0 = process.cpuUsage(); const t0 = performance.now();
const d = new Daemon(o, { runner: true, reaper: true, worker: { concurrency: C, types: ['noop'], handlers: { noop: async () => { if (++done === N) resolveDone(); return false; } } } });
d.start();
await allDone;
const wall = performance.now() - t0; const cpu = process.cpuUsage(cpu0);
if (process.env.PROF) { const { profile } = await sess.post('Profiler.stop'); writeFileSync('/tmp/prof/sq.cpuprofile', JSON.stringify(profile)); }
await d.stop();
console.log(`N=${N} C=${C} wall=${wall.toFixed(0)}ms rate=${(N / wall * 1000).toFixed(0)}/s cpu=${((cpu.user + cpu.system) / N).toFixed(1)}us/task ends=${ends} claims=${claims} runs=${runs} direct=${created}`);
await o.close(); process.exit(0);
