import { describe, expect, it } from 'vitest';
import type { DagTaskSpec, DagTaskStatus } from './dag.js';
import { planCancel, planProgress, planRestart, type AttemptState, type TaskInstance } from './dag-progress.js';

const now = new Date('2026-05-01T12:00:00Z');
const spec = (id: string, after: string[] = [], retries = 0): DagTaskSpec => ({ id, after, retries, retryDelayMs: 60_000, timeoutMs: null, type: 'orrery.dag' });
const diamond = [spec('a'), spec('b', ['a']), spec('c', ['a']), spec('d', ['b', 'c'])];

function inst(taskId: string, status: DagTaskStatus, extra: Partial<TaskInstance> = {}): [string, TaskInstance] {
  return [taskId, { taskId, status, attempt: status === 'pending' ? 0 : 1, retriesLeft: 0, lost: 0, started: null, ended: null, error: null, result: null, current: null, ...extra }];
}
const done = (result: unknown): AttemptState => ({ taskStatus: 'completed', disabledReason: null, runStatus: 'eventful', runStarted: new Date(now.getTime() - 2000), runEnded: new Date(now.getTime() - 1000), result, error: null });
const failed = (error = 'boom', reason: AttemptState['disabledReason'] = 'retries_exhausted'): AttemptState => ({ taskStatus: 'disabled', disabledReason: reason, runStatus: reason === 'permfailed' ? 'permfailed' : 'failed', runStarted: new Date(now.getTime() - 2000), runEnded: new Date(now.getTime() - 1000), result: null, error });
const started: AttemptState = { taskStatus: 'next_run_scheduled', disabledReason: null, runStatus: 'started', runStarted: now, runEnded: null, result: null, error: null };

