/**
 * Archiving survives real crashes, on both stores: `orrery archive --to FILE` is killed by a file-size
 * limit in the middle of writing a batch (the batch is in the file, partly, and not deleted), then by
 * SIGKILL at an arbitrary point, then run to the end. The file must hold every run of a 5,000-run task
 * exactly once, the database none of them, and everything else untouched.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery, type Orrery } from '../../src/engine/service.js';
import { createTestDatabase } from '../support/postgres.js';
import { BIN } from './process-helpers.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const CUT = '2026-02-01T00:00:00.000Z';
const RUNS = 5000;
const dir = mkdtempSync(join(tmpdir(), 'orrery-archive-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  stdout: string;
}

/** Runs `orrery archive` in a child; `killAfterLines` progress lines on stderr, it is SIGKILLed. */
function archive(db: string, file: string, opts: { fileSizeKiB?: number; killAfterLines?: number; batch?: number } = {}): Promise<Exit> {
  const argv = [BIN, 'archive', '--before', CUT, '--to', file, '--batch', String(opts.batch ?? 100), '--json', '--db', db];
  const child = opts.fileSizeKiB
    ? spawn('bash', ['-c', `ulimit -f ${opts.fileSizeKiB} && exec "$0" "$@"`, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (opts.killAfterLines && stderr.split('\n').filter((l) => l.includes('so far')).length >= opts.killAfterLines) child.kill('SIGKILL');
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout })));
}

/** A completed one-shot task with RUNS finished runs (every 10th with a log record), written in one statement. */
const FIXTURE = {
  async sqlite(path: string, task: number) {
    const db = new Database(path);
    db.transaction(() => {
      const ins = db.prepare(`INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, started, ended, metadata, error, worker, attempt)
        VALUES (?, 'flaky', ?, ?, 3, ?, ?, ?, '{}', ?, 'w', ?)`);
      for (let i = 1; i <= RUNS; i++) {
        const t = T0.getTime() + i * 1000;
        ins.run(task, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, i === RUNS ? 'eventful' : 'failed', t, t, t + 500, i === RUNS ? null : 'boom', i);
      }
      db.prepare(`INSERT INTO run_logs (run, at, level, message) SELECT id, ended, 'info', 'log of ' || id FROM task_runs WHERE task = ? AND id % 10 = 0`).run(task);
      db.prepare(`UPDATE tasks SET status = 'completed', dedupe_key = NULL WHERE id = ?`).run(task);
    })();
    db.close();
  },
  async postgres(url: string, task: number) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(
        `INSERT INTO task_runs (task, type, backend_id, status, priority_rank, scheduled, started, ended, metadata, error, worker, attempt)
         SELECT $1, 'flaky', gen_random_uuid()::text, CASE WHEN i = $2 THEN 'eventful' ELSE 'failed' END, 3, t, t, t + interval '500 ms', '{}',
                CASE WHEN i = $2 THEN NULL ELSE 'boom' END, 'w', i
         FROM generate_series(1, $2) AS i, LATERAL (SELECT $3::timestamptz + i * interval '1 second' AS t) x`,
        [task, RUNS, T0],
      );
      await c.query(`INSERT INTO run_logs (run, at, level, message) SELECT id, ended, 'info', 'log of ' || id FROM task_runs WHERE task = $1 AND id % 10 = 0`, [task]);
      await c.query(`UPDATE tasks SET status = 'completed', dedupe_key = NULL WHERE id = $1`, [task]);
    } finally {
      await c.end();
    }
  },
};

