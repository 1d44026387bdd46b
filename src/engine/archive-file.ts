import { randomUUID } from 'node:crypto';
import { accessSync, closeSync, createReadStream, type ReadStream, existsSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, statSync, writeSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { ValidationError, shown } from '../core/errors.js';
import { RUN_STATUSES, TASK_STATUSES, type Task, type TaskRun } from '../core/model.js';
import type { ArchiveBatch, ArchiveProgressUpdate, ArchiveStore } from '../store/archive-store.js';

/** The live rows an interrupted batch's tail is checked against before it is cut off. */
export interface LiveRows {
  getRun(backendId: string): Promise<TaskRun | null>;
  getTask(id: number): Promise<Task | null>;
}

/** One line of a JSONL archive. A `batch` line opens each batch; `run` and `task` lines follow it. */
export type ArchiveLine =
  | { kind: 'batch'; archive: string; seq: number; before: string; archivedAt: string; runs: number; tasks: number }
  | ArchiveRecord;

/** An archived run (with its log records) or an archived task, in the public JSON shapes (SPEC §6.3). */
export type ArchiveRecord =
  | { kind: 'run'; run: Record<string, unknown> & { id: number; task: number }; logs: Array<Record<string, unknown>> }
  | { kind: 'task'; task: Record<string, unknown> & { id: number } };

/**
 * What this database has committed to one file: its archive id, the byte offset and number of its
 * last committed batch, and the file's identity (device and inode; absent in states recorded before
 * it was kept), so a batch never writes at another file's offset.
 */
interface FileState {
  id: string;
  offset: number;
  seq: number;
  dev?: number;
  ino?: number;
}

/** The identity of the file open as `fd` (its device and inode). */
function identityOf(fd: number): { dev: number; ino: number } {
  const st = fstatSync(fd);
  return { dev: st.dev, ino: st.ino };
}

/** Whether a recorded state is that of the file open with identity `id` (a state without one is taken as it). */
function sameFile(state: FileState, id: { dev: number; ino: number }): boolean {
  return state.ino === undefined || (state.ino === id.ino && state.dev === id.dev);
}

const fileError = (path: string, message: string) => new ValidationError(`archive file ${path}: ${message}`, [{ path: 'to', message }]);

/**
 * A JSONL file a database archives to, crash-safe: each batch is written and fsynced inside the
 * batch's transaction, before the rows are deleted, and the byte offset it ends at is committed with
 * the delete. A batch whose transaction did not commit (a crash, a failed delete) is cut off the file
 * by the next batch written to it, and its rows, still in the database, are archived again: no row is
 * lost and none is written twice.
 */
export class ArchiveFile {
  private pending: FileState | null = null;

  private constructor(
    readonly path: string,
    /** The progress key the file's state is recorded under (`file:` and its absolute path). */
    readonly key: string,
    private readonly fd: number,
    private state: FileState,
  ) {}

  /**
   * Whether `path` can be an archive file: its directory exists and it is a regular file or not there
   * yet, and the process may write it; a ValidationError (path `to`) otherwise. A daemon archiving on a
   * retention checks this at start, before it archives anything.
   */
  static check(path: string): void {
    ArchiveFile.checkPath(path);
    // Its first bytes only: a file this database archives to may end with an interrupted batch (no
    // final newline), which open() repairs once it knows what the database committed.
    const full = resolve(path);
    if (existsSync(full)) checkStart(path, full);
  }

  /** The path part of check(): directory, regular file, writable. */
  private static checkPath(path: string): void {
    if (typeof path !== 'string') throw fileError(shown(path), 'must be a file path');
    const full = resolve(path);
    if (path.trim() === '') throw fileError(path, 'an archive file path is required');
    if (!existsSync(dirname(full))) throw fileError(path, `directory ${dirname(full)} does not exist`);
    if (existsSync(full) && !statSync(full).isFile()) throw fileError(path, 'not a regular file');
    try {
      accessSync(existsSync(full) ? full : dirname(full), constants.W_OK);
    } catch {
      throw fileError(path, existsSync(full) ? 'not writable' : `directory ${dirname(full)} is not writable`);
    }
  }

  /**
   * Opens (or creates) `path` for appending batches, repairing what an interrupted archive left. A
   * tail is cut off only when every record in it is still live in `live` as written (its rows will be
   * archived again); a tail this database committed before it was restored from an older backup is
   * refused, since its records are nowhere else.
   */
  static async open(path: string, store: ArchiveStore, live: LiveRows, at: Date): Promise<ArchiveFile> {
    ArchiveFile.checkPath(path);
    const full = resolve(path);
    const key = `file:${full}`;
    const created = !existsSync(full);
    let fd: number;
    try {
      fd = openSync(full, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (e) {
      throw fileError(path, (e as Error).message);
    }
    try {
      if (created) fsyncDir(dirname(full));
      // Another archiver of this database may commit batches to the file meanwhile: a check that
      // fails is made again once what the database has committed to the file has changed.
      for (let attempt = 1; ; attempt++) {
        const raw = await store.getProgress(key);
        const size = fstatSync(fd).size;
        try {
          const state = await ArchiveFile.stateOf(path, fd, raw, size, live);
          if (state === 'known') return new ArchiveFile(path, key, fd, JSON.parse(raw!) as FileState);
          // Recorded before anything is written, so a crash in the first batch is repaired like any other;
          // only if no other archiver recorded the file first (then it is read again).
          if (await store.replaceProgress(key, raw, JSON.stringify(state), at)) return new ArchiveFile(path, key, fd, state);
        } catch (e) {
          if (!(e instanceof ValidationError) || attempt >= 5 || (await store.getProgress(key)) === raw) throw e;
        }
      }
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * What the database's record of the file (`raw`) makes of its `size` bytes: `known` when the file
   * holds what the database committed, and possibly a tail an interrupted batch left (its next batch
   * cuts it off, in its transaction: another archiver's batch in progress may be that tail); a new
   * state when the database has no record of the file, or the file is empty. ValidationError when
   * the file holds what this database may not cut off or append to.
   */
  private static async stateOf(path: string, fd: number, raw: string | null, size: number, live: LiveRows): Promise<FileState | 'known'> {
    const known = raw === null ? null : (JSON.parse(raw) as FileState);
    if (known === null || size === 0) {
      // A file this database never archived to (or an empty one): append after what is there.
      if (size > 0) {
        checkContentOf(path, fd, size);
        await checkNotArchivedHere(path, resolve(path), size, live);
      }
      return { id: randomUUID(), offset: size, seq: 0, ...identityOf(fd) };
    }
    if (!sameFile(known, identityOf(fd))) {
      throw fileError(path, 'is not the file this database archived to at this path (it was renamed or replaced since, or another machine archives to a file of this path): archive to another file, or put that one back');
    }
    if (size < known.offset) throw fileError(path, `has ${size} bytes, fewer than the ${known.offset} this database committed to it: truncated or replaced; archive to another file`);
    if (size > known.offset) await checkTail(path, fd, known, size, live);
    return 'known';
  }

  /**
   * The batch sink: writes the batch at the committed end of the file (cutting off anything after it)
   * and fsyncs; returns the progress to commit with the delete. `committed` is what the database has
   * committed to the file, read in the batch's transaction: another archiver of the database may
   * have written batches since this one opened the file. May run twice for one batch (a transaction
   * retried after a serialization failure): the second write replaces the first.
   */
  write(batch: ArchiveBatch, before: Date, at: Date, committed: string | null): ArchiveProgressUpdate {
    const identity = identityOf(this.fd);
    this.checkStillAtPath(identity);
    if (committed !== null) {
      const state = JSON.parse(committed) as FileState;
      // What the database committed to this path describes another file (this one was renamed or
      // replaced meanwhile, or another machine writes a file of this path): writing at its offset would
      // cut or pad this one. The batch is undone.
      if (!sameFile(state, identity)) {
        throw fileError(this.path, 'was renamed or replaced while this archive wrote to it (or another machine archives to a file of this path): this batch is undone; archive again');
      }
      this.state = state;
    }
    const next: FileState = { id: this.state.id, offset: this.state.offset, seq: this.state.seq + 1, ...identity };
    const lines: ArchiveLine[] = [
      { kind: 'batch', archive: next.id, seq: next.seq, before: before.toISOString(), archivedAt: at.toISOString(), runs: batch.runs.length, tasks: batch.tasks.length },
    ];
    const text = [...lines.map((l) => JSON.stringify(l)), ...batch.runs.map((r) => JSON.stringify({ kind: 'run', run: r.run, logs: r.logs })), ...batch.tasks.map((t) => JSON.stringify({ kind: 'task', task: t }))].join('\n') + '\n';
    const buf = Buffer.from(text, 'utf8');
    ftruncateSync(this.fd, this.state.offset);
    let written = 0;
    while (written < buf.length) written += writeSync(this.fd, buf, written, buf.length - written, this.state.offset + written);
    fsyncSync(this.fd);
    // Looked at again once the batch is on disk, just before its delete commits: a rotation while it
    // was written leaves the rows in the database.
    this.checkStillAtPath(identity);
    next.offset = this.state.offset + buf.length;
    this.pending = next;
    return { key: this.key, value: JSON.stringify(next) };
  }

  /**
   * The file at the path is still the one this archive writes (its device and inode): one renamed or
   * replaced meanwhile (a rotation) undoes the batch. A lone archiver kept writing to the file it had
   * open, committed the deletes, and the new file at the path never got the rows (archiving audit).
   */
  private checkStillAtPath(identity: { dev: number; ino: number }): void {
    let here: { dev: number; ino: number } | null = null;
    try {
      const st = statSync(this.key.slice('file:'.length));
      here = { dev: st.dev, ino: st.ino };
    } catch {
      // gone from the path (renamed away or deleted)
    }
    if (here === null || here.dev !== identity.dev || here.ino !== identity.ino) {
      throw fileError(this.path, 'was renamed or replaced while this archive wrote to it (or another machine archives to a file of this path): this batch is undone; archive again');
    }
  }

  /** The batch's transaction committed: its bytes are part of the file for good. */
  committed(): void {
    if (this.pending) this.state = this.pending;
    this.pending = null;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Bytes after the committed offset must be this database's next batch, left by an interrupted
 * archive: its batch line first, no other batch after it, and every complete record in it still in
 * the database as written (the batch's delete never committed). Bytes another database appended are
 * refused rather than cut off, and so are batches this database committed before it was restored
 * from an older backup (their rows are no longer in it: the file holds their only copy).
 */
async function checkTail(path: string, fd: number, state: FileState, size: number, live: LiveRows): Promise<void> {
  const buf = Buffer.alloc(size - state.offset);
  readSync(fd, buf, 0, buf.length, state.offset);
  const lines = buf.toString('utf8').split('\n');
  const foreign = () => fileError(path, `has ${buf.length} bytes after the last batch this database committed that it did not write (does another database archive to this file?); archive to another file`);
  const restored = (why: string) =>
    fileError(
      path,
      `has ${buf.length} bytes after the last batch this database committed, written by this database (${why}): was it restored from a backup older than the file, ` +
        'or were those rows archived or deleted another way since? Cutting them off would lose those records; archive to another file',
    );
  const parsed = lines.map((l) => {
    try {
      return JSON.parse(l) as ArchiveLine;
    } catch {
      return null; // the last line of an interrupted write, or the empty string after the final newline
    }
  });
  const first = parsed[0];
  if (!first || first.kind !== 'batch' || first.archive !== state.id || first.seq !== state.seq + 1) throw foreign();
  const batches = parsed.filter((l): l is Extract<ArchiveLine, { kind: 'batch' }> => l?.kind === 'batch');
  if (batches.length > 1) {
    const ours = batches.every((b, i) => b.archive === state.id && b.seq === state.seq + 1 + i);
    throw ours ? restored(`batches ${batches[0]!.seq} to ${batches.at(-1)!.seq}, after its last committed batch ${state.seq}`) : foreign();
  }
  for (const rec of parsed.slice(1)) {
    if (rec?.kind !== 'run' && rec?.kind !== 'task') continue;
    const held = await heldAsWritten(rec, live);
    if (held.same) continue;
    if (rec.kind === 'run') throw restored(`batch ${first.seq} holds run ${rec.run.backendId} as ${String(rec.run.status)}, which the database ${held.status ? `has as ${held.status}` : 'no longer has'}`);
    throw restored(`batch ${first.seq} holds task ${rec.task.id}, which the database no longer has`);
  }
}

/**
 * Whether the database still holds an archived record as the file wrote it: a run with the same
 * status and end; the same task, not another one given its id again (a restored database hands ids
 * out anew), by its creation instant. `status`: the run's status in the database, if it has the run.
 */
async function heldAsWritten(rec: ArchiveRecord, live: LiveRows): Promise<{ same: boolean; status: string | null }> {
  if (rec.kind === 'run') {
    const run = await live.getRun(String(rec.run.backendId));
    const ended = run?.ended ? run.ended.toISOString() : null;
    return { same: run !== null && run.status === rec.run.status && ended === rec.run.ended, status: run?.status ?? null };
  }
  const task = await live.getTask(rec.task.id);
  return { same: task !== null && task.created.toISOString() === rec.task.created, status: null };
}

/** A file archived to must be a complete archive file: ending with a newline, its first line a batch line (an empty file is one). */
function checkContentOf(path: string, fd: number, size: number): void {
  if (lastByte(fd, size) !== 0x0a) throw fileError(path, 'does not end with a newline: not a complete JSONL file');
  if (!startsWithBatch(fd)) throw NOT_AN_ARCHIVE(path);
}

const NOT_AN_ARCHIVE = (path: string) => fileError(path, 'is not an Orrery archive file (its first line is not a {"kind":"batch",...} line): archive to another file');
/** How every batch line begins (JSON.stringify of a `{ kind: 'batch', ... }` line). */
const BATCH_PREFIX = '{"kind":"batch"';
const BATCH_START = Buffer.from(BATCH_PREFIX);

/** A file not open yet that is not empty must begin as an archive's batch line does (ArchiveFile.check). */
function checkStart(path: string, full: string): void {
  let fd: number;
  try {
    fd = openSync(full, 'r');
  } catch (e) {
    throw fileError(path, (e as Error).message);
  }
  try {
    const head = Buffer.alloc(BATCH_START.length);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n > 0 && (n < BATCH_START.length || !head.equals(BATCH_START))) throw NOT_AN_ARCHIVE(path);
  } finally {
    closeSync(fd);
  }
}

/** Records read from the start of each archive's first batch in a file this database has no record of. */
const FIRST_BATCH_SAMPLE = 100;

/**
 * A file this database has no record of may still hold its rows: it archived to the file, then was
 * restored from a backup taken before that (the progress record went with the backup). Archiving
 * again would write those rows a second time. The first records of each archive's first batch in the
 * file (an archive writes its oldest rows first) are looked up: one this database still holds as
 * written refuses the file. Rows of another database (other backend ids, other tasks) are not its.
 */
async function checkNotArchivedHere(path: string, full: string, size: number, live: LiveRows): Promise<void> {
  const seen = new Set<string>();
  let sampling = 0;
  let archive = '';
  const stream = createReadStream(full, { start: 0, end: size - 1 });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line.startsWith(BATCH_PREFIX)) {
        const b = parseLine(line);
        archive = b?.kind === 'batch' ? b.archive : '';
        sampling = archive && !seen.has(archive) ? FIRST_BATCH_SAMPLE : 0;
        seen.add(archive);
        continue;
      }
      if (sampling === 0) continue;
      sampling -= 1;
      const rec = parseLine(line);
      if ((rec?.kind === 'run' || rec?.kind === 'task') && (await heldAsWritten(rec, live)).same) {
        const held = rec.kind === 'run' ? `run ${rec.run.backendId}` : `task ${rec.task.id}`;
        throw fileError(
          path,
          `holds ${held} (archive ${archive}), which this database still has as written, but the database has no record of archiving to this file: was it restored from a backup older than the file? Archiving again would write those rows twice; archive to another file`,
        );
      }
    }
  } finally {
    lines.close();
    await closed(stream); // closing the reader leaves its stream, and the file, open
  }
}

/** Destroys a file's read stream and waits until its file is closed. */
async function closed(stream: ReadStream): Promise<void> {
  if (stream.closed) return;
  const done = once(stream, 'close');
  stream.destroy();
  await done;
}

/** Whether the file's first line is an archive's batch line (read from its first 4 KiB). */
function startsWithBatch(fd: number): boolean {
  const b = Buffer.alloc(4096);
  const n = readSync(fd, b, 0, b.length, 0);
  const text = b.subarray(0, n).toString('utf8');
  const nl = text.indexOf('\n');
  if (nl < 0) return false;
  try {
    const first = JSON.parse(text.slice(0, nl)) as { kind?: unknown; archive?: unknown } | null;
    return first !== null && typeof first === 'object' && first.kind === 'batch' && typeof first.archive === 'string';
  } catch {
    return false;
  }
}

function lastByte(fd: number, size: number): number {
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  return b[0]!;
}

function fsyncDir(dir: string): void {
  try {
    const d = openSync(dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // Some file systems cannot fsync a directory; the file's own fsync still holds its data.
  }
}

/**
 * Reads a JSONL archive back, record by record (batch lines are skipped). A line that is not an
 * archive record is a validation error naming the line.
 */
export async function* readArchiveFile(path: string): AsyncGenerator<ArchiveRecord> {
  if (!existsSync(path)) throw fileError(path, 'no such file');
  if (!statSync(path).isFile()) throw fileError(path, 'not a regular file');
  const stream = createReadStream(path, 'utf8');
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n += 1;
      if (line.trim() === '') continue;
      const rec = parseLine(line);
      if (rec === null) throw new ValidationError(`archive file ${path}: line ${n} is not an archive record`, [{ path: `line ${n}`, message: 'not an archive record' }]);
      if (rec.kind !== 'batch') yield rec;
    }
  } finally {
    // A bad line, or a reader that stops early: the file is closed, not left open with the stream.
    lines.close();
    await closed(stream);
  }
}

function parseLine(line: string): ArchiveLine | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const o = v as Record<string, unknown>;
  const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
  if (o.kind === 'batch' && typeof o.archive === 'string') return o as ArchiveLine;
  // A record in the shape archives write (the fields every version wrote): a run ended, of a type, with
  // its instants as ISO text; a task of a type, a status and its arguments. `{"run":{"id":9,"task":1,
  // "ended":"bad"}}` was read and printed as a run of type undefined.
  if (o.kind === 'run' && isObj(o.run) && Array.isArray(o.logs) && o.logs.every(isObj) && isArchivedRun(o.run)) return o as ArchiveLine;
  if (o.kind === 'task' && isObj(o.task) && isArchivedTask(o.task)) return o as ArchiveLine;
  return null;
}

const isId = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
const isInstantText = (x: unknown): boolean => typeof x === 'string' && x.length <= 40 && !Number.isNaN(Date.parse(x));
const isText = (x: unknown): boolean => typeof x === 'string' && x !== '';

function isArchivedRun(r: Record<string, unknown>): boolean {
  return (
    isId(r.id) &&
    isId(r.task) &&
    isText(r.type) &&
    isText(r.backendId) &&
    typeof r.status === 'string' &&
    (RUN_STATUSES as readonly string[]).includes(r.status) &&
    isInstantText(r.scheduled) &&
    isInstantText(r.ended) &&
    (r.started === null || r.started === undefined || isInstantText(r.started))
  );
}

function isArchivedTask(t: Record<string, unknown>): boolean {
  return (
    isId(t.id) &&
    isText(t.type) &&
    typeof t.status === 'string' &&
    (TASK_STATUSES as readonly string[]).includes(t.status) &&
    !!t.arguments &&
    typeof t.arguments === 'object' &&
    !Array.isArray(t.arguments)
  );
}
