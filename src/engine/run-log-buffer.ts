import type { RunLogRecord } from '../core/model.js';
import type { Clock, Timer } from './clock.js';

/** Records buffered by a run are sent once this many are waiting... */
export const LOG_FLUSH_AT = 200;
/** ...or this long after the first of them was logged, whichever comes first. */
export const LOG_FLUSH_MS = 1_000;

/**
 * The log records of one run on their way to the store while the run goes (live logs): sent when
 * LOG_FLUSH_AT records wait or LOG_FLUSH_MS after the first unsent one, whichever comes first, and
 * at the run's end before the end itself. Made on a run's first record, so a run that logs nothing
 * costs nothing; its timer exists only while records wait. Sends go out one after the other, in order.
 */
export class RunLogBuffer {
  private records: RunLogRecord[] = [];
  private timer: Timer | null = null;
  private sending: Promise<void> = Promise.resolve();

  constructor(
    /** Where its timer comes from (the worker's clock). */
    private readonly clock: Pick<Clock, 'setTimer'>,
    /** Sends records to the store (the board's appendRunLogs). */
    private readonly send: (records: RunLogRecord[]) => Promise<void>,
    /** A send failed: its records are lost (said once per batch). */
    private readonly onLost: (e: unknown, count: number) => void,
  ) {}

  /** Buffers a record; sends the buffer at once when it is full, else within LOG_FLUSH_MS. */
  add(record: RunLogRecord): void {
    this.records.push(record);
    if (this.records.length >= LOG_FLUSH_AT) void this.flush();
    // Records that wait never keep a process alive: the run's end or abandon sends them.
    else this.timer ??= this.clock.setTimer(LOG_FLUSH_MS, () => {
      this.timer = null;
      void this.flush();
    }, { unref: true });
  }

  /** Sends what waits now; resolves when everything sent so far has been sent (or lost). */
  flush(): Promise<void> {
    if (this.timer !== null) {
      this.timer.cancel();
      this.timer = null;
    }
    if (this.records.length === 0) return this.sending;
    const batch = this.records;
    this.records = [];
    this.sending = this.sending.then(() => this.send(batch)).catch((e: unknown) => this.onLost(e, batch.length));
    return this.sending;
  }
}
