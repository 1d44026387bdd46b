import type pg from 'pg';
import type { RunStatus, Task } from '../../core/model.js';
import { ConflictError } from '../../core/errors.js';
import { planConflict, replacementFor, replacementOf, REPLACED_ERROR, WITHDRAWN_STATUS } from '../../core/task-conflict.js';
import type { NewTask } from '../../core/validation.js';
import { runFromRow, scheduledForColumn, taskFromNew, taskFromRow, type Row } from '../rows.js';
import type { CreatedTask } from '../store.js';
import { chunkInsert } from './postgres-task-rows.js';
import { firstDueOfNew, jitteredFirst } from '../../core/catch-up.js';
import { planDebounce, uniqueLookupBound, withinUniqueWindow } from '../../core/flow-control.js';

/** Rows per INSERT statement. */
const CHUNK = 5000;

/**
 * Inserts a batch in multi-row statements inside the caller's transaction. Equal active tasks (same
 * identity, already stored or earlier in the batch) are not inserted; the existing task is returned.
 */
export async function insertTasks(c: pg.PoolClient, tasks: readonly NewTask[], at: Date, prior?: Map<string, number>): Promise<CreatedTask[]> {
  if (!prior && tasks.some(hasFlowControl)) return insertWithFlowControl(c, tasks, at);
  const out = await insertPlain(c, tasks, at, prior);
  await writeFirstDues(c, tasks, out);
  return out;
}

const hasFlowControl = (t: NewTask) => t.unique !== undefined || t.debounce !== undefined;

/**
 * A batch with `unique` or debounced creates: those are taken one at a time, each under a
 * transaction-scoped advisory lock on its key (concurrent creates of one key queue), so a later one
 * sees an earlier one of the same batch; the others are inserted together, a run of them at a time.
 * Every key's lock is taken first, in key order, so two batches sharing keys never each wait for the
 * other's; then the tasks go in the batch's order, so the ids of those created follow it, as a plain
 * batch's do (docs/postgres.md, creates).
 */
async function insertWithFlowControl(c: pg.PoolClient, tasks: readonly NewTask[], at: Date): Promise<CreatedTask[]> {
  const out = new Array<CreatedTask>(tasks.length);
  const lockKey = (t: NewTask) => t.unique?.key ?? t.debounce!.key;
  for (const key of [...new Set(tasks.filter(hasFlowControl).map(lockKey))].sort()) {
    await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
  }
  // Tasks this batch created, by identity: an equal one later in the batch that returns on conflict
  // gets it without an insert (which would use up a sequence id), as in insertPlain.
  const createdHere = new Map<string, Task>();
  let plain: number[] = [];
  const insertPlainRun = async () => {
    if (plain.length === 0) return;
    const run = plain;
    plain = [];
    const rest = await insertTasks(c, run.map((i) => tasks[i]!), at);
    run.forEach((i, k) => (out[i] = rest[k]!));
  };
  for (let i = 0; i < tasks.length; i++) {
    const t = tasks[i]!;
    if (!hasFlowControl(t)) {
      plain.push(i);
      continue;
    }
    await insertPlainRun();
    const matched = await flowControlMatch(c, t, at);
    if (matched !== null) {
      out[i] = matched;
      continue;
    }
    const holder = createdHere.get(t.dedupeKey);
    if (holder && (t.onConflict ?? 'return') === 'return' && (t.key ?? null) === null) {
      out[i] = { task: holder, created: false };
      continue;
    }
    const [created] = await insertTasks(c, [{ ...t, unique: undefined, debounce: undefined }], at);
    if (created!.created) {
      await c.query('UPDATE tasks SET unique_key = $2, debounce_key = $3 WHERE id = $1', [created!.task.id, t.unique?.key ?? null, t.debounce?.key ?? null]);
      createdHere.set(t.dedupeKey, created!.task);
    }
    out[i] = created!;
  }
  await insertPlainRun();
  return out;
}

