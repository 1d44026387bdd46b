import type pg from 'pg';
import type { RunStatus } from '../../core/model.js';
import { planConflict, REPLACED_ERROR } from '../../core/task-conflict.js';
import type { NewTask } from '../../core/validation.js';
import { taskFromNew, taskFromRow, type Row } from '../rows.js';
import type { CreatedTask } from '../store.js';

const CHUNK = 5000;

/**
 * Inserts a batch in multi-row statements inside the caller's transaction. Equal active tasks (same
 * identity, already stored or earlier in the batch) are not inserted; the existing task is returned.
 */
export async function insertTasks(c: pg.PoolClient, tasks: readonly NewTask[], at: Date, prior?: Map<string, number>): Promise<CreatedTask[]> {
  const inserted = prior ?? new Map<string, number>();
  // `prior`: the batch was already tried (insertAtOnce); what it did not insert is looked up below.
  if (!prior) for (let i = 0; i < tasks.length; i += CHUNK) await insertChunk(c, tasks.slice(i, i + CHUNK), at, inserted);
  const existing = new Map<string, Row>();
  // An equal task found at insert time may complete before the lookup: then insert ours after all.
  for (let round = 0; ; round++) {
    const missing = [...new Set(tasks.map((t) => t.dedupeKey).filter((k) => !inserted.has(k) && !existing.has(k)))];
    if (missing.length === 0) break;
    const { rows } = await c.query<Row>('SELECT * FROM tasks WHERE dedupe_key = ANY($1)', [missing]);
    for (const r of rows) existing.set(r.dedupe_key as string, r);
    const vanished = new Set(missing.filter((k) => !existing.has(k)));
    if (vanished.size === 0) break;
    if (round === 3) throw new Error('equal tasks kept completing during creation; try again');
    await insertChunk(c, tasks.filter((t) => vanished.has(t.dedupeKey) && !inserted.has(t.dedupeKey)), at, inserted);
  }
  const firstSeen = new Set<string>();
  const out: CreatedTask[] = [];
  for (const t of tasks) {
    const id = inserted.get(t.dedupeKey);
    const first = id !== undefined && !firstSeen.has(t.dedupeKey);
    firstSeen.add(t.dedupeKey);
    if (first) out.push({ task: taskFromNew(t, id, at), created: true });
    else if ((t.onConflict ?? 'return') === 'return' && (t.key ?? null) === null) {
      // Same definition: the holder as inserted earlier in this batch, or as found.
      out.push(id !== undefined ? { task: taskFromNew(t, id, at), created: false } : { task: taskFromRow(existing.get(t.dedupeKey)!), created: false });
    } else out.push(await resolveConflict(c, t, at));
  }
  return out;
}

/**
 * The common case in one statement and no transaction (one round trip, the wake-up included): a
 * batch of at most one chunk whose tasks all return an equal active task on conflict. Returns the
 * created tasks when every task was inserted and none repeats another; otherwise the keys it
 * inserted (committed: each is a complete task), for `insertTasks` to finish the batch in a
 * transaction; null when the batch does not qualify.
 */
export async function insertAtOnce(pool: pg.Pool, tasks: readonly NewTask[], at: Date, notify: string): Promise<CreatedTask[] | Map<string, number> | null> {
  if (tasks.length === 0 || tasks.length > CHUNK || !tasks.every((t) => (t.onConflict ?? 'return') === 'return' && (t.key ?? null) === null)) return null;
  const inserted = new Map<string, number>();
  await insertChunk(pool, tasks, at, inserted, notify);
  if (inserted.size !== tasks.length) return inserted;
  return tasks.map((t) => ({ task: taskFromNew(t, inserted.get(t.dedupeKey)!, at), created: true }));
}

/** A task whose identity is held by an active task (stored, or inserted earlier in this batch): what its onConflict asks for. */
async function resolveConflict(c: pg.PoolClient, t: NewTask, at: Date): Promise<CreatedTask> {
  const { rows } = await c.query<Row>(
    `SELECT t.*, r.status AS current_run_status FROM tasks t LEFT JOIN task_runs r ON r.id = t.current_run WHERE t.dedupe_key = $1 FOR UPDATE OF t`,
    [t.dedupeKey],
  );
  const row = rows[0];
  if (!row) throw new Error(`task with identity ${t.dedupeKey} vanished during creation; try again`);
  const holder = taskFromRow(row);
  const plan = planConflict(holder, (row.current_run_status ?? null) as RunStatus | null, t.onConflict ?? 'return', {
    arguments: t.arguments,
    nextRun: t.nextRun,
    priority: t.priority,
    priorityRank: t.priorityRank,
    concurrencyKey: t.concurrencyKey ?? null,
  });
  if (plan.action === 'return') return { task: holder, created: false };
  if (plan.withdrawRun) {
    await c.query(`UPDATE task_runs SET status = 'failed', ended = $2, error = $3 WHERE id = $1 AND status = 'scheduled'`, [row.current_run, at, REPLACED_ERROR]);
  }
  const u = plan.update;
  const { rows: updated } = await c.query<Row>(
    `UPDATE tasks SET arguments = $2::jsonb, next_run = $3, priority = $4, priority_rank = $5, concurrency_key = $6,
       status = 'next_run_not_scheduled', current_run = NULL WHERE id = $1 RETURNING *`,
    [holder.id, JSON.stringify(u.arguments), u.nextRun, u.priority, u.priorityRank, u.concurrencyKey],
  );
  return { task: taskFromRow(updated[0]!), created: false, replaced: true };
}

/**
 * `notify`: the statement also sends the wake-up on that LISTEN channel when it inserts anything; the
 * notification leaves with the commit, a round trip sooner than one sent afterwards.
 */
async function insertChunk(c: pg.PoolClient | pg.Pool, chunk: readonly NewTask[], at: Date, inserted: Map<string, number>, notify?: string): Promise<void> {
  if (chunk.length === 0) return;
  const insert = `INSERT INTO tasks (type, arguments, policy, schedule, next_run, current_interval_ms, status, retries_left, priority,
       priority_rank, identity_key, dedupe_key, task_key, concurrency_key, created)
     SELECT type, arguments, policy, schedule, next_run, interval, 'next_run_not_scheduled', retries, priority, rank, key, key, tkey, ckey, $11
     FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::bigint[], $7::int[], $8::text[],
                 $9::smallint[], $10::text[], $12::text[], $13::text[])
       AS x(type, arguments, policy, schedule, next_run, interval, retries, priority, rank, key, tkey, ckey)
     ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
     RETURNING id, dedupe_key`;
  const { rows } = await c.query<{ id: number; dedupe_key: string }>(
    notify === undefined ? insert : `WITH ins AS (${insert}) SELECT id, dedupe_key FROM ins CROSS JOIN (SELECT pg_notify($14, 'tasks')) AS n`,
    [
      chunk.map((t) => t.type),
      chunk.map((t) => JSON.stringify(t.arguments)),
      chunk.map((t) => t.policy),
      chunk.map((t) => JSON.stringify(t.schedule)),
      chunk.map((t) => t.nextRun),
      chunk.map((t) => t.currentIntervalMs),
      chunk.map((t) => t.retriesLeft),
      chunk.map((t) => t.priority),
      chunk.map((t) => t.priorityRank),
      chunk.map((t) => t.dedupeKey),
      at,
      chunk.map((t) => t.key ?? null),
      chunk.map((t) => t.concurrencyKey ?? null),
      ...(notify === undefined ? [] : [notify]),
    ],
  );
  for (const r of rows) inserted.set(r.dedupe_key, Number(r.id));
}
