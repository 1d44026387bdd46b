import { z } from 'zod';
import { EDITABLE_TYPE_FIELDS } from '../core/task-type-edit.js';
import { taskTypeInputDocSchema, TYPE_DURATION_NAMES } from '../core/validation.js';
import type { Route } from './routes.js';
import * as S from './schemas.js';

// No length bound: a name too long to be a type's is not found, as in the library (a 404, not a bad path).
const name = { name: z.string().min(1) };
/** The editable fields of a task type, all optional (documents the body; the service validates it). */
const TaskTypeEditSchema = taskTypeInputDocSchema
  .pick(Object.fromEntries([...EDITABLE_TYPE_FIELDS, ...Object.keys(TYPE_DURATION_NAMES)].map((f) => [f, true])) as Record<(typeof EDITABLE_TYPE_FIELDS)[number], true>)
  .partial();
const PauseBody = z.strictObject({ reason: z.string().max(1000).optional() });

/** Runtime changes of task types (docs/operations.md#pause-edit-and-delete-task-types). */
export const taskTypeRoutes: Route[] = [
  {
    method: 'patch', path: '/task-types/:name', tag: 'task types',
    summary: 'Edit a task type at runtime: the fields given replace the current ones (the type is validated whole); used from the next claim or end',
    params: name, body: TaskTypeEditSchema, bodyCheckedByService: true,
    responses: { 200: S.TaskTypeSchema, 400: S.ErrorSchema, 404: S.ErrorSchema },
    handler: async (o, { params, body }) => ({ body: await o.updateTaskType(params.name as string, body) }),
  },
  {
    method: 'post', path: '/task-types/:name/pause', tag: 'task types',
    summary: 'Pause a task type: no new scheduling or claims; started runs finish (pausing a paused type keeps its instant)',
    params: name, body: PauseBody,
    responses: { 200: S.TaskTypeSchema, 400: S.ErrorSchema, 404: S.ErrorSchema },
    handler: async (o, { params, body }) => ({ body: await o.pauseTaskType(params.name as string, body.reason !== undefined ? { reason: body.reason } : {}) }),
  },
  {
    method: 'post', path: '/task-types/:name/resume', tag: 'task types', summary: 'Resume a paused task type',
    params: name,
    responses: { 200: S.TaskTypeSchema, 404: S.ErrorSchema },
    handler: async (o, { params }) => ({ body: await o.resumeTaskType(params.name as string) }),
  },
  {
    method: 'delete', path: '/task-types/:name', tag: 'task types', summary: 'Delete a task type that has no tasks (409 naming how many it has otherwise)',
    params: name,
    responses: { 204: null, 404: S.ErrorSchema, 409: S.ErrorSchema },
    handler: async (o, { params }) => {
      await o.deleteTaskType(params.name as string);
      return { status: 204 };
    },
  },
];
