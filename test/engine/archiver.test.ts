import { appendFileSync, copyFileSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ArchiveFile } from '../../src/engine/archive-file.js';
import { Archiver } from '../../src/engine/archiver.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';
import { openOrrery, type Orrery } from '../../src/engine/service.js';

const DAY = 86_400_000;

/** `n` one-shot tasks, each with one run ended `agoMs` before now, then a newer live task. */
async function finishedTasks(o: Orrery, n: number, agoMs: number): Promise<number[]> {
  const at = new Date(Date.now() - agoMs);
  await o.ensureTaskType({ name: 'job', defaultIntervalMs: '1d' });
  const tasks = await o.createTasks(Array.from({ length: n }, (_, i) => ({ type: 'job', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const, nextRun: at })), { at });
  for (const run of await o.scheduleDue({ at })) {
    await o.startRun(run.backendId, { at });
    await o.endRun(run.backendId, { status: 'eventful', at });
  }
  // A newer live task and run.
  const now = new Date();
  await o.createTask({ type: 'job', arguments: { args: ['live', agoMs], kwargs: {} }, nextRun: now }, { at: now });
  await o.scheduleDue({ at: now });
  return tasks.map((t) => t.id);
}

describe('archiver loop (serve --retention)', () => {
  const open = useTempOrrery();

  it('sweeps runs older than the retention into the archive, and leaves younger ones', async () => {
    const { orrery } = await open();
    const old = await finishedTasks(orrery, 30, 40 * DAY);
    const young = await finishedTasks(orrery, 5, DAY);
    const archiver = new Archiver(orrery, { retentionMs: 30 * DAY, everyMs: 50, batch: 7 });
    archiver.start();
    try {
      const sweep = await waitFor(() => archiver.lastSweep, 'a sweep');
      expect(sweep).toMatchObject({ runs: 30, tasks: 30, complete: true, batches: 5 });
    } finally {
      await archiver.stop();
    }
    expect((await orrery.readArchivedTasks({ limit: 100 })).map((t) => t.id)).toEqual(old);
    for (const id of young) expect(await orrery.getTask(id)).not.toBeNull();
  });

  it('logs what a sweep archived, each noun agreeing with its count (it said "1 runs")', async () => {
    const { orrery } = await open();
    await finishedTasks(orrery, 1, 40 * DAY);
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push((JSON.parse(s) as { msg: string }).msg) });
    const archiver = new Archiver(orrery, { retentionMs: 30 * DAY, everyMs: 50, logger });
    archiver.start();
    try {
      await waitFor(() => archiver.lastSweep, 'a sweep');
    } finally {
      await archiver.stop();
    }
    expect(lines).toContainEqual(expect.stringMatching(/^archived 1 run \(0 log records\) and 1 task ended before \S+ to the archive tables$/));
  });

  it('new Archiver refuses a file that is not an archive file; one that ends in an interrupted batch is taken (the sweep repairs it)', async () => {
    const { orrery, dir } = await open();
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'hello world\n');
    // Before: accepted, and every sweep failed on it
    expect(() => new Archiver(orrery, { retentionMs: 30 * DAY, to: notes })).toThrow(/archive file .*notes\.txt: is not an Orrery archive file/);
    const cut = join(dir, 'cut.jsonl');
    writeFileSync(cut, '{"kind":"batch","archive":"x","seq":1');
    expect(() => new Archiver(orrery, { retentionMs: 30 * DAY, to: cut })).not.toThrow();
  });

  it('stops between batches when stopped mid-sweep; the next sweep finishes the job', async () => {
    const { orrery } = await open();
    await finishedTasks(orrery, 50, 40 * DAY);
    const archiver = new Archiver(orrery, { retentionMs: 30 * DAY, everyMs: 60_000, batch: 1 });
    let batches = 0;
    const stopped = new Promise<void>((resolve) => {
      const orig = orrery.archive.bind(orrery);
      orrery.archive = (opts) => orig({ ...opts, onProgress: () => ++batches === 5 && resolve() });
    });
    archiver.start();
    await stopped;
    await archiver.stop();
    expect(archiver.lastSweep).toMatchObject({ complete: false });
    expect(archiver.lastSweep!.runs).toBeLessThan(50);
    const rest = await orrery.archive({ before: new Date(Date.now() - 30 * DAY) });
    expect(archiver.lastSweep!.runs + rest.runs).toBe(50);
  });
});

