import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConflictError, CycleError, ValidationError, invalid, type ErrorDetail } from './errors.js';
import { normaliseSchedule } from './schedule.js';
import { MAX_DURATION_MS, TASK_TYPE_NAME, durationSchema, instantSchema, parseWith, storableString } from './validation.js';

/** DAG run statuses (SPEC §3). A run waits as `scheduled` while its DAG has too many active runs. */
export const DAG_RUN_STATUSES = ['scheduled', 'running', 'success', 'failed'] as const;
export type DagRunStatus = (typeof DAG_RUN_STATUSES)[number];

export const DAG_TASK_STATUSES = ['pending', 'scheduled', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped'] as const;
export type DagTaskStatus = (typeof DAG_TASK_STATUSES)[number];
export const FINAL_DAG_TASK_STATUSES: readonly DagTaskStatus[] = ['success', 'failed', 'upstream_failed', 'skipped'];

/** How a DAG run came to be: on time, caught up after downtime, triggered by hand, or by a backfill. */
export const DAG_RUN_TRIGGERS = ['schedule', 'catch_up', 'manual', 'backfill'] as const;
export type DagRunTrigger = (typeof DAG_RUN_TRIGGERS)[number];

/** The task type DAG tasks run under unless they name another; its backend is the DAG executor. */
export const DAG_TASK_TYPE = 'orrery.dag';
export const DAG_BACKEND = 'orrery.dag';
/** The kwarg of an attempt's jobboard task that says which DAG run, task and attempt it is. */
export const DAG_ATTEMPT_KEY = 'orrery.dag';

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

export const DAG_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]*$/;
const id = z.string().max(128, 'at most 128 characters').regex(DAG_ID, 'must match [A-Za-z0-9][A-Za-z0-9._:-]*');
const count = z.number().int('must be an integer').min(0, 'must not be negative');
const taskOptions = {
  retries: count.max(1000, 'at most 1000').optional(),
  retryDelay: durationSchema.optional(),
  timeout: durationSchema.nullable().optional(),
  type: z.string().max(128).regex(TASK_TYPE_NAME, 'must match [a-z0-9][a-z0-9._:-]*').optional(),
};

export const dagTaskInputSchema = z.strictObject({
  id,
  after: z.array(storableString()).max(10_000).default([]),
  ...taskOptions,
});
export type DagTaskInput = z.input<typeof dagTaskInputSchema>;

export const dagInputSchema = z.strictObject({
  id,
  description: storableString().max(10_000).default(''),
  schedule: z
    .union([
      z.strictObject({ cron: storableString().min(1, 'a cron expression is required'), tz: storableString().default('UTC') }),
      z.strictObject({ every: durationSchema }),
    ])
    .nullable()
    .default(null),
  start: instantSchema.nullable().default(null),
  catchUp: z.boolean().default(false),
  maxActiveRuns: z.number().int('must be an integer').min(1, 'must be at least 1').max(10_000).default(16),
  overlap: z.enum(DAG_OVERLAP_POLICIES).default('allow'),
  defaults: z.strictObject(taskOptions).default({}),
  tasks: z.array(dagTaskInputSchema).min(1, 'a DAG needs at least one task').max(100_000),
});
export type DagInput = z.input<typeof dagInputSchema>;

/** Validates a DAG: fields, duplicate ids, unknown dependencies, cycles (the error names the cycle). */
export function validateDag(input: unknown, at: Date): DagSpec {
  const d = parseWith(dagInputSchema, input, '');
  const problems: ErrorDetail[] = [];
  const seen = new Set<string>();
  d.tasks.forEach((t, i) => {
    if (seen.has(t.id)) problems.push({ path: `tasks[${i}].id`, message: `duplicate task id "${t.id}"` });
    seen.add(t.id);
  });
  d.tasks.forEach((t, i) => {
    t.after.forEach((dep, j) => {
      if (!seen.has(dep)) problems.push({ path: `tasks[${i}].after[${j}]`, message: `task "${t.id}" depends on unknown task "${dep}"` });
      else if (dep === t.id) problems.push({ path: `tasks[${i}].after[${j}]`, message: `task "${t.id}" depends on itself` });
    });
    if (new Set(t.after).size !== t.after.length) problems.push({ path: `tasks[${i}].after`, message: 'lists a dependency twice' });
  });
  if (problems.length > 0) throw new ValidationError(`invalid DAG "${d.id}": ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, problems);
  const tasks: DagTaskSpec[] = d.tasks.map((t) => ({
    id: t.id,
    after: [...t.after],
    retries: t.retries ?? d.defaults.retries ?? 0,
    retryDelayMs: t.retryDelay ?? d.defaults.retryDelay ?? 300_000,
    timeoutMs: (t.timeout === undefined ? d.defaults.timeout : t.timeout) ?? null,
    type: t.type ?? d.defaults.type ?? DAG_TASK_TYPE,
  }));
  for (const t of tasks) if (t.timeoutMs !== null && t.timeoutMs <= 0) throw invalid(`tasks.${t.id}.timeout`, 'must be > 0');
  const cycle = findCycle(tasks);
  if (cycle) throw new CycleError(`DAG "${d.id}" has a cycle: ${cycle.join(' -> ')}`, cycle);
  return { id: d.id, description: d.description, schedule: normaliseDagSchedule(d.schedule, at), start: d.start, catchUp: d.catchUp, maxActiveRuns: d.maxActiveRuns, overlap: d.overlap, tasks };
}

function normaliseDagSchedule(s: { cron: string; tz: string } | { every: number } | null, at: Date): DagSchedule {
  if (s === null) return { kind: 'none' };
  if ('every' in s) {
    if (s.every < 1000) throw invalid('schedule.every', 'must be at least 1s');
    if (s.every > MAX_DURATION_MS) throw invalid('schedule.every', 'must be at most 100 years');
    return { kind: 'interval', everyMs: s.every };
  }
  const cron = normaliseSchedule({ kind: 'cron', expr: s.cron, tz: s.tz }, at, 'schedule');
  if (cron.kind !== 'cron') throw new Error('unreachable');
  return cron;
}

/** A dependency cycle as a path that starts and ends on the same task, or null. */
export function findCycle(tasks: readonly DagTaskSpec[]): string[] | null {
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
