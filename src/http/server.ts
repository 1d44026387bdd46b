import { serve } from '@hono/node-server';
import type { Server } from 'node:http';
import type { Hono } from 'hono';

/** Listens with the HTTP app; resolves with the server and the port actually bound (for `--port 0`). */
export function startHttpServer(app: Hono, host: string, port: number): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info) => resolve({ server, port: info.port })) as Server;
    server.once('error', reject);
  });
}