/** The task a `unique` or debounced create matches (core/flow-control.ts), updated for a debounce; null: none. */
async function flowControlMatch(c: pg.PoolClient, t: NewTask, at: Date): Promise<CreatedTask | null> {
  if (t.unique !== undefined) {
    const { rows } = await c.query<Row>('SELECT * FROM tasks WHERE unique_key = $1 AND unique_key IS NOT NULL AND created <= $2 ORDER BY created DESC, id DESC LIMIT 1', [t.unique.key, uniqueLookupBound(t.unique, at)]);
    const found = rows[0] ? taskFromRow(rows[0]) : null;
    return found && withinUniqueWindow(found.created, at, t.unique.forMs, t.unique.clocked) ? { task: found, created: false } : null;
  }
  const { rows } = await c.query<Row>(
    `SELECT * FROM tasks WHERE debounce_key = $1 AND debounce_key IS NOT NULL AND status = 'next_run_not_scheduled' ORDER BY next_run DESC, id DESC LIMIT 1 FOR UPDATE`,
    [t.debounce!.key],
  );
  const plan = planDebounce(rows[0] ? taskFromRow(rows[0]) : null, at, replacementOf(t));
  if (plan.action === 'create') return null;
  const u = plan.update;
  const { rows: updated } = await c.query<Row>(
    `UPDATE tasks SET arguments = $2::jsonb, next_run = $3, scheduled_for = NULL, priority = $4, priority_rank = $5, concurrency_key = $6 WHERE id = $1 RETURNING *`,
    [rows[0]!.id, JSON.stringify(u.arguments), u.nextRun, u.priority, u.priorityRank, u.concurrencyKey],
  );
  return { task: taskFromRow(updated[0]!), created: false, replaced: true };
}

/** Created cron and rrule tasks whose jitter moves their first occurrence: written now that they have their ids. */
async function writeFirstDues(c: pg.PoolClient, tasks: readonly NewTask[], out: CreatedTask[]): Promise<void> {
  const ids: number[] = [];
  const dues: Date[] = [];
  const served: Date[] = [];
  for (let i = 0; i < out.length; i++) {
    const o = out[i]!;
    if (!o.created) continue;
    const due = firstDueOfNew(tasks[i]!, o.task.id);
    if (due === null) continue;
    o.task = { ...o.task, nextRun: due };
    ids.push(o.task.id);
    dues.push(due);
    served.push(o.task.scheduledFor);
  }
  if (ids.length > 0) {
    await c.query('UPDATE tasks t SET next_run = x.d, scheduled_for = x.s FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[]) AS x(id, d, s) WHERE t.id = x.id', [ids, dues, served]);
  }
}

async function insertPlain(c: pg.PoolClient, tasks: readonly NewTask[], at: Date, prior?: Map<string, number>): Promise<CreatedTask[]> {
  const n = tasks.length;
  const firstIndex = new Map<string, number>();
  for (let i = 0; i < n; i++) if (!firstIndex.has(tasks[i]!.dedupeKey)) firstIndex.set(tasks[i]!.dedupeKey, i);
  const out = new Array<CreatedTask>(n);
  const inserted = prior ?? new Map<string, number>();
  // `prior`: the batch was already tried (insertAtOnce); what it did not insert is looked up below.
  if (!prior) {
    const distinct = firstIndex.size === n ? tasks : [...firstIndex.values()].map((i) => tasks[i]!);
    // The results of inserted tasks are built as their ids arrive, while the next chunk runs.
    await insertChunks(c, distinct, at, (id, key) => {
      inserted.set(key, id);
      const i = firstIndex.get(key)!;
      out[i] = { task: taskFromNew(tasks[i]!, id, at), created: true };
    });
  }
  const existing = new Map<string, Row>();
  // An equal task found at insert time may complete before the lookup: then insert ours after all.
  for (let round = 0; inserted.size < firstIndex.size; round++) {
    const missing = [...firstIndex.keys()].filter((k) => !inserted.has(k) && !existing.has(k));
    if (missing.length === 0) break;
    const { rows } = await c.query<Row>('SELECT * FROM tasks WHERE dedupe_key = ANY($1)', [missing]);
    for (const r of rows) existing.set(r.dedupe_key as string, r);
    const vanished = missing.filter((k) => !existing.has(k));
    if (vanished.length === 0) break;
    if (round === 3) throw new ConflictError('equal tasks kept completing during creation; try again', [{ path: 'key', message: 'identity busy' }]);
    await insertChunks(c, vanished.map((k) => tasks[firstIndex.get(k)!]!), at, (id, key) => inserted.set(key, id));
  }
  const conflicts: number[] = [];
  for (let i = 0; i < n; i++) {
    if (out[i] !== undefined) continue;
    const t = tasks[i]!;
    const id = inserted.get(t.dedupeKey);
    if (id !== undefined && firstIndex.get(t.dedupeKey) === i) out[i] = { task: taskFromNew(t, id, at), created: true };
    else if ((t.onConflict ?? 'return') === 'return' && (t.key ?? null) === null) {
      // Same definition: the holder as inserted earlier in this batch, or as found.
      out[i] = id !== undefined ? { task: taskFromNew(tasks[firstIndex.get(t.dedupeKey)!]!, id, at), created: false } : { task: taskFromRow(existing.get(t.dedupeKey)!), created: false };
    } else conflicts.push(i);
  }
  // Their holders are locked in identity order, as their rows were inserted (keyOrdered).
  for (const i of inKeyOrder(tasks, conflicts)) out[i] = await resolveConflict(c, tasks[i]!, at);
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
  if (tasks.length === 0 || tasks.length > CHUNK || !tasks.every(isPlain)) return null;
  // Each identity once: a duplicate within the batch, left to ON CONFLICT, would still take an id from
  // the sequence (guide.md: a batch whose duplicates are within itself uses none).
  const firstIndex = new Map<string, number>();
  tasks.forEach((t, i) => firstIndex.has(t.dedupeKey) || firstIndex.set(t.dedupeKey, i));
  const distinct = firstIndex.size === tasks.length ? tasks : [...firstIndex.values()].map((i) => tasks[i]!);
  const inserted = new Map<string, number>();
  const ordered = await keyOrdered(pool, distinct);
  record((await pool.query(chunkInsert(ordered.tasks, at, notify, ordered.ids))).rows as Array<[number, string]>, (id, key) => inserted.set(key, id));
  if (inserted.size !== distinct.length) return inserted;
  // A later equal task of the batch is answered with the earlier one, as insertPlain answers it.
  return tasks.map((t, i) => {
    const first = firstIndex.get(t.dedupeKey)!;
    return { task: taskFromNew(tasks[first]!, inserted.get(t.dedupeKey)!, at), created: first === i };
  });
}

