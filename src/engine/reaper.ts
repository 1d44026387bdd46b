import type { Orrery } from './service.js';
import { Sleeper } from './sleeper.js';
import { silentLogger, type Logger } from './logger.js';

export interface ReaperOptions {
  maxSleepMs?: number;
  logger?: Logger;
}

/** Ends `lost` every started run whose lease expired (a worker that died or hung); its task follows §2.1. */
export class Reaper {
  state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
  private readonly sleeper = new Sleeper();
  private readonly maxSleepMs: number;
  private readonly log: Logger;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly orrery: Orrery,
    opts: ReaperOptions = {},
  ) {
    this.maxSleepMs = opts.maxSleepMs ?? 1000;
    this.log = opts.logger ?? silentLogger;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.sleeper.wake();
    await this.loopDone;
    this.state = 'stopped';
  }

  private async loop(): Promise<void> {
    while (this.state === 'running') {
      let delay = this.maxSleepMs;
      try {
        const reaped = await this.orrery.reapExpired();
        for (const r of reaped) {
          this.log.warn(
            { backendId: r.run.backendId, task: r.task.id, worker: r.run.worker },
            `run ${r.run.backendId} of task ${r.task.id} lost: lease expired (worker ${r.run.worker ?? '?'}); task now ${r.task.status}`,
          );
        }
        const next = await this.orrery.store.nextLeaseExpiry();
        if (next !== null) delay = Math.max(1, Math.min(next.getTime() - this.orrery.clock.now().getTime() + 1, this.maxSleepMs));
      } catch (e) {
        this.log.error({ err: e }, `reaper pass failed: ${(e as Error).message}`);
      }
      if (this.state === 'running') await this.sleeper.sleep(delay);
    }
  }
}
