/**
 * Scale: the time to schedule and claim 1,000 due tasks while the database also holds L tasks that
 * are not due and L finished runs, for growing L. A seed made through the API (1,000 tasks not due
 * and 1,000 finished runs) is copied in bulk with INSERT ... SELECT over a generated series (as
 * bench/visits.ts --bulk does), with the unique keys prefixed by the copy number, so the rows have
 * exactly the API's shape whatever columns the schema has.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { openOrrery, type Orrery } from '../src/engine/service.js';

const TYPE = 'noop';
const SEED = 1000;
const DUE = 1000;
const CLAIM_LIMIT = 100;
const COPIES_PER_STATEMENT = 200;
const NEVER = new Date('2100-01-01T00:00:00Z');
const UNIQUE = new Set(['identity_key', 'dedupe_key', 'backend_id']);

interface Sql {
  columns(table: string): Promise<string[]>;
  copy(table: string, columns: string[], lo: number, hi: number, from: number, to: number): Promise<void>;
  analyze(): Promise<void>;
  close(): Promise<void>;
}

function sqliteSql(path: string): Sql {
  const db = new Database(path);
  db.pragma('cache_size = -1048576');
  db.pragma('synchronous = OFF');
  return {
    columns: async (table) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name),
    async copy(table, columns, lo, hi, from, to) {
      const target = columns.filter((c) => c !== 'id');
      const exprs = target.map((c) => (UNIQUE.has(c) ? `CASE WHEN t.${c} IS NULL THEN NULL ELSE 'c' || s.g || ':' || t.${c} END` : `t.${c}`));
      db.prepare(
        `WITH RECURSIVE s(g) AS (SELECT @from UNION ALL SELECT g + 1 FROM s WHERE g < @to)
         INSERT INTO ${table} (${target.join(', ')}) SELECT ${exprs.join(', ')} FROM s CROSS JOIN ${table} t
         WHERE t.id BETWEEN @lo AND @hi ORDER BY s.g, t.id`,
      ).run({ from, to, lo, hi });
    },
    analyze: async () => {},
    close: async () => void db.close(),
  };
}

async function postgresSql(url: string): Promise<Sql> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  // The two tables load at once, each over a connection of its own.
  const byTable = new Map<string, pg.Client>([['tasks', c]]);
  const runsClient = new pg.Client({ connectionString: url });
  await runsClient.connect();
  byTable.set('task_runs', runsClient);
  return {
    columns: async (table) =>
      (await c.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, [table])).rows.map((r) => r.column_name),
    async copy(table, columns, lo, hi, from, to) {
      const target = columns.filter((x) => x !== 'id');
      const exprs = target.map((x) => (UNIQUE.has(x) ? `'c' || g || ':' || t.${x}` : `t.${x}`));
      await byTable.get(table)!.query(
        `INSERT INTO ${table} (${target.join(', ')}) SELECT ${exprs.join(', ')} FROM generate_series($1::int, $2::int) AS g CROSS JOIN ${table} t
         WHERE t.id BETWEEN $3 AND $4 ORDER BY g, t.id`,
        [from, to, lo, hi],
      );
    },
    analyze: async () => void (await c.query('VACUUM ANALYZE tasks, task_runs')),
    close: async () => {
      await c.end();
      await runsClient.end();
    },
  };
}

export interface ScaleStore {
  /** Grows the database to `level` tasks not due and `level` finished runs; returns the load time in ms. */
  grow(level: number): Promise<number>;
  /** One measurement: creates 1,000 due tasks, then times scheduling them and claiming them (100 per claim); ends them afterwards. */
  measure(): Promise<{ scheduleMs: number; claimMs: number }>;
  close(): Promise<void>;
}

