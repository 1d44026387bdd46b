/**
 * An import whose temporary file cannot be written (a full, missing or read-only temporary directory)
 * is refused as storage unavailable (503 over HTTP, exit 1), naming the file and what to do; it was a
 * 500 `internal` (found with a full tmpfs as TMPDIR: ENOSPC). Nothing is written.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/core/model.js';
import type { NewTask } from '../../src/core/validation.js';
import { MAX_LINE } from '../../src/engine/task-import.js';
import { useTempOrrery } from './engine-helpers.js';

describe('an import whose temporary file cannot be written', () => {
  const setup = useTempOrrery();
  const saved = process.env.TMPDIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  });

  it('is storage_unavailable, names the file and TMPDIR, and writes nothing', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job' });
    process.env.TMPDIR = '/nonexistent-orrery-tmp';
    const lines = (async function* () {
      yield '{"type":"job","policy":"oneshot","arguments":{"args":[1],"kwargs":{}}}\n';
    })();
    const e = await orrery.importTasks(lines).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'storage_unavailable', message: expect.stringMatching(/^the import's temporary file \/nonexistent-orrery-tmp\/orrery-import-.*\.ndjson could not be written \(ENOENT: .*\); free space in \/nonexistent-orrery-tmp or point TMPDIR elsewhere; nothing was written$/) });
    expect(await orrery.searchTasks({ limit: 5 })).toEqual([]);
  });

  it('leaves no temporary file behind at any moment, so a process killed mid-import leaks none (it is unlinked once opened)', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const dir = mkdtempSync(join(tmpdir(), 'orrery-spool-test-'));
    process.env.TMPDIR = dir;
    const seen: string[][] = [];
    const lines = (async function* () {
      for (let i = 0; i < 3_000; i++) {
        if (i % 1_000 === 999) seen.push(readdirSync(dir)); // while pass 1 spools
        yield `{"type":"job","policy":"oneshot","arguments":{"args":[${i}],"kwargs":{}}}\n`;
      }
    })();
    try {
      expect((await orrery.importTasks(lines)).created).toBe(3_000);
      expect(seen).toEqual([[], [], []]);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the longest line of an import', () => {
  const setup = useTempOrrery();

  it('is 4,194,304 bytes, wherever it is (the spool adds its line number before it: that is not counted), and a longer one is named by its own number', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const task = (i: number, bytes: number) => {
      const text = `{"type":"job","policy":"oneshot","arguments":{"args":[${i}],"kwargs":{}}}`;
      return `${text.slice(0, -1)}${' '.repeat(bytes - text.length)}}`; // JSON whitespace up to the size
    };
    const source = (lines: string[]) =>
      (async function* () {
        yield `${lines.join('\n')}\n`;
      })();
    const longest = task(4, MAX_LINE);
    expect(Buffer.byteLength(longest)).toBe(4_194_304);
    const out = await orrery.importTasks(source(['', '', task(3, 100), longest]));
    expect(out).toMatchObject({ lines: 4, count: 2, created: 2 });
    for (const at of [1, 4]) {
      const lines = ['', '', task(3, 100), task(4, 100)];
      lines[at - 1] = task(at + 10, MAX_LINE + 1);
      const e = await orrery.importTasks(source(lines)).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'validation_error', message: `line ${at}: is longer than 4194304 bytes; nothing written` });
    }
    // A `\r\n` line end is not the line's: the longest line ends `\r\n` as well as `\n` (it was refused,
    // one byte too long), in one piece or cut anywhere, last without a final newline too (import audit).
    const crlf = `${task(5, 100)}\r\n${task(6, MAX_LINE)}\r\n${task(7, MAX_LINE)}\r`;
    const pieces = (text: string, size: number) =>
      (async function* () {
        for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
      })();
    for (const size of [crlf.length, 65_536, MAX_LINE + 1]) expect(await orrery.importTasks(pieces(crlf, size))).toMatchObject({ lines: 3, count: 3 });
    for (const text of [`${task(8, MAX_LINE + 1)}\r\n`, `${task(9, 100)}\n${task(10, MAX_LINE + 1)}`]) {
      for (const size of [text.length, 65_536]) {
        const e = await orrery.importTasks(pieces(text, size)).catch((x: unknown) => x);
        expect(e).toMatchObject({ code: 'validation_error', message: expect.stringMatching(/^line [12]: is longer than 4194304 bytes; nothing written$/) });
      }
    }
  });
});

describe('an import the store writes again from its first chunk (PostgreSQL, after a deadlock)', () => {
  const setup = useTempOrrery();

  it('reads its spool again from the start, and counts and answers only the attempt that committed', async () => {
    const { orrery } = await setup();
    await orrery.createTaskType({ name: 'job' });
    const store = orrery.store;
    const real = store.importTasks.bind(store);
    let attempts = 0;
    // A first attempt that reads two chunks, reports the first as written, then is rolled back.
    store.importTasks = async (chunks, at, sink) => {
      attempts += 1;
      const it = chunks()[Symbol.asyncIterator]();
      const first = await it.next();
      await it.next();
      await sink.chunk((first.value as NewTask[]).map((t, i) => ({ task: { id: -1 - i } as Task, created: true })));
      await it.return?.(undefined);
      sink.restart();
      return real(chunks, at, sink);
    };
    const progress: Array<[string, number]> = [];
    const lines = (async function* () {
      for (let i = 0; i < 2_500; i++) yield `{"type":"job","policy":"oneshot","arguments":{"args":[${i}],"kwargs":{}}}\n`;
    })();
    const out = await orrery.importTasks(lines, { ids: true, onProgress: (p) => progress.push([p.phase, p.tasks]) });
    expect(attempts).toBe(1);
    expect(out).toMatchObject({ lines: 2_500, count: 2_500, created: 2_500, existing: 0 });
    expect(out.ids).toHaveLength(2_500);
    expect(out.ids!.every((id) => id > 0)).toBe(true);
    expect(progress.filter(([phase]) => phase !== 'validate')).toEqual([['write', 1_000], ['write', 0], ['write', 1_000], ['write', 2_000], ['write', 2_500], ['done', 2_500]]);
    expect((await orrery.findTasks({ type: 'job', limit: 1_000 })).tasks).toHaveLength(1_000);
  });
});
