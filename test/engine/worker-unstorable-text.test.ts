import { describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { Worker } from '../../src/engine/worker.js';
import { createTestDatabase } from '../support/postgres.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

/**
 * Text Orrery records from a handler (its error message, its log lines) may hold a NUL or a lone
 * surrogate, which PostgreSQL cannot store: the worker records it with U+FFFD instead, so the end is
 * never lost; a result holding one ends the run failed, naming the field (docs/http.md).
 */
describe('a handler\'s unstorable text', () => {
  const sqlite = useTempOrrery();

  async function check(orrery: Orrery): Promise<void> {
    await orrery.createTaskType({ name: 'bad-error' });
    await orrery.createTaskType({ name: 'bad-log' });
    await orrery.createTaskType({ name: 'bad-result' });
    const [a, b, c] = await orrery.createTasks([
      { type: 'bad-error', policy: 'oneshot' },
      { type: 'bad-log', policy: 'oneshot' },
      { type: 'bad-result', policy: 'oneshot' },
    ]);
    const w = new Worker(orrery, {
      concurrency: 3,
      types: ['bad-error', 'bad-log', 'bad-result'],
      pollMs: 20,
      handlers: {
        'bad-error': () => {
          throw new Error('boom\u0000\ud800!');
        },
        'bad-log': ({ log }) => {
          log('info', 'line\u0000one', { 'k\u0000': 'v\udc00', ok: ['\ud83d\ude00'] });
          return true;
        },
        'bad-result': () => ({ eventful: true, result: { 'k\u0000': 1 } }),
      },
    });
    w.start();
    try {
      const ended = await waitFor(async () => {
        const runs = await Promise.all([a!, b!, c!].map(async (t) => (await orrery.listRuns(t.id))[0]));
        return runs.every((r) => r?.ended) ? runs : null;
      }, 'the three runs to end');
      const [errorRun, logRun, resultRun] = ended;
      expect(errorRun!.status).toBe('failed');
      expect(errorRun!.error).toContain('boom\ufffd\ufffd!');
      expect(logRun!.status).toBe('eventful');
      await waitFor(async () => (await orrery.getRunLogs(logRun!.backendId)).length > 0, 'the log line');
      const [line] = await orrery.getRunLogs(logRun!.backendId);
      expect(line!.message).toBe('line\ufffdone');
      expect(line!.attributes).toEqual({ 'k\ufffd': 'v\ufffd', ok: ['😀'] });
      expect(resultRun!.status).toBe('failed');
      expect(resultRun!.error).toBe('handler result is not JSON: result["k\\u0000"]: key must not contain NUL characters (U+0000)');
    } finally {
      await w.stop(0);
    }
  }

  it('on SQLite', async () => {
    const { orrery } = await sqlite();
    await check(orrery);
  });

  it('on PostgreSQL', async () => {
    const db = await createTestDatabase('unstorable_text');
    const orrery = await openOrrery({ db: db.url });
    try {
      await check(orrery);
    } finally {
      await orrery.close();
      await db.drop();
    }
  });
});
