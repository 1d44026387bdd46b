import { z } from 'zod';
import { DAG_ATTEMPT_KEY, reservedKwargProblem } from './dag.js';
import { canonicalJson, dedupeKeyOf, keyIdentity, plainCanonicalJson } from './dedupe-key.js';
import { durationMsProblem, parseDuration } from './durations.js';
import { ValidationError, invalid, type ErrorDetail, shown } from './errors.js';
import { instantProblem, parseInstant } from './instants.js';
import {
  PRIORITIES,
  TASK_POLICIES,
  priorityRank,
  type Priority,
  type Schedule,
  type ScheduleInput,
  type TaskArguments,
  type TaskPolicy,
  type FairShare,
  type TaskType,
} from './model.js';
import { firstOccurrence, normaliseSchedule } from './schedule.js';
import { parseRateLimit } from './limits.js';
import { MAX_KEY_WEIGHT, MAX_WEIGHTED_KEYS } from './fair-share.js';
import { UNIQUE_BY, debouncedIdentity, flowControlOf, type Debounce, type UniqueWindow } from './flow-control.js';
import { detailsOfIssues, safeParseWorded } from './zod-issues.js';
import { INT4_MAX, assertStorable, isStorableText, textProblem } from './storable.js';
import { TASK_TYPE_NAME, sortedWeights, ON_CONFLICT_MODES, PROTO_KEY, assertJson, fromDetails, lossyObject, type OnConflict } from './json-checks.js';

export { canonicalJson, dedupeKey, keyIdentity } from './dedupe-key.js';

export { MAX_DURATION_MS } from './durations.js';
export { TASK_TYPE_NAME, sortedWeights, ON_CONFLICT_MODES, type OnConflict, PROTO_KEY, assertJson, validateMetadata, fromDetails } from './json-checks.js';

/** A duration given as integer milliseconds or as text (`90s`, `1d12h`, `P1DT12H`). */
export const durationSchema = z.union([z.number(), z.string()], { error: 'must be a duration: a number of milliseconds or text like "90s", "1d12h", "P1DT12H"' }).transform((v, ctx) => {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else {
    try {
      ms = parseDuration(v, '');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as ValidationError).details[0]?.message ?? String(e) });
      return z.NEVER;
    }
  }
  // The rule every duration in milliseconds follows (core/duration-limit.ts), its messages.
  const problem = durationMsProblem(ms);
  if (problem) {
    ctx.addIssue({ code: 'custom', message: problem });
    return z.NEVER;
  }
  return ms;
});

const count = z.number().int('must be an integer').min(0, 'must not be negative');
/** A count stored in a 4-byte integer column (docs/http.md, "Limits of stored values"). */
const int4Count = count.max(INT4_MAX, `at most ${INT4_MAX}`);

/** A string both stores can hold: no NUL, no lone surrogate (core/storable.ts). */
export const storableString = () =>
  z.string().check((ctx) => {
    const p = textProblem(ctx.value);
    if (p) ctx.issues.push({ code: 'custom', message: p, input: ctx.value });
  });

/** `{ count, perMs }` (perMs a duration like the other `...Ms` fields) or the text form `100/1m`. */
const rateLimitSchema = z.union([
  z.string().transform((v, ctx) => {
    try {
      return parseRateLimit(v, '');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as ValidationError).details[0]?.message ?? String(e) });
      return z.NEVER;
    }
  }),
  z.strictObject({ count: int4Count.min(1, 'must be at least 1'), perMs: durationSchema.refine((v) => v >= 1, 'must be at least 1ms') }),
], { error: 'must be a rate: text like "100/1m" or { count, perMs }' });

/** `true` (keys take turns, each of weight 1), `false`/null (claim order), or `{ weights: { KEY: N } }`. */
const fairShareSchema = z
  .union([
    z.boolean(),
    z.strictObject({
      weights: z
        .record(
          storableString().min(1, 'a key must not be empty').max(512, 'a key has at most 512 characters'),
          z.number({ error: 'must be a whole number from 1' }).int('must be an integer').min(1, 'must be at least 1').max(MAX_KEY_WEIGHT, `at most ${MAX_KEY_WEIGHT}`),
        )
        .refine((w) => Object.keys(w).length <= MAX_WEIGHTED_KEYS, `at most ${MAX_WEIGHTED_KEYS} weighted keys`)
        .default({}),
    }),
  ])
  .transform((v): FairShare | null => (v === false ? null : v === true ? { weights: {} } : { weights: sortedWeights(v.weights) }));

