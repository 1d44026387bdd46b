import type { Handler, HandlerContext, HandlerResult } from '../handlers.js';
import { Isolate, type IsolateOptions } from './isolate.js';
import { fromWire, toWire, type FromIsolate } from './protocol.js';

/** How long a handler may take to stop after its abort before its thread or process is killed. */
export const ABORT_GRACE_MS = 1_000;

/**
 * Ended runs of one isolate whose late `log()` and `heartbeat()` calls (a timer the handler left) are
 * still served as inline: records stored, heartbeats settled at once. Older ones are forgotten.
 */
export const LATE_RUNS_KEPT = 50;

export interface PoolOptions extends IsolateOptions {
  /** Isolates at most (one run each): the worker's concurrency. */
  size: number;
  /** Called when an isolate dies, with why (for the worker's log). */
  onExit?: (why: string) => void;
}

/**
 * Worker threads or child processes that run handlers, one run at a time each (SPEC §2.4). A run whose
 * isolate dies (uncaught exception, process.exit, out of memory, killed after ignoring its abort)
 * fails with that cause; the isolate is replaced for the next run.
 */
export class IsolatePool {
  private readonly idle: Isolate[] = [];
  private readonly all = new Set<Isolate>();
  /** Per isolate, the listeners of its ended runs still kept for late logs and heartbeats, oldest first. */
  private readonly late = new WeakMap<Isolate, Array<() => void>>();
  private nextId = 1;
  private closed = false;
  /** Isolates whose end is not reported (one that failed to load at warm-up). */
  private readonly quiet = new Set<Isolate>();

  constructor(private readonly opts: PoolOptions) {}

  /** One handler per backend name, each running in the pool. */
  handlers(backendNames: readonly string[]): Record<string, Handler> {
    return Object.fromEntries(backendNames.map((name) => [name, (ctx: HandlerContext) => this.run(name, ctx)]));
  }

  /** Starts one isolate and checks the handlers file loads in it; returns its backend names. */
  async warmUp(): Promise<string[]> {
    const iso = this.spawn();
    // Until it is ready, its end is the load failure the caller reports, not a handler's isolate gone.
    this.quiet.add(iso);
    try {
      const backends = await iso.ready;
      this.quiet.delete(iso);
      this.idle.push(iso);
      return backends;
    } catch (e) {
      await iso.kill();
      throw e;
    }
  }

  private spawn(): Isolate {
    const iso = new Isolate(this.opts);
    this.all.add(iso);
    void iso.exited.then((why) => {
      this.all.delete(iso);
      const i = this.idle.indexOf(iso);
      if (i >= 0) this.idle.splice(i, 1);
      if (!this.closed && !this.quiet.delete(iso)) this.opts.onExit?.(why);
    });
    return iso;
  }

  async run(backendName: string, ctx: HandlerContext): Promise<HandlerResult> {
    if (this.closed) throw new Error('the isolate pool is closed');
    let iso = this.idle.pop();
    while (iso && !iso.usable) iso = this.idle.pop();
    iso ??= this.spawn();
    await iso.ready;
    // Aborted while its thread or process was starting (a timeout shorter than the start, a stop):
    // the handler is never begun, so no code runs for a run already recorded as failed.
    if (ctx.signal.aborted) {
      if (iso.usable && !this.closed) this.idle.push(iso);
      throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error(String(ctx.signal.reason));
    }
    const id = this.nextId++;
    const it = iso;
    return new Promise<HandlerResult>((resolve, reject) => {
      let settled = false;
      let killTimer: NodeJS.Timeout | null = null;
      let offExit = () => {};
      const settle = (fn: () => void, reusable: boolean) => {
        if (settled) return;
        settled = true;
        this.keepLate(it, off);
        offExit();
        ctx.signal.removeEventListener('abort', onAbort);
        if (killTimer) clearTimeout(killTimer);
        if (reusable && it.usable && !this.closed) this.idle.push(it);
        fn();
      };
      // An uncaught exception in the isolate while this run is on it (a timer of its handler's): the
      // isolate is about to exit, and the run fails with that cause when it does, even if the handler
      // returns meanwhile (its `done` came before the exit, and the next run on the slot got the blame).
      let crashed = false;
      const off = it.onMessage((m: FromIsolate) => {
        if (m.type === 'crash') crashed = true;
        if (!('id' in m) || m.id !== id) return;
        if (m.type === 'log') ctx.log(m.level, m.message, m.attributes);
        else if (m.type === 'heartbeat') {
          ctx.heartbeat().then(
            () => it.send({ type: 'heartbeat-done', seq: m.seq }),
            (e: unknown) => it.send({ type: 'heartbeat-done', seq: m.seq, error: toWire(e) }),
          );
        } else if (crashed) return; // its end comes with the isolate's exit (offExit below)
        else if (m.type === 'done') settle(() => (m.invalid !== undefined ? reject(plainError(m.invalid)) : resolve(m.value as HandlerResult)), true);
        else if (m.type === 'failed') settle(() => reject(fromWire(m.error)), true);
      });
      const onAbort = () => {
        it.send({ type: 'abort', id, reason: toWire(ctx.signal.reason) });
        // A handler that ignores its signal (an endless loop, say) loses its thread or process.
        killTimer = setTimeout(() => {
          void it.kill(`killed: its handler did not stop within ${ABORT_GRACE_MS} ms of its abort`);
          settle(() => reject(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error(String(ctx.signal.reason))), false);
        }, ABORT_GRACE_MS);
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
      offExit = it.onExit((why) => settle(() => reject(plainError(`handler crashed: ${why}`)), false));
      it.send({ type: 'run', id, backendName, args: ctx.args, kwargs: ctx.kwargs, run: ctx.run });
    });
  }

  /** Keeps an ended run's listener for its late logs and heartbeats, forgetting the oldest past LATE_RUNS_KEPT. */
  private keepLate(it: Isolate, off: () => void): void {
    let kept = this.late.get(it);
    if (!kept) this.late.set(it, (kept = []));
    kept.push(off);
    if (kept.length > LATE_RUNS_KEPT) kept.shift()!();
  }

  /** Kills every isolate (after the worker stopped). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.all].map((i) => i.kill()));
  }
}

/** An error stored as its text alone (no "Error: " prefix, no stack of Orrery's own): the run's error as the docs give it. */
function plainError(text: string): Error {
  const e = new Error(text);
  e.stack = text;
  return e;
}
