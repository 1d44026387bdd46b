import type Database from 'better-sqlite3';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

/** Write transactions between two requests to the thread (each adds a page or a few to the WAL). */
export const CHECKPOINT_EVERY_COMMITS = 64;
/**
 * The main connection's automatic checkpoint, kept as a backstop at four times SQLite's default (1,000
 * pages): while commits follow each other faster than the thread copies, its passive checkpoints never
 * find the WAL fully copied, so the WAL could not start over; the backstop bounds it (16 MiB of 4 KiB
 * pages), and what it copies then is only what the thread has not copied yet.
 */
export const BACKSTOP_PAGES = 4_000;

/** The thread's code: passive checkpoints on a connection of its own, one per request. */
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let db = null;
parentPort.on('message', (m) => {
  if (m === 'close') {
    db?.close();
    process.exit(0);
  }
  try {
    db ??= new Database(workerData.path, { timeout: 15000 });
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage('done');
  } catch (e) {
    parentPort.postMessage('failed: ' + (e && e.message));
  }
});`;

/**
 * Copies the WAL back into the database file on a thread of its own, so that no commit on the main
 * thread waits for a checkpoint (which ends with an fsync of the database file: about 5 ms on this
 * machine, once per 1,000 pages of WAL with SQLite's automatic checkpoint, that is every few hundred
 * runs of a busy worker). The thread starts at the first request, or when the store's first loop
 * listens for wake-ups (a daemon, before any work), so a short-lived process (a CLI command) never
 * starts one; its connection sees the WAL of every process on the file. If the thread
 * cannot run, the main connection's automatic checkpoint is set back to SQLite's default.
 */
export class WalCheckpointer {
  private commits = 0;
  private thread: Worker | null = null;
  private busy = false;
  private failed = false;
  /** Callers of checkpoint() whose checkpoint is the one running. */
  private waiters: Array<() => void> = [];
  /** Callers of checkpoint() who asked while one was running: it may predate their commit, so another follows. */
  private next: Array<() => void> = [];

  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  }

  /** Called after each write transaction of the main connection: every so many, asks the thread to checkpoint. */
  afterCommit(): void {
    if (++this.commits < CHECKPOINT_EVERY_COMMITS || this.busy || this.failed) return;
    this.commits = 0;
    this.request();
  }

  /** Starts the thread ahead of the first request (a long-lived process: starting it costs tens of ms of CPU). */
  prestart(): void {
    if (this.thread || this.failed) return;
    try {
      this.thread = this.start();
    } catch {
      this.fail();
    }
  }

  /** A checkpoint now, on the thread (after a large import); resolves when it is done or failed. */
  checkpoint(): Promise<void> {
    if (this.failed) return Promise.resolve();
    return new Promise<void>((r) => {
      if (this.busy) this.next.push(r);
      else {
        this.waiters.push(r);
        this.request();
      }
      this.holdWhileAwaited();
    });
  }

  /** Stops the thread (at the store's close; the last connection's close checkpoints what is left). */
  async close(): Promise<void> {
    const t = this.thread;
    this.thread = null;
    this.failed = true;
    if (t) {
      const exited = new Promise<void>((r) => t.once('exit', () => r()));
      t.ref(); // the wait below keeps the process alive until the thread is gone
      t.postMessage('close');
      await exited;
    }
    this.answerAll(); // a checkpoint asked for and not answered: nothing more will come
  }

  private request(): void {
    this.busy = true;
    if (this.thread) this.send(this.thread);
    // The first request starts the thread, which blocks this thread about 3 ms (`new Worker`): not in
    // the commit that asked, ahead of its wake-up (sent by setImmediate), but two turns later.
    else setImmediate(() => setImmediate(() => this.startAndSend()));
  }

  private startAndSend(): void {
    if (this.failed) return; // closed meanwhile
    if (!this.thread) this.prestart(); // fails over to SQLite's own checkpoint if the thread cannot start
    if (this.thread) {
      this.holdWhileAwaited();
      this.send(this.thread);
    }
  }

  /**
   * The thread keeps the process alive only while a checkpoint() is awaited: unreferenced, a script
   * awaiting `createTasks` of a large batch (which checkpoints after it) with nothing else pending
   * saw its event loop empty and exited at once, status 13, its await never settled.
   */
  private holdWhileAwaited(): void {
    const t = this.thread;
    if (t === null) return;
    if (this.waiters.length + this.next.length > 0) t.ref();
    else t.unref();
  }

  private send(t: Worker): void {
    try {
      t.postMessage('checkpoint');
    } catch {
      this.fail();
    }
  }

  private start(): Worker {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    // A small heap: the thread holds a connection and nothing else.
    const resourceLimits = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 };
    const t = new Worker(THREAD, { eval: true, workerData: { path: resolve(this.path), module }, resourceLimits });
    t.on('message', () => {
      this.busy = false;
      // A refusal (busy, locked) is left to the next request; the backstop bounds the WAL meanwhile.
      const answered = this.waiters;
      this.waiters = this.next;
      this.next = [];
      if (this.waiters.length > 0) this.request();
      this.holdWhileAwaited();
      answered.forEach((w) => w());
    });
    t.on('error', () => this.fail());
    t.on('exit', () => {
      if (this.thread === t) this.fail();
    });
    // Never keeps the process alive: after the listeners, since adding a 'message' listener refs the
    // thread's port again (a script that never closed its store, past 64 commits, did not exit).
    t.unref();
    return t;
  }

  private fail(): void {
    this.failed = true;
    this.busy = false;
    this.thread = null;
    this.answerAll();
    if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
  }

  private answerAll(): void {
    const all = [...this.waiters, ...this.next];
    this.waiters = [];
    this.next = [];
    all.forEach((w) => w());
  }
}