describe('planProgress', () => {
  it('starts the roots of a new run, and only them', () => {
    const p = planProgress(diamond, new Map([inst('a', 'pending'), inst('b', 'pending'), inst('c', 'pending'), inst('d', 'pending')]), now);
    expect(p.attempts).toEqual([{ taskId: 'a', attempt: 1, notBefore: now, upstream: {} }]);
    expect(p.changes.map((c) => [c.taskId, c.status])).toEqual([['a', 'scheduled']]);
    expect(p.runStatus).toBeNull();
  });

  it('diamond: a success fans out to both branches, which join into d with both results', () => {
    let p = planProgress(diamond, new Map([inst('a', 'scheduled', { current: done(1) }), inst('b', 'pending'), inst('c', 'pending'), inst('d', 'pending')]), now);
    expect(p.attempts.map((a) => [a.taskId, a.upstream])).toEqual([['b', { a: 1 }], ['c', { a: 1 }]]);
    p = planProgress(diamond, new Map([inst('a', 'success', { result: 1 }), inst('b', 'running', { current: done(2) }), inst('c', 'running', { current: started }), inst('d', 'pending')]), now);
    expect(p.attempts).toEqual([]); // d waits for c
    p = planProgress(diamond, new Map([inst('a', 'success', { result: 1 }), inst('b', 'success', { result: 2 }), inst('c', 'running', { current: done(3) }), inst('d', 'pending')]), now);
    expect(p.attempts).toEqual([{ taskId: 'd', attempt: 1, notBefore: now, upstream: { b: 2, c: 3 } }]);
    p = planProgress(diamond, new Map([inst('a', 'success'), inst('b', 'success'), inst('c', 'success'), inst('d', 'running', { current: done(null) })]), now);
    expect(p.runStatus).toBe('success');
    // The run ended when its last task did, not when this step noticed it (a scheduler down meanwhile).
    expect(p.runEnded).toEqual(new Date(now.getTime() - 1000));
  });

  it('marks a task running when its attempt starts, keeping the first start', () => {
    const p = planProgress([spec('a')], new Map([inst('a', 'scheduled', { current: started })]), now);
    expect(p.changes).toMatchObject([{ taskId: 'a', status: 'running', started: now }]);
    expect(planProgress([spec('a')], new Map([inst('a', 'running', { current: started })]), now).changes).toEqual([]);
  });

  it('a failure with retries left schedules the next attempt after the delay and alerts a retry', () => {
    const p = planProgress([spec('a', [], 2)], new Map([inst('a', 'running', { retriesLeft: 2, current: failed('E1') })]), now);
    expect(p.changes).toMatchObject([{ taskId: 'a', status: 'up_for_retry', attempt: 2, retriesLeft: 1, error: 'E1' }]);
    expect(p.attempts).toEqual([{ taskId: 'a', attempt: 2, notBefore: new Date(now.getTime() - 1000 + 60_000), upstream: {} }]);
    expect(p.alerts).toMatchObject([{ kind: 'retry', taskId: 'a', attempt: 1, error: 'E1' }]);
    // Near JavaScript's last instant the retry is held there (it was an invalid Date: the DAG step failed for good).
    const last = new Date(8.64e15);
    const late: AttemptState = { ...failed('E2'), runStarted: new Date(8.64e15 - 2000), runEnded: new Date(8.64e15 - 500) };
    const q = planProgress([spec('a', [], 2)], new Map([inst('a', 'running', { retriesLeft: 2, current: late })]), last);
    expect(q.attempts).toEqual([{ taskId: 'a', attempt: 2, notBefore: last, upstream: {} }]);
  });

  it('retries exhausted: the task fails, every descendant is upstream_failed, an independent branch goes on', () => {
    const tasks = [spec('a'), spec('b', ['a']), spec('c', ['b']), spec('x'), spec('y', ['x'])];
    const p = planProgress(tasks, new Map([inst('a', 'running', { current: failed('bad') }), inst('b', 'pending'), inst('c', 'pending'), inst('x', 'running', { current: done('ok') }), inst('y', 'pending')]), now);
    const status = Object.fromEntries(p.changes.map((c) => [c.taskId, c.status]));
    expect(status).toEqual({ a: 'failed', b: 'upstream_failed', c: 'upstream_failed', x: 'success', y: 'scheduled' });
    expect(p.alerts).toMatchObject([{ kind: 'failed', taskId: 'a', error: 'bad' }]);
    expect(p.runStatus).toBeNull(); // y still runs
    const end = planProgress(tasks, new Map([inst('a', 'failed'), inst('b', 'upstream_failed'), inst('c', 'upstream_failed'), inst('x', 'success'), inst('y', 'running', { current: done(1) })]), now);
    expect(end.runStatus).toBe('failed');
  });

  it('a permanent failure is not retried; neither is an attempt disabled by hand', () => {
    expect(planProgress([spec('a', [], 3)], new Map([inst('a', 'running', { retriesLeft: 3, current: failed('no', 'permfailed') })]), now).changes[0]!.status).toBe('failed');
    expect(planProgress([spec('a', [], 3)], new Map([inst('a', 'running', { retriesLeft: 3, current: failed('cancelled', 'manual') })]), now).changes[0]!.status).toBe('failed');
  });

  it('an attempt lost with its worker runs again at once without using a retry, until it is lost three times in a row', () => {
    const lost: AttemptState = { ...failed('lease expired', 'retries_exhausted'), runStatus: 'lost' };
    const p = planProgress([spec('a', [], 1)], new Map([inst('a', 'running', { retriesLeft: 1, current: lost })]), now);
    expect(p.changes).toMatchObject([{ status: 'scheduled', attempt: 2, retriesLeft: 1, lost: 1 }]);
    expect(p.attempts).toEqual([{ taskId: 'a', attempt: 2, notBefore: now, upstream: {} }]);
    expect(p.alerts).toEqual([]);
    // the third loss in a row counts as a failure (the retry is then used)
    const third = planProgress([spec('a', [], 1)], new Map([inst('a', 'running', { retriesLeft: 1, lost: 2, current: lost })]), now);
    expect(third.changes).toMatchObject([{ status: 'up_for_retry', retriesLeft: 0, lost: 0 }]);
  });

  it('a task whose next attempt cannot be made (its type deleted) fails with the reason, first attempt or retry; its descendants are upstream_failed', () => {
    const why = new Map([['a', 'type: unknown task type "x"']]);
    const p = planProgress([spec('a'), spec('b', ['a']), spec('c')], new Map([inst('a', 'pending'), inst('b', 'pending'), inst('c', 'pending')]), now, why);
    expect(p.attempts.map((a) => a.taskId)).toEqual(['c']);
    expect(p.changes.find((c) => c.taskId === 'a')).toMatchObject({ status: 'failed', attempt: 1, ended: now, error: 'attempt 1: type: unknown task type "x"' });
    expect(p.changes.find((c) => c.taskId === 'b')).toMatchObject({ status: 'upstream_failed' });
    expect(p.alerts).toEqual([{ kind: 'failed', taskId: 'a', attempt: 1, error: 'attempt 1: type: unknown task type "x"' }]);
    const retry = planProgress([spec('a', [], 2)], new Map([inst('a', 'running', { retriesLeft: 2, current: failed() })]), now, why);
    expect(retry.attempts).toEqual([]);
    expect(retry.changes).toMatchObject([{ status: 'failed', attempt: 2, error: 'attempt 2: type: unknown task type "x"' }]);
  });

  it('an attempt whose jobboard task is gone fails with that reason', () => {
    const p = planProgress([spec('a')], new Map([inst('a', 'running', { current: 'missing' })]), now);
    expect(p.changes[0]).toMatchObject({ status: 'failed', error: expect.stringContaining('gone') });
  });
});

