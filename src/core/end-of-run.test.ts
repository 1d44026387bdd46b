import { describe, expect, it } from 'vitest';
import { MAX_DURATION_MS } from './duration-limit.js';
import { adaptInterval, endOfRun, type EndOfRunInput, type TaskUpdate } from './end-of-run.js';
import type { Schedule } from './model.js';
import { normaliseSchedule } from './schedule.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const iso = (s: string): Date => new Date(s);

type TaskPart = EndOfRunInput['task'];
type TypePart = EndOfRunInput['type'];

function makeType(over: Partial<TypePart> = {}): TypePart {
  return {
    minIntervalMs: 12 * HOUR,
    maxIntervalMs: 4 * DAY,
    backoffFactor: 2,
    numRetries: 3,
    retryDelayMs: HOUR,
    maxAbandons: 3,
    ...over,
  };
}

function makeTask(over: Partial<TaskPart> = {}): TaskPart {
  return {
    policy: 'recurring',
    schedule: { kind: 'adaptive' },
    nextRun: iso('2026-01-10T00:00:00.000Z'),
    currentIntervalMs: DAY,
    retriesLeft: 3,
    consecutiveAbandons: 0,
    nextAttempt: 1,
    ...over,
  };
}

/** The update without `scheduledFor` (what the run's next run serves: core/catch-up.test.ts covers it). */
function run(input: Partial<EndOfRunInput> & { task?: TaskPart; type?: TypePart }): Omit<TaskUpdate, 'scheduledFor'> {
  const { scheduledFor: _served, ...rest } = endOfRun({
    task: makeTask(),
    type: makeType(),
    status: 'eventful',
    ended: iso('2026-01-10T00:05:00.000Z'),
    cause: 'end',
    ...input,
  });
  return rest;
}

/** A schedule in its normal form, anchored (for rrules without DTSTART) at 2026-01-01. */
function sched(input: unknown, at = iso('2026-01-01T00:00:00.000Z')): Schedule {
  return normaliseSchedule(input, at);
}

const ENDED = '2026-01-10T00:05:00.000Z';

