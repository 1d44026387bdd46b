/**
 * SPEC §7 / issue 3: scheduling and claiming must not grow with finished runs or idle tasks. With a
 * million tasks (a thousand due) and a million finished runs, every hot query must be answered from
 * its partial index, never by scanning a table.
 */
import { runSearch } from '../../src/core/run-search.js';
import { TASK_SCAN_LIMIT, searchPath, taskSearch, type TaskSearchInput } from '../../src/core/task-search.js';
import { taskScanSql, taskSearchSql } from '../../src/store/postgres/postgres-task-search.js';
import { runSearchSql } from '../../src/store/postgres/postgres-run-search.js';
import { STATS_QUERIES } from '../../src/store/postgres/postgres-stats.js';
import { TYPE_LOAD_QUERIES } from '../../src/store/postgres/postgres-type-load.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore, HOT_QUERIES } from '../../src/store/postgres/postgres-store.js';
import { PREPARED_CLAIM, PREPARED_CLAIM_DUE } from '../../src/store/postgres/postgres-queries.js';
import { END_HELD } from '../../src/store/postgres/postgres-held-ends.js';
import { LIMIT_QUERIES } from '../../src/store/postgres/postgres-claims.js';
import { chunkInsert } from '../../src/store/postgres/postgres-task-rows.js';
import { validateTask, validateTaskType } from '../../src/core/validation.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const TASKS = 1_000_000;
const DUE = 1_000;
const AT = new Date('2026-06-01T00:00:00Z');

