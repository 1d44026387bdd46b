/**
 * graphile-worker 0.17 with the settings of its performance page: a local queue (jobs fetched in
 * batches and handed out in the process) and batched completion (`completeJobBatchDelay: 0`).
 * Completed jobs are deleted, so "complete" is "gone from the jobs table".
 */
import { makeWorkerUtils, run, type Runner, type WorkerUtils, Logger } from 'graphile-worker';
import pg from 'pg';
import type { BenchEnv, Instance, Payload, PreparedWorker, System } from './system.js';

const TASK = 'noop';
const quiet = new Logger(() => (level: string, message: string) => {
  if (level === 'error') process.stderr.write(`[graphile-worker] ${message}\n`);
});

const localQueueSize = (c: number) => Math.max(500, c + 1);

export const graphileWorker: System = {
  name: 'graphile-worker',
  label: 'graphile-worker',
  store: 'postgres',
  settings: (c) => `run() with concurrency ${c}, maxPoolSize ${c + 1}, localQueue.size ${localQueueSize(c)}, completeJobBatchDelay 0, failJobBatchDelay 0; addJobs() to enqueue`,
  async open(env: BenchEnv, tag: string): Promise<Instance> {
    if (!env.pg) throw new Error('graphile-worker needs the PostgreSQL server');
    const name = `bench_${tag}`;
    const db = await env.pg.createDatabase(name);
    // Its own pool, given to it, so that an idle connection ended by the server is logged: the pool
    // makeWorkerUtils makes from a URL had no 'error' listener, and crashed the bench (npm test, 2026-12-07).
    const utilsPool = guardedPool(db, 2);
    const utils: WorkerUtils = await makeWorkerUtils({ pgPool: utilsPool, logger: quiet });
    await utils.migrate();
    const c = new pg.Client({ connectionString: db });
    c.on('error', (e) => process.stderr.write(`[graphile-worker] bench connection: ${e.message}\n`));
    await c.connect();
    let added = 0;
    return {
      db,
      async enqueue(n) {
        const specs = Array.from({ length: n }, (_, i) => ({ identifier: TASK, payload: { i } }));
        const start = performance.now();
        await utils.addJobs(specs);
        added += n;
        return performance.now() - start;
      },
      async createOne(sentAt) {
        await utils.addJob(TASK, { sentAt });
        added += 1;
      },
      pending: async () => (await c.query('SELECT 1 FROM graphile_worker._private_jobs LIMIT 1')).rows.length > 0,
      completed: async () => added - Number((await c.query('SELECT count(*) AS n FROM graphile_worker._private_jobs')).rows[0].n),
      async close() {
        await utils.release();
        await utilsPool.end();
        await c.end();
        await env.pg!.dropDatabase(name);
      },
    };
  },
};

/**
 * A pool whose idle and checked-out connections' errors (the server ending them) are logged. The pool
 * graphile-worker makes itself loses its listeners at release while it still ends, unawaited: a
 * connection ended then crashed the process. With both listeners it adds none of its own (no warning).
 */
function guardedPool(db: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: db, max });
  const log = (e: Error) => process.stderr.write(`[graphile-worker] connection: ${e.message}\n`);
  pool.on('error', log);
  pool.on('connect', (client) => client.on('error', log));
  return pool;
}

export async function prepareWorker(opts: { db: string; concurrency: number; handle: (p: Payload) => void }): Promise<PreparedWorker> {
  let runner: Runner | null = null;
  // The pool graphile-worker would make (maxPoolSize = concurrency + 1), given to it so that an idle
  // connection ended by the server (the bench drops the database as the process exits) is logged, not
  // an unhandled 'error' event that crashed the worker process (a full npm test run, 2026-12-06).
  const pool = guardedPool(opts.db, opts.concurrency + 1);
  return {
    async start() {
      runner = await run({
        pgPool: pool,
        concurrency: opts.concurrency,
        noHandleSignals: true,
        pollInterval: 2000,
        logger: quiet,
        taskList: {
          [TASK]: async (payload) => {
            opts.handle(payload as Payload);
          },
        },
        preset: { worker: { localQueue: { size: localQueueSize(opts.concurrency) }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
    },
    async stop() {
      await runner?.stop();
      await pool.end();
    },
  };
}
