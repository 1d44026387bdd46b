/**
 * The dead-letter bin's search of one reason follows a page that stopped at the search's bound of
 * examined tasks (partial): behind 10,000+ tasks disabled for another reason, a reason's tasks were
 * shown as none (scale audit).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpApp } from '../../src/http/app.js';
import { OrreryClient } from '../../src/http/client.js';
import { startHttpServer } from '../../src/http/server.js';
import { firstOfReason } from '../../src/web/dead-letter-search.js';
import { openHttp, type HttpHarness } from '../http/http-helpers.js';

describe('the dead-letter bin, one reason behind thousands of another', () => {
  let h: HttpHarness | undefined;
  let close: () => void = () => {};
  afterEach(async () => {
    close();
    await h?.close();
  });

  it('finds the permfailed task after 10,050 tasks disabled as retries_exhausted', async () => {
    h = await openHttp({ metrics: null });
    const { server, port } = await startHttpServer(createHttpApp(h.orrery), '127.0.0.1', 0);
    close = () => server.close();
    const o = h.orrery;
    await o.createTaskType({ name: 'job', numRetries: 0, maxQueueLength: null });
    await o.createTasks(Array.from({ length: 10_050 }, (_, i) => ({ type: 'job', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    for (;;) {
      const claimed = await o.claimRuns({ worker: 'w', types: ['job'], limit: 1000, startNow: 1000 });
      if (claimed.length === 0) break;
      await o.endRuns(claimed.map((c) => ({ backendId: c.run.backendId, status: 'failed' as const, worker: 'w', error: 'boom' })));
    }
    const last = await o.createTask({ type: 'job', policy: 'oneshot', arguments: { args: ['last'], kwargs: {} } });
    const [c] = await o.claimRuns({ worker: 'w', types: ['job'], limit: 1, startNow: 1 });
    await o.endRun(c!.run.backendId, { status: 'permfailed', worker: 'w', error: 'bad input' });

    const client = new OrreryClient(`http://127.0.0.1:${port}`);
    // One page stops at the bound, before the task: the bin showed the reason as empty.
    const first = await client.findTasks({ status: 'disabled', disabledReason: 'permfailed', dagAttempts: false, limit: 200 });
    expect(first).toMatchObject({ tasks: [], partial: true });
    const found = await firstOfReason(client, 'permfailed');
    expect(found.tasks.map((t) => t.id)).toEqual([last.id]);
    expect((await firstOfReason(client, 'retries_exhausted')).tasks).toHaveLength(200);
  }, 60_000);
});
