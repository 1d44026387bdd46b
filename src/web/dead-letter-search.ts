import type { DisabledReason, Task } from '../core/model.js';
import type { OrreryClient } from '../http/client.js';

/** Tasks the dead-letter bin shows of each reason. */
export const LIMIT = 200;

/** Pages of the search that a bounded page may end early (partial) followed, at most this many per reason. */
const MAX_PAGES = 20;

/**
 * The first LIMIT tasks disabled for `reason`: a page that stopped at the search's bound of examined
 * tasks (partial: behind thousands of tasks disabled for another reason) is followed from its cursor,
 * up to MAX_PAGES pages, instead of showing the reason as empty.
 */
export async function firstOfReason(c: OrreryClient, reason: DisabledReason): Promise<{ tasks: Task[]; nextCursor: string | null }> {
  const tasks: Task[] = [];
  let page = await c.findTasks({ status: 'disabled', disabledReason: reason, dagAttempts: false, limit: LIMIT });
  tasks.push(...page.tasks);
  for (let n = 1; n < MAX_PAGES && tasks.length < LIMIT && page.partial && page.nextCursor !== null; n++) {
    page = await c.findTasks({ status: 'disabled', disabledReason: reason, dagAttempts: false, limit: LIMIT - tasks.length, cursor: page.nextCursor });
    tasks.push(...page.tasks);
  }
  return { tasks, nextCursor: page.nextCursor };
}

