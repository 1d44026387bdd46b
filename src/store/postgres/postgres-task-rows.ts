import type pg from 'pg';
import type { NewTask } from '../../core/validation.js';
import { arrayLiteral, instantText, type Cell } from './postgres-literals.js';

/**
 * One multi-row `INSERT INTO tasks ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING id,
 * dedupe_key` for a chunk of tasks, with its parameters already encoded as text: a column whose value
 * is the same in every row of the chunk (type, policy, nextRun ... in a typical batch) is one scalar
 * parameter, the others are array literals built here. So the server parses little more than the
 * arguments and keys, and the driver has nothing left to encode when it sends a queued chunk.
 */

/** Columns sent once when the chunk agrees on them, else as an array; `value` is compared with ===. */
const SHARED: ReadonlyArray<{ col: string; type: string; value: (t: NewTask) => Cell }> = [
  { col: 'type', type: 'text', value: (t) => t.type },
  { col: 'policy', type: 'text', value: (t) => t.policy },
  { col: 'schedule', type: 'jsonb', value: (t) => scheduleJson(t.schedule) },
  { col: 'next_run', type: 'timestamptz', value: (t) => t.nextRun.getTime() },
  { col: 'current_interval_ms', type: 'bigint', value: (t) => t.currentIntervalMs },
  { col: 'retries_left', type: 'int', value: (t) => t.retriesLeft },
  { col: 'priority', type: 'text', value: (t) => t.priority },
  { col: 'priority_rank', type: 'smallint', value: (t) => t.priorityRank },
  { col: 'task_key', type: 'text', value: (t) => t.key ?? null },
  { col: 'concurrency_key', type: 'text', value: (t) => t.concurrencyKey ?? null },
  { col: 'trace_context', type: 'text', value: (t) => t.traceContext ?? null },
];
const NEXT_RUN = SHARED.findIndex((c) => c.col === 'next_run');
/** $1 arguments, $2 dedupe keys, $3 created, then one parameter per SHARED column, then the NOTIFY channel, then the ids. */
const FIRST_SHARED = 4;
const CHANNEL = FIRST_SHARED + SHARED.length;

/**
 * The statement for a chunk (at least one task), rows as arrays `[id, dedupe_key]`. `notify`: it also
 * sends the wake-up on that LISTEN channel when it inserts anything (it leaves with the commit).
 * `ids`: the tasks' ids, given (postgres-tasks.ts keyOrdered), instead of the sequence's next ones.
 */
export function chunkInsert(chunk: readonly NewTask[], at: Date, notify?: string, ids?: readonly string[]): pg.QueryArrayConfig {
  const n = chunk.length;
  const args = new Array<string>(n);
  const keys = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const t = chunk[i]!;
    args[i] = JSON.stringify(t.arguments);
    keys[i] = t.dedupeKey;
  }
  const values: unknown[] = [arrayLiteral(args), arrayLiteral(keys), at];
  let varying = 0;
  for (let j = 0; j < SHARED.length; j++) {
    const get = SHARED[j]!.value;
    const first = get(chunk[0]!);
    let i = 1;
    while (i < n && get(chunk[i]!) === first) i++;
    const encode = j === NEXT_RUN ? (v: Cell) => instantText(v as number) : (v: Cell) => v;
    if (i === n) values.push(encode(first));
    else {
      const column = new Array<Cell>(n);
      for (let k = 0; k < n; k++) column[k] = encode(get(chunk[k]!));
      values.push(arrayLiteral(column));
      varying |= 1 << j;
    }
  }
  if (notify !== undefined) values.push(notify);
  if (ids !== undefined) values.push(arrayLiteral(ids as Cell[]));
  const id = varying * 4 + (ids !== undefined ? 2 : 0) + (notify !== undefined ? 1 : 0);
  return { ...(varying === 0 && ids === undefined ? { name: `orrery_insert_${id}` } : {}), text: statement(id), values, rowMode: 'array' };
}

const statements = new Map<number, string>();

/**
 * The statement for one set of varying columns (`id`: a bit per SHARED column, shifted left twice,
 * plus 2 with the ids given, plus 1 with NOTIFY). Where every column is shared (`id` 0 and 1, any create of one task) it runs
 * as a named prepared statement (`orrery_insert_<id>`): a lone create, an idle worker's next task,
 * would otherwise be parsed and planned on every call, about a quarter of a millisecond of its
 * round trip. Its generic plan needs no statistics (rows from `unnest`, conflicts found through
 * `tasks_dedupe`), so it is never prepared again. Only those two are named, so a connection never
 * holds more; a chunk with varying columns shares its planning between its rows.
 */
function statement(id: number): string {
  let sql = statements.get(id);
  if (sql !== undefined) return sql;
  const varying = id >> 2;
  const notify = (id & 1) === 1;
  const givenIds = (id & 2) === 2;
  const columns = ['arguments', 'identity_key', 'dedupe_key', 'status', 'created'];
  const values = ['x.a', 'x.k', 'x.k', `'next_run_not_scheduled'`, '$3::timestamptz'];
  const from = ['$1::jsonb[]', '$2::text[]'];
  const names = ['a', 'k'];
  SHARED.forEach((c, j) => {
    const p = `$${FIRST_SHARED + j}`;
    columns.push(c.col);
    if ((varying & (1 << j)) === 0) values.push(`${p}::${c.type}`);
    else {
      values.push(`x.c${j}`);
      from.push(`${p}::${c.type}[]`);
      names.push(`c${j}`);
    }
  });
  if (givenIds) {
    columns.unshift('id');
    values.unshift('x.i');
    from.push(`$${notify ? CHANNEL + 1 : CHANNEL}::bigint[]`);
    names.push('i');
  }
  // The index predicate in the conflict target matches tasks_dedupe whether it is whole or partial.
  const insert = `INSERT INTO tasks (${columns.join(', ')})
     SELECT ${values.join(', ')}
     FROM unnest(${from.join(', ')}) AS x(${names.join(', ')})
     ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
     RETURNING id, dedupe_key`;
  sql = notify ? `WITH ins AS (${insert}) SELECT id, dedupe_key FROM ins CROSS JOIN (SELECT pg_notify($${CHANNEL}, 'tasks')) AS n` : insert;
  statements.set(id, sql);
  return sql;
}

const ADAPTIVE_JSON = JSON.stringify({ kind: 'adaptive' });
const scheduleJson = (s: NewTask['schedule']) => (s.kind === 'adaptive' ? ADAPTIVE_JSON : JSON.stringify(s));