export const taskTypeInputSchema = z.strictObject({
  name: z.string().max(128, 'at most 128 characters').regex(TASK_TYPE_NAME, 'must match [a-z0-9][a-z0-9._:-]*'),
  description: storableString().max(10_000).default(''),
  backendName: storableString().min(1, 'must not be empty').max(256).regex(/^\S*$/, 'must not contain spaces').optional(),
  defaultIntervalMs: durationSchema.nullable().optional(),
  minIntervalMs: durationSchema.nullable().optional(),
  maxIntervalMs: durationSchema.nullable().optional(),
  backoffFactor: z.number().positive('must be > 0').finite().default(1),
  maxQueueLength: int4Count.nullable().default(1000),
  numRetries: int4Count.default(0),
  retryDelayMs: durationSchema.default(3_600_000),
  timeoutMs: durationSchema.nullable().default(null),
  leaseMs: durationSchema.default(30_000),
  maxAbandons: int4Count.min(1, 'must be at least 1').default(3),
  maxRunning: int4Count.min(1, 'must be at least 1 (null: unbounded)').nullable().default(null),
  maxRunningPerKey: int4Count.min(1, 'must be at least 1 (null: unbounded)').nullable().default(null),
  rateLimit: rateLimitSchema.nullable().default(null),
  rateLimitPerKey: rateLimitSchema.nullable().default(null),
  fairShare: fairShareSchema.nullable().default(null),
  fifoPerKey: z.boolean().default(false),
});
/** The input schema with SPEC §1.1's duration names beside the Ms ones: what the HTTP API documents (validateTaskType checks). */
export const taskTypeInputDocSchema = taskTypeInputSchema.extend({
  defaultInterval: durationSchema.nullable().optional().describe('defaultIntervalMs by its SPEC name (not both)'),
  minInterval: durationSchema.nullable().optional().describe('minIntervalMs by its SPEC name (not both)'),
  maxInterval: durationSchema.nullable().optional().describe('maxIntervalMs by its SPEC name (not both)'),
  retryDelay: durationSchema.optional().describe('retryDelayMs by its SPEC name (not both)'),
  timeout: durationSchema.nullable().optional().describe('timeoutMs by its SPEC name (not both)'),
  lease: durationSchema.optional().describe('leaseMs by its SPEC name (not both)'),
});
type TaskTypeFields = z.input<typeof taskTypeInputSchema>;
/** A task type as given: the `Ms` durations, or SPEC §1.1's names for them (`defaultInterval: '1d'`, `lease: '30s'`; not both). */
export type TaskTypeInput = TaskTypeFields & {
  defaultInterval?: TaskTypeFields['defaultIntervalMs'];
  minInterval?: TaskTypeFields['minIntervalMs'];
  maxInterval?: TaskTypeFields['maxIntervalMs'];
  retryDelay?: TaskTypeFields['retryDelayMs'];
  timeout?: TaskTypeFields['timeoutMs'];
  lease?: TaskTypeFields['leaseMs'];
};

/**
 * SPEC §1.1 names a task type's durations `defaultInterval`, `retryDelay`, `lease`...; the JSON
 * shapes name them with `Ms`. Input takes either name of a field (not both); problems are named by
 * the name the input used.
 */
export const TYPE_DURATION_NAMES: Readonly<Record<string, string>> = {
  defaultInterval: 'defaultIntervalMs',
  minInterval: 'minIntervalMs',
  maxInterval: 'maxIntervalMs',
  retryDelay: 'retryDelayMs',
  timeout: 'timeoutMs',
  lease: 'leaseMs',
};

