import { describe, expect, it } from 'vitest';
import type { Task, TaskRun } from './model.js';
import { taskAlertOf } from './task-alert.js';

const at = new Date('2026-12-01T00:00:00Z');
const run = (over: Partial<TaskRun>): TaskRun => ({ id: 1, task: 7, type: 'mail', backendId: 'b1', status: 'failed', attempt: 2, error: 'boom', ended: at, ...over }) as TaskRun;
const task = (over: Partial<Task>): Task => ({ id: 7, type: 'mail', status: 'next_run_not_scheduled', disabledReason: null, nextRun: new Date(at.getTime() + 60_000), ...over }) as Task;

describe('taskAlertOf', () => {
  it('a failed run whose task runs again is a retry, with the next run', () => {
    expect(taskAlertOf(run({}), task({}), true)).toEqual({
      kind: 'retry', taskId: 7, type: 'mail', backendId: 'b1', attempt: 2, status: 'failed', error: 'boom', disabledReason: null, nextRun: new Date(at.getTime() + 60_000), ended: at,
    });
  });

  it('an end that disabled its task for good is a failure, with the reason', () => {
    for (const [status, reason] of [['permfailed', 'permfailed'], ['failed', 'retries_exhausted'], ['lost', 'dead_letter']] as const) {
      expect(taskAlertOf(run({ status }), task({ status: 'disabled', disabledReason: reason }), true)).toMatchObject({ kind: 'failed', status, disabledReason: reason, nextRun: null });
    }
  });

  it('no alert: success, a cancellation, a manual disable, a lost run whose task goes on, an end that did not update the task, a completed task', () => {
    expect(taskAlertOf(run({ status: 'eventful', error: null }), task({}), true)).toBeNull();
    expect(taskAlertOf(run({ status: 'uneventful', error: null }), task({ status: 'completed' }), true)).toBeNull();
    expect(taskAlertOf(run({ error: 'cancelled' }), task({ status: 'disabled', disabledReason: 'manual' }), true)).toBeNull();
    expect(taskAlertOf(run({ error: 'cancelled' }), task({}), true)).toBeNull();
    expect(taskAlertOf(run({}), task({ status: 'disabled', disabledReason: 'manual' }), true)).toBeNull();
    expect(taskAlertOf(run({ status: 'lost', error: 'lease expired' }), task({}), true)).toBeNull();
    expect(taskAlertOf(run({}), task({}), false)).toBeNull();
    expect(taskAlertOf(run({}), task({ status: 'completed' }), true)).toBeNull();
    expect(taskAlertOf(run({ task: 8 }), task({}), true)).toBeNull();
  });
});
