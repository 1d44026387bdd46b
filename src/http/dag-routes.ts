import { z } from 'zod';
import type { DagInput } from '../core/dag-input.js';
import { parseContract, type Route } from './routes.js';
import * as D from './dag-schemas.js';
import { ErrorSchema, pathId } from './schemas.js';
import { NotFoundError } from '../core/errors.js';

/** The library names an unknown DAG `dag` (its argument); these routes name it by their path parameter, `id`, as the other DAG routes do. */
const dagAsId = <T>(p: Promise<T>): Promise<T> =>
  p.catch((e: unknown) => {
    throw e instanceof NotFoundError ? new NotFoundError(e.message, e.details.map((d) => (d.path === 'dag' ? { ...d, path: 'id' } : d))) : e;
  });

// No length bound: an id too long to be a DAG's is not found, as in the library (a 404, not a bad path).
const dagId = z.string().min(1);
const runId = pathId('a DAG run id (a positive integer)');
const taskId = z.string().min(1);

/** DAGs and DAG runs (SPEC §3, §6.4): thin adapters over `orrery.dags`; the summaries are what the dashboard shows. */
export const dagRoutes: Route[] = [
  {
    method: 'get', path: '/dags', tag: 'dags', summary: 'List DAGs with their run counts per status and latest runs (with task counts)',
    query: D.DagListQuery,
    responses: { 200: z.array(D.DagSummarySchema), 400: ErrorSchema },
    handler: async (o, { query }) => ({ body: await o.dags.list(query.latest ?? 5) }),
  },
  {
    method: 'put', path: '/dags', tag: 'dags', summary: 'Register or update DAG definitions given as data (what a remote worker syncs on start)',
    body: D.DagsBody, bodyCheckedByService: true,
    responses: { 200: z.array(D.RegisteredDagSchema), 400: ErrorSchema },
    // Each definition is validated by the service (field errors, cycles, unknown dependencies, duplicates).
    handler: async (o, { body }) => ({ body: await o.dags.register(parseContract(D.DagsEnvelope, body, '').dags as DagInput[]) }),
  },
  {
    method: 'get', path: '/dags/:id', tag: 'dags', summary: 'A DAG: definition, schedule, next point, latest runs and recorded schedule points',
    params: { id: dagId }, query: D.DagGetQuery,
    responses: { 200: D.DagDetailSchema, 404: ErrorSchema },
    handler: async (o, { params, query }) => ({ body: await o.dags.get(params.id as string, query.latest ?? 10) }),
  },
  {
    method: 'get', path: '/dags/:id/grid', tag: 'dags', summary: "A DAG's latest runs by task (Airflow's grid view): rows are tasks, columns runs (oldest first), each cell a task's status in a run",
    params: { id: dagId }, query: D.DagGridQuery,
    responses: { 200: D.DagGridSchema, 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params, query }) => ({ body: await o.dags.grid(params.id as string, query.limit ?? 25) }),
  },
  {
    method: 'post', path: '/dags/:id/trigger', tag: 'dags', summary: 'Trigger a run now with JSON params visible to every task',
    params: { id: dagId }, body: D.TriggerBody,
    responses: { 201: D.DagRunSchema, 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params, body }) => ({ status: 201, body: await dagAsId(o.dags.trigger(params.id as string, body.params ?? {})) }),
  },
  {
    method: 'get', path: '/dags/:id/runs', tag: 'dags', summary: "A DAG's runs, newest first, with task counts (pagination: beforeId = the last id of a page)",
    params: { id: dagId }, query: D.DagRunsQuery,
    responses: { 200: z.array(D.DagRunSummarySchema), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { params, query }) => ({
      body: await dagAsId(o.dags.runs({
        dag: params.id as string,
        ...(query.status !== undefined ? { status: query.status } : {}),
        ...(query.beforeId !== undefined ? { beforeId: query.beforeId } : {}),
        limit: query.limit ?? 100,
      })),
    }),
  },
  {
    method: 'get', path: '/dag-runs/:run', tag: 'dag runs', summary: "A DAG run with every task's status, attempts, duration, error and result",
    params: { run: runId },
    responses: { 200: D.DagRunDetailSchema, 404: ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.dags.run(params.run as number) }),
  },
  {
    method: 'post', path: '/dag-runs/:run/cancel', tag: 'dag runs',
    summary: 'Cancel a waiting or running run: unfinished tasks become failed (cancelled), live attempts are stopped (409 if the run already ended)',
    params: { run: runId },
    responses: { 200: D.DagRunSchema, 404: ErrorSchema, 409: ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.dags.cancel(params.run as number) }),
  },
  {
    method: 'post', path: '/dag-runs/:run/restart', tag: 'dag runs', summary: 'Restart a failed run: its failed and upstream-failed tasks run again (409 if the run is not failed)',
    params: { run: runId },
    responses: { 200: D.DagRunSchema, 404: ErrorSchema, 409: ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.dags.restart(params.run as number) }),
  },
  {
    method: 'get', path: '/dag-runs/:run/tasks/:task/attempts', tag: 'dag runs', summary: "A task's attempts in a run, each with its jobboard runs and their log records",
    params: { run: runId, task: taskId },
    responses: { 200: z.array(D.DagAttemptSchema), 404: ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.dags.attempts(params.run as number, params.task as string) }),
  },
];
