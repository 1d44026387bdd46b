import { describe, expect, it } from 'vitest';
import { LATE_AFTER_MS, dueAt, firstDueOfNew, jitterOffset, nextCalendarPoint, planLateTask, runnerCatchesUp, type LateTask } from './catch-up.js';
import { endOfRun } from './end-of-run.js';
import type { CalendarSchedule } from './model.js';
import { normaliseSchedule } from './schedule.js';

const iso = (s: string): Date => new Date(s);
const H = 3_600_000;
const hourly = (options: object = {}) => normaliseSchedule({ kind: 'cron', expr: '0 * * * *', ...options }, iso('2026-01-01T00:00:00Z')) as CalendarSchedule;

/** A task that was due at 08:00 and is found at `at` (the system was down). */
const late = (schedule: CalendarSchedule, over: Partial<LateTask> = {}): LateTask => ({
  id: 7, policy: 'recurring', schedule, nextRun: iso('2026-01-01T08:00:00Z'), scheduledFor: iso('2026-01-01T08:00:00Z'), nextAttempt: 1, ...over,
});
const AT = iso('2026-01-01T12:30:00Z');
const show = (p: ReturnType<typeof planLateTask>) => (p === null ? null : p.action === 'complete' ? 'complete' : `${p.scheduledFor.toISOString()} due ${p.nextRun.toISOString()}`);

describe('jitter', () => {
  it('is deterministic per task and occurrence, within [0, jitter)', () => {
    const o = iso('2026-01-01T08:00:00Z');
    expect(jitterOffset(7, o, 300_000)).toBe(jitterOffset(7, o, 300_000));
    const offsets = Array.from({ length: 200 }, (_, i) => jitterOffset(i + 1, o, 300_000));
    expect(Math.min(...offsets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...offsets)).toBeLessThan(300_000);
    expect(new Set(offsets).size).toBeGreaterThan(150); // spread, not one value
    expect(jitterOffset(7, o, 0)).toBe(0);
    expect(jitterOffset(7, iso('2026-01-01T09:00:00Z'), 300_000)).not.toBe(jitterOffset(7, o, 300_000));
  });

  it('delays the due instant, not the occurrence; a new task is jittered once it has its id', () => {
    const s = hourly({ jitter: '5m' });
    const o = iso('2026-01-01T08:00:00Z');
    expect(dueAt(s, 7, o).getTime() - o.getTime()).toBe(jitterOffset(7, o, 300_000));
    expect(firstDueOfNew({ schedule: s, nextRun: o, scheduledFor: o }, 7)).toEqual(dueAt(s, 7, o));
    expect(firstDueOfNew({ schedule: s, nextRun: o }, 7)).toBeNull(); // an explicit nextRun is kept
    expect(firstDueOfNew({ schedule: hourly(), nextRun: o, scheduledFor: o }, 7)).toBeNull();
  });
});

