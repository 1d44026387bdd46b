/**
 * A PostgreSQL claim of types without limits skips reading the queue of waiting runs when a claim of
 * the same types found it empty less than QUEUE_EMPTY_TRUST_MS ago and no `runs` wake-up came since
 * (core/claim-ahead.ts readQueue): a task created while the worker is idle is claimed in one
 * statement. A run queued with its wake-up is claimed at once; one whose wake-up was lost is claimed
 * by the first claim after the trust window.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { QUEUE_EMPTY_TRUST_MS } from '../../src/core/claim-ahead.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('PostgreSQL claims: the queue found empty', () => {
  const open: Orrery[] = [];
  let db: TestDatabase | null = null;
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
    await db?.drop();
    db = null;
  });

  async function setup() {
    db = await createTestDatabase('queue_probe');
    const worker = await openOrrery({ db: db.url });
    open.push(worker);
    await worker.createTaskType({ name: 'noop', maxQueueLength: null });
    const t0 = Date.now();
    const claim = (atMs: number) => worker.claim({ worker: 'w1', types: ['noop'], limit: 10, at: new Date(atMs) });
    return { worker, t0, claim };
  }

  /** Another store on the database that queues one due run of `noop` at `atMs`; `silent`: it sends no wake-up. */
  async function queueOne(url: string, atMs: number, silent: boolean) {
    // A URL that differs in form gets a hub of its own: it reaches the worker's store only through LISTEN/NOTIFY.
    const other = await openOrrery({ db: silent ? `${url}${url.includes('?') ? '&' : '?'}application_name=silent` : url });
    open.push(other);
    if (silent) (other.store as unknown as { signal: () => void }).signal = () => {};
    await other.createTask({ type: 'noop', policy: 'oneshot', arguments: { args: [], kwargs: {} } }, { at: new Date(atMs) });
    const runs = await other.scheduleDue({ at: new Date(atMs) });
    expect(runs).toHaveLength(1);
  }

  it('a run queued with its wake-up is claimed by the next claim', async () => {
    const { t0, claim } = await setup();
    expect((await claim(t0)).runs).toHaveLength(0); // the queue is found empty
    await queueOne(db!.url, t0 + 1, false);
    const got = await claim(t0 + 2);
    expect(got.runs).toHaveLength(1);
    expect(got.created ?? []).toHaveLength(0); // taken from the queue, not from the due tasks
  });

  it('a run queued without a wake-up waits at most the trust window', async () => {
    const { t0, claim } = await setup();
    expect((await claim(t0)).runs).toHaveLength(0);
    await queueOne(db!.url, t0 + 1, true);
    // Within the window the queue is not read (the task is no longer due: its run waits in the queue).
    expect((await claim(t0 + QUEUE_EMPTY_TRUST_MS - 1)).runs).toHaveLength(0);
    expect((await claim(t0 + QUEUE_EMPTY_TRUST_MS)).runs).toHaveLength(1);
  });
});
