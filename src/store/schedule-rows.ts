import { date, dateOrNull, ms, type Row } from './columns.js';
import type { BackfillStatus, TaskBackfill } from './schedule-store.js';

/** A task backfill from its `task_backfills` row (either dialect). */
export function backfillFromRow(r: Row): TaskBackfill {
  return {
    id: ms(r.id),
    task: ms(r.task),
    from: date(r.from_ts),
    to: date(r.to_ts),
    nextPoint: dateOrNull(r.next_point),
    total: ms(r.total),
    status: r.status as BackfillStatus,
    created: date(r.created),
    updated: date(r.updated),
  };
}
