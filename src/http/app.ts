import { timingSafeEqual, createHash } from 'node:crypto';
import { MAX_JSON_NESTING, nestedDeeperThan } from '../core/json-checks.js';
import { decodeQueryComponent } from '../core/url-text.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import { contextOfHeaders } from '../engine/tracing.js';
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { streamSSE } from 'hono/streaming';
import type { Orrery, RunEvent } from '../engine/service.js';
import type { Timer } from '../engine/clock.js';
import { createLogger, type Logger } from '../engine/logger.js';
import { HttpError, toErrorResponse } from './errors.js';
import { checkJsonContentType, checkNoContentEncoding, checkSameSite, checkStorableBody, checkStorableParams, singleQueryValues, requestIdOf } from './guards.js';
import { openApiDocument } from './openapi.js';
import { apiRoutes } from './api-routes.js';
import { parseContract, type Route } from './routes.js';
import { staticFiles } from './static-files.js';
import { reservedParamValues } from './fixed-segments.js';
import { bodyOptional } from './body-optional.js';
import { parseTasksBody, textOf, utf8Text } from './large-body.js';
import { bodyLimit } from './body-limit.js';

/**
 * How deep a request body may nest: the user's JSON in it (arguments, metadata, a result) may nest
 * MAX_JSON_NESTING levels counted from its field, as the library counts it (and says so, naming the
 * field), below at most three levels of envelope (the body, `tasks`, a task). Deeper is refused
 * before anything walks it (validation and storage recurse).
 */
const BODY_NESTING = MAX_JSON_NESTING + 3;

export interface HttpOptions {
  /** When set, every /api request needs `Authorization: Bearer <token>`. */
  token?: string | null;
  /** Serve /metrics without the token. */
  publicMetrics?: boolean;
  /** Prometheus text for /metrics (absent: 404). */
  metrics?: { contentType: string; render(): Promise<string> } | null;
  /** The version `/healthz` reports (default: the package version). */
  version?: string;
  /** Extra fields for /healthz. */
  health?: () => Record<string, unknown>;
  /** True once the server stops: `/readyz` answers 503 `stopping` and a jobboard claim gets no run while it finishes its work. */
  stopping?: () => boolean;
  /** The built dashboard (dist/web): served at `/` and every path outside /api (none: no dashboard). */
  webRoot?: string | null;
  /** Where every 5xx answer is logged with its error, stack and request id (default: JSON lines on stderr). */
  logger?: Logger;
}

/**
 * An `/api/events` client with this many events waiting that has taken none for SSE_STALL_MS is
 * disconnected (docs/http.md#events-server-sent-events).
 */
export const SSE_MAX_BACKLOG = 1_000;
export const SSE_STALL_MS = 10_000;
const MB = 1024 * 1024;
/** A request body's limit (413 past it), and `POST /api/tasks/batch`'s, parsed a task at a time. */
const BODY_LIMIT = 4 * MB;
const LARGE_BODY_LIMIT = 256 * MB;
/** The query of a route that takes no query parameters. */
const NO_QUERY = z.strictObject({});

/** A byte stream of the text pieces, pulled as the client reads. */
function readableOf(pieces: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const it = pieces[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await it.return?.();
    },
  });
}

/** Constant-time comparison of the presented bearer token with the configured one. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer +(.+)$/i.exec(header ?? ''); // the scheme is case-insensitive (RFC 7235)
  if (!m) return false;
  const a = createHash('sha256').update(m[1]!).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/** Whether reading the request failed because its client went away (Node's `Error: aborted`, code ECONNRESET, from the request body; a database's connection reset is not this). */
function clientGone(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return err !== null && typeof err === 'object' && err.code === 'ECONNRESET' && err.message === 'aborted';
}

/** The HTTP API over one Orrery service (SPEC §6.4). */
/** The event stream's signals beside its run events (`event: work`, `cancel`, `types`, `data: {}`). */
type Signal = 'work' | 'cancel' | 'types';