describe('planLateTask (a task found waiting past its due instant)', () => {
  it('is not concerned within the lateness, for retries, adaptive or one-shot tasks', () => {
    expect(planLateTask(late(hourly()), new Date(iso('2026-01-01T08:00:00Z').getTime() + LATE_AFTER_MS))).toBeNull();
    expect(planLateTask(late(hourly(), { nextAttempt: 2 }), AT)).toBeNull();
    expect(planLateTask({ ...late(hourly()), schedule: { kind: 'adaptive' } }, AT)).toBeNull();
    expect(planLateTask({ ...late(hourly()), policy: 'oneshot' }, AT)).toBeNull();
  });

  it('latest (the default): the latest missed occurrence, at once', () => {
    expect(show(planLateTask(late(hourly()), AT))).toBe('2026-01-01T12:00:00.000Z due 2026-01-01T12:30:00.000Z');
  });

  it('none: the next future occurrence (an occurrence exactly at `at` is not missed)', () => {
    expect(show(planLateTask(late(hourly({ catchUp: 'none' })), AT))).toBe('2026-01-01T13:00:00.000Z due 2026-01-01T13:00:00.000Z');
    expect(show(planLateTask(late(hourly({ catchUp: 'none' })), iso('2026-01-01T13:00:00Z')))).toBe('2026-01-01T13:00:00.000Z due 2026-01-01T13:00:00.000Z');
    // An occurrence due less than a minute ago is on time, not missed: served at once
    expect(show(planLateTask(late(hourly({ catchUp: 'none' })), iso('2026-01-01T12:00:30Z')))).toBe('2026-01-01T12:00:00.000Z due 2026-01-01T12:00:30.000Z');
    expect(show(planLateTask(late(hourly({ catchUp: 'none' })), new Date(iso('2026-01-01T12:00:00Z').getTime() + LATE_AFTER_MS)))).toBe('2026-01-01T12:00:00.000Z due 2026-01-01T12:01:00.000Z');
    expect(show(planLateTask(late(hourly({ catchUp: 'none' })), new Date(iso('2026-01-01T12:00:00Z').getTime() + LATE_AFTER_MS + 1)))).toBe('2026-01-01T13:00:00.000Z due 2026-01-01T13:00:00.000Z');
  });

  it('an occurrence due within the last minute is on time whatever the policy or window', () => {
    const at = iso('2026-01-01T12:00:30Z');
    for (const options of [{ catchUp: 'latest', catchUpWindow: 0 }, { catchUp: 'all', catchUpWindow: 0 }, { catchUp: 'latest', catchUpWindow: '20s' }]) {
      expect(show(planLateTask(late(hourly(options)), at)), JSON.stringify(options)).toBe('2026-01-01T12:00:00.000Z due 2026-01-01T12:00:30.000Z');
    }
  });

  it('all: its own occurrence first; the others follow as its runs end', () => {
    expect(show(planLateTask(late(hourly({ catchUp: 'all' })), AT))).toBe('2026-01-01T08:00:00.000Z due 2026-01-01T12:30:00.000Z');
  });

  it('the window: inclusive at its boundary; a window of zero catches nothing up', () => {
    // 12:00 is 30m before 12:30: inside a 30m window, outside a 29m59.999s one
    expect(show(planLateTask(late(hourly({ catchUpWindow: '30m' })), AT))).toBe('2026-01-01T12:00:00.000Z due 2026-01-01T12:30:00.000Z');
    expect(show(planLateTask(late(hourly({ catchUpWindow: 30 * 60_000 - 1 })), AT))).toBe('2026-01-01T13:00:00.000Z due 2026-01-01T13:00:00.000Z');
    // all with a 2h window: 10:30 is the window's start, so 11:00 is the oldest occurrence caught up
    expect(show(planLateTask(late(hourly({ catchUp: 'all', catchUpWindow: '2h' })), AT))).toBe('2026-01-01T11:00:00.000Z due 2026-01-01T12:30:00.000Z');
    expect(show(planLateTask(late(hourly({ catchUp: 'all', catchUpWindow: 0 })), AT))).toBe('2026-01-01T13:00:00.000Z due 2026-01-01T13:00:00.000Z');
    expect(show(planLateTask(late(hourly({ catchUpWindow: 0 })), AT))).toBe('2026-01-01T13:00:00.000Z due 2026-01-01T13:00:00.000Z');
  });

  it('a jittered occurrence still to come keeps its jittered due instant', () => {
    const s = hourly({ jitter: '1h' });
    const plan = planLateTask(late(s), iso('2026-01-01T12:00:00.001Z'));
    expect(plan).toMatchObject({ action: 'serve', scheduledFor: iso('2026-01-01T12:00:00Z') });
    const due = dueAt(s, 7, iso('2026-01-01T12:00:00Z'));
    expect((plan as { nextRun: Date }).nextRun).toEqual(due.getTime() > iso('2026-01-01T12:00:00.001Z').getTime() ? due : iso('2026-01-01T12:00:00.001Z'));
  });

  it('a schedule with nothing left completes the task', () => {
    const s = hourly({ catchUp: 'none', endAt: '2026-01-01T10:00:00Z' });
    expect(planLateTask(late(s), AT)).toEqual({ action: 'complete' });
  });

  it('across the repeated hour of a DST change (Europe/Paris, 2026-10-25), latest is the second 02:30', () => {
    const s = normaliseSchedule({ kind: 'cron', expr: '*/30 * * * *', tz: 'Europe/Paris' }, iso('2026-01-01T00:00:00Z')) as CalendarSchedule;
    const t = late(s, { nextRun: iso('2026-10-24T22:00:00Z'), scheduledFor: iso('2026-10-24T22:00:00Z') });
    // 01:40Z is 02:40 CET, after the second 02:30 (01:30Z)
    expect(show(planLateTask(t, iso('2026-10-25T01:40:00Z')))).toBe('2026-10-25T01:30:00.000Z due 2026-10-25T01:40:00.000Z');
  });
});

