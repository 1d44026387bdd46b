import { describe, expect, it } from 'vitest';
import { ConflictError } from './errors.js';
import type { Task } from './model.js';
import { planConflict, replacementFor, type Replacement } from './task-conflict.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const task = (over: Partial<Task> = {}): Task => ({
  id: 7,
  type: 'fetch',
  arguments: { args: ['old'], kwargs: {} },
  policy: 'oneshot',
  schedule: { kind: 'adaptive' },
  nextRun: T0,
  scheduledFor: T0,
  currentIntervalMs: null,
  status: 'next_run_not_scheduled',
  disabledReason: null,
  retriesLeft: 0,
  consecutiveAbandons: 0,
  priority: null,
  nextAttempt: 1,
  key: 'page-1',
  concurrencyKey: null,
  created: T0,
  ...over,
});
const incoming: Replacement = { arguments: { args: ['new'], kwargs: {} }, nextRun: new Date(T0.getTime() + 60_000), scheduledFor: new Date(T0.getTime() + 60_000), priority: 'high', priorityRank: 0, concurrencyKey: 'host-a' };

describe('planConflict', () => {
  it('return: the existing task, whatever its state', () => {
    expect(planConflict(task(), null, 'return', incoming)).toEqual({ action: 'return' });
    expect(planConflict(task({ status: 'next_run_scheduled' }), 'started', 'return', incoming)).toEqual({ action: 'return' });
  });

  it('error: a ConflictError naming the existing task and its key', () => {
    expect(() => planConflict(task(), null, 'error', incoming)).toThrow(ConflictError);
    expect(() => planConflict(task(), null, 'error', incoming)).toThrow(/task 7 of type fetch with key "page-1" is active/);
    expect(() => planConflict(task({ key: null }), null, 'error', incoming)).toThrow(/with the same definition/);
  });

  it('replace: a waiting task takes the new fields; a queued run is withdrawn first', () => {
    expect(planConflict(task(), null, 'replace', incoming)).toEqual({ action: 'replace', withdrawRun: false, update: incoming });
    expect(planConflict(task({ status: 'next_run_scheduled' }), 'scheduled', 'replace', incoming)).toEqual({ action: 'replace', withdrawRun: true, update: incoming });
    // A run in a worker's buffer may have begun (its start is recorded later): left to its worker.
    expect(planConflict(task({ status: 'next_run_scheduled' }), 'claimed', 'replace', incoming)).toEqual({ action: 'return' });
  });

  it('replace: a task whose run has started is left to finish, unchanged', () => {
    expect(planConflict(task({ status: 'next_run_scheduled' }), 'started', 'replace', incoming)).toEqual({ action: 'return' });
  });
});

describe('replacementFor', () => {
  const at = new Date('2026-01-01T00:20:00.000Z');
  const hourly = { kind: 'cron', expr: '0 * * * *', tz: 'UTC' } as const;
  const held = task({ schedule: hourly, policy: 'recurring', nextRun: new Date('2026-01-01T01:00:07.000Z'), scheduledFor: new Date('2026-01-01T01:00:00.000Z') });
  // The incoming task's own schedule (say 30 * * * *) gave it a next run of 00:30, a default.
  const create = { arguments: { args: ['new'], kwargs: {} }, nextRun: new Date('2026-01-01T00:30:00.000Z'), priority: null, priorityRank: 2, concurrencyKey: null };

  it('a next run given is taken as given, serving itself', () => {
    expect(replacementFor(held, create, at)).toMatchObject({ nextRun: create.nextRun, scheduledFor: create.nextRun, arguments: create.arguments });
  });

  it('without one, a cron or rrule task keeps its own next occurrence (its jitter too): its schedule is kept, the incoming one ignored', () => {
    expect(replacementFor(held, { ...create, nextRunDefaulted: true }, at)).toMatchObject({ nextRun: held.nextRun, scheduledFor: held.scheduledFor, arguments: create.arguments });
  });

  it('without one, an adaptive task runs now', () => {
    expect(replacementFor(task(), { ...create, nextRunDefaulted: true }, at)).toMatchObject({ nextRun: at, scheduledFor: at });
  });
});
