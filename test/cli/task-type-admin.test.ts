import { afterAll, describe, expect, test } from 'vitest';
import { removeTempDirs, runCli, runJson, runOk, tempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

describe('orrery task-type edit | pause | resume | delete', () => {
  test('edits fields ("none" clears a limit), pauses with a reason, resumes, deletes a type without tasks', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'fetch', '--max-running', '3', '--timeout', '1m', ...t.db]);
    const edited = await runJson(['task-type', 'edit', 'fetch', '--max-running', 'none', '--timeout', 'none', '--num-retries', '2', '--rate-limit', '5/s', '--json', ...t.db]);
    expect(edited).toMatchObject({ maxRunning: null, timeoutMs: null, numRetries: 2, rateLimit: { count: 5, perMs: 1000 }, paused: null });
    expect(await runOk(['task-type', 'edit', 'fetch', '--description', 'the fetcher', ...t.db])).toBe('edited task type fetch: description\n');

    const paused = await runJson(['task-type', 'pause', 'fetch', '--reason', 'upstream down', '--json', ...t.db]);
    expect(paused.paused).toMatchObject({ reason: 'upstream down' });
    const list = await runOk(['task-type', 'list', ...t.db]);
    expect(list).toMatch(/^NAME\s+BACKEND\s+STATE/);
    expect(list).toMatch(/fetch\s+fetch\s+paused/);
    expect(await runOk(['task-type', 'list', '-v', ...t.db])).toMatch(/paused since \S+Z: upstream down/);
    expect(await runOk(['task-type', 'resume', 'fetch', ...t.db])).toBe('task type fetch is running\n');
    expect((await runJson(['task-type', 'list', '--json', ...t.db]))[0].paused).toBeNull();

    await runOk(['task', 'add', 'fetch', '--policy', 'oneshot', ...t.db]);
    // A task's schedule paused and resumed.
    expect(await runOk(['task', 'pause', '1', '--reason', 'mailbox full', ...t.db])).toMatch(/^paused task 1 since \S+Z \(mailbox full\)\n$/);
    expect(await runOk(['task', 'list', ...t.db])).toMatch(/next_run_not_scheduled \(paused\)/);
    await runOk(['task', 'add', 'fetch', 'other', '--policy', 'oneshot', ...t.db]);
    expect((await runJson(['task', 'list', '--paused', '--json', ...t.db])).map((x: { id: number }) => x.id)).toEqual([1]);
    expect((await runJson(['task', 'list', '--no-paused', '--json', ...t.db])).map((x: { id: number }) => x.id)).toEqual([2]);
    expect(await runOk(['task', 'bulk', 'disable', '--paused', '--dry-run', ...t.db])).toBe('disable would take 1 task (dry run: nothing changed)\n');
    expect(await runOk(['task', 'resume', '1', ...t.db])).toMatch(/^resumed task 1; next run \S+Z\n$/);
    // A reason holding a newline or a tab is quoted escaped: the confirmation stays one line (hostile-data audit).
    expect(await runOk(['task', 'pause', '1', '--reason', 'disk\nfull\tagain', ...t.db])).toMatch(/^paused task 1 since \S+Z \(disk\\nfull\\tagain\)\n$/);
    // task show's paused line too: a newline in the reason could forge the next field line (CLI text audit).
    expect(await runOk(['task', 'show', '1', ...t.db])).toMatch(/\npaused {12}since \S+Z \(disk\\nfull\\tagain\)\nnext run /);
    // A description's line break in task-type list -v as well.
    await runOk(['task-type', 'edit', 'fetch', '--description', 'line1\nstatus\tforged', ...t.db]);
    expect(await runOk(['task-type', 'list', '-v', ...t.db])).toMatch(/\n {2}line1\\nstatus\\tforged\n/);
    expect(await runOk(['task-type', 'pause', 'fetch', '--reason', 'a\u001b[2Jb', ...t.db])).toMatch(/^paused task type fetch since \S+Z \(a\\u001b\[2Jb\)\n$/);
    expect(await runOk(['task-type', 'list', '-v', ...t.db])).toMatch(/paused since \S+Z: a\\u001b\[2Jb\n/);
    await runOk(['task-type', 'resume', 'fetch', ...t.db]);
    await runOk(['task', 'resume', '1', ...t.db]);
    expect(await runOk(['task', 'resume', '1', ...t.db])).toMatch(/^task 1 was not paused; next run \S+Z\n$/);
    expect((await runJson(['task', 'resume', '1', '--json', ...t.db])).paused).toBeNull();
    const busy = await runCli(['task-type', 'delete', 'fetch', ...t.db]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/task type "fetch" still has 2 tasks \(2 active\)/);
    await runOk(['task-type', 'add', 'spare', ...t.db]);
    expect(await runJson(['task-type', 'delete', 'spare', '--json', ...t.db])).toEqual({ deleted: 'spare' });
  });

  test('bad edits exit 2 naming the problem and change nothing', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'fetch', ...t.db]);
    const cases: Array<[string[], RegExp]> = [
      [['task-type', 'edit', 'fetch'], /nothing to change/],
      [['task-type', 'edit', 'fetch', '--lease', '10ms'], /leaseMs: must be at least 1s/],
      [['task-type', 'edit', 'fetch', '--backend-name', 'x'], /unknown option '--backend-name'/],
      [['task-type', 'edit', 'fetch', '--num-retries', 'many'], /not a non-negative integer/],
      [['task-type', 'edit', 'missing', '--num-retries', '1'], /unknown task type "missing"/],
      [['task-type', 'pause', 'missing'], /unknown task type "missing"/],
      [['task-type', 'delete', 'missing'], /unknown task type "missing"/],
      [['task', 'pause', '99'], /task 99 not found/],
      [['task', 'pause', 'abc'], /ID/],
      [['dag', 'pause', 'nightly'], /DAG "nightly" not found/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...args, ...t.db]);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(message);
    }
    expect((await runJson(['task-type', 'list', '--json', ...t.db]))[0]).toMatchObject({ leaseMs: 30_000, numRetries: 0, paused: null });
  });
});

