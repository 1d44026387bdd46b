import type { Logger } from '../engine/logger.js';
import type { Handler, HandlersModule } from '../worker/handlers.js';
import type { IsolationMode } from '../worker/isolation/protocol.js';
import { UsageError } from './common.js';

export interface WorkerHandlers {
  handlers: Record<string, Handler>;
  /** Ends the threads or processes (after the worker stopped). */
  close(): Promise<void>;
}

/**
 * The handlers a worker calls: the module's own (inline), or proxies that run them in worker threads
 * or child processes, one run each, started here so that a handlers file that fails to load in
 * isolation is reported at start (exit 2), not on the first run.
 */
export async function workerHandlers(mod: HandlersModule, file: string, mode: IsolationMode, concurrency: number, maxMemoryMb: number, log: Logger): Promise<WorkerHandlers> {
  if (mode === 'inline') return { handlers: mod.handlers, close: async () => {} };
  const { IsolatePool } = await import('../worker/isolation/pool.js');
  const pool = new IsolatePool({
    mode,
    file,
    size: concurrency,
    maxMemoryMb,
    onExit: (why) => log.warn(`a handler ${mode} ended (${why}); the next run gets a new one`),
  });
  let backends: string[];
  try {
    backends = await pool.warmUp();
  } catch (e) {
    await pool.close();
    throw new UsageError(`--isolation ${mode}: the handlers file does not load in a ${mode}: ${(e as Error).message}`);
  }
  return { handlers: pool.handlers(backends), close: () => pool.close() };
}
