import { z } from 'zod';
import { formatDuration, parseDuration } from '../core/durations.js';
import { invalid, ValidationError, type ErrorDetail } from '../core/errors.js';
import { PRIORITIES, TASK_POLICIES } from '../core/model.js';
import type { TaskType } from '../core/model.js';
import { fromDetails, parseWith, validateTask, validateTaskType } from '../core/validation.js';
import type { DurationModel } from './random.js';
import { boundedMs, count, durationModel, instant, ms, pollMs, positiveCount, positiveMs, probability, storeUrl } from './scenario-fields.js';
import { MAX_PREFETCH } from '../core/claim-ahead.js';
import { checkWorld, dagScenario, visitsScenario } from './scenario-world.js';

const handlerModel = z
  .strictObject({
    duration: durationModel,
    eventful: probability.default(0),
    failed: probability.default(0),
    permfailed: probability.default(0),
    retryAfter: probability.default(0),
    retryAfterDelay: boundedMs.default(3_600_000),
    crash: probability.default(0),
  })
  .refine((h) => h.failed + h.permfailed + h.retryAfter + h.crash <= 1 + 1e-9, { message: 'failed + permfailed + retryAfter + crash must be at most 1', path: ['failed'] });

const population = z.strictObject({
  type: z.string().min(1),
  count: count.max(10_000_000, 'at most 10,000,000'),
  policy: z.enum(TASK_POLICIES).default('recurring'),
  schedule: z.unknown().optional(),
  priority: z.enum(PRIORITIES).nullable().default(null),
  spread: ms.default(0),
});

const arrival = z.strictObject({
  type: z.string().min(1),
  policy: z.enum(TASK_POLICIES).default('oneshot'),
  ratePerHour: z.number().positive('must be more than 0').finite(),
  profile: z.array(z.number().min(0, 'must not be negative').finite()).length(24, 'must have 24 hourly multipliers (UTC hours 0-23)').optional(),
  priority: z.enum(PRIORITIES).nullable().default(null),
  schedule: z.unknown().optional(),
});

const workers = z.strictObject({
  count: positiveCount.max(10_000),
  concurrency: positiveCount.max(100_000),
  types: z.array(z.string().min(1)).min(1).optional(),
  prefetch: count.max(MAX_PREFETCH, `at most ${MAX_PREFETCH}`).optional(),
});

const scenarioSchema = z.strictObject({
  name: z.string().min(1, 'must not be empty').max(200),
  description: z.string().max(10_000).default(''),
  start: instant.default(new Date('2026-01-01T00:00:00.000Z')),
  duration: positiveMs,
  seed: z.number().int('must be an integer').min(0).max(2 ** 32 - 1).default(1),
  store: storeUrl.default('sqlite::memory:'),
  interval: positiveMs.default(3_600_000),
  pollInterval: pollMs.default(60_000),
  restartDelay: boundedMs.default(5_000),
  taskTypes: z.array(z.unknown()).default([]),
  tasks: z.array(population).default([]),
  arrivals: z.array(arrival).default([]),
  handlers: z.record(z.string(), handlerModel),
  workers: z.array(workers).min(1, 'at least one worker group'),
  dags: z.array(dagScenario).default([]),
  visits: visitsScenario.optional(),
});

export type HandlerModel = z.output<typeof handlerModel> & { duration: DurationModel };
/** A validated scenario (SCENARIO.json after its defaults): see docs/simulate.md. */
export type Scenario = Omit<z.output<typeof scenarioSchema>, 'handlers'> & { handlers: Record<string, HandlerModel> };
/** A scenario as written in SCENARIO.json (durations as text or milliseconds). */
export type ScenarioInput = z.input<typeof scenarioSchema>;

/**
 * Validates a scenario and fills its defaults. Every problem is reported at once (ValidationError,
 * each detail naming its field: `handlers.crawl.duration.mean`, `taskTypes[0].backoffFactor`...).
 */
