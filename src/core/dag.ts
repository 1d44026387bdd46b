import { createHash } from 'node:crypto';
import { ConflictError, ValidationError, invalid } from './errors.js';

// The parsing of DAG definitions (zod) is in dag-input.ts: this module is loaded by every process.

/** DAG run statuses (SPEC §3). A run waits as `scheduled` while its DAG has too many active runs. */
export const DAG_RUN_STATUSES = ['scheduled', 'running', 'success', 'failed'] as const;
export type DagRunStatus = (typeof DAG_RUN_STATUSES)[number];

export const DAG_TASK_STATUSES = ['pending', 'scheduled', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped'] as const;
export type DagTaskStatus = (typeof DAG_TASK_STATUSES)[number];
export const FINAL_DAG_TASK_STATUSES: readonly DagTaskStatus[] = ['success', 'failed', 'upstream_failed', 'skipped'];

/**
 * Archiving holds back the jobboard task of a DAG task's current attempt, and its runs, while that DAG
 * task is in one of these statuses (not final): the DAG scheduler has not recorded the attempt's end
 * yet and reads it from that task (docs/archiving.md). Once recorded (or for an earlier attempt) it
 * goes like any other task. The stores' archive queries apply this list (store/archive-store.ts).
 */
export const DAG_TASK_STATUSES_HOLDING_ATTEMPT: readonly DagTaskStatus[] = DAG_TASK_STATUSES.filter((s) => !FINAL_DAG_TASK_STATUSES.includes(s));

/** Whether archiving holds back attempt `attempt` of a DAG task now in `task` (see the list above). */
export function archiveHoldsAttempt(task: { status: DagTaskStatus; attempt: number }, attempt: number): boolean {
  return attempt === task.attempt && DAG_TASK_STATUSES_HOLDING_ATTEMPT.includes(task.status);
}

/** How a DAG run came to be: on time, caught up after downtime, triggered by hand, or by a backfill. */
export const DAG_RUN_TRIGGERS = ['schedule', 'catch_up', 'manual', 'backfill'] as const;
export type DagRunTrigger = (typeof DAG_RUN_TRIGGERS)[number];

/** The task type DAG tasks run under unless they name another; its backend is the DAG executor. */
export const DAG_TASK_TYPE = 'orrery.dag';

/** The jobboard type a DAG task's attempts run as: its own `type`, else the DAG's default, else `orrery.dag`. */
export function dagTaskTypeOf(task: { type?: string | undefined }, defaults: { type?: string | undefined } | undefined): string {
  return task.type ?? defaults?.type ?? DAG_TASK_TYPE;
}
export const DAG_BACKEND = 'orrery.dag';
/** The kwarg of an attempt's jobboard task that says which DAG run, task and attempt it is. */
export const DAG_ATTEMPT_KEY = 'orrery.dag';
/**
 * Why kwargs given by a user (a task, an origin's extra loader arguments) are refused, or null: the
 * `orrery.dag` kwarg is the DAG scheduler's alone. A task made with one by hand, however well formed,
 * would run a DAG task's code outside any DAG run (docs/dags.md).
 */
export function reservedKwargProblem(kwargs: Readonly<Record<string, unknown>>): string | null {
  return Object.hasOwn(kwargs, DAG_ATTEMPT_KEY) ? `is reserved for the attempts the DAG scheduler makes` : null;
}

/** What an attempt's jobboard task carries (kwarg `orrery.dag`): everything its handler needs. */
export interface DagAttemptArgs {
  dag: string;
  version: string;
  run: number;
  task: string;
  attempt: number;
  /** The run's schedule point, ISO 8601. */
  execTs: string;
  params: Record<string, unknown>;
  /** Results of the task's parents, by parent id. */
  upstream: Record<string, unknown>;
  timeoutMs: number | null;
}

/**
 * Why a task cannot be respawned by hand, when it is a DAG attempt (null otherwise): an attempt belongs
 * to its DAG run's state machine, so running its code again outside the run would do the work without
 * the run knowing. The run is restarted instead (`orrery dag-run restart RUN`).
 */
export function dagAttemptRespawnRefusal(task: { id: number; arguments: { kwargs: Record<string, unknown> } }): ConflictError | null {
  const m = task.arguments.kwargs[DAG_ATTEMPT_KEY] as Partial<DagAttemptArgs> | undefined;
  if (m === undefined || m === null || typeof m !== 'object') return null;
  const what = `attempt ${String(m.attempt)} of task "${String(m.task)}" in run ${String(m.run)} of DAG "${String(m.dag)}"`;
  return new ConflictError(
    `task ${task.id} is ${what}; it runs only within its DAG run and cannot be respawned: restart the run instead (orrery dag-run restart ${String(m.run)}, or POST /api/dag-runs/${String(m.run)}/restart)`,
    [{ path: 'id', message: `task ${task.id} is a DAG attempt (run ${String(m.run)}); use dag-run restart` }],
  );
}

/** A DAG attempt's task is paused through its DAG, never on its own (ConflictError naming the way). */
export function dagAttemptPauseRefusal(task: { id: number; arguments: { kwargs: Record<string, unknown> } }): ConflictError | null {
  const m = task.arguments.kwargs[DAG_ATTEMPT_KEY] as Partial<DagAttemptArgs> | undefined;
  if (m === undefined || m === null || typeof m !== 'object') return null;
  return new ConflictError(`task ${task.id} is an attempt of task "${String(m.task)}" in run ${String(m.run)} of DAG "${String(m.dag)}"; pause the DAG instead (orrery dag pause ${String(m.dag)})`, [
    { path: 'id', message: `task ${task.id} is a DAG attempt; pause DAG "${String(m.dag)}"` },
  ]);
}
/**
 * What a DAG's new schedule point does while an earlier run is still going (docs/dags.md#overlap;
 * planned by core/dag-overlap.ts):
 * - `allow` (default): it gets a run; up to `maxActiveRuns` run at once, the others wait in order;
 * - `skip`: it is recorded skipped;
 * - `bufferOne`: it gets a run that waits for the active one, unless a run already waits (then skipped);
 * - `cancelOther`: the active runs are cancelled and it gets a run.
 * With any policy but `allow`, the DAG runs one run at a time.
 */
export const DAG_OVERLAP_POLICIES = ['skip', 'bufferOne', 'allow', 'cancelOther'] as const;
export type DagOverlap = (typeof DAG_OVERLAP_POLICIES)[number];

export type DagSchedule = { kind: 'cron'; expr: string; tz: string } | { kind: 'interval'; everyMs: number } | { kind: 'none' };

/** One task of a DAG, in normal form (what the structure hash covers). */
export interface DagTaskSpec {
  id: string;
  after: string[];
  retries: number;
  retryDelayMs: number;
  timeoutMs: number | null;
  type: string;
}

/** A validated DAG definition, without its functions. */
export interface DagSpec {
  id: string;
  description: string;
  schedule: DagSchedule;
  /** First schedule point; null: the instant the DAG is first stored. */
  start: Date | null;
  catchUp: boolean;
  maxActiveRuns: number;
  /** What a schedule point does while an earlier run is active (core/dag-overlap.ts). */
  overlap: DagOverlap;
  tasks: DagTaskSpec[];
}

/** A dependency cycle as a path that starts and ends on the same task, or null. */
export function findCycle(tasks: ReadonlyArray<{ id: string; after: readonly string[] }>): string[] | null {
  const after = new Map(tasks.map((t) => [t.id, t.after]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  // Iterative depth-first search: a 100,000-task chain must not overflow the call stack.
  for (const root of tasks.map((t) => t.id)) {
    if (state.has(root)) continue;
    const frames: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    state.set(root, 'visiting');
    stack.push(root);
    while (frames.length > 0) {
      const f = frames[frames.length - 1]!;
      const deps = after.get(f.id) ?? [];
      if (f.next < deps.length) {
        const dep = deps[f.next++]!;
        const s = state.get(dep);
        if (s === 'visiting') return [...stack.slice(stack.indexOf(dep)), dep];
        if (s === undefined && after.has(dep)) {
          state.set(dep, 'visiting');
          stack.push(dep);
          frames.push({ id: dep, next: 0 });
        }
      } else {
        state.set(f.id, 'done');
        stack.pop();
        frames.pop();
      }
    }
  }
  return null;
}

/** Tasks in an order where every task comes after its dependencies (Kahn; ties in definition order). */
export function topologicalOrder(tasks: readonly DagTaskSpec[]): DagTaskSpec[] {
  const indegree = new Map(tasks.map((t) => [t.id, t.after.length]));
  const children = childrenOf(tasks);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const ready = tasks.filter((t) => t.after.length === 0).map((t) => t.id);
  const out: DagTaskSpec[] = [];
  for (let i = 0; i < ready.length; i++) {
    const id = ready[i]!;
    out.push(byId.get(id)!);
    for (const c of children.get(id) ?? []) {
      const n = indegree.get(c)! - 1;
      indegree.set(c, n);
      if (n === 0) ready.push(c);
    }
  }
  return out;
}

export function childrenOf(tasks: readonly DagTaskSpec[]): Map<string, string[]> {
  const children = new Map<string, string[]>();
  for (const t of tasks) for (const p of t.after) children.set(p, [...(children.get(p) ?? []), t.id]);
  return children;
}

/** The structure a DAG run keeps: tasks, dependencies and task options, in a canonical order. */
export function dagStructure(spec: Pick<DagSpec, 'tasks'>): DagTaskSpec[] {
  return [...spec.tasks]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((t) => ({ id: t.id, after: [...t.after].sort(), retries: t.retries, retryDelayMs: t.retryDelayMs, timeoutMs: t.timeoutMs, type: t.type }));
}

/** The version of a DAG: a hash of its structure; schedule and description changes keep the version. */
export function dagVersion(spec: Pick<DagSpec, 'tasks'>): string {
  return createHash('sha256').update(JSON.stringify(dagStructure(spec))).digest('hex').slice(0, 16);
}

/**
 * The log line of a DAG synced at start (`Orrery.dags.register`'s answer). The version covers the tasks
 * only: a definition whose other options changed (`overlap`, the schedule) is stored with them all the
 * same, so it is "synced", not "unchanged" (which read as if the edit had been ignored).
 */
export function dagSyncLine(d: { id: string; version: string; created: boolean; newVersion: boolean }): string {
  return `DAG ${d.id} ${d.created ? 'created' : d.newVersion ? 'updated' : 'synced, its tasks unchanged'} (version ${d.version})`;
}

/** An error about one of several definitions, named as such: `dags[1]: ...`, paths `dags[1].tasks[0].after[0]`. */
export function inDag(e: ValidationError, i: number): ValidationError {
  return new ValidationError(`dags[${i}]: ${e.message}`, e.details.map((d) => ({ ...d, path: d.path ? `dags[${i}].${d.path}` : `dags[${i}]` })));
}

/**
 * Every DAG task's type must have the DAG backend: the first task whose type has another (`backendOf`:
 * the backend of a type known by that name, or undefined) refuses all the definitions, naming it.
 */
export function checkDagTaskBackends(specs: readonly DagSpec[], backendOf: (type: string) => string | undefined): void {
  specs.forEach((spec, i) =>
    spec.tasks.forEach((task, j) => {
      const backend = backendOf(task.type);
      if (backend !== undefined && backend !== DAG_BACKEND) {
        throw inDag(invalid(`tasks[${j}].type`, `task type "${task.type}" has backend "${backend}"; DAG tasks need a type whose backend is "${DAG_BACKEND}"`), i);
      }
    }),
  );
}

const isRecord = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * What makes an `orrery.dag` kwarg not an attempt the DAG scheduler wrote (a task made by hand with
 * that kwarg), or null: its handler refuses it for good instead of failing on it with a TypeError.
 */
export function dagAttemptProblem(a: Record<string, unknown>): string | null {
  if (typeof a.dag !== 'string' || typeof a.task !== 'string' || typeof a.version !== 'string') return 'dag, task and version must be strings';
  if (!Number.isSafeInteger(a.run) || !Number.isSafeInteger(a.attempt)) return 'run and attempt must be integers';
  if (typeof a.execTs !== 'string' || Number.isNaN(Date.parse(a.execTs))) return 'execTs must be an ISO 8601 instant';
  if (!isRecord(a.params) || !isRecord(a.upstream)) return 'params and upstream must be objects';
  if (a.timeoutMs !== null && a.timeoutMs !== undefined && !(typeof a.timeoutMs === 'number' && a.timeoutMs > 0)) return 'timeoutMs must be a positive number or null';
  return null;
}

/**
 * The DAG attempt a task's kwargs hold (`orrery.dag`, well formed as the DAG scheduler writes it), or
 * null: a task of a DAG type without one (made by hand) is no attempt, its failure no DAG step
 * (core/task-alert.ts), and its handler refuses it (worker/dag-handler.ts).
 */
export function dagAttemptOf(kwargs: Readonly<Record<string, unknown>>): DagAttemptArgs | null {
  const raw = kwargs[DAG_ATTEMPT_KEY];
  return isRecord(raw) && dagAttemptProblem(raw as Record<string, unknown>) === null ? (raw as DagAttemptArgs) : null;
}