describe('endOfRun: eventful / uneventful, recurring adaptive', () => {
  it('eventful divides the interval by backoffFactor and schedules from `ended`', () => {
    const u = run({ task: makeTask({ currentIntervalMs: 2 * DAY }), status: 'eventful' });
    expect(u.currentIntervalMs).toBe(DAY);
    expect(u.nextRun.toISOString()).toBe('2026-01-11T00:05:00.000Z');
    expect(u.status).toBe('next_run_not_scheduled');
    expect(u.disabledReason).toBeNull();
  });

  it('uneventful multiplies the interval by backoffFactor', () => {
    const u = run({ task: makeTask({ currentIntervalMs: DAY }), status: 'uneventful' });
    expect(u.currentIntervalMs).toBe(2 * DAY);
    expect(u.nextRun.toISOString()).toBe('2026-01-12T00:05:00.000Z');
    expect(u.status).toBe('next_run_not_scheduled');
    expect(u.disabledReason).toBeNull();
  });

  it('eventful is clamped to minIntervalMs', () => {
    const u = run({ task: makeTask({ currentIntervalMs: 16 * HOUR }), status: 'eventful' });
    expect(u.currentIntervalMs).toBe(12 * HOUR);
    expect(u.nextRun.toISOString()).toBe('2026-01-10T12:05:00.000Z');
  });

  it('uneventful is clamped to maxIntervalMs', () => {
    const u = run({ task: makeTask({ currentIntervalMs: 3 * DAY }), status: 'uneventful' });
    expect(u.currentIntervalMs).toBe(4 * DAY);
    expect(u.nextRun.toISOString()).toBe('2026-01-14T00:05:00.000Z');
  });

  it('repeated eventful runs converge on the minimum, repeated uneventful ones on the maximum', () => {
    let task = makeTask({ currentIntervalMs: DAY });
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      const u = run({ task, status: 'eventful' });
      seen.push(u.currentIntervalMs!);
      task = { ...task, currentIntervalMs: u.currentIntervalMs, nextRun: u.nextRun };
    }
    expect(seen).toEqual([12 * HOUR, 12 * HOUR, 12 * HOUR, 12 * HOUR]);
    const up: number[] = [];
    for (let i = 0; i < 4; i++) {
      const u = run({ task, status: 'uneventful' });
      up.push(u.currentIntervalMs!);
      task = { ...task, currentIntervalMs: u.currentIntervalMs, nextRun: u.nextRun };
    }
    expect(up).toEqual([DAY, 2 * DAY, 4 * DAY, 4 * DAY]);
  });

  it('an interval already outside [min, max] is brought back inside', () => {
    const type = makeType({ backoffFactor: 1 });
    expect(run({ type, task: makeTask({ currentIntervalMs: 10 * DAY }), status: 'eventful' }).currentIntervalMs).toBe(4 * DAY);
    expect(run({ type, task: makeTask({ currentIntervalMs: HOUR }), status: 'uneventful' }).currentIntervalMs).toBe(12 * HOUR);
  });

  it('backoffFactor 1 leaves the interval unchanged', () => {
    const type = makeType({ backoffFactor: 1 });
    const e = run({ type, status: 'eventful' });
    const n = run({ type, status: 'uneventful' });
    expect(e.currentIntervalMs).toBe(DAY);
    expect(n.currentIntervalMs).toBe(DAY);
    expect(e.nextRun.toISOString()).toBe('2026-01-11T00:05:00.000Z');
    expect(n.nextRun.toISOString()).toBe('2026-01-11T00:05:00.000Z');
  });

  it('a fractional backoffFactor works both ways', () => {
    const type = makeType({ backoffFactor: 1.5, minIntervalMs: HOUR, maxIntervalMs: 10 * DAY });
    expect(run({ type, status: 'eventful' }).currentIntervalMs).toBe(16 * HOUR);
    expect(run({ type, status: 'uneventful' }).currentIntervalMs).toBe(36 * HOUR);
  });

  it('nextRun counts from the run\'s `ended` instant, not from the previous nextRun', () => {
    const ended = iso('2026-02-01T07:30:00.000Z');
    const u = run({ task: makeTask({ nextRun: iso('2026-01-10T00:00:00.000Z'), currentIntervalMs: 2 * DAY }), ended, status: 'eventful' });
    expect(u.nextRun.toISOString()).toBe('2026-02-02T07:30:00.000Z');
    // and also when the previous nextRun lies in the future of `ended`
    const early = run({ task: makeTask({ nextRun: iso('2026-03-01T00:00:00.000Z'), currentIntervalMs: 2 * DAY }), ended, status: 'uneventful' });
    expect(early.nextRun.toISOString()).toBe('2026-02-05T07:30:00.000Z');
  });

  it.each(['eventful', 'uneventful'] as const)('%s resets retriesLeft, consecutiveAbandons and nextAttempt', (status) => {
    const u = run({ task: makeTask({ retriesLeft: 1, consecutiveAbandons: 2, nextAttempt: 3 }), type: makeType({ numRetries: 5 }), status });
    expect(u.retriesLeft).toBe(5);
    expect(u.consecutiveAbandons).toBe(0);
    expect(u.nextAttempt).toBe(1);
    expect(u.status).toBe('next_run_not_scheduled');
  });

  it('an adaptive task without an interval is an error', () => {
    expect(() => run({ task: makeTask({ currentIntervalMs: null }), status: 'eventful' })).toThrow(/interval/);
  });

  it('does not mutate its input', () => {
    const task = makeTask({ retriesLeft: 1, consecutiveAbandons: 1, nextAttempt: 2 });
    const snapshot = structuredClone(task);
    run({ task, status: 'uneventful' });
    run({ task, status: 'failed' });
    run({ task, status: 'lost', cause: 'abandon' });
    expect(task).toEqual(snapshot);
  });
});

describe('adaptInterval', () => {
  const type = { minIntervalMs: 1_000, maxIntervalMs: 1_000_000, backoffFactor: 3 };
  it('divides when eventful, multiplies when not, rounded to whole ms', () => {
    expect(adaptInterval(100_000, type, true)).toBe(33_333);
    expect(adaptInterval(100_000, type, false)).toBe(300_000);
    expect(adaptInterval(200_000, { ...type, backoffFactor: 3 }, true)).toBe(66_667);
  });
  it('clamps to [min, max]', () => {
    expect(adaptInterval(2_000, type, true)).toBe(1_000);
    expect(adaptInterval(500_000, type, false)).toBe(1_000_000);
  });
  it('a null bound stands for the duration limits (1 ms, 100 years)', () => {
    expect(adaptInterval(2_000, { ...type, minIntervalMs: null }, true)).toBe(667);
    expect(adaptInterval(2, { ...type, minIntervalMs: null, backoffFactor: 1000 }, true)).toBe(1);
    expect(adaptInterval(500_000, { ...type, maxIntervalMs: null }, false)).toBe(1_500_000);
    expect(adaptInterval(MAX_DURATION_MS / 2, { ...type, maxIntervalMs: null }, false)).toBe(MAX_DURATION_MS);
  });
  it('a type without intervals (cleared by an edit) leaves the interval as it is', () => {
    const cleared = { minIntervalMs: null, maxIntervalMs: null, backoffFactor: 1000 };
    expect(adaptInterval(3_600_000, cleared, true)).toBe(3_600_000);
    expect(adaptInterval(3_600_000, cleared, false)).toBe(3_600_000);
  });
  it('throws without a current interval', () => {
    expect(() => adaptInterval(null, type, true)).toThrow();
  });
});

