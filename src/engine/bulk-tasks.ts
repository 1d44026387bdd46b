import { BULK_BATCH, addBatch, type BulkAction, type BulkResult, type BulkSelectionInput } from '../core/bulk.js';
import { encodeRunCursor, runSearch, type RunSearchInput } from '../core/run-search.js';
import { taskPage, type TaskSearchPage, type TaskSearch, type TaskSearchInput } from '../core/task-search.js';
import type { Task, TaskRun } from '../core/model.js';
import type { EndRunResult, Store } from '../store/store.js';
// Lets timers and I/O run between batches: a large selection never holds the event loop.
import { nextTurn } from './task-import.js';

export type { BulkSelectionInput };

/** Progress of a bulk action after each batch. */
export type BulkProgress = BulkResult;

export interface BulkOptions {
  /** Count the tasks the action would take, and change nothing. */
  dryRun?: boolean;
  /** respawn and redrive: when the tasks are due (default `at`). */
  nextRun?: Date;
  at: Date;
  /** Called after each batch with the running totals. */
  onProgress?: (p: BulkProgress) => void;
  /** Called with the runs a cancel ended (the service's run events). */
  onEnded?: (ended: EndRunResult[]) => void;
  /** Called with the waiting runs a disable ended (the service's run events). */
  onWithdrawn?: (runs: TaskRun[]) => void;
}


/**
 * Runs a bulk action: reads the selection in keyset batches of BULK_BATCH tasks and writes each batch
 * in one transaction (one store call), the event loop running between batches. A dry run reads the
 * same batches and writes nothing. Tasks that changed since they were read are skipped with a reason.
 */
export async function runBulk(store: Store, action: BulkAction, search: TaskSearch, runs: RunSearchInput | null, opts: BulkOptions): Promise<BulkResult> {
  const result: BulkResult = { action, dryRun: opts.dryRun === true, matched: 0, changed: 0, skipped: {}, batches: 0 };
  for await (const ids of batches(store, search, runs)) {
    result.matched += ids.length;
    if (opts.dryRun) result.batches += 1;
    else {
      const out = await store.bulkTasks({ action, ids, at: opts.at, nextRun: opts.nextRun ?? opts.at });
      addBatch(result, out);
      if (out.ended.length > 0) opts.onEnded?.(out.ended);
      if (out.withdrawn.length > 0) opts.onWithdrawn?.(out.withdrawn);
    }
    opts.onProgress?.({ ...result, skipped: { ...result.skipped } });
    await nextTurn();
  }
  return result;
}

/** The selection's task ids, BULK_BATCH at most at a time, in id order (runs: in the run search's order, each task once). */
async function* batches(store: Store, search: TaskSearch, runs: RunSearchInput | null): AsyncGenerator<number[]> {
  if (runs !== null) {
    const seen = new Set<number>();
    let cursor: string | undefined;
    do {
      const s = runSearch({ ...runs, limit: BULK_BATCH, ...(cursor !== undefined ? { cursor } : {}) });
      const page = await store.searchRuns(s);
      const fresh = [...new Set(page.map((r) => r.task))].filter((t) => !seen.has(t));
      for (const t of fresh) seen.add(t);
      if (fresh.length > 0) {
        const tasks = await store.findTasks({ ...search, ids: fresh.sort((a, b) => a - b), afterId: null });
        if (tasks.tasks.length > 0) yield tasks.tasks.map((t) => t.id);
      }
      cursor = page.length === s.limit ? encodeRunCursor(page[page.length - 1]!, s.by) : undefined;
      if (cursor !== undefined) await nextTurn();
    } while (cursor !== undefined);
    return;
  }
  let afterId: number | null = null;
  for (;;) {
    const page: TaskSearchPage<Task> = taskPage(search, await store.findTasks({ ...search, afterId }));
    if (page.tasks.length > 0) yield page.tasks.map((t) => t.id);
    if (page.nextCursor === null) return;
    afterId = Number(page.nextCursor);
    if (page.tasks.length === 0) await nextTurn();
  }
}