export function parseScenario(input: unknown): Scenario {
  let s: Scenario;
  try {
    s = parseWith(scenarioSchema, input, '') as Scenario;
  } catch (e) {
    // The task types are checked by the engine's own rule, not by the schema: their problems are of
    // their own form too, so they are reported with the schema's.
    const list = (input as { taskTypes?: unknown } | null)?.taskTypes;
    if (e instanceof ValidationError && Array.isArray(list)) throw fromDetails([...e.details, ...checkTaskTypes(list).problems]);
    throw e;
  }
  const { problems, names, invalidTypes } = checkTaskTypes(s.taskTypes);
  // A scenario of DAGs only needs no task type: its attempts run as orrery.dag (created when missing).
  if (s.taskTypes.length === 0 && s.dags.length === 0) problems.push({ path: 'taskTypes', message: 'at least one task type (or a DAG in dags)' });
  // The types' own fields are of the first stage (docs/simulate.md): what ties the fields together waits for them.
  if (problems.length > 0) throw fromDetails(problems);
  const unknown = (type: string) => !names.has(type) && !invalidTypes.has(type);
  // DAG attempts run as task types of their own (created when missing): no handler model, their tasks have theirs.
  const dagTypes = checkWorld(s, names, s.start, problems);
  const used = new Set<string>();
  const checkType = (type: string, path: string) => {
    if (dagTypes.has(type)) return;
    if (unknown(type)) problems.push({ path, message: `unknown task type "${type}" (not in taskTypes)` });
    used.add(type);
  };
  // A population's or an arrival's tasks are checked as the engine will create them (schedule, policy
  // against the type): one sample each, so a bad one is reported here instead of failing the run.
  const checkTask = (t: Scenario['tasks'][number] | Scenario['arrivals'][number], path: string): boolean => {
    if (dagTypes.has(t.type) || !names.has(t.type)) return true;
    const found = taskProblems(t, names, s.start, path);
    problems.push(...found);
    return found.length === 0;
  };
  s.tasks.forEach((p, i) => {
    checkType(p.type, `tasks[${i}].type`);
    checkTask(p, `tasks[${i}]`);
  });
  const refusedAtStart = new Set<number>();
  s.arrivals.forEach((a, i) => {
    checkType(a.type, `arrivals[${i}].type`);
    if (!checkTask(a, `arrivals[${i}]`)) refusedAtStart.add(i);
  });
  s.workers.forEach((w, i) => w.types?.forEach((t, j) => checkType(t, `workers[${i}].types[${j}]`)));
  for (const type of Object.keys(s.handlers)) {
    if (unknown(type)) problems.push({ path: `handlers.${type}`, message: `unknown task type "${type}" (not in taskTypes)` });
    else if (dagTypes.has(type)) problems.push({ path: `handlers.${type}`, message: "a DAG's task type takes its models from the DAG's tasks (dags[].tasks[].duration)" });
  }
  for (const type of used) if (names.has(type) && !dagTypes.has(type) && !s.handlers[type]) problems.push({ path: `handlers.${type}`, message: 'a handler model is required for every type with tasks, arrivals or workers' });
  // The window's end is an instant only within the horizon (a duration of 1e300 has none).
  const horizon = horizonProblems(s);
  if (horizon.length === 0) problems.push(...arrivalsAtEndProblems(s, names, dagTypes, refusedAtStart));
  problems.push(...horizon);
  if (problems.length > 0) throw fromDetails(problems);
  checked.add(s);
  return s;
}

/** A task of a population or an arrival as the engine will create it at `at`: its problems, named from `path`. */
function taskProblems(t: Scenario['tasks'][number] | Scenario['arrivals'][number], names: ReadonlyMap<string, TaskType>, at: Date, path: string, suffix = ''): ErrorDetail[] {
  try {
    validateTask({ type: t.type, policy: t.policy, priority: t.priority, ...(t.schedule !== undefined ? { schedule: t.schedule } : {}) }, names, at, path);
    return [];
  } catch (e) {
    return ((e as ValidationError).details ?? [{ path, message: String(e) }]).map((d) => ({ ...d, message: `${d.message}${suffix}` }));
  }
}