type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Relation Name'?: string; 'Actual Rows'?: number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] };

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe('PostgreSQL hot queries at scale', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('plans');
    const store = await PostgresStore.open(db.url); // migrates
    await store.close();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`INSERT INTO task_types (name, backend_name, backoff_factor, max_queue_length, num_retries, retry_delay_ms, lease_ms, max_abandons, created)
                        VALUES ('load-git', 'load-git', 2, 5000, 0, 3600000, 30000, 3, now())`);
    // A million tasks, a thousand of them due at AT, the rest idle far in the future.
    await client.query(
      `INSERT INTO tasks (type, arguments, policy, schedule, next_run, current_interval_ms, status, retries_left, priority_rank, identity_key, dedupe_key, created)
       SELECT 'load-git', jsonb_build_object('args', jsonb_build_array(i), 'kwargs', '{}'::jsonb), 'recurring', '{"kind":"adaptive"}',
              CASE WHEN i <= $2 THEN $1::timestamptz - interval '1 minute' ELSE $1::timestamptz + (i || ' seconds')::interval END,
              86400000, 'next_run_not_scheduled', 0, 3, 'k' || i, 'k' || i, now()
       FROM generate_series(1, $3::int) AS i`,
      [AT, DUE, TASKS],
    );
    // A million finished runs.
    await client.query(
      `INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, started, ended, attempt)
       SELECT 1 + (i % $2::int), 'load-git', 'done-' || i, 'uneventful', 3, $1::timestamptz - interval '2 days', $1::timestamptz - interval '2 days',
              $1::timestamptz - interval '1 day', 1
       FROM generate_series(1, $2::int) AS i`,
      [AT, TASKS],
    );
    // A thousand tasks carry a concurrency key (task search by key).
    await client.query(`UPDATE tasks SET concurrency_key = 'key-' || (id % 10) WHERE id <= 1000`);
    await client.query('ANALYZE');
  }, 300_000);

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  async function plan(sql: string, params: unknown[]): Promise<PlanNode[]> {
    const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    return nodes((rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan);
  }

  // The due-work index bounds the scan by due tasks (it excludes idle and finished ones).
  const DUE_INDEXES = ['tasks_due'];
  // Either partial index over started runs bounds the scan by leased runs (the planner picks by statistics).
  const LEASED_INDEXES = ['task_runs_leases', 'task_runs_running'];
  const cases: [string, string, unknown[], string[]][] = [
    ['is there due work (runner probe)', HOT_QUERIES.anyDue, ['load-git', AT], DUE_INDEXES],
    ['pick due tasks in order', HOT_QUERIES.pickDue, ['load-git', 3, AT, 1000], DUE_INDEXES],
    ['count waiting runs (queue limit)', HOT_QUERIES.queued, ['load-git'], ['task_runs_claimable']],
    ['earliest next run (runner sleep)', HOT_QUERIES.nextDue, [], ['tasks_due']],
    ['the types with due work (runner pass)', HOT_QUERIES.typesDue, [AT], ['tasks_due']],
    ['claim waiting runs', HOT_QUERIES.claim, ['w', AT, ['load-git'], 10, 5], ['task_runs_claimable']],
    ['claim due tasks (no runner)', HOT_QUERIES.claimDue, ['w', AT, ['load-git'], 10, 5], DUE_INDEXES],
    ['expired leases (reaper)', HOT_QUERIES.expired, [AT, 500], LEASED_INDEXES],
    ['expired claims given back (reaper)', HOT_QUERIES.releaseExpired, [AT, 500], LEASED_INDEXES],
    ['a worker-wide heartbeat', HOT_QUERIES.heartbeatRuns, [['a', 'b'], [null, AT], AT, 'w'], ['task_runs_backend_id_key', ...LEASED_INDEXES]],
    ['buffered runs given back', HOT_QUERIES.releaseRuns, [['a', 'b'], 'w'], ['task_runs_backend_id_key', ...LEASED_INDEXES]],
    ['earliest lease expiry (reaper sleep)', HOT_QUERIES.nextLease, [], LEASED_INDEXES],
    // The claim of a type with limits (docs/limits.md).
    ['running runs of a limited type', LIMIT_QUERIES.runningOfType, ['load-git'], ['task_runs_running']],
    ['running runs of some concurrency keys', LIMIT_QUERIES.runningOfKeys, ['load-git', ['key-1', 'key-2']], ['task_runs_running']],
    // Fair shares (issue 19): the keys after a key, one seek each; the first runs of some keys; the runs without a key.
    ['the next waiting keys of a type', LIMIT_QUERIES.nextKeys, ['load-git', 'key-1', 16], ['task_runs_key_queue']],
    ['the next waiting keys below a key', LIMIT_QUERIES.nextKeysUpTo, ['load-git', '', 16, 'key-5'], ['task_runs_key_queue']],
    ['the first waiting runs of some keys', LIMIT_QUERIES.keyHeads, ['load-git', ['key-1', 'key-2'], [2, 2]], ['task_runs_key_queue']],
    ['the first waiting runs without a key', LIMIT_QUERIES.nullHeads, ['load-git', 2], ['task_runs_keyless_queue']],
    ['waiting runs of a limited type in claim order', LIMIT_QUERIES.pick, ['load-git', 10], ['task_runs_claimable']],
    // Operators' reads (docs/operations.md): due-not-queued counts, and `task why`.
    ['due tasks no run serves yet (metrics, dashboard)', STATS_QUERIES.dueStats, [AT, 100_000], ['tasks_due']],
    // (the million finished runs ended a day before AT: a range that holds them all reads them all, however)
    ['range charts: ended runs per bucket, of every type', STATS_QUERIES.runSeries, [new Date(AT.getTime() - 3_600_000), AT, 60_000, null], ['task_runs_finished']],
    ['range charts: ended runs per bucket, of one type', STATS_QUERIES.runSeries, [new Date(AT.getTime() - 3_600_000), AT, 60_000, 'load-git'], ['task_runs_finished']],
    ['why: runs of the type ahead in the queue', TYPE_LOAD_QUERIES.ahead, [1, 'load-git'], ['task_runs_claimable']],
    ['why: held runs of the type', TYPE_LOAD_QUERIES.running, ['load-git', null], ['task_runs_running', 'task_runs_leases']],
    // Runs across tasks (run list): each page from the index that orders or bounds it.
    ...(
      [
        ['failed runs of a type, newest ended first', { status: 'failed,permfailed', type: 'load-git', limit: 100 }, ['task_runs_failures']],
        ['ended runs in a window, next page', { status: 'uneventful', since: '2026-01-01T00:00:00Z', cursor: Buffer.from(JSON.stringify({ ended: Date.parse('2026-06-01T00:00:00Z'), id: 5 })).toString('base64url') }, ['task_runs_finished']],
        ['started runs', { status: 'started' }, LEASED_INDEXES],
        ['waiting runs', { status: 'scheduled', type: 'load-git' }, ['task_runs_claimable']],
        ['every run, newest first', { limit: 100 }, ['task_runs_pkey']],
      ] as const
    ).map(([name, input, idx]) => {
      const { sql, params } = runSearchSql(runSearch(input));
      return [`run list: ${name}`, sql, params, [...idx]] as [string, string, unknown[], string[]];
    }),
    // Task search (task list, GET /api/tasks): each page a range of its index in id order, bounded. Even
    // where the statistics say a type and status hold every task (here), the page reads its index range:
    // the primary key, walked from the cursor, would pass every task of other types created before.
    ...(
      [
        ['a rare type, every status (four ranges merged)', { type: 'other' }, ['tasks_type_status']],
        ['a common type, every status', { type: 'load-git' }, ['tasks_type_status']],
        ['a type and a status, next page', { type: 'load-git', status: 'next_run_not_scheduled', cursor: '500000' }, ['tasks_type_status']],
        ['a status', { status: 'disabled' }, ['tasks_status']],
        ['a concurrency key', { concurrencyKey: 'key-3', type: 'load-git' }, ['tasks_concurrency_key']],
        ['argument text within a rare type', { type: 'other', args: '4242', argsMatch: 'prefix' }, ['tasks_type_status']],
        ['argument text within a status', { status: 'next_run_not_scheduled', args: '4242' }, ['tasks_status']],
        ['every task', {}, ['tasks_pkey']],
        ['these ids', { ids: [5, 6, 7] }, ['tasks_pkey']],
        ['paused tasks (the partial index of paused tasks only)', { paused: true }, ['tasks_paused']],
        ['paused tasks of a type, two statuses', { paused: true, type: 'load-git', status: 'disabled,next_run_not_scheduled' }, ['tasks_paused']],
        ['not paused, within a status', { paused: false, status: 'disabled' }, ['tasks_status']],
      ] as const
    ).flatMap(([name, input, idx]) => {
      const s = taskSearch(input as TaskSearchInput);
      const queries = [taskSearchSql(s, searchPath(s).bounded ? 20_000 : null), ...(searchPath(s).bounded ? [taskScanSql(s)] : [])];
      return queries.map(({ sql, params }, i) => [`task list: ${name}${i ? ' (the scan bound)' : ''}`, sql, params, [...idx]] as [string, string, unknown[], string[]]);
    }),
  ];

  it.each(cases)('%s uses a partial index and scans no table', async (_name, sql, params, indexes) => {
    const all = await plan(sql, params);
    expect(all.filter((n) => n['Node Type'] === 'Seq Scan' && ['tasks', 'task_runs'].includes(n['Relation Name'] ?? '')).map((n) => n['Relation Name'])).toEqual([]);
    const used = all.map((n) => n['Index Name']).filter((i): i is string => Boolean(i));
    expect(used.filter((i) => indexes.includes(i)), `indexes used: ${used.join(', ')}`).not.toEqual([]);
    // A task search page reads its own index range only (never the primary key beside it).
    if (_name.startsWith('task list:')) expect(used.filter((i) => !indexes.includes(i) && i.startsWith('tasks_'))).toEqual([]);
  });

  // The claims and the held end are prepared statements: PostgreSQL may switch them to a generic plan
  // (built without the parameters' values) after five calls, so that plan must read the index too.
  it.each([
    ['claim waiting runs', PREPARED_CLAIM.text, 'task_runs_claimable'],
    ['claim due tasks', PREPARED_CLAIM_DUE.text, 'tasks_due'],
    ['end held runs in one statement', END_HELD.text, 'task_runs_pkey'],
  ])(
    'the generic plan of the prepared statement "%s" uses its index and scans no table', async (_name, sql, index) => {
    const { rows } = await client.query(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${sql}`);
    const all = nodes((rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan);
    expect(all.filter((n) => n['Node Type'] === 'Seq Scan' && ['tasks', 'task_runs'].includes(n['Relation Name'] ?? '')).map((n) => n['Relation Name'])).toEqual([]);
    const scans = all.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']]);
    expect(all.map((n) => n['Index Name']), JSON.stringify(scans)).toContain(index);
  },
  );

  // A create of one task is a named prepared statement too (every column shared): its generic plan
  // inserts rows from unnest and finds conflicts through tasks_dedupe, reading no table.
  it('the generic plan of the prepared create of one task (with its wake-up) reads no table', async () => {
    const types = new Map([['load-git', validateTaskType({ name: 'load-git' })]]);
    const q = chunkInsert([validateTask({ type: 'load-git', policy: 'oneshot', arguments: { args: [1], kwargs: {} } }, types, AT)], AT, 'orrery');
    expect(q.name).toBe('orrery_insert_1');
    const { rows } = await client.query(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${q.text}`);
    const all = nodes((rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan) as Array<PlanNode & { 'Conflict Arbiter Indexes'?: string[] }>;
    expect(all.filter((n) => ['tasks', 'task_runs'].includes(n['Relation Name'] ?? '') && n['Node Type'] !== 'ModifyTable').map((n) => n['Node Type'])).toEqual([]);
    expect(all.flatMap((n) => n['Conflict Arbiter Indexes'] ?? [])).toEqual(['tasks_dedupe']);
  });

  it(`a task search for rare argument text examines at most ${TASK_SCAN_LIMIT} tasks of its range`, async () => {
    const s = taskSearch({ type: 'load-git', args: 'no such text' });
    const scan = taskScanSql(s);
    const [end] = (await client.query(scan.sql, scan.params)).rows as Array<{ id: string }>;
    expect(Number(end!.id)).toBe(TASK_SCAN_LIMIT);
    const { sql, params } = taskSearchSql(s, Number(end!.id));
    const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
    const all = nodes((rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan);
    const scans = all.filter((n) => n['Relation Name'] === 'tasks');
    expect(scans.every((n) => n['Node Type'] === 'Index Scan'), JSON.stringify(scans)).toBe(true);
    expect(scans.reduce((sum, n) => sum + (n['Rows Removed by Filter'] ?? 0) + (n['Actual Rows'] ?? 0), 0)).toBeLessThanOrEqual(TASK_SCAN_LIMIT);
  });

  it('queue stats (metrics scrape) read waiting runs, leases and dead letters from their indexes only', async () => {
    const all = await plan(HOT_QUERIES.queueStats, []);
    expect(all.filter((n) => n['Node Type'] === 'Seq Scan' && ['tasks', 'task_runs'].includes(n['Relation Name'] ?? '')).map((n) => n['Relation Name'])).toEqual([]);
    const used = new Set(all.map((n) => n['Index Name']).filter((i): i is string => Boolean(i)));
    expect([...used], `indexes used: ${[...used].join(', ')}`).toEqual(expect.arrayContaining(['task_runs_claimable']));
    expect(LEASED_INDEXES.some((i) => used.has(i)), `indexes used: ${[...used].join(', ')}`).toBe(true);
    // Dead letters: either index bounds the scan by disabled tasks (the planner picks by statistics).
    expect(['tasks_type_status', 'tasks_status'].some((i) => used.has(i)), `indexes used: ${[...used].join(', ')}`).toBe(true);
  });

  it('a runner pass and a claim on this database touch only the due work', async () => {
    const store = await PostgresStore.open(db.url);
    try {
      const runs = await store.scheduleDue('load-git', AT);
      expect(runs).toHaveLength(DUE);
      expect(new Set(runs.map((r) => r.task)).size).toBe(DUE);
      expect(Math.max(...runs.map((r) => r.task))).toBe(DUE); // exactly the due ones
      const claimed = await store.claimRuns({ worker: 'w', types: ['load-git'], limit: 50, at: AT });
      expect(claimed.runs).toHaveLength(50);
    } finally {
      await store.close();
    }
  });

  it('a claim reads waiting runs in claim order and no more than it takes (never sorts the whole queue)', async () => {
    // A thousand more runs wait (inside a transaction rolled back afterwards): a claim of 10 must read
    // about 10 entries of the index, not every waiting run.
    await client.query('BEGIN');
    try {
      await client.query(
        `INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, attempt)
         SELECT 1 + i, 'load-git', 'waiting-' || i, 'scheduled', 3, $1::timestamptz + (i || ' ms')::interval, 1 FROM generate_series(1, 1000) AS i`,
        [AT],
      );
      // The unlimited claim, and the pick of unlimited types in a claim that also serves limited ones.
      for (const [sql, params] of [
        [HOT_QUERIES.claim, ['w', AT, ['load-git', 'other'], 10, 10]],
        [LIMIT_QUERIES.pickUnlimited, [['load-git', 'other'], 10]],
      ] as const) {
        const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, [...params]);
        const all = nodes((rows[0]['QUERY PLAN'] as [{ Plan: PlanNode }])[0].Plan);
        const scans = all.filter((n) => n['Index Name'] === 'task_runs_claimable');
        expect(scans.length).toBeGreaterThan(0);
        for (const n of scans) expect(n['Actual Rows']).toBeLessThanOrEqual(10);
      }
    } finally {
      await client.query('ROLLBACK');
    }
  });
});
