import { Command, Option } from 'commander';
import { formatDuration } from '../core/durations.js';
import { isLoopback } from '../http/loopback.js';
import type { LogFormat } from '../engine/logger.js';
import { retentionArg } from './archive-commands.js';
import { addDb, boundedIntArg, hostArg, typesArg, typesOption, envToken, nonEmptyArg, intervalArg, serverUrlArg, timerArg, tokenArg, UsageError, webhookUrlArg, workerIdArg, type DbOpts, type Io } from './common.js';
import { MAX_CONCURRENCY, MAX_PREFETCH } from '../core/claim-ahead.js';
import { MAX_HANDLER_MEMORY_MB } from '../http/server-options.js';
import { ISOLATION_MODES } from '../worker/isolation/protocol.js';
import { workerListCommand } from './worker-list-command.js';
import { untilAborted } from '../core/until-aborted.js';
import { ALERTS_STOP_MS, LOOPS_STOP_MS, StartAborted, startPatiently, stopNote, stoppedBeforeStart, stopWithin, watchSignals, whileUnreachable } from './daemon-lifecycle.js';

interface DaemonCliOpts extends DbOpts {
  logFormat: LogFormat;
  maxSleep?: number;
  retention?: number;
  archiveTo?: string;
  notifyWebhook?: string;
  notifyRetries?: boolean;
  runnerGrace?: number;
}

/** Alert options: DAG alerts where the DAG scheduler runs; the stored task alerts, wherever the process runs on the database. */
function alertOptions(cmd: Command): Command {
  return cmd
    .option('--notify-webhook <url>', 'POST a JSON alert to this URL when a task or a DAG task fails for good (besides logging DAG failures)', webhookUrlArg)
    .option('--notify-retries', 'also alert when a task or a DAG task fails and will run again');
}

/** Options of the processes that run the runner and the DAG scheduler. */
function notifyOptions(cmd: Command): Command {
  return alertOptions(cmd).option(
    '--runner-grace <duration>',
    'how long due tasks of types without limits are left to workers to claim directly before the runner queues them (default 1s; 0 queues at once)',
    timerArg,
  );
}

interface WorkerCliOpts extends DaemonCliOpts {
  handlers?: string;
  concurrency: number;
  prefetch: number;
  types?: string;
  isolation: 'inline' | 'thread' | 'process';
  maxMemory?: number;
  grace?: number;
  poll?: number;
  id?: string;
  token?: string;
}

const isolationOption = () =>
  new Option('--isolation <mode>', 'where handlers run: inline (the worker\'s event loop), thread (a worker thread per run slot) or process (a child process per run slot)').choices([...ISOLATION_MODES]).default('inline');
const logFormatOption = () => new Option('--log-format <format>', 'pretty lines or JSON').choices(['pretty', 'json']).default('pretty');

function workerOptions(cmd: Command, handlersRequired: boolean): Command {
  return cmd
    .addOption(new Option('--handlers <file>', `handlers file (.ts, .tsx, .mts, .cts, .js, .mjs or .cjs, in any package) exporting \`handlers\`${handlersRequired ? ' (required)' : ''}`).argParser(nonEmptyArg))
    .option('--concurrency <n>', `runs executed at once (1 to ${MAX_CONCURRENCY})`, boundedIntArg(1, MAX_CONCURRENCY), 10)
    .option('--prefetch <n>', 'claim ahead: most runs held in the worker\'s buffer beyond the running ones (adapts to the handlers\' pace; 0: claim only for free slots)', boundedIntArg(0, MAX_PREFETCH), 500)
    .option('--types <names>', 'comma-separated task types to serve (default: every type with a handler)', typesArg)
    .addOption(isolationOption())
    .option('--max-memory <mb>', 'heap limit of each handler thread or process, in MB (isolation thread|process; default 1024)', boundedIntArg(1, MAX_HANDLER_MEMORY_MB))
    .option('--grace <duration>', 'on SIGINT/SIGTERM/SIGHUP, how long running handlers may finish before their runs are abandoned (default 10s)', timerArg)
    .option('--poll <duration>', 'idle poll interval for work from other processes (default 1s)', intervalArg)
    .option('--id <worker-id>', 'worker id, at most 200 characters (default host:pid:random)', workerIdArg)
    .option('--token <token>', 'API bearer token (default $ORRERY_API_TOKEN): required by serve\'s /api, sent by worker --url', tokenArg);
}

