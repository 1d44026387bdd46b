/**
 * What keeps a process alive while a Daemon stops: the stop's wait for alerts still being sent is
 * awaited by the caller, so it holds the process (guide.md "Graceful shutdown", step 4).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScriptToExit } from '../support/script-exit.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('a stopping daemon with an alert still being sent', () => {
  it('keeps the process alive through the 10 s wait: stop() returns and close() runs (SQLite in memory, nothing else open)', async () => {
    // The wait's timer was unreferenced: with nothing else open the event loop emptied at once and the
    // script exited 13 with `await daemon.stop()` unsettled (guide audit).
    const entry = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;
    const script = `
      const { openOrrery, Daemon } = await import(${JSON.stringify(entry)});
      const orrery = await openOrrery({ db: 'sqlite::memory:' });
      await orrery.createTaskType({ name: 'f', numRetries: 0 });
      let called;
      const notified = new Promise((r) => (called = r));
      const taskNotifier = { onFailure: () => { called(); return new Promise(() => {}); } };
      const daemon = new Daemon(orrery, { runner: true, reaper: true, taskNotifier,
        worker: { handlers: { f: async () => { throw new Error('boom'); } }, pollMs: 50, registry: false } });
      daemon.start();
      await orrery.createTask({ type: 'f', policy: 'oneshot' });
      await notified;
      await daemon.stop();
      console.log('stopped');
      await orrery.close();
      console.log('closed');`;
    const { code, out } = await runScriptToExit(script, {}, { file: true });
    expect(code).toBe(0);
    expect(out.split('\n').slice(-2)).toEqual(['stopped', 'closed']);
  }, 40_000);
});