/** `input` with SPEC §1.1's duration names turned into their `Ms` names, and the names it used (Ms name -> given name). */
export function withDurationNames(input: unknown): { value: unknown; used: Map<string, string> } {
  const used = new Map<string, string>();
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { value: input, used };
  const src = input as Record<string, unknown>;
  if (!Object.keys(src).some((k) => Object.hasOwn(TYPE_DURATION_NAMES, k))) return { value: input, used };
  const out: Record<string, unknown> = {};
  const problems: ErrorDetail[] = [];
  for (const [k, v] of Object.entries(src)) {
    const ms = Object.hasOwn(TYPE_DURATION_NAMES, k) ? TYPE_DURATION_NAMES[k]! : null;
    if (ms === null) out[k] = v;
    else if (Object.hasOwn(src, ms)) problems.push({ path: k, message: `is ${ms} by another name: give one of them` });
    else (out[ms] = v), used.set(ms, k);
  }
  if (problems.length > 0) throw fromDetails(problems);
  return { value: out, used };
}

/** A validation error about `Ms` fields, named as the input named them (withDurationNames). */
export function namedAsGiven(e: unknown, used: ReadonlyMap<string, string>): unknown {
  if (!(e instanceof ValidationError) || used.size === 0) return e;
  const rename = (path: string) => used.get(path) ?? path;
  return fromDetails(e.details.map((d) => ({ path: rename(d.path), message: d.message.replace(/\b(\w+Ms)\b/g, (m) => used.get(m) ?? m) })));
}

/** Each duration field's `Ms` name to the specification's name for it (`leaseMs` → `lease`). */
export const SPEC_DURATION_NAMES: ReadonlyMap<string, string> = new Map(Object.entries(TYPE_DURATION_NAMES).map(([spec, ms]) => [ms, spec]));

/**
 * Validates a task type and fills its defaults (SPEC §1.1). Reports every problem at once. An input
 * that names a duration by the specification's name (`lease`) hears of every duration field by
 * those names (`defaultInterval: is required when minInterval and maxInterval are set`).
 */
export function validateTaskType(input: unknown): TaskType {
  const { value, used } = withDurationNames(input);
  try {
    return validateTaskTypeFields(value);
  } catch (e) {
    throw namedAsGiven(e, used.size > 0 ? SPEC_DURATION_NAMES : used);
  }
}

function validateTaskTypeFields(input: unknown): TaskType {
  let t: z.output<typeof taskTypeInputSchema>;
  try {
    t = parseWith(taskTypeInputSchema, input, '');
  } catch (e) {
    throw withCrossFieldProblems(e, input);
  }
  return checkTaskTypeFields(t);
}

/**
 * A task type whose fields failed the schema: its checks across fields (interval bounds, lease, fifo
 * per key...) still run on the fields that passed, so every problem is reported at once (guide.md).
 */
