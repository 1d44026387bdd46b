import { z } from 'zod';
import { BULK_ACTIONS } from '../core/bulk.js';
import type { Route } from './routes.js';
import * as S from './schemas.js';

/** Bulk actions by filter (docs/http.md#bulk-actions, docs/operations.md#bulk-actions). */
export const bulkRoutes: Route[] = [
  {
    method: 'post', path: '/tasks/bulk/:action', tag: 'tasks',
    summary:
      'A bulk action (respawn, redrive, disable, cancel, delete) on the tasks of a filter, ids, the tasks of runs, or all; `dryRun` counts first. Written in batches of 1,000 tasks, one transaction each',
    params: { action: z.enum(BULK_ACTIONS) }, body: S.BulkBody,
    responses: { 200: S.BulkResultSchema, 400: S.ErrorSchema },
    handler: async (o, { params, body }) => {
      const { dryRun, nextRun, ...selection } = body as z.infer<typeof S.BulkBody>;
      const result = await o.bulkTasks(params.action as (typeof BULK_ACTIONS)[number], selection, {
        ...(dryRun !== undefined ? { dryRun } : {}),
        ...(nextRun !== undefined ? { nextRun } : {}),
      });
      return { body: result };
    },
  },
];
