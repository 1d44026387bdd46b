import { getRequestListener } from '@hono/node-server';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';
import { hostHeaderProblem, requestIdOf } from './guards.js';

/**
 * Listens with the HTTP app; resolves with the server and the port actually bound (for `--port 0`).
 * A request whose `Host` header is missing or malformed, or whose target the adapter cannot turn into
 * a URL, is answered here with a 400 in the API's error shape (and a request id), before the app.
 */
export function startHttpServer(app: Hono, host: string, port: number): Promise<{ server: Server; port: number }> {
  const listener = getRequestListener(app.fetch, {
    hostname: host,
    errorHandler: (e) => badRequest(undefined, `bad request: ${(e as Error).message}`),
  });
  const server = createServer({ requireHostHeader: false }, (req, res) => {
    const problem = hostHeaderProblem(req.headers.host, req.rawHeaders);
    if (problem !== null) return answer(req, res, problem);
    // An IPv6 address in a longer form than the shortest ([0:0:0:0:0:0:0:1], [::ffff:127.0.0.1]) is
    // one a URL holds, but the adapter refuses any host not already written as a URL writes it.
    if (req.headers.host!.startsWith('[')) req.headers.host = new URL(`http://${req.headers.host}`).host;
    // A target the adapter cannot turn into a URL (`*`, a backslash): answered here, with the caller's request id.
    const target = targetProblem(req.url ?? '');
    if (target !== null) return answer(req, res, `bad request: ${target}`);
    void listener(req, res);
  });
  // A client that half-closes once its request is sent (`nc -N`, some health checkers) still gets its
  // answer: Node otherwise drops the requests in flight at the client's FIN and ends the connection
  // (a POST was carried out, unanswered). Node's own switch for it (not in its type definitions).
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('clientError', answerUnparsed);
  // Requests Node answers itself unless told (a bare 417 for an `Expect` other than 100-continue; a
  // CONNECT dropped without a word) get the API's error shape and its headers too.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) =>
    answer(req, res, `the Expect header "${String(req.headers.expect)}" cannot be met (only 100-continue is)`, 417, 'expectation_failed'),
  );
  server.on('connect', (req: IncomingMessage, socket: Duplex) => rawAnswer(socket, '400 Bad Request', errorBody('CONNECT is not answered here (this is not a proxy)'), req.headers['x-request-id']));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

/**
 * Whether `host:port` can be listened on now (it is bound, then let go): `orrery serve` asks before it
 * opens its database, so a port in use exits without creating or changing anything. Null when it
 * can, else the error's message. Another process may still take the port in between; the listen
 * itself then fails as before.
 */
export function listenProblem(host: string, port: number): Promise<{ code: string | null; message: string } | null> {
  return new Promise((resolve) => {
    const probe = createNetServer();
    probe.once('error', (e: Error & { code?: string }) => resolve({ code: e.code ?? null, message: e.message }));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(null)));
  });
}

/** The headers every error answer carries besides its type and request id (app.ts sets them on the others). */
const ERROR_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' } as const;

function errorBody(message: string, code = 'bad_request'): string {
  return JSON.stringify({ error: { code, message, details: [] } });
}

/**
 * A request Node's parser refused (headers over its 16 KB limit, a malformed request line or header)
 * gets the API's error shape instead of Node's bare status line; a connection already gone is closed.
 */
function answerUnparsed(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, body] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['431 Request Header Fields Too Large', errorBody('the request headers are too large (at most 16 KB in all)', 'headers_too_large')]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', errorBody('the request was not received in time', 'request_timeout')]
        : ['400 Bad Request', errorBody(`malformed HTTP request (${err.code ?? 'parse error'})`)];
  rawAnswer(socket, status, body);
}

/** An error answer written on the socket itself (no response object), then the connection closed; the caller's request id kept when sane. */
function rawAnswer(socket: Duplex, status: string, body: string, requestId?: string | string[]): void {
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\nx-content-type-options: nosniff\r\n` +
      `x-request-id: ${requestIdOf(typeof requestId === 'string' ? requestId : undefined)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Why the adapter would refuse a request target (as @hono/node-server reads one: a path, or an
 * absolute http(s) URL, with no backslash before its query), or null: refused here with the caller's
 * request id, which the adapter's error handler cannot see. Its other refusals keep a fresh id.
 */
function targetProblem(target: string): string | null {
  if (target === '' || target.startsWith('http://') || target.startsWith('https://')) return null;
  if (!target.startsWith('/')) return `the request target must be a path starting with / (it is ${JSON.stringify(target.slice(0, 64))})`;
  const backslash = target.indexOf('\\');
  const query = target.indexOf('?');
  if (backslash !== -1 && (query === -1 || backslash < query)) return 'Backslash in request path';
  return null;
}

function badRequest(requestId: string | undefined, message: string): Response {
  return new Response(errorBody(message), { status: 400, headers: { 'content-type': 'application/json', ...ERROR_HEADERS, 'x-request-id': requestIdOf(requestId) } });
}

function answer(req: IncomingMessage, res: ServerResponse, message: string, status = 400, code = 'bad_request'): void {
  const id = req.headers['x-request-id'];
  const body = errorBody(message, code);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...ERROR_HEADERS, 'x-request-id': requestIdOf(typeof id === 'string' ? id : undefined) });
  res.end(body);
}
