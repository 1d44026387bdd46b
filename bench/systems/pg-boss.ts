/**
 * pg-boss 10 (the newest major that runs on Node 20; 11 and later need Node 22). Its fastest
 * documented worker settings: `work()` with `batchSize` = the concurrency (one fetch, the batch's
 * handlers run together, one completion call) and the shortest polling interval it accepts (0.5 s);
 * `insert()` to enqueue. A worker that fetched a batch polls again no sooner than the interval after
 * the previous fetch began, so a fast handler gets at most `batchSize` jobs per 0.5 s.
 */
import PgBoss from 'pg-boss';
import pg from 'pg';
import type { BenchEnv, Instance, Payload, PreparedWorker, System } from './system.js';

const QUEUE = 'noop';
const POLL_S = 0.5;

export const pgBoss: System = {
  name: 'pg-boss',
  label: 'pg-boss',
  store: 'postgres',
  settings: (c) => `work() with batchSize ${c} (the batch's handlers run together), pollingIntervalSeconds ${POLL_S} (the minimum); insert() to enqueue`,
  async open(env: BenchEnv, tag: string): Promise<Instance> {
    if (!env.pg) throw new Error('pg-boss needs the PostgreSQL server');
    const name = `bench_${tag}`;
    const db = await env.pg.createDatabase(name);
    const boss = new PgBoss({ connectionString: db, supervise: false, schedule: false });
    boss.on('error', (e) => process.stderr.write(`[pg-boss] ${String(e)}\n`));
    await boss.start();
    await boss.createQueue(QUEUE);
    const c = new pg.Client({ connectionString: db });
    c.on('error', (e) => process.stderr.write(`[pg-boss] bench connection: ${e.message}\n`));
    await c.connect();
    return {
      db,
      async enqueue(n) {
        const jobs = Array.from({ length: n }, (_, i) => ({ name: QUEUE, data: { i } }));
        const start = performance.now();
        await boss.insert(jobs);
        return performance.now() - start;
      },
      async createOne(sentAt) {
        await boss.send(QUEUE, { sentAt });
      },
      pending: async () => (await c.query(`SELECT 1 FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active') LIMIT 1`, [QUEUE])).rows.length > 0,
      completed: async () => Number((await c.query(`SELECT count(*) AS n FROM pgboss.job WHERE name = $1 AND state = 'completed'`, [QUEUE])).rows[0].n),
      async close() {
        await boss.stop({ graceful: false, wait: true });
        await c.end();
        await env.pg!.dropDatabase(name);
      },
    };
  },
};

export async function prepareWorker(opts: { db: string; concurrency: number; handle: (p: Payload) => void }): Promise<PreparedWorker> {
  const boss = new PgBoss({ connectionString: opts.db });
  boss.on('error', (e) => process.stderr.write(`[pg-boss] ${String(e)}\n`));
  await boss.start();
  return {
    async start() {
      await boss.work<Payload>(QUEUE, { batchSize: opts.concurrency, pollingIntervalSeconds: POLL_S }, async (jobs) => {
        await Promise.all(jobs.map(async (j) => opts.handle(j.data)));
      });
    },
    async stop() {
      await boss.stop({ graceful: true, wait: true, timeout: 5000 });
    },
  };
}
