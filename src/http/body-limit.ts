import type { Context, MiddlewareHandler } from 'hono';
import { HttpError } from './errors.js';

/** Most of a refused body read and thrown away before its 413 is sent (past it, the connection is closed). */
export const DISCARD_MAX_BYTES = 64 * 1024 * 1024;
/** How long a refused body is read for at most before its 413 is sent anyway (and the connection closed). */
export const DISCARD_MAX_MS = 10_000;

/**
 * A request body of at most `maxSize` bytes, read whole before the route (as a declared length or as
 * it arrives); a larger one is answered `413 payload_too_large`. What is left of a refused body is read
 * and thrown away before the 413 is sent (within DISCARD_MAX_BYTES and DISCARD_MAX_MS; past them the
 * answer closes the connection): a client still sending when the server answers and closes fails to
 * write (EPIPE, a reset) and often never reads the 413, so a caller took it for a network failure
 * worth retrying. (hono's bodyLimit answers at once and keeps the body's reader, so nothing could.)
 */
export function bodyLimit(maxSize: number): MiddlewareHandler {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const reader = body.getReader();
    const declared = c.req.raw.headers.has('transfer-encoding') ? null : c.req.raw.headers.get('content-length');
    if (declared !== null && Number(declared) > maxSize) return refuse(c, reader);
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxSize) return refuse(c, reader);
      chunks.push(value);
    }
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks, size) });
    return next();
  };
}

async function refuse(c: Context, reader: ReadableStreamDefaultReader<Uint8Array>): Promise<never> {
  if (!(await discardRest(reader))) c.header('connection', 'close');
  throw new HttpError('payload_too_large', 'request body too large');
}

/** Reads what is left and throws it away: true once the body has ended, false past the bounds or on a failure (the reader cancelled). */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), DISCARD_MAX_MS)));
  let read = 0;
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), late]);
      if (r === 'late') break;
      if (r.done) return true;
      read += r.value.length;
      if (read > DISCARD_MAX_BYTES) break;
    }
  } catch {
    return false; // the connection failed meanwhile
  } finally {
    clearTimeout(timer);
  }
  await reader.cancel().catch(() => {});
  return false;
}
