import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { postStream } from './stream-upload.js';

describe('postStream', () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => void warnings.push(w);
  afterEach(() => void process.off('warning', onWarning));

  it('waits out back-pressure many times without piling up listeners (no MaxListenersExceededWarning)', async () => {
    process.on('warning', onWarning);
    // A server that reads slowly, so the upload waits for 'drain' again and again.
    const server = createServer((req: IncomingMessage, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
        req.pause();
        setTimeout(() => req.resume(), 1);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes })));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const chunk = new Uint8Array(256 * 1024).fill(97);
      async function* body() {
        for (let i = 0; i < 64; i++) yield chunk; // 16 MiB
      }
      const { port } = server.address() as AddressInfo;
      const answer = await postStream(`http://127.0.0.1:${port}/`, {}, body(), new AbortController().signal);
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.text)).toEqual({ bytes: 64 * 256 * 1024 });
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
