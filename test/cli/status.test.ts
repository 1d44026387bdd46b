/** `orrery status` (docs/cli.md#orrery-status): each type's queue, backlog, dead letters and recent ends, and the workers. */
import { afterAll, describe, expect, it } from 'vitest';
import { openOrrery } from '../../src/engine/service.js';
import { createHttpApp } from '../../src/http/app.js';
import { startHttpServer } from '../../src/http/server.js';
import { removeTempDirs, runCli, runJson, runOk, tempDb } from './cli-helpers.js';

afterAll(removeTempDirs);

const T0 = new Date('2026-11-01T00:00:00Z');
const iso = (ms: number) => new Date(T0.getTime() + ms).toISOString();

describe('orrery status', () => {
  it('counts waiting, claimed and running runs, due tasks, dead letters and ends per type, and workers by liveness', async () => {
    const { db, path } = tempDb();
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.createTaskType({ name: 'mail', maxAbandons: 1, leaseMs: 1000 }, { at: T0 });
    await o.createTaskType({ name: 'idle' }, { at: T0 });
    await o.pauseTaskType('idle', { at: T0 });
    await o.createTasks(Array.from({ length: 6 }, (_, i) => ({ type: 'mail', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const, nextRun: T0 })), { at: T0 });
    await o.scheduleDue({ at: T0, type: 'mail' }); // maxQueueLength 1000: all 6 waiting
    const claimed = await o.claimRuns({ at: new Date(T0.getTime() + 1000), worker: 'w1', types: ['mail'], limit: 3, startNow: 3 });
    await o.endRun(claimed[0]!.run.backendId, { status: 'eventful', at: new Date(T0.getTime() + 2000) });
    await o.endRun(claimed[1]!.run.backendId, { status: 'permfailed', error: 'no', at: new Date(T0.getTime() + 2000) });
    await o.reapExpired({ at: new Date(T0.getTime() + 60_000) }); // the third: lost, dead-lettered
    await o.createTask({ type: 'mail', arguments: { args: ['later'], kwargs: {} }, policy: 'oneshot', nextRun: new Date(T0.getTime() + 30_000) }, { at: T0 });
    await o.registerWorker({ id: 'w1', host: 'h', pid: 1, types: ['mail'], concurrency: 2 }, { at: new Date(T0.getTime() + 50_000) });
    await o.close();

    const at = iso(61_000);
    const report = await runJson<{ types: Array<Record<string, unknown>>; workers: Record<string, number>; minutes: number }>(['status', '--at', at, '--json', ...db]);
    expect(report.minutes).toBe(60);
    expect(report.types).toEqual([
      { type: 'idle', paused: true, waiting: 0, claimed: 0, running: 0, oldestWaiting: null, due: 0, oldestDue: null, deadLettered: 0, pausedTasks: 0, ended: { eventful: 0, uneventful: 0, failed: 0, permfailed: 0, lost: 0 } },
      {
        type: 'mail', paused: false, waiting: 3, claimed: 0, running: 0, oldestWaiting: iso(0), due: 1, oldestDue: iso(30_000), deadLettered: 1, pausedTasks: 0,
        ended: { eventful: 1, uneventful: 0, failed: 0, permfailed: 1, lost: 1 },
      },
    ]);
    expect(report.workers).toEqual({ alive: 1, stale: 0, gone: 0, stopped: 0 });
    // The permfailed end and the dead letter stored their task alerts; no process delivered them.
    expect((report as unknown as { alerts: unknown }).alerts).toEqual({ waiting: 2, failing: 0, oldest: iso(2000) });

    const text = await runOk(['status', '--at', at, '--type', 'mail', ...db]);
    expect(text.split('\n')[0]).toMatch(/^TYPE +STATE +WAITING +CLAIMED +RUNNING +OLDEST WAITING +DUE +OLDEST DUE +DEAD LETTERS +PAUSED TASKS +ENDED 60m OK\/FAILED\/LOST$/);
    expect(text.split('\n')[1]).toMatch(/^mail +running +3 +0 +0 +1m1s +1 +31s +1 +0 +1\/1\/1$/);
    expect(text).toContain('workers seen in the last 60 minutes: 1 alive, 0 stale, 0 gone, 0 stopped\nalerts waiting to be delivered: 2 (0 failing; the oldest from 59s ago)\n');
  });

  it('--url reads the same report from a running server', async () => {
    const { db, path } = tempDb();
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.createTaskType({ name: 'mail' });
    await o.createTaskType({ name: 'other' });
    await o.createTasks(Array.from({ length: 3 }, (_, i) => ({ type: 'mail', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const })));
    await o.scheduleDue();
    // A task alert waits: the remote report reads it through GET /api/alerts.
    await o.createTask({ type: 'other', arguments: { args: [], kwargs: {} }, policy: 'oneshot' });
    const [failing] = await o.scheduleDue({ type: 'other' });
    await o.startRun(failing!.backendId);
    await o.endRun(failing!.backendId, { status: 'permfailed', error: 'no' });
    const { server, port } = await startHttpServer(createHttpApp(o, { token: 'status-token-0123' }), '127.0.0.1', 0);
    try {
      const url = `http://127.0.0.1:${port}`;
      const drop = (r: { at?: string }) => ({ ...r, at: undefined });
      const local = await runJson<{ at: string }>(['status', '--json', ...db]);
      const remote = await runJson<{ at: string }>(['status', '--json', '--url', url, '--token', 'status-token-0123']);
      expect(drop(remote)).toEqual(drop(local));
      expect((remote as unknown as { alerts: { waiting: number } }).alerts.waiting).toBe(1);
      // At the server's instant of the reading, not the end of the run rates' last minute (which lies ahead of it).
      expect(Date.parse(remote.at)).toBeLessThanOrEqual(Date.now());
      expect((remote as unknown as { types: Array<{ type: string; waiting: number }> }).types.map((t) => [t.type, t.waiting])).toEqual([['mail', 3], ['other', 0]]);
      const one = await runOk(['status', '--url', url, '--token', 'status-token-0123', '--type', 'mail']);
      expect(one.split('\n')[1]).toMatch(/^mail +running +3 /);
      for (const [args, code, message] of [
        [['--type', 'nope'], 2, /--type: unknown task type "nope"/],
        [['--at', '2026-01-01T00:00:00Z'], 2, /--at cannot be combined with --url/],
        [['--db', 'sqlite:/tmp/x.db'], 2, /--url and --db cannot be combined/],
      ] as Array<[string[], number, RegExp]>) {
        const bad = await runCli(['status', '--url', url, '--token', 'status-token-0123', ...args]);
        expect(bad.code, args.join(' ')).toBe(code);
        expect(bad.stderr).toMatch(message);
      }
      const refused = await runCli(['status', '--url', url, '--token', 'wrong-token-0123456']);
      expect(refused.code).toBe(1);
    } finally {
      server.close();
      await o.close();
    }
  });

  it('says so on a database without types; bad input exits 2', async () => {
    const { db } = tempDb();
    const r = await runCli(['status', ...db]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('no task types yet (create one with: orrery task-type add NAME)\nworkers seen in the last 60 minutes: 0 alive, 0 stale, 0 gone, 0 stopped\nalerts waiting to be delivered: 0\n');
    for (const [args, message] of [
      [['status', '--minutes', '0'], /--minutes/],
      [['status', '--minutes', '1441'], /--minutes/],
      [['status', '--type', 'nope'], /--type: unknown task type "nope"/],
      [['status', '--at', 'soon'], /--at/],
    ] as Array<[string[], RegExp]>) {
      const bad = await runCli([...args, ...db]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr).toMatch(message);
    }
  });

  it('orrery alerts lists the alerts waiting to be delivered, in the order a sender takes them', async () => {
    const { db, path } = tempDb();
    const o = await openOrrery({ db: `sqlite:${path}` });
    await o.createTaskType({ name: 'mail' }, { at: T0 });
    await o.createTasks([1, 2].map((i) => ({ type: 'mail', arguments: { args: [i], kwargs: {} }, policy: 'oneshot' as const, nextRun: T0 })), { at: T0 });
    const runs = await o.scheduleDue({ at: T0 });
    for (const [i, r] of runs.entries()) {
      await o.startRun(r.backendId, { at: T0 });
      await o.endRun(r.backendId, { status: 'permfailed', error: `bad input ${i}\nstack`, at: new Date(T0.getTime() + 1000 * (i + 1)) });
    }
    // The first one's delivery failed once: it waits for its next try, after the one never tried.
    const taken = await o.store.alerts.takeAlerts({ sources: ['task'], at: T0, limit: 1, leaseMs: 1000 });
    await o.store.alerts.settleAlerts({ token: taken.token, done: [], retry: [{ id: taken.alerts[0]!.id, retryAt: new Date(T0.getTime() + 10_000), error: 'webhook answered 500' }] });
    await o.close();
    const list = await runJson<Array<{ id: number; source: string; tries: number; lastError: string | null; nextTry: string; firstTry: string | null; alert: { taskId: number; kind: string; error: string } }>>(['alerts', '--json', ...db]);
    expect(list.map((a) => [a.source, a.alert.kind, a.alert.taskId, a.tries, a.lastError, a.nextTry, a.firstTry])).toEqual([
      ['task', 'failed', runs[1]!.task, 0, null, new Date(0).toISOString(), null],
      ['task', 'failed', runs[0]!.task, 1, 'webhook answered 500', iso(10_000), iso(0)],
    ]);
    const text = await runOk(['alerts', '--limit', '1', ...db]);
    expect(text.split('\n')[0]).toMatch(/^ID +SOURCE +KIND +ALERT +RECORDED +TRIES +NEXT TRY +LAST ERROR$/);
    expect(text.split('\n')[1]).toMatch(new RegExp(`^${list[0]!.id} +task +failed +task ${runs[1]!.task} \\(mail\\) run \\S+ attempt 1 permfailed +${iso(2000)} +0 +1970-01-01T00:00:00.000Z +-$`));
    expect(text.split('\n')).toHaveLength(3);
    expect((await runCli(['alerts', '--limit', '0', ...db])).code).toBe(2);
    const none = await runCli(['alerts', ...tempDb().db]);
    expect([none.code, none.stdout]).toEqual([0, 'no alerts waiting to be delivered\n']);
  });
});
