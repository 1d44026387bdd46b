/**
 * What the built binary prints: the JSON shapes of SPEC §6.3 (one document, ISO instants with
 * milliseconds and Z, integer milliseconds in `...Ms` fields), readable tables without --json,
 * database selection (§6.1), and help.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { DAY, HOUR, ISO_MS, ROOT, errorLines, removeTempDirs, runCli, runJson, runOk, tempDb, tempDir, type RunOptions, type TempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

/** Every key that holds an instant in the CLI's JSON. */
const INSTANT_KEYS = new Set(['nextRun', 'created', 'scheduled', 'started', 'ended', 'leaseExpiresAt', 'at', 'updated']);

/** Problems with SPEC §6.3 anywhere in a JSON value: instants not ISO-with-ms-Z, durations not integer ms in `...Ms`. */
function shapeProblems(value: unknown, path = '$'): string[] {
  const out: string[] = [];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...shapeProblems(v, `${path}[${i}]`)));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const p = `${path}.${k}`;
      if (k.endsWith('Ms')) {
        if (v !== null && !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) out.push(`${p}: duration ${JSON.stringify(v)} is not integer ms`);
      } else if (/interval|delay|timeout|^lease$/i.test(k)) out.push(`${p}: a duration field must end in Ms`);
      if (INSTANT_KEYS.has(k) && v !== null && !(typeof v === 'string' && ISO_MS.test(v))) out.push(`${p}: instant ${JSON.stringify(v)} is not ISO with ms and Z`);
      if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) && !ISO_MS.test(v)) out.push(`${p}: instant ${JSON.stringify(v)} is not ISO with ms and Z`);
      out.push(...shapeProblems(v, p));
    }
  }
  return out;
}

/** Splits a table into rows of cells (columns are separated by two or more spaces). */
function cells(text: string): string[][] {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => l.split(/ {2,}/));
}