function withCrossFieldProblems(e: unknown, input: unknown): unknown {
  if (!(e instanceof ValidationError) || input === null || typeof input !== 'object' || Array.isArray(input)) return e;
  const bad = new Set(e.details.map((d) => d.path.split(/[.[]/)[0] ?? ''));
  const rest: Record<string, unknown> = Object.fromEntries(Object.entries(input).filter(([k]) => !bad.has(k)));
  // A placeholder for a bad or missing name: its own problem is already reported, and no check reads it.
  if (bad.has('name') || typeof rest.name !== 'string') rest.name = 'x';
  const lenient = taskTypeInputSchema.safeParse(rest);
  if (!lenient.success) return e;
  try {
    checkTaskTypeFields(lenient.data);
  } catch (c) {
    // A check that reads a field which failed the schema would judge it as if it were not given: left out.
    const readsBad = (d: ErrorDetail) => [...bad].some((f) => d.path.split(/[.[]/)[0] === f || d.message.includes(f));
    if (c instanceof ValidationError) return fromDetails([...e.details, ...c.details.filter((d) => !readsBad(d) && !e.details.some((x) => x.path === d.path && x.message === d.message))]);
  }
  return e;
}

function checkTaskTypeFields(t: z.output<typeof taskTypeInputSchema>): TaskType {
  const def = t.defaultIntervalMs ?? null;
  const min = t.minIntervalMs ?? def;
  const max = t.maxIntervalMs ?? def;
  const problems: ErrorDetail[] = [];
  if (def !== null && def <= 0) problems.push({ path: 'defaultIntervalMs', message: 'must be > 0' });
  // A bound left out takes the default interval: its problems are the default's, named once, on the fields given.
  const minGiven = t.minIntervalMs != null;
  const maxGiven = t.maxIntervalMs != null;
  if (def === null && (minGiven || maxGiven)) {
    const set = [minGiven ? 'minIntervalMs' : null, maxGiven ? 'maxIntervalMs' : null].filter((x) => x !== null).join(' and ');
    problems.push({ path: 'defaultIntervalMs', message: `is required when ${set} ${minGiven && maxGiven ? 'are' : 'is'} set` });
  }
  if (minGiven && maxGiven && min! > max!) problems.push({ path: 'minIntervalMs', message: 'must be <= maxIntervalMs' });
  if (def !== null && minGiven && min! > def) problems.push({ path: 'minIntervalMs', message: 'must be <= defaultIntervalMs' });
  if (def !== null && maxGiven && def > max!) problems.push({ path: 'maxIntervalMs', message: 'must be >= defaultIntervalMs' });
  if (minGiven && min! <= 0) problems.push({ path: 'minIntervalMs', message: 'must be > 0' });
  if (t.leaseMs < 1000) problems.push({ path: 'leaseMs', message: 'must be at least 1s' });
  if (t.timeoutMs !== null && t.timeoutMs <= 0) problems.push({ path: 'timeoutMs', message: 'must be > 0' });
  const fairShare = t.fairShare ?? null;
  if (t.fifoPerKey && t.maxRunningPerKey !== null && t.maxRunningPerKey > 1) {
    problems.push({ path: 'maxRunningPerKey', message: 'must be null or 1 with fifoPerKey (one run per key at a time)' });
  }
  if (t.fifoPerKey && fairShare !== null && Object.keys(fairShare.weights).length > 0) {
    problems.push({ path: 'fairShare.weights', message: 'have no effect with fifoPerKey (one run per key at a time): leave them out' });
  }
  if (problems.length > 0) throw fromDetails(problems);
  return {
    name: t.name,
    description: t.description,
    backendName: t.backendName ?? t.name,
    defaultIntervalMs: def,
    minIntervalMs: min,
    maxIntervalMs: max,
    backoffFactor: t.backoffFactor,
    maxQueueLength: t.maxQueueLength,
    numRetries: t.numRetries,
    retryDelayMs: t.retryDelayMs,
    timeoutMs: t.timeoutMs,
    leaseMs: t.leaseMs,
    maxAbandons: t.maxAbandons,
    maxRunning: t.maxRunning,
    maxRunningPerKey: t.maxRunningPerKey,
    rateLimit: t.rateLimit,
    rateLimitPerKey: t.rateLimitPerKey,
    fairShare,
    fifoPerKey: t.fifoPerKey,
  };
}

export const instantSchema = z.union([z.date(), z.string()]).transform((v, ctx) => {
  if (v instanceof Date) {
    const problem = instantProblem(v);
    if (problem) {
      ctx.addIssue({ code: 'custom', message: Number.isNaN(v.getTime()) ? 'invalid date' : problem });
      return z.NEVER;
    }
    return v;
  }
  try {
    return parseInstant(v, '');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as ValidationError).details[0]?.message ?? String(e) });
    return z.NEVER;
  }
});

const jsonObject = z.record(z.string(), z.unknown());
const taskKey = storableString().min(1, 'must not be empty').max(512, 'at most 512 characters');

export const taskInputSchema = z.strictObject({
  type: storableString().min(1, 'a task type is required'),
  arguments: z
    .strictObject({ args: z.array(z.unknown()).default([]), kwargs: jsonObject.default({}) })
    .default({ args: [], kwargs: {} }),
  policy: z.enum(TASK_POLICIES).default('recurring'),
  schedule: z.unknown().optional(),
  // null is the default, as an absent field (SPEC §1.2: nextRun = given ?? now, retriesLeft = given ?? numRetries)
  nextRun: instantSchema.nullish().transform((v) => v ?? undefined),
  priority: z.enum(PRIORITIES).nullable().default(null),
  retriesLeft: int4Count.nullish().transform((v) => v ?? undefined),
  key: taskKey.nullable().default(null),
  concurrencyKey: taskKey.nullable().default(null),
  onConflict: z.enum(ON_CONFLICT_MODES).default('return'),
  unique: z.strictObject({ for: durationSchema, by: z.enum(UNIQUE_BY).optional() }).optional(),
  debounce: z.strictObject({ key: taskKey, period: durationSchema }).optional(),
});
/**
 * A task to create (`orrery.createTask`, `POST /api/tasks`). `schedule` is checked at run time by
 * `normaliseSchedule` (messages naming its fields), so the schema takes any value; the type says
 * which shapes are valid, so a typo does not compile.
 */