/** Options of `serve` that only its worker uses (`--types` is checked with the handlers, in runDaemon). */
const WORKER_ONLY = ['concurrency', 'prefetch', 'isolation', 'maxMemory', 'grace', 'poll', 'id'] as const;

export function daemonCommands(io: Io): Command[] {
  const runner = addDb(
    notifyOptions(new Command('runner'))
      .description('schedule due tasks and DAG runs into the jobboard and reap expired leases, until SIGINT/SIGTERM/SIGHUP')
      .option('--max-sleep <duration>', 'longest sleep between passes (default 1s)', intervalArg)
      .addOption(logFormatOption()),
  ).action(async (o: DaemonCliOpts) => {
    await runDaemon(o, null, { runner: true, reaper: true });
  });

  const worker = addDb(
    alertOptions(workerOptions(new Command('worker').description('execute runs with the given handlers, until SIGINT/SIGTERM/SIGHUP'), true))
      .option('--url <url>', 'work for a remote `orrery serve` through its HTTP jobboard instead of the database', serverUrlArg)
      .option('--request-timeout <duration>', 'with --url: longest wait for an answer to a request before it is retried (default 60s)', intervalArg)
      .addOption(logFormatOption()),
  ).action(async (o: WorkerCliOpts & { url?: string; requestTimeout?: number }) => {
    // Checked here rather than by commander, which would also ask it of `worker list`.
    if (o.handlers === undefined) throw new UsageError("required option '--handlers <file>' not specified (or: orrery worker list)");
    if (o.requestTimeout !== undefined && o.url === undefined) throw new UsageError('--request-timeout: needs --url (it bounds the requests of a remote worker)');
    if (o.token !== undefined && o.url === undefined) throw new UsageError('--token: needs --url (it is sent to the server a remote worker works for)');
    if (o.url !== undefined) {
      const alert = o.notifyWebhook !== undefined ? '--notify-webhook' : o.notifyRetries ? '--notify-retries' : null;
      if (alert) throw new UsageError(`${alert}: not with --url (a remote worker opens no database to take the stored alerts from: give the option to serve, or another process on the database)`);
      if (o.db !== undefined) throw new UsageError('--url and --db cannot be combined: a remote worker never touches the database');
      await runRemoteWorker(o as WorkerCliOpts & { url: string; requestTimeout?: number });
    } else {
      // A worker has no DAG alerts to log: without the webhook, --notify-retries would do nothing.
      if (o.notifyRetries && o.notifyWebhook === undefined) throw new UsageError('--notify-retries: needs --notify-webhook (a worker posts the stored task alerts; it has no DAG alerts to log)');
      await runDaemon(o, o, { runner: false, reaper: false });
    }
  });

  worker.addCommand(workerListCommand(io));

  const serve = addDb(
    notifyOptions(workerOptions(new Command('serve').description('runner, DAG scheduler, reaper, worker and HTTP API in one process (the embedded set-up)'), false))
      .option('--port <port>', 'HTTP port (GET /healthz); 0 picks a free one', boundedIntArg(0, 65535), 5180)
      .option('--host <host>', 'HTTP address (a non-loopback address needs --token)', hostArg, '127.0.0.1')
      .option('--public-metrics', 'serve /metrics without the token')
      .option('--retention <duration>', 'archive finished runs (and finished one-shot tasks) older than this, continuously (e.g. 30d)', retentionArg)
      .option('--archive-to <file>', 'with --retention: append to this JSONL file instead of the archive tables')
      .option('--no-setup', 'do not call the handlers file\'s setup() (which may create example tasks)')
      .option('--max-sleep <duration>', 'longest runner sleep between passes (default 1s)', intervalArg)
      .addOption(logFormatOption()),
  ).action(async (o: WorkerCliOpts & { port: number; host: string; setup: boolean; publicMetrics?: boolean }, cmd: Command) => {
    if (o.handlers === undefined) {
      // Without handlers serve runs no worker: an option of its worker would silently do nothing.
      const given = WORKER_ONLY.find((k) => cmd.getOptionValueSource(k) === 'cli');
      if (given) throw new UsageError(`--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: needs --handlers (serve runs no worker without handlers)`);
    }
    const token = o.token ?? envToken();
    if (!token && !isLoopback(o.host)) {
      throw new UsageError(`--host ${o.host}: serving on a non-loopback address needs an API token (--token or ORRERY_API_TOKEN)`);
    }
    await runDaemon(o, o, { runner: true, reaper: true, serve: { host: o.host, port: o.port, setup: o.setup, token, publicMetrics: o.publicMetrics ?? false } });
  });
  return [runner, worker, serve];
}