describe('planRestart', () => {
  it('resets failed and upstream-failed tasks with their retries, keeping successes', () => {
    const tasks = [spec('a'), spec('b', ['a'], 2), spec('c', ['b'])];
    const first = new Date(now.getTime() - 60_000);
    const changes = planRestart(tasks, new Map([inst('a', 'success'), inst('b', 'failed', { attempt: 3, started: first, ended: now }), inst('c', 'upstream_failed')]));
    expect(changes).toEqual([
      { taskId: 'b', status: 'pending', attempt: 3, retriesLeft: 2, lost: 0, started: first, ended: null, error: null, result: null },
      { taskId: 'c', status: 'pending', attempt: 1, retriesLeft: 0, lost: 0, started: null, ended: null, error: null, result: null },
    ]);
    // then only b starts (attempt 4), as its parent succeeded
    const after = planProgress(tasks, new Map([inst('a', 'success', { result: 'A' }), inst('b', 'pending', { attempt: 3, retriesLeft: 2, started: first }), inst('c', 'pending', { attempt: 1 })]), now);
    expect(after.attempts).toEqual([{ taskId: 'b', attempt: 4, notBefore: now, upstream: { a: 'A' } }]);
    // it keeps its first attempt's start through the new attempt
    expect(after.changes).toEqual([expect.objectContaining({ taskId: 'b', status: 'scheduled', attempt: 4, started: first, ended: null })]);
  });
});

describe('planCancel', () => {
  it('fails every unfinished task with error "cancelled" and keeps finished ones; a restart re-runs exactly those', () => {
    const instances = new Map([
      inst('a', 'success', { result: 1 }),
      inst('b', 'running', { current: started, started: now, retriesLeft: 2 }),
      inst('c', 'up_for_retry', { attempt: 2 }),
      inst('d', 'pending'),
      inst('e', 'failed', { error: 'boom' }),
    ]);
    const later = new Date(now.getTime() + 5000);
    const changes = planCancel(instances, later);
    expect(changes.map((c) => [c.taskId, c.status, c.error, c.ended])).toEqual([
      ['b', 'failed', 'cancelled', later],
      ['c', 'failed', 'cancelled', later],
      ['d', 'failed', 'cancelled', later],
    ]);
    expect(changes.find((c) => c.taskId === 'b')).toMatchObject({ started: now, retriesLeft: 2, attempt: 1 });
    const after = new Map([...instances].map(([id, i]) => [id, { ...i, ...(changes.find((c) => c.taskId === id) ?? {}) }]));
    const tasks = ['a', 'b', 'c', 'd', 'e'].map((id) => spec(id));
    expect(planRestart(tasks, after).map((c) => c.taskId)).toEqual(['b', 'c', 'd', 'e']);
    // Once every task is final, the progress step has nothing left to do.
    expect(planProgress(tasks, after, later)).toMatchObject({ attempts: [], changes: [], runStatus: 'failed' });
  });
});
