/**
 * Orrery on SQLite (a file in the scratch directory) and on PostgreSQL (a database on the shared server):
 * the bench process's side. The worker process loads orrery-worker.ts instead, so it holds the compiled
 * package and nothing else of Orrery's (this module's TypeScript sources, `pg` and `better-sqlite3`
 * would count in its peak RSS).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { BENCH_TYPE, type BenchEnv, type Instance, type System } from './system.js';

const TYPE = BENCH_TYPE;
const PENDING_SQL = `SELECT 1 AS x FROM tasks WHERE status IN ('next_run_not_scheduled', 'next_run_scheduled') LIMIT 1`;
const COMPLETED_SQL = `SELECT count(*) AS n FROM tasks WHERE status = 'completed'`;

function orrerySystem(store: 'sqlite' | 'postgres'): System {
  return {
    name: store === 'sqlite' ? 'orrery-sqlite' : 'orrery-pg',
    label: store === 'sqlite' ? 'Orrery (SQLite)' : 'Orrery (PostgreSQL)',
    store,
    settings: (c) => `Daemon (runner + reaper + worker) in one process, imported from orrery/worker, concurrency ${c}, inline no-op handler, default settings`,
    async open(env: BenchEnv, tag: string): Promise<Instance> {
      let db: string;
      let query: (sql: string) => Promise<Array<Record<string, unknown>>>;
      let closeQuery: () => Promise<void>;
      let drop = async () => {};
      if (store === 'sqlite') {
        const path = join(env.dir, `${tag}.db`);
        db = `sqlite:${path}`;
        const orrery = await openOrrery({ db }); // migrates before the raw connection opens
        await orrery.createTaskType({ name: TYPE, maxQueueLength: null });
        await orrery.close();
        const raw = new Database(path, { readonly: true });
        query = async (sql) => raw.prepare(sql).all() as Array<Record<string, unknown>>;
        closeQuery = async () => void raw.close();
      } else {
        if (!env.pg) throw new Error('orrery-pg needs the PostgreSQL server');
        const name = `bench_${tag}`;
        db = await env.pg.createDatabase(name);
        const orrery = await openOrrery({ db });
        await orrery.createTaskType({ name: TYPE, maxQueueLength: null });
        await orrery.close();
        const c = new pg.Client({ connectionString: db });
        await c.connect();
        query = async (sql) => (await c.query(sql)).rows as Array<Record<string, unknown>>;
        closeQuery = () => c.end();
        drop = () => env.pg!.dropDatabase(name);
      }
      const orrery: Orrery = await openOrrery({ db });
      return {
        db,
        async enqueue(n) {
          const inputs = Array.from({ length: n }, (_, i) => ({ type: TYPE, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } }));
          const start = performance.now();
          await orrery.createTasks(inputs);
          return performance.now() - start;
        },
        async createOne(sentAt) {
          await orrery.createTask({ type: TYPE, policy: 'oneshot', arguments: { args: [], kwargs: { sentAt } } });
        },
        pending: async () => (await query(PENDING_SQL)).length > 0,
        completed: async () => Number((await query(COMPLETED_SQL))[0]!.n),
        async close() {
          await orrery.close();
          await closeQuery();
          await drop();
        },
      };
    },
  };
}

export const orrerySqlite = orrerySystem('sqlite');
export const orreryPostgres = orrerySystem('postgres');
