import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Orrery installed under a directory whose name holds URL syntax (`#`, `%41`): the thread's bootstrap
// must import its entry by a proper file URL (a `#` began a fragment, `%41` was decoded to `A`).
// The compiled package is copied there and driven by a script of its own, as an installed one is.
const root = mkdtempSync(join(tmpdir(), 'orrery-#1%41-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SCRIPT = `
import { fileURLToPath } from 'node:url';
import { IsolatePool } from './dist/worker/isolation/pool.js';
const pool = new IsolatePool({ mode: process.argv[2], file: fileURLToPath(new URL('./handlers.mjs', import.meta.url)), size: 1, maxMemoryMb: 128 });
try {
  const types = await pool.warmUp();
  const run = { id: 1, task: 1, type: 'echo', backendId: 'b', status: 'started', scheduled: new Date(), started: new Date(), metadata: {} };
  const value = await pool.run('echo', { args: [1], kwargs: {}, run, signal: new AbortController().signal, log: () => {}, heartbeat: async () => {} });
  console.log(JSON.stringify({ types, value }));
} finally {
  await pool.close();
}
`;

describe('isolation under an install path with # and %', () => {
  it.each(['thread', 'process'] as const)('%s isolates start and run handlers', (mode) => {
    const pkg = join(root, mode);
    cpSync(join(import.meta.dirname, '..', '..', 'dist'), join(pkg, 'dist'), { recursive: true });
    symlinkSync(join(import.meta.dirname, '..', '..', 'node_modules'), join(pkg, 'node_modules'));
    writeFileSync(join(pkg, 'package.json'), '{"type":"module"}');
    writeFileSync(join(pkg, 'handlers.mjs'), 'export const handlers = { echo: async ({ args }) => ({ eventful: true, result: { args } }) };\n');
    writeFileSync(join(pkg, 'drive.mjs'), SCRIPT);
    const out = execFileSync(process.execPath, [join(pkg, 'drive.mjs'), mode], { cwd: pkg, encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(out)).toEqual({ types: ['echo'], value: { eventful: true, result: { args: [1] } } });
  });
});
