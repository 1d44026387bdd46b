import { DEFAULT_ARCHIVE_PAGE } from '../engine/service-checks.js';
import { z } from 'zod';
import { instantOffset, parseInstant } from '../core/instants.js';
import { MAX_ARCHIVE_BATCH } from '../engine/archiving.js';
import type { Route } from './routes.js';
import { ErrorSchema, queryInt, LogRecordSchema, RunSchema, TaskSchema } from './schemas.js';

const instant = z.string().describe('ISO 8601 instant, UTC, with milliseconds');
// With its offset (docs/http.md): an instant without one, which other fields read as UTC, is refused naming what it lacks.
// Every form core reads (parseInstant: `+01`, `+0100`, no seconds, a space for the T), with its offset:
// zod's datetime took only Z or +HH:MM with seconds, and said the offset was missing.
const readsWithOffset = (v: string): boolean => {
  if (instantOffset(v) === null) return false;
  try {
    parseInstant(v);
    return true;
  } catch {
    return false;
  }
};
const isoInstant = z.string().max(64).refine(readsWithOffset, 'must be an ISO 8601 instant with its offset (2026-12-01T00:00:00Z or +01:00): a cut-off is never read as UTC by default');

const ArchiveBody = z.strictObject({
  before: isoInstant.describe('runs that ended before this instant are archived (and finished one-shot tasks whose runs all went)'),
  batch: z.number().int().min(1).max(MAX_ARCHIVE_BATCH).optional(),
});
const ArchiveSummarySchema = z.object({
  before: instant,
  file: z.string().nullable(),
  table: z.boolean(),
  runs: z.number().int(),
  logs: z.number().int(),
  tasks: z.number().int(),
  batches: z.number().int(),
  alerts: z.number().int().describe('stored alerts (task and DAG) about instants before the cut-off, deleted (sent or not) once the sweep completed'),
  complete: z.boolean(),
  durationMs: z.number(),
});
const ArchiveQuery = z.strictObject({
  afterId: queryInt(0, Number.MAX_SAFE_INTEGER).optional(),
  task: queryInt(1, Number.MAX_SAFE_INTEGER).optional(),
  limit: queryInt(1, 10_000, DEFAULT_ARCHIVE_PAGE).default(DEFAULT_ARCHIVE_PAGE),
});

/**
 * Archiving over HTTP (SPEC §5): a sweep into the archive tables, and reading them back. A JSONL file
 * is for the CLI only: an HTTP client must not choose paths on the server.
 */
export const archiveRoutes: Route[] = [
  {
    method: 'post', path: '/archive', tag: 'archive', summary: 'Archive finished runs ended before an instant into the archive tables, in batches',
    body: ArchiveBody,
    responses: { 200: ArchiveSummarySchema, 400: ErrorSchema },
    handler: async (o, { body }) => ({
      body: await o.archive({ before: parseInstant(body.before), table: true, ...(body.batch !== undefined ? { batch: body.batch } : {}) }),
    }),
  },
  {
    method: 'get', path: '/archive/runs', tag: 'archive', summary: 'Archived runs with their logs, by id (afterId pages; task selects one task)',
    query: ArchiveQuery,
    responses: { 200: z.array(z.object({ run: RunSchema, logs: z.array(LogRecordSchema) })), 400: ErrorSchema },
    handler: async (o, { query }) => ({ body: await o.readArchivedRuns(query) }),
  },
  {
    method: 'get', path: '/archive/tasks', tag: 'archive', summary: 'Archived one-shot tasks, by id',
    query: ArchiveQuery,
    responses: { 200: z.array(TaskSchema), 400: ErrorSchema },
    handler: async (o, { query }) => ({ body: await o.readArchivedTasks(query) }),
  },
];
