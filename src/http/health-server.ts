import { createServer, type Server } from 'node:http';

/** A minimal HTTP listener for `orrery serve`: `GET /healthz`. The JSON API is mounted here as it lands. */
export function startHealthServer(host: string, port: number, status: () => Record<string, unknown>): Promise<Server> {
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && (req.url === '/healthz' || req.url?.startsWith('/healthz?'))) return send(200, { status: 'ok', ...status() });
    send(404, { error: { code: 'not_found', message: `no route ${req.method} ${req.url}`, details: [] } });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
