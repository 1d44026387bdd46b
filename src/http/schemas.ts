import { MAX_LAST_RUNS } from '../core/options.js';
import { z } from 'zod';
import { ISO_INSTANT, parseInstant } from '../core/instants.js';
import { GATES } from '../core/why.js';
import { ARGS_MATCHES, DEFAULT_TASK_PAGE, TASK_SCAN_LIMIT } from '../core/task-search.js';
import { DEFAULT_RUN_PAGE } from '../core/run-search.js';
import { BULK_ACTIONS, BULK_SKIPS } from '../core/bulk.js';
import { CATCH_UP_POLICIES } from '../core/schedule-options.js';
import { DISABLED_REASONS, HOLDER_END_STATUSES, LOG_LEVELS, PRIORITIES, RUN_END_STATUSES, RUN_STATUSES, TASK_POLICIES, TASK_STATUSES } from '../core/model.js';
import { MAX_REQUEST_END_ITEMS, MAX_REQUEST_HEARTBEAT_RUNS, MAX_REQUEST_RELEASE_RUNS } from '../core/jobboard-options.js';
import { MAX_LOG_APPEND, MAX_LOG_MESSAGE, MAX_LOG_PAGE } from '../core/run-logs.js';
import { MAX_HTTP_CLAIM } from '../core/claim-ahead.js';
import { MAX_DURATION_MS, durationMsProblem } from '../core/durations.js';
import { DEFAULT_HTTP_WAIT_MS, MAX_HTTP_WAIT_MS } from '../core/task-wait.js';
import { MAX_WORKER_TYPES } from '../core/worker-registry.js';
import { BLANK_WORKER_ID, MAX_WORKER_ID } from '../core/worker-registry.js';
import { documentedAs, QUERY_INTS, TaskInputDoc } from './doc-schemas.js';


/**
 * A query parameter holding a whole number from `min` to `max`, written in decimal digits only:
 * `Number()` (and so `z.coerce`) would also take `0x10`, `1e2`, ` 5 ` and an empty value (0).
 */
export const queryInt = (min: number, max: number, dflt?: number) => {
  const s = z
    .string()
    .regex(/^[0-9]+$/, 'expected a whole number in decimal digits')
    .transform(Number)
    // Digits past the range (99999999999999999999) are named as such, not as something else than digits.
    .pipe(z.number().max(max, `must be at most ${max}`).min(min, `must be at least ${min}`).int());
  // Documented as an integer with its bounds and the default the route applies when it is absent.
  QUERY_INTS.set(s, { minimum: min, maximum: max, ...(dflt !== undefined ? { default: dflt } : {}) });
  return s;
};

/** A path parameter holding a row id: a positive whole number in decimal digits, up to 2^53 - 1 as in bodies. */
export const pathId = (what: string) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, `must be ${what}`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n), `must be ${what}`);

/** Response shapes (SPEC §6.3): instants are ISO 8601 strings, durations integer ms in `...Ms` fields. */
const instant = z.string().describe('ISO 8601 instant, UTC, with milliseconds');
const ms = z.number().int().nonnegative();

export const TaskTypeSchema = z.object({
  name: z.string(),
  description: z.string(),
  backendName: z.string(),
  defaultIntervalMs: ms.nullable(),
  minIntervalMs: ms.nullable(),
  maxIntervalMs: ms.nullable(),
  backoffFactor: z.number(),
  maxQueueLength: z.number().int().nullable(),
  numRetries: z.number().int(),
  retryDelayMs: ms,
  timeoutMs: ms.nullable(),
  leaseMs: ms,
  maxAbandons: z.number().int(),
  maxRunning: z.number().int().nullable(),
  maxRunningPerKey: z.number().int().nullable(),
  rateLimit: z.object({ count: z.number().int(), perMs: ms }).nullable(),
  rateLimitPerKey: z.object({ count: z.number().int(), perMs: ms }).nullable().describe('at most count starts per concurrency key in any window of perMs'),
  fairShare: z.object({ weights: z.record(z.string(), z.number().int()) }).nullable().describe('concurrency keys take turns at claims, weights[key] runs per turn (1 when not listed)'),
  fifoPerKey: z.boolean().describe('one run per concurrency key at a time, keys in turn, each key\'s runs in claim order'),
  /** Set while the type is paused (no scheduling nor claims): since when and why. */
  paused: z.object({ at: instant, reason: z.string() }).nullable(),
  effectiveRate: z
    .object({
      type: z.object({ count: z.number(), perMs: ms }).nullable().describe("the type's rateLimit as throttle signals left it (count not rounded); null without rateLimit"),
      keys: z.array(z.object({ key: z.string(), count: z.number(), perMs: ms })).describe('keys whose rate is below rateLimitPerKey, the most throttled first (at most 100)'),
    })
    .nullable()
    .describe('the rates in force now (docs/limits.md#adaptive-limits); null for a type without rate limits'),
});