async function scenario(db: string, fill: (task: number) => Promise<void>, file: string): Promise<void> {
  let o: Orrery = await openOrrery({ db });
  const setup = async () => {
    await o.createTaskType({ name: 'flaky', defaultIntervalMs: '1d' });
    await o.createTaskType({ name: 'feed', defaultIntervalMs: '1d' });
    return o.createTask({ type: 'flaky', arguments: { args: ['big'], kwargs: {} }, policy: 'oneshot', nextRun: T0 }, { at: T0 });
  };
  const big = await setup();
  await o.close();
  await fill(big.id);
  o = await openOrrery({ db });
  // Everything else: a recurring task with a run after the cut-off and its live current run (the newest rows).
  const feed = await o.createTask({ type: 'feed', arguments: { args: ['x'], kwargs: {} }, nextRun: new Date('2026-03-01T00:00:00Z') });
  const [run] = await o.scheduleDue({ at: new Date('2026-03-01T00:00:00Z') });
  await o.startRun(run!.backendId, { at: new Date('2026-03-01T00:00:01Z') });
  await o.endRun(run!.backendId, { status: 'eventful', at: new Date('2026-03-01T00:00:02Z') });
  await o.scheduleDue({ at: new Date('2026-03-03T00:00:00Z') });
  const before = { task: await o.getTaskWithRuns(feed.id), bigRuns: (await o.listRuns(big.id)).map((r) => r.id) };
  expect(before.bigRuns).toHaveLength(RUNS);
  expect(before.task!.runs).toHaveLength(2);
  await o.close();

  // 1. A file-size limit (ulimit -f) makes a batch fail after the file was written: the JSONL write
  // itself on PostgreSQL, the SQLite WAL write at commit. Either way the batch is (partly) in the file
  // and its rows are still in the database.
  const limited = await archive(db, file, { fileSizeKiB: 200 });
  expect(limited.code, limited.stderr).toBe(1);
  expect(limited.stderr).toMatch(/^orrery: .*(too large|I\/O error)/im);
  const written = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{"kind":"run"') && l.endsWith('}'));
  o = await openOrrery({ db });
  const left = (await o.listRuns(big.id)).length;
  await o.close();
  expect(left).toBeLessThan(RUNS);
  expect(written.length + left).toBeGreaterThan(RUNS); // an uncommitted batch sits at the end of the file
  // 2. SIGKILL after three more batches.
  const killed = await archive(db, file, { killAfterLines: 3 });
  expect(killed.signal).toBe('SIGKILL');
  // 3. To the end.
  const done = await archive(db, file);
  expect(done.code).toBe(0);
  const summary = JSON.parse(done.stdout);
  expect(summary.complete).toBe(true);
  expect(summary.runs).toBeGreaterThan(0);

  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const runIds = lines.filter((l) => l.kind === 'run').map((l) => l.run.id as number);
  expect(runIds.length).toBe(RUNS);
  expect(new Set(runIds).size).toBe(RUNS);
  expect([...runIds].sort((a, b) => a - b)).toEqual(before.bigRuns);
  expect(lines.filter((l) => l.kind === 'task').map((l) => l.task.id)).toEqual([big.id]);
  expect(lines.filter((l) => l.kind === 'run').reduce((n, l) => n + l.logs.length, 0)).toBe(RUNS / 10);
  o = await openOrrery({ db });
  try {
    expect(await o.listRuns(big.id)).toEqual([]);
    expect(await o.getTask(big.id)).toBeNull();
    expect(await o.getTaskWithRuns(feed.id)).toEqual(before.task);
  } finally {
    await o.close();
  }
}

describe('archive --to FILE survives crashes (5,000 runs of one task, batch 100)', () => {
  it('sqlite', async () => {
    const path = join(dir, 'crash.db');
    await scenario(`sqlite:${path}`, (task) => FIXTURE.sqlite(path, task), join(dir, 'sqlite.jsonl'));
  });

  it('postgres', async () => {
    const db = await createTestDatabase('archive_crash');
    try {
      await scenario(db.url, (task) => FIXTURE.postgres(db.url, task), join(dir, 'postgres.jsonl'));
    } finally {
      await db.drop();
    }
  });
});

/** Two archive processes at once to one file (two `serve --retention` with the same `--archive-to`): they take turns, each batch going on where the other's ended. */
async function twoAtOnce(db: string, fill: (task: number) => Promise<void>, file: string): Promise<void> {
  const o = await openOrrery({ db });
  await o.createTaskType({ name: 'flaky', defaultIntervalMs: '1d' });
  const big = await o.createTask({ type: 'flaky', arguments: { args: ['big'], kwargs: {} }, policy: 'oneshot', nextRun: T0 }, { at: T0 });
  await o.close();
  await fill(big.id);
  const [a, b] = await Promise.all([archive(db, file, { batch: 50 }), archive(db, file, { batch: 50 })]);
  expect(a.code, a.stderr).toBe(0);
  expect(b.code, b.stderr).toBe(0);
  expect(JSON.parse(a.stdout).runs + JSON.parse(b.stdout).runs).toBe(RUNS);
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const runIds = lines.filter((l) => l.kind === 'run').map((l) => l.run.id as number);
  expect(runIds.length).toBe(RUNS);
  expect(new Set(runIds).size).toBe(RUNS);
  expect(lines.filter((l) => l.kind === 'task').map((l) => l.task.id)).toEqual([big.id]);
  const seqs = lines.filter((l) => l.kind === 'batch').map((l) => l.seq as number);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
}

describe('two archive processes at once to one file (5,000 runs, batch 50): every run written once (audit: batches were lost)', () => {
  it('sqlite', async () => {
    const path = join(dir, 'two.db');
    await twoAtOnce(`sqlite:${path}`, (task) => FIXTURE.sqlite(path, task), join(dir, 'two-sqlite.jsonl'));
  });

  it('postgres', async () => {
    const db = await createTestDatabase('archive_two');
    try {
      await twoAtOnce(db.url, (task) => FIXTURE.postgres(db.url, task), join(dir, 'two-postgres.jsonl'));
    } finally {
      await db.drop();
    }
  });
});
