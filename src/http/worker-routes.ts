import { z } from 'zod';
import { MAX_WORKER_ID, MAX_WORKER_TYPES } from '../core/worker-registry.js';
import type { Route } from './routes.js';
import { ErrorSchema } from './schemas.js';

const instant = z.string().describe('ISO 8601 instant, UTC, with milliseconds');
const workerInfo = {
  id: z.string().min(1).max(MAX_WORKER_ID).describe('the worker id (the one recorded on the runs it claims)'),
  host: z.string().min(1).max(255).describe('the machine it runs on'),
  pid: z.number().int().nonnegative().max(2_147_483_647).describe('its process id'),
  types: z.array(z.string().min(1).max(128)).max(MAX_WORKER_TYPES).describe('the task types it handles'),
  concurrency: z.number().int().positive().max(2_147_483_647).describe('runs it executes at once'),
};
const RegisterBody = z.strictObject(workerInfo);
const StopBody = z.strictObject({ id: workerInfo.id });
const RegisteredWorkerSchema = z.object({
  ...workerInfo,
  startedAt: instant.describe('when it registered'),
  lastSeen: instant.describe('its latest registration or refresh (or its stop)'),
  stoppedAt: instant.nullable().describe('when it marked itself stopped; null while it runs'),
});

/**
 * The worker registry for remote workers (`orrery worker --url`, docs/operations.md#workers): they
 * register at start and refresh every 10 s through the first route, and mark themselves stopped on a
 * graceful stop through the second. The server stamps its own instant.
 */
export const workerRoutes: Route[] = [
  {
    method: 'post', path: '/jobboard/workers', tag: 'jobboard',
    summary: "Register a worker, or refresh its registry row (last seen now): at start and every 10 s, busy or idle; a worker that (re)starts prunes rows not seen for 7 days",
    body: RegisterBody,
    responses: { 200: RegisteredWorkerSchema, 400: ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.registerWorker(body) }),
  },
  {
    method: 'post', path: '/jobboard/workers/stop', tag: 'jobboard', summary: 'Mark a registered worker stopped (its graceful stop); 404 for an unknown id',
    body: StopBody,
    responses: { 200: RegisteredWorkerSchema, 404: ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.stopWorker(body.id) }),
  },
];
