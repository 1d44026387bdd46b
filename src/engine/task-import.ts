import { randomUUID } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ConflictError, OrreryError, StorageUnavailableError, TaskConflictError, ValidationError } from '../core/errors.js';
import type { Task, TaskType } from '../core/model.js';
import { canonicalJson, keyIdentity } from '../core/dedupe-key.js';
import { inexactIntegerDetail } from '../core/exact-json.js';
import type { NewTask } from '../core/validation.js';
import { validation } from './input-parsers.js';
import type { ChunkSink, CreatedTask, Store } from '../store/store.js';
import { MAX_JSON_NESTING } from '../core/json-checks.js';
import { importChunk, type ImportSource } from '../core/call-checks.js';

/**
 * Large batches and NDJSON imports (docs/http.md#post-apitasksimport): validated and written in
 * chunks, the event loop running between chunks, in one store transaction (all or nothing).
 */

/** Tasks validated, or written, per turn of the event loop. */
export const CHUNK = 1000;
/** Longest line of an import, in bytes: one task's request limit. */
export const MAX_LINE = 4 * 1024 * 1024;
/**
 * Deepest nesting of arrays and objects in an import line: the task's object, then its fields' JSON,
 * which may nest MAX_JSON_NESTING levels counted from the field (as in the library and over HTTP).
 */
export const MAX_LINE_DEPTH = MAX_JSON_NESTING + 1;
/** A chunk is also cut when its lines add up to this many code units, so memory stays bounded. */
const CHUNK_TEXT = 16 * 1024 * 1024;

/** What a batch or an import did, without the tasks. */
export interface TaskBatchSummary {
  /** Tasks in the input (an import: its non-blank lines). */
  count: number;
  /** Tasks inserted. */
  created: number;
  /** Tasks not inserted because an equal active task exists (or came earlier in the same input): the existing one stands. */
  existing: number;
  /** Existing tasks updated by `onConflict: 'replace'`. */
  replaced: number;
  /** With `ids: true`: the id of each input task's task (created, existing or replaced), in input order. */
  ids?: number[];
}

export interface TaskImportSummary extends TaskBatchSummary {
  /** Lines read, blank lines included. */
  lines: number;
  durationMs: number;
}

export interface ImportProgress {
  /**
   * `validate`: the first pass over the lines (nothing written yet); `write`: a chunk's tasks are in
   * the import's transaction (written, not yet committed: a later failure rolls them back); `done`:
   * committed. A failed import reports no `done`.
   */
  phase: 'validate' | 'write' | 'done';
  /** Lines read so far (validate); up to the last line of the chunks written so far (write); every line (done). */
  lines: number;
  /** Tasks validated (validate), written in the transaction (write) or committed (done) so far. */
  tasks: number;
}

export interface ImportOptions {
  /** The instant the tasks are created at (default: the clock's now). */
  at?: Date;
  /** Also return each task's id, in line order. */
  ids?: boolean;
  /** Called after each chunk of each phase (a `write` once the store has written that chunk), and once when committed. */
  onProgress?: (p: ImportProgress) => void;
}

export type TypeLookup = (names: readonly string[]) => Promise<Map<string, TaskType>>;

/** Lets timers and I/O run between two chunks (setImmediate comes after the poll phase). */
export const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * What a batch keeps of its chunks' results (Store.importTasks' sink): the counts (and ids, when
 * asked), the waiting runs its replacements withdrew (their run events, sent once it commits), and
 * every result when asked. Emptied when the store writes the batch again from its first chunk.
 */
export class BatchTally implements ChunkSink {
  summary!: TaskBatchSummary;
  withdrawn!: CreatedTask[];
  all!: CreatedTask[];
  /** The id of the first task of the batch (created or found), or null before any chunk: a trace's `orrery.task.id`. */
  firstId!: number | null;

  constructor(private readonly keep: { ids?: boolean; all?: boolean } = {}) {
    this.restart();
  }

  chunk(out: readonly CreatedTask[]): void {
    const s = this.summary;
    if (this.firstId === null && out.length > 0) this.firstId = out[0]!.task.id;
    for (const c of out) {
      if (c.created) s.created++;
      else if (c.replaced) s.replaced++;
      else s.existing++;
      s.ids?.push(c.task.id);
      if (c.withdrawn) this.withdrawn.push(c);
      if (this.keep.all) this.all.push(c);
    }
    s.count += out.length;
  }

