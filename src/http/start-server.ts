import type { Server } from 'node:http';
import { dagSyncLine } from '../core/dag.js';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../core/errors.js';
import { formatDuration } from '../core/durations.js';
import { Archiver } from '../engine/archiver.js';
import { Daemon } from '../engine/daemon.js';
import { silentLogger } from '../engine/logger.js';
import { prepareTypes } from '../engine/prepare-types.js';
import { checkOrrery } from '../engine/option-checks.js';
import type { Orrery, RunEvent } from '../engine/service.js';
import type { HandlersModule } from '../worker/handlers.js';
import { workerHandlers, type WorkerHandlers } from '../worker/isolation/worker-handlers.js';
import { untilAborted } from '../core/until-aborted.js';
import { loadHandlers, thrownText } from '../worker/load-handlers.js';
import { toHandlersModule } from '../worker/handlers.js';
import { isLoopback } from './loopback.js';
import { checkServerOptions, type ServerOptions } from './server-options.js';
import type { OrreryMetrics } from './metrics.js';

export type { ServerHttpOptions, ServerWorkerOptions, ServerOptions } from './server-options.js';

/** A started server; `stop()` ends it. The `Orrery` it was given stays open (close it after `stop()`). */
export interface RunningServer {
  /** The loops: runner, reaper, DAG scheduler and worker (each `null` when not run). */
  readonly daemon: Daemon;
  /** The bound port (`null` without HTTP). */
  readonly port: number | null;
  /** `http://HOST:PORT` (`null` without HTTP). */
  readonly url: string | null;
  /** The Prometheus metrics served at `/metrics`, fed by the service's run and worker events (`null` without HTTP). */
  readonly metrics: OrreryMetrics | null;
  /** The loaded handlers module (`null` without handlers). */
  readonly handlers: HandlersModule | null;
  /**
   * Stops the archiver and the loops (running handlers get the worker's grace, or `graceMs`), closes
   * the HTTP listener and the handler threads or processes. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * What `orrery serve` runs, as a library call: the runner, DAG scheduler, reaper and a worker with the
 * given handlers (inline or isolated), the HTTP API with the dashboard and metrics fed by the
 * service's events, and the archiver. The loops run until `stop()`.
 *
 * Refuses, with a `ValidationError` and nothing started: a handlers file that does not load (or not
 * in a thread or process), `types` naming an unknown type or one without a handler, `types` or
 * `isolation` other than inline without the handlers file, a non-loopback `host` without a token,
 * a `retention.to` file that cannot be archived to, and a port that cannot be listened on.
 */
export async function startServer(orrery: Orrery, given: ServerOptions = {}): Promise<RunningServer> {
  checkOrrery(orrery);
  const opts = checkServerOptions(given);
  const log = opts.logger ?? silentLogger;
  const w = opts.worker ?? {};
  const http = opts.http === false ? null : (opts.http ?? {});
  const host = http?.host ?? '127.0.0.1';
  const token = http?.token ?? null;
  if (http && !token && !isLoopback(host)) {
    throw invalid('host', `--host ${host}: serving on a non-loopback address needs an API token (--token or ORRERY_API_TOKEN)`);
  }
  const isolation = w.isolation ?? 'inline';
  const file = typeof opts.handlers === 'string' ? opts.handlers : (w.file ?? null);
  if (isolation !== 'inline' && !file) throw invalid('isolation', `--isolation ${isolation}: needs the handlers file (handlers as a path, or worker.file)`);
  // A module given as an object is checked (and its DAGs' handler added) as a loaded file is.
  const mod = typeof opts.handlers === 'string' ? await loadHandlers(opts.handlers) : opts.handlers ? toHandlersModule(opts.handlers as unknown as Record<string, unknown>, '', 'handlers') : null;
  if (w.types && !mod) throw invalid('types', '--types: needs --handlers (the types a worker serves must have handlers)');
  const concurrency = w.concurrency ?? 10;
  let run: WorkerHandlers | null = null;
  let server: Server | null = null;
  let archiver: Archiver | null = null;
  let daemon: Daemon | null = null;
  let unsubscribe = () => {};
  // A read-only database fails every pass of every loop: say so now, before starting any (an HTTP API
  // alone, a dashboard over a standby, only reads and is let start).
  if ((opts.runner ?? true) || (opts.reaper ?? true) || mod || opts.retention) await orrery.store.assertWritable();
  try {
    // Built (its options checked: an archive file it cannot write) before anything starts; started with the loops.
    archiver = opts.retention
      ? new Archiver(orrery, { retentionMs: opts.retention.retentionMs, ...(opts.retention.to !== undefined ? { to: opts.retention.to } : {}), logger: log.child({ loop: 'archiver' }) })
      : null;
    run = mod
      ? await workerHandlers(mod, {
          mode: isolation,
          file: file ?? '',
          concurrency,
          maxMemoryMb: w.maxMemoryMb ?? 1024,
          onExit: (why) => log.warn(`a handler ${isolation} ended (${why}); the next run gets a new one`),
          ...(opts.signal ? { signal: opts.signal } : {}),
        })
      : null;
    await prepareTypes({ get: (n) => orrery.getTaskType(n), create: (t) => orrery.ensureTaskType(t) }, mod, log, file ? `--handlers ${file}` : 'handlers');
    if (mod?.dags?.length) {
      for (const d of await orrery.dags.register(mod.dags.map((x) => x.toInput()))) {
        log.info(dagSyncLine(d));
      }
    }
    if (w.types) await checkTypes(orrery, w.types, mod!, file ?? 'the handlers');
    const loops = new Daemon(orrery, {
      runner: opts.runner ?? true,
      reaper: opts.reaper ?? true,
      ...(opts.maxSleepMs !== undefined ? { maxSleepMs: opts.maxSleepMs } : {}),
      ...(opts.runnerGraceMs !== undefined ? { runnerGraceMs: opts.runnerGraceMs } : {}),
      worker: run
        ? {
            handlers: run.handlers,
            concurrency,
            prefetch: w.prefetch ?? 500,
            graceMs: w.graceMs ?? 10_000,
            ...(w.types ? { types: w.types } : {}),
            ...(w.pollMs !== undefined ? { pollMs: w.pollMs } : {}),
            ...(w.id ? { id: w.id } : {}),
          }
        : null,
      logger: log,
      ...(opts.dagNotifier ? { dagNotifier: opts.dagNotifier } : {}),
      ...(opts.logDagRetries ? { logDagRetries: true } : {}),
      ...(opts.taskNotifier ? { taskNotifier: opts.taskNotifier } : {}),
    });
    let port: number | null = null;
    // Set by stop(); /readyz answers `stopping` from then on (declared before the listener answers).
    let stopped: Promise<void> | null = null;
    let metrics: OrreryMetrics | null = null;
    if (http) {
      // The HTTP stack (hono, zod, prom-client) is loaded only when it serves: `orrery worker` and runner-only processes never load it.
      const [{ createHttpApp }, { createMetrics }, { startHttpServer }] = await Promise.all([import('./app.js'), import('./metrics.js'), import('./server.js')]);
      const m = createMetrics(orrery);
      metrics = m;
      const onRun = (e: RunEvent) => {
        if (e.event === 'claimed' || e.event === 'started') m.recordClaim([e], e.run.worker ?? undefined);
        else if (e.event === 'ended') (e.reaped ? m.recordReaped([e]) : m.recordEnd(e));
      };
      const onWorker = (id: string) => m.recordWorkerSeen(id);
      orrery.events.on('run', onRun);
      orrery.events.on('worker', onWorker);
      unsubscribe = () => {
        orrery.events.off('run', onRun);
        orrery.events.off('worker', onWorker);
      };
      const app = createHttpApp(orrery, {
        token,
        publicMetrics: http.publicMetrics ?? false,
        metrics: m,
        health: () => ({ worker: loops.worker?.state ?? null, running: loops.worker?.running ?? 0 }),
        stopping: () => stopped !== null,
        logger: log,
        // The dashboard's build output: dist/web beside dist/http (src/http when run from the sources).
        webRoot: http.webRoot === undefined ? fileURLToPath(new URL('../../dist/web/', import.meta.url)) : http.webRoot,
      });
      const wanted = http.port ?? 5180;
      try {
        ({ server, port } = await startHttpServer(app, host, wanted));
      } catch (e) {
        throw invalid('port', `--port ${wanted}: cannot listen on ${host}: ${(e as Error).message}`);
      }
    }
    // A shutdown asked while it started: nothing is begun (the catch below undoes the rest).
    opts.signal?.throwIfAborted();
    loops.start();
    daemon = loops;
    opts.onLoopsStarted?.();
    if (archiver && opts.retention) {
      archiver.start();
      log.info(`archiving runs ended more than ${formatDuration(opts.retention.retentionMs)} ago to ${opts.retention.to ?? 'the archive tables'}`);
    }
    if (mod?.setup && (opts.setup ?? true)) {
      // A value thrown that is no Error (`throw null`) is named as setup()'s: alone it read `orrery: null`.
      const setup = Promise.resolve()
        .then(() => mod.setup!(orrery))
        .catch((e: unknown) => Promise.reject(e instanceof Error ? e : new Error(`the handlers file's setup() failed: ${thrownText(e)}`)));
      // A shutdown asked while setup runs does not wait for it (it may never end): the server is
      // returned and its caller stops it, as once it runs; the setup goes on unawaited.
      const signal = opts.signal;
      try {
        await untilAborted(setup, signal);
      } catch (e) {
        if (!signal?.aborted || e !== signal.reason) throw e;
        setup.catch(() => {});
      }
    }
    const listener = server as Server | null;
    const handlers = run;
    return {
      daemon: loops,
      port,
      url: port !== null ? `http://${host.includes(':') ? `[${host}]` : host}:${port}` : null,
      metrics,
      handlers: mod,
      stop(graceMs?: number) {
        stopped ??= (async () => {
          try {
            // Together, so the worker's grace is counted from the stop (an archiving pass waiting
            // for the database does not hold it back).
            await Promise.all([archiver?.stop(), loops.stopLoops(graceMs)]);
          } finally {
            unsubscribe();
            await closeListener(listener);
            // After the listener: a remote worker's end recorded until it closed alerts too.
            await loops.stopAlerts();
            await handlers?.close();
          }
        })();
        return stopped;
      },
    };
  } catch (e) {
    await archiver?.stop();
    await daemon?.stop(0);
    unsubscribe();
    server?.close();
    await run?.close();
    throw e;
  }
}

/** `types` must name existing task types whose backends have a handler. */
async function checkTypes(orrery: Orrery, types: string[], mod: HandlersModule, file: string): Promise<void> {
  const found = await orrery.listTaskTypes(types);
  const known = new Set(found.map((t) => t.name));
  const unknown = types.filter((t) => !known.has(t));
  if (unknown.length) throw invalid('types', `--types: unknown task type${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`);
  const unhandled = found.filter((t) => !Object.hasOwn(mod.handlers, t.backendName));
  if (unhandled.length) throw invalid('types', `--types: no handler in ${file} for ${unhandled.map((t) => `${t.name} (backend ${t.backendName})`).join(', ')}`);
}

/** A refusal of the options: its message names the CLI flag, its detail the option. */
function invalid(path: string, message: string): ValidationError {
  return new ValidationError(message, [{ path, message }]);
}

/** How long open HTTP connections (an event stream a dashboard keeps open) may last once the server stops. */
const HTTP_CLOSE_GRACE_MS = 1_000;

/**
 * Stops accepting connections and closes the idle ones at once; an answer still being written gets
 * HTTP_CLOSE_GRACE_MS, then every connection is closed: an event stream (`/api/events`) never ends
 * by itself, and would otherwise keep a stopping server alive for as long as a dashboard is open.
 */
async function closeListener(listener: Server | null): Promise<void> {
  if (!listener) return;
  const closed = new Promise<void>((r) => listener.close(() => r()));
  listener.closeIdleConnections();
  const force = setTimeout(() => listener.closeAllConnections(), HTTP_CLOSE_GRACE_MS);
  force.unref();
  await closed;
  clearTimeout(force);
}
