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
 * package resolved, then runs `after` (a script body with the module as `m`); answers the packages
 * resolved by the import alone, those resolved by `after`, and what `after` printed.
 */
function packagesLoaded(module: string, after = ''): { atImport: string[]; later: string[]; out: string } {
  const hook = `export async function resolve(s, c, next) { const r = await next(s, c); const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url); if (m) process.stderr.write('PKG ' + m[1] + '\\n'); return r; }`;
  const script = `
    const { register } = await import('node:module');
    register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
    const m = await import(${JSON.stringify(pathToFileURL(module).href)});
    await new Promise((r) => setTimeout(r, 20));
    process.stderr.write('IMPORTED\\n');
    ${after}
    await new Promise((r) => setTimeout(r, 20));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return split(r.stderr, r.stdout);
}

function split(stderr: string, out: string) {
  const [before, afterImport = ''] = stderr.split('IMPORTED\n');
  const pkgs = (s: string) => [...new Set([...s.matchAll(/^PKG (.+)$/gm)].map((m) => m[1]!))].sort();
  return { atImport: pkgs(before!), later: pkgs(afterImport), out };
}

describe('the orrery/worker entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'orrery-entry-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads no parser, HTTP, metrics or logging package at import; the full entry does', () => {
    const lean = packagesLoaded(join(DIST, 'worker-entry.js'));
    expect(lean.atImport.filter((p) => HEAVY.includes(p))).toEqual([]);
    expect(lean.atImport).toContain('croner'); // the hook saw the entry's own packages
    const full = packagesLoaded(join(DIST, 'index.js'));
    expect(full.atImport).toEqual(expect.arrayContaining(['zod', 'hono', 'prom-client']));
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
