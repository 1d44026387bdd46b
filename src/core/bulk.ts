import { dagAttemptRespawnRefusal } from './dag.js';
import type { DisabledReason, Task, TaskStatus } from './model.js';
import { invalid, shown } from './errors.js';
import { refuseUnknownKeys } from './options.js';
import { runSearch, type RunSearchInput } from './run-search.js';
import { MAX_SEARCH_IDS, searchPath, taskSearch, type TaskSearch, type TaskSearchInput } from './task-search.js';

/**
 * Bulk actions on tasks chosen by a filter (docs/operations.md#bulk-actions): each does what the
 * single-task action does, to every task of the selection, in batches.
 *
 * - `respawn` (the dashboard's "retry"): re-enable disabled or completed tasks, or move a waiting
 *   task's next run, due at `nextRun` (default now), retries refilled (`orrery task respawn`).
 * - `redrive`: respawn the dead-letter bin: tasks disabled by failure (`dead_letter`,
 *   `retries_exhausted`, `permfailed`), DAG attempts aside.
 * - `disable`: disable tasks (reason `manual`); waiting runs are cancelled, a started run is asked to stop
 *   (`orrery task disable`).
 * - `cancel`: cancel the current run of tasks that have one (`orrery run cancel`): a waiting run ends
 *   `failed` (cancelled) at once, a started one is asked to stop; the task skips that run.
 * - `delete`: delete tasks with their finished runs and logs; tasks with a run waiting or running, and
 *   DAG attempts, are left alone.
 */
export const BULK_ACTIONS = ['respawn', 'redrive', 'disable', 'cancel', 'delete'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/**
 * Which tasks a bulk action takes: exactly one of
 * - `filter`: the tasks a task search finds (its filters, no cursor or limit);
 * - `ids`: these tasks (at most 10,000);
 * - `runs`: the tasks of the runs a run search finds (`orrery run list` filters: the Runs page's "retry");
 * - `all: true`: every task (an empty filter is refused, so that no action takes everything by mistake).
 * The action's own condition narrows the selection further (core/bulk.ts bulkSelection).
 */
export interface BulkSelectionInput {
  filter?: Omit<TaskSearchInput, 'limit' | 'cursor' | 'ids'>;
  ids?: readonly number[];
  runs?: Omit<RunSearchInput, 'limit' | 'cursor'>;
  all?: boolean;
}

/** Ids acted on per transaction; the event loop runs between batches. */
export const BULK_BATCH = 1000;

/** Reasons of the dead-letter bin (the dashboard's page): tasks disabled by failure. */
export const FAILURE_REASONS: readonly DisabledReason[] = ['dead_letter', 'retries_exhausted', 'permfailed'];

/**
 * Why a task of the selection was left alone:
 * - `gone`: deleted since it was selected;
 * - `active_run`: it has a run waiting or running (respawn, delete), or no longer has one (cancel:
 *   `no_run`);
 * - `already_disabled`: disable of a disabled task;
 * - `equal_active`: respawn while an equal task is active (it would be a duplicate);
 * - `dag_attempt`: a DAG attempt, which runs only within its DAG run (restart the run instead).
 */
export const BULK_SKIPS = ['gone', 'active_run', 'no_run', 'already_disabled', 'equal_active', 'dag_attempt'] as const;
export type BulkSkip = (typeof BULK_SKIPS)[number];

/**
 * Why `task` cannot be respawned now, or null (one rule for both stores, single and bulk respawns):
 * a DAG attempt belongs to its DAG run; a task with a run waiting (`next_run_scheduled`) or still
 * held by a worker (`runHeld`: claimed or started, as after a disable whose run has not stopped yet)
 * would get a second run; an equal task active (`equalActive`, its id) would be duplicated.
 */
export function respawnRefusal(task: Task, facts: { runHeld: boolean; equalActive: number | null }): BulkSkip | null {
  if (dagAttemptRespawnRefusal(task)) return 'dag_attempt';
  if (task.status === 'next_run_scheduled' || facts.runHeld) return 'active_run';
  if (facts.equalActive !== null && facts.equalActive !== task.id) return 'equal_active';
  return null;
}

/** What one batch did: the ids changed, and the ids left alone with why. */
export interface BulkBatchOutcome {
  changed: number[];
  skipped: Array<{ id: number; reason: BulkSkip }>;
}

/** What a bulk action did (or, with dryRun, would act on). */
export interface BulkResult {
  action: BulkAction;
  dryRun: boolean;
  /** Tasks the selection matched (with the action's own condition, below). */
  matched: number;
  /** Tasks the action changed (0 on a dry run). */
  changed: number;
  /** Tasks left alone, counted by reason (BulkSkip); tasks that changed between the read and the write. */
  skipped: Partial<Record<BulkSkip, number>>;
  /** Transactions written (read batches on a dry run). */
  batches: number;
}

/** The statuses an action applies to: a selection is narrowed to them, so the dry run counts what it acts on. */
const ACTION_STATUSES: Record<BulkAction, readonly TaskStatus[]> = {
  respawn: ['next_run_not_scheduled', 'completed', 'disabled'],
  redrive: ['disabled'],
  disable: ['next_run_not_scheduled', 'next_run_scheduled', 'completed'],
  cancel: ['next_run_scheduled'],
  delete: ['next_run_not_scheduled', 'completed', 'disabled'],
};

/** The selection narrowed to what the action applies to (statuses, the bin's reasons, no DAG attempts where refused). */
export function bulkSelection(action: BulkAction, s: TaskSearch): TaskSearch {
  const allowed = ACTION_STATUSES[action];
  const statuses = (s.statuses ?? [...allowed]).filter((x) => allowed.includes(x));
  const out: TaskSearch = { ...s, statuses };
  if (action === 'redrive') out.disabledReasons = (s.disabledReasons ?? [...FAILURE_REASONS]).filter((r) => FAILURE_REASONS.includes(r));
  if (action === 'respawn' || action === 'redrive' || action === 'delete') {
    // DAG attempts are refused one by one; leaving them out makes the count exact.
    out.dagAttempts = false;
    if (s.dagAttempts === true) out.statuses = [];
  }
  return out;
}

/** Adds a batch's outcome to the running result. */
export function addBatch(result: BulkResult, batch: BulkBatchOutcome): void {
  result.changed += batch.changed.length;
  for (const s of batch.skipped) result.skipped[s.reason] = (result.skipped[s.reason] ?? 0) + 1;
  result.batches += 1;
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

/** Runs `fn`, naming the field of its ValidationError under `prefix` (`filter.type`). */
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
