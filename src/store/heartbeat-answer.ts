import type { HeartbeatItem, HeartbeatRunsAnswer } from './store.js';
import type { Row } from './columns.js';

/** A worker-wide heartbeat's answer from the rows it renewed (`backend_id`, `cancel_requested`). */
export function heartbeatAnswer(items: readonly HeartbeatItem[], rows: readonly Row[]): HeartbeatRunsAnswer {
  const renewed = new Set(rows.map((r) => r.backend_id as string));
  return {
    renewed: renewed.size,
    lost: items.filter((i) => !renewed.has(i.backendId)).map((i) => i.backendId),
    cancelRequested: rows.filter((r) => r.cancel_requested === true || r.cancel_requested === 1).map((r) => r.backend_id as string),
  };
}
