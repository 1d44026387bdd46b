/**
 * DAG definitions as users give them: the schema (zod), and `validateDag` that turns one into a
 * DagSpec. Apart from dag.ts, which every process loads: a worker that defines no DAG never loads zod.
 */
import { CycleError, ValidationError, invalid, type ErrorDetail, shown } from './errors.js';
import { fromDetails } from './json-checks.js';
import { z } from 'zod';
import { DAG_OVERLAP_POLICIES, dagTaskTypeOf, findCycle, inDag, type DagSchedule, type DagSpec, type DagTaskSpec } from './dag.js';
import { firstPoint } from './dag-schedule.js';
import { MAX_DURATION_MS } from './durations.js';
import { TASK_TYPE_NAME } from './json-checks.js';
import { normaliseSchedule } from './schedule.js';
import { durationSchema, instantSchema, parseWith, storableString } from './validation.js';

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
  // One object (not a union), so that each problem names its field: `{ cron, tz? }` or `{ every }` (normaliseDagSchedule).
  schedule: z
    .strictObject({ cron: storableString().min(1, 'a cron expression is required').optional(), tz: storableString().optional(), every: durationSchema.optional() })
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

/**
 * Validates a DAG: fields, duplicate ids, unknown dependencies, timeouts, the schedule, cycles (the
 * error names the cycle). Every bad field is reported in one ValidationError: the checks past the
 * schema run on the parts that parse (each task, the defaults, the schedule and start) even when
 * another part does not. A cycle is looked for once nothing else is wrong. The verdict does not depend
 * on the instant: a definition valid once stays valid (a handlers file that declares it keeps starting).
 * `_at`, which it once read, is taken and ignored (callers that pass it keep compiling).
 */
export function validateDag(input: unknown, _at?: Date): DagSpec {
  const problems: ErrorDetail[] = [];
  let d: z.output<typeof dagInputSchema> | null = null;
  try {
    d = parseWith(dagInputSchema, input, '');
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    problems.push(...e.details);
  }
  const raw: Record<string, unknown> = input !== null && typeof input === 'object' && !Array.isArray(input) ? (input as Record<string, unknown>) : {};
  const part = <S extends z.ZodType>(schema: S, value: unknown): z.output<S> | null => {
    const r = schema.safeParse(value);
    return r.success ? r.data : null;
  };
  // Each task's id, dependencies and timeout, each as it parses on its own (null: the schema names its
  // problem; a timeout that does not parse is 'bad', not absent, so the default's is not checked in its place).
  type Loose = { id: string | null; after: string[]; timeout?: number | null | 'bad' | undefined };
  const rawTasks: unknown[] = d === null && Array.isArray(raw.tasks) ? raw.tasks : [];
  const taskList: Loose[] = d
    ? d.tasks
    : rawTasks.map((t) => {
        const o = t !== null && typeof t === 'object' ? (t as Record<string, unknown>) : {};
        const timeout = o.timeout === undefined ? undefined : (part(taskOptions.timeout, o.timeout) ?? 'bad');
        return { id: part(dagTaskInputSchema.shape.id, o.id), after: part(dagTaskInputSchema.shape.after, o.after) ?? [], timeout };
      });
  // Ids given but refused by the schema (too long, say): a dependency on one is not unknown.
  const badIds = new Set(rawTasks.map((t) => (t !== null && typeof t === 'object' ? (t as { id?: unknown }).id : undefined)).filter((x): x is string => typeof x === 'string'));
  const defaults = d ? d.defaults : (part(dagInputSchema.shape.defaults, raw.defaults) ?? {});
  const seen = new Set<string>();
  taskList.forEach((t, i) => {
    if (t.id === null) return;
    if (seen.has(t.id)) problems.push({ path: `tasks[${i}].id`, message: `duplicate task id "${shown(t.id)}"` });
    seen.add(t.id);
  });
  taskList.forEach((t, i) => {
    const name = t.id !== null ? `task ${JSON.stringify(shown(t.id))}` : `tasks[${i}]`;
    t.after.forEach((dep, j) => {
      if (!seen.has(dep) && !badIds.has(dep)) problems.push({ path: `tasks[${i}].after[${j}]`, message: `${name} depends on unknown task "${shown(dep)}"` });
      else if (dep === t.id) problems.push({ path: `tasks[${i}].after[${j}]`, message: `${name} depends on itself` });
    });
    if (new Set(t.after).size !== t.after.length) problems.push({ path: `tasks[${i}].after`, message: 'lists a dependency twice' });
    if (t.timeout === 'bad') return;
    const timeoutMs = (t.timeout === undefined ? defaults.timeout : t.timeout) ?? null;
    if (timeoutMs !== null && timeoutMs <= 0) problems.push({ path: `tasks[${i}].timeout`, message: 'must be > 0' });
  });
  const scheduleIn = d ? d.schedule : part(dagInputSchema.shape.schedule, raw.schedule);
  const start = d ? d.start : part(dagInputSchema.shape.start, raw.start);
  let schedule: DagSchedule | null = null;
  if (scheduleIn !== null || d !== null) {
    try {
      schedule = normaliseDagSchedule(scheduleIn, start ?? null);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.details);
    }
  }
  if (d === null || problems.length > 0) {
    // A cycle among the tasks read is reported with the other problems (it was left out whenever there
    // was another: dags.md "every bad field ... in one error"); alone, it is a CycleError (below).
    const loop = findCycle(taskList.flatMap((t) => (t.id === null ? [] : [{ id: t.id, after: t.after.filter((dep) => dep !== t.id) }])));
    if (loop) problems.push({ path: 'tasks', message: `cycle: ${loop.join(' -> ')}` });
    // One problem reads as any field's (`overlap: ...`); several are all listed, after the DAG's id.
    const name = d?.id ?? (typeof raw.id === 'string' ? raw.id : null);
    const listed = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
    throw new ValidationError(problems.length === 1 ? listed : `invalid DAG${name !== null ? ` ${JSON.stringify(shown(name))}` : ''}: ${listed}`, problems);
  }
  const tasks: DagTaskSpec[] = d.tasks.map((t) => ({
    id: t.id,
    after: [...t.after],
    retries: t.retries ?? d.defaults.retries ?? 0,
    retryDelayMs: t.retryDelay ?? d.defaults.retryDelay ?? 300_000,
    timeoutMs: (t.timeout === undefined ? d.defaults.timeout : t.timeout) ?? null,
    type: dagTaskTypeOf(t, d.defaults),
  }));
  const cycle = findCycle(tasks);
  if (cycle) throw new CycleError(`DAG "${d.id}" has a cycle: ${cycle.join(' -> ')}`, cycle);
  return { id: d.id, description: d.description, schedule: schedule!, start: d.start, catchUp: d.catchUp, maxActiveRuns: d.maxActiveRuns, overlap: d.overlap, tasks };
}

