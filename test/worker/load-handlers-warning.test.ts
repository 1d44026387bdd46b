/**
 * The handlers loader leaves Node's "set "type": "module"" advice unprinted while it loads a `.js`
 * file (tsx loads it instead), and nothing else: a handlers file's own `process.emit` wrapper (an exit
 * hook) stays, overlapping loads take the filter off once both ended, and after the loads the same
 * warning is emitted again as usual.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHandlers } from '../../src/worker/load-handlers.js';

const dir = mkdtempSync(join(tmpdir(), 'orrery-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A handlers file that waits `ms` while it loads; with `wrap`, it wraps process.emit (as signal-exit does). */
function file(name: string, ms: number, wrap = false): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    `${wrap ? 'const e = process.emit; process.emit = function (...a) { return e.apply(this, a); }; globalThis.__wrapped = process.emit;\n' : ''}` +
      `await new Promise((r) => setTimeout(r, ${ms}));\nexport const handlers = { x: async () => true };\n`,
  );
  return path;
}

const ADVICE = 'To load an ES module, set "type": "module" in the package.json or use the .mjs extension.';
const warnings = async (fn: () => void): Promise<string[]> => {
  const seen: string[] = [];
  const on = (w: Error) => seen.push(w.message);
  process.on('warning', on);
  fn();
  await new Promise((r) => setTimeout(r, 20)); // warnings are emitted on a later tick
  process.off('warning', on);
  return seen;
};

describe('loading a handlers file filters only Node\'s ESM advice, only while loading', () => {
  it('keeps a wrapper the handlers file installed on process.emit', async () => {
    const before = process.emit;
    await loadHandlers(file('wraps.mjs', 10, true));
    const wrapped = (globalThis as { __wrapped?: unknown }).__wrapped;
    expect(process.emit).toBe(wrapped);
    process.emit = before;
  });

  it('overlapping loads that end in any order leave process.emit as it was, and the advice is printed again', async () => {
    const before = process.emit;
    await Promise.all([loadHandlers(file('b.mjs', 50)), loadHandlers(file('a.mjs', 200))]);
    expect(process.emit).toBe(before);
    expect(await warnings(() => process.emitWarning(ADVICE))).toEqual([ADVICE]);
  });

  it('during a load the advice is not emitted, other warnings are', async () => {
    const loading = loadHandlers(file('slow.mjs', 100));
    expect(await warnings(() => (process.emitWarning(ADVICE), process.emitWarning('another warning')))).toEqual(['another warning']);
    await loading;
  });
});
