/**
 * A wake-up sent by a PostgreSQL store is delivered in its own process by the hub, and to other
 * processes by LISTEN/NOTIFY. The LISTEN connection hears this process's own notifications too; it
 * skips those (their backend is one of the process's pool connections), so each in-process create
 * wakes a runner or a worker once, not twice (two passes, two claims). Wake-ups from elsewhere still
 * arrive. Notifications reach a listener in commit order, so a later foreign wake-up on another
 * channel marks the moment every earlier one has been heard.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/core/wake-ups.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { PG_CHANNEL } from '../../src/store/postgres/postgres-notifier.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

describe('PostgreSQL wake-ups this process sent', () => {
  const open: Orrery[] = [];
  const clients: pg.Client[] = [];
  let db: TestDatabase | null = null;
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.end();
    for (const o of open.splice(0)) await o.close();
    await db?.drop();
    db = null;
  });

  async function orrery(url: string): Promise<Orrery> {
    const o = await openOrrery({ db: url });
    open.push(o);
    return o;
  }

  /** A connection of "another process": its notifications come from a backend no store here owns. */
  async function foreign(url: string): Promise<(channel: Channel) => Promise<void>> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    clients.push(c);
    return async (channel) => void (await c.query('SELECT pg_notify($1, $2)', [PG_CHANNEL, channel]));
  }

  /** Counts `tasks` wake-ups heard by `listener`; `mark()` resolves when a foreign `dags` wake-up arrives after all earlier ones. */
  async function counting(listener: Orrery, send: (channel: Channel) => Promise<void>) {
    let tasks = 0;
    let dags: (() => void) | null = null;
    listener.store.listen('tasks', () => (tasks += 1));
    listener.store.listen('dags', () => dags?.());
    // The LISTEN connection starts with the first listener: wait until a foreign wake-up gets through.
    for (let heard = false; !heard; ) {
      const got = new Promise<boolean>((r) => (dags = () => r(true)));
      await send('dags');
      heard = await Promise.race([got, new Promise<boolean>((r) => setImmediate(() => setTimeout(() => r(false), 50)))]);
    }
    return {
      heardTasks: () => tasks,
      async mark(): Promise<void> {
        const got = new Promise<void>((r) => (dags = r));
        await send('dags');
        await got;
      },
    };
  }

  it('an in-process create wakes a listener of the same database once; a foreign wake-up still arrives', async () => {
    db = await createTestDatabase('own_wakeups');
    const creator = await orrery(db.url);
    await creator.createTaskType({ name: 'noop', maxQueueLength: null });
    const listener = await orrery(db.url); // another store in this process: the same hub
    const send = await foreign(db.url);
    const count = await counting(listener, send);
    const before = count.heardTasks();

    await creator.createTask({ type: 'noop', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
    await creator.createTasks([2, 3].map((i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await count.mark();
    // Two creates (one statement each, its NOTIFY inside): each heard once, from the hub.
    expect(count.heardTasks() - before).toBe(2);

    // The same changes made through a store of "another process" (a URL of another form has a hub of its own).
    const other = await orrery(`${db.url}${db.url.includes('?') ? '&' : '?'}application_name=other`);
    const base = count.heardTasks();
    await other.createTask({ type: 'noop', policy: 'oneshot', arguments: { args: [4], kwargs: {} } });
    await other.createTasks([5, 6].map((i) => ({ type: 'noop', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } })));
    await count.mark();
    expect(count.heardTasks() - base).toBe(2);

    const last = count.heardTasks();
    await send('tasks');
    await count.mark();
    expect(count.heardTasks() - last).toBe(1);
  });
});
