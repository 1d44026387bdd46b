import { describe, expect, it } from 'vitest';
import { ConflictError } from './errors.js';
import type { Task } from './model.js';
import { planConflict, type Replacement } from './task-conflict.js';

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
const incoming: Replacement = { arguments: { args: ['new'], kwargs: {} }, nextRun: new Date(T0.getTime() + 60_000), priority: 'high', priorityRank: 0, concurrencyKey: 'host-a' };

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
