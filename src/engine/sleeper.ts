import { systemClock, type Clock, type Timer } from './clock.js';

/**
 * An abortable sleep on a clock's timer that `wake()` ends early; a wake that arrives while awake is
 * kept for the next sleep. A sleep that wakes may not cut short (a back-off) runs its whole time, and
 * what woke it meanwhile is done with when it ends (the loop acts then anyway). `interrupt()` ends
 * any sleep (a stop).
 */
export class Sleeper {
  private pending = false;
  private wakeable = true;
  private resolve: (() => void) | null = null;
  private timer: Timer | null = null;

  constructor(private readonly clock: Clock = systemClock) {}

  sleep(ms: number, wakeable = true): Promise<void> {
    if ((this.pending && wakeable) || ms <= 0) {
      this.pending = false;
      // Through the macrotask queue: a loop that never really sleeps must not starve timers and I/O.
      return new Promise((resolve) => setImmediate(resolve));
    }
    this.wakeable = wakeable;
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = this.clock.setTimer(ms, () => this.fire());
    });
  }

  wake(): void {
    if (this.resolve && this.wakeable) this.fire();
    else this.pending = true;
  }

  /** Ends the current sleep, wakeable or not (or the next one at once). */
  interrupt(): void {
    if (this.resolve) this.fire();
    else this.pending = true;
  }

  private fire(): void {
    this.timer?.cancel();
    this.timer = null;
    const r = this.resolve;
    this.resolve = null;
    this.pending = false;
    r?.();
  }
}