describe('endOfRun: oneshot success', () => {
  it.each(['eventful', 'uneventful'] as const)('oneshot %s -> completed', (status) => {
    const nextRun = iso('2026-01-10T00:00:00.000Z');
    const u = run({
      task: makeTask({ policy: 'oneshot', currentIntervalMs: null, nextRun, retriesLeft: 1, consecutiveAbandons: 2, nextAttempt: 3 }),
      status,
    });
    expect(u).toEqual({
      status: 'completed',
      disabledReason: null,
      nextRun,
      currentIntervalMs: null,
      retriesLeft: 3,
      consecutiveAbandons: 0,
      nextAttempt: 1,
    });
  });
});

describe('endOfRun: failed', () => {
  it('recurring with retries left: ended + retryDelay, one retry consumed, attempt + 1, interval unchanged', () => {
    const u = run({ task: makeTask({ retriesLeft: 3, nextAttempt: 1, consecutiveAbandons: 2 }), status: 'failed' });
    expect(u).toEqual({
      status: 'next_run_not_scheduled',
      disabledReason: null,
      nextRun: iso('2026-01-10T01:05:00.000Z'),
      currentIntervalMs: DAY,
      retriesLeft: 2,
      consecutiveAbandons: 0,
      nextAttempt: 2,
    });
  });

  it('oneshot with retries left: same retry rule', () => {
    const u = run({ task: makeTask({ policy: 'oneshot', currentIntervalMs: null, retriesLeft: 1, nextAttempt: 4 }), status: 'failed' });
    expect(u.status).toBe('next_run_not_scheduled');
    expect(u.nextRun.toISOString()).toBe('2026-01-10T01:05:00.000Z');
    expect(u.retriesLeft).toBe(0);
    expect(u.nextAttempt).toBe(5);
    expect(u.disabledReason).toBeNull();
  });

  it('the retry delay counts from `ended`, not from the previous nextRun', () => {
    const u = run({ task: makeTask({ nextRun: iso('2025-12-01T00:00:00.000Z') }), ended: iso('2026-01-20T10:00:00.000Z'), status: 'failed' });
    expect(u.nextRun.toISOString()).toBe('2026-01-20T11:00:00.000Z');
  });

  it('a cron task with retries left retries after retryDelay, not at its next occurrence', () => {
    const task = makeTask({ schedule: sched({ kind: 'cron', expr: '0 0 * * *', tz: 'UTC' }), currentIntervalMs: null });
    const u = run({ task, status: 'failed', ended: iso('2026-01-10T00:05:00.000Z') });
    expect(u.nextRun.toISOString()).toBe('2026-01-10T01:05:00.000Z');
    expect(u.retriesLeft).toBe(2);
  });

  it('recurring adaptive without retries: ended + currentInterval, retries reset, attempt reset, interval unchanged', () => {
    const u = run({ task: makeTask({ retriesLeft: 0, nextAttempt: 4, consecutiveAbandons: 1 }), status: 'failed' });
    expect(u).toEqual({
      status: 'next_run_not_scheduled',
      disabledReason: null,
      nextRun: iso('2026-01-11T00:05:00.000Z'),
      currentIntervalMs: DAY,
      retriesLeft: 3,
      consecutiveAbandons: 0,
      nextAttempt: 1,
    });
  });

  it('oneshot without retries: disabled (retries_exhausted)', () => {
    const nextRun = iso('2026-01-10T00:00:00.000Z');
    const u = run({ task: makeTask({ policy: 'oneshot', currentIntervalMs: null, retriesLeft: 0, nextAttempt: 4, nextRun }), status: 'failed' });
    expect(u.status).toBe('disabled');
    expect(u.disabledReason).toBe('retries_exhausted');
    expect(u.retriesLeft).toBe(0);
    expect(u.nextRun).toEqual(nextRun);
  });

  it('recurring cron without retries: next occurrence after max(ended, nextRun), retries reset', () => {
    const task = makeTask({
      schedule: sched({ kind: 'cron', expr: '0 */6 * * *', tz: 'UTC' }),
      currentIntervalMs: null,
      nextRun: iso('2026-01-10T00:00:00.000Z'),
      retriesLeft: 0,
      nextAttempt: 2,
    });
    const u = run({ task, status: 'failed', ended: iso('2026-01-10T07:00:00.000Z') });
    expect(u.nextRun.toISOString()).toBe('2026-01-10T12:00:00.000Z');
    expect(u.retriesLeft).toBe(3);
    expect(u.nextAttempt).toBe(1);
    expect(u.currentIntervalMs).toBeNull();
    expect(u.status).toBe('next_run_not_scheduled');
  });

  it('a full failure streak: three retries, then the normal interval with retries restored', () => {
    let task = makeTask({ retriesLeft: 3 });
    let ended = iso('2026-01-10T00:00:00.000Z');
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) {
      const u = run({ task, status: 'failed', ended });
      seen.push(`${u.nextRun.toISOString()} r${u.retriesLeft} a${u.nextAttempt}`);
      task = { ...task, ...u };
      ended = u.nextRun;
    }
    expect(seen).toEqual([
      '2026-01-10T01:00:00.000Z r2 a2',
      '2026-01-10T02:00:00.000Z r1 a3',
      '2026-01-10T03:00:00.000Z r0 a4',
      '2026-01-11T03:00:00.000Z r3 a1',
    ]);
  });
});

