import { DAG_ATTEMPT_KEY } from './dag.js';
import type { TaskStatus } from './model.js';

/**
 * Wake-up channels: what a committed change tells the loops waiting on it, in this process (an event
 * hub) and in others (wake files on SQLite, LISTEN/NOTIFY on PostgreSQL).
 * - `tasks`: tasks may have become due (the runner and workers claiming due tasks look again);
 * - `runs`: runs were queued (workers claim);
 * - `claimed`: queued runs left the queue (a runner waiting for room in a bounded queue looks again);
 * - `ended`: runs ended (in-process observers only: DAG progress, waits in tests);
 * - `dags`: a DAG task's run ended (the DAG scheduler advances its DAG run);
 * - `cancel`: a cancel was requested (workers look for runs to stop);
 * - `types`: a task type was edited, paused or resumed (workers read the types again and give back
 *   the runs they hold but have not begun of a paused type).
 */
export const CHANNEL_NAMES = ['tasks', 'runs', 'claimed', 'ended', 'dags', 'cancel', 'types'] as const;
export type Channel = (typeof CHANNEL_NAMES)[number];

/** What a run's end changed, as far as wake-ups are concerned. */
export interface EndedRunChange {
  taskUpdated: boolean;
  task: { status: TaskStatus; arguments: { kwargs: Record<string, unknown> } };
}

/** A change a store committed. Each store names the change; `wakeUps` decides who is woken, once. */
export type StoreChange =
  /** Tasks were created, replaced, respawned or enabled (also by DAG runs and visit batches). */
  | { kind: 'tasks-written'; count: number }
  /** Tasks were disabled: their queued runs left the queue; `stopping` started runs must stop. */
  | { kind: 'tasks-disabled'; stopping: number }
  /** Runs were queued: by the runner, given back by a worker, or given back by the reaper. */
  | { kind: 'runs-queued'; count: number }
  /** Runs were claimed or started: `fromQueue` of them had been queued (direct claims of due tasks had not). */
  | { kind: 'runs-claimed'; fromQueue: number }
  /** A cancel was requested for running or held runs. */
  | { kind: 'cancel-requested' }
  /** The runner left due tasks of unlimited types to the workers that claim them directly. */
  | { kind: 'work-left' }
  /** DAGs were saved, triggered or restarted, or their attempts stopped (the DAG scheduler looks again). */
  | { kind: 'dags-changed' }
  /** A task type was edited, paused or resumed (`paused`: it is paused now). */
  | { kind: 'type-changed'; paused: boolean }
  /** Runs ended (by their workers, the reaper, or a cancel of a run that had not begun). */
  | { kind: 'runs-ended'; results: readonly EndedRunChange[]; leftQueue?: boolean };

/** The channels a committed change wakes, in order; empty when nobody needs to look again. */
export function wakeUps(change: StoreChange): Channel[] {
  switch (change.kind) {
    case 'tasks-written':
      return change.count > 0 ? ['tasks'] : [];
    case 'tasks-disabled':
      return change.stopping > 0 ? ['claimed', 'cancel'] : ['claimed'];
    case 'runs-queued':
      return change.count > 0 ? ['runs'] : [];
    case 'runs-claimed':
      // Only a runner waiting for free room in a bounded queue listens for claims.
      return change.fromQueue > 0 ? ['claimed'] : [];
    case 'cancel-requested':
      return ['cancel'];
    case 'work-left':
      return ['runs'];
    case 'dags-changed':
      return ['dags'];
    case 'type-changed':
      // Paused: workers give back what they hold of it. Otherwise (edited or resumed) limits and queue
      // lengths may have room again and its due tasks may be scheduled and claimed.
      return change.paused ? ['types'] : ['types', 'tasks', 'runs', 'claimed'];
    case 'runs-ended':
      return channelsAfterEnds(change.results, change.leftQueue === true);
  }
}

/**
 * After runs ended: runners are woken only when a task must be scheduled again (not for completions),
 * the DAG scheduler when a DAG task's run ended, and a bounded queue's runner when an ended run left
 * the queue without having been claimed.
 */
function channelsAfterEnds(results: readonly EndedRunChange[], leftQueue: boolean): Channel[] {
  if (results.length === 0) return [];
  const due = results.some((r) => r.taskUpdated && r.task.status === 'next_run_not_scheduled');
  const out: Channel[] = due ? ['tasks', 'ended'] : ['ended'];
  if (results.some((r) => r.task.arguments.kwargs[DAG_ATTEMPT_KEY] !== undefined)) out.push('dags');
  if (leftQueue) out.push('claimed');
  return out;
}