describe('output of a populated database (selected with ORRERY_DB)', () => {
  let db: TempDb;
  let env: RunOptions;
  const cli = (args: string[]) => runCli(args, env);
  const ok = (args: string[]) => runOk(args, env);
  const json = <T = any>(args: string[]) => runJson<T>(args, env);
  let loadGit: any;
  let notifyTask: any;
  let backendId = '';

  beforeAll(async () => {
    db = tempDb();
    env = { env: { ORRERY_DB: db.url } };
    loadGit = await json([
      'task-type', 'add', 'load-git', '--default-interval', '1d', '--min-interval', '12h', '--max-interval', '64d', '--backoff-factor', '2',
      '--num-retries', '1', '--retry-delay', '1h', '--timeout', '10m', '--lease', '90s', '--description', 'Load git repositories', '--json',
    ]);
    await Promise.all([
      ok(['task-type', 'add', 'slow', '--default-interval', 'P1DT12H', '--min-interval', '1d12h', '--max-interval', '64d', '--max-queue-length', 'none', '--backoff-factor', '1.5']),
      ok(['task-type', 'add', 'notify', '--backend-name', 'mailer', '--max-queue-length', '5']),
    ]);
    [notifyTask] = await Promise.all([
      json(['task', 'add', 'notify', '42', 'n=2', 'tags=["a"]', 'mode=full', 'flag=true', 'none=null', '--policy', 'oneshot', '--next-run', '2026-01-01', '--priority', 'high', '--json']),
      // An offset is normalised to UTC.
      ok(['task', 'add', 'load-git', 'https://example.org/r.git', '--next-run', '2026-01-01T00:00:00+01:00']),
    ]);
  });

  test('task-type add --json: durations as integer milliseconds in ...Ms fields', async () => {
    expect(loadGit).toEqual({
      name: 'load-git',
      description: 'Load git repositories',
      backendName: 'load-git',
      defaultIntervalMs: DAY,
      minIntervalMs: 12 * HOUR,
      maxIntervalMs: 64 * DAY,
      backoffFactor: 2,
      maxQueueLength: 1000,
      numRetries: 1,
      retryDelayMs: HOUR,
      timeoutMs: 600_000,
      leaseMs: 90_000,
      maxAbandons: 3,
      maxRunning: null,
      maxRunningPerKey: null,
      rateLimit: null,
      rateLimitPerKey: null,
      fairShare: null,
      fifoPerKey: false,
      paused: null,
      effectiveRate: null,
    });
    const types = await json<any[]>(['task-type', 'list', '--json']);
    expect(Array.isArray(types)).toBe(true);
    expect(types.map((t) => t.name).sort()).toEqual(['load-git', 'notify', 'slow']);
    expect(types.find((t) => t.name === 'slow')).toMatchObject({ defaultIntervalMs: 36 * HOUR, minIntervalMs: 36 * HOUR, maxIntervalMs: 64 * DAY, backoffFactor: 1.5, maxQueueLength: null, timeoutMs: null, leaseMs: 30_000 });
    expect(types.find((t) => t.name === 'notify')).toMatchObject({ backendName: 'mailer', defaultIntervalMs: null, minIntervalMs: null, maxIntervalMs: null, maxQueueLength: 5 });
    expect(shapeProblems(types)).toEqual([]);
    expect(await json(['task-type', 'list', '-t', 'slow', '--json'])).toEqual([types.find((t) => t.name === 'slow')]);
  });

  test('task add --json: arguments parsed as JSON where valid, instants in UTC with milliseconds', async () => {
    expect(notifyTask).toMatchObject({
      type: 'notify',
      arguments: { args: [42], kwargs: { n: 2, tags: ['a'], mode: 'full', flag: true, none: null } },
      policy: 'oneshot',
      nextRun: '2026-01-01T00:00:00.000Z',
      currentIntervalMs: null,
      priority: 'high',
      retriesLeft: 0,
    });
    const [t] = await json<any[]>(['task', 'list', '-t', 'load-git', '--json']);
    expect(t).toMatchObject({ nextRun: '2025-12-31T23:00:00.000Z', currentIntervalMs: DAY });
    expect(t.created).toMatch(ISO_MS);
    expect(shapeProblems(notifyTask)).toEqual([]);
  });

  test('every listing and command accepts --json and prints exactly one JSON document', async () => {
    const pending = await json<any[]>(['task', 'list-pending', 'load-git', '--at', '2026-01-01T00:00:00Z', '--json']);
    expect(pending.map((t) => t.type)).toEqual(['load-git']);
    const runs = await json<any[]>(['task', 'schedule', '--at', '2026-01-01T00:00:00Z', '--json']);
    expect(runs.map((r) => r.type).sort()).toEqual(['load-git', 'notify']);
    backendId = runs.find((r) => r.type === 'notify').backendId;
    const started = await json(['run', 'start', backendId, '--at', '2026-01-01T00:00:00Z', '--worker', 'w1', '--metadata', '{"a":1,"b":1}', '--json']);
    expect(started).toMatchObject({ status: 'started', worker: 'w1', leaseExpiresAt: '2026-01-01T00:00:30.000Z', metadata: { a: 1, b: 1 } });
    const ended = await json(['run', 'end', backendId, '--status', 'eventful', '--at', '2026-01-01T00:00:20Z', '--metadata', '{"b":2}', '--result', 'null', '--json']);
    expect(ended.taskUpdated).toBe(true);
    // Metadata is shallow-merged, later keys win; a JSON null result stays null.
    expect(ended.run).toMatchObject({ status: 'eventful', ended: '2026-01-01T00:00:20.000Z', metadata: { a: 1, b: 2 }, result: null });
    expect(ended.task).toMatchObject({ id: notifyTask.id, status: 'completed' });

    const commands: [string[], 'array' | 'object'][] = [
      [['task-type', 'list', '--json'], 'array'],
      [['task-type', 'list', '-v', '--json'], 'array'],
      [['task', 'list', '--json'], 'array'],
      [['task', 'list', '--status', 'completed', '--json'], 'array'],
      [['task', 'list-pending', 'slow', '--json'], 'array'],
      [['task', 'show', String(notifyTask.id), '--json'], 'object'],
      [['run', 'show', backendId, '--json'], 'object'],
      [['task', 'schedule', '--at', '2026-01-01T00:00:00Z', '--json'], 'array'],
    ];
    const results = await Promise.all(commands.map(([args]) => cli(args)));
    results.forEach((r, i) => {
      const [args, kind] = commands[i]!;
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
      const doc = JSON.parse(r.stdout);
      expect(Array.isArray(doc)).toBe(kind === 'array');
      expect(shapeProblems(doc)).toEqual([]);
    });
    const show = JSON.parse(results[5]!.stdout);
    expect(show.runs).toHaveLength(1);
    expect(show.runs[0]).toMatchObject({ backendId, scheduled: '2026-01-01T00:00:00.000Z', started: '2026-01-01T00:00:00.000Z', ended: '2026-01-01T00:00:20.000Z' });
    expect(JSON.parse(results[6]!.stdout)).toMatchObject({ backendId, result: null, logs: [] });
    expect(JSON.parse(results[7]!.stdout)).toEqual([]); // nothing new is due
    expect(JSON.parse(results[3]!.stdout).map((t: any) => t.id)).toEqual([notifyTask.id]);
  });

  test('run show counts its log records, one in the singular', async () => {
    expect(await ok(['run', 'show', backendId])).toContain('\nlog (0 records):\n');
    const o = await openOrrery({ db: db.url });
    try {
      await o.appendRunLogs(backendId, [{ level: 'info', message: 'ran', attributes: {}, at: new Date('2026-01-01T00:00:10Z') }]);
    } finally {
      await o.close();
    }
    expect(await ok(['run', 'show', backendId])).toContain('\nlog (1 record):\n');
  });

  test('task disable / respawn --json print the tasks', async () => {
    const [disabled] = await json<any[]>(['task', 'disable', String(notifyTask.id), '--json']);
    expect(disabled).toMatchObject({ id: notifyTask.id, status: 'disabled', disabledReason: 'manual' });
    const [respawned] = await json<any[]>(['task', 'respawn', String(notifyTask.id), '--next-run', '2026-02-01T12:00:00Z', '--json']);
    expect(respawned).toMatchObject({ id: notifyTask.id, status: 'next_run_not_scheduled', disabledReason: null, nextRun: '2026-02-01T12:00:00.000Z' });
    expect(shapeProblems([disabled, respawned])).toEqual([]);
  });

  test('tables without --json: compact durations and ISO instants', async () => {
    const [types, verbose, tasks, show] = await Promise.all([
      ok(['task-type', 'list']),
      ok(['task-type', 'list', '-v', '-t', 'slow']),
      ok(['task', 'list', '-t', 'load-git']),
      ok(['task', 'show', String(notifyTask.id)]),
    ]);
    expect(cells(types)).toEqual([
      ['NAME', 'BACKEND', 'STATE', 'INTERVAL [MIN, MAX]', 'FACTOR', 'QUEUE', 'RETRIES', 'LEASE', 'DESCRIPTION'],
      ['load-git', 'load-git', 'running', '1d [12h, 64d]', '2', '1000', '1', '1m30s', 'Load git repositories'],
      ['notify', 'mailer', 'running', '-', '1', '5', '0', '30s'],
      ['slow', 'slow', 'running', '1d12h [1d12h, 64d]', '1.5', 'unbounded', '0', '30s'],
    ]);
    expect(verbose).toBe(
      'slow: slow\n  interval: 1d12h [1d12h, 64d]\n  backoff factor: 1.5\n  max queue length: unbounded\n  retries: 0 (delay 1h)\n  timeout: -\n  lease: 30s\n  max abandons: 3\n  max running: unbounded (per key: unbounded)\n  rate limit: none (per key: none)\n  keys: in claim order\n',
    );
    const [head, row, ...rest] = cells(tasks);
    expect(head).toEqual(['ID', 'TYPE', 'POLICY', 'STATUS', 'PRIORITY', 'NEXT RUN', 'INTERVAL', 'ARGUMENTS']);
    expect(row!.slice(1)).toEqual(['load-git', 'recurring', 'next_run_scheduled', '-', '2025-12-31T23:00:00.000Z', '1d', '"https://example.org/r.git"']);
    expect(rest).toEqual([]);
    expect(show).toContain('\nnext run          2026-02-01T12:00:00.000Z\n');
    expect(show).toContain('\nkwargs            {"n":2,"tags":["a"],"mode":"full","flag":true,"none":null}\n');
    expect(show).toContain('\nruns (1):\n');
    expect(show).toMatch(new RegExp(`\\n${backendId} +${notifyTask.id} +notify +eventful +1 +2026-01-01T00:00:00\\.000Z +2026-01-01T00:00:00\\.000Z +2026-01-01T00:00:00\\.000Z +2026-01-01T00:00:20\\.000Z +w1\\n`));
  });

  test('worker list: registered workers (idle ones alive, stopped ones stopped) as a table and as JSON; bad input exits 2', async () => {
    const orrery = await openOrrery({ db: db.url });
    try {
      await orrery.registerWorker({ id: 'vm:1:idle', host: 'vm', pid: 1, types: ['slow', 'load-git'], concurrency: 4 });
      await orrery.registerWorker({ id: 'vm:2:done', host: 'vm', pid: 2, types: [], concurrency: 1 });
      await orrery.stopWorker('vm:2:done');
    } finally {
      await orrery.close();
    }
    const [head, ...rows] = cells(await ok(['worker', 'list']));
    expect(head).toEqual(['WORKER', 'LIVENESS', 'HOST', 'PID', 'RUNNING', 'CONCURRENCY', 'STARTED', 'LAST SEEN', 'TYPES']);
    expect(rows.map((r) => [...r.slice(0, 6), r[8]])).toEqual([
      ['vm:1:idle', 'alive', 'vm', '1', '0', '4', 'load-git,slow'],
      ['vm:2:done', 'stopped', 'vm', '2', '0', '1', '(none)'],
    ]);
    for (const r of rows) for (const instant of r.slice(6, 8)) expect(instant).toMatch(ISO_MS);
    const listed = await json<any[]>(['worker', 'list', '--minutes', '5', '--json']);
    expect(listed.map((w) => [w.worker, w.liveness, w.registered, w.stoppedAt === null])).toEqual([
      ['vm:1:idle', 'alive', true, true],
      ['vm:2:done', 'stopped', true, false],
    ]);
    // `ended` is a count of runs here, as in GET /api/workers (not an instant).
    expect(shapeProblems(listed.map(({ ended, ...w }) => (expect(ended).toBe(0), w)))).toEqual([]);
    const [zero, stray, wide] = await Promise.all([cli(['worker', 'list', '--minutes', '0']), cli(['worker', 'list', '--handlers', 'h.js']), cli(['worker', 'list', '--minutes', '2000'])]);
    expect([zero.code, stray.code, wide.code]).toEqual([2, 2, 2]);
    expect(stray.stderr).toBe('orrery: --handlers: not an option of worker list\n');
    // Both ends of the range are told by the option parser, in its words, as status --minutes does.
    expect(zero.stderr).toMatch(/^error: option '--minutes <n>' argument '0' is invalid\. must be at least 1 /);
    expect(wide.stderr).toMatch(/^error: option '--minutes <n>' argument '2000' is invalid\. at most 1440 /);
  });

  test('task schedule without --json prints a count and a table', async () => {
    const out = await ok(['task', 'schedule', '--at', '2026-02-01T12:00:00Z']);
    const [count, head, row, ...rest] = out.trimEnd().split('\n');
    expect(count).toBe('scheduled 1 run');
    expect(head!.split(/ {2,}/)).toEqual(['BACKEND ID', 'TASK', 'TYPE', 'STATUS', 'ATTEMPT', 'SCHEDULED', 'SERVES', 'STARTED', 'ENDED', 'WORKER', 'ERROR']);
    expect(row!.split(/ {2,}/).slice(1)).toEqual([String(notifyTask.id), 'notify', 'scheduled', '1', '2026-02-01T12:00:00.000Z', '2026-02-01T12:00:00.000Z', '-', '-', '-']); // the empty ERROR column is trimmed
    expect(rest).toEqual([]);
  });
});