describe('orrery task-type flow control (docs/limits.md)', () => {
  test('per-key rate limits, fair shares with weights, fifoPerKey: set, shown, cleared; bad values exit 2 naming the field', async () => {
    const t = tempDb();
    const added = await runJson(['task-type', 'add', 'api', '--rate-limit', '100/1m', '--rate-limit-per-key', '10/s', '--fair-share', 'tenant-b=2,tenant-a=5', '--json', ...t.db]);
    expect(added).toMatchObject({
      rateLimitPerKey: { count: 10, perMs: 1000 },
      fairShare: { weights: { 'tenant-a': 5, 'tenant-b': 2 } },
      fifoPerKey: false,
      effectiveRate: { type: { count: 100, perMs: 60_000 }, keys: [] },
    });
    const shown = await runOk(['task-type', 'list', '-v', ...t.db]);
    expect(shown).toContain('  rate limit: 100 per 1m (per key: 10 per 1s)\n');
    expect(shown).toContain('  keys: in turn (fair shares, weights tenant-a=5, tenant-b=2)\n');
    const cases: Array<[string[], RegExp]> = [
      [['task-type', 'edit', 'api', '--fifo-per-key'], /fairShare\.weights: have no effect with fifoPerKey/],
      [['task-type', 'edit', 'api', '--fair-share', 'tenant-a'], /"tenant-a" is not KEY=WEIGHT/],
      [['task-type', 'edit', 'api', '--fair-share', 'tenant-a=0'], /fairShare\.weights\.tenant-a: must be at least 1/],
      [['task-type', 'edit', 'api', '--rate-limit-per-key', '0/1s'], /the count must be a positive integer/],
      [['task-type', 'add', 'other', '--fifo-per-key', '--max-running-per-key', '2'], /maxRunningPerKey: must be null or 1 with fifoPerKey/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...args, ...t.db]);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(message);
    }
    expect((await runJson(['task-type', 'list', '--json', ...t.db])).map((x: { name: string }) => x.name)).toEqual(['api']);
    const fifo = await runJson(['task-type', 'edit', 'api', '--fair-share', 'on', '--fifo-per-key', '--rate-limit-per-key', 'none', '--json', ...t.db]);
    expect(fifo).toMatchObject({ fairShare: { weights: {} }, fifoPerKey: true, rateLimitPerKey: null });
    expect(await runOk(['task-type', 'list', '-v', ...t.db])).toContain('  keys: one run at a time each, in turn (fifoPerKey)\n');
    const off = await runJson(['task-type', 'edit', 'api', '--fair-share', 'off', '--no-fifo-per-key', '--json', ...t.db]);
    expect(off).toMatchObject({ fairShare: null, fifoPerKey: false });
  });
});

describe('orrery run list', () => {
  test('lists runs across tasks with filters and a cursor; bad filters exit 2', async () => {
    const t = tempDb();
    await runOk(['task-type', 'add', 'job', ...t.db]);
    for (const i of [1, 2, 3]) await runOk(['task', 'add', 'job', String(i), '--policy', 'oneshot', '--at', '2026-01-01T00:00:00Z', ...t.db]);
    await runOk(['task', 'schedule', '--at', '2026-01-01T00:00:00Z', ...t.db]);
    // --json prints an array, as every listing (SPEC 6.3); a full page's cursor goes to stderr.
    const first = await runCli(['run', 'list', '--status', 'scheduled', '--limit', '2', '--json', ...t.db]);
    expect(first.code).toBe(0);
    const page = JSON.parse(first.stdout);
    expect(Array.isArray(page) && page.length).toBe(2);
    const cursor = /^more: orrery run list \.\.\. --cursor (\S+)\n$/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const rest = await runCli(['run', 'list', '--status', 'scheduled', '--limit', '2', '--cursor', cursor!, '--json', ...t.db]);
    expect(JSON.parse(rest.stdout)).toEqual([expect.objectContaining({ status: 'scheduled' })]);
    expect(rest.stderr).toBe('');
    const text = await runOk(['run', 'list', '--type', 'job', '--limit', '2', ...t.db]);
    expect(text).toMatch(/^BACKEND ID\s+TASK\s+TYPE\s+STATUS/);
    expect(text).toMatch(/more: orrery run list \.\.\. --cursor \S+/);
    expect(await runOk(['run', 'list', '--status', 'failed', ...t.db])).toBe('no run matches\n');
    for (const [args, message] of [
      [['--status', 'done'], /status: "done" is not a run status/],
      [['--limit', '5000'], /limit: must be an integer from 1 to 1000/],
      [['--since', 'soon'], /since/],
      [['--cursor', 'zzz'], /cursor: is not a cursor of this listing/],
    ] as Array<[string[], RegExp]>) {
      const r = await runCli(['run', 'list', ...args, ...t.db]);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 2]);
      expect(r.stderr).toMatch(message);
    }
  });
});
