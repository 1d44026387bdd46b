import { z } from 'zod';
import { ValidationError, shown, type ErrorDetail } from '../core/errors.js';
import { detailsOfIssues, safeParseWorded } from '../core/zod-issues.js';
import { taskTypeInputDocSchema } from '../core/validation.js';
import { TaskInputDoc } from './doc-schemas.js';
import type { Orrery } from '../engine/service.js';
import type { CreatedTask } from '../store/store.js';
import { HttpError } from './errors.js';
import type { Context } from '@opentelemetry/api';
import * as S from './schemas.js';
import { DEFAULT_HTTP_WAIT_MS } from '../core/task-wait.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteInput {
  params: Record<string, string>;
  query: unknown;
  body: unknown;
}

export interface RouteResult {
  status?: number;
  body?: unknown;
  /** A JSON body sent in pieces as they come (a large answer is never one string). */
  stream?: AsyncIterable<string>;
}

/** One HTTP route: its contracts (which validate requests and generate the OpenAPI document) and its handler. */
export interface Route {
  method: Method;
  path: string;
  summary: string;
  tag: string;
  params?: Record<string, z.ZodType>;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The body contract is checked by the service with this schema (core validation); documented, not re-run here. */
  bodyCheckedByService?: boolean;
  /**
   * The body is a stream the handler reads itself (given as the Request in `body`), of this content
   * type, each line matching `line`: no body limit, no parsing here.
   */
  streamBody?: { contentType: string; line: z.ZodType };
  /** A `{"tasks": [...]}` body of up to 256 MB (else 4 MB), parsed a piece at a time. */
  largeBody?: boolean;
  /** The handler gets a `signal` aborted when the client leaves before the answer (a long poll). */
  watchesClient?: boolean;
  responses: Record<number, z.ZodType | null>;
  /**
   * `trace`: the OpenTelemetry context of the request's `traceparent`/`tracestate` headers, when an SDK
   * is registered and the header is valid (what it creates joins that trace: docs/tracing.md).
   */
  /**
   * `signal` (routes with `watchesClient`): aborted when the client goes away before the answer (a
   * long wait stops). `stopping`: the server has begun to stop (its request was checked as any other).
   */
  handler: (orrery: Orrery, input: { params: Record<string, unknown>; query: any; body: any; trace?: Context | undefined; signal?: AbortSignal; stopping?: boolean }) => Promise<RouteResult>;
}

/** Parses with a contract, turning zod issues into a ValidationError that names each field (one problem per field). */
export function parseContract<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = safeParseWorded(schema, value);
  if (r.success) return r.data;
  const details = detailsOfIssues(r.error.issues, where);
  const first = details[0]!;
  throw new ValidationError(`${first.path ? `${first.path}: ` : ''}${first.message}${details.length > 1 ? ` (and ${details.length - 1} more)` : ''}`, details);
}

const taskId = S.pathId('a task id');
/** No length bound: a backend id too long to exist is not found (404), as in the library (it was a 400). */
const backendId = z.string().min(1);
/** An optional instant the contract parsed (schemas.ts isoInstant) as the library's `at` option. */
const at = (d: Date | undefined) => (d === undefined ? {} : { at: d });

async function found<T>(value: Promise<T | null>, what: string, field = 'id'): Promise<T> {
  const v = await value;
  if (v === null) throw new HttpError('not_found', `${shown(what)} not found`, [{ path: field, message: `no ${shown(what)}` }]);
  return v;
}

const TASKS_PER_PIECE = 1000;

/** `{"tasks":[...],"created":n}` in pieces of 1,000 tasks, a turn of the event loop between pieces. */
async function* tasksAnswer(out: readonly CreatedTask[], created: number): AsyncGenerator<string> {
  yield '{"tasks":[';
  for (let i = 0; i < out.length; i += TASKS_PER_PIECE) {
    let piece = i === 0 ? '' : ',';
    const end = Math.min(out.length, i + TASKS_PER_PIECE);
    for (let j = i; j < end; j++) piece += (j === i ? '' : ',') + JSON.stringify(out[j]!.task);
    yield piece;
    await new Promise<void>((r) => setImmediate(r));
  }
  yield `],"created":${created}}`;
}

