/**
 * SQLite: a write that finds another process holding the write lock waits for it with the event loop
 * running, so a server keeps answering meanwhile (/healthz, reads); it waited inside SQLite's own busy
 * handler before, holding the event loop up to 15 s (an outage audit saw /healthz hang 18 s).
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';

let dir: string | null = null;
let orrery: Orrery | null = null;
afterEach(async () => {
  await orrery?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  orrery = dir = null;
});

/** A store on a fresh file, and another connection (another process's, as SQLite sees it) holding its write lock. */
async function lockedByAnother(): Promise<{ o: Orrery; other: Database.Database }> {
  dir = mkdtempSync(join(tmpdir(), 'orrery-busy-'));
  const path = join(dir, 'o.db');
  const o = (orrery = await openOrrery({ db: `sqlite:${path}` }));
  await o.createTaskType({ name: 'mail', defaultIntervalMs: '1h' });
  const other = new Database(path);
  other.prepare('BEGIN IMMEDIATE').run();
  return { o, other };
}

describe('SQLite: another process holds the write lock', () => {
  it('a write waits for it without holding the event loop, reads answer meanwhile, and the write lands once the lock is free', async () => {
    const { o, other } = await lockedByAnother();
    const creating = o.createTask({ type: 'mail', arguments: { args: ['a'], kwargs: {} } });
    let settled = false;
    void creating.then(() => (settled = true), () => (settled = true));
    // The event loop runs while the create waits: a timer fires and a read answers.
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    expect((await o.listTaskTypes()).map((t) => t.name)).toEqual(['mail']);
    other.prepare('COMMIT').run();
    other.close();
    const task = await creating;
    expect((await o.getTask(task.id))?.arguments.args).toEqual(['a']);
  });
  it('an import waits for the lock the same way', async () => {
    const { o, other } = await lockedByAnother();
    const lines = Array.from({ length: 3 }, (_, i) => JSON.stringify({ type: 'mail', arguments: { args: [i], kwargs: {} } })).join('\n');
    const importing = o.importTasks((async function* () {
      yield new TextEncoder().encode(lines);
    })());
    let settled = false;
    void importing.then(() => (settled = true), () => (settled = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    other.prepare('COMMIT').run();
    other.close();
    expect(await importing).toMatchObject({ created: 3 });
  });
});
