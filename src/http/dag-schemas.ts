import { z } from 'zod';
import { DAG_RUN_STATUSES, DAG_RUN_TRIGGERS, DAG_TASK_STATUSES } from '../core/dag.js';
import { dagInputSchema } from '../core/dag-input.js';
import { DAG_POINT_KINDS } from '../core/dag-schedule.js';
import { DAG_OVERLAP_POLICIES } from '../core/dag-overlap.js';
import { LogRecordSchema, queryInt, RunSchema, StoredLogRecordSchema } from './schemas.js';

/** DAG response shapes (SPEC §3, §6.3): instants are ISO 8601 strings, durations integer ms in `...Ms` fields. */
const instant = z.string().describe('ISO 8601 instant, UTC, with milliseconds');
const int = z.number().int();

const DagScheduleSchema = z.union([
  z.object({ kind: z.literal('cron'), expr: z.string(), tz: z.string() }),
  z.object({ kind: z.literal('interval'), everyMs: int.positive() }),
  z.object({ kind: z.literal('none') }),
]);

export const DagTaskSpecSchema = z.object({
  id: z.string(),
  after: z.array(z.string()),
  retries: int,
  retryDelayMs: int.nonnegative(),
  timeoutMs: int.positive().nullable(),
  type: z.string(),
});

const taskCounts = z.partialRecord(z.enum(DAG_TASK_STATUSES), int).describe('number of tasks in each status');
const runCounts = z.partialRecord(z.enum(DAG_RUN_STATUSES), int).describe('number of runs in each status');

export const DagRunSchema = z.object({
  id: int,
  dag: z.string(),
  version: z.string().describe('the structure version the run keeps for its whole life'),
  execTs: instant,
  trigger: z.enum(DAG_RUN_TRIGGERS),
  status: z.enum(DAG_RUN_STATUSES),
  params: z.record(z.string(), z.unknown()),
  rev: int,
  restarts: int,
  created: instant,
  started: instant.nullable(),
  ended: instant.nullable(),
});

export const DagRunSummarySchema = DagRunSchema.extend({ tasks: taskCounts });

export const DagPointSchema = z.object({
  id: int,
  dag: z.string(),
  kind: z.enum(DAG_POINT_KINDS),
  execTs: instant,
  untilTs: instant.nullable().describe('the last point of a skipped range (null for one point)'),
  count: int,
  run: int.nullable(),
  recorded: instant,
});

export const DagSummarySchema = z.object({
  id: z.string(),
  description: z.string(),
  version: z.string(),
  schedule: DagScheduleSchema,
  start: instant,
  catchUp: z.boolean(),
  maxActiveRuns: int,
  overlap: z.enum(DAG_OVERLAP_POLICIES).describe('what a schedule point does while an earlier run is active'),
  nextPoint: instant.nullable(),
  created: instant,
  updated: instant,
  /** Set while the DAG is paused (no new run, no new task of its active runs): since when and why. */
  paused: z.object({ at: instant, reason: z.string() }).nullable(),
  tasks: z.array(DagTaskSpecSchema),
  runs: runCounts,
  latest: z.array(DagRunSummarySchema).describe('the latest runs, newest first'),
});

/** A DAG as stored (what pause and resume answer). */
export const DagSchema = DagSummarySchema.omit({ tasks: true, runs: true, latest: true });

export const DagDetailSchema = DagSummarySchema.extend({ points: z.array(DagPointSchema).describe('recorded schedule points, newest first') });

export const DagTaskViewSchema = z.object({
  taskId: z.string(),
  after: z.array(z.string()),
  status: z.enum(DAG_TASK_STATUSES),
  attempts: int,
  retriesLeft: int,
  started: instant.nullable().describe("its first attempt's start, kept through restarts; null if it never ran"),
  ended: instant.nullable().describe("its last attempt's end; null while unfinished"),
  durationMs: int.nonnegative().nullable().describe('from started to ended'),
  error: z.string().nullable(),
  result: z.unknown(),
  orreryTask: int.nullable(),
});

export const DagRunDetailSchema = DagRunSchema.extend({ tasks: z.array(DagTaskViewSchema) });

export const DagAttemptSchema = z.object({
  attempt: int,
  orreryTask: int,
  notBefore: instant,
  // A run archived to the tables comes back from there: its log records have no `id`.
  runs: z.array(RunSchema.extend({ logs: z.array(StoredLogRecordSchema.partial({ id: true })) })),
});

export const RegisteredDagSchema = z.object({ id: z.string(), version: z.string(), created: z.boolean(), newVersion: z.boolean() });

// --- request contracts ---------------------------------------------------------------------------

/** Documents the definitions a sync sends; each one is validated by the service (core validation). */
export const DagsBody = z.strictObject({ dags: z.array(dagInputSchema).max(1000) });
/** What the HTTP layer checks itself before handing the definitions to the service. */
export const DagsEnvelope = z.strictObject({ dags: z.array(z.unknown()).max(1000, 'at most 1000 DAGs per request') });
export const TriggerBody = z.strictObject({ params: z.record(z.string(), z.unknown()).optional() });
export const DagListQuery = z.strictObject({ latest: queryInt(0, 100, 5).optional().describe('the latest runs of each DAG (default 5)') });
export const DagGetQuery = z.strictObject({ latest: queryInt(0, 100, 10).optional().describe('its latest runs (default 10)') });
export const DagRunsQuery = z.strictObject({
  status: z.enum(DAG_RUN_STATUSES).optional(),
  limit: queryInt(1, 1000, 100).optional(),
  beforeId: queryInt(1, Number.MAX_SAFE_INTEGER).optional(),
});

/** A DAG's recent runs by task (GET /api/dags/{id}/grid): rows = tasks, columns = runs, oldest first. */
export const DagGridSchema = z.object({
  dag: z.string(),
  tasks: z.array(z.object({
    taskId: z.string(),
    after: z.array(z.string()),
    current: z.boolean().describe('the task is in the current version (false: only older runs had it)'),
  })).describe("the grid's rows: the current version's tasks in dependency order, then tasks only older runs had"),
  runs: z.array(DagRunSchema.extend({
    cells: z.record(z.string(), z.object({
      status: z.enum(DAG_TASK_STATUSES),
      attempts: int,
      durationMs: int.nullable().describe("from its first attempt's start to its last attempt's end (retries, their delays and restarts included); null while unfinished"),
    })).describe('by task id; a task the run does not have has no cell'),
  })).describe("the grid's columns: the latest runs, oldest first"),
});

export const DagGridQuery = z.strictObject({
  limit: queryInt(1, 100, 25).optional().describe('how many of the latest runs (default 25)'),
});
