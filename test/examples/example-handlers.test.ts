/**
 * The example handlers `npm start` runs (examples/handlers.ts), which users copy: their sleep leaves no
 * abort listener behind. It added one per call and never removed it, so a handler sleeping eleven
 * times printed MaxListenersExceededWarning (soak audit).
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { handlers } from '../../examples/handlers.js';
import type { HandlerContext } from '../../src/index.js';

function context(signal: AbortSignal): HandlerContext {
  const run = { id: 1, backendId: 'b', attempt: 1 } as unknown as HandlerContext['run'];
  return { args: ['https://example.org/feed.xml'], kwargs: { to: 'a@example.org', subject: 's' }, signal, heartbeat: async () => {}, log: () => {}, run };
}

describe('examples/handlers.ts', () => {
  it('check-feed sleeps without leaving abort listeners on the run signal, and an abort ends it with the reason', async () => {
    const controller = new AbortController();
    const outcomes = await Promise.all(Array.from({ length: 12 }, () => handlers['check-feed']!(context(controller.signal))));
    expect(outcomes).toHaveLength(12);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);

    const aborted = new AbortController();
    const run = handlers['check-feed']!(context(aborted.signal));
    aborted.abort(new Error('cancelled'));
    await expect(run).rejects.toThrow('cancelled');
    await expect(handlers['check-feed']!(context(aborted.signal))).rejects.toThrow('cancelled');
  });
});