/**
 * A task whose create is one insert and, when an equal active task holds its identity, one lookup of
 * that task: no `key`, returned (not replaced) on conflict, no `unique` or debounce, no jittered first
 * run. Batches of such tasks may be written with their statements queued behind one another.
 */
export const isPlain = (t: NewTask): boolean => (t.onConflict ?? 'return') === 'return' && (t.key ?? null) === null && !hasFlowControl(t) && !jitteredFirst(t);

/** A task whose identity is held by an active task (stored, or inserted earlier in this batch): what its onConflict asks for. */
async function resolveConflict(c: pg.PoolClient, t: NewTask, at: Date): Promise<CreatedTask> {
  let row: Row | undefined;
  // Only a replacement writes the task it finds, so only it locks it: a stream of keyed creates that
  // return (or refuse) would otherwise hold the row most of the time, and the claims, which skip
  // locked tasks, would seldom take it.
  const lock = (t.onConflict ?? 'return') === 'replace' ? ' FOR UPDATE' : '';
  for (let round = 0; row === undefined; round++) {
    ({ rows: [row] } = await c.query<Row>(`SELECT t.* FROM tasks t WHERE t.dedupe_key = $1${lock}`, [t.dedupeKey]));
    if (row !== undefined) break;
    // The holder finished after it was found (a finished task does not hold its identity): the task is created after all.
    let id: number | undefined;
    await insertChunks(c, [t], at, (i) => (id = i));
    if (id !== undefined) return { task: taskFromNew(t, id, at), created: true };
    if (round === 3) throw new ConflictError('equal tasks kept finishing and starting during creation; try again', [{ path: 'key', message: 'identity busy' }]);
  }
  // The run's status is read by a statement of its own once the task's lock is held: had it been
  // joined into the locking read, a wait for that lock (a runner scheduling the task meanwhile) would
  // give the task's new row with the run side as it was before (PostgreSQL's re-check of a locked row
  // under READ COMMITTED does not read the joined table again): a queued run taken for none, a
  // replace answered as `return`.
  const holder = taskFromRow(row);
  const runStatus =
    lock === '' || row.current_run === null ? null : ((await c.query<{ status: RunStatus }>(`SELECT status FROM task_runs WHERE id = $1`, [row.current_run])).rows[0]?.status ?? null);
  const plan = planConflict(holder, runStatus, t.onConflict ?? 'return', replacementFor(holder, t, at));
  if (plan.action === 'return') return { task: holder, created: false };
  const withdrawn = plan.withdrawRun
    ? (await c.query<Row>(
        `UPDATE task_runs SET status = $4, ended = $2, error = $3 WHERE id = $1 AND status = 'scheduled' RETURNING *`,
        [row.current_run, at, REPLACED_ERROR, WITHDRAWN_STATUS],
      )).rows[0]
    : undefined;
  // The run was read without a lock: a worker may have claimed it meanwhile. The withdrawal re-checks
  // its status under the row's lock; a run a worker took is left to it and the task returned
  // unchanged, as planConflict says of a held run.
  if (plan.withdrawRun && withdrawn === undefined && row.current_run !== null) return { task: holder, created: false };
  const u = plan.update;
  const { rows: updated } = await c.query<Row>(
    `UPDATE tasks SET arguments = $2::jsonb, next_run = $3, scheduled_for = $7, priority = $4, priority_rank = $5, concurrency_key = $6,
       status = 'next_run_not_scheduled', current_run = NULL WHERE id = $1 RETURNING *`,
    [holder.id, JSON.stringify(u.arguments), u.nextRun, u.priority, u.priorityRank, u.concurrencyKey, scheduledForColumn(u) === null ? null : u.scheduledFor],
  );
  return { task: taskFromRow(updated[0]!), created: false, replaced: true, ...(withdrawn ? { withdrawn: runFromRow(withdrawn) } : {}) };
}

