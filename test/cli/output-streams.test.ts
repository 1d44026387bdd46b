/**
 * The CLI's output streams as a Unix tool's (docs/cli.md#output): a reader that stops early ends a
 * command quietly; messages that cannot be written never cut a command short; output that cannot be
 * written (a full device) is one line and exit 1, not a stack trace.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { BIN, removeTempDirs, runOk, tempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('output streams', () => {
  test('stderr closed at once (2>&1 | head -1) does not cut an import short: every line is imported, exit 0', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1d', ...t.db]);
    const file = join(t.dir, 'tasks.jsonl');
    writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ type: 'mail', arguments: { args: [i], kwargs: {} } })).join('\n') + '\n');
    const child = spawn(process.execPath, [BIN, 'task', 'import', file, ...t.db], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.destroy(); // the reader is gone before the first progress line
    expect(await exitOf(child)).toBe(0);
    const db = new Database(t.path, { readonly: true });
    try {
      expect((db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n).toBe(20_000);
    } finally {
      db.close();
    }
  });

  test('stdout on a full device: one line naming the failure, exit 1, no stack trace', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1d', ...t.db]);
    for (const args of [['task', 'list', ...t.db], ['--version'], ['--help']]) {
      const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', openSync('/dev/full', 'w'), 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      expect(await exitOf(child)).toBe(1);
      expect(err).toMatch(/^orrery: cannot write the output: ENOSPC: no space left on device, write\n$/);
    }
  });
});
