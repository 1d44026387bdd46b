import { ValidationError, invalid, shown } from './errors.js';

/**
 * A task id (or, `what`, another row's id: a backfill's): a positive integer a JS number carries
 * exactly (the columns are 8-byte integers).
 */
export function checkId(id: number, path = 'id', what = 'task'): number {
  if (!Number.isSafeInteger(id) || id <= 0) throw invalid(path, `"${shown(id)}" is not a ${what} id`);
  return id;
}

/** A non-empty list of task ids, each named by its index when it is not one. */
export function checkIds(ids: readonly number[]): number[] {
  if (!Array.isArray(ids) || ids.length === 0) throw invalid('ids', 'at least one task id is required');
  ids.forEach((id, i) => {
    if (!Number.isSafeInteger(id) || id <= 0) throw new ValidationError(`ids[${i}]: "${shown(id)}" is not a task id`, [{ path: `ids[${i}]`, message: 'not a task id' }]);
  });
  return [...ids];
}