export function createHttpApp(orrery: Orrery, opts: HttpOptions = {}): Hono {
  const app = new Hono();
  const token = opts.token || null;
  const log = opts.logger ?? createLogger('json');
  const requestIds = new WeakMap<Request, string>();
  const send = (c: Context, e: unknown) => {
    if (clientGone(e)) {
      // The client closed the connection before its request was read (a killed client, a proxy's
      // timeout): nobody reads the answer, and it is no fault of Orrery's, so no error line.
      log.info({ method: c.req.method, path: c.req.path }, `${c.req.method} ${c.req.path}: the client closed the connection before its request was read`);
      return c.json({ error: { code: 'bad_request', message: 'the client closed the connection before its request was read', details: [] } }, 400);
    }
    // A long request (a task wait) whose client left: its end, whatever stopped it (the store closing
    // at a shutdown included), is nobody's answer.
    if (c.req.raw.signal.aborted || leftSignals.get(c)?.aborted === true) {
      log.info({ method: c.req.method, path: c.req.path }, `${c.req.method} ${c.req.path}: the client closed the connection before the answer`);
      return c.json({ error: { code: 'bad_request', message: 'the client closed the connection before the answer', details: [] } }, 400);
    }
    const { status, body } = toErrorResponse(e);
    const requestId = requestIds.get(c.req.raw) ?? requestIdOf(undefined);
    c.header('x-request-id', requestId);
    if (status >= 500) {
      // Never the client's fault, so never silent: the line carries the error, its stack and the id the client got.
      body.error.requestId = requestId;
      const message = e instanceof Error ? e.message : String(e);
      log.error({ err: e, requestId, method: c.req.method, path: c.req.path, status }, `${c.req.method} ${c.req.path} answered ${status} (request ${requestId}): ${message}`);
    }
    return c.json(body, status as 400);
  };
  app.onError((e, c) => send(c, e));

  // Every answer carries a request id (the caller's `x-request-id` when sane); without a token only
  // loopback Host names and same-origin mutations are served (docs/http.md, "Security").
  app.use('*', async (c, next) => {
    const id = requestIdOf(c.req.header('x-request-id'));
    requestIds.set(c.req.raw, id);
    c.header('x-request-id', id);
    try {
      if (!token) checkSameSite(c);
      checkPercentEncoding(c.req.url);
    } catch (e) {
      // Refused before any route: the error answer (onError) is made with these, as with the request id.
      c.header('cache-control', 'no-store');
      c.header('x-content-type-options', 'nosniff');
      throw e;
    }
    await next();
    try {
      if (!c.res.headers.has('x-request-id')) c.res.headers.set('x-request-id', id);
      // Answers of the API, the probes and the metrics: never kept by a browser or a proxy (they hold
      // task data) and never sniffed as another type. The dashboard's files set their own caching.
      if (!c.res.headers.has('cache-control')) c.res.headers.set('cache-control', 'no-store');
      if (!c.res.headers.has('x-content-type-options')) c.res.headers.set('x-content-type-options', 'nosniff');
    } catch {
      // a response with immutable headers: answered without the header
    }
  });
  app.notFound((c) => send(c, new HttpError('not_found', `no route ${c.req.method} ${c.req.path}`)));

  const requireToken = async (c: Context, next: () => Promise<void>) => {
    if (token && !tokenMatches(c.req.header('authorization'), token)) {
      c.header('www-authenticate', 'Bearer realm="orrery"'); // RFC 7235 §3.1: a 401 names its scheme
      return send(c, new HttpError('unauthorized', 'missing or wrong bearer token'));
    }
    await next();
  };

  app.get('/healthz', (c) => c.json({ status: 'ok', ...(opts.health?.() ?? {}) }));
  // Readiness: the server runs and its database answers a read within READY_TIMEOUT_MS (a load
  // balancer takes the server out of rotation while it does not).
  app.get('/readyz', async (c) => {
    // A stopping server still answers (its runs end, remote workers give back), but takes no new traffic.
    if (opts.stopping?.()) return c.json({ status: 'stopping' }, 503);
    const problem = await databaseProblem(orrery);
    if (problem === null) return c.json({ status: 'ok', database: 'ok' });
    return c.json({ status: 'unavailable', database: problem }, 503);
  });
  app.get('/metrics', async (c, next) => (opts.publicMetrics ? next() : requireToken(c, next)), async (c) => {
    if (!opts.metrics) return send(c, new HttpError('not_found', 'metrics are not enabled'));
    return c.body(await opts.metrics.render(), 200, { 'content-type': opts.metrics.contentType });
  });

  app.use('/api/*', requireToken);
  const document = openApiDocument(apiRoutes, opts.version ?? '0.1.0');
  app.get('/api/openapi.json', (c) => {
    parseContract(NO_QUERY, singleQueryValues(c.req.queries(), c.req.url), 'query');
    return c.json(document);
  });

  app.get('/api/events', (c) => {
    parseContract(NO_QUERY, singleQueryValues(c.req.queries(), c.req.url), 'query');
    // A HEAD (a load balancer's probe) gets the stream's headers, not a stream nobody reads: that one
    // stayed subscribed, its events queued, for good.
    if (c.req.method === 'HEAD') return new Response(null, { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
    // Under Node, the response: a stalled client is cut at the socket (reset: the kernel drops what it
    // holds for it), not only at the stream, whose end would wait behind the socket's full buffer
    // (about 4 MB) as long as the client reads nothing.
    const outgoing = (c.env as { outgoing?: { destroy(): void; socket?: { resetAndDestroy?(): void } | null } } | undefined)?.outgoing;
    return streamSSE(c, async (stream) => {
      const queue: Array<RunEvent | Signal> = [];
      // The signals waiting in the queue: one pending stands for any number of changes.
      const queued = new Set<Signal>();
      let wake: (() => void) | null = null;
      // When the client last took an event, or was caught up (the queue was empty).
      let progressAt = orrery.clock.now().getTime();
      // A client that stopped reading (a stalled proxy, a hung tab) is disconnected once SSE_MAX_BACKLOG
      // events wait for it and it has taken none for SSE_STALL_MS: its backlog grew without bound (about
      // 4 MiB a minute at 200 runs/s). A burst (a pass scheduling thousands of runs) is not a stall.
      const stalled = () => queue.length >= SSE_MAX_BACKLOG && orrery.clock.now().getTime() - progressAt > SSE_STALL_MS;
      const cut = () => {
        stream.abort();
        if (outgoing?.socket?.resetAndDestroy) outgoing.socket.resetAndDestroy();
        else outgoing?.destroy();
      };
      const push = (e: RunEvent | Signal) => {
        if (queue.length === 0) progressAt = orrery.clock.now().getTime();
        else if (stalled()) return cut();
        queue.push(e);
        wake?.();
      };
      // Checked every second too, so that a client stalled when events stop is not kept with its backlog.
      let stallTimer = orrery.clock.setTimer(1_000, function check() {
        if (stream.aborted || stream.closed) return;
        if (stalled()) return cut();
        stallTimer = orrery.clock.setTimer(1_000, check, { unref: true });
      }, { unref: true });
      const onRun = (e: RunEvent) => push(e);
      const signal = (kind: Signal) => () => {
        if (queued.has(kind)) return;
        queued.add(kind);
        push(kind);
      };
      // Changes by any process on the database that remote workers act on at once: runs scheduled or
      // tasks created (`work`: they claim), a cancel asked for (`cancel`: they heartbeat, which drops a
      // withdrawn run from their buffer before it begins), a type edited, paused or resumed (`types`:
      // they read the types again, giving back what they buffered of a type paused or newly limited).
      orrery.events.on('run', onRun);
      const offSignals = [orrery.onRunsScheduled(signal('work')), orrery.onCancelRequested(signal('cancel')), orrery.onTypesChanged(signal('types'))];
      const offAll = () => offSignals.forEach((off) => off());
      stream.onAbort(() => {
        orrery.events.off('run', onRun);
        offAll();
        stallTimer.cancel();
        queue.length = 0;
        wake?.();
      });
      await stream.writeSSE({ event: 'ready', data: '{}' });
      while (!stream.aborted && !stream.closed) {
        if (queue.length === 0) {
          let timer: NodeJS.Timeout | undefined;
          await new Promise<void>((r) => {
            wake = r;
            timer = setTimeout(r, 15_000); // keep-alive
          });
          clearTimeout(timer);
          wake = null;
          if (queue.length === 0 && !stream.aborted) await stream.writeSSE({ event: 'ping', data: '{}' });
          continue;
        }
        const e = queue.shift()!;
        if (typeof e === 'string') queued.delete(e);
        await stream.writeSSE(typeof e === 'string' ? { event: e, data: '{}' } : { event: 'run', data: JSON.stringify(e) });
        progressAt = orrery.clock.now().getTime();
      }
      orrery.events.off('run', onRun);
      offAll();
      stallTimer.cancel();
    });
  });

  const stopping = opts.stopping ?? (() => false);
  const reserved = reservedParamValues(apiRoutes);
  for (const r of apiRoutes) mount(app, orrery, r, stopping, reserved.get(r));
  if (opts.webRoot) {
    const web = staticFiles(opts.webRoot);
    app.get('*', async (c) => (await web(c)) ?? send(c, new HttpError('not_found', `no route ${c.req.method} ${c.req.path}`)));
  }
  return app;
}

/** `reserved`: the values each path parameter of the route must not take (fixed-segments.ts): such a path is no route. */
function mount(app: Hono, orrery: Orrery, r: Route, stopping: () => boolean, reserved: ReadonlyMap<string, ReadonlySet<string>> | undefined): void {
  const path = `/api${r.path}`;
  const limit = bodyLimit(r.largeBody ? LARGE_BODY_LIMIT : BODY_LIMIT);
  // A streamed body is bounded by its handler (per line), not as a whole.
  const limited = r.streamBody ? async (_c: Context, next: () => Promise<void>) => next() : limit;
  app.on(r.method.toUpperCase(), path, limited, async (c) => {
    for (const [name, values] of reserved ?? []) {
      if (values.has(c.req.param(name) ?? '')) throw new HttpError('not_found', `no route ${c.req.method} ${c.req.path}`);
    }
    const rawQuery = singleQueryValues(c.req.queries(), c.req.url);
    checkStorableParams(c.req.param() as Record<string, string>, rawQuery);
    const params: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(r.params ?? {})) params[name] = parseContract(s, c.req.param(name), name);
    // A route without query parameters refuses any, like unknown ones elsewhere (`query.x: unknown field`).
    const query = parseContract(r.query ?? NO_QUERY, rawQuery, 'query');
    let body: unknown;
    if (r.streamBody || r.body) checkNoContentEncoding(c);
    if (r.streamBody) body = c.req.raw; // read by the handler as it arrives
    else if (r.body) {
      const text = r.largeBody ? await textOf(c.req.raw) : utf8Text(await c.req.arrayBuffer());
      // A body whose fields are all optional may be left out: it is `{}` (`curl -X POST .../cancel`).
      const empty = text.trim() === '';
      if (empty && !bodyOptional(r.body)) throw new HttpError('bad_request', 'a JSON body is required');
      if (!empty) checkJsonContentType(c); // a body of another type is what a cross-site form or fetch can send
      // A large body is parsed a piece at a time, so the event loop runs on (its depth counted as it goes).
      const pieces = empty || !r.largeBody ? null : await parseTasksBody(text, BODY_NESTING);
      body = empty ? {} : pieces !== null && typeof pieces === 'object' ? pieces : null;
      if (body === null) {
        // Parsed in one piece, a large body could hold the event loop for seconds and the heap for gigabytes.
        if (text.length > BODY_LIMIT) {
          throw new HttpError('bad_request', `a body over 4 MB must be a JSON object with the one key "tasks" holding an array (it is parsed a task at a time); this one is not valid JSON of that shape: ${String(pieces)}`);
        }
        try {
          body = JSON.parse(text);
        } catch (e) {
          throw new HttpError('bad_request', `invalid JSON: ${(e as Error).message}`);
        }
        // Validation and storage walk bodies recursively: deep nesting would overflow the stack (a 500).
        if (nestedDeeperThan(body, BODY_NESTING)) throw new HttpError('bad_request', `JSON nested deeper than ${MAX_JSON_NESTING} levels`); // some field's JSON is, from the field
      }
      checkStorableBody(text, body);
      if (!r.bodyCheckedByService) body = parseContract(r.body, body, '');
      else if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError('bad_request', 'the body must be a JSON object');
    }
    const trace = contextOfHeaders(c.req.header('traceparent'), c.req.header('tracestate'));
    const out = await r.handler(orrery, { params, query, body, ...(trace ? { trace } : {}), ...(r.watchesClient ? { signal: clientLeft(c) } : {}), ...(stopping() ? { stopping: true } : {}) }).catch((e: unknown) => {
      throw r.query && !r.body ? asQueryError(e, r.query) : e;
    });
    if (out.status === 204) return c.body(null, 204);
    if (out.stream) return c.body(readableOf(out.stream), (out.status ?? 200) as 200, { 'content-type': 'application/json' });
    return c.json(out.body ?? null, (out.status ?? 200) as 200);
  });
}

/**
 * A ValidationError or NotFoundError the service raised about a GET route's query parameters (an
 * unknown `type` filter) names them as the contract's own checks do (`query.status`), when every
 * field it names is one of the route's parameters; any other error is returned as it is.
 */
function asQueryError(e: unknown, query: object): unknown {
  const keys = (query as { shape?: Record<string, unknown> }).shape;
  if (!(e instanceof ValidationError || e instanceof NotFoundError) || !keys || e.details.length === 0) return e;
  const top = (path: string) => /^[^.[]*/.exec(path)![0];
  if (!e.details.every((d) => d.path !== '' && top(d.path) in keys)) return e;
  const first = e.details[0]!.path;
  const message = e.message.startsWith(`${first}: `) ? `query.${e.message}` : e.message;
  const details = e.details.map((d) => ({ ...d, path: `query.${d.path}` }));
  return e instanceof NotFoundError ? new NotFoundError(message, details) : new ValidationError(message, details);
}

/**
 * Path and query text must be valid Unicode (docs/http.md): a percent-encoding that decodes to no UTF-8
 * (`%ff`, an encoded surrogate `%ED%A0%80`) is refused, where the router would take it literally. The
 * query is checked under `/api` only: the probes, the metrics and the dashboard's pages ignore theirs.
 */
function checkPercentEncoding(url: string): void {
  if (!url.includes('%')) return;
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const q = url.indexOf('?', start);
  const path = q < 0 ? url.slice(start) : url.slice(start, q);
  // The path keeps its `+` (a space only in a query), which changes nothing here: only the decoding is checked.
  const decoded = decodeQueryComponent(path);
  if (decoded === null) {
    throw new HttpError('bad_request', 'the URL path is not valid UTF-8 (a percent-encoded byte sequence decodes to no character)');
  }
  // As the router reads it (decoded: `/%61pi/tasks` is an API route).
  if (q < 0 || !(decoded === '/api' || decoded.startsWith('/api/'))) return;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const decoded = decodeQueryComponent(name);
    if (decoded !== null && (eq < 0 || decodeQueryComponent(pair.slice(eq + 1)) !== null)) continue;
    const shown = decoded ?? name;
    throw new ValidationError(`query.${shown}: is not valid UTF-8 (a percent-encoded byte sequence decodes to no character)`, [
      { path: `query.${shown}`, message: 'is not valid UTF-8' },
    ]);
  }
}

/** How long `/readyz` waits for the database's answer. */
export const READY_TIMEOUT_MS = 2_000;

/** Null when the database answers a small read in time, else what went wrong. */
async function databaseProblem(orrery: Orrery): Promise<string | null> {
  let timer: Timer | undefined;
  const late = new Promise<string>((resolve) => {
    timer = orrery.clock.setTimer(READY_TIMEOUT_MS, () => resolve(`no answer within ${READY_TIMEOUT_MS} ms`), { unref: true });
  });
  try {
    return await Promise.race([orrery.store.getTaskTypes().then(() => null, (e: unknown) => (e as Error).message), late]);
  } finally {
    timer?.cancel();
  }
}

const leftSignals = new WeakMap<Context, AbortSignal>();

/**
 * Aborted when the client goes away before its answer is written: the response's connection closed
 * first (Node's ServerResponse 'close'); the Request's own signal is not aborted then in this app.
 * Outside Node's server (tests calling app.request), the Request's signal.
 */
function clientLeft(c: Context): AbortSignal {
  type Events = { once(ev: string, fn: () => void): void; off(ev: string, fn: () => void): void };
  const outgoing = (c.env as { outgoing?: Events & { writableFinished?: boolean; socket?: Events | null } } | undefined)?.outgoing;
  if (!outgoing) return c.req.raw.signal;
  const left = new AbortController();
  leftSignals.set(c, left.signal);
  const gone = () => {
    if (!outgoing.writableFinished) left.abort(new Error('the client closed the connection before the answer'));
  };
  // The server keeps a half-closed connection open for its answer (server.ts): a long wait takes the
  // client's end of sending (a fetch aborted, a killed client) as the client leaving, as Node did.
  const socket = outgoing.socket ?? null;
  socket?.once('end', gone);
  outgoing.once('close', () => {
    socket?.off('end', gone);
    gone();
  });
  return left.signal;
}