/**
 * Inserts tasks of distinct identities in chunk statements, one running and the next already queued
 * behind it: the driver sends a queued statement as soon as the previous one completes, so the server
 * does not wait while this process encodes the next chunk or reads the ids of the last one. `onRow`
 * gets each inserted task's id and identity.
 */
async function insertChunks(c: pg.PoolClient, given: readonly NewTask[], at: Date, onRow: (id: number, key: string) => void): Promise<void> {
  const { tasks, ids } = await keyOrdered(c, given);
  const running: Array<Promise<void>> = [];
  try {
    for (let i = 0; i < tasks.length; i += CHUNK) {
      const whole = i === 0 && tasks.length <= CHUNK;
      const q = chunkInsert(whole ? tasks : tasks.slice(i, i + CHUNK), at, undefined, ids && (whole ? ids : ids.slice(i, i + CHUNK)));
      running.push(c.query(q).then((r) => record(r.rows as Array<[number, string]>, onRow)));
      if (running.length > 1) await running.shift();
    }
    while (running.length > 0) await running.shift();
  } catch (e) {
    await Promise.allSettled(running); // the statements queued behind a failed one fail too (aborted transaction)
    throw e;
  }
}

/**
 * Tasks of distinct identities in the order their rows are written: by identity (`dedupe_key`), with
 * their ids drawn first in the order given. Two batches that share identities then wait for each
 * other's rows in one order, never each for the other (a deadlock on PostgreSQL: concurrent imports of
 * the same keys in reverse order failed), and ids still follow the batch's order, as a listing by id
 * shows it. A single task keeps the sequence's next id (one statement).
 */
async function keyOrdered(q: pg.Pool | pg.PoolClient, tasks: readonly NewTask[]): Promise<{ tasks: readonly NewTask[]; ids?: string[] }> {
  if (tasks.length < 2) return { tasks };
  // The ids as one array's text (`{7,8,9}`): one value to read, not a row per task.
  const { rows } = await q.query<[string]>({ text: `SELECT array_agg(nextval('tasks_id_seq') ORDER BY g)::text FROM generate_series(1, $1::int) AS g`, values: [tasks.length], rowMode: 'array' });
  const drawn = rows[0]![0].slice(1, -1).split(',');
  const order = inKeyOrder(tasks, tasks.map((_, i) => i));
  return { tasks: order.map((i) => tasks[i]!), ids: order.map((i) => drawn[i]!) };
}

/** Indices in the order of their tasks' identities (input order among equal ones): the order rows are locked in. */
function inKeyOrder(tasks: readonly NewTask[], indices: readonly number[]): number[] {
  const keys = tasks.map((t) => t.dedupeKey);
  return [...indices].sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
}

function record(rows: ReadonlyArray<[number, string]>, onRow: (id: number, key: string) => void): void {
  for (const [id, key] of rows) onRow(Number(id), key);
}
