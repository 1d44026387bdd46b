import type { HeartbeatItem, HeartbeatRunsAnswer } from './store.js';
import type { Row } from './columns.js';

/** A worker-wide heartbeat's answer from the rows it renewed (`backend_id`, `cancel_requested`). */
export function heartbeatAnswer(items: readonly HeartbeatItem[], rows: readonly Row[]): HeartbeatRunsAnswer {
  const renewed = new Set(rows.map((r) => r.backend_id as string));
  return {
    renewed: renewed.size,
    // Each id once, in the order sent, however many times it was sent.
    lost: [...new Set(items.map((i) => i.backendId))].filter((id) => !renewed.has(id)),
    cancelRequested: rows.filter((r) => r.cancel_requested === true || r.cancel_requested === 1).map((r) => r.backend_id as string),
  };
}
