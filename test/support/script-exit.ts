/**
 * Runs an ES module script in a child Node process and waits for it to exit by itself: for tests of
 * what keeps a process alive. Resolves with its exit code and its output (stdout and stderr).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function runScriptToExit(script: string, env: Record<string, string>, opts: { file?: boolean } = {}): Promise<{ code: number | null; out: string }> {
  // `file`: run from a .mjs file rather than `-e` (what keeps a process alive differed between the two).
  let args = ['--input-type=module', '-e', script];
  if (opts.file) {
    const path = join(mkdtempSync(join(tmpdir(), 'orrery-script-')), 'script.mjs');
    writeFileSync(path, script);
    args = [path];
  }
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out: out.trim() };
}
