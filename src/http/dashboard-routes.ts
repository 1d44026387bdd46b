import { z } from 'zod';
import { RUN_END_STATUSES } from '../core/model.js';
import { WORKER_LIVENESS } from '../core/worker-liveness.js';
import { SERIES_RANGE_NAMES, SERIES_RANGES } from '../core/run-series.js';
import type { Route } from './routes.js';
import { ErrorSchema, queryInt } from './schemas.js';

/** Read-only views for dashboards (the web dashboard's overview): queues, run rates, workers. */
const instant = z.string().describe('ISO 8601 instant, UTC, with milliseconds');
const count = z.number().int().nonnegative();

const QueueStatsSchema = z.object({
  type: z.string(),
  scheduled: count.describe('runs waiting to be claimed'),
  running: count.describe('runs whose handler has begun (started)'),
  claimed: count.describe('runs claimed by workers and waiting in their buffers'),
  oldestScheduled: instant.nullable().describe('when the oldest waiting run was scheduled'),
  deadLettered: count.describe('tasks disabled as dead_letter'),
  pausedTasks: count.describe('tasks whose schedule is paused'),
});
const DueStatsSchema = z.object({
  type: z.string(),
  due: count.describe('due tasks no run serves yet (not queued), counted up to `cap`'),
  capped: z.boolean().describe('the count reached the cap: at least that many are due'),
  oldestDue: instant.describe('the earliest next run among them'),
});
const AlertsSchema = z.object({
  at: instant.describe("the server's instant of the reading"),
  waiting: count.describe('alerts (task and DAG) stored and not yet delivered'),
  failing: count.describe('of them, those whose delivery failed at least once'),
  oldest: instant.nullable().describe('the instant the oldest waiting alert is about (its run ended, its DAG step recorded the failure)'),
});
const RunRateSchema = z.object({ type: z.string(), status: z.enum(RUN_END_STATUSES), minute: instant, count });
const RunRatesSchema = z.object({ since: instant, at: instant, rates: z.array(RunRateSchema) });
const WorkerSchema = z.object({
  worker: z.string().describe('the worker id (the one recorded on the runs it claims)'),
  running: count.describe('runs it holds now'),
  lastHeartbeat: instant.nullable().describe('its latest lease renewal (claim or heartbeat) of a run it holds'),
  lastEnded: instant.nullable().describe('when it last ended a run within the window'),
  ended: count.describe('runs it ended within the window'),
  lastSeen: instant.nullable().describe('its latest sign of life: the latest of its registry refresh, lastHeartbeat and lastEnded'),
  liveness: z.enum(WORKER_LIVENESS).describe('`stopped` when it marked itself stopped (graceful stop) and was not seen since; otherwise from the age of lastSeen: `alive` (30 s or less), `stale` (5 min or less), `gone` (older)'),
  registered: z.boolean().describe('whether the worker registry holds it; false for a worker known only by its runs (its registry fields are null)'),
  host: z.string().nullable().describe('the machine it runs on'),
  pid: z.number().int().nullable().describe('its process id'),
  types: z.array(z.string()).nullable().describe('the task types it handles'),
  concurrency: z.number().int().nullable().describe('runs it executes at once'),
  startedAt: instant.nullable().describe('when it registered'),
  stoppedAt: instant.nullable().describe('when it marked itself stopped (graceful stop)'),
});
const WindowQuery = z.strictObject({
  minutes: queryInt(1, 1440, 60).optional().describe('the window: this many minutes before now (default 60)'),
});

