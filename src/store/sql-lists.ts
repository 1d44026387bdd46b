import { FINISHED_TASK_STATUSES, RUN_STATUSES, isFinalRunStatus } from '../core/model.js';

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

/** The run statuses that are not final (waiting, claimed, started) as an SQL list: `status NOT IN (...)` is a finished run. */
export const UNFINISHED_RUN_STATUSES_SQL = sqlStrings(RUN_STATUSES.filter((s) => !isFinalRunStatus(s)));
