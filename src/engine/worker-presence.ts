import { WORKER_REFRESH_MS, type WorkerInfo } from '../core/worker-registry.js';
import type { Clock, Timer } from './clock.js';
import type { Jobboard } from './jobboard.js';
import type { Logger } from './logger.js';
import { compareCodePoints } from '../core/text-order.js';

/**
 * How long a remote board's answer to a registration or a stop is waited for: half a refresh, so an
 * answer lost holds back neither the next refresh (the row would read stale) nor a stop (its bound).
 */
const REGISTRY_ANSWER_MS = WORKER_REFRESH_MS / 2;

/**
 * A worker's row in the worker registry (docs/operations.md#workers): registered at start, refreshed
 * every WORKER_REFRESH_MS from the worker's own clock whether it holds runs or not (and at once when
 * the types it handles change), marked stopped on a graceful stop. One registration is in flight at a
 * time; a failure is logged once and retried at the next refresh. Does nothing on a board that keeps
 * no registry.
 */
export class WorkerPresence {
  private timer: Timer | null = null;
  private inFlight: Promise<void> | null = null;
  /** The types changed while a registration was in flight: send again when it settles. */
  private dirty = false;
  private running = false;
  private failing = false;

  constructor(
    private readonly board: Jobboard,
    private info: WorkerInfo,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Registers now, then refreshes every WORKER_REFRESH_MS until `stop()`. */
  start(): void {
    if (this.running || !this.board.registerWorker) return;
    this.running = true;
    this.send();
  }

  /** The task types the worker handles now; a change is sent at once. */
  setTypes(types: readonly string[]): void {
    const next = [...new Set(types)].sort(compareCodePoints);
    if (next.length === this.info.types.length && next.every((t, i) => t === this.info.types[i])) return;
    this.info = { ...this.info, types: next };
    if (!this.running) return;
    if (this.inFlight) this.dirty = true;
    else this.send();
  }

  /** Stops refreshing and marks the worker stopped (a failure is logged: the row then turns stale, then gone). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
    await this.inFlight;
    try {
      await this.board.stopWorker?.(this.info.id, { answerWithinMs: REGISTRY_ANSWER_MS });
    } catch (e) {
      this.log.warn({ err: e }, `could not mark worker ${this.info.id} stopped in the registry (it reads stale, then gone): ${(e as Error).message}`);
    }
  }

  private send(): void {
    this.timer?.cancel();
    this.timer = null;
    this.dirty = false;
    this.inFlight = this.board.registerWorker!(this.info, { answerWithinMs: REGISTRY_ANSWER_MS }).then(
      () => {
        if (this.failing) this.log.info(`worker ${this.info.id} registered again`);
        this.failing = false;
      },
      (e: unknown) => {
        if (!this.failing) this.log.warn({ err: e }, `could not register worker ${this.info.id} (retrying every ${WORKER_REFRESH_MS / 1000} s): ${(e as Error).message}`);
        this.failing = true;
      },
    );
    void this.inFlight.then(() => {
      this.inFlight = null;
      if (!this.running) return;
      if (this.dirty) this.send();
      else this.timer = this.clock.setTimer(WORKER_REFRESH_MS, () => this.send(), { unref: true });
    });
  }
}