export type TaskInput = Omit<z.input<typeof taskInputSchema>, 'schedule'> & { schedule?: ScheduleInput | null };

/** A validated task ready to insert. */
export interface NewTask {
  type: string;
  arguments: TaskArguments;
  policy: TaskPolicy;
  schedule: Schedule;
  nextRun: Date;
  currentIntervalMs: number | null;
  retriesLeft: number;
  priority: Priority | null;
  priorityRank: number;
  /** The task's identity: `(type, key)` when a key is given, else its whole definition (see dedupeKey). */
  dedupeKey: string;
  /** Absent = null (tasks built by the engine, e.g. DAG attempts, have no key). */
  key?: string | null;
  concurrencyKey?: string | null;
  /** What creation does when an active task has the same identity (docs/limits.md); absent = 'return'. */
  onConflict?: OnConflict;
  /**
   * The W3C trace context it is created under (core/trace-context.ts), set by the service only when a
   * recording span is active at creation; absent = none (docs/tracing.md).
   */
  traceContext?: string | null;
  /** The occurrence the first run serves (a cron or rrule task's first occurrence, before its jitter); absent: nextRun. */
  scheduledFor?: Date;
  /**
   * True when the input gave no `nextRun` (nor a debounce): `nextRun` is the default a create takes.
   * A `replace` then takes the next run from the held task's own schedule (core/task-conflict.ts).
   */
  nextRunDefaulted?: boolean;
  /** Unique within a window (docs/limits.md#unique-within-a-window). */
  unique?: UniqueWindow;
  /** Debounce (docs/limits.md#debounce). */
  debounce?: Debounce;
}

/**
 * The task's fields by the schema; when some are wrong, the schedule's own problems are reported with
 * theirs (every problem at once), not only once the other fields are mended.
 */
function parseWithSchedule(input: unknown, at: Date, path: string): z.output<typeof taskInputSchema> {
  try {
    return parseWith(taskInputSchema, refuseLostArguments(input, path), path);
  } catch (e) {
    const schedule = input !== null && typeof input === 'object' ? (input as Record<string, unknown>).schedule : undefined;
    if (!(e instanceof ValidationError) || schedule == null || e.details.some((d) => d.path.startsWith(field(path, 'schedule')))) throw e;
    try {
      normaliseSchedule(schedule, at, field(path, 'schedule'));
    } catch (s) {
      if (s instanceof ValidationError) throw fromDetails([...e.details, ...s.details]);
    }
    throw e;
  }
}