  restart(): void {
    this.summary = { count: 0, created: 0, existing: 0, replaced: 0, ...(this.keep.ids ? { ids: [] } : {}) };
    this.withdrawn = [];
    this.all = [];
    this.firstId = null;
  }
}

/** Validates `inputs` in chunks, a turn of the event loop between chunks; the first invalid task throws (naming `prefix[i]`). */
export async function validateInChunks(inputs: readonly unknown[], types: Map<string, TaskType>, at: Date, prefix: string, clocked = false): Promise<NewTask[]> {
  const { validateTask } = await validation();
  const tasks = new Array<NewTask>(inputs.length);
  for (let start = 0; start < inputs.length; start += CHUNK) {
    if (start > 0) await nextTurn();
    const end = Math.min(inputs.length, start + CHUNK);
    for (let i = start; i < end; i++) tasks[i] = validateTask(inputs[i], types, at, prefix ? `${prefix}[${i}]` : '', clocked);
  }
  return tasks;
}

/**
 * Validates `inputs` chunk by chunk as they are asked for (a turn of the event loop between chunks);
 * the first invalid task throws. Each valid task is also appended to `seen` (in input order).
 */
export async function* validatedChunks(inputs: readonly unknown[], types: Map<string, TaskType>, at: Date, prefix: string, seen: NewTask[], clocked = false): AsyncGenerator<readonly NewTask[]> {
  const { validateTask } = await validation();
  for (let start = 0; start < inputs.length; start += CHUNK) {
    if (start > 0) await nextTurn();
    const end = Math.min(inputs.length, start + CHUNK);
    const chunk = new Array<NewTask>(end - start);
    for (let i = start; i < end; i++) seen.push((chunk[i - start] = validateTask(inputs[i], types, at, prefix ? `${prefix}[${i}]` : '', clocked)));
    yield chunk;
  }
}

export async function* chunksOf<T>(items: readonly T[]): AsyncGenerator<readonly T[]> {
  for (let i = 0; i < items.length; i += CHUNK) yield items.slice(i, i + CHUNK);
}

interface Line {
  no: number;
  text: string;
}

/**
 * Non-blank lines of a UTF-8 byte stream with their numbers (1-based; `\n` or `\r\n` endings). Lines
 * are cut on bytes (a newline byte never occurs inside a multi-byte character), then each is decoded,
 * so a bad byte is reported with its line.
 */
export async function* readLines(source: ImportSource, counter: { lines: number }, maxLine = MAX_LINE): AsyncGenerator<Line> {
  // The text itself is one chunk (iterated, a string gives a chunk per character).
  const pieces = typeof source === 'string' ? [source] : source;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const encoder = new TextEncoder();
  let parts: Uint8Array[] = [];
  let partsLength = 0;
  const emit = (bytes: Uint8Array): Line | null => {
    counter.lines++;
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw lineError(counter.lines, '', 'is not valid UTF-8');
    }
    if (text.endsWith('\r')) text = text.slice(0, -1);
    return text.trim() === '' ? null : { no: counter.lines, text };
  };
  for await (const piece of pieces) {
    const chunk = importChunk(piece, encoder);
    let from = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, from)) {
      let bytes = chunk.subarray(from, nl);
      if (partsLength > 0) {
        bytes = concat([...parts, bytes], partsLength + bytes.length);
        parts = [];
        partsLength = 0;
      }
      if (lineBytes(bytes) > maxLine) throw lineError(counter.lines + 1, '', `is longer than ${maxLine} bytes`);
      const line = emit(bytes);
      if (line) yield line;
      from = nl + 1;
    }
    if (from < chunk.length) {
      parts.push(chunk.slice(from));
      partsLength += chunk.length - from;
      // One byte more may be the `\r` of its `\r\n`, not the line's (checked once its end is known).
      if (partsLength > maxLine + 1) throw lineError(counter.lines + 1, '', `is longer than ${maxLine} bytes`);
    }
  }
  if (partsLength > 0) {
    const bytes = concat(parts, partsLength);
    if (lineBytes(bytes) > maxLine) throw lineError(counter.lines + 1, '', `is longer than ${maxLine} bytes`);
    const line = emit(bytes);
    if (line) yield line;
  }
}

