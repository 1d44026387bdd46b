import { invalid } from '../core/errors.js';
import { checkInteger, checkMs, optionsObject } from '../core/options.js';
import { MAX_DURATION_MS } from '../core/duration-limit.js';
import { checkLoopsRunOptions, checkWorkerRunOptions, type WorkerRunOptions } from '../engine/option-checks.js';
import type { TaskNotifier } from '../engine/task-notifier.js';
import type { DagNotifier } from '../engine/dag-notifier.js';
import type { Logger } from '../engine/logger.js';
import type { HandlersModule } from '../worker/handlers.js';
import { ISOLATION_MODES, type IsolationMode } from '../worker/isolation/protocol.js';
import { apiTokenProblem } from './connection-checks.js';

/** The HTTP listener of `startServer`: API, dashboard, `/healthz` and `/metrics`. */
export interface ServerHttpOptions {
  /** Address to listen on; a non-loopback address needs `token`. Default `127.0.0.1`. */
  host?: string;
  /** Port; `0` picks a free one (read it from `RunningServer.port`). Default `5180`. */
  port?: number;
  /** Bearer token required by `/api` and `/metrics`; `null` (default) requires none (loopback only). */
  token?: string | null;
  /** Serve `/metrics` without the token. Default `false`. */
  publicMetrics?: boolean;
  /** The dashboard's built files; default `dist/web` of this package (a missing directory serves no dashboard). */
  webRoot?: string | null;
}

/** The worker of `startServer`, when it has handlers: a worker's run options (option-checks.ts), and where its handlers run. */
export interface ServerWorkerOptions extends WorkerRunOptions {
  /** Task types to serve; each must exist and have a handler. Default: every type with a handler. */
  types?: string[];
  /** Where handlers run: `inline` (default), `thread` or `process` (needs `handlers` given as a file). */
  isolation?: IsolationMode;
  /** Heap limit of each handler thread or process, in MB (isolation `thread`/`process`). Default `1024`. */
  maxMemoryMb?: number;
  /** The file each handler thread or process loads, when `handlers` is given as a loaded module. */
  file?: string;
}

/** What `startServer` runs; every part is optional (the defaults give `orrery serve`). */
export interface ServerOptions {
  /**
   * The handlers: a file path (loaded as `--handlers` loads it; needed for isolation) or a module
   * already loaded (`loadHandlers`). Its `taskTypes` are created when missing, its `dags` registered,
   * and a worker runs its handlers. Without it, no worker runs.
   */
  /** A module of only `dags` is one too (its DAGs' handler is added, as a handlers file's). */
  handlers?: string | HandlersModule | (Omit<HandlersModule, 'handlers'> & { handlers?: HandlersModule['handlers'] });
  /** The worker's options (with `handlers`). */
  /** `null`: left out, as `undefined`. */
  worker?: ServerWorkerOptions | null;
  /** Run the runner and the DAG scheduler. Default `true`. */
  runner?: boolean;
  /** Run the reaper. Default `true`. */
  reaper?: boolean;
  /** Longest sleep of the runner and reaper between passes. Default `1000` ms. */
  maxSleepMs?: number;
  /** How long due tasks of types without limits are left to workers before the runner queues them. Default `1000` ms. */
  runnerGraceMs?: number;
  /** DAG alerts: the stored ones delivered through it (docs/dags.md#alerts); default: none (failures are logged either way). */
  dagNotifier?: DagNotifier;
  /** Also log the DAG task retries, at warn level. */
  logDagRetries?: boolean;
  /** Task alerts: this process delivers those stored with run ends, whoever recorded them (docs/guide.md#alerts); default: none. */
  taskNotifier?: TaskNotifier;
  /** The HTTP listener; `false`: none (the loops alone, as `orrery runner` and `orrery worker`). Default `{}`. */
  /** `false`: no listener; `null`: left out (the defaults). */
  http?: ServerHttpOptions | false | null;
  /** Archive finished runs older than `retentionMs` continuously, to the archive tables or, with `to`, a JSONL file. */
  retention?: { retentionMs: number; to?: string };
  /** Call the handlers module's `setup(orrery)` once the loops run. Default `true`. */
  setup?: boolean;
  /** Default: silent. */
  logger?: Logger;
  /**
   * Aborted before the loops start (a shutdown signal while starting): the start is undone and
   * startServer rejects with the signal's reason, having started no loop and kept no listener.
   */
  signal?: AbortSignal;
  /**
   * Called once the loops have started, before the handlers module's `setup()` runs: from then on a
   * shutdown is a graceful stop (`orrery serve` logs a signal from then on as it does once started).
   */
  onLoopsStarted?: () => void;
}

