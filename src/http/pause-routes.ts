import { z } from 'zod';
import type { Route } from './routes.js';
import * as D from './dag-schemas.js';
import * as S from './schemas.js';

const PauseBody = z.strictObject({ reason: z.string().max(1000).optional() });
const taskId = S.pathId('a task id');
const dagId = z.string().min(1).max(200);

/** A task's schedule and a DAG paused and resumed (docs/operations.md#pause-a-task-or-a-dag). */
export const pauseRoutes: Route[] = [
  {
    method: 'post', path: '/tasks/:id/pause', tag: 'tasks',
    summary: "Pause a task's schedule: neither scheduled nor claimed; a run waiting in the queue is taken back, a run a worker holds finishes (409 for a DAG attempt: pause its DAG)",
    params: { id: taskId }, body: PauseBody,
    responses: { 200: S.TaskSchema, 400: S.ErrorSchema, 404: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { params, body }) => ({ body: await o.pauseTask(params.id as number, body.reason !== undefined ? { reason: body.reason } : {}) }),
  },
  {
    method: 'post', path: '/tasks/:id/resume', tag: 'tasks', summary: "Resume a paused task's schedule: due again at its next run (at once when that has passed)",
    params: { id: taskId },
    responses: { 200: S.TaskSchema, 404: S.ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.resumeTask(params.id as number) }),
  },
  {
    method: 'post', path: '/dags/:id/pause', tag: 'dags',
    summary: 'Pause a DAG: no new DAG run, and its active runs create no further task attempts (running attempts finish)',
    params: { id: dagId }, body: PauseBody,
    responses: { 200: D.DagSchema, 400: S.ErrorSchema, 404: S.ErrorSchema },
    handler: async (o, { params, body }) => ({ body: await o.dags.pause(params.id as string, body.reason !== undefined ? { reason: body.reason } : {}) }),
  },
  {
    method: 'post', path: '/dags/:id/resume', tag: 'dags', summary: "Resume a paused DAG: missed schedule points follow its catch-up rule, its active runs go on",
    params: { id: dagId },
    responses: { 200: D.DagSchema, 404: S.ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.dags.resume(params.id as string) }),
  },
];