export const routes: Route[] = [
  {
    method: 'get', path: '/task-types', tag: 'task types', summary: 'List task types',
    responses: { 200: z.array(S.TaskTypeSchema) },
    handler: async (o) => ({ body: await o.listTaskTypes() }),
  },
  {
    method: 'post', path: '/task-types', tag: 'task types', summary: 'Create a task type (409 if the name exists)',
    body: taskTypeInputDocSchema, bodyCheckedByService: true,
    responses: { 201: S.TaskTypeSchema, 400: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { body }) => ({ status: 201, body: await o.createTaskType(body) }),
  },
  {
    method: 'get', path: '/task-types/:name', tag: 'task types', summary: 'Get a task type',
    params: { name: z.string().min(1) },
    responses: { 200: S.TaskTypeSchema, 404: S.ErrorSchema },
    handler: async (o, { params }) => ({ body: await found(o.getTaskType(params.name as string), `task type ${String(params.name)}`, 'name') }),
  },
  {
    method: 'post', path: '/tasks', tag: 'tasks', summary: 'Create a task; an equal active task is returned instead (200)',
    body: TaskInputDoc, bodyCheckedByService: true,
    responses: { 201: S.TaskSchema, 200: S.TaskSchema, 400: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { body, trace }) => {
      const [c] = await o.createTasksDetailed([body], trace ? { traceContext: trace } : {}, '');
      return { status: c!.created ? 201 : 200, body: c!.task };
    },
  },
  {
    method: 'post', path: '/tasks/batch', tag: 'tasks',
    summary: 'Create many tasks in one transaction; one invalid task rejects the batch. `return`: tasks (default), ids or count',
    body: S.BatchBody, query: S.BatchQuery, largeBody: true,
    responses: { 201: z.union([S.BatchTasksAnswer, S.BatchIdsAnswer, S.BatchCountAnswer]), 400: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { body, query, trace }) => {
      const want = (query as { return?: 'tasks' | 'ids' | 'count' }).return ?? 'tasks';
      const traced = trace ? { traceContext: trace } : {};
      if (want !== 'tasks') {
        const { ids, ...counts } = await o.createTasksSummary(body.tasks, { ids: want === 'ids', ...traced });
        return { status: 201, body: want === 'ids' ? { ids, ...counts } : counts };
      }
      const out = await o.createTasksDetailed(body.tasks, traced);
      const created = out.filter((c) => c.created).length;
      if (out.length <= TASKS_PER_PIECE) return { status: 201, body: { tasks: out.map((c) => c.task), created } };
      return { status: 201, stream: tasksAnswer(out, created) };
    },
  },
  {
    method: 'get', path: '/tasks', tag: 'tasks',
    summary: 'Search tasks by type, status, priority, paused, next-run range, concurrency key and argument text, in id order by keyset pages',
    query: S.TaskQuery,
    responses: { 200: S.TaskPage, 400: S.ErrorSchema },
    handler: async (o, { query }) => {
      const { dagAttempts, paused, ...rest } = query as Record<string, string | number | undefined>;
      const page = await o.findTasks({
        ...rest,
        ...(dagAttempts !== undefined ? { dagAttempts: dagAttempts === 'true' } : {}),
        ...(paused !== undefined ? { paused: paused === 'true' } : {}),
      });
      return { body: { items: page.tasks, nextCursor: page.nextCursor, partial: page.partial } };
    },
  },
  {
    // Before `/tasks/:id`: a route registered first answers a path both match.
    method: 'get', path: '/tasks/pending', tag: 'tasks', summary: 'Due tasks of a type not yet scheduled, in the order the runner would take them (late cron and rrule tasks as its catch-up moves them)',
    query: S.PendingQuery,
    responses: { 200: z.array(S.TaskSchema), 400: S.ErrorSchema },
    handler: async (o, { query }) => {
      const q = query as { type: string; limit?: number; at?: Date };
      return { body: await o.listPending(q.type, { ...(q.limit !== undefined ? { limit: q.limit } : {}), ...at(q.at) }) };
    },
  },
  {
    method: 'get', path: '/tasks/:id', tag: 'tasks', summary: 'Get a task with its runs (oldest first; `runs=N`: only the newest N)',
    params: { id: taskId },
    query: S.TaskRunsQuery,
    responses: { 200: S.TaskWithRunsSchema, 404: S.ErrorSchema },
    handler: async (o, { params, query }) => {
      const runs = (query as { runs?: number }).runs;
      return { body: await found(o.getTaskWithRuns(params.id as number, runs === undefined ? {} : { runs }), `task ${String(params.id)}`) };
    },
  },
  {
    method: 'get', path: '/runs', tag: 'runs',
    summary: 'Runs across tasks, newest first (by ended when every status asked for is final, else by id), keyset pages',
    query: S.RunQuery,
    responses: { 200: S.RunPage, 400: S.ErrorSchema },
    handler: async (o, { query }) => {
      const { runs, nextCursor } = await o.searchRuns(query);
      return { body: { items: runs, nextCursor } };
    },
  },
  {
    method: 'get', path: '/tasks/:id/why', tag: 'tasks',
    summary: "Why the task is (not) running: every gate in order (task status, DAG, type pause, due, queue length, limits, workers, its run), the first that holds it and until when",
    params: { id: taskId },
    responses: { 200: S.WhyAnswerSchema, 404: S.ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.whyTask(params.id as number) }),
  },
  {
    method: 'get', path: '/tasks/:id/wait', tag: 'tasks', watchesClient: true,
    summary: 'Wait until the task is finished (completed or disabled) or timeoutMs passes (long poll): `{ finished, task, run }`',
    params: { id: taskId },
    query: S.WaitQuery,
    responses: { 200: S.TaskWaitSchema, 404: S.ErrorSchema },
    handler: async (o, { params, query, signal }) => {
      const timeoutMs = (query as { timeoutMs?: number }).timeoutMs ?? DEFAULT_HTTP_WAIT_MS;
      return { body: await o.waitForTask(params.id as number, { timeoutMs, ...(signal ? { signal } : {}) }) };
    },
  },
  {
    method: 'get', path: '/tasks/:id/runs', tag: 'runs', summary: 'Runs of a task (oldest first; `last=N`: only the newest N)',
    params: { id: taskId },
    query: S.LastRunsQuery,
    responses: { 200: z.array(S.RunSchema), 404: S.ErrorSchema },
    handler: async (o, { params, query }) => {
      await found(o.getTask(params.id as number), `task ${String(params.id)}`);
      const last = (query as { last?: number }).last;
      return { body: await o.listRuns(params.id as number, last === undefined ? {} : { last }) };
    },
  },
  {
    method: 'post', path: '/tasks/disable', tag: 'tasks', summary: 'Disable tasks (their waiting runs are cancelled)',
    body: S.IdsBody,
    responses: { 200: z.array(S.TaskSchema), 400: S.ErrorSchema, 404: S.ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.disableTasks(body.ids) }),
  },
  {
    method: 'post', path: '/tasks/respawn', tag: 'tasks', summary: 'Re-enable tasks, due at nextRun (default now)',
    body: S.RespawnBody,
    responses: { 200: z.array(S.TaskSchema), 400: S.ErrorSchema, 404: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.respawnTasks(body.ids, body.nextRun ? { nextRun: body.nextRun as Date } : {}) }),
  },
  {
    method: 'post', path: '/tasks/schedule', tag: 'tasks', summary: 'One runner pass: schedule due tasks; returns the runs created',
    body: S.ScheduleBody,
    responses: { 200: z.array(S.RunSchema), 400: S.ErrorSchema, 404: S.ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.scheduleDue({ ...(body.type ? { type: body.type } : {}), ...at(body.at) }) }),
  },
  {
    method: 'get', path: '/runs/:backendId', tag: 'runs', summary: 'Get a run',
    params: { backendId },
    responses: { 200: S.RunSchema, 404: S.ErrorSchema },
    handler: async (o, { params }) => ({ body: await found(o.getRun(params.backendId as string), `run ${String(params.backendId)}`, 'backendId') }),
  },
  {
    method: 'get', path: '/runs/:backendId/logs', tag: 'runs',
    summary: "A run's log records in the order they reached the store; `after` (the last id read) gives only newer ones: poll it to follow a running run",
    params: { backendId }, query: S.RunLogsQuery,
    responses: { 200: z.array(S.StoredLogRecordSchema), 400: S.ErrorSchema, 404: S.ErrorSchema },
    handler: async (o, { params, query }) => ({ body: await o.getRunLogs(params.backendId as string, query) }),
  },
  {
    method: 'post', path: '/runs/:backendId/start', tag: 'runs', summary: 'Mark a scheduled run started from outside (external backend)',
    params: { backendId }, body: S.StartBody,
    responses: { 200: S.RunSchema, 404: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { params, body }) => ({
      body: await o.startRun(params.backendId as string, { ...(body.worker ? { worker: body.worker } : {}), ...(body.metadata ? { metadata: body.metadata } : {}), ...at(body.at) }),
    }),
  },
  {
    method: 'post', path: '/runs/:backendId/cancel', tag: 'runs',
    summary: 'Cancel a run: a waiting (scheduled or claimed) one ends lost (cancelled) at once; a started one is stopped by its worker and ends failed (409 if it already ended)',
    params: { backendId }, body: S.CancelBody,
    responses: { 200: S.CancelRunResultSchema, 400: S.ErrorSchema, 404: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { params, body }) => ({ body: await o.cancelRun(params.backendId as string, at(body?.at)) }),
  },
  {
    method: 'post', path: '/runs/:backendId/end', tag: 'runs', summary: 'End a run and apply the end-of-run formula',
    params: { backendId }, body: S.EndBody,
    responses: { 200: S.EndRunResultSchema, 404: S.ErrorSchema, 409: S.ErrorSchema, 422: S.ErrorSchema },
    handler: async (o, { params, body }) => ({ body: await o.endRun(params.backendId as string, { ...body, ...at(body.at) }) }),
  },
  {
    method: 'post', path: '/jobboard/claim', tag: 'jobboard', summary: 'Claim up to `limit` scheduled runs of the given types, then due tasks of types without limits unless `due` is false (leases start now)',
    body: S.ClaimBody,
    responses: { 200: z.array(S.ClaimedRunSchema), 400: S.ErrorSchema },
    // The task snapshot a claim returns serves in-process ends only: remote ends are planned by the server.
    // A stopping server hands out no more runs: a claim (checked as ever) gets none, as from an empty
    // queue, so nothing begins that would end after the server has closed.
    handler: async (o, { body, stopping }) => ({ body: stopping ? [] : (await o.claimRuns(body)).map(({ task: _task, ...c }) => c) }),
  },
  {
    method: 'post', path: '/jobboard/held', tag: 'jobboard', summary: 'Claimed and started runs a worker holds (claim recovery)',
    body: S.WorkerBody,
    responses: { 200: z.array(S.ClaimedRunSchema) },
    handler: async (o, { body }) => ({ body: await o.heldRuns(body.worker) }),
  },
  {
    method: 'post', path: '/jobboard/heartbeat-runs', tag: 'jobboard',
    summary: 'Renew the leases of all of a worker\'s held runs in one statement; runs with `startedAt` are marked started; runs no longer held are listed as lost',
    body: S.HeartbeatRunsBody,
    responses: { 200: S.HeartbeatRunsAnswerSchema, 400: S.ErrorSchema },
    handler: async (o, { body }) => ({
      body: await o.heartbeatRuns({ worker: body.worker, runs: body.runs.map((r: { backendId: string; startedAt?: Date }) => ({ backendId: r.backendId, ...(r.startedAt ? { startedAt: r.startedAt } : {}) })) }),
    }),
  },
  {
    method: 'post', path: '/jobboard/release', tag: 'jobboard', summary: 'Give claimed runs whose handlers never began back to the queue (no retry consumed)',
    body: S.ReleaseBody,
    responses: { 200: z.object({ released: z.number().int() }), 400: S.ErrorSchema },
    handler: async (o, { body }) => ({ body: { released: await o.releaseRuns({ worker: body.worker, backendIds: body.backendIds, ...(body.withdrawnOnly ? { withdrawnOnly: true } : {}) }) } }),
  },
  {
    method: 'post', path: '/jobboard/heartbeat', tag: 'jobboard', summary: "Extend a held run's lease (409 lease_lost if not held)",
    body: S.HeartbeatBody,
    responses: { 200: S.HeartbeatAnswerSchema, 404: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.heartbeat(body.backendId, { worker: body.worker }) }),
  },
  {
    method: 'post', path: '/jobboard/end', tag: 'jobboard', summary: 'End held runs in one transaction; each item gets its own outcome',
    body: S.JobboardEndBody,
    responses: { 200: S.EndOutcomes, 400: S.ErrorSchema },
    handler: async (o, { body }) => {
      const outcomes = await o.endRuns(body.items.map((i: { startedAt?: Date }) => ({ ...i, startedAt: i.startedAt ?? null })));
      return {
        body: {
          outcomes: outcomes.map((x) =>
            x instanceof Error ? { error: { code: (x as { code: string }).code, message: x.message, details: (x as { details: ErrorDetail[] }).details } } : { ok: x },
          ),
        },
      };
    },
  },
  {
    method: 'post', path: '/jobboard/abandon', tag: 'jobboard', summary: 'Give a held run back: a started one (or a claimed one given startedAt) ends lost and its task is due again at once; a claimed one without startedAt goes back to the queue (no retry, no abandon)',
    body: S.AbandonBody,
    responses: { 200: S.EndRunResultSchema, 404: S.ErrorSchema, 409: S.ErrorSchema, 422: S.ErrorSchema },
    handler: async (o, { body }) => ({
      body: await o.abandonRun(body.backendId, { worker: body.worker, ...(body.reason ? { reason: body.reason } : {}), ...(body.startedAt ? { startedAt: body.startedAt as Date } : {}) }),
    }),
  },
  {
    method: 'post', path: '/jobboard/logs', tag: 'jobboard', summary: "Append records to a run's log",
    body: S.LogsBody,
    responses: { 204: null, 404: S.ErrorSchema },
    handler: async (o, { body }) => {
      await o.appendRunLogs(body.backendId, body.records.map((r: { at: string; level: never; message: string; attributes: Record<string, unknown> }) => ({ ...r, at: new Date(r.at) })));
      return { status: 204 };
    },
  },
];
