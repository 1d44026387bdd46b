/**
 * The program of an isolated worker thread or child process: loads the handlers file once, then runs
 * one handler at a time for its parent, forwarding logs, heartbeats and aborts over messages.
 */
import { Worker as Thread, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadHandlers } from '../load-handlers.js';
import { logAttributes, outcomeOfSettled, quietIfUnawaited, type Handler } from '../handlers.js';
import { LOG_LEVELS } from '../../core/model.js';
import { readableWire, toWire, type FromIsolate, type ToIsolate } from './protocol.js';

const send: (m: FromIsolate) => void = isMainThread
  ? (m) => process.send!(m)
  : (m) => parentPort!.postMessage(m);
const file: string = isMainThread ? process.argv[2]! : (workerData as { file: string }).file;

const controllers = new Map<number, AbortController>();
const heartbeats = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
let seq = 0;

if (isMainThread) {
  // A handler process ends when its worker says so (a kill, or their IPC channel closing): systemd
  // sends SIGTERM to every process of a unit's control group, whatever their process group, and the
  // worker then lets its handlers finish within its grace period. Thread isolation shares the
  // worker's process and its signals.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('SIGHUP', () => {}); // a hang-up sent to the group: the worker stops gracefully, its handlers with it
  // A worker killed outright (SIGKILL, out of memory) cannot kill its handler processes, and one busy in
  // a loop never sees its IPC channel close: a watchdog thread, which the loop does not block, ends
  // this process once its parent is gone (it is re-parented: its parent pid changes), with its process
  // group (what its handlers started).
  new Thread(
    `const { workerData } = require('node:worker_threads');
     setInterval(() => { if (process.ppid !== workerData.ppid) process.kill(-process.pid, 'SIGKILL'); }, 250);`,
    { eval: true, workerData: { ppid: process.ppid } },
  ).unref();
}

process.on('uncaughtException', (e) => {
  send({ type: 'crash', error: toWire(e) });
  // Let the message go out, then die: the parent fails the run and replaces this isolate.
  setTimeout(() => process.exit(70), 20);
});
process.on('unhandledRejection', (e) => {
  send({ type: 'crash', error: toWire(e) });
  setTimeout(() => process.exit(70), 20);
});

async function run(handler: Handler, m: Extract<ToIsolate, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  controllers.set(m.id, controller);
  try {
    const value = await handler({
      args: m.args,
      kwargs: m.kwargs,
      run: m.run,
      signal: controller.signal,
      // Any level but the four is stored as info, as inline (a Symbol could not even be sent).
      log: (level, message, attributes) => send({ type: 'log', id: m.id, level: (LOG_LEVELS as readonly unknown[]).includes(level) ? level : 'info', message: String(message), ...(attributes === undefined || attributes === null ? {} : { attributes: logAttributes(attributes) }) }),
      heartbeat: () =>
        // Once the handler returned or threw (a timer it left), a heartbeat settles at once, as inline.
        !controllers.has(m.id) ? Promise.resolve() : quietIfUnawaited(new Promise<void>((resolve, reject) => {
          const s = ++seq;
          heartbeats.set(s, { resolve, reject });
          send({ type: 'heartbeat', id: m.id, seq: s });
        })),
    });
    send(doneMessage(m.id, value));
  } catch (e) {
    // A thrown value that cannot be read ends the run with the inline rule's text, not a crash of the isolate.
    const error = readableWire(e);
    send(error ? { type: 'failed', id: m.id, error } : { type: 'done', id: m.id, value: null, invalid: outcomeOfSettled({ error: e }).error ?? 'handler threw a value that could not be read' });
  } finally {
    controllers.delete(m.id);
  }
}

/**
 * What a handler returned, as the parent ends the run with it: the outcome's fields (JSON), or the
 * error text the inline rules give a value that cannot end the run (an object without a boolean
 * `eventful`, a result with NaN, a function, a bigint or a cycle; a getter that throws).
 */
function doneMessage(id: number, value: unknown): FromIsolate {
  const o = outcomeOfSettled({ value });
  if (o.status === 'failed') return { type: 'done', id, value: null, invalid: o.error ?? 'handler returned an invalid value' };
  const out = { eventful: o.status === 'eventful', ...(o.result !== undefined ? { result: o.result } : {}), ...(o.throttle ? { throttle: true } : {}) };
  return { type: 'done', id, value: JSON.parse(JSON.stringify(out)) };
}

async function main(): Promise<void> {
  let handlers: Record<string, Handler>;
  // The event loop running dry while the file loads: its top-level await waits on nothing and never
  // settles (the isolate would end with code 0 and no word). Said as the load's failure.
  const dry = () => {
    send({ type: 'load-failed', error: toWire(new Error(`--handlers ${file}: cannot load it: its top-level await never settled (nothing was left for it to wait on)`)) });
    setTimeout(() => process.exit(1), 20);
  };
  process.once('beforeExit', dry);
  try {
    handlers = (await loadHandlers(file, { isolate: true })).handlers;
    process.off('beforeExit', dry);
  } catch (e) {
    process.off('beforeExit', dry);
    send({ type: 'load-failed', error: toWire(e) });
    setTimeout(() => process.exit(1), 20);
    return;
  }
  const onMessage = (m: ToIsolate) => {
    if (m.type === 'run') {
      const handler = Object.hasOwn(handlers, m.backendName) ? handlers[m.backendName] : undefined;
      if (!handler) send({ type: 'failed', id: m.id, error: { name: 'PermanentFailure', message: `no handler for backend "${m.backendName}" in ${file}` } });
      else void run(handler, m);
    } else if (m.type === 'abort') {
      const reason = new Error(m.reason.message);
      reason.name = m.reason.name;
      controllers.get(m.id)?.abort(reason);
    } else if (m.type === 'heartbeat-done') {
      const h = heartbeats.get(m.seq);
      heartbeats.delete(m.seq);
      if (m.error) h?.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
      else h?.resolve();
    }
  };
  if (isMainThread) {
    process.on('message', onMessage);
    process.on('disconnect', () => process.exit(0)); // the worker is gone: so are we
  }
  else parentPort!.on('message', onMessage);
  send({ type: 'ready', backends: Object.keys(handlers) });
}

void main();
