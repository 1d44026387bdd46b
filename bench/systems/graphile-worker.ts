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
    const utils: WorkerUtils = await makeWorkerUtils({ connectionString: db, logger: quiet });
    await utils.migrate();
    const c = new pg.Client({ connectionString: db });
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
        await c.end();
        await env.pg!.dropDatabase(name);
      },
    };
  },
};

export async function prepareWorker(opts: { db: string; concurrency: number; handle: (p: Payload) => void }): Promise<PreparedWorker> {
  let runner: Runner | null = null;
  // The pool graphile-worker would make (maxPoolSize = concurrency + 1), given to it so that an idle
  // connection ended by the server (the bench drops the database as the process exits) is logged, not
  // an unhandled 'error' event that crashed the worker process (a full npm test run, 2026-12-06).
  const pool = new pg.Pool({ connectionString: opts.db, max: opts.concurrency + 1 });
  pool.on('error', (e) => process.stderr.write(`[graphile-worker] idle connection: ${e.message}\n`));
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