/** The options of a cron or rrule schedule as stored (docs/guide.md#schedules); absent ones have their default. */
const calendarOptions = {
  catchUp: z.enum(CATCH_UP_POLICIES).optional().describe('missed occurrences: none, latest (absent: the default) or all'),
  catchUpWindowMs: ms.optional().describe('only missed occurrences at most this old are caught up'),
  jitterMs: ms.optional().describe('each occurrence is due a pseudo-random offset in [0, jitterMs) after it'),
  startAt: instant.optional(),
  endAt: instant.optional(),
  exclude: z.array(z.string()).optional().describe('local dates (YYYY-MM-DD, in the schedule zone) and instants without occurrence'),
};
const ScheduleSchema = z.union([
  z.object({ kind: z.literal('adaptive') }),
  z.object({ kind: z.literal('cron'), expr: z.string(), tz: z.string(), ...calendarOptions }),
  z.object({ kind: z.literal('rrule'), rule: z.string(), ...calendarOptions }),
]);

export const TaskSchema = z.object({
  id: z.number().int(),
  type: z.string(),
  arguments: z.object({ args: z.array(z.unknown()), kwargs: z.record(z.string(), z.unknown()) }),
  policy: z.enum(TASK_POLICIES),
  schedule: ScheduleSchema,
  nextRun: instant,
  scheduledFor: instant.describe("the instant the next run serves: a cron or rrule task's occurrence (nextRun is later by its jitter or a retry's delay)"),
  currentIntervalMs: ms.nullable(),
  status: z.enum(TASK_STATUSES),
  disabledReason: z.enum(DISABLED_REASONS).nullable(),
  retriesLeft: z.number().int(),
  consecutiveAbandons: z.number().int(),
  priority: z.enum(PRIORITIES).nullable(),
  nextAttempt: z.number().int(),
  key: z.string().nullable(),
  concurrencyKey: z.string().nullable(),
  created: instant,
  /** Set while the task's schedule is paused: since when and why. */
  paused: z.object({ at: instant, reason: z.string() }).nullable().optional(),
});

export const RunSchema = z.object({
  id: z.number().int(),
  task: z.number().int(),
  type: z.string(),
  backendId: z.string(),
  status: z.enum(RUN_STATUSES),
  scheduled: instant,
  scheduledFor: instant.describe("the instant the run serves: its task's occurrence (a backfill's too), else the instant its task was due"),
  started: instant.nullable(),
  ended: instant.nullable(),
  metadata: z.record(z.string(), z.unknown()),
  result: z.unknown(),
  error: z.string().nullable(),
  worker: z.string().nullable(),
  leaseExpiresAt: instant.nullable(),
  attempt: z.number().int(),
  cancelRequested: z.boolean(),
  backfill: z.number().int().optional().describe('set on a run made by a task backfill: its id'),
});

