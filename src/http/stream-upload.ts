import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What an exchange needs of an answer: its status and its body as text. */
export interface TextAnswer {
  status: number;
  text: string;
}

/**
 * A POST whose body is streamed from `body` (a long import), answered as text, over Node's own HTTP
 * client. fetch (undici) never settled when the server closed the connection while such a body was
 * being sent: a process awaiting it exited with status 13 and no word (`task import --url`). Here a
 * failure of the connection, before or during the upload or the answer, rejects with the socket's
 * error (its `code`: ECONNRESET, EPIPE, ECONNREFUSED, ERR_SSL_…), as fetch's cause would carry it;
 * `signal` aborts it.
 */
export function postStream(url: string, headers: Record<string, string>, body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<TextAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(e);
    };
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('aborted', () => fail(Object.assign(new Error('the server closed the connection during its answer'), { code: 'ECONNRESET' })));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('error', fail);
    req.on('close', () => fail(Object.assign(new Error('the server closed the connection before its answer'), { code: 'ECONNRESET' })));
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('close', () => signal.removeEventListener('abort', onAbort));
    void (async () => {
      try {
        for await (const chunk of body) {
          if (settled) return;
          // Each wait removes both its listeners: a long upload waits thousands of times (a 'close'
          // listener left per wait passed Node's limit of 10 and printed MaxListenersExceededWarning).
          if (!req.write(chunk)) {
            await new Promise<void>((r) => {
              const go = () => {
                req.off('drain', go);
                req.off('close', go);
                r();
              };
              req.once('drain', go);
              req.once('close', go);
            });
          }
        }
        if (!settled) req.end();
      } catch (e) {
        fail(e); // the source failed (a bad chunk, a read error): the upload stops, the server sees it cut
      }
    })();
  });
}
