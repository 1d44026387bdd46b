/**
 * `orrery archive` and `orrery archive read` through the built binary: bad arguments exit 2 naming
 * the problem and write nothing; archive -> read round-trips the runs and tasks exactly as
 * `task show --json` printed them; progress goes to stderr, the summary to stdout.
 */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { dumpDb, errorLines, removeTempDirs, runCli, runJson, runOk, tempDb, tempDir, type TempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

let fixture: TempDb;
/** `task show --json` of the tasks before archiving: a completed one-shot task, a recurring one, the newest. */
let shown: { done: any; feed: any };

beforeAll(async () => {
  fixture = tempDb();
  const db = fixture.db;
  await runOk(['task-type', 'add', 'fetch', '--default-interval', '1d', ...db]);
  const done = await runJson(['task', 'add', 'fetch', 'https://example.org/a', '--policy', 'oneshot', '--at', '2026-01-01T00:00:00Z', '--json', ...db]);
  const feed = await runJson(['task', 'add', 'fetch', 'https://example.org/feed', 'depth=2', '--at', '2026-01-01T00:00:00Z', '--json', ...db]);
  const runs = await runJson<any[]>(['task', 'schedule', '--at', '2026-01-01T00:00:00Z', '--json', ...db]);
  for (const [i, r] of runs.entries()) {
    await runOk(['run', 'start', r.backendId, '--at', '2026-01-01T00:00:01Z', ...db]);
    await runOk(['run', 'end', r.backendId, '--status', i === 0 ? 'eventful' : 'uneventful', '--metadata', '{"n":1}', '--at', '2026-01-01T00:00:02Z', ...db]);
  }
  // The feed's next run (after the cut-off) and a newer task: they stay.
  await runJson(['task', 'schedule', '--at', '2026-01-05T00:00:00Z', '--json', ...db]);
  await runOk(['task', 'add', 'fetch', 'https://example.org/newest', '--at', '2026-01-06T00:00:00Z', ...db]);
  await runJson(['task', 'schedule', '--at', '2026-01-06T00:00:00Z', '--json', ...db]);
  shown = {
    done: await runJson(['task', 'show', String(done.id), '--json', ...db]),
    feed: await runJson(['task', 'show', String(feed.id), '--json', ...db]),
  };
  expect(shown.done.status).toBe('completed');
  expect(shown.feed.runs).toHaveLength(2);
});

function copyOfFixture(): TempDb {
  const copy = tempDb();
  for (const suffix of ['', '-wal']) if (existsSync(fixture.path + suffix)) copyFileSync(fixture.path + suffix, copy.path + suffix);
  return copy;
}

describe('archive: bad arguments exit 2 with a message naming the problem; nothing is written', () => {
  const garbage = join(tempDir(), 'garbage.jsonl');
  writeFileSync(garbage, '{"kind":"task","task":{"id":1,"type":"t","status":"completed","arguments":{"args":[],"kwargs":{}}}}\nnot json\n');
  // A run record not in a run's shape (no type, an ended that is no instant): it was printed as a run of type undefined (archiving audit).
  const misshapen = join(tempDir(), 'misshapen.jsonl');
  writeFileSync(misshapen, '{"kind":"run","run":{"id":9,"task":1,"status":"eventful","ended":"bad"},"logs":[]}\n');
  const cases: Array<[string, string[], string]> = [
    ['no --before', ['archive'], '--before is required'],
    ['a bad instant', ['archive', '--before', 'yesterday'], "option '--before <instant>' argument 'yesterday' is invalid"],
    ['batch 0', ['archive', '--before', '2026-01-02', '--batch', '0'], "option '--batch <n>' argument '0' is invalid"],
    ['a batch too large', ['archive', '--before', '2026-01-02', '--batch', '100001'], '--batch: 100001 is more than 100000'],
    ['a file in a missing directory', ['archive', '--before', '2026-01-02', '--to', '/nonexistent-dir/a.jsonl'], '--to archive file /nonexistent-dir/a.jsonl: directory /nonexistent-dir does not exist'],
    ['an unknown action', ['archive', 'reed'], 'unknown action "reed"'],
    ['an archiving option on read', ['archive', 'read', '--before', '2026-01-02'], '--before: not an option of `archive read`'],
    ['a read option on archive', ['archive', '--before', '2026-01-02', '--task', '1'], '--task: only applies to `archive read`'],
    ['a bad task id', ['archive', 'read', '--task', 'x'], '--task: "x" is not a task id'],
    // Runs and tasks have ids of their own: one cursor for both repeated or skipped records
    ['--after without --kind', ['archive', 'read', '--after', '3'], '--after and --limit page one kind of record at a time'],
    ['--limit 0', ['archive', 'read', '--kind', 'run', '--limit', '0'], "option '--limit <n>' argument '0' is invalid"],
  ];
  test.each(cases)('%s', async (_what, argv, message) => {
    const db = copyOfFixture();
    const before = dumpDb(db.path);
    const r = await runCli([...argv, ...db.db]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(errorLines(r.stderr)[0]).toContain(message);
    expect(dumpDb(db.path)).toEqual(before);
  });

  test('a missing or malformed FILE', async () => {
    let r = await runCli(['archive', 'read', join(tempDir(), 'none.jsonl')]);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^orrery: archive file .*none\.jsonl: no such file$/)]);
    r = await runCli(['archive', 'read', garbage]);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toMatch(/garbage\.jsonl: line 2 is not an archive record$/);
    for (const json of [['--json'], []]) {
      r = await runCli(['archive', 'read', misshapen, ...json]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(errorLines(r.stderr)[0]).toMatch(/misshapen\.jsonl: line 1 is not an archive record$/);
    }
    // Its good first record is not printed before the bad line is found: no half JSON array, no table cut short.
    for (const json of [['--json'], []]) {
      r = await runCli(['archive', 'read', garbage, ...json]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    }
  });

  test('archive --to on a missing database archives nothing and creates neither the database nor the file (archiving audit: the file was created)', async () => {
    const dir = tempDir();
    const r = await runCli(['archive', '--before', '2026-01-01T00:00:00Z', '--to', join(dir, 'none.jsonl'), '--db', `sqlite:${join(dir, 'none.db')}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('archived 0 runs (0 log records) and 0 tasks');
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/no database at .*none\.db \(--db\): answered as an empty database, nothing created$/)]);
    expect(existsSync(join(dir, 'none.jsonl'))).toBe(false);
    expect(existsSync(join(dir, 'none.db'))).toBe(false);
  });

  test('serve: --retention below 1s, --archive-to without --retention', async () => {
    const db = copyOfFixture();
    let r = await runCli(['serve', '--retention', '0s', '--port', '0', ...db.db]);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toContain("option '--retention <duration>' argument '0s' is invalid. must be at least 1s");
    // Past 100 years every sweep's cut-off could fall before any instant a store holds.
    r = await runCli(['serve', '--retention', '99999999d', '--port', '0', ...db.db]);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toContain("option '--retention <duration>' argument '99999999d' is invalid. must be at most 100 years (36500d)");
    r = await runCli(['serve', '--archive-to', join(db.dir, 'a.jsonl'), '--port', '0', ...db.db]);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)[0]).toContain('--archive-to: needs --retention');
    // A file it could never archive to is refused at start, as archive --to refuses it.
    // Before: a file that is not an archive file started serve, and every sweep failed on it.
    const notes = join(db.dir, 'notes.txt');
    writeFileSync(notes, 'hello\n');
    for (const [to, problem] of [[join(db.dir, 'none', 'a.jsonl'), 'does not exist'], [db.dir, 'not a regular file'], ['', 'path is required'], [notes, 'is not an Orrery archive file']] as const) {
      r = await runCli(['serve', '--retention', '1d', '--archive-to', to, '--port', '0', ...db.db]);
      expect(r.code, r.stderr).toBe(2);
      expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`^orrery: --archive-to archive file .*${problem}`));
    }
  });
});

describe('archive -> read round trip', () => {
  test('to a JSONL file and the archive tables: read gives back what task show printed; the rest stays', async () => {
    const db = copyOfFixture();
    const file = join(db.dir, 'archive.jsonl');
    const r = await runCli(['archive', '--before', '2026-01-02T00:00:00Z', '--to', file, '--table', '--batch', '1', '--json', '--at', '2026-02-01T00:00:00Z', ...db.db]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([
      'archived 1 run (0 log records) and 1 task so far',
      'archived 2 runs (0 log records) and 1 task so far',
    ]);
    expect(JSON.parse(r.stdout)).toMatchObject({ before: '2026-01-02T00:00:00.000Z', file, table: true, runs: 2, logs: 0, tasks: 1, batches: 2, complete: true });

    const { runs: doneRuns, ...doneTask } = shown.done;
    const [feedOld, feedLive] = shown.feed.runs;
    const expected = [
      { kind: 'run', run: doneRuns[0], logs: [] },
      { kind: 'task', task: doneTask },
      { kind: 'run', run: feedOld, logs: [] },
    ];
    expect(await runJson(['archive', 'read', file, '--json'])).toEqual(expected);
    expect(await runJson(['archive', 'read', file, '--task', String(doneTask.id), '--json'])).toEqual(expected.slice(0, 2));
    // --db beside a FILE (scripts give it to every command) is not used: the file is read.
    expect(await runJson(['archive', 'read', file, '--json', ...db.db])).toEqual(expected);
    const fromTables = await runJson<any[]>(['archive', 'read', '--json', ...db.db]);
    expect(fromTables).toEqual([expected[0], expected[2], expected[1]]); // runs by id, then tasks
    // One kind a page at a time: the next page's command is on stderr while there may be more
    const page1 = await runCli(['archive', 'read', '--kind', 'run', '--limit', '1', '--json', ...db.db]);
    expect(JSON.parse(page1.stdout)).toEqual([expected[0]]);
    expect(page1.stderr).toBe(`more: orrery archive read --kind run --after ${doneRuns[0].id} --limit 1\n`);
    const page2 = await runCli(['archive', 'read', '--kind', 'run', '--after', String(doneRuns[0].id), '--limit', '1', '--json', ...db.db]);
    expect(JSON.parse(page2.stdout)).toEqual([expected[2]]);
    expect(await runJson(['archive', 'read', '--kind', 'run', '--after', String(feedOld.id), '--json', ...db.db])).toEqual([]);
    expect(await runJson(['archive', 'read', '--kind', 'task', '--json', ...db.db])).toEqual([expected[1]]);
    // A page of one task's runs: the hint keeps --task.
    const ofTask = await runCli(['archive', 'read', '--task', String(shown.feed.id), '--kind', 'run', '--limit', '1', '--json', ...db.db]);
    expect(JSON.parse(ofTask.stdout)).toEqual([expected[2]]);
    expect(ofTask.stderr).toBe(`more: orrery archive read --task ${shown.feed.id} --kind run --after ${feedOld.id} --limit 1\n`);
    const kindless = await runCli(['archive', '--before', '2026-01-02T00:00:00Z', '--kind', 'run', ...db.db]);
    expect(kindless.code).toBe(2);
    expect(errorLines(kindless.stderr)[0]).toContain('--kind: only applies to `archive read`');
    const text = await runOk(['archive', 'read', file]);
    expect(text.split('\n')[0]).toMatch(/^KIND\s+ID\s+TASK\s+TYPE\s+STATUS\s+ENDED\s+LOGS$/);
    expect(text).toContain('completed');

    expect((await runCli(['task', 'show', String(doneTask.id), ...db.db])).code).toBe(2); // not found
    const feed = await runJson(['task', 'show', String(shown.feed.id), '--json', ...db.db]);
    expect(feed).toEqual({ ...shown.feed, runs: [feedLive] });

    const again = await runJson(['archive', '--before', '2026-01-02T00:00:00Z', '--to', file, '--json', ...db.db]);
    expect(again).toMatchObject({ runs: 0, tasks: 0, complete: true });
    expect(await runJson(['archive', 'read', file, '--json'])).toEqual(expected);
  });
});