export const TaskWithRunsSchema = TaskSchema.extend({ runs: z.array(RunSchema) });
export const LogRecordSchema = z.object({ at: instant, level: z.enum(LOG_LEVELS), message: z.string(), attributes: z.record(z.string(), z.unknown()) });
/** A record as stored: `id` increases in the order records reached the store (the `after` cursor of live logs). */
export const StoredLogRecordSchema = LogRecordSchema.extend({ id: z.number().int().describe('increases in the order records reached the store: the `after` cursor') });
export const ClaimedRunSchema = z.object({
  run: RunSchema,
  arguments: TaskSchema.shape.arguments,
  backendName: z.string(),
  leaseMs: ms,
  timeoutMs: ms.nullable(),
  trace: z
    .object({
      context: z.string().describe('W3C trace context its task was created under: `TRACEPARENT` or `TRACEPARENT TRACESTATE`'),
      link: z.boolean().describe("true for a recurring task: the run's span starts a trace of its own, linked to it; false: a child of it"),
    })
    .optional()
    .describe('present when its task was created under a recording OpenTelemetry span (docs/tracing.md)'),
});
export const CancelRunResultSchema = z.object({
  outcome: z.enum(['ended', 'requested']).describe('ended: the run was waiting and ended at once; requested: its worker was asked to stop it'),
  run: RunSchema,
  task: TaskSchema,
  taskUpdated: z.boolean(),
});
export const HeartbeatAnswerSchema = z.object({ leaseExpiresAt: instant, cancelRequested: z.boolean() });
export const HeartbeatRunsAnswerSchema = z.object({
  renewed: z.number().int().describe('runs whose lease was renewed'),
  lost: z.array(z.string()).describe('runs the worker no longer holds: their handlers should stop'),
  cancelRequested: z.array(z.string()).describe('held runs whose cancellation was asked for'),
});
export const EndRunResultSchema = z.object({ run: RunSchema, task: TaskSchema, taskUpdated: z.boolean(), note: z.string().optional() });
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })),
    requestId: z.string().optional().describe('on 5xx answers: the id the server logged the error under (also the x-request-id header)'),
  }),
});

// --- request contracts the HTTP layer checks itself (task and task type bodies are checked by core) ---
// Lengths in characters are UTF-16 code units, as core counts them (zod's max counts code points: 101
// emoji passed the route's 200 and were refused by core with another message).
// Each keeps `max` for the document's maxLength, and refines with the count core makes.
const unitsAtMost = (n: number) => [(s: string) => s.length <= n, `at most ${n} characters`] as const;
const nonEmpty = z.string().min(1).max(256).refine(...unitsAtMost(256));
/** A worker id, as the registry and the CLI's --id take it (core MAX_WORKER_ID). */
const workerId = z
  .string()
  .min(1)
  .max(MAX_WORKER_ID)
  .refine(...unitsAtMost(MAX_WORKER_ID))
  .refine((s) => s.trim() !== '', BLANK_WORKER_ID);
/**
 * An instant in a request: ISO 8601 with an offset, or without one (or a date alone) read as UTC, as
 * the CLI reads it (core parseInstant); parsed to a Date. The archive's `before` keeps its own rule.
 */
