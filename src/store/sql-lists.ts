import { FINISHED_TASK_STATUSES, HELD_RUN_STATUSES, RUN_STATUSES, isFinalRunStatus } from '../core/model.js';
import { LATEST_INSTANT_MS } from '../core/instants.js';

/** A list of SQL string literals for `IN (...)`, from a core list of names (no quote in any of them). */
export function sqlStrings(values: readonly string[]): string {
  return values
    .map((v) => {
      if (v.includes("'")) throw new Error(`sqlStrings: ${v} is not a plain name`);
      return `'${v}'`;
    })
    .join(', ');
}

/** The finished task statuses (core FINISHED_TASK_STATUSES) as an SQL list, the same on both stores. */
export const FINISHED_TASK_STATUSES_SQL = sqlStrings(FINISHED_TASK_STATUSES);

/** The statuses of a run a worker holds (claimed, started: core HELD_RUN_STATUSES) as an SQL list. */
export const HELD_RUN_STATUSES_SQL = sqlStrings(HELD_RUN_STATUSES);

/**
 * The condition on a visit in flight (`v`) whose task is finished (or gone) and whose last run is not
 * held by a worker any more: a task disabled while its visit runs is collected once that run ends,
 * with its result (it was collected at once, and the result, recorded later, was lost).
 */
export const COLLECTABLE_VISIT_SQL = `(t.id IS NULL OR t.status IN (${FINISHED_TASK_STATUSES_SQL}))
  AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.task = v.task_id AND r.status IN (${HELD_RUN_STATUSES_SQL}))`;

/** The run statuses that are not final (waiting, claimed, started) as an SQL list: `status NOT IN (...)` is a finished run. */
export const UNFINISHED_RUN_STATUSES_SQL = sqlStrings(RUN_STATUSES.filter((s) => !isFinalRunStatus(s)));

/**
 * A lease computed in SQL (an instant plus the type's lease), held at the latest instant a `Date`
 * holds (core LATEST_INSTANT_MS, as core `later` holds one computed in TypeScript): past it the run
 * read back with an invalid lease. SQLite keeps instants as epoch milliseconds.
 */
export const heldLeaseSqlite = (expr: string) => `min(${expr}, ${LATEST_INSTANT_MS})`;

/** As heldLeaseSqlite, on PostgreSQL's timestamptz. */
export const heldLeasePg = (expr: string) => `least(${expr}, to_timestamp(${LATEST_INSTANT_MS / 1000}))`;

/** SQLite: the runs of a type waiting in its queue (status `scheduled`), what its `maxQueueLength` counts (core queueSlots). */
export const QUEUED_OF_TYPE_SQLITE = `SELECT count(*) AS n FROM task_runs WHERE type = ? AND status = 'scheduled'`;
