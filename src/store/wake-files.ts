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
 * Wake-ups between processes sharing one SQLite file: each channel has a small file beside the
 * database (`orrery.db-wake-tasks` ...) that notifiers write and listeners watch. Writes are
 * throttled (at most one per channel per few ms), so busy processes pay almost nothing; a process
 * ignores its own writes; only processes that listen watch (one-shot CLI commands never do). When
 * the files cannot be written or watched, processes fall back to polling.
 */
export class WakeFiles {
  private readonly watchers = new Map<Channel, FSWatcher | null>();
  private readonly pending = new Set<Channel>();
  private readonly lastWritten = new Map<Channel, string>();
  /** One descriptor per channel file, opened at its first use and kept until close(). */
  private readonly fds = new Map<Channel, number>();
  private readonly readBuffer = Buffer.alloc(STAMP_LENGTH);
  private readonly token = randomUUID();
  private counter = 0;
  private timer: { cancel(): void } | null = null;
  private flushedAt = 0;
  private closed = false;

  constructor(
    private readonly dbPath: string,
    private readonly onWake: (channel: Channel) => void,
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

  touch(channel: Channel): void {
    if (this.closed) return;
    this.pending.add(channel);
    // Leading edge: a lone wake-up goes out at once (after the current burst of calls: setImmediate,
    // since a zero setTimeout waits a whole millisecond); later ones wait until THROTTLE_MS has passed
    // since the previous write.
    if (this.timer) return;
    const wait = this.flushedAt + THROTTLE_MS - Date.now();
    if (wait <= 0) {
      const h = setImmediate(() => this.flush());
      this.timer = { cancel: () => clearImmediate(h) };
    } else {
      const h = setTimeout(() => this.flush(), wait);
      this.timer = { cancel: () => clearTimeout(h) };
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

  private flush(): void {
    this.timer = null;
    this.flushedAt = Date.now();
    for (const channel of this.pending) {
      const stamp = `${this.token}:${String(++this.counter).padStart(COUNTER_DIGITS, '0')}`;
      try {
        writeSync(this.descriptor(channel), stamp, 0);
        this.lastWritten.set(channel, stamp);
      } catch {
        this.forget(channel); // best effort: a missed wake-up costs one poll interval
      }
    }
    this.pending.clear();
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) {
      this.timer.cancel();
      this.flush();
    }
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
