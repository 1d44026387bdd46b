import { BULK_ACTIONS, BULK_BATCH, addBatch, bulkSelection, type BulkAction, type BulkResult, type BulkSelectionInput } from '../core/bulk.js';
import { invalid, shown } from '../core/errors.js';
import { refuseUnknownKeys } from '../core/options.js';
import { runSearch, encodeRunCursor, type RunSearchInput } from '../core/run-search.js';
import { MAX_SEARCH_IDS, searchPath, taskPage, taskSearch, type TaskSearchPage, type TaskSearch, type TaskSearchInput } from '../core/task-search.js';
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


/** Validates an action and a selection (a ValidationError naming the field), before anything is read. */
export function checkBulk(action: string, sel: BulkSelectionInput): { action: BulkAction; search: TaskSearch; runs: RunSearchInput | null } {
  if (!(BULK_ACTIONS as readonly string[]).includes(action)) throw invalid('action', `"${shown(action)}" is not a bulk action (one of ${BULK_ACTIONS.join(', ')})`);
  if (sel === null || typeof sel !== 'object') throw invalid('', 'a selection is required: filter, ids, runs or all');
  refuseUnknownKeys(sel, ['filter', 'ids', 'runs', 'all'], '');
  const given = (['filter', 'ids', 'runs', 'all'] as const).filter((k) => sel[k] !== undefined && sel[k] !== false);
  if (given.length === 0) throw invalid('filter', 'choose the tasks: a filter, ids, runs, or all: true for every task');
  if (given.length > 1) throw invalid(given[1]!, `choose the tasks one way only (${given.join(' and ')} given)`);
  if (sel.all !== undefined && typeof sel.all !== 'boolean') throw invalid('all', 'must be true or false');
  const a = action as BulkAction;
  if (sel.filter !== undefined) {
    if (sel.filter === null || typeof sel.filter !== 'object' || Array.isArray(sel.filter)) throw invalid('filter', 'must be an object of task filters');
    for (const k of ['limit', 'cursor', 'ids'] as const) if (k in sel.filter) throw invalid(`filter.${k}`, 'not a filter of a bulk action');
    const search = prefixed('filter', () => taskSearch({ ...sel.filter, limit: BULK_BATCH }));
    const probe = searchPath(search);
    if (probe.index === 'id' && !probe.bounded) throw invalid('filter', 'is empty: give at least one filter, or all: true for every task');
    return { action: a, search: bulkSelection(a, search), runs: null };
  }
  if (sel.ids !== undefined) {
    if (!Array.isArray(sel.ids) || sel.ids.length > MAX_SEARCH_IDS) throw invalid('ids', `must be a list of 1 to ${MAX_SEARCH_IDS} task ids`);
    return { action: a, search: bulkSelection(a, taskSearch({ ids: sel.ids, limit: BULK_BATCH })), runs: null };
  }
  if (sel.runs !== undefined) {
    if (sel.runs === null || typeof sel.runs !== 'object' || Array.isArray(sel.runs)) throw invalid('runs', 'must be an object of run filters');
    for (const k of ['limit', 'cursor'] as const) if (k in sel.runs) throw invalid(`runs.${k}`, 'not a filter of a bulk action');
    const r = prefixed('runs', () => runSearch({ ...sel.runs, limit: BULK_BATCH }));
    // Like an empty filter: `{}` (or `status: ""`) would take every task that ever ran.
    if (r.statuses === null && r.type === null && r.worker === null && r.since === null && r.until === null) {
      throw invalid('runs', 'is empty: give at least one run filter (status, type, worker, since, until), or all: true for every task');
    }
    return { action: a, search: bulkSelection(a, taskSearch({ limit: BULK_BATCH })), runs: sel.runs };
  }
  return { action: a, search: bulkSelection(a, taskSearch({ limit: BULK_BATCH })), runs: null };
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

function prefixed<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const err = e as { details?: Array<{ path: string; message: string }>; message: string };
    if (!err.details) throw e;
    const inner = err.details[0]?.path ?? '';
    const path = inner ? `${prefix}.${inner}` : prefix;
    throw invalid(path, err.details[0]?.message ?? err.message);
  }
}
