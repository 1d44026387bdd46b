import type { Orrery } from './service.js';
import { Sleeper } from './sleeper.js';
import { silentLogger, type Logger } from './logger.js';

/** A bounded queue that still holds runs is refilled once this fraction of it is free. */
const REFILL_FRACTION = 0.1;
/** Claims arriving within this window wake the runner once. */
const CLAIM_WAKE_COALESCE_MS = 25;

export interface RunnerOptions {
  /** Longest sleep between passes when nothing wakes the runner (other processes' work is found by polling). */
  maxSleepMs?: number;
  logger?: Logger;
}

/**
 * The runner (SPEC §2.2): moves due tasks into the jobboard, per type within its queue limit. It sleeps
 * until the earliest nextRun, or until new due work or freed queue slots wake it.
 */
export class Runner {
  state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private readonly sleeper = new Sleeper();
  private readonly maxSleepMs: number;
  private readonly log: Logger;
  private loopDone: Promise<void> = Promise.resolve();
  private unlisten: Array<() => void> = [];
  private queuesFull = false;
  private claimWake: NodeJS.Timeout | null = null;

  constructor(
    private readonly orrery: Orrery,
    opts: RunnerOptions = {},
  ) {
    this.maxSleepMs = opts.maxSleepMs ?? 1000;
    this.log = opts.logger ?? silentLogger;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    const wake = () => this.sleeper.wake();
    // Claims free queue slots; they matter only while due work waits behind a full queue, and a burst
    // of claims needs one pass, not one each.
    const onClaimed = () => {
      if (!this.queuesFull || this.claimWake) return;
      this.claimWake = setTimeout(() => {
        this.claimWake = null;
        this.sleeper.wake();
      }, CLAIM_WAKE_COALESCE_MS);
    };
    this.unlisten = [this.orrery.store.listen('tasks', wake), this.orrery.store.listen('claimed', onClaimed)];
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.sleeper.wake();
    await this.loopDone;
    if (this.claimWake) clearTimeout(this.claimWake);
    this.unlisten.forEach((u) => u());
    this.state = 'stopped';
  }

  /** Wakes the runner for an immediate pass. */
  notify(): void {
    this.sleeper.wake();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.state === 'running') {
      let delay = this.maxSleepMs;
      try {
        const runs = await this.orrery.scheduleDue({ refillFraction: REFILL_FRACTION });
        failures = 0;
        // A pass that scheduled work may have stopped at its batch cap: pass again at once.
        if (runs.length > 0) delay = 0;
        if (runs.length > 0) {
          const byType = new Map<string, number>();
          for (const r of runs) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
          for (const [type, n] of byType) this.log.info({ type, runs: n }, `scheduled ${n} run${n === 1 ? '' : 's'} of ${type}`);
        }
        const next = await this.orrery.store.nextDueAt();
        const until = next === null ? Infinity : next.getTime() - this.orrery.clock.now().getTime();
        // Due work left behind means full queues: wait for freed slots (or the poll) instead of spinning.
        this.queuesFull = until <= 0 && runs.length === 0;
        if (delay !== 0) delay = until > 0 ? Math.min(until + 1, this.maxSleepMs) : this.maxSleepMs;
      } catch (e) {
        failures += 1;
        delay = Math.min(this.maxSleepMs * 2 ** Math.min(failures, 5), 30_000);
        this.log.error({ err: e }, `runner pass failed (retrying in ${delay} ms): ${(e as Error).message}`);
      }
      if (this.state === 'running') await this.sleeper.sleep(delay);
    }
  }
}
