import { z } from 'zod';
import { bodyOptional } from './body-optional.js';
import type { Route } from './routes.js';
import { ErrorSchema } from './schemas.js';
import { DOCUMENTED_AS, QUERY_INTS } from './doc-schemas.js';

/** Keys of a converted schema kept when another shape replaces it (what its field says, and its default). */
const KEPT = new Set(['description', 'default', 'title', 'examples']);

function replaceShape(json: Record<string, unknown>, shape: Record<string, unknown>): void {
  const kept = pick(json, KEPT);
  for (const k of Object.keys(json)) delete json[k];
  Object.assign(json, shape, kept);
}

function pick(o: Record<string, unknown>, keys: Set<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.has(k)));
}

function schema(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(s, {
    io,
    unrepresentable: 'any',
    override: ({ zodSchema, jsonSchema }) => {
      const json = jsonSchema as Record<string, unknown>;
      const doc = DOCUMENTED_AS.get(zodSchema);
      const int = QUERY_INTS.get(zodSchema);
      if (doc) replaceShape(json, schema(doc, io));
      else if (int) replaceShape(json, { type: 'integer', ...int });
      // A Date (the library's alternative to an ISO string) reaches the server only as a string.
      else if (zodSchema._zod.def.type === 'date') replaceShape(json, { type: 'string' });
    },
  }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/**
 * A stable name for each operation, for generated clients: the method and the path after `/api` in
 * camelCase, a path parameter as `By` and its name (`GET /api/tasks/{id}/runs` is `getTasksByIdRuns`).
 */
export function operationId(method: string, path: string): string {
  const words = path
    .replace(/^\/api(?=\/)/, '')
    .split('/')
    .flatMap((seg) => (seg.startsWith(':') || seg.startsWith('{') ? ['by', seg.replace(/^[:{]|}$/g, '')] : seg.split(/[^A-Za-z0-9]+/)))
    .filter((w) => w !== '');
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** A PATCH body's absent field is left as it is: its create-time default is not what the server applies. */
function withoutDefaults(json: Record<string, unknown>): Record<string, unknown> {
  const props = json.properties as Record<string, Record<string, unknown>> | undefined;
  for (const p of Object.values(props ?? {})) delete p.default;
  return json;
}

/** The OpenAPI 3.1 document, generated from the route contracts that validate requests. */
export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  // Errors every route can give besides its own: bad input, auth, oversized body, database down.
  const errorSchema = schema(ErrorSchema, 'output');
  const error = (description: string) => ({ description, content: { 'application/json': { schema: errorSchema } } });
  const unauthorized = error('Missing or wrong bearer token (when a token is configured)');
  // Every path, /healthz and /metrics included: the Host header is checked before anything else.
  const badHost = error('A missing or malformed Host header (`127.999.0.1`, `localhost:`, a space or `%` in it)');
  const forbidden = error('Without a token: a Host that is not a loopback name, or a mutation whose Origin is not the server\'s own');
  for (const r of routes) {
    const path = `/api${r.path.replace(/:(\w+)/g, '{$1}')}`;
    const parameters: unknown[] = [];
    for (const [name, s] of Object.entries(r.params ?? {})) parameters.push({ name, in: 'path', required: true, schema: schema(s, 'input') });
    if (r.query) {
      const q = schema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(q.properties ?? {})) parameters.push({ name, in: 'query', required: q.required?.includes(name) ?? false, schema: s });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, s] of Object.entries(r.responses)) {
      responses[status] = s === null ? { description: 'No content' } : { description: status.startsWith('2') ? 'OK' : 'Error', content: { 'application/json': { schema: schema(s, 'output') } } };
    }
    // Every route refuses unknown or repeated query parameters, even one that takes none.
    responses['400'] ??= error('Bad input: bad JSON, wrong types, unknown fields, bad path or query parameters, a malformed Host header');
    responses['401'] = unauthorized;
    responses['403'] = forbidden;
    // The body limit applies to every route that may carry one, a route that reads none included.
    if (r.method !== 'get') responses['413'] = error('Request body too large');
    if (r.body) responses['415'] = error('A request body sent without Content-Type: application/json, or compressed (a Content-Encoding other than identity)');
    responses['500'] = error('A server fault: logged with its stack under the request id the answer carries (x-request-id, error.requestId)');
    responses['503'] = error('The database is unavailable; retry later (error.requestId names the logged line)');
    (paths[path] ??= {})[r.method] = {
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      // A body whose every field is optional may be left out (it counts as {}), as the server takes it.
      ...(r.body ? { requestBody: { required: !bodyOptional(r.body), content: { 'application/json': { schema: r.method === 'patch' ? withoutDefaults(schema(r.body, 'input')) : schema(r.body, 'input') } } } } : {}),
      // A stream of lines: the schema given is that of one line.
      ...(r.streamBody ? { requestBody: { required: true, content: { [r.streamBody.contentType]: { schema: schema(r.streamBody.line, 'input') } } } } : {}),
      responses,
    };
  }
  paths['/api/events'] = {
    get: {
      summary:
        'Server-sent events: `ready` ({}) once the stream is open, `run` events ({ event: scheduled | claimed | started | ended, run }) of this server process, `work` ({}) when runs were scheduled or tasks created by any process, `cancel` ({}) when a run a worker holds was cancelled, disabled or ended by someone else, `types` ({}) when a task type was edited, paused or resumed, and `ping` ({}) after 15 s without another event',
      tags: ['events'],
      responses: {
        '200': { description: 'A stream of server-sent events (`event:` one of ready, run, work, cancel, types, ping; `data:` one JSON object)', content: { 'text/event-stream': { schema: { type: 'string' } } } },
        '400': error('A query parameter (it takes none), or a malformed Host header'),
        '401': unauthorized,
        '403': forbidden,
      },
    },
  };
  paths['/api/openapi.json'] = {
    get: {
      summary: 'This document',
      tags: ['meta'],
      responses: { '200': { description: 'The OpenAPI 3.1 document', content: { 'application/json': {} } }, '400': error('A query parameter (it takes none), or a malformed Host header'), '401': unauthorized, '403': forbidden },
    },
  };
  // Outside /api: the health check (never needs the token) and the Prometheus metrics.
  paths['/readyz'] = {
    get: {
      summary: 'Readiness: 200 {"status":"ok","database":"ok"} while the database answers a read within 2 s, else 503 with what went wrong; 503 {"status":"stopping"} once the server stops',
      tags: ['meta'],
      security: [],
      responses: {
        '200': { description: 'Ready', content: { 'application/json': { schema: { type: 'object', properties: { status: { const: 'ok' }, database: { const: 'ok' } }, required: ['status', 'database'] } } } },
        '503': {
          description: 'The database did not answer, or the server is stopping',
          content: {
            'application/json': {
              schema: {
                oneOf: [
                  { type: 'object', properties: { status: { const: 'unavailable' }, database: { type: 'string' } }, required: ['status', 'database'] },
                  { type: 'object', properties: { status: { const: 'stopping' } }, required: ['status'] },
                ],
              },
            },
          },
        },
        '400': badHost,
        '403': forbidden,
      },
    },
  };
  paths['/healthz'] = {
    get: {
      summary: 'Health check: {"status":"ok"} while the server runs; with a worker, its state and running runs',
      tags: ['meta'],
      security: [],
      responses: {
        '200': {
          description: 'OK',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  status: { const: 'ok' },
                  worker: { type: ['string', 'null'], description: "the server's worker's state (running, draining...), null without one" },
                  running: { type: 'integer', minimum: 0, description: "runs the server's worker is executing" },
                },
                required: ['status'],
              },
            },
          },
        },
        '400': badHost,
        '403': forbidden,
      },
    },
  };
  paths['/metrics'] = {
    get: {
      summary: 'Prometheus metrics, text format 0.0.4 (needs the token unless the server runs with --public-metrics)',
      tags: ['meta'],
      responses: { '200': { description: 'The metrics in the Prometheus text format', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } }, '400': badHost, '401': unauthorized, '403': forbidden, '404': error('Metrics are not enabled') },
    },
  };
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(operations)) paths[path]![method] = { operationId: operationId(method, path), ...(op as object) };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Orrery HTTP API', version },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  };
}
