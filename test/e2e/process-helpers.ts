import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'orrery.js');
export const FIXTURE_HANDLERS = join(ROOT, 'test', 'fixtures', 'handlers.ts');

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns the built `orrery` binary; every process still running is killed after the test. */
export function useProcesses() {
  const procs: Proc[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
  });
  /** `env` is added to this process's environment; a variable given as undefined is left out. */
  return (args: string[], env: Record<string, string | undefined> = {}, opts: { detached?: boolean } = {}): Proc => {
    const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
    const child = spawn(process.execPath, [BIN, ...args], { env: merged, stdio: ['ignore', 'pipe', 'pipe'], ...(opts.detached ? { detached: true } : {}) });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    // 'exit' can come before the last of stdout has been read; 'close' comes after it, but never if a
    // handler process that inherited the pipes outlives a killed parent, so 'close' is awaited at most 2 s.
    const exited = new Promise<number | null>((resolve) => {
      child.on('close', () => resolve(child.exitCode));
      child.on('exit', (code) => setTimeout(() => resolve(code), 2000).unref());
    });
    const p = { child, output: () => out, exited };
    procs.push(p);
    return p;
  };
}
