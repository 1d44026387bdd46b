/**
 * Runs an ES module script in a child Node process and waits for it to exit by itself: for tests of
 * what keeps a process alive. Resolves with its exit code and its output (stdout and stderr).
 */
import { spawn } from 'node:child_process';

export async function runScriptToExit(script: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out: out.trim() };
}
