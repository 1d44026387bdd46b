import { closeSync, constants, openSync, readSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Channel } from './store.js';

const THROTTLE_MS = 5;
/**
 * Wake files are written in place (no truncation, a write at offset 0 through a descriptor kept open):
 * truncating a file that holds data and writing it again makes ext4 (auto_da_alloc) start writing it
 * back at close, which cost 0.3 ms per write here and over 10 ms while the disk was busy with the
 * database's own writes; in place, one pwrite, it costs about 0.01 ms, and a watcher reads the stamp
 * with one pread. Every stamp has the same length (a UUID, a colon, a 16-digit counter), so a write
 * always covers the stamp before it; only the first STAMP_LENGTH characters are compared (a file left
 * longer by an older version keeps its tail).
 */
const OPEN_FLAGS = constants.O_RDWR | constants.O_CREAT;
const COUNTER_DIGITS = 16;
const STAMP_LENGTH = 36 + 1 + COUNTER_DIGITS;

/**
 * The wall time and timers of the throttle. Wake files throttle real writes between real processes,
 * so production uses the system's (never a virtual clock's); tests pass their own to move time by hand.
 */
export interface ThrottleClock {
  nowMs(): number;
  setTimer(ms: number, fn: () => void): { cancel(): void };
}

const systemThrottleClock: ThrottleClock = {
  nowMs: () => Date.now(),
  setTimer: (ms, fn) => {
    const h = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(h) };
  },
};

/**
 * Wake-ups between processes sharing one SQLite file: each channel has a small file beside the
 * database (`orrery.db-wake-tasks` ...) that notifiers write and listeners watch. Writes are
 * throttled (at most one per channel per few ms), so busy processes pay almost nothing; a process
 * ignores its own writes; only processes that listen watch (one-shot CLI commands never do). When
 * the files cannot be written or watched, processes fall back to polling.
 */
export class WakeFiles {
  private readonly watchers = new Map<Channel, FSWatcher | null>();
  /** Channels whose trailing write is scheduled (a write within THROTTLE_MS before it). */
  private readonly trailing = new Map<Channel, { cancel(): void }>();
  /** When each channel's file was last written (the throttle clock's nowMs()). */
  private readonly writtenAt = new Map<Channel, number>();
  private readonly lastWritten = new Map<Channel, string>();
  /** One descriptor per channel file, opened at its first use and kept until close(). */
  private readonly fds = new Map<Channel, number>();
  private readonly readBuffer = Buffer.alloc(STAMP_LENGTH);
  private readonly token = randomUUID();
  private counter = 0;
  private closed = false;

  /**
   * `canWriteNow`: whether a wake-up may be written at once, that is, no transaction of the caller's
   * connection is open (a listener must find the change committed when it looks); otherwise it is
   * written in the next turn of the event loop, after the commit.
   */
  constructor(
    private readonly dbPath: string,
    private readonly onWake: (channel: Channel) => void,
    private readonly canWriteNow: () => boolean = () => false,
    private readonly clock: ThrottleClock = systemThrottleClock,
  ) {}

  /** Starts watching a channel for other processes' writes (idempotent). */
  watch(channel: Channel): void {
    if (this.closed || this.watchers.has(channel)) return;
    const file = this.file(channel);
    try {
      this.descriptor(channel); // creates the file
      const w = watch(file, { persistent: false }, () => this.changed(channel));
      w.on('error', () => w.close());
      this.watchers.set(channel, w);
    } catch {
      this.watchers.set(channel, null); // read-only directory or no inotify: polling still finds the work
    }
  }

  /**
   * Wakes the other processes listening to `channel`. The first wake-up of a channel in THROTTLE_MS is
   * written at once (after the commit: see canWriteNow), so nothing this process does next (a garbage
   * collection, other callbacks) delays it; later ones within THROTTLE_MS of it become one write when
   * that time has passed. Each channel is throttled on its own, so a change that wakes two channels
   * writes both at once.
   */
  touch(channel: Channel): void {
    if (this.closed || this.trailing.has(channel)) return;
    const wait = (this.writtenAt.get(channel) ?? -Infinity) + THROTTLE_MS - this.clock.nowMs();
    if (wait <= 0 && this.canWriteNow()) {
      this.write(channel);
      return;
    }
    const fire = () => {
      this.trailing.delete(channel);
      this.write(channel);
    };
    if (wait <= 0) {
      const h = setImmediate(fire);
      this.trailing.set(channel, { cancel: () => clearImmediate(h) });
    } else {
      this.trailing.set(channel, this.clock.setTimer(wait, fire));
    }
  }

  private changed(channel: Channel): void {
    let content = '';
    try {
      const n = readSync(this.descriptor(channel), this.readBuffer, 0, STAMP_LENGTH, 0);
      content = this.readBuffer.toString('utf8', 0, n);
    } catch {
      this.forget(channel); // unreadable: treat as a wake-up
    }
    if (content !== '' && content.slice(0, STAMP_LENGTH) === this.lastWritten.get(channel)) return; // our own write
    this.onWake(channel);
  }

  private write(channel: Channel): void {
    this.writtenAt.set(channel, this.clock.nowMs());
    const stamp = `${this.token}:${String(++this.counter).padStart(COUNTER_DIGITS, '0')}`;
    try {
      writeSync(this.descriptor(channel), stamp, 0);
      this.lastWritten.set(channel, stamp);
    } catch {
      this.forget(channel); // best effort: a missed wake-up costs one poll interval
    }
  }

  close(): void {
    if (this.closed) return;
    for (const [channel, t] of this.trailing) {
      t.cancel();
      this.write(channel);
    }
    this.trailing.clear();
    this.closed = true;
    for (const w of this.watchers.values()) w?.close();
    for (const channel of [...this.fds.keys()]) this.forget(channel);
  }

  private descriptor(channel: Channel): number {
    let fd = this.fds.get(channel);
    if (fd === undefined) this.fds.set(channel, (fd = openSync(this.file(channel), OPEN_FLAGS)));
    return fd;
  }

  /** Closes a channel's descriptor (after an error, or at close); the next use opens the file again. */
  private forget(channel: Channel): void {
    const fd = this.fds.get(channel);
    if (fd === undefined) return;
    this.fds.delete(channel);
    try {
      closeSync(fd);
    } catch {
      // already unusable
    }
  }

  private file(channel: Channel): string {
    return `${this.dbPath}-wake-${channel}`;
  }
}
