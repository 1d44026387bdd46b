/**
 * A profiling aid, not part of `npm run bench`: drains N no-op tasks through one in-process Daemon on an
 * embedded PostgreSQL with pg_stat_statements, then prints the statements by server time, the rows and
 * HOT updates of the hot tables, and the index entries written (node --import tsx bench/profile-pg.ts N C).
 */
import pg from 'pg';
import { openOrrery } from '../src/engine/service.js';
import { Daemon } from '../src/engine/daemon.js';
import { startPgServer } from './postgres-server.js';

process.env.ORRERY_BENCH_PG_STATEMENTS = '1';
const n = Number(process.argv[2] ?? 20000);
const c = Number(process.argv[3] ?? 10);
const server = await startPgServer();
try {
  const db = await server.createDatabase('prof');
  const orrery = await openOrrery({ db });
  await orrery.createTaskType({ name: 'noop', maxQueueLength: null });
  await orrery.createTasks(Array.from({ length: n }, (_, i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
  const raw = new pg.Client({ connectionString: db });
  await raw.connect();
  await raw.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await raw.query('SELECT pg_stat_statements_reset()');
  await raw.query('SELECT pg_stat_reset()');
  const wal0 = (await raw.query('SELECT pg_current_wal_lsn() AS l')).rows[0].l;
  const cpu0 = server.cpuMicros()!;
  const t0 = performance.now();
  let done = 0;
  const daemon = new Daemon(orrery, {
    runner: true,
    reaper: true,
    worker: { concurrency: c, types: ['noop'], handlers: { noop: async () => { done += 1; return false; } } },
  });
  daemon.start();
  while (done < n) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - t0;
  const cpu = server.cpuMicros()! - cpu0;
  await daemon.stop();
  await orrery.close();
  await new Promise((r) => setTimeout(r, 1500));
  const wal = (await raw.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d`, [wal0])).rows[0].d;
  console.log(`${n} tasks c${c}: ${Math.round(n / (ms / 1000))}/s, server CPU ${Math.round(cpu / n)} µs/task, WAL ${Math.round(Number(wal) / n)} B/task`);
  const st = await raw.query(`SELECT calls, rows, round(total_exec_time::numeric,1) AS ms, round((total_exec_time*1000/$1)::numeric,1) AS us_per_task, left(regexp_replace(query,'\\s+',' ','g'),110) AS q FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname='prof') ORDER BY total_exec_time DESC LIMIT 12`, [n]);
  console.table(st.rows);
  const t = await raw.query(`SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables WHERE n_tup_ins+n_tup_upd+n_tup_del > 0 ORDER BY relname`);
  console.table(t.rows);
  const ix = await raw.query(`SELECT relname, indexrelname, idx_scan, pg_size_pretty(pg_relation_size(indexrelid)) AS size FROM pg_stat_user_indexes WHERE relname IN ('tasks','task_runs') ORDER BY relname, indexrelname`);
  console.table(ix.rows);
  await raw.end();
} finally {
  await server.stop();
}