describe('JSONL archive file', () => {
  const open = useTempOrrery();

  it('a file renamed while an archive writes to it, and another opened at its path: the first archive\'s next batch is undone, neither file is cut (review)', async () => {
    const { orrery, dir } = await open();
    await finishedTasks(orrery, 9, 40 * DAY);
    const file = join(dir, 'rot.jsonl');
    const before = new Date(Date.now() - 30 * DAY);
    const at = new Date();
    const a = await ArchiveFile.open(file, orrery.store.archive, orrery.store, at);
    const batch = (f: ArchiveFile) => orrery.store.archive.archiveBatch({ before, after: null, limit: 3, at, table: false, sink: { key: f.key, write: (b, c) => f.write(b, before, at, c) } });
    expect((await batch(a)).runs).toHaveLength(3);
    a.committed();
    renameSync(file, `${file}.old`);
    const b = await ArchiveFile.open(file, orrery.store.archive, orrery.store, at);
    await expect(batch(a)).rejects.toMatchObject({ code: 'validation_error', message: expect.stringContaining('was renamed or replaced while this archive wrote to it') });
    const old = readFileSync(`${file}.old`, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { kind: string });
    expect(old.filter((l) => l.kind === 'run')).toHaveLength(3);
    a.close();
    b.close();
    // Nothing was lost: the next archive to the path writes the rest to the new file.
    expect(await orrery.archive({ before, to: file })).toMatchObject({ runs: 6, complete: true });
    expect(readFileSync(file, 'utf8').trimEnd().split('\n').filter((l) => l.startsWith('{"kind":"run"'))).toHaveLength(6);
  });

  it('a lone archive whose file is renamed or replaced mid-sweep undoes its next batch: the rows stay in the database (archiving audit: they were deleted, written only to the old file)', async () => {
    const { orrery, dir } = await open();
    await finishedTasks(orrery, 9, 40 * DAY);
    const before = new Date(Date.now() - 30 * DAY);
    const at = new Date();
    const batch = (f: ArchiveFile) => orrery.store.archive.archiveBatch({ before, after: null, limit: 3, at, table: false, sink: { key: f.key, write: (b, c) => f.write(b, before, at, c) } });
    for (const rotate of ['rename', 'replace'] as const) {
      const file = join(dir, `lone-${rotate}.jsonl`);
      const a = await ArchiveFile.open(file, orrery.store.archive, orrery.store, at);
      expect((await batch(a)).runs).toHaveLength(3);
      a.committed();
      renameSync(file, `${file}.old`);
      if (rotate === 'replace') writeFileSync(file, '');
      await expect(batch(a)).rejects.toMatchObject({ code: 'validation_error', message: expect.stringContaining('was renamed or replaced while this archive wrote to it') });
      a.close();
    }
    // Of the 9 runs, 3 went to each rotated file; the 3 others are still in the database.
    expect(await orrery.archive({ before, to: join(dir, 'rest.jsonl') })).toMatchObject({ runs: 3, complete: true });
  });

  it('cuts off a batch written but never committed, and refuses bytes another database appended', async () => {
    const { orrery, dir } = await open();
    await finishedTasks(orrery, 3, 40 * DAY);
    const file = join(dir, 'a.jsonl');
    const before = new Date(Date.now() - 30 * DAY);
    // A batch handed to the file whose transaction never commits (the process died before the delete).
    const f = await ArchiveFile.open(file, orrery.store.archive, orrery.store, new Date());
    f.write({ runs: [], tasks: [(await orrery.searchTasks({}))[0]!], next: null }, before, new Date(), await orrery.store.archive.getProgress(f.key));
    f.close();
    expect(readFileSync(file, 'utf8')).not.toBe('');
    const s = await orrery.archive({ before, to: file });
    expect(s).toMatchObject({ runs: 3, tasks: 3 });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.kind === 'task')).toHaveLength(3);

    // Another writer appends: the next archive to this file refuses instead of cutting it off.
    appendFileSync(file, '{"kind":"batch","archive":"someone-else","seq":1}\n');
    await expect(orrery.archive({ before, to: file })).rejects.toMatchObject({ code: 'validation_error', message: expect.stringContaining('did not write') });
    // A file that does not end with a newline is not appended to.
    const partial = join(dir, 'partial.jsonl');
    writeFileSync(partial, '{"kind":"task"');
    await expect(orrery.archive({ before, to: partial })).rejects.toMatchObject({ message: expect.stringContaining('does not end with a newline') });
    // Nor is a file that is not an archive file, and it is left as it was.
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'hello world\n');
    await expect(orrery.archive({ before, to: notes })).rejects.toMatchObject({ code: 'validation_error', message: expect.stringContaining('is not an Orrery archive file') });
    expect(readFileSync(notes, 'utf8')).toBe('hello world\n');
  });

  it('refuses to cut off batches this database committed before it was restored from an older backup', async () => {
    const { orrery, path, dir, onCleanup } = await open();
    await finishedTasks(orrery, 2, 40 * DAY);
    const file = join(dir, 'a.jsonl');
    const before = new Date(Date.now() - 30 * DAY);
    await orrery.archive({ before, to: file });
    const backup = join(dir, 'backup.db');
    const db = new Database(path);
    db.exec(`VACUUM INTO '${backup}'`);
    db.close();
    // Runs that end after the backup, archived to the same file: their records exist only there.
    await finishedTasks(orrery, 2, 40 * DAY);
    const restore = async (batch: number) => {
      await orrery.archive({ before, to: file, batch });
      const archived = readFileSync(file, 'utf8');
      copyFileSync(backup, join(dir, 'restored.db'));
      const restored = await openOrrery({ db: `sqlite:${join(dir, 'restored.db')}` });
      onCleanup(() => restored.close());
      return { restored, archived };
    };
    // One batch after the backup: its runs are no longer in the restored database, so it is not cut off.
    const one = await restore(1000);
    await expect(one.restored.archive({ before, to: file })).rejects.toMatchObject({
      code: 'validation_error',
      message: expect.stringMatching(/written by this database \(batch 2 holds run .* which the database no longer has\): was it restored from a backup older than the file, or were those rows archived or deleted another way since\?/),
    });
    expect(readFileSync(file, 'utf8')).toBe(one.archived);
    await one.restored.close();
    rmSync(join(dir, 'restored.db'));
    rmSync(join(dir, 'restored.db-wal'), { force: true });
    rmSync(join(dir, 'restored.db-shm'), { force: true });
    // Several batches after it are named as this database's, not as another database's.
    await finishedTasks(orrery, 2, 40 * DAY);
    const many = await restore(1);
    await expect(many.restored.archive({ before, to: file })).rejects.toMatchObject({ message: expect.stringMatching(/written by this database \(batches 2 to \d+, after its last committed batch 1\)/) });
    expect(readFileSync(file, 'utf8')).toBe(many.archived);
  });

  it('refuses a file the database has no record of that holds its rows: restored from a backup taken before its first archive to it; another database\'s file is appended to', async () => {
    const { orrery, path, dir, onCleanup } = await open();
    await finishedTasks(orrery, 3, 40 * DAY);
    const backup = join(dir, 'backup.db');
    const db = new Database(path);
    db.exec(`VACUUM INTO '${backup}'`);
    db.close();
    const file = join(dir, 'a.jsonl');
    const before = new Date(Date.now() - 30 * DAY);
    expect(await orrery.archive({ before, to: file })).toMatchObject({ runs: 3, tasks: 3 });
    const archived = readFileSync(file, 'utf8');
    copyFileSync(backup, join(dir, 'restored.db'));
    const restored = await openOrrery({ db: `sqlite:${join(dir, 'restored.db')}` });
    onCleanup(() => restored.close());
    // Before: appended as a new archive, every row of the first batch written a second time.
    await expect(restored.archive({ before, to: file })).rejects.toMatchObject({
      code: 'validation_error',
      message: expect.stringMatching(/holds (run|task) \S+ \(archive [0-9a-f-]+\), which this database still has as written, but the database has no record of archiving to this file: was it restored from a backup older than the file\?/),
    });
    expect(readFileSync(file, 'utf8')).toBe(archived);
    // Each refusal closes the file it read (before: the read stream stayed open, one descriptor per sweep).
    // (With more in the file than one read takes: a file read to its end closes by itself.)
    appendFileSync(file, `{"kind":"batch","archive":"other","seq":1}\n${'{"kind":"task","task":{"id":999999,"created":"2020-01-01T00:00:00.000Z"}}\n'.repeat(4000)}`);
    const fds = () => readdirSync('/proc/self/fd').length;
    const fdsBefore = fds();
    for (let i = 0; i < 10; i++) await expect(restored.archive({ before, to: file })).rejects.toThrow(/still has as written/);
    expect(fds()).toBeLessThanOrEqual(fdsBefore);
    // Another database's archive (its own tasks, created at other instants) is appended to.
    const other = await openOrrery({ db: `sqlite:${join(dir, 'other.db')}` });
    onCleanup(() => other.close());
    await finishedTasks(other, 2, 40 * DAY);
    expect(await other.archive({ before, to: file })).toMatchObject({ runs: 2, tasks: 2 });
    expect(readFileSync(file, 'utf8').startsWith(archived)).toBe(true);
  });
});
