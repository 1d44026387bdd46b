/** How often a failure that keeps repeating is logged again (with the count since the last line). */
export const REPEATED_FAILURE_LOG_MS = 10_000;

/**
 * Which lines a failure that repeats gets: a heartbeat every tick, an end retried with backoff, while
 * the database is unreachable. The first failure is logged at once; the next ones at most once per
 * `everyMs`, counting the failures since the first; the first success after them once. Pure: the
 * caller passes the time and logs what it is given.
 */
export class RepeatedFailure {
  private failures = 0;
  private firstAt = 0;
  private loggedAt = 0;

  constructor(private readonly everyMs = REPEATED_FAILURE_LOG_MS) {}

  /** A failure at `now`: the line to log about it (`what` failed, `message` why), or null to stay quiet. */
  failed(now: number, what: string, message: string): string | null {
    this.failures++;
    if (this.failures === 1) {
      this.firstAt = this.loggedAt = now;
      return `${what} failed: ${message}`;
    }
    if (now - this.loggedAt < this.everyMs) return null;
    this.loggedAt = now;
    return `${what} still failing after ${this.failures} attempts over ${seconds(now - this.firstAt)}: ${message}`;
  }

  /** A success at `now`: the line saying the failures stopped (after one as after many), or null when there were none. */
  succeeded(now: number, what: string): string | null {
    const n = this.failures;
    this.failures = 0;
    if (n === 0) return null;
    return `${what} succeeded again after ${n} failed attempt${n === 1 ? '' : 's'} over ${seconds(now - this.firstAt)}`;
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
