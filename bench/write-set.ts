/**
 * Orrery's own write set as bare SQL: the floor of what Orrery writes per task, on the schema its
 * migrations create. One task type and n one-shot tasks are made through the API (not timed); then,
 * in batches of B (the worker's claim size), with no Orrery code in the loop:
 *
 * - claim: pick B due tasks in runner order from `tasks_due` (whose predicate includes `paused_at IS
 *   NULL`: without it in the query neither store can use the index, and each pick sorted every task
 *   left, which made the floor at small batches 5-20 times too slow), insert their runs (status `claimed`
 *   once the schema has it, else `started`; with worker, started, a lease and a time-ordered backend
 *   id, as Orrery's claims make them) and mark the tasks
 *   `next_run_scheduled` with their run as `current_run`;
 * - end: the runs `uneventful` with `ended` (lease cleared), the tasks `completed` with no
 *   `current_run` (and, on PostgreSQL, no `dedupe_key`: SQLite's ends keep it until an equal task
 *   takes it over), each guarded as a real end must be.
 *
 * PostgreSQL: the claim is one statement (FOR UPDATE SKIP LOCKED, INSERT ... RETURNING, UPDATE) and
 * the end is one statement (arrays unnested, both tables updated in CTEs). SQLite: each is one
 * BEGIN IMMEDIATE transaction of prepared per-row statements, on the store's own settings.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { openOrrery } from '../src/engine/service.js';
import { TIME_ORDERED_UUID } from '../src/store/postgres/postgres-queries.js';
import { timeOrderedUuid } from '../src/store/run-ids.js';
import { measured, type Measured } from './cpu.js';

const TYPE = 'noop';
const WORKER = 'bench-write-set';
const LEASE_MS = 300_000;

/** Makes the tables (the store's migrations), the task type and n one-shot tasks through Orrery's API. */
async function createTasks(db: string, n: number): Promise<void> {
  const orrery = await openOrrery({ db });
  try {
    await orrery.createTaskType({ name: TYPE, maxQueueLength: null });
    await orrery.createTasks(Array.from({ length: n }, (_, i) => ({ type: TYPE, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
  } finally {
    await orrery.close();
  }
}

/** The status a claim gives a run: `claimed` if the runs' CHECK constraint allows it, else `started`. */
const claimStatus = (check: string) => (check.includes("'claimed'") ? 'claimed' : 'started');

/** SQLite (a new file at `path`), n tasks in batches of `batch`. */
export async function writeSetSqlite(path: string, n: number, batch: number): Promise<Measured> {
  await createTasks(`sqlite:${path}`, n);
  const db = new Database(path);
  try {
    // The settings of Orrery's SQLite store (src/store/sqlite/sqlite-connection.ts).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -65536');
    const status = claimStatus((db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'task_runs'`).get() as { sql: string }).sql);
    const pick = db.prepare(`SELECT id, priority_rank, next_attempt, concurrency_key FROM tasks
      WHERE type = ? AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND next_run <= ? ORDER BY priority_rank, next_run, id LIMIT ?`);
    const insertRun = db.prepare(`INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, started, worker, lease_expires_at, attempt, concurrency_key)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const markTask = db.prepare(`UPDATE tasks SET status = 'next_run_scheduled', current_run = ? WHERE id = ?`);
    const endRun = db.prepare(`UPDATE task_runs SET status = 'uneventful', ended = ?, lease_expires_at = NULL WHERE id = ? AND status = ?`);
    // Orrery's SQLite ends leave the dedupe key to be taken over by a later equal task (docs/architecture.md).
    const endTask = db.prepare(`UPDATE tasks SET status = 'completed', current_run = NULL WHERE id = ? AND current_run = ?`);
    type Due = { id: number; priority_rank: number; next_attempt: number; concurrency_key: string | null };
    const claim = db.transaction((at: number) =>
      (pick.all(TYPE, at, batch) as Due[]).map((t) => {
        const run = Number(insertRun.run(t.id, TYPE, timeOrderedUuid(at), status, t.priority_rank, at, at, WORKER, at + LEASE_MS, t.next_attempt, t.concurrency_key).lastInsertRowid);
        markTask.run(run, t.id);
        return { run, task: t.id };
      }),
    );
    const end = db.transaction((items: Array<{ run: number; task: number }>, at: number) => {
      for (const { run, task } of items) {
        if (endRun.run(at, run, status).changes !== 1 || endTask.run(task, run).changes !== 1) throw new Error(`write set on SQLite: run ${run} of task ${task} not ended`);
      }
    });
    const m = await measured(
      () => null,
      () => {
        for (;;) {
          const items = claim.immediate(Date.now());
          if (items.length === 0) break;
          end.immediate(items, Date.now());
        }
      },
    );
    const done = (db.prepare(`SELECT count(*) AS n FROM tasks WHERE status = 'completed'`).get() as { n: number }).n;
    if (done !== n) throw new Error(`write set on SQLite completed ${done} of ${n}`);
    return m;
  } finally {
    db.close();
  }
}

/** PostgreSQL (an empty database at `url`), n tasks in batches of `batch`; `serverCpu` reads the server's CPU. */
export async function writeSetPostgres(url: string, n: number, batch: number, serverCpu: () => number | null): Promise<Measured> {
  await createTasks(url, n);
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query('VACUUM ANALYZE tasks');
    const checks = await c.query<{ def: string }>(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'task_runs'::regclass AND contype = 'c'`);
    const status = claimStatus(checks.rows.map((r) => r.def).join(' '));
    const claim = {
      name: 'write-set-claim',
      text: `WITH due AS (
          SELECT id, priority_rank, next_attempt, concurrency_key FROM tasks
          WHERE type = $1 AND status = 'next_run_not_scheduled' AND paused_at IS NULL AND next_run <= $2
          ORDER BY priority_rank, next_run, id LIMIT $3 FOR UPDATE SKIP LOCKED),
        ins AS (
          INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, started, worker, lease_expires_at, attempt, concurrency_key)
          SELECT d.id, $1, ${TIME_ORDERED_UUID('$2::timestamptz')}, $4, d.priority_rank, $2, $2, $5, $2::timestamptz + $6 * interval '1 millisecond', d.next_attempt, d.concurrency_key
          FROM due d
          RETURNING id, task),
        marked AS (UPDATE tasks t SET status = 'next_run_scheduled', current_run = ins.id FROM ins WHERE t.id = ins.task)
        SELECT id, task FROM ins`,
    };
    // The `= ANY` anchors keep the generic plan on primary-key lookups (the status guards are no access path).
    const end = {
      name: 'write-set-end',
      text: `WITH x AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS x(run, task)),
        r AS (UPDATE task_runs r SET status = 'uneventful', ended = $3, lease_expires_at = NULL
              FROM x WHERE r.id = x.run AND r.id = ANY($1::bigint[]) AND r.status = $4 RETURNING r.id),
        t AS (UPDATE tasks t SET status = 'completed', dedupe_key = NULL, current_run = NULL
              FROM x WHERE t.id = x.task AND t.id = ANY($2::bigint[]) AND t.current_run = x.run RETURNING t.id)
        SELECT (SELECT count(*) FROM r)::int AS runs, (SELECT count(*) FROM t)::int AS tasks`,
    };
    const m = await measured(serverCpu, async () => {
      for (;;) {
        const { rows } = await c.query<{ id: string; task: string }>({ ...claim, values: [TYPE, new Date(), batch, status, WORKER, LEASE_MS] });
        if (rows.length === 0) break;
        const ended = await c.query<{ runs: number; tasks: number }>({ ...end, values: [rows.map((r) => r.id), rows.map((r) => r.task), new Date(), status] });
        const e = ended.rows[0]!;
        if (e.runs !== rows.length || e.tasks !== rows.length) throw new Error(`write set on PostgreSQL ended ${e.runs} runs and ${e.tasks} tasks of ${rows.length}`);
      }
    });
    const done = Number((await c.query(`SELECT count(*) AS n FROM tasks WHERE status = 'completed'`)).rows[0].n);
    if (done !== n) throw new Error(`write set on PostgreSQL completed ${done} of ${n}`);
    return m;
  } finally {
    await c.end();
  }
}
