/**
 * `orrery serve` whose handlers file's setup() fails: one line naming the problem and the status of
 * the error (2 for invalid input, 1 otherwise), not a second line blaming a handler's process.exit
 * (the loops had begun, so the exit read as the daemon's own code ending it), and a value thrown that
 * is no Error named as setup()'s (it printed `orrery: null`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { removeTempDirs, runCli, runOk, tempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

test.concurrent.each([
  ['a ValidationError: exit 2', 'await o.createTask({ type: "no-such-type" });', 2, 'orrery: type: unknown task type "no-such-type"'],
  ['throw null: exit 1, named as setup()\'s', 'throw null;', 1, "orrery: the handlers file's setup() failed: it threw null"],
])('setup() fails with %s, one line', async (_what, body, code, line) => {
  const t = tempDb();
  await runOk(['task-type', 'add', 'x1', ...t.db]);
  writeFileSync(join(t.dir, 'h.mjs'), `export const handlers = { x1: async () => true };\nexport async function setup(o) { ${body} }\n`);
  const r = await runCli(['serve', '--port', '0', '--handlers', join(t.dir, 'h.mjs'), ...t.db], { spawn: true });
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('orrery:'))).toEqual([line]);
  expect(r.stderr).not.toContain('without being asked to stop');
});
