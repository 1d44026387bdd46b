import { describe, expect, it } from 'vitest';
import { untilAborted } from './until-aborted.js';

/** Rejections nobody handled within a few turns after `fn` ran. */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const on = (reason: unknown) => void seen.push(reason);
  process.on('unhandledRejection', on);
  try {
    await fn();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  } finally {
    process.off('unhandledRejection', on);
  }
  return seen;
}

describe('untilAborted', () => {
  it('answers as the promise while the signal has not aborted', async () => {
    expect(await untilAborted(Promise.resolve(1), new AbortController().signal)).toBe(1);
    await expect(untilAborted(Promise.reject(new Error('no')), new AbortController().signal)).rejects.toThrow('no');
  });

  it('rejects with the reason once the signal aborts, and a later failure of the abandoned promise is not an unhandled rejection', async () => {
    const seen = await unhandledDuring(async () => {
      const c = new AbortController();
      let fail!: (e: Error) => void;
      const p = new Promise<never>((_, reject) => (fail = reject));
      const waiting = untilAborted(p, c.signal);
      c.abort(new Error('stop'));
      await expect(waiting).rejects.toThrow('stop');
      fail(new Error('isolate ended before it was ready'));
    });
    expect(seen).toEqual([]);
  });

  it('with a signal already aborted, a later failure of the promise is not an unhandled rejection either', async () => {
    const seen = await unhandledDuring(async () => {
      const c = new AbortController();
      c.abort(new Error('stopped'));
      let fail!: (e: Error) => void;
      await expect(untilAborted(new Promise<never>((_, reject) => (fail = reject)), c.signal)).rejects.toThrow('stopped');
      fail(new Error('late'));
    });
    expect(seen).toEqual([]);
  });
});