interface Roles {
  runner: boolean;
  reaper: boolean;
  serve?: { host: string; port: number; setup: boolean; token: string | null; publicMetrics: boolean };
}

async function runDaemon(o: DaemonCliOpts, w: WorkerCliOpts | null, roles: Roles): Promise<void> {
  if (w && w.isolation === 'inline' && w.maxMemory !== undefined) throw new UsageError('--max-memory: needs --isolation thread or process');
  if (o.archiveTo !== undefined && o.retention === undefined) throw new UsageError('--archive-to: needs --retention');
  if (o.archiveTo !== undefined) await checkArchiveTo(o.archiveTo);
  if (roles.serve) {
    // Before the database is opened (created, migrated) or the handlers' task types stored. A port in
    // use (or below 1024 without the right) is the port's fault; an address this machine does not
    // have, or a name that does not resolve, the host's.
    const { listenProblem } = await import('../http/server.js');
    const problem = await listenProblem(roles.serve.host, roles.serve.port);
    if (problem) {
      const flag = problem.code === 'EADDRINUSE' || problem.code === 'EACCES' ? `--port ${roles.serve.port}` : `--host ${roles.serve.host}`;
      throw new UsageError(`${flag}: cannot listen on ${roles.serve.host} port ${roles.serve.port}: ${problem.message}`);
    }
  }
  const graceMs = w?.grace ?? 10_000;
  // From here on a signal stops the daemon cleanly, even while it loads its handlers or waits for its database.
  const signals = watchSignals(graceMs);
  // Loaded here, not at the top: the other commands start faster without the loops, logger and tsx.
  const [{ createLogger }, { startServer }, { loadHandlers }] = await Promise.all([
    import('../engine/logger.js'),
    import('../http/start-server.js'),
    import('../worker/load-handlers.js'),
  ]);
  const log = createLogger(o.logFormat);
  signals.useLog(log);
  // A handlers file may take seconds to load (tsx compiles it, its imports run): a signal does not wait for it.
  const mod = w?.handlers !== undefined ? await Promise.race([loadHandlers(w.handlers, { ownProcess: true }), signals.signalled.then(() => null)]) : null;
  if (signals.received) return stoppedBeforeStart(log);
  const types = typesOption(w?.types);
  if (types && !mod) throw new UsageError('--types: needs --handlers (the types a worker serves must have handlers)');
  const notifiers = await webhookNotifiersOf(o, roles.runner);
  // A signal while startServer runs (it opens, checks, listens) stops it before any loop starts.
  const starting = new AbortController();
  void signals.signalled.then(() => starting.abort(new StartAborted()));
  // The composition (loops, isolation, HTTP, metrics, archiver) is the library's startServer.
  const started = await startPatiently(o, log, signals, (orrery) => startServer(orrery, {
    ...(mod ? { handlers: mod } : {}),
    worker: {
      ...(w?.handlers ? { file: w.handlers } : {}),
      concurrency: w?.concurrency ?? 10,
      prefetch: w?.prefetch ?? 500,
      graceMs,
      isolation: w?.isolation ?? 'inline',
      ...(w?.maxMemory !== undefined ? { maxMemoryMb: w.maxMemory } : {}),
      ...(types ? { types } : {}),
      ...(w?.poll !== undefined ? { pollMs: w.poll } : {}),
      ...(w?.id ? { id: w.id } : {}),
    },
    runner: roles.runner,
    reaper: roles.reaper,
    ...(o.maxSleep !== undefined ? { maxSleepMs: o.maxSleep } : {}),
    ...(o.runnerGrace !== undefined ? { runnerGraceMs: o.runnerGrace } : {}),
    ...notifiers,
    ...(roles.runner && o.notifyRetries ? { logDagRetries: true } : {}),
    http: roles.serve ? { host: roles.serve.host, port: roles.serve.port, token: roles.serve.token, publicMetrics: roles.serve.publicMetrics } : false,
    ...(roles.serve && o.retention !== undefined ? { retention: { retentionMs: o.retention, ...(o.archiveTo !== undefined ? { to: o.archiveTo } : {}) } } : {}),
    setup: roles.serve?.setup ?? false,
    logger: log,
    signal: starting.signal,
    // From here a signal stops the daemon gracefully (also while the handlers file's setup() runs).
    onLoopsStarted: () => signals.markStarted(),
  })).catch((e: unknown) => {
    if (e instanceof StartAborted) return null;
    signals.markStartFailed();
    return Promise.reject(e);
  });
  if (!started) return stoppedBeforeStart(log);
  const { orrery, running } = started;
  try {
    const { daemon, port, url } = running;
    const what = [roles.runner && 'runner', roles.reaper && 'reaper', daemon.worker && `worker ${daemon.worker.id} (concurrency ${w!.concurrency}, isolation ${w!.isolation}, handlers: ${Object.keys(mod!.handlers).join(', ')}${types ? `; serving only ${types.join(', ')}` : ''})`]
      .filter(Boolean)
      .join(', ');
    // The signal handlers were in place before the line that says the process started (supervisors and
    // tests send SIGTERM once they read it); a signal received while starting stops it at once.
    signals.markStarted();
    // A signal already received (while setup() ran) stops it now: no start line after the stop's.
    if (!signals.received) log.info({ port }, `orrery started on ${orrery.store.url}: ${what}${url !== null ? `; API ${url}/api${roles.serve!.token ? ' (token required)' : ''}, dashboard ${url}/` : ''}`);
    await signals.signalled;
    log.info(`stopping${daemon.worker ? ` (grace ${formatDuration(graceMs)}, ${daemon.worker.running} running)` : ''}`);
    // The worker's bound (or, without a worker, a pass's), and with the runner the 10 s its alerts may take.
    await stopWithin(() => running.stop(), (daemon.worker?.stopBoundMs(graceMs) ?? LOOPS_STOP_MS) + (roles.runner ? ALERTS_STOP_MS : 0), log, stopNote(daemon.worker !== null, roles.runner));
    log.info('stopped');
    // An abandoned inline handler may still hold timers; they must not keep a stopped process alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  } finally {
    await orrery.close();
  }
}