export const isoInstant = z
  .string()
  .max(64)
  .regex(ISO_INSTANT, 'must be an ISO 8601 instant')
  .transform((s, ctx) => {
    try {
      return parseInstant(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 instant' });
      return z.NEVER;
    }
  });

/** A task id: task ids are 8-byte integers read as JS numbers, so at most 2^53-1. */
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const IdsBody = z.strictObject({ ids: z.array(id).min(1).max(10_000) });
export const RespawnBody = z.strictObject({ ids: z.array(id).min(1).max(10_000), nextRun: isoInstant.optional() });
export const ScheduleBody = z.strictObject({ type: nonEmpty.optional(), at: isoInstant.optional() });
/** The tasks are validated by the service (naming `tasks[i].field`); the document shows their shape. */
export const BatchBody = z.strictObject({ tasks: z.array(documentedAs(z.unknown(), TaskInputDoc)).min(1).max(1_000_000) });
export const BatchQuery = z.strictObject({ return: z.enum(['tasks', 'ids', 'count']).optional() });
const batchCounts = {
  count: z.number().int().describe('tasks in the batch (an import: its non-blank lines)'),
  created: z.number().int().describe('tasks inserted'),
  existing: z.number().int().describe('tasks not inserted: an equal active task exists (or came earlier in the input)'),
  replaced: z.number().int().describe('existing tasks updated by onConflict "replace"'),
};
export const BatchTasksAnswer = z.object({ tasks: z.array(TaskSchema), created: z.number().int() });
export const BatchCountAnswer = z.strictObject(batchCounts);
export const BatchIdsAnswer = z.strictObject({ ids: z.array(z.number().int()).describe('each task\'s id, in input order'), ...batchCounts });
export const ImportQuery = z.strictObject({ return: z.enum(['count', 'ids']).optional() });
export const ImportAnswer = z.strictObject({
  lines: z.number().int().describe('lines read, blank lines included'),
  ...batchCounts,
  ids: z.array(z.number().int()).optional().describe('with ?return=ids: each task\'s id, in line order'),
  durationMs: z.number().int(),
});
export const CancelBody = z.strictObject({ at: isoInstant.optional() });
export const StartBody = z.strictObject({ worker: workerId.optional(), metadata: z.record(z.string(), z.unknown()).optional(), at: isoInstant.optional() });
const endFields = {
  status: z.enum(RUN_END_STATUSES),
  worker: workerId.optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  result: z.unknown().optional(),
  error: z.string().max(1_000_000).nullable().optional(),
  // Bounded so that `ended + retryAfterMs` stays a valid date: the library's rule (core/duration-limit.ts), its message.
  retryAfterMs: z
    .number()
    .check((ctx) => {
      const p = durationMsProblem(ctx.value);
      if (p) ctx.issues.push({ code: 'custom', message: p, input: ctx.value });
    })
    .describe('an integer number of milliseconds, from 0 to 100 years')
    // The document shows the bounds the check enforces (the check gives the library's own message).
    .meta({ type: 'integer', minimum: 0, maximum: MAX_DURATION_MS })
    .optional(),
  throttle: z.boolean().optional().describe("the handler met pressure downstream: the effective rate of the run's type, or of its key, drops (docs/limits.md#adaptive-limits)"),
};
export const EndBody = z.strictObject({
  ...endFields,
  at: isoInstant.optional(),
  startedAt: isoInstant.optional().describe('when the handler began: recorded as the started instant of a run still claimed (as /api/jobboard/end records it)'),
});
export const ClaimBody = z.strictObject({
  worker: workerId,
  types: z.array(nonEmpty).min(1).max(MAX_WORKER_TYPES),
  limit: z.number().int().min(1).max(MAX_HTTP_CLAIM),
  /** Also claim due tasks directly when waiting runs do not fill the limit (default true). */
  due: z.boolean().optional(),
  /** How many of the claimed runs start at once (the worker's free slots; default `limit`); the rest are `claimed` (claim ahead). */
  startNow: z.number().int().min(0).max(MAX_HTTP_CLAIM).optional(),
});
export const HeartbeatRunsBody = z.strictObject({
  worker: workerId,
  runs: z.array(z.strictObject({ backendId: nonEmpty, startedAt: isoInstant.optional() })).max(MAX_REQUEST_HEARTBEAT_RUNS),
});
export const ReleaseBody = z.strictObject({
  worker: workerId,
  backendIds: z.array(nonEmpty).max(MAX_REQUEST_RELEASE_RUNS),
  withdrawnOnly: z.boolean().optional().describe('only let go of runs withdrawn from the worker (their leases cleared); give nothing back'),
});
export const WorkerBody = z.strictObject({ worker: workerId });
export const HeartbeatBody = z.strictObject({ backendId: nonEmpty, worker: workerId });
export const JobboardEndBody = z.strictObject({
  items: z
    .array(
      z.strictObject({
        backendId: nonEmpty,
        ...endFields,
        status: z.enum(HOLDER_END_STATUSES, { error: 'must be eventful, uneventful, failed or permfailed (a holder gives a run back with /api/jobboard/abandon)' }),
        worker: workerId,
        startedAt: isoInstant.optional(),
      }),
    )
    .min(1)
    .max(MAX_REQUEST_END_ITEMS),
});
export const AbandonBody = z.strictObject({ backendId: nonEmpty, worker: workerId, reason: z.string().max(10_000).optional(), startedAt: isoInstant.optional() });
export const LogsBody = z.strictObject({
  backendId: nonEmpty,
  records: z.array(z.strictObject({ at: isoInstant, level: z.enum(LOG_LEVELS), message: z.string().max(MAX_LOG_MESSAGE).refine(...unitsAtMost(MAX_LOG_MESSAGE)), attributes: z.record(z.string(), z.unknown()).default({}) })).max(MAX_LOG_APPEND),
});
/** A comma-separated list of some of `values` (one at least). */
const commaList = (values: readonly string[], plural: string) =>
  z
    .string()
    .max(200)
    .refine((v) => v.split(',').every((x) => values.includes(x.trim())), { message: `must be ${plural}, comma-separated, each one of ${values.join(', ')}` });

/** Task search filters (core/task-search.ts), shared by GET /api/tasks and the bulk actions' `filter`. */
const taskFilterFields = {
  type: nonEmpty.optional(),
  status: commaList(TASK_STATUSES, 'task statuses').optional().describe(`task statuses, comma-separated (${TASK_STATUSES.join(', ')})`),
  priority: z.enum([...PRIORITIES, 'none']).optional(),
  policy: z.enum(TASK_POLICIES).optional(),
  disabledReason: commaList(DISABLED_REASONS, 'disabled reasons').optional().describe(`disabled reasons, comma-separated (${DISABLED_REASONS.join(', ')}); implies status disabled`),
  nextRunFrom: z.string().max(64).optional().describe('ISO instant: tasks whose nextRun is at or after it'),
  nextRunBefore: z.string().max(64).optional().describe('ISO instant: tasks whose nextRun is before it'),
  concurrencyKey: z.string().min(1).max(512).optional().describe('tasks with this concurrency key'),
  args: z.string().min(1).max(512).optional().describe('argument text: a string value of args or kwargs (at any depth) contains it, ASCII case ignored'),
  argsMatch: z.enum(ARGS_MATCHES).optional().describe('substring (default) or prefix: the string value starts with the text'),
};
export const TaskQuery = z.strictObject({
  ...taskFilterFields,
  dagAttempts: z.enum(['true', 'false']).optional().describe('false: leave out DAG attempts (as the dead-letter bin does); true: only those'),
  paused: z.enum(['true', 'false']).optional().describe('true: only tasks whose schedule is paused; false: only those not paused'),
  cursor: z.string().regex(/^\d{1,15}$/, 'must be a cursor returned by a previous page').optional(),
  limit: queryInt(1, 1000, DEFAULT_TASK_PAGE).optional(),
});
/** The most tasks one `GET /api/tasks/pending` answers. */
const MAX_PENDING_PAGE = 10_000;
/** `GET /api/tasks/pending`: the library's `listPending(type, { limit, at })`. */
export const PendingQuery = z.strictObject({
  type: nonEmpty,
  limit: queryInt(1, MAX_PENDING_PAGE, 1000).optional().describe(`at most this many (default 1000, at most ${MAX_PENDING_PAGE})`),
  at: isoInstant.optional().describe('due at this instant (default now)'),
});
export const TaskPage = z.object({
  items: z.array(TaskSchema),
  nextCursor: z.string().nullable(),
  partial: z.boolean().describe(`the page examined ${TASK_SCAN_LIMIT} tasks of its index range before finding \`limit\` matches: more may match after nextCursor`),
});
/** The selection of a bulk action: exactly one of filter, ids, runs or all (engine/bulk-tasks.ts). */
export const BulkBody = z.strictObject({
  filter: z.strictObject({ ...taskFilterFields, dagAttempts: z.boolean().optional(), paused: z.boolean().optional() }).optional().describe('the tasks a task search finds (at least one filter)'),
  ids: z.array(id).min(1).max(10_000).optional().describe('these tasks'),
  runs: z
    .strictObject({
      status: z.string().max(200).optional(),
      type: nonEmpty.optional(),
      worker: nonEmpty.optional(),
      since: z.string().max(64).optional(),
      until: z.string().max(64).optional(),
    })
    .optional()
    .describe('the tasks of the runs a run search finds (GET /api/runs filters): retry failed runs'),
  all: z.boolean().optional().describe('true: every task (the action still applies only to the statuses it takes)'),
  dryRun: z.boolean().optional().describe('count the tasks the action would take; change nothing'),
  nextRun: isoInstant.optional().describe('respawn and redrive: when the tasks are due (default now)'),
});
export const BulkResultSchema = z.object({
  action: z.enum(BULK_ACTIONS),
  dryRun: z.boolean(),
  matched: z.number().int().describe('tasks the selection matched, narrowed to what the action takes'),
  changed: z.number().int().describe('tasks the action changed (0 on a dry run)'),
  skipped: z.partialRecord(z.enum(BULK_SKIPS), z.number().int()).describe('tasks left alone, by reason (only the reasons that occurred)'),
  batches: z.number().int(),
});
export const RunQuery = z.strictObject({
  status: z.string().max(200).optional().describe(`run statuses, comma-separated (${RUN_STATUSES.join(', ')}); only final ones: newest ended first`),
  type: nonEmpty.optional(),
  worker: nonEmpty.optional(),
  since: z.string().max(64).optional().describe('ISO instant: runs ended (all statuses final) or scheduled (otherwise) at or after it'),
  until: z.string().max(64).optional().describe('ISO instant: ... before it'),
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page (same filters)'),
  limit: queryInt(1, 1000, DEFAULT_RUN_PAGE).optional(),
});
/** `GET /api/tasks/{id}?runs=N` and `GET /api/tasks/{id}/runs?last=N`: only the newest N runs of the task (still oldest first). */
export const TaskRunsQuery = z.strictObject({ runs: queryInt(1, MAX_LAST_RUNS).optional().describe('only the newest this many runs (still oldest first); default: every run') });
export const WaitQuery = z.strictObject({
  timeoutMs: queryInt(0, MAX_HTTP_WAIT_MS, DEFAULT_HTTP_WAIT_MS).optional().describe(`answer after this many ms at most, finished or not (default 30000, at most ${MAX_HTTP_WAIT_MS})`),
});
export const TaskWaitSchema = z.object({
  finished: z.boolean().describe('the task is completed or disabled: it will not run again by itself'),
  task: TaskSchema,
  run: RunSchema.nullable().describe('its newest run; null before its first'),
});
export const LastRunsQuery = z.strictObject({ last: queryInt(1, MAX_LAST_RUNS).optional().describe('only the newest this many runs (still oldest first); default: every run') });
export const RunLogsQuery = z.strictObject({
  after: queryInt(0, Number.MAX_SAFE_INTEGER).optional().describe('only records with a greater id (the id of the last record already read)'),
  limit: queryInt(1, MAX_LOG_PAGE).optional().describe('at most this many records (default: all)'),
});
export const RunPage = z.object({ items: z.array(RunSchema), nextCursor: z.string().nullable() });
export const EndOutcomes = z.object({ outcomes: z.array(z.union([z.object({ ok: EndRunResultSchema }), ErrorSchema])) });

/** `GET /api/tasks/{id}/why` (core/why.ts WhyAnswer). */
export const WhyAnswerSchema = z.object({
  task: z.number().int(),
  at: instant,
  state: z.enum(['running', 'held', 'waiting', 'blocked', 'done']),
  heldBy: z.enum(GATES).nullable(),
  summary: z.string(),
  until: instant.optional(),
  gates: z.array(z.object({ gate: z.enum(GATES), verdict: z.enum(['pass', 'hold', 'skip']), detail: z.string(), until: instant.optional() })),
});
