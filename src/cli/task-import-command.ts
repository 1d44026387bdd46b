import { createReadStream, fstatSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConflictError, ValidationError, type ErrorDetail } from '../core/errors.js';
import { oneLine } from '../core/terminal-text.js';
import type { ImportProgress, TaskImportSummary } from '../engine/task-import.js';
import { serverBase } from '../http/client.js';
import { isSetupError } from '../http/client-transport.js';
import { checkedSummary } from '../http/task-client.js';
import { postStream, type TextAnswer } from '../http/stream-upload.js';
import { addDb, envToken, instantArg, printJson, serverUrlArg, tokenArg, UsageError, withOrrery, type DbOpts, type Io } from './common.js';

interface ImportOpts extends DbOpts {
  url?: string;
  token?: string;
  at?: Date;
  json?: boolean;
}

/** `orrery task import FILE.jsonl | -` (docs/cli.md#orrery-task-import): NDJSON tasks, all or nothing. */
export function addImportCommand(cmd: Command, io: Io): void {
  addDb(
    cmd
      .command('import')
      .description('create tasks from an NDJSON file (one task per line, as in a batch; - reads stdin): every line is validated, then all are written in one transaction')
      .argument('<file>', 'NDJSON file, or - for stdin')
      .option('--url <url>', 'import through a running `orrery serve` (POST /api/tasks/import) instead of opening the database', serverUrlArg)
      .option('--token <token>', 'API bearer token for --url (default $ORRERY_API_TOKEN)', tokenArg)
      .option('--at <instant>', 'as if now were this instant: the creation time, and the default nextRun (not with --url)', instantArg)
      .option('--json', 'print the summary as JSON'),
  ).action(async (file: string, o: ImportOpts) => {
    if (o.url !== undefined && o.db !== undefined) throw new UsageError('--url and --db cannot be combined');
    if (o.url !== undefined && o.at !== undefined) throw new UsageError('--at cannot be combined with --url (the server uses its clock)');
    if (o.token !== undefined && o.url === undefined) throw new UsageError('--token: needs --url (it is sent to the server; a database given by --db needs none)');
    const { source, size } = await openSource(file);
    const progress = new Progress(io, size);
    const input = progress.counted(source);
    let summary: TaskImportSummary;
    try {
      summary =
        o.url !== undefined
          ? await importRemote(o.url, o.token ?? envToken(), countingLines(input, progress))
          : await withOrrery(o, (orrery) => orrery.importTasks(input, { ...(o.at ? { at: o.at } : {}), onProgress: (p) => progress.update(p) }));
    } catch (e) {
      progress.end(false);
      throw e;
    }
    progress.end(true);
    if (o.json) return printJson(io, summary);
    io.out(
      `imported ${summary.count} task${summary.count === 1 ? '' : 's'} from ${summary.lines} line${summary.lines === 1 ? '' : 's'}: ` +
        `${summary.created} created, ${summary.existing} existing, ${summary.replaced} replaced (${(summary.durationMs / 1000).toFixed(1)} s)\n`,
    );
  });
}

async function openSource(file: string): Promise<{ source: AsyncIterable<Uint8Array>; size: number | null }> {
  if (file === '-') {
    // `< somedir`: Node's stdin reads a directory as empty input, which would import nothing and succeed.
    let dir = false;
    try {
      dir = fstatSync(0).isDirectory();
    } catch {
      // no standard input at all: read as it is (empty)
    }
    if (dir) throw new UsageError('FILE: standard input is a directory');
    return { source: process.stdin, size: null };
  }
  let size: number;
  try {
    const s = await stat(file);
    if (s.isDirectory()) throw new UsageError(`FILE: ${file} is a directory`);
    size = s.isFile() ? s.size : 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`FILE: cannot read ${file}: ${(e as Error).message}`);
  }
  return { source: createReadStream(file), size: size || null };
}

