import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { isOrreryError } from '../core/errors.js';
import type { ClaimedRun } from '../store/store.js';
import type { Handler } from '../worker/handlers.js';
import { dagAttemptOf } from '../worker/dag-definition.js';
import { silentLogger, type Logger } from './logger.js';
import { EndBatcher } from './end-batcher.js';
import type { Jobboard } from './jobboard.js';
import { RunExecution } from './run-execution.js';
import { Sleeper } from './sleeper.js';

export interface WorkerOptions {
  handlers: Record<string, Handler>;
  /** Task types to serve; default: every type whose backendName has a handler (re-read as types appear). */
  types?: readonly string[];
  concurrency?: number;
  /** Longest idle sleep when nothing wakes the worker (work scheduled by other processes is found by polling). */
  pollMs?: number;
  /** On stop, how long running handlers may take before their runs are abandoned. */
  graceMs?: number;
  id?: string;
  logger?: Logger;
}

const TYPES_REFRESH_MS = 5_000;
/** Ends a worker lets wait for the database (beyond its concurrency) while it keeps claiming. */
const ENDS_IN_FLIGHT = 100;

/**
 * The worker loop (SPEC §2.3): claims runs of its types up to its concurrency, executes them, and
 * on stop lets running handlers finish within the grace period, then abandons the rest. It needs only
 * a Jobboard: the in-process service (`Orrery`) or a client of a remote one.
 */
export class Worker {
  state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  readonly id: string;
  private readonly sleeper = new Sleeper();
  private readonly active = new Map<string, RunExecution>();
  /** Handlers still running (they hold the concurrency slots). */
  private handling = 0;
  /** Runs whose handler settled and whose end is still being written. */
  private ending = 0;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly log: Logger;
  private types: string[] = [];
  private typesReadAt = 0;
  private recover = false;
  private readonly ender: EndBatcher;
  private loopDone: Promise<void> = Promise.resolve();
  private unlisten: () => void = () => {};

  constructor(
    private readonly board: Jobboard,
    private readonly opts: WorkerOptions,
  ) {
    this.concurrency = opts.concurrency ?? 10;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) throw new Error('concurrency must be a positive integer');
    this.pollMs = opts.pollMs ?? 1000;
    this.graceMs = opts.graceMs ?? 10_000;
    this.id = opts.id ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.log = opts.logger ?? silentLogger;
    this.ender = new EndBatcher(board);
  }

  get running(): number {
    return this.active.size;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    const offRuns = this.board.onRunsScheduled(() => this.sleeper.wake());
    // A run's cancellation was asked for: each running handler's run is checked at once (a heartbeat).
    const offCancel = this.board.onCancelRequested?.(() => {
      for (const x of this.active.values()) void x.checkCancel();
    });
    this.unlisten = () => {
      offRuns();
      offCancel?.();
    };
    this.loopDone = this.loop();
  }

  /** Stops claiming, waits up to the grace period for running handlers, abandons the rest. */
  async stop(graceMs = this.graceMs): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.unlisten();
    this.sleeper.wake();
    await this.loopDone;
    const pending = [...this.active.values()];
    if (pending.length > 0) {
      this.log.info(`waiting up to ${graceMs} ms for ${pending.length} running handler(s)`);
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
      await Promise.race([Promise.all(pending.map((p) => p.done)), grace]);
      clearTimeout(timer);
      await Promise.all([...this.active.values()].map((x) => x.abandon('worker shutting down')));
    }
    this.state = 'stopped';
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.state === 'running') {
      let delay = this.pollMs;
      try {
        if (this.recover) await this.recoverClaims();
        const types = await this.currentTypes();
        // A slot frees when its handler settles; the end is written in the background (batched with
        // others), but once more than ENDS_IN_FLIGHT ends wait, slots are held back for them.
        const free = this.concurrency - this.handling - Math.max(0, this.ending - Math.max(this.concurrency, ENDS_IN_FLIGHT));
        if (free > 0 && types.length > 0) {
          const req = { worker: this.id, types, limit: free };
          const outcome = this.board.claim ? await this.board.claim(req) : { runs: await this.board.claimRuns(req), heldBack: false, retryAt: null };
          const claimed = outcome.runs;
          for (const c of claimed) this.execute(c);
          if (claimed.length === free) delay = 0;
          // Held back by a rate limit: sleep until its next slot opens (a running slot freeing up wakes us anyway).
          else if (outcome.heldBack && outcome.retryAt) delay = Math.max(1, Math.min(this.pollMs, outcome.retryAt.getTime() - this.board.now().getTime()));
        }
        failures = 0;
      } catch (e) {
        failures += 1;
        // A claim that failed for want of the database (or of the connection to a remote board) may
        // still have committed: look for runs we hold. Orrery's own verdicts (errors with its codes) are final.
        if (!isOrreryError(e)) this.recover = true;
        delay = Math.min(this.pollMs * 2 ** Math.min(failures, 5), 30_000);
        this.log.error({ err: e }, `claim failed (retrying in ${delay} ms): ${(e as Error).message}`);
      }
      if (this.state === 'running') await this.sleeper.sleep(delay);
    }
  }

  private execute(c: ClaimedRun): void {
    const handler = this.opts.handlers[c.backendName];
    // A DAG task's own timeout replaces its task type's.
    const dagTimeout = dagAttemptOf(c.arguments.kwargs)?.timeoutMs;
    const claimed = typeof dagTimeout === 'number' ? { ...c, timeoutMs: dagTimeout } : c;
    const exec = new RunExecution(this.board, claimed, handler ?? missingHandler(c.backendName), this.id, this.log, this.ender);
    this.active.set(exec.backendId, exec);
    this.handling += 1;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.handling -= 1;
      this.ending += 1;
    };
    void exec.settled.then(() => {
      settle();
      this.sleeper.wake();
    });
    void exec.done.finally(() => {
      settle();
      this.ending -= 1;
      this.active.delete(exec.backendId);
      this.sleeper.wake();
    });
  }

  /** Executes runs this worker holds but is not running: claims whose reply was lost with the connection. */
  private async recoverClaims(): Promise<void> {
    const held = await this.board.heldRuns(this.id);
    this.recover = false;
    for (const c of held) {
      if (this.active.has(c.run.backendId)) continue;
      this.log.warn({ backendId: c.run.backendId }, `run ${c.run.backendId}: claimed before the connection was lost; running it now`);
      this.execute(c);
    }
  }

  private async currentTypes(): Promise<string[]> {
    if (this.opts.types) return [...this.opts.types];
    const now = Date.now();
    if (now - this.typesReadAt > TYPES_REFRESH_MS) {
      const all = await this.board.listTaskTypes();
      this.types = all.filter((t) => t.backendName in this.opts.handlers).map((t) => t.name);
      this.typesReadAt = now;
    }
    return this.types;
  }
}

function missingHandler(name: string): Handler {
  return () => {
    throw new Error(`no handler registered for backend "${name}" in this worker`);
  };
}