describe('endOfRun: RetryAfter', () => {
  it('retryAfterMs replaces retryDelayMs', () => {
    const u = run({ status: 'failed', retryAfterMs: 5 * MINUTE });
    expect(u.nextRun.toISOString()).toBe('2026-01-10T00:10:00.000Z');
    expect(u.retriesLeft).toBe(2);
    expect(u.nextAttempt).toBe(2);
  });

  it('retryAfterMs 0 retries at `ended`', () => {
    const u = run({ status: 'failed', retryAfterMs: 0 });
    expect(u.nextRun.toISOString()).toBe(ENDED);
    expect(u.retriesLeft).toBe(2);
  });

  it('retryAfterMs null or undefined falls back to the type\'s retryDelayMs', () => {
    expect(run({ status: 'failed', retryAfterMs: null }).nextRun.toISOString()).toBe('2026-01-10T01:05:00.000Z');
    expect(run({ status: 'failed' }).nextRun.toISOString()).toBe('2026-01-10T01:05:00.000Z');
  });

  it('retryAfterMs longer than the interval is honoured', () => {
    const u = run({ status: 'failed', retryAfterMs: 3 * DAY });
    expect(u.nextRun.toISOString()).toBe('2026-01-13T00:05:00.000Z');
  });

  it('without retries left it follows the failed rule (recurring: the interval; oneshot: disabled)', () => {
    const rec = run({ task: makeTask({ retriesLeft: 0 }), status: 'failed', retryAfterMs: 5 * MINUTE });
    expect(rec.nextRun.toISOString()).toBe('2026-01-11T00:05:00.000Z');
    expect(rec.retriesLeft).toBe(3);
    const one = run({ task: makeTask({ policy: 'oneshot', currentIntervalMs: null, retriesLeft: 0 }), status: 'failed', retryAfterMs: 5 * MINUTE });
    expect(one.status).toBe('disabled');
    expect(one.disabledReason).toBe('retries_exhausted');
  });
});

describe('endOfRun: permfailed', () => {
  it.each(['recurring', 'oneshot'] as const)('%s permfailed -> disabled (permfailed), nothing else changes', (policy) => {
    const nextRun = iso('2026-01-10T00:00:00.000Z');
    const interval = policy === 'recurring' ? DAY : null;
    const u = run({ task: makeTask({ policy, currentIntervalMs: interval, nextRun, retriesLeft: 2, nextAttempt: 2, consecutiveAbandons: 1 }), status: 'permfailed' });
    expect(u).toEqual({
      status: 'disabled',
      disabledReason: 'permfailed',
      nextRun,
      currentIntervalMs: interval,
      retriesLeft: 2,
      consecutiveAbandons: 1,
      nextAttempt: 2,
    });
  });

  it('permfailed wins even with retries left', () => {
    const u = run({ task: makeTask({ retriesLeft: 3 }), status: 'permfailed', retryAfterMs: 1000 });
    expect(u.status).toBe('disabled');
    expect(u.disabledReason).toBe('permfailed');
  });
});