/**
 * An arrival's tasks are checked at the window's end too (besides its start): a schedule can run out
 * within the window (an rrule's UNTIL, a cron year), and the arrivals after that would be refused
 * mid-run. Whenever the window is set: by the file, or by `--duration` (overrideScenario).
 */
function arrivalsAtEndProblems(s: Scenario, names: ReadonlyMap<string, TaskType>, dagTypes: ReadonlySet<string>, skip: ReadonlySet<number> = new Set()): ErrorDetail[] {
  const end = new Date(s.start.getTime() + s.duration);
  const when = ` (arrivals come until the window's end, ${end.toISOString()})`;
  return s.arrivals.flatMap((a, i) => (skip.has(i) || dagTypes.has(a.type) || !names.has(a.type) ? [] : taskProblems(a, names, end, `arrivals[${i}]`, when)));
}

/**
 * The scenario's task types, each checked as createTaskType checks it: the problems (named
 * `taskTypes[i].field`), the valid ones by name, and the names of those with a problem (reported
 * once, not again as unknown where they are used).
 */
function checkTaskTypes(list: readonly unknown[]): { problems: ErrorDetail[]; names: Map<string, TaskType>; invalidTypes: Set<string> } {
  const problems: ErrorDetail[] = [];
  const names = new Map<string, TaskType>();
  const invalidTypes = new Set<string>();
  list.forEach((t, i) => {
    try {
      const type = validateTaskType(t);
      if (names.has(type.name)) problems.push({ path: `taskTypes[${i}].name`, message: `duplicate task type "${type.name}"` });
      names.set(type.name, type);
    } catch (e) {
      for (const d of (e as ValidationError).details ?? [{ path: '', message: String(e) }]) problems.push({ path: `taskTypes[${i}]${d.path ? `.${d.path}` : ''}`, message: d.message });
      const name = (t as { name?: unknown } | null)?.name;
      if (typeof name === 'string') invalidTypes.add(name);
    }
  });
  return { problems, names, invalidTypes };
}

/** The longest simulated window: about ten years. */
export const MAX_SIMULATED_MS = 3660 * 86_400_000;
/** Rows of series.csv per type (the duration divided by the interval). */
export const MAX_SERIES_INTERVALS = 100_000;
/** Wake-ups of one polling loop over the window (the duration divided by a poll interval). */
export const MAX_POLLS = 10_000_000;
/** Tasks the arrivals are expected to create, and origins the listers to list after the start, over the window. */
export const MAX_EXPECTED_ARRIVALS = 10_000_000;
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * What would make a simulation run for hours or exhaust memory instead of answering: a window of
 * centuries, millions of series rows, a loop polling every millisecond for a year, arrivals by the
 * billion. Each is named by its field, before anything runs.
 */
