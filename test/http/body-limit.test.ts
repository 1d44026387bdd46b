/**
 * A body over the limit gets its 413 over a real socket, whatever the client does: the server reads
 * and throws away the rest of the body before answering, so a client still sending is not cut off
 * (EPIPE, a reset) before it reads the answer, which a caller took for a network failure worth
 * retrying. Past DISCARD_MAX_BYTES the answer closes the connection instead.
 */
import { request, Agent } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { DISCARD_MAX_BYTES } from '../../src/http/body-limit.js';
import type { Server } from 'node:http';

const MB = 1024 * 1024;
let dir: string;
let orrery: Orrery;
let server: Server;
let port: number;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orrery-body-limit-'));
  orrery = await openOrrery({ db: `sqlite:${join(dir, 'o.db')}` });
  await orrery.createTaskType({ name: 'mail' });
  ({ server, port } = await startHttpServer(createHttpApp(orrery), '127.0.0.1', 0));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await orrery.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Outcome { status: number | null; connection: string | undefined; code: string | null; error: string | null }

/** POSTs a task whose key makes the body `size` bytes; the outcome once the exchange is over (answer and any socket error). */
function post(size: number, opts: { chunked?: boolean; agent?: Agent | false } = {}): Promise<Outcome> {
  const body = Buffer.from(`{"type":"mail","policy":"oneshot","key":"${'a'.repeat(size - 44)}"}`);
  return new Promise((resolve) => {
    const out: Outcome = { status: null, connection: undefined, code: null, error: null };
    let pending = 2; // the answer's end, and the request's own end (written, or failed)
    const settle = () => --pending === 0 && resolve(out);
    const req = request(
      { host: '127.0.0.1', port, path: '/api/tasks', method: 'POST', agent: opts.agent ?? false, headers: { 'content-type': 'application/json', ...(opts.chunked ? {} : { 'content-length': body.length }) } },
      (res) => {
        out.status = res.statusCode ?? null;
        out.connection = res.headers.connection;
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          out.code = (JSON.parse(text) as { error?: { code: string } }).error?.code ?? null;
          settle();
        });
      },
    );
    req.on('error', (e: Error & { code?: string }) => {
      out.error = e.code ?? e.message;
      if (out.status === null) pending = 1; // no answer will come
      settle();
    });
    req.on('finish', settle);
    if (opts.chunked) for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
    req.end(opts.chunked ? undefined : body);
  });
}

describe('a body over the 4 MB limit', () => {
  it('gets its 413 every time, the client never cut off while it sends (declared length or chunked)', async () => {
    for (let i = 0; i < 8; i++) {
      expect(await post(4 * MB + 100)).toEqual({ status: 413, connection: 'close', code: 'payload_too_large', error: null });
      expect(await post(4 * MB + 100, { chunked: true })).toEqual({ status: 413, connection: 'close', code: 'payload_too_large', error: null });
    }
    expect(await orrery.findTasks({})).toHaveProperty('tasks', []);
  });

  it('keeps a kept-alive connection usable after the 413', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await post(4 * MB + 100, { agent })).toMatchObject({ status: 413, connection: 'keep-alive', error: null });
      expect(await post(200, { agent })).toMatchObject({ status: 201, error: null });
    } finally {
      agent.destroy();
    }
  });

  it('past the bytes it reads to discard, answers 413 and closes the connection', async () => {
    expect(await post(DISCARD_MAX_BYTES + 4 * MB + 100)).toMatchObject({ status: 413, connection: 'close', code: 'payload_too_large' });
  });

  it('reaches the typed client as the 413, never as an unreachable server', async () => {
    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    for (let i = 0; i < 4; i++) {
      await expect(client.createTask({ type: 'mail', policy: 'oneshot', arguments: { args: ['x'.repeat(4 * MB)], kwargs: {} } })).rejects.toMatchObject({ code: 'payload_too_large' });
    }
  });
});