describe('endOfRun: abandoned (lost, cause "abandon")', () => {
  it('is rescheduled at `ended` without consuming a retry; consecutiveAbandons + 1', () => {
    const u = run({ task: makeTask({ retriesLeft: 2, nextAttempt: 2, consecutiveAbandons: 0 }), status: 'lost', cause: 'abandon' });
    expect(u).toEqual({
      status: 'next_run_not_scheduled',
      disabledReason: null,
      nextRun: iso(ENDED),
      currentIntervalMs: DAY,
      retriesLeft: 2,
      consecutiveAbandons: 1,
      nextAttempt: 2,
    });
  });

  it('a oneshot with no retries left is rescheduled too, not disabled', () => {
    const u = run({ task: makeTask({ policy: 'oneshot', currentIntervalMs: null, retriesLeft: 0 }), status: 'lost', cause: 'abandon' });
    expect(u.status).toBe('next_run_not_scheduled');
    expect(u.nextRun.toISOString()).toBe(ENDED);
    expect(u.retriesLeft).toBe(0);
  });

  it('a cron task is rescheduled at `ended`, not at its next occurrence', () => {
    const task = makeTask({ schedule: sched({ kind: 'cron', expr: '0 0 * * *', tz: 'UTC' }), currentIntervalMs: null, retriesLeft: 0 });
    const u = run({ task, status: 'lost', cause: 'abandon' });
    expect(u.nextRun.toISOString()).toBe(ENDED);
    expect(u.retriesLeft).toBe(0);
  });

  it('ignores retryAfterMs', () => {
    const u = run({ status: 'lost', cause: 'abandon', retryAfterMs: HOUR });
    expect(u.nextRun.toISOString()).toBe(ENDED);
  });
});

describe('endOfRun: lost to an expired lease', () => {
  it('with retries left: the failed rule plus consecutiveAbandons + 1', () => {
    const u = run({ task: makeTask({ retriesLeft: 2, nextAttempt: 1, consecutiveAbandons: 1 }), status: 'lost', cause: 'lease-expired' });
    expect(u).toEqual({
      status: 'next_run_not_scheduled',
      disabledReason: null,
      nextRun: iso('2026-01-10T01:05:00.000Z'),
      currentIntervalMs: DAY,
      retriesLeft: 1,
      consecutiveAbandons: 2,
      nextAttempt: 2,
    });
  });

  it('recurring without retries: ended + interval, retries reset, consecutiveAbandons still + 1', () => {
    const u = run({ task: makeTask({ retriesLeft: 0, nextAttempt: 3, consecutiveAbandons: 1 }), status: 'lost', cause: 'lease-expired' });
    expect(u.nextRun.toISOString()).toBe('2026-01-11T00:05:00.000Z');
    expect(u.retriesLeft).toBe(3);
    expect(u.nextAttempt).toBe(1);
    expect(u.consecutiveAbandons).toBe(2);
    expect(u.status).toBe('next_run_not_scheduled');
  });

  it('oneshot without retries: disabled (retries_exhausted), consecutiveAbandons + 1', () => {
    const u = run({ task: makeTask({ policy: 'oneshot', currentIntervalMs: null, retriesLeft: 0 }), status: 'lost', cause: 'lease-expired' });
    expect(u.status).toBe('disabled');
    expect(u.disabledReason).toBe('retries_exhausted');
    expect(u.consecutiveAbandons).toBe(1);
  });

  it('a run lost before any claim (cause "end") follows the same rule', () => {
    const u = run({ task: makeTask({ retriesLeft: 1 }), status: 'lost', cause: 'end' });
    expect(u.nextRun.toISOString()).toBe('2026-01-10T01:05:00.000Z');
    expect(u.retriesLeft).toBe(0);
    expect(u.consecutiveAbandons).toBe(1);
  });
});

