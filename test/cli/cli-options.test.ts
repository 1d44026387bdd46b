/** Options added for replay and triage: --at everywhere time matters, a leading --db, --worker on run end, the dead-letter filter, pipes. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { createServer, type AddressInfo } from 'node:net';
import { BIN, ROOT, removeTempDirs, runCli, runJson, runOk, tempDb } from './cli-helpers.js';
import { table, type Io } from '../../src/cli/common.js';

afterAll(removeTempDirs);

describe('orrery CLI options', () => {
  test('--at on task add, disable and respawn replays history; a leading --db selects the database', async () => {
    const t = tempDb();
    await runOk(['--db', t.url, 'task-type', 'add', 'job', '--default-interval', '1h']);
    const task = await runJson([`--db=${t.url}`, 'task', 'add', 'job', 'a', '--at', '2026-03-01T10:00:00Z', '--json']);
    expect(task).toMatchObject({ nextRun: '2026-03-01T10:00:00.000Z', created: '2026-03-01T10:00:00.000Z' });
    const [disabled] = await runJson(['task', 'disable', String(task.id), '--at', '2026-03-02T00:00:00Z', '--json', ...t.db]);
    expect(disabled).toMatchObject({ status: 'disabled', disabledReason: 'manual' });
    const [back] = await runJson(['task', 'respawn', String(task.id), '--at', '2026-03-03T00:00:00Z', '--json', ...t.db]);
    expect(back).toMatchObject({ status: 'next_run_not_scheduled', nextRun: '2026-03-03T00:00:00.000Z' });
    // --db between a command group and its command; before a `--` that ends the options, it stays an option.
    expect((await runJson(['task', '--db', t.url, 'list', '--json'])).map((x: { id: number }) => x.id)).toEqual([task.id]);
    expect((await runJson(['task-type', `--db=${t.url}`, 'list', '--json'])).map((x: { name: string }) => x.name)).toEqual(['job']);
    // A group with --db and no command: the command is missing, as without --db.
    const missing = await runCli(['task', '--db', t.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: missing command/m);
    const dashed = await runJson(['--db', t.url, 'task', 'add', 'job', '--json', '--', '-5']);
    expect(dashed.arguments).toEqual({ args: [-5], kwargs: {} });
  });

  test('run end --worker ends only a run that worker holds; task list --disabled-reason finds the dead-letter bin', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'job', '--max-abandons', '1', ...t.db]);
    const task = await runJson(['task', 'add', 'job', '--policy', 'oneshot', '--at', '2026-01-01T00:00:00Z', '--json', ...t.db]);
    const [run] = await runJson(['task', 'schedule', '--at', '2026-01-01T00:00:00Z', '--json', ...t.db]);
    await runOk(['run', 'start', run.backendId, '--worker', 'w1', '--at', '2026-01-01T00:00:01Z', ...t.db]);
    const wrong = await runCli(['run', 'end', run.backendId, '--status', 'lost', '--worker', 'w2', ...t.db]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/not held by worker w2/);
    const ended = await runJson(['run', 'end', run.backendId, '--status', 'lost', '--worker', 'w1', '--at', '2026-01-01T00:00:02Z', '--json', ...t.db]);
    expect(ended.task).toMatchObject({ id: task.id, status: 'disabled', disabledReason: 'dead_letter' });
    const bin = await runJson(['task', 'list', '--disabled-reason', 'dead_letter', '--json', ...t.db]);
    expect(bin.map((x: { id: number }) => x.id)).toEqual([task.id]);
    expect(await runJson(['task', 'list', '--disabled-reason', 'manual', '--json', ...t.db])).toEqual([]);
  });

  test('an empty ORRERY_DB means the default ./orrery.db', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'job'], { env: { ORRERY_DB: '' }, cwd: t.dir });
    const types = await runJson(['task-type', 'list', '--json', '--db', `sqlite:${t.dir}/orrery.db`]);
    expect(types.map((x: { name: string }) => x.name)).toEqual(['job']);
  });

  test('a reader that closes the pipe early is not an error', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'job', '--default-interval', '1h', ...t.db]);
    const child = spawn(process.execPath, [BIN, 'task-type', 'list', '-v', ...t.db], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => child.on('close', r));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });
});

describe('--db as the only option of a command without subcommands', () => {
  test('orrery runner --db URL and orrery --db URL runner run on that database (not ./orrery.db)', async () => {
    for (const args of [(u: string) => ['runner', '--db', u], (u: string) => ['--db', u, 'runner'], (u: string) => ['runner', `--db=${u}`]]) {
      const t = tempDb();
      const cwd = mkdtempSync(join(tmpdir(), 'orrery-cwd-'));
      const child = spawn(process.execPath, [BIN, ...args(t.url)], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ORRERY_DB: '' } });
      let out = '';
      const started = new Promise<void>((resolve) => {
        const on = (d: Buffer) => ((out += d.toString()), /started on/.test(out) && resolve());
        child.stdout.on('data', on);
        child.stderr.on('data', on);
      });
      await started;
      child.kill('SIGTERM');
      expect(await new Promise((r) => child.on('close', r))).toBe(0);
      expect(out).toContain(`started on ${t.url}`);
      expect(existsSync(join(cwd, 'orrery.db'))).toBe(false);
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('ORRERY_API_TOKEN', () => {
  test('a malformed $ORRERY_API_TOKEN is refused as --token is: exit 2 naming the variable, nothing served', async () => {
    const t = tempDb();
    for (const token of ['a b', 'tök']) {
      const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...t.db], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ORRERY_API_TOKEN: token } });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      expect(await new Promise((r) => child.on('close', r))).toBe(2);
      expect(err).toMatch(/ORRERY_API_TOKEN: must be printable ASCII without spaces/);
    }
    // An empty one (a secret that failed to expand) does not mean "no token".
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...t.db], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ORRERY_API_TOKEN: '' } });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    expect(await new Promise((r) => child.on('close', r))).toBe(2);
    expect(err).toBe('orrery: ORRERY_API_TOKEN: is set but empty: give a token, or unset the variable to give none\n');
  });
});

describe('large outputs', () => {
  test('a table of 200,000 rows prints (its widths were one call spreading every row: a stack overflow past about 120,000)', () => {
    let lines = 0;
    let last = '';
    const io = { out: (s: string) => ((lines += 1), (last = s)), err: () => {} } as unknown as Io;
    table(io, ['ID', 'NAME'], Array.from({ length: 200_000 }, (_, i) => [String(i), i === 199_999 ? 'the-longest-name' : 'x']));
    expect(lines).toBe(200_001);
    expect(last).toBe('199999  the-longest-name\n');
  });

  test('task show --runs N shows only the newest N runs; a bad N exits 2', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'job', '--default-interval', '1h', ...t.db]);
    const task = await runJson(['task', 'add', 'job', 'a', '--at', '2026-01-01T00:00:00Z', '--json', ...t.db]);
    const backendIds: string[] = [];
    for (const at of ['2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', '2026-01-01T02:00:00Z']) {
      const [run] = await runJson(['task', 'schedule', '--at', at, '--json', ...t.db]);
      await runOk(['run', 'start', run.backendId, '--at', at, ...t.db]);
      await runOk(['run', 'end', run.backendId, '--status', 'uneventful', '--at', at, ...t.db]);
      backendIds.push(run.backendId);
    }
    expect((await runJson(['task', 'show', String(task.id), '--json', ...t.db])).runs).toHaveLength(3);
    const two = await runJson(['task', 'show', String(task.id), '--runs', '2', '--json', ...t.db]);
    expect(two.runs.map((r: { backendId: string }) => r.backendId)).toEqual(backendIds.slice(1));
    const bad = await runCli(['task', 'show', String(task.id), '--runs', '0', ...t.db]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--runs <n>' argument '0' is invalid/);
  });
});

describe('serve --host', () => {
  test('an IPv6 address in brackets, as a URL writes it, is served; an empty or spaced host exits 2', async () => {
    const t = tempDb();
    for (const host of ['', 'a b']) {
      const r = await runCli(['serve', '--port', '0', '--host', host, ...t.db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--host <host>' argument .* is invalid\. not an address or host name/);
    }
    // A machine without IPv6 loopback (some containers): the brackets are still understood, and the
    // address it lacks is refused naming --host, before anything is created.
    const ipv6 = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(0, '::1', () => probe.close(() => resolve(true)));
    });
    if (!ipv6) {
      const r = await runCli(['serve', '--port', '0', '--host', '[::1]', ...t.db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--host ::1: cannot listen on ::1 port 0: /);
      return;
    }
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '[::1]', ...t.db], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const started = new Promise<string>((resolve, reject) => {
      const seen = (d: Buffer) => {
        out += d.toString();
        const m = /API (http:\/\/\[::1\]:\d+)\/api/.exec(out);
        if (m) resolve(m[1]!);
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      child.on('close', () => reject(new Error(`serve exited: ${out}`)));
    });
    try {
      const base = await started;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('close', r));
    }
  });
});

describe('serve --port in use', () => {
  test('exits 2 naming the port before the database is opened: nothing created, no task type stored', async () => {
    const t = tempDb();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await runCli(['serve', '--port', String(port), '--handlers', join(ROOT, 'examples', 'handlers.ts'), ...t.db]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`--port ${port}: cannot listen on 127\\.0\\.0\\.1 port ${port}: listen EADDRINUSE`));
      expect(existsSync(t.path)).toBe(false);
      // An address this machine does not have is the host's fault, checked with --port 0 too.
      const host = await runCli(['serve', '--port', '0', '--host', '10.255.255.1', '--token', 'a-token-long-enough-for-the-check-1234', ...t.db]);
      expect(host.code).toBe(2);
      expect(host.stderr).toMatch(/--host 10\.255\.255\.1: cannot listen on 10\.255\.255\.1 port 0: listen EADDRNOTAVAIL/);
      expect(existsSync(t.path)).toBe(false);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});

describe('daemon intervals', () => {
  test('a poll or sleep interval under 10ms is refused (it would spin the loop): exit 2 naming the option', async () => {
    const t = tempDb();
    const [runner, worker] = await Promise.all([
      runCli(['runner', '--max-sleep', '0', ...t.db]),
      runCli(['worker', '--poll', '5ms', '--handlers', 'x.ts', ...t.db]),
    ]);
    expect(runner.code).toBe(2);
    expect(runner.stderr).toMatch(/--max-sleep .* must be at least 10ms/);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(/--poll .* must be at least 10ms/);
  });
});
