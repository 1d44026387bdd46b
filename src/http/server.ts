import { getRequestListener } from '@hono/node-server';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
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
    const problem = hostHeaderProblem(req.headers.host);
    if (problem !== null) return answer(req, res, problem);
    void listener(req, res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

function errorBody(message: string): string {
  return JSON.stringify({ error: { code: 'bad_request', message, details: [] } });
}

function badRequest(requestId: string | undefined, message: string): Response {
  return new Response(errorBody(message), { status: 400, headers: { 'content-type': 'application/json', 'x-request-id': requestIdOf(requestId) } });
}

function answer(req: IncomingMessage, res: ServerResponse, message: string): void {
  const id = req.headers['x-request-id'];
  res.writeHead(400, { 'content-type': 'application/json', 'x-request-id': requestIdOf(typeof id === 'string' ? id : undefined) });
  res.end(errorBody(message));
}