describe('endOfRun: dead letter', () => {
  it.each(['abandon', 'lease-expired'] as const)('lost (%s) reaching maxAbandons -> disabled (dead_letter) whatever the retries', (cause) => {
    const nextRun = iso('2026-01-10T00:00:00.000Z');
    const u = run({ task: makeTask({ consecutiveAbandons: 2, retriesLeft: 3, nextAttempt: 2, nextRun }), status: 'lost', cause });
    expect(u).toEqual({
      status: 'disabled',
      disabledReason: 'dead_letter',
      nextRun,
      currentIntervalMs: DAY,
      retriesLeft: 3,
      consecutiveAbandons: 3,
      nextAttempt: 2,
    });
  });

  it.each(['abandon', 'lease-expired'] as const)('one below maxAbandons (%s) is not dead-lettered', (cause) => {
    const u = run({ task: makeTask({ consecutiveAbandons: 1 }), status: 'lost', cause });
    expect(u.status).toBe('next_run_not_scheduled');
    expect(u.disabledReason).toBeNull();
    expect(u.consecutiveAbandons).toBe(2);
  });

  it('maxAbandons 1 dead-letters at the first loss', () => {
    const u = run({ type: makeType({ maxAbandons: 1 }), status: 'lost', cause: 'abandon' });
    expect(u.status).toBe('disabled');
    expect(u.disabledReason).toBe('dead_letter');
    expect(u.consecutiveAbandons).toBe(1);
  });

  it('dead letter applies to oneshot tasks with retries left as well', () => {
    const u = run({ task: makeTask({ policy: 'oneshot', currentIntervalMs: null, consecutiveAbandons: 2, retriesLeft: 5 }), status: 'lost', cause: 'lease-expired' });
    expect(u.status).toBe('disabled');
    expect(u.disabledReason).toBe('dead_letter');
  });

  it('a failed end resets consecutiveAbandons, so the streak starts again', () => {
    let task = makeTask({ retriesLeft: 10 });
    const type = makeType({ numRetries: 10 });
    const steps: Array<['lost' | 'failed', 'abandon' | 'lease-expired' | 'end']> = [
      ['lost', 'abandon'],
      ['lost', 'lease-expired'],
      ['failed', 'end'],
      ['lost', 'abandon'],
      ['lost', 'lease-expired'],
    ];
    const trail: string[] = [];
    for (const [status, cause] of steps) {
      const u = run({ task, type, status, cause });
      trail.push(`${u.status}/${u.consecutiveAbandons}`);
      task = { ...task, ...u };
    }
    expect(trail).toEqual([
      'next_run_not_scheduled/1',
      'next_run_not_scheduled/2',
      'next_run_not_scheduled/0',
      'next_run_not_scheduled/1',
      'next_run_not_scheduled/2',
    ]);
    const last = run({ task, type, status: 'lost', cause: 'abandon' });
    expect(last.status).toBe('disabled');
    expect(last.disabledReason).toBe('dead_letter');
    expect(last.consecutiveAbandons).toBe(3);
  });

  it.each(['eventful', 'uneventful'] as const)('%s resets consecutiveAbandons', (status) => {
    expect(run({ task: makeTask({ consecutiveAbandons: 2 }), status }).consecutiveAbandons).toBe(0);
  });
});