/** The bytes of `source` as they pass, counting lines for the progress display. */
async function* countingLines(source: AsyncIterable<Uint8Array>, progress: Progress): AsyncGenerator<Uint8Array> {
  let lines = 0;
  // A last line without its line break is a line too (the server counts it).
  let open = false;
  for await (const chunk of source) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    if (chunk.length > 0) open = chunk[chunk.length - 1] !== 10;
    const sent = lines + (open ? 1 : 0);
    progress.update({ phase: 'validate', lines: sent, tasks: sent }, 'sent');
    yield chunk;
  }
}

async function importRemote(url: string, token: string | null, body: AsyncIterable<Uint8Array>): Promise<TaskImportSummary> {
  const base = serverBase(url);
  let res: TextAnswer;
  try {
    // Node's HTTP client, not fetch: fetch never settled when the server closed the connection during
    // the upload, and the command exited with status 13 and no word.
    const headers = { 'content-type': 'application/x-ndjson', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    res = await postStream(`${base}/api/tasks/import`, headers, body, new AbortController().signal);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (isSetupError(code)) throw new Error(`orrery server ${base} cannot be used over TLS (${code}): is it a plain http:// server, or is its certificate not trusted here?`);
    throw new Error(`cannot reach ${url}: ${(e as Error).message}${code && !(e as Error).message.includes(code) ? ` (${code})` : ''}`);
  }
  const { text } = res;
  const ok = res.status >= 200 && res.status < 300;
  let parsed: { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | TaskImportSummary | null = null;
  try {
    parsed = JSON.parse(text) as never;
  } catch {
    // not JSON: reported below
  }
  if (ok && parsed && !('error' in parsed)) return checkedSummary(parsed, base);
  const e = (parsed as { error?: { code?: string; message?: string; details?: ErrorDetail[] } } | null)?.error;
  // An answer without Orrery's error shape (a web page, another server's 404 or 501) is no Orrery
  // server's: exit 1 saying so (a 4xx page read as bad input, exit 2).
  if (!e || typeof e !== 'object') {
    const what = /^\s*</.test(text) ? 'a web page' : 'something else';
    throw new Error(`orrery server ${base} answered the import with ${res.status} and ${what} (${oneLine(text.slice(0, 80))}), not an import summary: is the URL an Orrery server's?`);
  }
  // A 404 in Orrery's shape (a path past /api, another server's JSON 404) has no import route there:
  // the URL leads to no Orrery import, as a web page does (exit 1; it was bad input, exit 2).
  if (res.status === 404) {
    throw new Error(`orrery server ${base} answered the import with 404 (${oneLine(String(e.message ?? '').slice(0, 200))}), not an import summary: is the URL an Orrery server's?`);
  }
  if (e?.code === 'validation_error') throw new ValidationError(e.message ?? 'invalid input', e.details ?? []);
  if (e?.code === 'conflict') throw new ConflictError(e.message ?? 'conflict', e.details ?? []);
  // A refused token is a refused login (exit 1, as `worker --url` and a PostgreSQL server refusing it), not bad input.
  if (res.status === 401 || res.status === 403) throw new Error(`the server refused the import (${res.status}): ${e?.message ?? text.slice(0, 200)}`);
  if (res.status >= 400 && res.status < 500) throw new UsageError(`the server refused the import (${res.status}): ${e?.message ?? text.slice(0, 200)}`);
  throw new Error(`the server answered ${res.status}: ${e?.message ?? text.slice(0, 200)}`);
}

/**
 * Progress on stderr: on a terminal, one line redrawn in place (a bar when the total is known: the
 * file's bytes while reading, the lines validated while writing; lines and lines/s); otherwise a
 * plain line at most every 5 seconds and one at the end of each phase. The tasks written are in the
 * import's one transaction until it commits: `written … (… tasks, uncommitted)` while writing,
 * `committed …` once committed, `rolled back after …` when the import fails.
 */
class Progress {
  private readonly tty: boolean;
  private phaseStarted = performance.now();
  private lastUpdate = performance.now();
  private phase = '';
  private last = 0;
  private shown = '';
  private lastLine = '';
  private linesSeen = 0;
  private tasksSeen = 0;
  private totalLines: number | null = null;
  /** Bytes of the input read so far (kept by `counted`). */
  bytes = 0;

  constructor(
    private readonly io: Io,
    private readonly totalBytes: number | null,
  ) {
    this.tty = io.errIsTty === true;
  }

  /** `source`, counting its bytes. */
  async *counted(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      this.bytes += chunk.length;
      yield chunk;
    }
  }

  update(p: ImportProgress, verb?: string): void {
    if (p.phase === 'done') {
      // Committed: the write phase's last state says so (an import of blank lines only had no phase).
      if (this.phase === 'written') this.lastLine = this.describe('committed', p.lines, p.tasks);
      return this.flush();
    }
    const name = verb ?? (p.phase === 'validate' ? 'validated' : 'written');
    if (name !== this.phase) {
      if (this.phase === 'validated') this.totalLines = p.phase === 'write' ? this.linesSeen : null;
      this.flush();
      this.phase = name;
      this.phaseStarted = this.lastUpdate; // the phase began when the previous one ended (or at the start)
    }
    this.lastUpdate = performance.now();
    this.linesSeen = p.lines;
    this.tasksSeen = p.tasks;
    this.lastLine = this.describe(name, p.lines, p.tasks);
    const now = performance.now();
    if (this.tty) {
      if (now - this.last < 100) return;
      this.last = now;
      const total = name === 'written' ? this.totalLines : this.totalBytes;
      const done = name === 'written' ? p.lines : this.bytes;
      this.io.err(`\r${total ? `${bar(done / total)} ` : ''}${this.lastLine}\x1b[K`);
      this.shown = this.lastLine;
    } else if (now - this.last >= 5000) {
      this.last = now;
      this.io.err(`${this.lastLine}\n`);
      this.shown = this.lastLine;
    }
  }

  /** `validated 3,000 lines, …`, `written 3,000 lines (3,000 tasks, uncommitted), …`, `committed …`, `sent …`. */
  private describe(name: string, lines: number, tasks: number): string {
    const secs = (performance.now() - this.phaseStarted) / 1000;
    const rate = secs > 0 ? Math.round(lines / secs) : 0;
    const tasksPart = name === 'written' ? ` (${count(tasks, 'task')}, uncommitted)` : name === 'committed' ? ` (${count(tasks, 'task')})` : '';
    return `${name} ${count(lines, 'line')}${tasksPart}, ${num(rate)} lines/s`;
  }

  /** The final state of the phase that just ended, on its own line. */
  private flush(): void {
    if (this.lastLine === '') return;
    if (this.tty) this.io.err(`\r${this.lastLine}\x1b[K\n`);
    else if (this.shown !== this.lastLine) this.io.err(`${this.lastLine}\n`);
    this.lastLine = '';
    this.shown = '';
  }

  /**
   * The import ended: the last state, on its own line. A failure while writing rolled the tasks
   * written so far back, so it says so instead of counting them as written (the error follows).
   */
  end(ok: boolean): void {
    if (!ok && this.phase === 'written' && this.lastLine !== '') {
      this.lastLine = `rolled back after ${count(this.linesSeen, 'line')} (${count(this.tasksSeen, 'task')} undone)`;
    }
    this.flush();
  }
}

const num = (x: number): string => x.toLocaleString('en-US');
const count = (x: number, what: string): string => `${num(x)} ${what}${x === 1 ? '' : 's'}`;

/** `[=========>          ]  45%` */
function bar(fraction: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  const width = 24;
  const full = Math.floor(f * width);
  return `[${'='.repeat(full)}${full < width ? '>' : ''}${' '.repeat(Math.max(0, width - full - 1))}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}
