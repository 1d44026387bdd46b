import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const DIST = join(import.meta.dirname, '..', 'dist');

/** Packages a worker process must not load at import (docs/operations.md#memory-of-a-worker-process). */
const HEAVY = ['zod', 'hono', 'prom-client', 'pino', 'pino-pretty', '@hono'];

/**
 * Imports `module` (a dist file) in a fresh Node process with a resolve hook that reports every
 * package resolved through a message port, then runs `after` (a script body with the module as `m`);
 * answers the packages resolved by the import alone, those resolved by `after`, and what `after`
 * printed. The hook posts before its resolution returns, so once an import has settled its reports
 * are queued on the port and read synchronously (no waiting).
 */
function packagesLoaded(module: string, after = ''): { atImport: string[]; later: string[]; out: string } {
  const hook = `let port; export function initialize(d) { port = d.port; }
    export async function resolve(s, c, next) { const r = await next(s, c); const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url); if (m) port.postMessage(m[1]); return r; }`;
  const script = `
    const { register } = await import('node:module');
    const { MessageChannel, receiveMessageOnPort } = await import('node:worker_threads');
    const { port1, port2 } = new MessageChannel();
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}), { data: { port: port2 }, transferList: [port2] });
    const drain = () => { const out = []; for (let r; (r = receiveMessageOnPort(port1)); ) out.push(r.message); return out; };
    const m = await import(${JSON.stringify(pathToFileURL(module).href)});
    const atImport = drain();
    ${after}
    process.stderr.write(JSON.stringify({ atImport, later: drain() }));
    port1.close();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  const { atImport, later } = JSON.parse(r.stderr) as { atImport: string[]; later: string[] };
  const set = (a: string[]) => [...new Set(a)].sort();
  return { atImport: set(atImport), later: set(later), out: r.stdout };
}

describe('the orrery/worker entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-entry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads no parser, HTTP, metrics or logging package at import; the full entry does', () => {
    const lean = packagesLoaded(join(DIST, 'worker-entry.js'));
    expect(lean.atImport.filter((p) => HEAVY.includes(p))).toEqual([]);
    expect(lean.atImport).toContain('croner'); // the hook saw the entry's own packages
    const full = packagesLoaded(join(DIST, 'index.js'), `process.stdout.write(['Runner', 'Reaper', 'Archiver', 'Worker', 'Daemon'].map((n) => typeof m[n]).join(','));`);
    expect(full.atImport).toEqual(expect.arrayContaining(['zod', 'hono', 'prom-client']));
    // The loops the guide and archiving.md show are exported by the package's main entry.
    expect(full.out).toBe('function,function,function,function,function');
  });

  it('serves a worker: types and tasks created, a run claimed and ended, zod loaded only by the first parse of input', () => {
    const db = `sqlite:${join(dir, 'entry.db')}`;
    const { atImport, later, out } = packagesLoaded(
      join(DIST, 'worker-entry.js'),
      `
      const o = await m.openOrrery({ db: ${JSON.stringify(db)} });
      await o.createTaskType({ name: 'echo', maxQueueLength: null });
      await o.createTask({ type: 'echo', policy: 'oneshot', arguments: { args: [1], kwargs: {} } });
      let done;
      const ran = new Promise((r) => (done = r));
      const d = new m.Daemon(o, { worker: { concurrency: 1, handlers: { echo: async ({ args }) => (done(args[0]), true) } } });
      d.start();
      const got = await ran;
      await d.stop();
      const [t] = await o.searchTasks({ type: 'echo' });
      process.stdout.write(JSON.stringify({ got, status: t.status }));
      await o.close();`,
    );
    expect(atImport.filter((p) => HEAVY.includes(p))).toEqual([]);
    expect(later).toContain('zod');
    expect(JSON.parse(out)).toEqual({ got: 1, status: 'completed' });
  });
});
