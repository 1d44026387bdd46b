import { TaskInputDoc } from './doc-schemas.js';
import { HttpError } from './errors.js';
import type { Route } from './routes.js';
import * as S from './schemas.js';

/** The media type of `POST /api/tasks/import` (newline-delimited JSON). */
export const NDJSON = 'application/x-ndjson';

/** Streaming task import (docs/http.md#post-apitasksimport). */
export const importRoutes: Route[] = [
  {
    method: 'post', path: '/tasks/import', tag: 'tasks',
    summary: 'Import tasks from NDJSON (one task per line), streamed: every line is validated, then all are written in one transaction; a bad line rejects the import',
    query: S.ImportQuery,
    streamBody: { contentType: NDJSON, line: TaskInputDoc },
    responses: { 201: S.ImportAnswer, 400: S.ErrorSchema, 409: S.ErrorSchema, 415: S.ErrorSchema },
    handler: async (o, { query, body }) => {
      const req = body as Request;
      const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== NDJSON) {
        throw new HttpError('unsupported_media_type', `the body must be ${NDJSON} (one JSON task per line), not ${type || 'untyped'}`, [
          { path: 'content-type', message: `must be ${NDJSON}` },
        ]);
      }
      const source = req.body ?? (async function* () {})();
      const summary = await o.importTasks(source as AsyncIterable<Uint8Array>, { ids: (query as { return?: string }).return === 'ids' });
      return { status: 201, body: summary };
    },
  },
];
