import { checkMs, optionsObject } from '../core/options.js';
import { silentLogger, type Logger } from './logger.js';
import { checkLogger, checkOrrery } from './option-checks.js';
import type { Orrery } from './service.js';
import { Sleeper } from './sleeper.js';
import { detachedFromCaller } from './tracing.js';

export interface LoopOptions {
  /** Longest sleep between passes when nothing wakes the loop (work from elsewhere is found by polling). */
  maxSleepMs?: number;
  logger?: Logger;
}

export type LoopState = 'idle' | 'running' | 'stopping' | 'stopped';

/**
 * A loop of passes with an abortable sleep between them: `pass()` does the work and says how long to
 * sleep; `wake()` ends the sleep early; a failed pass is logged and retried with backoff.
 */
export abstract class PeriodicLoop {
  state: LoopState = 'idle';
  protected readonly sleeper: Sleeper;
  protected readonly maxSleepMs: number;
  protected readonly log: Logger;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    protected readonly orrery: Orrery,
    private readonly name: string,
    opts: LoopOptions = {},
  ) {
    checkOrrery(orrery); // `new Runner(null)`: a ValidationError naming orrery, not a TypeError about its clock
    // `new Runner(orrery, null)`: a ValidationError naming options, not a TypeError; a string, an array or
    // a Date (no options of their own) refused rather than read as none.
    opts = optionsObject(opts);
    this.sleeper = new Sleeper(orrery.clock);
    // As the CLI's --max-sleep: a shorter sleep would spin the loop.
    this.maxSleepMs = checkMs(opts.maxSleepMs ?? 1000, 'maxSleepMs', 10);
    this.log = checkLogger(opts.logger) ?? silentLogger;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'running';
    this.onStart();
    // Its passes are its own: spans they record (a runner's orrery.schedule, the tasks a DAG scheduler
    // creates) have no parent, whatever context start() was called in (tracing audit).
    this.loopDone = detachedFromCaller(() => this.loop());
  }

  async stop(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.sleeper.wake();
    await this.loopDone;
    this.onStop();
    this.state = 'stopped';
  }

  /** Ends the current sleep: the next pass starts at once. */
  wake(): void {
    this.sleeper.wake();
  }

  /** One pass; resolves with how long to sleep before the next (0: at once). */
  protected abstract pass(): Promise<number>;
  protected onStart(): void {}
  protected onStop(): void {}

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.state === 'running') {
      let delay: number;
      try {
        delay = await this.pass();
        failures = 0;
      } catch (e) {
        failures += 1;
        delay = Math.min(this.maxSleepMs * 2 ** Math.min(failures, 5), 30_000);
        this.log.error({ err: e }, `${this.name} pass failed (retrying in ${delay} ms): ${(e as Error).message}`);
      }
      if (this.state === 'running') await this.sleeper.sleep(delay);
    }
  }
}
