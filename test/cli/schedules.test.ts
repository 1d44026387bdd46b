/**
 * The schedule commands (schedule preview, task next / backfill / backfills / backfill-cancel, dag
 * next / backfill) and the schedule and flow-control options of `task add`, run in-process through
 * `main` on a temporary SQLite file: outputs, JSON, and exit 2 with the field named for bad input.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { openOrrery } from '../../src/engine/service.js';
import { BAD_RRULES } from '../support/bad-rrules.js';

let dir: string;
let db: string[];

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main([...argv, ...db], { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const hoursAgo = (h: number) => new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - h * 3_600_000).toISOString();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orrery-cli-sched-'));
  db = ['--db', `sqlite:${join(dir, 'o.db')}`];
  const o = await openOrrery({ db: db[1] });
  await o.createTaskType({ name: 'report' });
  await o.dags.register([{ id: 'daily', schedule: { cron: '0 6 * * *', tz: 'Europe/Paris' }, overlap: 'skip', tasks: [{ id: 'a' }] }]);
  await o.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('orrery schedule / task / dag schedule commands', () => {
  it('schedule preview: a table with DST marks, JSON; exit 2 naming the problem', async () => {
    const table = await cli(['schedule', 'preview', '--cron', '30 2 * * *', '--tz', 'Europe/Paris', '--from', '2026-03-28T00:00:00Z', '--count', '2']);
    expect(table).toMatchObject({ code: 0, err: '' });
    expect(table.out.split('\n').map((l) => l.split(/ {2,}/))).toEqual([
      ['zone Europe/Paris'],
      ['UTC', 'LOCAL', 'DST'],
      ['2026-03-28T01:30:00.000Z', '2026-03-28T02:30:00.000+01:00', '-'],
      ['2026-03-29T01:00:00.000Z', '2026-03-29T03:00:00.000+02:00', 'skipped'],
      [''],
    ]);
    const json = JSON.parse((await cli(['schedule', 'preview', '--rrule', 'FREQ=DAILY;COUNT=2', '--json'])).out);
    expect(json.occurrences).toHaveLength(2);
    expect(await cli(['schedule', 'preview', '--cron', '61 * * * *'])).toMatchObject({ code: 2, err: expect.stringContaining('cron: invalid cron expression') });
    expect(await cli(['schedule', 'preview'])).toMatchObject({ code: 2, err: expect.stringContaining('--cron or --rrule') });
    expect(await cli(['schedule', 'preview', '--cron', '* * * * *', '--count', '0'])).toMatchObject({ code: 2 });
    // RFC 5545: a rule needs FREQ, gives each part once, and COUNT or UNTIL, not both.
    for (const [rule, why] of BAD_RRULES) {
      const r = await cli(['schedule', 'preview', '--rrule', rule, '--from', '2026-01-01', '--count', '2']);
      expect(r, rule).toMatchObject({ code: 2, out: '' });
      expect(r.err).toContain(`rrule: invalid rrule ${JSON.stringify(rule)}: ${why}`);
    }
  });

  it('task add with schedule options, then task next; bad options exit 2 naming the field and create nothing', async () => {
    const add = await cli(['task', 'add', 'report', 'a', '--cron', '0 * * * *', '--catch-up', 'all', '--catch-up-window', '6h', '--jitter', '10m', '--exclude', '2099-12-25', '--json']);
    const task = JSON.parse(add.out);
    expect(task.schedule).toMatchObject({ catchUp: 'all', catchUpWindowMs: 21_600_000, jitterMs: 600_000, exclude: ['2099-12-25'] });
    const next = await cli(['task', 'next', String(task.id), '--count', '2']);
    expect(next.code).toBe(0);
    expect(next.out.split('\n')[1]!.split(/ {2,}/)).toEqual(['UTC', 'LOCAL', 'DUE', 'DST']);
    expect(next.out).toContain(task.nextRun);
    for (const [argv, field] of [
      [['--cron', '0 * * * *', '--jitter', '2h'], 'schedule.jitter'],
      [['--cron', '0 * * * *', '--catch-up', 'none', '--catch-up-window', '1h'], 'schedule.catchUpWindow'],
      [['--cron', '0 * * * *', '--start-at', '2030-01-02', '--end-at', '2030-01-01'], 'schedule.endAt'],
      [['--jitter', '1m'], '--jitter'],
      [['--unique-by', 'key'], '--unique-by needs --unique-for'],
      [['--debounce-key', 'k'], '--debounce-key and --debounce'],
      [['--debounce-key', 'k', '--debounce', '-1s'], 'debounce.period'],
      [['--rrule', 'DTSTART:20260101T000000Z\\nRRULE:INTERVAL=2'], 'schedule.rule: invalid rrule "DTSTART:20260101T000000Z\\nRRULE:INTERVAL=2": FREQ is missing'],
      [['--rrule', 'FREQ=DAILY;COUNT=2;UNTIL=20300101T000000Z'], 'schedule.rule: invalid rrule "FREQ=DAILY;COUNT=2;UNTIL=20300101T000000Z": COUNT and UNTIL are both given'],
    ] as const) {
      const r = await cli(['task', 'add', 'report', 'bad', ...argv]);
      expect(r, argv.join(' ')).toMatchObject({ code: 2, out: '' });
      expect(r.err).toContain(field);
    }
    expect(JSON.parse((await cli(['task', 'list', '--json'])).out)).toHaveLength(1);
  });

  it('unique and debounce flags', async () => {
    const first = JSON.parse((await cli(['task', 'add', 'report', 'u', '--policy', 'oneshot', '--unique-for', '1h', '--json'])).out);
    expect(await cli(['task', 'add', 'report', 'u', '--policy', 'oneshot', '--unique-for', '1h'])).toMatchObject({ code: 0, out: `already exists: task ${first.id} (report, oneshot, next run ${first.nextRun})\n` });
    const d1 = JSON.parse((await cli(['task', 'add', 'report', 'd1', '--debounce-key', 'k', '--debounce', '1h', '--json'])).out);
    expect(d1.policy).toBe('oneshot');
    const d2 = await cli(['task', 'add', 'report', 'd2', '--debounce-key', 'k', '--debounce', '1h']);
    expect(d2.out).toMatch(new RegExp(`^replaced task ${d1.id} `));
  });

  it('task backfill, backfills and backfill-cancel', async () => {
    const task = JSON.parse((await cli(['task', 'add', 'report', 'b', '--cron', '0 0 1 1 *', '--json'])).out);
    const from = hoursAgo(5);
    const to = hoursAgo(1);
    expect(await cli(['task', 'backfill', String(task.id), '--from', from, '--to', to])).toMatchObject({ code: 2, err: expect.stringContaining('from: the schedule has no occurrence') });
    const hourly = JSON.parse((await cli(['task', 'add', 'report', 'h', '--cron', '0 * * * *', '--next-run', '2099-01-01', '--json'])).out);
    const b = JSON.parse((await cli(['task', 'backfill', String(hourly.id), '--from', from, '--to', to, '--json'])).out);
    expect(b).toMatchObject({ task: hourly.id, total: 5, status: 'running' });
    expect(await cli(['task', 'backfill', String(hourly.id), '--from', from, '--to', to])).toMatchObject({ code: 2, err: expect.stringContaining(`backfill ${b.id} of task ${hourly.id} is still running`) });
    const scheduled = JSON.parse((await cli(['task', 'schedule', '--json'])).out);
    expect(scheduled).toContainEqual(expect.objectContaining({ task: hourly.id, scheduledFor: from, backfill: b.id }));
    const list = await cli(['task', 'backfills', String(hourly.id)]);
    expect(list.out.split('\n')[1]!.split(/ {2,}/)).toEqual([String(b.id), 'running', from, to, '0', '5', new Date(Date.parse(from) + 3_600_000).toISOString()]);
    expect((await cli(['task', 'backfill-cancel', String(b.id)])).out).toBe(`backfill ${b.id} of task ${hourly.id} cancelled\n`);
    expect(await cli(['task', 'backfill-cancel', String(b.id)])).toMatchObject({ code: 2 });
    expect(await cli(['task', 'backfill', String(hourly.id), '--from', from])).toMatchObject({ code: 2, err: expect.stringContaining('--to') });
    // --at: as if now were that instant (the options were unknown: calendar audit).
    const future = new Date(Date.now() + 10 * 3_600_000);
    const later = JSON.parse((await cli(['task', 'backfill', String(hourly.id), '--from', from, '--to', future.toISOString(), '--at', new Date(future.getTime() + 60_000).toISOString(), '--json'])).out);
    expect(later).toMatchObject({ created: new Date(future.getTime() + 60_000).toISOString(), status: 'running' });
    expect(JSON.parse((await cli(['task', 'backfill-cancel', String(later.id), '--at', future.toISOString(), '--json'])).out)).toMatchObject({ status: 'cancelled' });
    const late = JSON.parse((await cli(['task', 'add', 'report', 'l', '--cron', '30 * * * *', '--next-run', '2026-01-01T01:30:00Z', '--json'])).out);
    expect(JSON.parse((await cli(['task', 'next', String(late.id), '--count', '1', '--at', '2026-01-01T01:40:00Z', '--json'])).out).occurrences[0].at).toBe('2026-01-01T01:30:00.000Z');
    expect(await cli(['task', 'next', String(late.id), '--at', 'soon'])).toMatchObject({ code: 2, err: expect.stringContaining('--at') });
  });

  it('dag next and dag backfill', async () => {
    const next = await cli(['dag', 'next', 'daily', '--count', '1', '--json']);
    expect(JSON.parse(next.out)).toMatchObject({ dag: 'daily', zone: 'Europe/Paris', occurrences: [{ dst: null }] });
    // A 48-hour window whose ends fall at half past (the DAG runs on the hour): exactly two runs, whatever the hour now.
    const halfPast = (h: number) => new Date(Date.parse(hoursAgo(h)) + 1_800_000).toISOString();
    const bf = await cli(['dag', 'backfill', 'daily', '--from', halfPast(49), '--to', halfPast(1), '--params', '{"why":"fix"}']);
    expect(bf.out).toMatch(/^backfill of DAG daily: 2 runs \(\d+\.\.\d+\) from \S+ to \S+\n$/);
    expect(await cli(['dag', 'backfill', 'daily', '--from', hoursAgo(1), '--to', hoursAgo(2)])).toMatchObject({ code: 2, err: expect.stringContaining('to: must not be before from') });
    expect(await cli(['dag', 'backfill', 'nope', '--from', hoursAgo(2), '--to', hoursAgo(1)])).toMatchObject({ code: 2 });
    expect((await cli(['dag', 'show', 'daily'])).out).toMatch(/\noverlap +skip\n/);
    // A paused DAG: the runs are taken, and the command says they wait for the resume.
    expect((await cli(['dag', 'pause', 'daily', '--reason', 'maint'])).code).toBe(0);
    const paused = await cli(['dag', 'backfill', 'daily', '--from', halfPast(97), '--to', halfPast(73)]);
    expect(paused.out).toMatch(/\nDAG daily is paused \(maint\): these runs start once it is resumed \(orrery dag resume daily\)\n$/);
    // With --json, stdout holds the runs alone and the paused line goes to stderr.
    const pausedJson = await cli(['dag', 'backfill', 'daily', '--from', halfPast(145), '--to', halfPast(121), '--json']);
    expect(JSON.parse(pausedJson.out)).toHaveLength(1);
    expect(pausedJson.err).toBe('DAG daily is paused (maint): these runs start once it is resumed (orrery dag resume daily)\n');
  });
});
