import type pg from 'pg';
import type { NewTask } from '../../core/validation.js';
import { taskFromNew, taskFromRow, type Row } from '../rows.js';
import type { CreatedTask } from '../store.js';

const CHUNK = 5000;

/**
 * Inserts a batch in multi-row statements inside the caller's transaction. Equal active tasks (same
 * identity, already stored or earlier in the batch) are not inserted; the existing task is returned.
 */
export async function insertTasks(c: pg.PoolClient, tasks: readonly NewTask[], at: Date): Promise<CreatedTask[]> {
  const inserted = new Map<string, number>();
  for (let i = 0; i < tasks.length; i += CHUNK) await insertChunk(c, tasks.slice(i, i + CHUNK), at, inserted);
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
  return tasks.map((t) => {
    const id = inserted.get(t.dedupeKey);
    if (id !== undefined) {
      const created = !firstSeen.has(t.dedupeKey);
      firstSeen.add(t.dedupeKey);
      return { task: taskFromNew(t, id, at), created };
    }
    return { task: taskFromRow(existing.get(t.dedupeKey)!), created: false };
  });
}

async function insertChunk(c: pg.PoolClient, chunk: readonly NewTask[], at: Date, inserted: Map<string, number>): Promise<void> {
  if (chunk.length === 0) return;
  const { rows } = await c.query<{ id: number; dedupe_key: string }>(
      `INSERT INTO tasks (type, arguments, policy, schedule, next_run, current_interval_ms, status, retries_left, priority,
       priority_rank, identity_key, dedupe_key, created)
     SELECT type, arguments, policy, schedule, next_run, interval, 'next_run_not_scheduled', retries, priority, rank, key, key, $11
     FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::jsonb[], $5::timestamptz[], $6::bigint[], $7::int[], $8::text[],
                 $9::smallint[], $10::text[])
       AS x(type, arguments, policy, schedule, next_run, interval, retries, priority, rank, key)
     ON CONFLICT (dedupe_key) DO NOTHING
     RETURNING id, dedupe_key`,
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
    ],
    );
  for (const r of rows) inserted.set(r.dedupe_key, Number(r.id));
}
