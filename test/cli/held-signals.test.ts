/**
 * A SIGINT or SIGTERM that arrives while the CLI's modules load is held by bin/orrery.js
 * (src/cli/held-signals.ts). The test hands main() a signal already held, as bin does, so the
 * moment of the signal is not left to the scheduler.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { ROOT, removeTempDirs, runJson, runOk, tempDb, tempDir } from './cli-helpers.js';

afterAll(removeTempDirs);

/** Runs the CLI as bin/orrery.js does, with `signal` held while it loaded. */
function runHeld(args: readonly string[], signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = join(tempDir(), 'held.mjs');
  writeFileSync(
    script,
    `import { main } from ${JSON.stringify(join(ROOT, 'dist', 'cli', 'main.js'))};
process.exitCode = await main(process.argv.slice(2), undefined, { received: [${JSON.stringify(signal)}], release() {} });\n`,
  );
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('a signal received while the CLI loads', () => {
  test('a daemon stops before it starts (exit 0, saying so); another command exits 128 + the signal and does nothing', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'job', '--default-interval', '1h', ...t.db]);
    const serve = await runHeld(['serve', '--port', '0', ...t.db], 'SIGTERM');
    expect(serve.code).toBe(0);
    expect(serve.stdout + serve.stderr).toMatch(/SIGTERM received while starting/);
    expect(serve.stdout + serve.stderr).toMatch(/stopped before it started/);
    const add = await runHeld(['task', 'add', 'job', 'x', ...t.db], 'SIGINT');
    expect(add).toMatchObject({ code: 130, stdout: '', stderr: '' });
    expect(await runJson(['task', 'list', '--json', ...t.db])).toEqual([]);
    expect((await runHeld(['task', 'list', ...t.db], 'SIGTERM')).code).toBe(143);
    // visit-scheduler is a daemon too (before: 143, the signal handled as by any command); --once is one pass.
    await runOk(['task-type', 'add', 'git', ...t.db]);
    const visits = await runHeld(['visit-scheduler', '--visit-types', 'git', ...t.db], 'SIGTERM');
    expect(visits.code, visits.stderr).toBe(0);
    expect(visits.stdout + visits.stderr).toMatch(/stopped before it started/);
    expect((await runHeld(['visit-scheduler', '--visit-types', 'git', '--once', ...t.db], 'SIGINT')).code).toBe(130);
  });
});
