/**
 * Visit scheduling through the built `orrery` binary on a real SQLite file: listers, listed origins
 * (one and a JSONL file), grab-next, visited, metrics, the visit-scheduler's pass, and bad input.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, removeTempDirs, runCli, runJson, runOk, tempDb, UUID, type TempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

const T0 = '2026-01-01T00:00:00.000Z';

describe('orrery lister / origin / visit-scheduler', () => {
  let db: TempDb;
  let lister: { id: string; updated: string };

  beforeAll(async () => {
    db = tempDb();
    lister = await runJson(['lister', 'add', 'gitlab', '--instance', 'gitlab.example', '--at', T0, '--json', ...db.db]);
  });

  it('lister add is idempotent; list and show print the same shapes', async () => {
    expect(lister).toMatchObject({ name: 'gitlab', instanceName: 'gitlab.example', currentState: {}, created: T0, updated: T0, lastListingFinishedAt: null });
    expect(lister.id).toMatch(UUID);
    expect(await runJson(['lister', 'add', 'gitlab', '--instance', 'gitlab.example', '--json', ...db.db])).toEqual(lister);
    expect(await runJson(['lister', 'list', '--json', ...db.db])).toEqual([lister]);
    expect(await runJson(['lister', 'show', lister.id, '--json', ...db.db])).toEqual(lister);
    expect(await runOk(['lister', 'list', ...db.db])).toContain('gitlab.example');
  });

  it('records origins from arguments and from a JSONL file; lists them with pagination', async () => {
    const { origins: [one] } = await runJson(['origin', 'record', lister.id, 'https://a.example/x.git', 'git', '--last-update', '2025-12-01', '--extra', '{"depth":1}', '--at', T0, '--json', ...db.db]);
    expect(one).toEqual({
      listerId: lister.id,
      url: 'https://a.example/x.git',
      visitType: 'git',
      extraLoaderArguments: { depth: 1 },
      lastUpdate: '2025-12-01T00:00:00.000Z',
      firstSeen: T0,
      lastSeen: T0,
      enabled: true,
    });
    const file = join(db.dir, 'origins.jsonl');
    // A byte order mark and \r\n endings, as an editor on Windows writes them.
    writeFileSync(file, '\ufeff' + ['{"url":"https://b.example/y.git","visitType":"git"}', '', '{"url":"https://c.example/z.git","visitType":"git","lastUpdate":"2025-11-01T00:00:00Z"}'].join('\r\n'));
    expect(await runOk(['origin', 'record', lister.id, '--file', file, '--at', T0, ...db.db])).toBe('recorded 2 origins\n');
    // --json prints an array (SPEC §6.3); the next page's token goes to stderr.
    const page1 = await runCli(['origin', 'list', '--limit', '2', '--json', ...db.db]);
    expect(page1.code).toBe(0);
    expect(JSON.parse(page1.stdout).map((o: { url: string }) => o.url)).toEqual(['https://a.example/x.git', 'https://b.example/y.git']);
    const token = /^more: --page-token (\S+)\n$/.exec(page1.stderr)![1]!;
    const page2 = await runJson(['origin', 'list', '--limit', '2', '--page-token', token, '--json', ...db.db]);
    expect(page2).toMatchObject([{ url: 'https://c.example/z.git' }]);
    expect(await runOk(['origin', 'list', '--limit', '2', ...db.db])).toMatch(new RegExp(`more: --page-token ${token}\n$`));
  });

  it('grab-next by policy (dry run first), visited, metrics', async () => {
    const at = '2026-01-02T00:00:00.000Z';
    const dry = await runJson(['origin', 'grab-next', 'git', '--count', '5', '--policy', 'never_visited_oldest_update_first', '--dry-run', '--at', at, '--json', ...db.db]);
    expect(dry.map((o: { url: string }) => o.url)).toEqual(['https://c.example/z.git', 'https://a.example/x.git']);
    const grabbed = await runJson(['origin', 'grab-next', 'git', '--count', '1', '--policy', 'never_visited_oldest_update_first', '--at', at, '--json', ...db.db]);
    expect(grabbed.map((o: { url: string }) => o.url)).toEqual(['https://c.example/z.git']);
    // just scheduled: the absolute cooldown (12h) keeps it out; with a zero cooldown it comes back
    expect((await runJson(['origin', 'grab-next', 'git', '--count', '5', '--policy', 'oldest_scheduled_first', '--dry-run', '--at', at, '--json', ...db.db])).length).toBe(2);
    expect((await runJson(['origin', 'grab-next', 'git', '--count', '5', '--policy', 'oldest_scheduled_first', '--dry-run', '--absolute-cooldown', '0s', '--scheduled-cooldown', '0s', '--at', '2026-01-02T00:00:01Z', '--json', ...db.db])).length).toBe(3);

    const v = await runJson(['origin', 'visited', 'https://c.example/z.git', 'git', '--status', 'successful', '--snapshot', 'snap1', '--at', '2026-01-02T01:00:00Z', '--json', ...db.db]);
    expect(v).toMatchObject({ applied: true, eventful: true, disabled: false, stats: { lastVisitStatus: 'successful', lastSnapshot: 'snap1', nextPositionOffset: 2, lastScheduled: at } });
    expect(await runOk(['origin', 'visited', 'https://c.example/z.git', 'git', '--status', 'failed', '--at', '2026-01-02T00:30:00Z', ...db.db])).toMatch(/^ignored/);

    // `origin metrics` counts now (SPEC §4: known, enabled, never visited, with pending changes); --stored reads the last update's rows.
    const counts = { listerId: lister.id, visitType: 'git', originsKnown: 3, originsEnabled: 3, originsNeverVisited: 2, originsWithPendingChanges: 0 };
    expect(await runJson(['origin', 'metrics', '--json', ...db.db])).toEqual([{ ...counts, updated: expect.any(String) }]);
    expect(await runJson(['origin', 'metrics', '--stored', '--json', ...db.db])).toEqual([]);
    expect(await runOk(['origin', 'metrics', '--stored', ...db.db])).toMatch(/^no metrics stored \(run `orrery origin update-metrics`\)/);
    expect(await runOk(['origin', 'metrics', '--visit-type', 'hg', ...db.db])).toMatch(/^no listed origins/);
    const m = await runJson(['origin', 'update-metrics', '--at', at, '--json', ...db.db]);
    expect(m).toEqual([{ ...counts, updated: at }]);
    expect(await runJson(['origin', 'metrics', '--stored', '--lister', lister.id, '--json', ...db.db])).toEqual(m);
  });

  it('visit-scheduler --once creates one-shot visit tasks and records their results', async () => {
    await runOk(['task-type', 'add', 'git', ...db.db]);
    const at = '2026-03-01T00:00:00.000Z';
    const pass = await runJson(['visit-scheduler', '--once', '--visit-types', 'git', '--queue', '2', '--policies', 'oldest_scheduled_first', '--at', at, '--json', ...db.db]);
    expect(pass).toEqual({ recorded: 0, scheduled: { git: 2 } });
    const tasks = await runJson(['task', 'list', '-t', 'git', '--json', ...db.db]);
    expect(tasks.map((t: { policy: string; arguments: { args: string[] } }) => [t.policy, t.arguments.args[0]])).toEqual([
      ['oneshot', 'https://a.example/x.git'],
      ['oneshot', 'https://b.example/y.git'],
    ]);
    // a full queue is not refilled (and still reported, with 0)
    expect(await runJson(['visit-scheduler', '--once', '--visit-types', 'git', '--queue', '2', '--at', at, '--json', ...db.db])).toEqual({ recorded: 0, scheduled: { git: 0 } });
    const runs = await runJson(['task', 'schedule', '--at', at, '--json', ...db.db]);
    for (const r of runs) {
      await runOk(['run', 'start', r.backendId, '--at', at, ...db.db]);
      await runOk(['run', 'end', r.backendId, '--status', 'uneventful', '--at', '2026-03-01T00:01:00Z', ...db.db]);
    }
    const next = await runJson(['visit-scheduler', '--once', '--visit-types', 'git', '--queue', '2', '--at', '2026-03-01T00:02:00Z', '--json', ...db.db]);
    expect(next.recorded).toBe(2);
    // no result on the runs: recorded as failed visits
    const failed = await runJson(['origin', 'grab-next', 'git', '--count', '5', '--policy', 'stop_after_success', '--dry-run', '--failed-cooldown', '0s', '--absolute-cooldown', '0s', '--at', '2026-04-01T00:00:00Z', '--json', ...db.db]);
    expect(failed.map((o: { url: string }) => o.url)).toEqual(['https://a.example/x.git', 'https://b.example/y.git']);
    // A visit task disabled before it ran records nothing, and is not counted as recorded.
    const waiting = await runJson(['task', 'list', '-t', 'git', '--status', 'next_run_not_scheduled', '--json', ...db.db]);
    expect(waiting.length).toBeGreaterThan(0);
    await runOk(['task', 'disable', String(waiting[0].id), ...db.db]);
    const after = await runJson(['visit-scheduler', '--once', '--visit-types', 'git', '--queue', '2', '--at', '2026-03-01T00:03:00Z', '--json', ...db.db]);
    expect(after.recorded).toBe(0);
  });

  it('bad input exits 2 with a message naming the problem, and writes nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['origin', 'record', 'not-a-uuid', 'u', 'git'], /LISTER_ID: "not-a-uuid" is not a lister id/],
      [['origin', 'record', lister.id, 'u'], /URL and VISIT_TYPE are required/],
      [['origin', 'record', lister.id, 'u', 'Bad Type!'], /visitType/],
      [['origin', 'record', lister.id, 'u', 'git', '--extra', '[1]'], /--extra/],
      [['origin', 'record', '00000000-0000-4000-8000-000000000000', 'u', 'git'], /unknown lister/],
      [['origin', 'grab-next', 'git', '--count', '1', '--policy', 'newest'], /--policy/],
      // Every bad count in the library's words, named as the option (a negative one, a fraction: the parser's own 'is not a non-negative integer').
      ...['-1', '1.5', 'x', '100001'].map((n): [string[], RegExp] => [['origin', 'grab-next', 'git', '--count', n, '--policy', 'oldest_scheduled_first'], /^orrery: --count: must be an integer from 0 to 100000$/]),
      [['origin', 'grab-next', 'git', '--count', '1', '--policy', 'first_visits_after_listing'], /needs --lister/],
      [['origin', 'grab-next', 'git', '--count', '1', '--policy', 'oldest_scheduled_first', '--failed-cooldown', 'soon'], /--failed-cooldown/],
      [['origin', 'visited', 'u', 'git', '--status', 'partial'], /--status/],
      [['origin', 'list', '--page-token', 'abc'], /pageToken/],
      [['lister', 'show', '00000000-0000-4000-8000-000000000000'], /not found/],
      // A lister named by a filter must exist, as for grab-next and metrics (these answered empty).
      [['origin', 'list', '--lister', '00000000-0000-4000-8000-000000000000'], /lister 00000000-0000-4000-8000-000000000000 not found/],
      [['origin', 'metrics-history', '--lister', '00000000-0000-4000-8000-000000000000'], /lister 00000000-0000-4000-8000-000000000000 not found/],
      [['origin', 'grab-next', 'git', '--count', '1', '--policy', 'oldest_scheduled_first', '--lister', '00000000-0000-4000-8000-000000000000'], /not found/],
      [['visit-scheduler', '--once', '--visit-types', 'git', '--lister', '00000000-0000-4000-8000-000000000000'], /lister 00000000-0000-4000-8000-000000000000 not found/],
      // the loop too: it started and failed every pass
      [['visit-scheduler', '--visit-types', 'git', '--lister', '00000000-0000-4000-8000-000000000000'], /--lister: lister 00000000-0000-4000-8000-000000000000 not found/],
      [['visit-scheduler', '--once', '--visit-types', 'hg'], /no task type named hg/],
      [['visit-scheduler', '--visit-types', 'git', '--json'], /--json only applies to --once/], // it ran as a daemon, printing nothing
      [['visit-scheduler', '--once', '--visit-types', 'git', '--policies', 'oldest_scheduled_first=0'], /--policies/],
      [['visit-scheduler', '--once', '--visit-types', 'git', '--policies', 'first_visits_after_listing=1'], /first_visits_after_listing policy needs a lister/],
      // the loop too: it started and failed every pass
      [['visit-scheduler', '--visit-types', 'git', '--policies', 'first_visits_after_listing=1'], /^orrery: --policies: the first_visits_after_listing policy needs a lister/],
      // one queue per visit type (the loop started with two queues sharing one count)
      [['visit-scheduler', '--visit-types', 'git,git'], /^orrery: --visit-types: "git" is named twice/],
      [['visit-scheduler', '--once', '--visit-types', 'git, hg ,git'], /--visit-types: "git" is named twice/],
    ];
    const before = await runJson(['origin', 'list', '--json', ...db.db]);
    for (const [args, message] of cases) {
      const r = await runCli([...args, ...db.db]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorLines(r.stderr).join('\n'), args.join(' ')).toMatch(message);
    }
    const file = join(db.dir, 'bad.jsonl');
    // Named by its line in the file (blank lines counted), as `task import` names its lines.
    writeFileSync(file, '{"url":"https://ok","visitType":"git"}\n\n{"url":"","visitType":"git"}\n');
    const r = await runCli(['origin', 'record', lister.id, '--file', file, ...db.db]);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(['orrery: --file: line 3: url: must be a non-empty string of at most 2048 bytes of UTF-8 (2048 ASCII characters)']);
    const two = join(db.dir, 'two-bad.jsonl');
    writeFileSync(two, '{"url":"","visitType":"git"}\n{"url":"https://ok","visitType":"Bad Type!"}\n');
    const r2 = await runCli(['origin', 'record', lister.id, '--file', two, ...db.db]);
    expect(r2.code).toBe(2);
    expect(errorLines(r2.stderr).join('\n')).toMatch(/line 1\.url: .*; line 2\.visitType: /);
    // Bytes that are not UTF-8 are refused with their line (not stored as U+FFFD), as task import refuses them.
    const latin = join(db.dir, 'latin1.jsonl');
    writeFileSync(latin, Buffer.concat([Buffer.from('{"url":"https://ok","visitType":"git"}\n{"url":"https://a/'), Buffer.from([0xff]), Buffer.from('","visitType":"git"}\n')]));
    const r3 = await runCli(['origin', 'record', lister.id, '--file', latin, ...db.db]);
    expect(r3.code).toBe(2);
    expect(errorLines(r3.stderr)).toEqual(['orrery: --file: line 2: is not valid UTF-8']);
    // A lastUpdate that is not text is named as every field is (`field: problem`).
    const numeric = join(db.dir, 'numeric.jsonl');
    writeFileSync(numeric, '{"url":"https://n","visitType":"git","lastUpdate":1700000000000}\n');
    const rNum = await runCli(['origin', 'record', lister.id, '--file', numeric, ...db.db]);
    expect(rNum.code).toBe(2);
    expect(errorLines(rNum.stderr)).toEqual(['orrery: --file: line 1: lastUpdate: must be an ISO 8601 instant']);
    // A line naming another lister is refused (it was recorded for the command's lister); the command's own is accepted.
    const other = join(db.dir, 'other-lister.jsonl');
    // The command's own lister in capitals is the same lister (a UUID's case does not matter; it was refused).
    writeFileSync(other, `{"url":"https://ok","visitType":"git","listerId":"${lister.id.toUpperCase()}"}\n{"url":"https://b","visitType":"git","listerId":"00000000-0000-4000-8000-000000000000"}\n`);
    const r4 = await runCli(['origin', 'record', lister.id, '--file', other, ...db.db]);
    expect(r4.code).toBe(2);
    expect(errorLines(r4.stderr)).toEqual([
      `orrery: --file: line 2: listerId: "00000000-0000-4000-8000-000000000000" is not the command's lister ${lister.id} (leave it out: every line is recorded for ${lister.id})`,
    ]);
    // An integer past 2^53-1 in a line's loader arguments would be stored rounded: refused with its line, and how to keep it.
    const big = join(db.dir, 'big-integer.jsonl');
    writeFileSync(big, '{"url":"https://ok","visitType":"git"}\n{"url":"https://b","visitType":"git","extraLoaderArguments":{"rev":12345678901234567890}}\n');
    const r5 = await runCli(['origin', 'record', lister.id, '--file', big, ...db.db]);
    expect(r5.code).toBe(2);
    expect(errorLines(r5.stderr)).toEqual([
      'orrery: --file: line 2: the number 12345678901234567890 at extraLoaderArguments.rev cannot be kept exactly (JSON numbers keep integers up to ±9007199254740991; it would be read as 12345678901234567168); to pass it as text, write that number in quotes, as a JSON string',
    ]);
    // One origin from the arguments: the field alone.
    const one = await runCli(['origin', 'record', lister.id, '', 'git', ...db.db]);
    expect(errorLines(one.stderr)).toEqual(['orrery: url: must be a non-empty string of at most 2048 bytes of UTF-8 (2048 ASCII characters)']);
    expect(await runJson(['origin', 'list', '--json', ...db.db])).toEqual(before);
  });
});
