import { z } from 'zod';
import { DST_MARKS } from '../core/schedule-preview.js';
import { BACKFILL_STATUSES } from '../store/schedule-store.js';
import { DagRunSchema } from './dag-schemas.js';
import type { Route } from './routes.js';
import { ErrorSchema, isoInstant as instantAt, pathId, queryInt, RunSchema } from './schemas.js';

/** Schedules (docs/guide.md#schedules): previews of upcoming occurrences, task and DAG backfills. */
const instant = z.string().describe('ISO 8601 instant, UTC, with milliseconds');
const int = z.number().int();
const taskId = pathId('a task id');
const backfillId = pathId('a backfill id');
const dagId = z.string().min(1); // no length bound: a DAG id too long to exist is not found (404), as in the library
const count = queryInt(1, 1000, 5).optional().describe('how many occurrences (1 to 1000, default 5)');
const isoInstant = z.string().min(1).max(64).describe('ISO 8601 instant');

export const PreviewEntrySchema = z.object({
  at: instant.describe('the occurrence'),
  due: instant.describe("when it is due: the occurrence plus the task's jitter"),
  local: z.string().describe("its local time with offset, in the schedule's zone"),
  dst: z.enum(DST_MARKS).nullable().describe('skipped: the asked local time does not exist that day (moved to the end of the gap); repeated-first / repeated-second: it happens twice that night'),
});
export const PreviewSchema = z.object({ zone: z.string().describe('the IANA zone of the schedule'), occurrences: z.array(PreviewEntrySchema) });
export const BackfillSchema = z.object({
  id: int,
  task: int,
  from: instant,
  to: instant,
  nextPoint: instant.nullable().describe('the next occurrence to get a run; null once every one has had its run'),
  total: int.describe('occurrences in the range'),
  status: z.enum(BACKFILL_STATUSES),
  created: instant,
  updated: instant,
});
export const BackfillProgressSchema = BackfillSchema.extend({ runs: z.array(RunSchema).describe('the runs made so far, oldest first') });

export const PreviewQuery = z.strictObject({
  cron: z.string().min(1).max(256).optional().describe('a cron expression'),
  tz: z.string().min(1).max(64).optional().describe("the cron expression's IANA zone (default UTC)"),
  rrule: z.string().min(1).max(4096).optional().describe('an RFC 5545 rule, with an optional DTSTART and EXDATE lines'),
  count,
  from: isoInstant.optional().describe('the first occurrence is at or after this instant (default now)'),
});
export const CountQuery = z.strictObject({ count });
const at = instantAt.optional().describe("the instant the call is made at (default the server's clock): which occurrence a late task serves, which range is in the past");
export const NextQuery = z.strictObject({ count, at });
export const BackfillBody = z.strictObject({ from: isoInstant, to: isoInstant, at });
export const DagBackfillBody = z.strictObject({ from: isoInstant, to: isoInstant, params: z.record(z.string(), z.unknown()).optional() });

export const scheduleRoutes: Route[] = [
  {
    method: 'get', path: '/schedules/preview', tag: 'schedules',
    summary: 'The next occurrences of a cron expression (with its zone) or an rrule, in UTC and local time, DST changes marked',
    query: PreviewQuery,
    responses: { 200: PreviewSchema, 400: ErrorSchema },
    handler: async (o, { query }) => ({ body: o.schedules.preview(query) }),
  },
  {
    method: 'get', path: '/tasks/:id/next', tag: 'schedules',
    summary: "A task's next occurrences (the one its next run serves first) with their due instants (jitter)",
    params: { id: taskId }, query: NextQuery,
    responses: { 200: PreviewSchema.extend({ task: int }), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params, query }) => ({
      body: await o.schedules.next(params.id as number, { ...(query.count !== undefined ? { count: query.count } : {}), ...(query.at !== undefined ? { at: query.at } : {}) }),
    }),
  },
  {
    method: 'post', path: '/tasks/:id/backfill', tag: 'schedules',
    summary: 'Backfill a cron or rrule task: every occurrence in [from, to] runs once, in order, one at a time (409 while another backfill of the task runs)',
    params: { id: taskId }, body: BackfillBody,
    responses: { 201: BackfillSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
    handler: async (o, { params, body }) => ({ status: 201, body: await o.schedules.backfill(params.id as number, { from: body.from, to: body.to }, body.at !== undefined ? { at: body.at } : {}) }),
  },
  {
    method: 'get', path: '/tasks/:id/backfills', tag: 'schedules', summary: "A task's backfills, newest first",
    params: { id: taskId },
    responses: { 200: z.array(BackfillSchema), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.schedules.backfills(params.id as number) }),
  },
  {
    method: 'get', path: '/backfills/:id', tag: 'schedules', summary: 'A task backfill with the runs it made so far (each serves run.scheduledFor)',
    params: { id: backfillId },
    responses: { 200: BackfillProgressSchema, 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.schedules.progress(params.id as number) }),
  },
  {
    method: 'post', path: '/backfills/:id/cancel', tag: 'schedules', summary: 'Stop a running backfill: no further occurrence gets a run (409 if it already ended)',
    params: { id: backfillId },
    responses: { 200: BackfillSchema, 400: ErrorSchema, 404: ErrorSchema, 409: ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.schedules.cancelBackfill(params.id as number) }),
  },
  {
    method: 'post', path: '/dags/:id/backfill', tag: 'schedules',
    summary: "Backfill a DAG: a waiting run (trigger backfill) per schedule point in [from, to], started in order within the DAG's limit",
    params: { id: dagId }, body: DagBackfillBody,
    responses: { 201: z.object({ runs: z.array(DagRunSchema) }), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params, body }) => ({ status: 201, body: { runs: await o.dags.backfill(params.id as string, body) } }),
  },
  {
    method: 'get', path: '/dags/:id/next', tag: 'schedules', summary: "A DAG's next schedule points, in UTC and local time, DST changes marked",
    params: { id: dagId }, query: CountQuery,
    responses: { 200: PreviewSchema.extend({ dag: z.string() }), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params, query }) => ({ body: await o.dags.next(params.id as string, { ...(query.count !== undefined ? { count: query.count } : {}) }) }),
  },
];
