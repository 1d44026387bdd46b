import { closeSync, openSync, watch, writeSync, type FSWatcher } from 'node:fs';
import type { Channel } from './store.js';

const CHANNELS: readonly Channel[] = ['tasks', 'runs', 'claimed', 'ended'];
const THROTTLE_MS = 5;

/**
 * Wake-ups between processes sharing one SQLite file: each channel has a small file beside the
 * database (`orrery.db-wake-tasks` ...) that notifiers touch and listeners watch. Writes are
 * throttled (at most one per channel per few ms), so busy processes pay almost nothing. When the
 * files cannot be written or watched, processes fall back to polling.
 */
export class WakeFiles {
  private readonly watchers: FSWatcher[] = [];
  private readonly pending = new Set<Channel>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly dbPath: string,
    onWake: (channel: Channel) => void,
  ) {
    for (const channel of CHANNELS) {
      const file = this.file(channel);
      try {
        closeSync(openSync(file, 'a'));
        const w = watch(file, { persistent: false }, () => onWake(channel));
        w.on('error', () => w.close());
        this.watchers.push(w);
      } catch {
        // read-only directory or no inotify: polling still finds the work
      }
    }
  }

  touch(channel: Channel): void {
    if (this.closed) return;
    this.pending.add(channel);
    this.timer ??= setTimeout(() => this.flush(), THROTTLE_MS);
  }

  private flush(): void {
    this.timer = null;
    for (const channel of this.pending) {
      try {
        const fd = openSync(this.file(channel), 'w');
        writeSync(fd, String(Date.now()));
        closeSync(fd);
      } catch {
        // best effort: a missed wake-up costs one poll interval
      }
    }
    this.pending.clear();
  }

  close(): void {
    if (this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.flush();
    }
    this.closed = true;
    for (const w of this.watchers) w.close();
  }

  private file(channel: Channel): string {
    return `${this.dbPath}-wake-${channel}`;
  }
}