/**
 * A DAG's schedule in its normal form. A cron schedule must fire at all (not only from now: a DAG
 * whose last point has passed stays valid) and, when the DAG has a `start`, from that start: its first
 * point is the first occurrence from `start` (firstPoint).
 */
function normaliseDagSchedule(s: { cron?: string; tz?: string; every?: number } | null, start: Date | null): DagSchedule {
  if (s === null) return { kind: 'none' };
  if (s.every !== undefined) {
    if (s.cron !== undefined) throw invalid('schedule', 'give either cron (with tz) or every, not both');
    if (s.tz !== undefined) throw invalid('schedule.tz', 'only goes with cron');
    if (s.every < 1000) throw invalid('schedule.every', 'must be at least 1s');
    if (s.every > MAX_DURATION_MS) throw invalid('schedule.every', 'must be at most 100 years');
    return { kind: 'interval', everyMs: s.every };
  }
  if (s.cron === undefined) throw invalid('schedule', 'needs cron (with an optional tz) or every (null: no schedule)');
  let cron;
  try {
    // Refused only if it never fires at all (looked for from 1970, not from now): a schedule whose last
    // point has passed (a year field) is a DAG with no more scheduled runs, and the handlers file that
    // declares it must keep starting as its time goes by.
    cron = normaliseSchedule({ kind: 'cron', expr: s.cron, tz: s.tz ?? 'UTC' }, new Date(0), 'schedule');
  } catch (e) {
    // The task schedule's field is `expr`; a DAG's is `cron`.
    if (e instanceof ValidationError) throw fromDetails(e.details.map((d) => ({ ...d, path: d.path.replace(/^schedule\.expr\b/, 'schedule.cron') })));
    throw e;
  }
  if (cron.kind !== 'cron') throw new Error('unreachable');
  if (start !== null && firstPoint(cron, start) === null) {
    // The cron library looks no further than the year 3000 (a seventh field, the year, may end it sooner).
    const why = start.getUTCFullYear() >= 2999 ? ' before the year 3000, where cron schedules end' : '';
    throw invalid('start', `cron schedule ${JSON.stringify(shown(cron.expr))} has no point from ${start.toISOString()}${why}`);
  }
  return cron;
}


/**
 * Validates a list of definitions (`dags.register`, a handlers file's `dags`): each as validateDag
 * does, its error naming its place (`dags[1]: ...`, paths `dags[1].tasks[0].after[0]`, as HTTP's body
 * names it), and no id twice. Pure: a process checks its file's DAGs with it before it writes anything.
 */
export function validateDags(inputs: readonly unknown[]): DagSpec[] {
  const specs = inputs.map((input, i) => {
    try {
      return validateDag(input);
    } catch (e) {
      throw e instanceof ValidationError ? inDag(e, i) : e;
    }
  });
  const ids = new Set<string>();
  for (const s of specs) {
    if (ids.has(s.id)) throw invalid('dags', `DAG "${shown(s.id)}" is defined twice`);
    ids.add(s.id);
  }
  return specs;
}
