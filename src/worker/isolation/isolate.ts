import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker as Thread } from 'node:worker_threads';
import { fromWire, type FromIsolate, type ToIsolate } from './protocol.js';

export interface IsolateOptions {
  mode: 'thread' | 'process';
  /** The handlers file, loaded by the isolate. */
  file: string;
  /** Heap limit of the isolate in MB (a thread's old generation; a process's --max-old-space-size). */
  maxMemoryMb: number;
}

/** The compiled entry beside this file; under tsx (tests from src/) the .ts one, loaded through tsx. */
function entry(): { path: string; ts: boolean } {
  const js = fileURLToPath(new URL('./isolate-entry.js', import.meta.url));
  if (existsSync(js)) return { path: js, ts: false };
  return { path: fileURLToPath(new URL('./isolate-entry.ts', import.meta.url)), ts: true };
}

/**
 * Handler processes alive in this process. They run in process groups of their own (a signal to the
 * worker's group does not reach them), so when the worker exits without stopping them (a second
 * signal, process.exit) they are killed here: a busy one would not notice its IPC channel closing.
 */
const liveChildren = new Set<ChildProcess>();
let killOnExit = false;

/** SIGKILL to a handler process and its process group: what it started (a git, an ffmpeg) goes with it. */
function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL'); // no such group (it is gone, or never started): ChildProcess.kill does not throw
  }
}

function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (killOnExit) return;
  killOnExit = true;
  process.once('exit', () => {
    for (const c of liveChildren) killGroup(c);
  });
}

/**
 * One worker thread or child process that runs handlers: messages in and out, and `exited` with the
 * reason when it dies (crash, process.exit, out of memory, or killed).
 */
export class Isolate {
  readonly ready: Promise<string[]>;
  /** Settles with a description of why the isolate ended. */
  readonly exited: Promise<string>;
  private readonly thread: Thread | null = null;
  private readonly child: ChildProcess | null = null;
  private readonly listeners = new Set<(m: FromIsolate) => void>();
  private readonly exitListeners = new Set<(why: string) => void>();
  private why: string | null = null;
  private crash: string | null = null;
  private dead = false;

  constructor(private readonly opts: IsolateOptions) {
    const { path, ts } = entry();
    let onExit!: (why: string) => void;
    this.exited = new Promise((r) => (onExit = r));
    const died = (why: string) => {
      if (this.dead) return;
      this.dead = true;
      this.why = this.crash ? `${why}: ${this.crash}` : why;
      onExit(this.why);
      for (const l of this.exitListeners) l(this.why);
      this.exitListeners.clear();
    };
    let readyResolve!: (b: string[]) => void;
    let readyReject!: (e: Error) => void;
    this.ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
    this.ready.catch(() => {});
    this.exited.then((why) => readyReject(new Error(`isolate ended before it was ready: ${why}`)));
    const onMessage = (m: FromIsolate) => {
      if (m.type === 'ready') readyResolve(m.backends);
      else if (m.type === 'load-failed') readyReject(fromWire(m.error));
      else if (m.type === 'crash') this.crash = `${m.error.name}: ${m.error.message}`;
      for (const l of this.listeners) l(m);
    };
    if (opts.mode === 'thread') {
      const bootstrap = ts
        ? `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(pathToFileURL(path).href)}); })`
        : `import(${JSON.stringify(pathToFileURL(path).href)})`;
      const thread = new Thread(bootstrap, {
        eval: true,
        workerData: { file: opts.file },
        resourceLimits: { maxOldGenerationSizeMb: opts.maxMemoryMb },
        stdout: false,
        stderr: false,
      });
      thread.on('message', onMessage);
      thread.on('error', (e: Error & { code?: string }) => {
        this.crash ??= e.code === 'ERR_WORKER_OUT_OF_MEMORY' ? `out of memory (limit ${opts.maxMemoryMb} MB)` : `${e.name}: ${e.message}`;
      });
      thread.on('exit', (code) => died(`its thread exited with code ${code}`));
      this.thread = thread;
    } else {
      const child = fork(path, [opts.file], {
        execArgv: [...(ts ? ['--import', 'tsx'] : []), `--max-old-space-size=${opts.maxMemoryMb}`],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // A process group of its own: a Ctrl-C, or a service manager's SIGTERM to the worker's group,
        // killed the handler process (from its start, tsx loading) that the worker was waiting for in
        // its grace period, and the run ended failed with a retry spent instead of finishing or being
        // abandoned. The worker alone decides when it ends: it kills it, or it exits when their IPC
        // channel closes.
        detached: true,
      });
      track(child);
      child.on('message', (m) => onMessage(m as FromIsolate));
      child.on('error', (e) => (this.crash ??= e.message));
      child.on('exit', (code, signal) => {
        // A handler process that ended by itself (process.exit, a crash, out of memory) leaves the
        // programs its handlers started in its group: they go with it, as when the worker kills it.
        // (Linux hands out no pid still used as a group's id, so the group is that process's own.)
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // no one left in the group
        }
        died(signal ? `its process was killed by ${signal}${signal === 'SIGABRT' || signal === 'SIGTRAP' ? ' (out of memory?)' : ''}` : `its process exited with code ${code}`);
      });
      this.child = child;
    }
  }

  /** False once it reported an uncaught exception: it is about to exit, so it takes no new run. */
  get usable(): boolean {
    return this.alive && this.crash === null;
  }

  get alive(): boolean {
    return !this.dead;
  }

  send(m: ToIsolate): void {
    if (this.dead) return;
    try {
      if (this.thread) this.thread.postMessage(m);
      else this.child!.send(m);
    } catch {
      // a dying isolate: `exited` reports why
    }
  }

  onMessage(listener: (m: FromIsolate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Calls `listener` with why it ended when it ends (on a later turn if it has already); returns the
   * unsubscribe function. A run's wait for its isolate's end, as a reaction on `exited`, could not be
   * taken back: each run's context stayed in memory for as long as the isolate lived (272 MB after
   * 20,000 runs of 10 KB arguments in one thread).
   */
  onExit(listener: (why: string) => void): () => void {
    if (this.why !== null) {
      const why = this.why;
      queueMicrotask(() => listener(why));
      return () => {};
    }
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Ends it at once (a handler that ignored its abort, or shutdown); `why` is reported by `exited`. */
  kill(why?: string): Promise<string> {
    if (!this.dead) {
      if (why) this.crash ??= why;
      if (this.thread) void this.thread.terminate();
      else killGroup(this.child!);
    }
    return this.exited;
  }
}