/**
 * The stored alerts posted to --notify-webhook: DAG alerts where the DAG scheduler runs (it logs the
 * failures its steps record either way), task alerts in any process on the database.
 */
async function webhookNotifiersOf(o: DaemonCliOpts, runner: boolean) {
  if (!o.notifyWebhook) return {};
  const [{ webhookNotifier }, { taskWebhookNotifier }] = await Promise.all([import('../engine/dag-notifier.js'), import('../engine/task-notifier.js')]);
  const opts = { retries: o.notifyRetries ?? false };
  try {
    return { ...(runner ? { dagNotifier: webhookNotifier(o.notifyWebhook, opts) } : {}), taskNotifier: taskWebhookNotifier(o.notifyWebhook, opts) };
  } catch (e) {
    throw new UsageError(`--notify-webhook: ${(e as Error).message}`);
  }
}

/** `orrery worker --url`: handlers run against a remote server's jobboard; no database is opened. */
async function runRemoteWorker(w: WorkerCliOpts & { url: string; requestTimeout?: number }): Promise<void> {
  if (w.isolation === 'inline' && w.maxMemory !== undefined) throw new UsageError('--max-memory: needs --isolation thread or process');
  const signals = watchSignals(w.grace ?? 10_000);
  const [{ Worker }, { createLogger }, { OrreryClient }, { loadHandlers }, { workerHandlers }, { prepareRemote }] = await Promise.all([
    import('../engine/worker.js'),
    import('../engine/logger.js'),
    import('../http/client.js'),
    import('../worker/load-handlers.js'),
    import('../worker/isolation/worker-handlers.js'),
    import('./remote-start.js'),
  ]);
  const log = createLogger(w.logFormat);
  signals.useLog(log);
  const mod = await Promise.race([loadHandlers(w.handlers!, { ownProcess: true }), signals.signalled.then(() => null)]);
  if (!mod) return stoppedBeforeStart(log);
  // A signal while the first thread or process loads the file stops the start there.
  const starting = new AbortController();
  void signals.signalled.then(() => starting.abort(new StartAborted()));
  const run = await workerHandlers(mod, {
    mode: w.isolation,
    file: w.handlers!,
    concurrency: w.concurrency,
    maxMemoryMb: w.maxMemory ?? 1024,
    onExit: (why) => log.warn(`a handler ${w.isolation} ended (${why}); the next run gets a new one`),
    signal: starting.signal,
  }).catch((e: unknown) => (e instanceof StartAborted ? null : Promise.reject(e)));
  if (!run) return stoppedBeforeStart(log);
  const client = new OrreryClient(w.url, w.token ?? envToken(), w.requestTimeout !== undefined ? { timeoutMs: w.requestTimeout } : {});
  const graceMs = w.grace ?? 10_000;
  try {
    // The server's task types, DAGs and --types check, patiently: a server away for now (restarting,
    // not up yet) is waited for, as a daemon waits for its database (startPatiently); a wrong token
    // (exit 1, the server's refusal) and Orrery's own verdicts are final.
    // A signal meanwhile ends the start at once, a request in flight included (a server that holds its
    // answer kept the stop waiting for the 60 s request timeout).
    const prepared = await whileUnreachable(log, signals, () => 'cannot reach the server', async () => ({
      types: await untilAborted(prepareRemote(client, mod, { types: w.types, handlers: w.handlers!, url: w.url!, token: (w.token ?? envToken()) != null }, log), starting.signal),
    })).catch((e: unknown) => {
      if (e instanceof StartAborted) return null;
      signals.markStartFailed();
      return Promise.reject(e);
    });
    if (prepared === null) return stoppedBeforeStart(log);
    const { types } = prepared;
    const worker = new Worker(client, {
      handlers: run.handlers,
      concurrency: w.concurrency,
      prefetch: w.prefetch,
      graceMs,
      ...(types ? { types } : {}),
      ...(w.poll !== undefined ? { pollMs: w.poll } : {}),
      ...(w.id ? { id: w.id } : {}),
      logger: log.child({ loop: 'worker' }),
    });
    worker.start();
    signals.markStarted();
    log.info(`orrery worker ${worker.id} started against ${w.url} (concurrency ${w.concurrency}, isolation ${w.isolation}, handlers: ${Object.keys(mod.handlers).join(', ')}${types ? `; serving only ${types.join(', ')}` : ''})`);
    await signals.signalled;
    log.info(`stopping (grace ${formatDuration(graceMs)}, ${worker.running} running)`);
    await stopWithin(() => worker.stop(), worker.stopBoundMs(graceMs), log);
    log.info('stopped');
    setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
  } finally {
    await run.close();
    client.close();
  }
}



/** `--archive-to FILE`: refused at start (exit 2) when the file cannot be archived to, as `archive --to` refuses it. */
async function checkArchiveTo(path: string): Promise<void> {
  const [{ ArchiveFile }, { ValidationError }] = await Promise.all([import('../engine/archive-file.js'), import('../core/errors.js')]);
  try {
    ArchiveFile.check(path);
  } catch (e) {
    if (e instanceof ValidationError) throw new UsageError(`--archive-to ${e.message}`);
    throw e;
  }
}
