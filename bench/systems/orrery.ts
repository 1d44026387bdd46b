/** Orrery on SQLite (a file in the scratch directory) and on PostgreSQL (a database on the shared server). */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Daemon } from '../../src/worker-entry.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import type { BenchEnv, ClaimCounts, Instance, Payload, PreparedWorker, System } from './system.js';

const TYPE = 'noop';
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

/**
 * The worker process runs Orrery as its users do: the compiled package in dist/ (which `npm run bench`
 * builds first when src/ is newer, bench/build-check.ts), not the TypeScript sources through tsx, as
 * the other systems run from their compiled packages; and through the entry documented for worker
 * processes, `orrery/worker` (dist/worker-entry.js), as graphile-worker's runs through its own.
 */
async function compiledOrrery() {
  const entry = join(import.meta.dirname, '..', '..', 'dist', 'worker-entry.js');
  return (await import(pathToFileURL(entry).href)) as typeof import('../../src/worker-entry.js');
}

export async function prepareWorker(opts: { db: string; concurrency: number; handle: (p: Payload) => void }): Promise<PreparedWorker> {
  const { openOrrery, Daemon } = await compiledOrrery();
  const orrery = await openOrrery({ db: opts.db });
  // Counts what the store's claims return: every run, and those created directly from due tasks
  // (the rest were taken from the queue the runner fills).
  const counts: ClaimCounts = { runs: 0, created: 0 };
  const store = orrery.store;
  const claimRuns = store.claimRuns.bind(store);
  store.claimRuns = async (req) => {
    const outcome = await claimRuns(req);
    counts.runs += outcome.runs.length;
    counts.created += outcome.created?.length ?? 0;
    return outcome;
  };
  let daemon: Daemon | null = null;
  return {
    claims: () => ({ ...counts }),
    async start() {
      daemon = new Daemon(orrery, {
        runner: true,
        reaper: true,
        worker: {
          concurrency: opts.concurrency,
          types: [TYPE],
          handlers: {
            [TYPE]: async ({ kwargs }) => {
              opts.handle(kwargs as Payload);
              return false;
            },
          },
        },
      });
      daemon.start();
    },
    async stop() {
      await daemon?.stop();
      await orrery.close();
    },
  };
}
