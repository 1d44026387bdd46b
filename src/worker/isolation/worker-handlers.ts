import { ValidationError } from '../../core/errors.js';
import { untilAborted } from '../../core/until-aborted.js';
import { servedTypesOf, withServedTypes, type Handler, type HandlersModule } from '../handlers.js';
import type { IsolationMode } from './protocol.js';

/** The handlers a worker calls, and how to end the threads or processes that run them. */
export interface WorkerHandlers {
  /** One handler per backend name: the module's own (inline), or proxies into the isolates. */
  handlers: Record<string, Handler>;
  /** Ends the threads or processes (after the worker stopped). */
  close(): Promise<void>;
}

export interface WorkerHandlersOptions {
  /** Where handlers run (SPEC §2.4). */
  mode: IsolationMode;
  /** The handlers file, loaded again by each thread or process (isolation thread|process). */
  file: string;
  /** Threads or processes at most: the worker's concurrency. */
  concurrency: number;
  /** Heap limit of each thread or process, in MB. */
  maxMemoryMb: number;
  /** Told when a thread or process ended (crash, out of memory, killed), for the log. */
  onExit?: (why: string) => void;
  /**
   * A stop asked while the first isolate loads the file: the isolate is killed and the call rejects
   * with the signal's reason (a file whose top-level await never settles there held the start, and
   * the signals, for ever).
   */
  signal?: AbortSignal;
}

/**
 * The handlers a worker calls: the module's own (inline), or proxies that run them in worker threads
 * or child processes, one run each. One isolate is started here, so that a handlers file that fails
 * to load in isolation is reported at start (a `ValidationError`; exit 2 in the CLI), not on the
 * first run.
 */
export async function workerHandlers(mod: HandlersModule, opts: WorkerHandlersOptions): Promise<WorkerHandlers> {
  const { mode } = opts;
  if (mode === 'inline') return { handlers: mod.handlers, close: async () => {} };
  const { IsolatePool } = await import('./pool.js');
  const pool = new IsolatePool({ mode, file: opts.file, size: opts.concurrency, maxMemoryMb: opts.maxMemoryMb, ...(opts.onExit ? { onExit: opts.onExit } : {}) });
  let backends: string[];
  try {
    backends = await untilAborted(pool.warmUp(), opts.signal);
  } catch (e) {
    await pool.close();
    if (opts.signal?.aborted && e === opts.signal.reason) throw e;
    const message = `the handlers file does not load in a ${mode}: ${(e as Error).message}`;
    throw new ValidationError(`--isolation ${mode}: ${message}`, [{ path: 'isolation', message }]);
  }
  // The worker claims for the main thread's handlers: a file that exports others in an isolate
  // (it branches on isMainThread or process.send) would have their runs fail there for good.
  const here = Object.keys(mod.handlers).sort();
  const there = [...backends].sort();
  if (here.join('\n') !== there.join('\n')) {
    await pool.close();
    const message = `the handlers file exports other handlers in a ${mode} (${there.join(', ') || 'none'}) than in the main thread (${here.join(', ') || 'none'})`;
    throw new ValidationError(`--isolation ${mode}: ${message}`, [{ path: 'isolation', message }]);
  }
  const handlers = pool.handlers(backends);
  // The proxies serve what the module's own handlers serve (a DAG executor: its DAGs' types).
  for (const [name, h] of Object.entries(mod.handlers)) {
    const types = servedTypesOf(h);
    if (types && handlers[name]) handlers[name] = withServedTypes(handlers[name], types);
  }
  return { handlers, close: () => pool.close() };
}
