/**
 * SQLite in WAL mode: readers neither wait for another process's write transaction nor hold it up
 * (operations.md). A read-only command beside a writer holding the lock answers at once; it waited
 * for the lock before (every open took the write lock to check the schema's migrations) and failed
 * after the 15 s busy timeout with "database is locked".
 */
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { removeTempDirs, runCli, tempDb } from '../cli/cli-helpers.js';

afterAll(removeTempDirs);

describe('SQLite readers beside a writer', () => {
  it('task list, status and task show answer while another process holds the write lock', async () => {
    const db = tempDb();
    const o = await openOrrery({ db: db.url });
    await o.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
    const task = await o.createTask({ type: 'mail', arguments: { args: ['a'], kwargs: {} } });
    await o.close();
    const writer = new Database(db.path);
    writer.prepare('BEGIN IMMEDIATE').run();
    try {
      for (const args of [['task', 'list'], ['status'], ['task', 'show', String(task.id)]]) {
        const started = Date.now();
        const r = await runCli([...args, ...db.db]);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
        // Far below the 15 s busy timeout it used to wait out.
        expect(Date.now() - started, args.join(' ')).toBeLessThan(10_000);
      }
    } finally {
      writer.prepare('ROLLBACK').run();
      writer.close();
    }
  }, 60_000);
});