describe('database selection (SPEC §6.1)', () => {
  test('--db wins over ORRERY_DB; without either, ./orrery.db in the working directory; an empty database lists nothing', async () => {
    const good = tempDb();
    const cwd = tempDir();
    const [withBoth, withNeither] = await Promise.all([
      runCli(['task-type', 'add', 'a', '--json', '--db', good.url], { env: { ORRERY_DB: `sqlite:${join(tempDir(), 'missing', 'x.db')}` } }),
      runCli(['task-type', 'list', '--json'], { cwd }),
    ]);
    expect(withBoth).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(withBoth.stdout).name).toBe('a');
    expect(existsSync(good.path)).toBe(true);
    // A listing creates nothing: it answers as an empty database and says there is none.
    expect(withNeither).toEqual({ code: 0, stdout: '[]\n', stderr: 'orrery: no database at ./orrery.db (the default --db): answered as an empty database, nothing created\n' });
    expect(existsSync(join(cwd, 'orrery.db'))).toBe(false);
    expect(await runCli(['task-type', 'add', 'b', '--json'], { cwd })).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(join(cwd, 'orrery.db'))).toBe(true);
    await runOk(['task-type', 'delete', 'b'], { cwd });
    const [typesText, tasks] = await Promise.all([runOk(['task-type', 'list'], { cwd }), runOk(['task', 'list', '--json'], { cwd })]);
    expect(typesText).toBe('no task types yet (create one with: orrery task-type add NAME)\n');
    expect(tasks).toBe('[]\n');
  });
});

