/**
 * `orrery origin history` and `orrery origin metrics-history` through the built binary on a real
 * SQLite file (issue 9 item 5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLines, removeTempDirs, runCli, runJson, runOk, tempDb, type TempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

const T0 = '2026-01-01T00:00:00.000Z';
const URL = 'https://a.example/x.git';

describe('orrery origin history / metrics-history', () => {
  let db: TempDb;
  let lister: { id: string };

  beforeAll(async () => {
    db = tempDb();
    lister = await runJson(['lister', 'add', 'gitlab', '--at', T0, '--json', ...db.db]);
    await runOk(['origin', 'record', lister.id, URL, 'git', '--at', T0, ...db.db]);
    await runOk(['origin', 'update-metrics', '--at', '2026-01-01T01:00:00Z', ...db.db]);
    await runOk(['origin', 'visited', URL, 'git', '--status', 'successful', '--snapshot', 'snap1', '--at', '2026-01-01T02:00:00Z', ...db.db]);
    await runOk(['origin', 'visited', URL, 'git', '--status', 'failed', '--at', '2026-01-01T03:00:00Z', ...db.db]);
    await runOk(['origin', 'visited', URL, 'git', '--status', 'failed', '--at', '2026-01-01T02:30:00Z', ...db.db]); // late: ignored
    await runOk(['origin', 'update-metrics', '--at', '2026-01-01T04:00:00Z', ...db.db]);
  });

  it("origin history prints an origin's applied visits, newest first, as a table or JSON", async () => {
    const visits = await runJson(['origin', 'history', URL, 'git', '--json', ...db.db]);
    expect(visits).toEqual([
      { url: URL, visitType: 'git', at: '2026-01-01T03:00:00.000Z', status: 'failed', snapshot: null, eventful: false },
      { url: URL, visitType: 'git', at: '2026-01-01T02:00:00.000Z', status: 'successful', snapshot: 'snap1', eventful: true },
    ]);
    expect(await runJson(['origin', 'history', URL, 'git', '--limit', '1', '--before', '2026-01-01T03:00:00Z', '--json', ...db.db])).toEqual([visits[1]]);
    const text = await runOk(['origin', 'history', URL, 'git', ...db.db]);
    expect(text.split('\n')[0]).toMatch(/^AT\s+STATUS\s+SNAPSHOT\s+EVENTFUL/);
    expect(text).toMatch(/2026-01-01T02:00:00.000Z\s+successful\s+snap1\s+yes/);
    expect(await runOk(['origin', 'history', 'https://none', 'git', ...db.db])).toBe('no visits recorded\n');
  });

  it('origin metrics-history prints one point per update-metrics', async () => {
    const series = await runJson(['origin', 'metrics-history', '--lister', lister.id, '--json', ...db.db]);
    expect(series).toEqual([
      {
        listerId: lister.id,
        visitType: 'git',
        points: [
          { at: '2026-01-01T01:00:00.000Z', originsKnown: 1, originsEnabled: 1, originsNeverVisited: 1, originsWithPendingChanges: 0 },
          { at: '2026-01-01T04:00:00.000Z', originsKnown: 1, originsEnabled: 1, originsNeverVisited: 0, originsWithPendingChanges: 0 },
        ],
      },
    ]);
    expect((await runJson(['origin', 'metrics-history', '--since', '2026-01-01T02:00:00Z', '--json', ...db.db]))[0].points).toHaveLength(1);
    expect((await runJson(['origin', 'metrics-history', '--limit', '1', '--json', ...db.db]))[0].points).toEqual([series[0].points[1]]);
    expect(await runOk(['origin', 'metrics-history', '--visit-type', 'hg', ...db.db])).toContain('no metrics history');
    expect(await runOk(['origin', 'metrics-history', ...db.db])).toMatch(/git\s+2026-01-01T04:00:00.000Z\s+1\s+1\s+0\s+0/);
  });

  it('bad input exits 2 naming the argument', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['origin', 'history', URL], /visit-type/],
      [['origin', 'history', URL, 'git', '--limit', '0'], /--limit/],
      [['origin', 'history', URL, 'Bad Type!'], /visitType/],
      [['origin', 'history', URL, 'git', '--before', 'soon'], /--before/],
      [['origin', 'metrics-history', '--lister', 'x'], /--lister: "x" is not a lister id/],
      [['origin', 'metrics-history', '--since', 'yesterday'], /--since/],
      [['origin', 'metrics-history', '--limit', '10001'], /limit/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...args, ...db.db]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(errorLines(r.stderr).join('\n'), args.join(' ')).toMatch(message);
    }
  });
});