describe('nextCalendarPoint (after a run) and endOfRun', () => {
  const type = { minIntervalMs: null, maxIntervalMs: null, backoffFactor: 1, numRetries: 2, retryDelayMs: 10 * 60_000, maxAbandons: 3 };
  const task = (schedule: CalendarSchedule) => ({
    id: 7, policy: 'recurring' as const, schedule, nextRun: iso('2026-01-01T08:00:00Z'), scheduledFor: iso('2026-01-01T08:00:00Z'),
    currentIntervalMs: null, retriesLeft: 2, consecutiveAbandons: 0, nextAttempt: 1,
  });
  const ended = iso('2026-01-01T10:15:00Z');

  it('all: the occurrences that passed during the run come one by one; latest and none skip them', () => {
    const served = iso('2026-01-01T08:00:00Z');
    expect(nextCalendarPoint(hourly({ catchUp: 'all' }), 7, served, ended, served)?.scheduledFor).toEqual(iso('2026-01-01T09:00:00Z'));
    expect(nextCalendarPoint(hourly(), 7, served, ended, served)?.scheduledFor).toEqual(iso('2026-01-01T11:00:00Z'));
    expect(nextCalendarPoint(hourly({ catchUp: 'none' }), 7, served, ended, served)?.scheduledFor).toEqual(iso('2026-01-01T11:00:00Z'));
    // all within a 1h15m window: 09:00 is 1h15m old at the end, the boundary: still caught up
    expect(nextCalendarPoint(hourly({ catchUp: 'all', catchUpWindow: '75m' }), 7, served, ended, served)?.scheduledFor).toEqual(iso('2026-01-01T09:00:00Z'));
    expect(nextCalendarPoint(hourly({ catchUp: 'all', catchUpWindow: '74m' }), 7, served, ended, served)?.scheduledFor).toEqual(iso('2026-01-01T10:00:00Z'));
  });

  it('endOfRun: success moves to the next point (jittered); a retry keeps serving the same occurrence', () => {
    const s = hourly({ catchUp: 'all', jitter: '10m' });
    const ok = endOfRun({ task: task(s), type, status: 'uneventful', ended, cause: 'end', served: iso('2026-01-01T08:00:00Z') });
    expect(ok.scheduledFor).toEqual(iso('2026-01-01T09:00:00Z'));
    expect(ok.nextRun).toEqual(dueAt(s, 7, iso('2026-01-01T09:00:00Z')));
    const failed = endOfRun({ task: task(s), type, status: 'failed', ended, cause: 'end', served: iso('2026-01-01T08:00:00Z') });
    expect(failed).toMatchObject({ scheduledFor: iso('2026-01-01T08:00:00Z'), nextRun: iso('2026-01-01T10:25:00Z'), nextAttempt: 2 });
  });

  it('endOfRun: a backfill run leaves the task as it was, free again', () => {
    const t = { ...task(hourly()), nextRun: iso('2026-01-01T11:00:00Z'), scheduledFor: iso('2026-01-01T11:00:00Z') };
    for (const status of ['eventful', 'failed', 'permfailed', 'lost'] as const) {
      const u = endOfRun({ task: t, type, status, ended, cause: status === 'lost' ? 'lease-expired' : 'end', served: iso('2025-06-01T00:00:00Z'), backfill: true });
      expect(u).toMatchObject({ status: 'next_run_not_scheduled', nextRun: t.nextRun, scheduledFor: t.scheduledFor, retriesLeft: 2, consecutiveAbandons: 0, nextAttempt: 1 });
    }
  });
});

describe('runnerCatchesUp (which runner passes catch late tasks up)', () => {
  it('every pass but one woken by new tasks within a second of the last catch-up', () => {
    expect(runnerCatchesUp(null, 5_000, true)).toBe(true); // never caught up yet
    expect(runnerCatchesUp(4_500, 5_000, false)).toBe(true); // a timed pass, or one woken by anything else
    expect(runnerCatchesUp(4_500, 5_000, true)).toBe(false);
    expect(runnerCatchesUp(4_000, 5_000, true)).toBe(true); // a second has passed
    expect(runnerCatchesUp(6_000, 5_000, true)).toBe(true); // the clock went back
  });
});