describe('help and version', () => {
  test('orrery --help, orrery task --help, --version exit 0; npx orrery --help works from the checkout', async () => {
    // The binary itself, in child processes (most other tests run the built CLI in-process).
    const [help, taskHelp, version, npx] = await Promise.all([
      runCli(['--help'], { spawn: true }),
      runCli(['task', '--help'], { spawn: true }),
      runCli(['--version'], { spawn: true }),
      runCli(['orrery', '--help'], { command: 'npx', cwd: ROOT, env: { npm_config_update_notifier: 'false', npm_config_yes: 'false' } }),
    ]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: orrery \[options\] \[command\]\n/);
    for (const c of ['task-type', 'task', 'run', 'runner', 'worker', 'serve']) expect(help.stdout).toMatch(new RegExp(`\\n  ${c} `));
    expect(taskHelp).toMatchObject({ code: 0, stderr: '' });
    expect(taskHelp.stdout).toMatch(/^Usage: orrery task \[options\] \[command\]\n/);
    for (const c of ['add', 'list', 'list-pending', 'show', 'disable', 'respawn', 'schedule']) expect(taskHelp.stdout).toMatch(new RegExp(`\\n  ${c} `));
    expect(version).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout).toBe(help.stdout);
  });

  test('no command, or a command group without its subcommand: exit 2, the usage and `missing command` on stderr', async () => {
    const [none, task, helpTask, helpNope] = await Promise.all([
      runCli([], { spawn: true }),
      runCli(['task'], { spawn: true }),
      runCli(['help', 'task'], { spawn: true }),
      runCli(['help', 'nope'], { spawn: true }),
    ]);
    for (const [r, usage] of [[none, 'Usage: orrery [options] [command]'], [task, 'Usage: orrery task [options] [command]']] as const) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.startsWith(usage)).toBe(true);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('error: missing command');
    }
    // `orrery help task` asks for help: exit 0 on stdout; `help` of an unknown command is invalid input.
    expect(helpTask.code).toBe(0);
    expect(helpTask.stdout).toMatch(/^Usage: orrery task \[options\] \[command\]\n/);
    expect(helpNope.code).toBe(2);
    expect(helpNope.stderr.trimEnd().split('\n').at(-1)).toBe("error: unknown command 'nope' (run with --help for usage)");
    // `help GROUP SUBCOMMAND` is that subcommand's help; an unknown subcommand is invalid input.
    const [helpAdd, helpTaskNope] = await Promise.all([runCli(['help', 'task', 'add'], { spawn: true }), runCli(['help', 'task', 'nope'], { spawn: true })]);
    expect(helpAdd.code).toBe(0);
    expect(helpAdd.stdout).toMatch(/^Usage: orrery task add \[options\] <type> \[arguments\.\.\.\]\n/);
    expect(helpTaskNope.code).toBe(2);
    expect(helpTaskNope.stderr).toMatch(/error: unknown command 'nope'/);
  });

  test('a command without its required argument: exit 2 and one line naming it', async () => {
    const r = await runCli(['task', 'show']);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(["error: missing required argument 'id'"]);
  });
});