/** Most heap a handler thread or process may be given (`--max-memory`, `worker.maxMemoryMb`): 1 TiB. */
export const MAX_HANDLER_MEMORY_MB = 1_048_576;

/**
 * startServer's options, checked before anything starts: each value of the wrong kind is a
 * ValidationError naming it (a number as the token answered 500 to every request; a port given as
 * text listened on a Unix socket of that name).
 */
export function checkServerOptions(given: ServerOptions | undefined): ServerOptions {
  const opts = optionsObject(given);
  // The loops' options, named as a Daemon given them names them (engine/option-checks.ts).
  checkLoopsRunOptions(opts);
  if (opts.signal !== undefined && !(opts.signal instanceof AbortSignal)) throw invalid('signal', 'must be an AbortSignal');
  if (opts.onLoopsStarted !== undefined && typeof opts.onLoopsStarted !== 'function') throw invalid('onLoopsStarted', 'must be a function');
  // The handlers module's shape is checked where a handlers file's is (worker/handlers.ts toHandlersModule).
  if (opts.handlers !== undefined && opts.handlers !== null && typeof opts.handlers !== 'string' && typeof opts.handlers !== 'object') {
    throw invalid('handlers', 'must be a handlers file path or a handlers module');
  }
  // null is taken as left out (`{}`), as it always was.
  if (opts.http !== false && opts.http !== undefined && opts.http !== null) {
    const http = optionsObject(opts.http, 'http');
    if (http.host !== undefined && (typeof http.host !== 'string' || http.host === '')) throw invalid('http.host', 'must be a host name or address');
    if (http.port !== undefined) checkInteger(http.port, 'http.port', 0, 65535);
    if (http.token !== undefined && http.token !== null) {
      const problem = apiTokenProblem(http.token);
      if (problem) throw invalid('http.token', problem);
    }
    if (http.webRoot !== undefined && http.webRoot !== null && typeof http.webRoot !== 'string') throw invalid('http.webRoot', 'must be a directory path or null');
  }
  if (opts.worker !== undefined && opts.worker !== null) {
    const w = optionsObject(opts.worker, 'worker');
    // The Worker checks these too, but only once types are created and DAGs registered: checked here, nothing starts.
    checkWorkerRunOptions(w, 'worker');
    if (w.isolation !== undefined && !(ISOLATION_MODES as readonly string[]).includes(w.isolation)) throw invalid('worker.isolation', `must be one of ${ISOLATION_MODES.join(', ')}`);
    if (w.maxMemoryMb !== undefined) checkInteger(w.maxMemoryMb, 'worker.maxMemoryMb', 1, MAX_HANDLER_MEMORY_MB);
    if (w.file !== undefined && (typeof w.file !== 'string' || w.file === '')) throw invalid('worker.file', 'must be a file path');
  }
  if (opts.retention !== undefined && opts.retention !== null) {
    const r = optionsObject(opts.retention, 'retention');
    checkMs(r.retentionMs, 'retention.retentionMs', 1, MAX_DURATION_MS);
    if (r.to !== undefined && (typeof r.to !== 'string' || r.to === '')) throw invalid('retention.to', 'must be a file path');
  }
  return opts;
}
