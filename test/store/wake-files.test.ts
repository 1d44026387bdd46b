/**
 * Wake files (src/store/wake-files.ts): a write by one process wakes the others, not itself, and is
 * made in place, never by truncating the file (truncating and rewriting a file makes ext4 write it
 * back at close: 0.3 ms per wake-up, over 10 ms on a busy disk). Two notifiers stand for two
 * processes (each has a token of its own); the test waits on their wake-ups, never on a sleep.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from '../../src/store/store.js';
import { WakeFiles } from '../../src/store/wake-files.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

/** A notifier on `db` whose wake-ups resolve the promises `next()` hands out, in order. */
function notifier(db: string) {
  const heard: Channel[] = [];
  let waiter: ((c: Channel) => void) | null = null;
  const files = new WakeFiles(db, (c) => {
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(c);
    } else heard.push(c);
  });
  cleanups.push(() => files.close());
  return {
    files,
    heard,
    next: () => new Promise<Channel>((r) => (heard.length > 0 ? r(heard.shift()!) : (waiter = r))),
  };
}

describe('wake files', () => {
  it('are written at once outside a transaction, after it inside one, and throttled per channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-wake-files-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, 'orrery.db');
    let inTransaction = false;
    // The throttle's time moves only by hand, so a slow machine cannot make the test's touches fall
    // outside THROTTLE_MS (5 ms) of each other
    let nowMs = 1_000_000;
    const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
    const clock = {
      nowMs: () => nowMs,
      setTimer: (ms: number, fn: () => void) => {
        const t = { at: nowMs + ms, fn, cancelled: false };
        timers.push(t);
        return { cancel: () => void (t.cancelled = true) };
      },
    };
    const advance = (ms: number) => {
      nowMs += ms;
      for (const t of timers.splice(0)) {
        if (t.cancelled) continue;
        if (t.at <= nowMs) t.fn();
        else timers.push(t);
      }
    };
    const files = new WakeFiles(db, () => {}, () => !inTransaction, clock);
    cleanups.push(() => files.close());
    const read = (c: Channel) => {
      try {
        return readFileSync(`${db}-wake-${c}`, 'utf8');
      } catch {
        return '';
      }
    };
    const turn = () => new Promise<void>((r) => setImmediate(r));

    // Outside a transaction: written before touch returns, and a second channel too (throttled apart).
    files.touch('tasks');
    const first = read('tasks');
    expect(first).toMatch(/^[0-9a-f-]{36}:\d{16}$/);
    files.touch('runs');
    expect(read('runs')).toMatch(/^[0-9a-f-]{36}:\d{16}$/);
    // Within the throttle: one trailing write, once THROTTLE_MS has passed since the first.
    advance(2);
    files.touch('tasks');
    files.touch('tasks');
    expect(read('tasks')).toBe(first);
    expect(timers.map((t) => t.at)).toEqual([nowMs + 3]); // one timer, at the first write + 5 ms
    advance(2);
    expect(read('tasks')).toBe(first);
    advance(1);
    expect(read('tasks')).not.toBe(first);
    const counter = (c: Channel) => Number(read(c).split(':')[1]);
    expect(counter('tasks')).toBe(3); // tasks, runs, then this one
    files.touch('dags');
    expect(counter('dags')).toBe(4); // two touches made one write

    // Inside a transaction (a listener could look before the commit): written in the next turn.
    inTransaction = true;
    files.touch('claimed');
    expect(read('claimed')).toBe('');
    inTransaction = false; // the commit
    await turn();
    expect(read('claimed')).toMatch(/^[0-9a-f-]{36}:\d{16}$/);
  });

  it('wake the other process, not the writer, and are written in place with stamps of one length', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orrery-wake-files-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const db = join(dir, 'orrery.db');
    const a = notifier(db);
    const b = notifier(db);
    a.files.watch('tasks');
    b.files.watch('tasks');
    const file = `${db}-wake-tasks`;
    const inode = statSync(file).ino;

    // Left over from an older writer: longer than a stamp (written in one call, so one wake-up each).
    const fd = openSync(file, 'r+');
    writeSync(fd, 'x'.repeat(200), 0);
    closeSync(fd);
    await Promise.all([a.next(), b.next()]); // a foreign write wakes both

    for (let i = 0; i < 12; i++) {
      const writer = i % 2 === 0 ? a : b;
      const other = writer === a ? b : a;
      const woken = other.next();
      writer.files.touch('tasks');
      expect(await woken).toBe('tasks');
      const content = readFileSync(file, 'utf8');
      // A UUID and a 16-digit counter over the start of what was there: a stamp covers the one before
      // whatever the two writers' counters, and the file was never truncated
      expect(content).toMatch(/^[0-9a-f-]{36}:\d{16}x{147}$/);
      expect(statSync(file).ino).toBe(inode);
    }
    // Each heard only the other's writes (and the foreign one above): its own were recognised.
    expect(a.heard).toEqual([]);
    expect(b.heard).toEqual([]);
  });
});