export async function openScaleStore(db: string, sqlitePath: string | null): Promise<ScaleStore> {
  const orrery: Orrery = await openOrrery({ db });
  await orrery.createTaskType({ name: TYPE, maxQueueLength: null });
  // The seed: 1,000 tasks not due, and 1,000 finished runs (of tasks that completed).
  const idle = await orrery.createTasks(Array.from({ length: SEED }, (_, i) => ({ type: TYPE, policy: 'oneshot' as const, nextRun: NEVER, arguments: { args: ['idle', i], kwargs: {} } })));
  await orrery.createTasks(Array.from({ length: SEED }, (_, i) => ({ type: TYPE, policy: 'oneshot' as const, arguments: { args: ['done', i], kwargs: {} } })));
  const seedRuns = await drain(orrery, SEED);
  const sql = sqlitePath ? sqliteSql(sqlitePath) : await postgresSql(db);
  const taskColumns = await sql.columns('tasks');
  const runColumns = await sql.columns('task_runs');
  const taskIds = [idle[0]!.id, idle[idle.length - 1]!.id];
  let copies = 1; // the seed itself
  return {
    async grow(level) {
      const want = Math.ceil(level / SEED);
      const start = performance.now();
      const load = async (table: string, columns: string[], lo: number, hi: number) => {
        for (let from = copies; from < want; from += COPIES_PER_STATEMENT) {
          await sql.copy(table, columns, lo, hi, from, Math.min(want - 1, from + COPIES_PER_STATEMENT - 1));
        }
      };
      await Promise.all([load('tasks', taskColumns, taskIds[0]!, taskIds[1]!), load('task_runs', runColumns, seedRuns[0], seedRuns[1])]);
      copies = Math.max(copies, want);
      await sql.analyze();
      return performance.now() - start;
    },
    async measure() {
      await orrery.createTasks(Array.from({ length: DUE }, (_, i) => ({ type: TYPE, policy: 'oneshot' as const, arguments: { args: ['due', Math.random(), i], kwargs: {} } })));
      const t0 = performance.now();
      let scheduled = 0;
      while (scheduled < DUE) {
        const runs = await orrery.scheduleDue({ type: TYPE });
        if (runs.length === 0) throw new Error(`scheduled only ${scheduled} of ${DUE} due tasks`);
        scheduled += runs.length;
      }
      const t1 = performance.now();
      const claimed = [];
      while (claimed.length < DUE) {
        const runs = await orrery.claimRuns({ worker: 'scale', types: [TYPE], limit: CLAIM_LIMIT, startNow: CLAIM_LIMIT });
        if (runs.length === 0) throw new Error(`claimed only ${claimed.length} of ${DUE} runs`);
        claimed.push(...runs);
      }
      const t2 = performance.now();
      await endAll(orrery, claimed.map((c) => c.run.backendId), 'scale');
      return { scheduleMs: t1 - t0, claimMs: t2 - t1 };
    },
    async close() {
      await sql.close();
      await orrery.close();
    },
  };
}

/** Schedules, claims and ends n due runs; returns the id range of the runs. */
async function drain(orrery: Orrery, n: number): Promise<[number, number]> {
  let scheduled = 0;
  while (scheduled < n) scheduled += (await orrery.scheduleDue({ type: TYPE })).length;
  const ids: string[] = [];
  while (ids.length < n) ids.push(...(await orrery.claimRuns({ worker: 'seed', types: [TYPE], limit: 500, startNow: 500 })).map((c) => c.run.backendId));
  const runIds = (await endAll(orrery, ids, 'seed')).sort((a, b) => a - b);
  return [runIds[0]!, runIds[runIds.length - 1]!];
}

async function endAll(orrery: Orrery, backendIds: string[], worker: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < backendIds.length; i += 500) {
    const res = await orrery.endRuns(backendIds.slice(i, i + 500).map((backendId) => ({ backendId, status: 'uneventful' as const, worker })));
    for (const r of res) {
      if (r instanceof Error) throw r;
      out.push(r.run.id);
    }
  }
  return out;
}