/** Validates one task against its type (SPEC §1.2); `path` prefixes field names (`tasks[3]`). */
export function validateTask(input: unknown, types: ReadonlyMap<string, TaskType>, at: Date, path = '', clocked = false): NewTask {
  const parsed = quickTaskInput(input) ?? parseWithSchedule(input, at, path);
  // A debounced task is one-shot unless its policy is given (flowControlOf refuses another).
  const t = parsed.debounce !== undefined && (input as Record<string, unknown>).policy === undefined ? { ...parsed, policy: 'oneshot' as const } : parsed;
  const type = types.get(t.type);
  if (!type) throw invalid(field(path, 'type'), `unknown task type "${shown(t.type)}"`);
  const reserved = reservedKwargProblem(t.arguments.kwargs);
  if (reserved !== null) throw invalid(field(path, `arguments.kwargs.${DAG_ATTEMPT_KEY}`), reserved);
  // One walk checks the arguments and writes their canonical JSON; anything unusual goes the general way.
  const argsJson = plainCanonicalJson(t.arguments);
  if (argsJson === undefined) assertJson(t.arguments, field(path, 'arguments'));
  if (t.schedule !== undefined) assertStorable(t.schedule, field(path, 'schedule'));
  const schedule = normaliseSchedule(t.schedule, at, field(path, 'schedule'));
  if (t.policy === 'oneshot' && schedule.kind !== 'adaptive') {
    throw invalid(field(path, 'schedule'), 'a oneshot task runs once; cron and rrule schedules need policy "recurring"');
  }
  if (t.policy === 'recurring' && schedule.kind === 'adaptive' && type.defaultIntervalMs === null) {
    throw invalid(field(path, 'policy'), `task type "${type.name}" has no defaultInterval, so it cannot have recurring adaptive tasks`);
  }
  const flow =
    t.unique === undefined && t.debounce === undefined
      ? {}
      : flowControlOf(
          t,
          { type: type.name, key: t.key, policyGiven: (input as Record<string, unknown>).policy !== undefined, policy: t.policy, nextRunGiven: t.nextRun !== undefined, scheduleGiven: t.schedule != null, arguments: t.arguments },
          argsJson ?? canonicalJson(t.arguments),
          path,
        );
  let nextRun = t.nextRun ?? at;
  let scheduledFor: Date | undefined;
  if (t.nextRun === undefined && schedule.kind !== 'adaptive') {
    nextRun = firstOccurrence(schedule, at) ?? at;
    scheduledFor = nextRun; // the store adds the jitter once the task has its id (core/catch-up.ts dueAt)
  }
  if (flow.debounce) nextRun = new Date(at.getTime() + flow.debounce.periodMs);
  if (flow.unique && clocked) flow.unique = { ...flow.unique, clocked: true };
  return {
    type: type.name,
    arguments: t.arguments,
    policy: t.policy,
    schedule,
    nextRun,
    ...(scheduledFor ? { scheduledFor } : {}),
    ...(t.nextRun === undefined && !flow.debounce ? { nextRunDefaulted: true } : {}),
    ...flow,
    currentIntervalMs: t.policy === 'recurring' && schedule.kind === 'adaptive' ? type.defaultIntervalMs : null,
    retriesLeft: t.retriesLeft ?? type.numRetries,
    priority: t.priority,
    priorityRank: priorityRank(t.priority),
    dedupeKey: flow.debounce
      ? debouncedIdentity(flow.debounce.key)
      : t.key !== null
        ? keyIdentity(type.name, t.key)
        : dedupeKeyOf(
            type.name,
            argsJson ?? canonicalJson(t.arguments),
            t.policy,
            t.priority,
            t.policy === 'oneshot' ? nextRun : null,
            scheduleIdentity(schedule, t.schedule),
          ),
    key: t.key,
    concurrencyKey: t.concurrencyKey,
    onConflict: t.onConflict,
  };
}

const field = (path: string, f: string) => (path ? `${path}.${f}` : f);

type TaskFields = z.output<typeof taskInputSchema>;
/**
 * What `taskInputSchema` makes of the common shape, without zod (which costs more than the rest of a
 * create): a plain object whose fields all hold plain valid values. Returns undefined for anything
 * else, valid or not, so zod parses it and reports its errors. It accepts only input zod accepts and
 * returns equal values: arguments copied one level deep as zod copies them (an absent `arguments`
 * gives a fresh `{ args: [], kwargs: {} }` where zod shares one default object).
 */
export function quickTaskInput(input: unknown): TaskFields | undefined {
  if (!isPlainObject(input)) return undefined;
  for (const k in input) {
    switch (k) {
      // the fields of taskInputSchema (a test checks them against the schema)
      case 'type': case 'arguments': case 'policy': case 'schedule': case 'nextRun':
      case 'priority': case 'retriesLeft': case 'key': case 'concurrencyKey': case 'onConflict':
        continue;
      case 'unique': case 'debounce': // flow control: zod parses them (their durations)
        return undefined;
      default:
        return undefined;
    }
  }
  const { type, policy = 'recurring', schedule, priority = null, key = null, concurrencyKey = null, onConflict = 'return' } = input;
  const nextRun = input.nextRun ?? undefined; // null is the default, as in the schema
  const retriesLeft = input.retriesLeft ?? undefined;
  if (typeof type !== 'string' || type.length === 0 || !isStorableText(type)) return undefined;
  if (policy !== 'recurring' && policy !== 'oneshot') return undefined;
  if (priority !== null && priority !== 'high' && priority !== 'normal' && priority !== 'low') return undefined;
  if (retriesLeft !== undefined && !(typeof retriesLeft === 'number' && Number.isSafeInteger(retriesLeft) && retriesLeft >= 0 && retriesLeft <= INT4_MAX)) return undefined;
  if (!isTaskKey(key) || !isTaskKey(concurrencyKey)) return undefined;
  if (onConflict !== 'return' && onConflict !== 'replace' && onConflict !== 'error') return undefined;
  const args = quickArguments(input.arguments);
  if (args === undefined) return undefined;
  let when: Date | undefined;
  if (nextRun instanceof Date) {
    if (instantProblem(nextRun) !== null) return undefined;
    when = nextRun;
  } else if (typeof nextRun === 'string') {
    try {
      when = parseInstant(nextRun, '');
    } catch {
      return undefined;
    }
  } else if (nextRun !== undefined) return undefined;
  return { type, arguments: args, policy, schedule, nextRun: when, priority, retriesLeft, key, concurrencyKey, onConflict };
}