/** A line's length in bytes without its line end's `\r` (a `\r\n` line is as long as its `\n` twin). */
const lineBytes = (bytes: Uint8Array) => (bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length);

function concat(parts: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Lines gathered into chunks of at most CHUNK lines (and about CHUNK_TEXT characters). */
async function* lineChunks(lines: AsyncIterable<Line>): AsyncGenerator<Line[]> {
  let chunk: Line[] = [];
  let size = 0;
  for await (const line of lines) {
    chunk.push(line);
    size += line.text.length;
    if (chunk.length >= CHUNK || size >= CHUNK_TEXT) {
      yield chunk;
      chunk = [];
      size = 0;
    }
  }
  if (chunk.length > 0) yield chunk;
}

function lineError(no: number, field: string, message: string): ValidationError {
  const path = field ? `line ${no}.${field}` : `line ${no}`;
  return new ValidationError(`line ${no}: ${field ? `${field}: ` : ''}${message}; nothing written`, [{ path, message }]);
}

/** True when brackets nest deeper than `max` outside strings (checked on the text, before parsing). */
function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}

/** Parses and validates one chunk of lines; the first bad line throws, naming its number and field. */
async function validateLines(chunk: readonly Line[], types: TypeLookup, at: Date, clocked: boolean): Promise<NewTask[]> {
  const values = chunk.map(({ no, text }) => {
    if (nestsDeeperThan(text, MAX_LINE_DEPTH)) throw lineError(no, '', `JSON nested deeper than ${MAX_JSON_NESTING} levels`);
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw lineError(no, '', `invalid JSON: ${(e as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw lineError(no, '', 'must be a JSON object (one task)');
    const inexact = inexactIntegerDetail(text);
    if (inexact) throw lineError(no, inexact.path, inexact.message);
    return v as { type?: unknown };
  });
  const known = await types([...new Set(values.map((v) => v.type).filter((n): n is string => typeof n === 'string'))]);
  const { validateTask } = await validation();
  return values.map((v, i) => {
    try {
      return validateTask(v, known, at, '', clocked);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      const no = chunk[i]!.no;
      // Every problem of the line, as `task add` would name them: `line 7: priority: …; retriesLeft: …; nothing written`.
      const problems = e.details.length > 0 ? e.details.map((d) => `${d.path ? `${d.path}: ` : ''}${d.message}`).join('; ') : e.message;
      const message = `line ${no}: ${problems}; nothing written`;
      throw new ValidationError(message, e.details.map((d) => ({ path: d.path ? `line ${no}.${d.path}` : `line ${no}`, message: d.message })));
    }
  });
}

/**
 * The import's temporary file could not be written (a full or read-only temporary directory): the
 * storage is unavailable (503 over HTTP, exit 1), naming the file and what to do, not an internal error.
 */
function spoolError(e: unknown, spool: string): unknown {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string' || !['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EIO', 'EMFILE', 'ENFILE', 'ENOENT', 'ENOTDIR'].includes(code)) return e;
  return new StorageUnavailableError(
    `the import's temporary file ${spool} could not be written (${code}: ${(e as Error).message}); free space in ${dirname(spool)} or point TMPDIR elsewhere; nothing was written`,
  );
}

/**
 * Imports NDJSON tasks from a byte stream: every line is validated first (the lines are spooled to a
 * temporary file as they arrive, so the stream is read once and memory stays bounded), then the file
 * is read again and its tasks written in chunks in one store transaction. A bad line throws a
 * ValidationError naming it (`line 7: type: unknown task type "x"`) before anything is written; a
 * conflict (`onConflict: 'error'`) or a storage error rolls the whole import back.
 */
export async function importTaskLines(
  store: Store,
  types: TypeLookup,
  source: ImportSource,
  at: Date,
  opts: ImportOptions = {},
  tally: BatchTally = new BatchTally({ ids: opts.ids }),
): Promise<TaskImportSummary> {
  const started = performance.now();
  const spool = join(tmpdir(), `orrery-import-${randomUUID()}.ndjson`);
  const fh = await open(spool, 'wx+', 0o600).catch((e: unknown) => {
    throw spoolError(e, spool);
  });
  // Unlinked at once and used through its handle: no temporary file is left behind, whatever ends the
  // process (a signal's default action, a kill, a crash).
  await rm(spool, { force: true });
  try {
    // Pass 1: validate and spool.
    const read = { lines: 0 };
    let valid = 0;
    for await (const chunk of lineChunks(readLines(source, read))) {
      const tasks = await validateLines(chunk, types, at, opts.at === undefined);
      valid += tasks.length;
      let text = '';
      for (const l of chunk) text += `${l.no}\t${l.text}\n`;
      await fh.write(text).catch((e: unknown) => {
        throw spoolError(e, spool);
      });
      opts.onProgress?.({ phase: 'validate', lines: read.lines, tasks: valid });
      await nextTurn();
    }
    const lines = read.lines;
    // Pass 2: read the spool again and write, chunk by chunk, in one transaction (from the start
    // again if the store writes it again: a PostgreSQL deadlock with another import).
    // The chunks handed to the store and not yet reported written, oldest first. The store reports
    // chunks in order, but may have read the next one already (PostgreSQL sends a chunk while the one
    // before it runs): the chunk just written, or the one that failed, is the oldest, not the last read.
    const pending: Array<{ lines: Line[]; tasks: NewTask[] }> = [];
    const spooled = async function* (): AsyncGenerator<readonly NewTask[]> {
      for await (const chunk of lineChunks(spooledLines(readFrom(fh)))) {
        const tasks = await validateLines(chunk, types, at, opts.at === undefined);
        pending.push({ lines: chunk, tasks });
        await nextTurn(); // validating and writing a chunk are two turns of the event loop
        yield tasks;
      }
    };
    const sink: ChunkSink = {
      chunk: (out) => {
        const done = pending.shift();
        tally.chunk(out);
        opts.onProgress?.({ phase: 'write', lines: done?.lines[done.lines.length - 1]?.no ?? lines, tasks: tally.summary.count });
      },
      restart: () => {
        pending.length = 0;
        tally.restart();
        opts.onProgress?.({ phase: 'write', lines: 0, tasks: 0 });
      },
    };
    try {
      await store.importTasks(spooled, at, sink);
    } catch (e) {
      // Chunks written before the failed one (their tasks counted) may hold the conflict's holder.
      if (e instanceof ConflictError) throw await conflictAt(e, pending[0]?.lines ?? [], pending[0]?.tasks ?? [], store, tally.summary.count > 0);
      throw e;
    }
    opts.onProgress?.({ phase: 'done', lines, tasks: tally.summary.count });
    return { lines, ...tally.summary, durationMs: Math.round(performance.now() - started) };
  } finally {
    await fh.close();
  }
}

/**
 * The spool's bytes from its start, read by position: each pass (a second one when the store writes
 * the import again) reads it whole, and none closes the handle (a read stream's destroy may close
 * it under a pass that comes after).
 */
async function* readFrom(fh: FileHandle): AsyncGenerator<Uint8Array> {
  for (let position = 0; ; ) {
    const buffer = Buffer.allocUnsafe(SPOOL_READ);
    const { bytesRead } = await fh.read(buffer, 0, SPOOL_READ, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** Bytes read from the spool at a time. */
const SPOOL_READ = 256 * 1024;

/**
 * The spool's lines: `NUMBER \t TEXT`, as pass 1 wrote them. Pass 1 held TEXT to MAX_LINE; the
 * number and the tab add up to 17 bytes more (a line number is a safe integer), which are allowed.
 */
async function* spooledLines(stream: AsyncIterable<Uint8Array | string>): AsyncGenerator<Line> {
  const counter = { lines: 0 };
  for await (const l of readLines(stream, counter, MAX_LINE + 17)) {
    const tab = l.text.indexOf('\t');
    yield { no: Number(l.text.slice(0, tab)), text: l.text.slice(tab + 1) };
  }
}

/**
 * A conflict while writing a batch (`tasks`), named by its `onConflict: 'error'` task: `tasks[4]: ...`
 * when the batch has one, else the candidates (the store does not say which of them collided).
 * Without a prefix (one task, `POST /api/tasks`) the error is returned as it is.
 */
export async function conflictInBatch(e: unknown, tasks: readonly NewTask[], prefix: string, store: Pick<Store, 'getTask'>): Promise<unknown> {
  if (!(e instanceof ConflictError) || prefix === '') return e;
  const strict = tasks.flatMap((t, i) => (t.onConflict === 'error' ? [i] : []));
  const holder = await holderOf(e, store);
  // The holder is an earlier row of this batch: its task id is rolled back with the batch, so the row is named instead.
  const gone = holder === null;
  const held = storedCollision(holder, tasks, strict);
  if (held !== null) {
    const where = `${prefix}[${held}]`;
    return new ConflictError(`${where}: ${e.message}`, e.details.map((d) => ({ path: d.path ? `${where}.${d.path}` : where, message: d.message })));
  }
  // A holder stored before the batch is not a row of it: no pair of rows is to blame.
  const pair = holder ? null : (batchTwin(tasks, strict, e) ?? (gone ? firstTwin(tasks, strict) : null));
  if (pair !== null) {
    const [row, twin] = pair;
    const where = `${prefix}[${row}]`;
    return new ConflictError(`${where}: ${sameAs(tasks[twin]!)} as ${prefix}[${twin}] of this batch (onConflict error); nothing created`, [
      { path: `${where}.${identityField(tasks[twin]!)}`, message: `conflicts with ${prefix}[${twin}]` },
    ]);
  }
  // A holder stored without a key clashed by its whole definition: only rows of its type, policy and
  // arguments can be the one (a keyed row, or another definition, was named among the candidates).
  const rows = holder && holder.key === null ? definitionCandidates(holder, tasks, strict) : strict;
  if (rows.length === 1) {
    const where = `${prefix}[${rows[0]}]`;
    return new ConflictError(`${where}: ${e.message}`, e.details.map((d) => ({ path: d.path ? `${where}.${d.path}` : where, message: d.message })));
  }
  const some = rows.slice(0, 5).map((i) => `${prefix}[${i}]`).join(', ') + (rows.length > 5 ? `, … (${rows.length} tasks)` : '');
  if (gone) return new ConflictError(`one of ${some}: the same key or definition as an earlier task of this batch (onConflict error); nothing created`, rows.slice(0, 5).map((i) => ({ path: `${prefix}[${i}].${identityField(tasks[i]!)}`, message: 'may conflict with an earlier task of this batch' })));
  // Each candidate named in the details, by its field (`tasks.arguments` named no task).
  return new ConflictError(`one of ${some}: ${e.message}`, rows.slice(0, 5).flatMap((i) => e.details.map((d) => ({ path: d.path ? `${prefix}[${i}].${d.path}` : `${prefix}[${i}]`, message: d.message }))));
}

/**
 * The `onConflict: 'error'` rows that may have met `holder` (stored without a key) by its whole
 * definition: keyless rows of its type and policy with its arguments (their identity also counts the
 * priority and the schedule or one-shot nextRun, so several may remain). All the strict rows when none do.
 */
function definitionCandidates(holder: Task, tasks: readonly NewTask[], strict: readonly number[]): number[] {
  const args = canonicalJson(holder.arguments);
  const found = strict.filter((i) => {
    const t = tasks[i]!;
    return t.key == null && t.type === holder.type && t.policy === holder.policy && canonicalJson(t.arguments) === args;
  });
  return found.length > 0 ? found : [...strict];
}

/** A store conflict's words without their own `; nothing created`: the import's message ends with `; nothing written`. */
function withoutNothingCreated(message: string): string {
  return message.endsWith('; nothing created') ? message.slice(0, -'; nothing created'.length) : message;
}

/** A conflict while writing a chunk, named by the line of the chunk's only `onConflict: 'error'` task (else the chunk's lines). */
async function conflictAt(e: ConflictError, chunk: readonly Line[], tasks: readonly NewTask[], store: Pick<Store, 'getTask'>, earlierChunks: boolean): Promise<OrreryError> {
  const strict = tasks.flatMap((t, i) => (t.onConflict === 'error' ? [i] : []));
  const holder = await holderOf(e, store);
  const gone = holder === null;
  const held = storedCollision(holder, tasks, strict);
  if (held !== null) {
    const where = `line ${chunk[held]!.no}`;
    return new ConflictError(`${where}: ${withoutNothingCreated(e.message)}; nothing written`, e.details.map((d) => ({ path: `${where}.${d.path}`, message: d.message })));
  }
  // The holder may come from an earlier chunk of the import: then an in-chunk pair is the failure only
  // when its row is the chunk's first strict row (no strict row before it could have met that chunk).
  const first = gone ? firstTwin(tasks, strict) : null;
  const pair = holder ? null : (batchTwin(tasks, strict, e) ?? (first !== null && (!earlierChunks || first[0] === strict[0]) ? first : null));
  if (pair !== null) {
    const [row, twin] = pair;
    const where = `line ${chunk[row]!.no}`;
    return new ConflictError(`${where}: ${sameAs(tasks[twin]!)} as line ${chunk[twin]!.no} (onConflict error); nothing written`, [
      { path: `${where}.${identityField(tasks[twin]!)}`, message: `conflicts with line ${chunk[twin]!.no}` },
    ]);
  }
  const where = strict.length === 1 ? `line ${chunk[strict[0]!]!.no}` : chunk.length > 0 ? `lines ${chunk[0]!.no}-${chunk[chunk.length - 1]!.no}` : 'import';
  // The holder came from an earlier chunk of this import (rolled back with it): no task id to name.
  if (gone) return new ConflictError(`${where}: the same key or definition as an earlier line of this import (onConflict error); nothing written`, [{ path: where, message: 'conflicts with an earlier line of this import' }]);
  return new ConflictError(`${where}: ${withoutNothingCreated(e.message)}; nothing written`, e.details.map((d) => ({ path: `${where}.${d.path}`, message: d.message })));
}

/**
 * The collision a conflict of a batch came from when it is inside the batch: the first `onConflict:
 * 'error'` row (of `strict`) with an earlier row of the same identity, as [row, earlier row]. With
 * several such rows the store does not say which one failed, so a keyed pair is named only if the
 * store's message names its key; null otherwise.
 */
function batchTwin(tasks: readonly NewTask[], strict: readonly number[], e: ConflictError): [number, number] | null {
  for (const i of strict) {
    const twin = earlierTwin(tasks, i);
    if (twin === null) continue;
    const key = tasks[i]!.key;
    if (strict.length === 1 || (key != null && e.message.includes(`key "${key}"`))) return [i, twin];
    return null;
  }
  return null;
}

/**
 * The task a conflict names: null when the failed batch itself wrote it (its id rolled back with it,
 * the store no longer has it), undefined when the conflict names no task. Within one batch only the
 * first strict row with an earlier twin can then have failed (firstTwin): a strict row failing earlier
 * would have met a stored task. An import's chunk may also have met a task of an earlier chunk (conflictAt).
 */
async function holderOf(e: ConflictError, store: Pick<Store, 'getTask'>): Promise<Task | null | undefined> {
  return e instanceof TaskConflictError ? store.getTask(e.holder) : undefined;
}

/**
 * The row that met a task stored before the batch: the first `onConflict: 'error'` row with the
 * holder's key (rows before it with that key did not fail). Null when the holder has no key (its
 * identity is its whole definition) or no strict row has its key.
 */
function storedCollision(holder: Task | null | undefined, tasks: readonly NewTask[], strict: readonly number[]): number | null {
  if (!holder || holder.key === null) return null;
  const identity = keyIdentity(holder.type, holder.key);
  return strict.find((i) => tasks[i]!.dedupeKey === identity) ?? null;
}

/** The first `onConflict: 'error'` row with an earlier row of the same identity, as [row, earlier row]. */
function firstTwin(tasks: readonly NewTask[], strict: readonly number[]): [number, number] | null {
  for (const i of strict) {
    const twin = earlierTwin(tasks, i);
    if (twin !== null) return [i, twin];
  }
  return null;
}

/** The first row before `i` with the same identity (key, or whole definition) as row `i`; null if none. */
function earlierTwin(tasks: readonly NewTask[], i: number): number | null {
  const key = tasks[i]!.dedupeKey;
  for (let j = 0; j < i; j++) if (tasks[j]!.dedupeKey === key) return j;
  return null;
}

function identityField(t: NewTask): string {
  return t.key != null ? 'key' : 'arguments';
}

function sameAs(t: NewTask): string {
  return t.key != null ? `the same key "${t.key}"` : 'the same definition';
}