describe('endOfRun: cron schedules', () => {
  const hourly = (): Schedule => sched({ kind: 'cron', expr: '0 * * * *', tz: 'UTC' });
  const cronTask = (schedule: Schedule, nextRun: string, over: Partial<TaskPart> = {}): TaskPart =>
    makeTask({ schedule, currentIntervalMs: null, nextRun: iso(nextRun), ...over });

  it('next occurrence strictly after `ended` when the run ended after nextRun', () => {
    const u = run({ task: cronTask(hourly(), '2026-01-10T10:00:00.000Z'), ended: iso('2026-01-10T10:00:30.000Z'), status: 'eventful' });
    expect(u.nextRun.toISOString()).toBe('2026-01-10T11:00:00.000Z');
    expect(u.status).toBe('next_run_not_scheduled');
    expect(u.currentIntervalMs).toBeNull();
  });

  it('an end exactly on an occurrence moves on to the following one', () => {
    const u = run({ task: cronTask(hourly(), '2026-01-10T10:00:00.000Z'), ended: iso('2026-01-10T11:00:00.000Z'), status: 'uneventful' });
    expect(u.nextRun.toISOString()).toBe('2026-01-10T12:00:00.000Z');
  });

  it('uses the previous nextRun when the run ended before it', () => {
    const u = run({ task: cronTask(hourly(), '2026-01-10T12:00:00.000Z'), ended: iso('2026-01-10T10:30:00.000Z'), status: 'eventful' });
    expect(u.nextRun.toISOString()).toBe('2026-01-10T13:00:00.000Z');
  });

  it('does not back-fill missed occurrences', () => {
    const u = run({ task: cronTask(hourly(), '2026-01-10T10:00:00.000Z'), ended: iso('2026-01-12T15:20:00.000Z'), status: 'eventful' });
    expect(u.nextRun.toISOString()).toBe('2026-01-12T16:00:00.000Z');
  });

  it('eventful and uneventful give the same next occurrence and reset the counters', () => {
    const task = cronTask(hourly(), '2026-01-10T10:00:00.000Z', { retriesLeft: 0, consecutiveAbandons: 2, nextAttempt: 3 });
    for (const status of ['eventful', 'uneventful'] as const) {
      const u = run({ task, ended: iso('2026-01-10T10:10:00.000Z'), status });
      expect(u).toEqual({
        status: 'next_run_not_scheduled',
        disabledReason: null,
        nextRun: iso('2026-01-10T11:00:00.000Z'),
        currentIntervalMs: null,
        retriesLeft: 3,
        consecutiveAbandons: 0,
        nextAttempt: 1,
      });
    }
  });

  it('is evaluated in the task\'s time zone', () => {
    const s = sched({ kind: 'cron', expr: '0 9 * * *', tz: 'Asia/Tokyo' });
    const u = run({ task: cronTask(s, '2026-01-10T00:00:00.000Z'), ended: iso('2026-01-10T00:01:00.000Z'), status: 'eventful' });
    expect(u.nextRun.toISOString()).toBe('2026-01-11T00:00:00.000Z');
  });

  describe("'0 3 * * *' in Europe/Warsaw across DST", () => {
    const warsaw = (): Schedule => sched({ kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' });

    it('spring forward (2026-03-29): 03:00 CET then 03:00 CEST', () => {
      // 2026-03-28 03:00 CET = 02:00Z; 2026-03-29 03:00 CEST = 01:00Z
      const first = run({ task: cronTask(warsaw(), '2026-03-28T02:00:00.000Z'), ended: iso('2026-03-28T02:10:00.000Z'), status: 'eventful' });
      expect(first.nextRun.toISOString()).toBe('2026-03-29T01:00:00.000Z');
      const second = run({ task: cronTask(warsaw(), first.nextRun.toISOString()), ended: iso('2026-03-29T01:10:00.000Z'), status: 'uneventful' });
      expect(second.nextRun.toISOString()).toBe('2026-03-30T01:00:00.000Z');
    });

    it('fall back (2026-10-25): 03:00 CEST then 03:00 CET, once', () => {
      const first = run({ task: cronTask(warsaw(), '2026-10-24T01:00:00.000Z'), ended: iso('2026-10-24T01:10:00.000Z'), status: 'eventful' });
      expect(first.nextRun.toISOString()).toBe('2026-10-25T02:00:00.000Z');
      const second = run({ task: cronTask(warsaw(), first.nextRun.toISOString()), ended: iso('2026-10-25T02:10:00.000Z'), status: 'eventful' });
      expect(second.nextRun.toISOString()).toBe('2026-10-26T02:00:00.000Z');
    });

    it('a run ending days late lands on the next 03:00 local after the transition, no back-fill', () => {
      const u = run({ task: cronTask(warsaw(), '2026-03-26T02:00:00.000Z'), ended: iso('2026-03-30T12:00:00.000Z'), status: 'eventful' });
      expect(u.nextRun.toISOString()).toBe('2026-03-31T01:00:00.000Z');
    });

    it('the failure path (no retries left) uses the zone too', () => {
      const u = run({ task: cronTask(warsaw(), '2026-03-28T02:00:00.000Z', { retriesLeft: 0 }), ended: iso('2026-03-28T02:10:00.000Z'), status: 'failed' });
      expect(u.nextRun.toISOString()).toBe('2026-03-29T01:00:00.000Z');
      expect(u.retriesLeft).toBe(3);
    });
  });
});

describe('endOfRun: rrule schedules', () => {
  const ny = (): Schedule => sched({ kind: 'rrule', rule: 'DTSTART;TZID=America/New_York:20260101T090000\nRRULE:FREQ=DAILY' });
  const ruleTask = (schedule: Schedule, nextRun: string, over: Partial<TaskPart> = {}): TaskPart =>
    makeTask({ schedule, currentIntervalMs: null, nextRun: iso(nextRun), ...over });

  it('daily 09:00 New York across 2026-03-08 (EST -> EDT)', () => {
    // 09:00 EST = 14:00Z, 09:00 EDT = 13:00Z
    const a = run({ task: ruleTask(ny(), '2026-03-07T14:00:00.000Z'), ended: iso('2026-03-07T14:30:00.000Z'), status: 'eventful' });
    expect(a.nextRun.toISOString()).toBe('2026-03-08T13:00:00.000Z');
    const b = run({ task: ruleTask(ny(), a.nextRun.toISOString()), ended: iso('2026-03-08T13:30:00.000Z'), status: 'uneventful' });
    expect(b.nextRun.toISOString()).toBe('2026-03-09T13:00:00.000Z');
  });

  it('daily 09:00 New York across 2026-11-01 (EDT -> EST)', () => {
    const a = run({ task: ruleTask(ny(), '2026-10-31T13:00:00.000Z'), ended: iso('2026-10-31T13:30:00.000Z'), status: 'eventful' });
    expect(a.nextRun.toISOString()).toBe('2026-11-01T14:00:00.000Z');
    const b = run({ task: ruleTask(ny(), a.nextRun.toISOString()), ended: iso('2026-11-01T14:30:00.000Z'), status: 'eventful' });
    expect(b.nextRun.toISOString()).toBe('2026-11-02T14:00:00.000Z');
  });

  it('does not back-fill: weeks late gives the next future occurrence only', () => {
    const u = run({ task: ruleTask(ny(), '2026-02-01T14:00:00.000Z'), ended: iso('2026-03-20T18:00:00.000Z'), status: 'eventful' });
    expect(u.nextRun.toISOString()).toBe('2026-03-21T13:00:00.000Z');
  });

  it('strictly after max(ended, nextRun)', () => {
    const early = run({ task: ruleTask(ny(), '2026-03-10T13:00:00.000Z'), ended: iso('2026-03-09T20:00:00.000Z'), status: 'eventful' });
    expect(early.nextRun.toISOString()).toBe('2026-03-11T13:00:00.000Z');
    const onTheDot = run({ task: ruleTask(ny(), '2026-03-10T13:00:00.000Z'), ended: iso('2026-03-10T13:00:00.000Z'), status: 'eventful' });
    expect(onTheDot.nextRun.toISOString()).toBe('2026-03-11T13:00:00.000Z');
  });

  it('an rrule without DTSTART is anchored by normaliseSchedule and then followed', () => {
    const s = sched({ kind: 'rrule', rule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;BYSECOND=0' }, iso('2026-01-01T00:00:00.000Z'));
    const u = run({ task: ruleTask(s, '2026-01-05T08:00:00.000Z'), ended: iso('2026-01-05T08:20:00.000Z'), status: 'eventful' });
    expect(u.nextRun.toISOString()).toBe('2026-01-12T08:00:00.000Z');
  });

  it('the failure path (no retries left) follows the rule', () => {
    const u = run({ task: ruleTask(ny(), '2026-03-07T14:00:00.000Z', { retriesLeft: 0 }), ended: iso('2026-03-07T14:30:00.000Z'), status: 'failed' });
    expect(u.nextRun.toISOString()).toBe('2026-03-08T13:00:00.000Z');
    expect(u.retriesLeft).toBe(3);
    expect(u.status).toBe('next_run_not_scheduled');
  });

  it('a finite rule whose last occurrence has run completes the task instead of throwing', () => {
    const s = sched({ kind: 'rrule', rule: 'DTSTART:20260101T100000Z\nRRULE:FREQ=HOURLY;COUNT=3' });
    const task = ruleTask(s, '2026-01-01T12:00:00.000Z', { retriesLeft: 0 });
    const ok = run({ task, ended: iso('2026-01-01T12:05:00.000Z'), status: 'eventful' });
    expect(ok.status).toBe('completed');
    expect(ok.disabledReason).toBeNull();
    const failed = run({ task, ended: iso('2026-01-01T12:05:00.000Z'), status: 'failed' });
    expect(failed.status).toBe('completed');
    expect(failed.disabledReason).toBeNull();
    // before the last occurrence it still moves on
    const mid = run({ task: ruleTask(s, '2026-01-01T11:00:00.000Z'), ended: iso('2026-01-01T11:05:00.000Z'), status: 'uneventful' });
    expect(mid.nextRun.toISOString()).toBe('2026-01-01T12:00:00.000Z');
  });
});

describe('an interval past the latest instant a Date holds', () => {
  it('holds the next run at +275760-09-13 (a Date, not NaN) instead of overflowing', () => {
    const ended = new Date(8.64e15 - 300);
    const out = run({ status: 'uneventful', ended, task: makeTask({ nextRun: new Date(8.64e15 - 1000), currentIntervalMs: 36_500 * DAY }), type: makeType() });
    expect(out.nextRun.getTime()).toBe(8.64e15);
    expect(Number.isNaN(out.nextRun.getTime())).toBe(false);
  });
});