/**
 * What the schema would take but lose, refused: arguments that are a Map, a Set, a Date, a RegExp ...
 * (it reads an object's own fields, so they would pass as `{}`), and a kwargs key `__proto__`
 * (JSON.parse keeps it as data), which the record copy of the schema would drop silently.
 * (quickTaskInput leaves such input to the schema.)
 */
function refuseLostArguments(input: unknown, path: string): unknown {
  // Anything but an object is the schema's to refuse (a strict function's own `arguments` throws when read).
  if (input === null || typeof input !== 'object') return input;
  const args = (input as { arguments?: unknown }).arguments;
  if (args === null || typeof args !== 'object') return input;
  // The schema reads an object's own fields: a Map, a Date or a RegExp would pass as {} (the Map's entries lost).
  if (args instanceof Date) throw invalid(field(path, 'arguments'), 'must be an object { args, kwargs }, not a Date');
  const lossy = lossyObject(args);
  if (lossy !== null) throw invalid(field(path, 'arguments'), lossy);
  const kwargs = (args as { kwargs?: unknown }).kwargs;
  if (kwargs !== null && typeof kwargs === 'object' && Object.hasOwn(kwargs, '__proto__')) {
    throw invalid(field(path, 'arguments.kwargs.__proto__'), PROTO_KEY);
  }
  return input;
}

function quickArguments(a: unknown): TaskArguments | undefined {
  if (a === undefined) return { args: [], kwargs: {} };
  if (!isPlainObject(a)) return undefined;
  for (const k in a) if (k !== 'args' && k !== 'kwargs') return undefined;
  const { args, kwargs } = a;
  let argsOut: unknown[];
  if (args === undefined) argsOut = [];
  else if (Array.isArray(args)) {
    argsOut = new Array<unknown>(args.length);
    for (let i = 0; i < args.length; i++) argsOut[i] = args[i]; // holes become undefined, as in zod's copy
  } else return undefined;
  let kwargsOut: Record<string, unknown>;
  if (kwargs === undefined) kwargsOut = {};
  else {
    // zod's record: a plain object (its `constructor` not overridden), own enumerable string keys, no symbol keys.
    if (!isPlainObject(kwargs) || Object.hasOwn(kwargs, 'constructor') || Object.getOwnPropertySymbols(kwargs).length > 0) return undefined;
    kwargsOut = {};
    for (const k of Object.keys(kwargs)) {
      if (k === '__proto__') return undefined;
      kwargsOut[k] = kwargs[k];
    }
  }
  return { args: argsOut, kwargs: kwargsOut };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const isTaskKey = (v: unknown): v is string | null => v === null || (typeof v === 'string' && v.length >= 1 && v.length <= 512 && isStorableText(v));

/** The schedule as the user gave it (an rrule before anchoring), so re-creating the same task matches. */
function scheduleIdentity(normal: Schedule, given: unknown): unknown {
  if (normal.kind === 'adaptive') return null;
  if (normal.kind === 'cron') return { expr: normal.expr, tz: normal.tz };
  return { rule: String((given as { rule: string }).rule).trim() };
}

export function parseWith<S extends z.ZodType>(schema: S, input: unknown, path: string): z.output<S> {
  const r = safeParseWorded(schema, input);
  if (r.success) return r.data;
  throw fromDetails(detailsOfIssues(r.error.issues, path));
}