const ms = z.number().int().nonnegative();
const SeriesPointSchema = z.object({
  at: instant.describe('start of the bucket'),
  ended: z.object(Object.fromEntries(RUN_END_STATUSES.map((s) => [s, count])) as Record<(typeof RUN_END_STATUSES)[number], typeof count>).describe('runs that ended in the bucket, per final status'),
  started: count.describe('of those runs, the ones that had started (the latencies are theirs)'),
  latencyMeanMs: ms.nullable().describe('mean start latency (started − scheduled), ms; null when no run had started'),
  latencyP95Ms: ms.nullable().describe('95th percentile of the start latency (nearest rank), ms'),
  latencyMaxMs: ms.nullable().describe('longest start latency, ms'),
});
const SeriesSchema = z.object({
  range: z.enum(SERIES_RANGE_NAMES as [string, ...string[]]),
  since: instant.describe('start of the first bucket'),
  until: instant.describe('end of the last bucket (exclusive); the last bucket holds the instant of the reading'),
  bucketMs: count.describe('width of a bucket: 1 min (1h), 15 min (24h) or 1 h (7d)'),
  type: z.string().nullable().describe('the task type the series is limited to; null: every type'),
  points: z.array(SeriesPointSchema).describe('one point per bucket, oldest first, empty buckets included'),
});
const SeriesQuery = z.strictObject({
  range: z.enum(SERIES_RANGE_NAMES as [string, ...string[]]).optional().describe(`the range: ${SERIES_RANGE_NAMES.map((r) => `\`${r}\` (${SERIES_RANGES[r].rangeMs / SERIES_RANGES[r].bucketMs} buckets)`).join(', ')}; default \`1h\``),
  type: z.string().min(1).max(128).optional().describe('only the runs of this task type'),
});

export const dashboardRoutes: Route[] = [
  {
    method: 'get', path: '/stats/queues', tag: 'dashboard', summary: "Every task type's queue: waiting and running runs, the oldest waiting run, dead letters",
    responses: { 200: z.array(QueueStatsSchema) },
    handler: async (o) => ({ body: await o.queueStats() }),
  },
  {
    method: 'get', path: '/stats/due', tag: 'dashboard',
    summary: 'Task types with due tasks no run serves yet (due, not queued): how many (up to 100,000) and the oldest due instant',
    responses: { 200: z.array(DueStatsSchema) },
    handler: async (o) => ({ body: await o.dueStats() }),
  },
  {
    method: 'get', path: '/stats/run-rates', tag: 'dashboard', summary: 'Runs ended per type, final status and minute over the last `minutes` (whole minutes)',
    query: WindowQuery,
    responses: { 200: RunRatesSchema, 400: ErrorSchema },
    handler: async (o, { query }) => ({ body: await o.runRates({ ...(query.minutes !== undefined ? { minutes: query.minutes } : {}) }) }),
  },
  {
    method: 'get', path: '/stats/series', tag: 'dashboard',
    summary: 'Runs ended per bucket and final status over a range (1h, 24h, 7d), with their start latency (mean, p95, max): the throughput, failure and latency charts',
    query: SeriesQuery,
    responses: { 200: SeriesSchema, 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { query }) => ({
      body: await o.runSeries({ ...(query.range !== undefined ? { range: query.range } : {}), ...(query.type !== undefined ? { type: query.type } : {}) }),
    }),
  },
  {
    method: 'get', path: '/workers', tag: 'dashboard',
    summary: 'Workers registered and seen in the last `minutes` (stopped ones too), holding runs now, or that ended runs in that window, with their liveness (alive, stale, gone, stopped); alive first',
    query: WindowQuery,
    responses: { 200: z.array(WorkerSchema), 400: ErrorSchema },
    handler: async (o, { query }) => ({ body: await o.listWorkers({ ...(query.minutes !== undefined ? { minutes: query.minutes } : {}) }) }),
  },
  {
    method: 'get', path: '/alerts', tag: 'dashboard',
    summary: 'Alerts stored with run ends and DAG steps and not yet delivered by a process with a notifier (docs/guide.md#alerts), from every process on the database',
    responses: { 200: AlertsSchema },
    handler: async (o) => {
      const w = await o.store.alerts.waitingAlerts();
      return { body: { at: o.now(), waiting: w.waiting, failing: w.failing, oldest: w.oldest } };
    },
  },
];
