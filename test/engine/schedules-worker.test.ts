import { describe, expect, it } from 'vitest';
import { Daemon } from '../../src/engine/daemon.js';
import { useTempOrrery, waitFor } from './engine-helpers.js';

describe('schedules with a running daemon', () => {
  const setup = useTempOrrery();

  it('a backfill runs its occurrences one at a time through a real worker; the handler reads run.scheduledFor', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'report' });
    const seen: string[] = [];
    let running = 0;
    let overlapped = false;
    const d = new Daemon(orrery, {
      runner: true,
      reaper: true,
      maxSleepMs: 200,
      worker: {
        pollMs: 100,
        concurrency: 4,
        handlers: {
          report: async ({ run }) => {
            if (++running > 1) overlapped = true;
            seen.push(run.scheduledFor.toISOString());
            await new Promise((r) => setTimeout(r, 5));
            running -= 1;
            return true;
          },
        },
      },
    });
    // its own next run is far away: the backfill fills the gap
    const task = await orrery.createTask({ type: 'report', schedule: { kind: 'cron', expr: '0 0 * * *', tz: 'Europe/Paris' }, nextRun: new Date(Date.now() + 86_400_000) });
    const b = await orrery.schedules.backfill(task.id, { from: '2026-01-01T00:00:00Z', to: '2026-01-03T23:59:59Z' });
    d.start();
    onCleanup(() => d.stop());
    await waitFor(async () => (await orrery.schedules.progress(b.id)).status === 'done', 'the backfill to be done');
    // midnight in Paris: 23:00 UTC the day before; the one of 2025-12-31 is before the range
    expect(seen).toEqual(['2026-01-01T23:00:00.000Z', '2026-01-02T23:00:00.000Z', '2026-01-03T23:00:00.000Z']);
    expect(overlapped).toBe(false);
    expect((await orrery.getTask(task.id))!.nextRun).toEqual(task.nextRun);
  });

  it('after downtime, a starting daemon applies catch-up before its worker claims: none runs nothing, latest serves the latest occurrence', async () => {
    const { orrery, onCleanup } = await setup();
    await orrery.createTaskType({ name: 'report' });
    const served: string[] = [];
    const d = new Daemon(orrery, { runner: true, maxSleepMs: 200, worker: { pollMs: 100, handlers: { report: async ({ run }) => (served.push(run.scheduledFor.toISOString()), true) } } });
    // Hourly at the minute half an hour from now, so the latest occurrence is about 30 minutes old
    // whenever the test runs (at minute 0 it failed in the first minute of each hour: an occurrence
    // under 60 s old is not late, and catch-up none ran it).
    const now = Date.now();
    const minute = (new Date(now).getUTCMinutes() + 30) % 60;
    const thisHour = Math.floor(now / 3_600_000) * 3_600_000 + minute * 60_000;
    const hourStart = thisHour <= now ? thisHour : thisHour - 3_600_000; // the latest occurrence
    const expr = `${minute} * * * *`;
    const missed = new Date(hourStart - 3 * 3_600_000); // due three hours ago: the process was down
    const none = await orrery.createTask({ type: 'report', arguments: { args: ['none'] }, schedule: { kind: 'cron', expr, catchUp: 'none' }, nextRun: missed });
    const latest = await orrery.createTask({ type: 'report', arguments: { args: ['latest'] }, schedule: { kind: 'cron', expr }, nextRun: missed });
    d.start();
    onCleanup(() => d.stop());
    await waitFor(async () => (await orrery.listRuns(latest.id)).some((r) => r.ended !== null), 'the run of the latest task');
    expect(served).toEqual([new Date(hourStart).toISOString()]);
    expect(await orrery.listRuns(none.id)).toEqual([]);
    expect((await orrery.getTask(none.id))!.nextRun.getTime()).toBeGreaterThan(Date.now() - 1000);
  });
});