function horizonProblems(s: Scenario): ErrorDetail[] {
  const out: ErrorDetail[] = [];
  const span = formatDuration(s.duration);
  if (s.duration > MAX_SIMULATED_MS) out.push({ path: 'duration', message: `${span} is longer than the longest window, 3660d (about ten years)` });
  else if (s.start.getTime() + s.duration > LAST_INSTANT) out.push({ path: 'duration', message: `the window would end after the year 9999` });
  if (out.length > 0) return out;
  const rows = Math.ceil(s.duration / s.interval);
  if (rows > MAX_SERIES_INTERVALS) {
    out.push({ path: 'interval', message: `${formatDuration(s.interval)} over ${span} is ${rows.toLocaleString('en-US')} intervals (rows of series.csv); at most ${MAX_SERIES_INTERVALS.toLocaleString('en-US')}: choose a longer interval` });
  }
  const polls = (path: string, every: number) => {
    const n = Math.ceil(s.duration / every);
    if (n > MAX_POLLS) out.push({ path, message: `${formatDuration(every)} over ${span} is ${n.toLocaleString('en-US')} polls per loop; at most ${MAX_POLLS.toLocaleString('en-US')}: choose a longer poll interval` });
  };
  polls('pollInterval', s.pollInterval);
  if (s.visits?.pollInterval !== undefined) polls('visits.pollInterval', s.visits.pollInterval);
  // Metrics recomputed every metricsEvery read every origin: as many as polls at most.
  if (s.visits && s.visits.metricsEvery > 0) polls('visits.metricsEvery', s.visits.metricsEvery);
  s.tasks.forEach((p, i) => {
    if (s.start.getTime() + p.spread > LAST_INSTANT) out.push({ path: `tasks[${i}].spread`, message: 'the tasks would be due after the year 9999' });
  });
  const hours = s.duration / 3_600_000;
  const expected = (path: string, perHour: number, what: string) => {
    const n = Math.round(perHour * hours);
    if (n > MAX_EXPECTED_ARRIVALS) out.push({ path, message: `about ${n.toLocaleString('en-US')} ${what} expected over ${span}; at most ${MAX_EXPECTED_ARRIVALS.toLocaleString('en-US')}` });
  };
  s.arrivals.forEach((a, i) => expected(`arrivals[${i}].ratePerHour`, a.ratePerHour * (a.profile ? a.profile.reduce((x, y) => x + y, 0) / 24 : 1), 'tasks'));
  s.visits?.listers.forEach((l, i) => expected(`visits.listers[${i}].ratePerHour`, l.ratePerHour, 'new origins'));
  // Each relisting lists every origin of its lister again: relistings times the origins it will hold.
  s.visits?.listers.forEach((l, i) => {
    if (l.relistEvery === undefined) return;
    const listed = Math.floor(s.duration / l.relistEvery) * Math.max(1, l.initial + Math.round(l.ratePerHour * hours));
    if (listed > MAX_EXPECTED_ARRIVALS) {
      out.push({ path: `visits.listers[${i}].relistEvery`, message: `${formatDuration(l.relistEvery)} over ${span} lists about ${listed.toLocaleString('en-US')} origins in all (relistings times the lister's origins); at most ${MAX_EXPECTED_ARRIVALS.toLocaleString('en-US')}: choose a longer period` });
    }
  });
  return out;
}

/** The scenarios parseScenario and overrideScenario answered: checked, so runSimulation takes them as they are. */
const checked = new WeakSet<Scenario>();

/** Whether `x` is a scenario parseScenario (or overrideScenario) answered, not input that only looks like one. */
export function isCheckedScenario(x: unknown): x is Scenario {
  return typeof x === 'object' && x !== null && checked.has(x as Scenario);
}

/** The scenario with another store (`orrery simulate --db`), still taken as checked (the URL is checked where it is opened). */
export function scenarioOnStore(s: Scenario, store: string): Scenario {
  const out = { ...s, store };
  checked.add(out);
  return out;
}

/** The field a scenario-level override names (`--seed`, `--duration`), checked like the file's own. */
export function overrideScenario(s: Scenario, o: { seed?: number; duration?: string }): Scenario {
  const out = { ...s };
  if (o.seed !== undefined) {
    if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 2 ** 32 - 1) throw invalid('seed', 'must be an integer from 0 to 4294967295');
    out.seed = o.seed;
  }
  if (o.duration !== undefined) {
    const d = parseDuration(o.duration, 'duration');
    if (d <= 0) throw invalid('duration', 'must be more than 0');
    out.duration = d;
    const problems = horizonProblems(out);
    // The arrivals again at the new window's end, as the file's own window was checked.
    if (problems.length === 0) {
      const { names } = checkTaskTypes(out.taskTypes);
      problems.push(...arrivalsAtEndProblems(out, names, checkWorld(out, names, out.start, [])));
    }
    if (problems.length > 0) throw fromDetails(problems);
  }
  checked.add(out);
  return out;
}
