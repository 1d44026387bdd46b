/**
 * SQLite's WAL is copied back into the database file by a thread (WalCheckpointer), not by the
 * commits of the main connection: a store's commits ask the thread every 64 write transactions, and
 * the main connection keeps SQLite's automatic checkpoint only as a backstop (4,000 pages).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKSTOP_PAGES, CHECKPOINT_EVERY_COMMITS, WalCheckpointer } from '../../src/store/sqlite/sqlite-checkpointer.js';
import { openOrrery } from '../../src/engine/service.js';
import { WAL_SIZE_LIMIT } from '../../src/store/sqlite/sqlite-connection.js';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../cli/cli-helpers.js';
import { runScriptToExit } from '../support/script-exit.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-ckpt-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'orrery.db');
}

/** A WAL database of one table with a checkpointer of its own, both closed after the test. */
function walDatabase() {
  const path = tempFile();
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)');
  const checkpointer = new WalCheckpointer(db, path);
  cleanups.push(async () => {
    await checkpointer.close();
    db.close();
  });
  return { path, db, checkpointer };
}

describe('WAL checkpoints on a thread (SQLite)', () => {
  it('the thread copies the WAL into the database file; the main connection only keeps a backstop', async () => {
    const { path, db, checkpointer } = walDatabase();
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(BACKSTOP_PAGES);
    const before = statSync(path).size;
    const insert = db.prepare('INSERT INTO t (b) VALUES (?)');
    // Under the backstop: SQLite's own checkpoint never runs, so only the thread can grow the file.
    for (let i = 0; i < CHECKPOINT_EVERY_COMMITS - 1; i++) {
      insert.run(Buffer.alloc(8192, i));
      checkpointer.afterCommit();
    }
    expect(statSync(path).size).toBe(before); // everything is still in the WAL
    insert.run(Buffer.alloc(8192, 1));
    checkpointer.afterCommit(); // the 64th commit asks the thread
    await checkpointer.checkpoint(); // waits for that request, then for one of its own
    expect(statSync(path).size).toBeGreaterThan(before + (CHECKPOINT_EVERY_COMMITS - 1) * 8192);
  });

  it('the first request starts the thread after the wake-ups of the commit that asked have gone out', async () => {
    const { path, db, checkpointer } = walDatabase();
    const started = () => (checkpointer as unknown as { thread: unknown }).thread !== null;
    const insert = db.prepare('INSERT INTO t (b) VALUES (?)');
    for (let i = 0; i < CHECKPOINT_EVERY_COMMITS; i++) {
      insert.run(Buffer.alloc(100, i));
      checkpointer.afterCommit(); // the 64th asks
    }
    expect(started()).toBe(false); // \`new Worker\` blocks about 3 ms: not inside the commit's call
    // A store sends its wake-ups by setImmediate right after the commit: the thread is not started yet then.
    const atWakeUp = await new Promise<boolean>((r) => setImmediate(() => r(started())));
    expect(atWakeUp).toBe(false);
    await checkpointer.checkpoint(); // the deferred request runs, then this one
    expect(started()).toBe(true);
  });

  it('a store on a file checkpoints on its thread as it writes, and closes it with the store', async () => {
    const path = tempFile();
    const orrery = await openOrrery({ db: `sqlite:${path}` });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await orrery.close();
    });
    await orrery.createTaskType({ name: 'load-git', maxQueueLength: null });
    const before = statSync(path).size;
    for (let i = 0; i < 2 * CHECKPOINT_EVERY_COMMITS; i++) {
      await orrery.createTask({ type: 'load-git', policy: 'oneshot', arguments: { args: [`https://example.org/${i}`, 'x'.repeat(4000)], kwargs: {} } });
    }
    // The last request may still be running: a checkpoint asked now comes after it.
    await (orrery.store as unknown as { checkpointer: WalCheckpointer }).checkpointer.checkpoint();
    expect(statSync(path).size).toBeGreaterThan(before + CHECKPOINT_EVERY_COMMITS * 4000);
    await orrery.close(); // stops the thread (the test would not end otherwise)
    closed = true;
  });

  it('a WAL grown past 16 MiB by one large transaction is cut back when it starts over (journal_size_limit)', async () => {
    const path = tempFile();
    const orrery = await openOrrery({ db: `sqlite:${path}` });
    cleanups.push(() => orrery.close());
    await orrery.createTaskType({ name: 'bulk', maxQueueLength: null });
    // One transaction of about 30 MiB: the WAL holds all of it until the commit.
    await orrery.createTasks(Array.from({ length: 6000 }, (_, i) => ({ type: 'bulk', policy: 'oneshot' as const, arguments: { args: [i, 'x'.repeat(4000)], kwargs: {} } })));
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(WAL_SIZE_LIMIT);
    // Copied back entirely, the next write starts the WAL over and cuts it back.
    await (orrery.store as unknown as { checkpointer: WalCheckpointer }).checkpointer.checkpoint();
    await orrery.createTask({ type: 'bulk', policy: 'oneshot', arguments: { args: ['after'], kwargs: {} } });
    expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(WAL_SIZE_LIMIT);
  });

  it('the thread does not keep a process alive: a script past 64 commits that never closes its store exits', async () => {
    const entry = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;
    const script = `
      const { openOrrery } = await import(${JSON.stringify(entry)});
      const orrery = await openOrrery({ db: 'sqlite:' + process.env.DB });
      await orrery.createTaskType({ name: 'left-open', maxQueueLength: null });
      for (let i = 0; i < ${CHECKPOINT_EVERY_COMMITS * 2}; i++) await orrery.createTask({ type: 'left-open', policy: 'oneshot', arguments: { args: [i], kwargs: {} } });
      console.log('created');`;
    expect(await runScriptToExit(script, { DB: tempFile() }, { file: true })).toEqual({ code: 0, out: 'created' });
  }, 20_000);

  it('the thread keeps the process alive while a checkpoint is awaited: a script awaiting createTasks of 10,000 goes on', async () => {
    // createTasks of 10,000 or more awaits a checkpoint on the thread; unreferenced throughout, the
    // thread let the event loop empty during that wait: the script exited 13 with its await unsettled.
    const entry = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;
    const script = `
      const { openOrrery } = await import(${JSON.stringify(entry)});
      const orrery = await openOrrery({ db: 'sqlite:' + process.env.DB });
      await orrery.createTaskType({ name: 'bulk', maxQueueLength: null });
      const made = await orrery.createTasks(Array.from({ length: 10000 }, (_, i) => ({ type: 'bulk', policy: 'oneshot', arguments: { args: [i], kwargs: {} } })));
      console.log('created ' + made.length);`;
    expect(await runScriptToExit(script, { DB: tempFile() }, { file: true })).toEqual({ code: 0, out: 'created 10000' });
  }, 30_000);
});
