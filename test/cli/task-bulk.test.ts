/** `orrery task list` filters and `orrery task bulk` (docs/cli.md), in process: the output and exit codes. */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { openOrrery } from '../../src/engine/service.js';
import { BIN, removeTempDirs, runCli, runOk, tempDb } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'orrery-bulk-cli-'));
const db = ['--db', `sqlite:${join(dir, 'orrery.db')}`];
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterAll(removeTempDirs);

async function cli(argv: string[], tty = false): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main([...argv, ...db], { out: (s) => (out += s), err: (s) => (err += s), errIsTty: tty });
  return { code, out, err };
}

beforeAll(async () => {
  const orrery = await openOrrery({ db: db[1] });
  try {
    await orrery.createTaskType({ name: 'fetch' });
    await orrery.createTaskType({ name: 'mail' });
    await orrery.createTasks(Array.from({ length: 1200 }, (_, i) => ({ type: 'fetch', policy: 'oneshot' as const, arguments: { args: [`https://example.org/${i}`], kwargs: {} } })));
    await orrery.createTask({ type: 'mail', policy: 'oneshot', arguments: { args: [], kwargs: { to: 'Ops@Example.org' } } });
  } finally {
    await orrery.close();
  }
});

describe('orrery task list filters and task bulk', () => {
  it('task list finds argument text and pages past 1,000 tasks', async () => {
    const found = await cli(['task', 'list', '--args', 'ops@example', '--status', 'next_run_not_scheduled,disabled', '--json']);
    expect(found.code, found.err).toBe(0);
    expect(JSON.parse(found.out).map((t: { type: string }) => t.type)).toEqual(['mail']);
    const prefix = await cli(['task', 'list', '-t', 'fetch', '--args', 'https://example.org/119', '--args-match', 'prefix', '--limit', '5']);
    expect(prefix.out).toMatch(/^ID +TYPE/);
    expect(prefix.out).toMatch(/more: orrery task list \.\.\. --after \d+\n$/);
    expect(JSON.parse((await cli(['task', 'list', '-t', 'fetch', '--limit', '1100', '--json'])).out)).toHaveLength(1100);
  });

  it('task bulk: a dry run counts, then the action runs in batches with progress on a terminal', async () => {
    const dry = await cli(['task', 'bulk', 'disable', '-t', 'fetch', '--dry-run']);
    expect(dry).toEqual({ code: 0, out: 'disable would take 1,200 tasks (dry run: nothing changed)\n', err: '' });
    const done = await cli(['task', 'bulk', 'disable', '-t', 'fetch', '--json'], true);
    expect(done.code, done.err).toBe(0);
    expect(JSON.parse(done.out)).toEqual({ action: 'disable', dryRun: false, matched: 1200, changed: 1200, skipped: {}, batches: 2 });
    expect(done.err).toBe('\rdisable: 1,000 tasks read, 1,000 disabled, 0 left alone\x1b[K\rdisable: 1,200 tasks read, 1,200 disabled, 0 left alone\x1b[K\n');
    const back = await cli(['task', 'bulk', 'respawn', '--ids', '1,2,3', '--next-run', '2030-01-01T00:00:00Z']);
    expect(back.out).toBe('respawned 3 tasks of 3 matched, in 1 batch\n');
    const removed = await cli(['task', 'bulk', 'delete', '--status', 'disabled', '--args', 'example.org/11']);
    expect(removed.out).toMatch(/^deleted 11\d tasks of 11\d matched, in 1 batch\n$/);
  });

  it('bad input: exit 2 naming the problem, nothing changed', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['task', 'bulk', 'explode', '--all'], /'explode' is invalid/],
      [['task', 'bulk', 'disable'], /choose the tasks: task filters/],
      [['task', 'bulk', 'disable', '-t', 'fetch', '--ids', '1'], /one way only \(task filters and --ids given\)/],
      [['task', 'bulk', 'disable', '--ids', '1,x'], /--ids: "x" is not a task id/],
      [['task', 'bulk', 'disable', '--all', '--next-run', '2030-01-01T00:00:00Z'], /^orrery: --next-run only applies to respawn and redrive \(not disable\)/],
      [['task', 'bulk', 'cancel', '--status', 'asleep'], /--status.*'asleep' is not a task status/],
      [['task', 'list', '--args-match', 'prefix'], /argsMatch: only applies with args/],
      [['task', 'list', '--next-run-from', '2030-02-01', '--next-run-before', '2030-01-01'], /nextRunBefore: must be after nextRunFrom/],
    ];
    const before = (await cli(['task', 'list', '--limit', '5000', '--json'])).out;
    for (const [argv, message] of cases) {
      const r = await cli(argv);
      expect([argv.join(' '), r.code]).toEqual([argv.join(' '), 2]);
      expect(r.err).toMatch(message);
      expect(r.out).toBe('');
    }
    expect((await cli(['task', 'list', '--limit', '5000', '--json'])).out).toBe(before);
  });
});

describe('task bulk interrupted', () => {
  it('SIGINT between batches: exit 130, one line saying what the committed batches did, which is what the database holds', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'mail', '--default-interval', '1d', ...t.db]);
    const file = join(t.dir, 'tasks.jsonl');
    writeFileSync(file, Array.from({ length: 60_000 }, (_, i) => JSON.stringify({ type: 'mail', arguments: { args: [i], kwargs: {} } })).join('\n') + '\n');
    expect((await runCli(['task', 'import', file, ...t.db])).code).toBe(0);
    const child = spawn(process.execPath, [BIN, 'task', 'bulk', 'disable', '--all', ...t.db], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const reader = new Database(t.path, { readonly: true });
    const disabled = () => (reader.prepare(`SELECT count(*) AS n FROM tasks WHERE status = 'disabled'`).get() as { n: number }).n;
    try {
      await vi.waitFor(() => expect(disabled()).toBeGreaterThan(0), { timeout: 60_000, interval: 5 }); // a batch is committed
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      const m = /^interrupted by SIGINT: disable: ([\d,]+) tasks read, ([\d,]+) disabled, 0 left alone \(the batch in progress was rolled back\); the same command again acts on what its selection still finds\n$/.exec(err);
      expect(m, err).not.toBeNull();
      expect(Number(m![2]!.replaceAll(',', ''))).toBe(disabled());
      expect(disabled()).toBeLessThan(60_000);
    } finally {
      reader.close();
    }
  });
});
