import { describe, expect, it } from 'vitest';
import { endOfRun, type EndOfRunInput } from './end-of-run.js';
import { InvalidTransitionError } from './errors.js';
import type { Task, TaskRun, TaskType } from './model.js';
import { asCancellation, planRunEnd, type RunEndRequest } from './run-end.js';
import { normaliseSchedule } from './schedule.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const E = new Date('2026-01-10T06:00:00.000Z');
const NEXT = new Date('2026-01-10T00:00:00.000Z');

const type: TaskType = {
  name: 'load', description: '', backendName: 'load', defaultIntervalMs: DAY, minIntervalMs: 12 * HOUR, maxIntervalMs: 4 * DAY,
  backoffFactor: 2, maxQueueLength: 1000, numRetries: 3, retryDelayMs: HOUR, timeoutMs: null, leaseMs: 30_000, maxAbandons: 3,
  maxRunning: null, maxRunningPerKey: null, rateLimit: null, rateLimitPerKey: null, fairShare: null, fifoPerKey: false,
};
const taskPart = (over: Partial<EndOfRunInput['task']> = {}): EndOfRunInput['task'] => ({
  policy: 'recurring', schedule: { kind: 'adaptive' }, nextRun: NEXT, scheduledFor: NEXT, currentIntervalMs: DAY, retriesLeft: 1, consecutiveAbandons: 2, nextAttempt: 3, ...over,
});
const cancel = (task: EndOfRunInput['task']) => endOfRun({ task, type, status: 'failed', ended: E, cause: 'cancel' });

describe('endOfRun: a cancelled run is skipped (docs/limits.md)', () => {
  it('recurring adaptive: next run one interval after the end; retries, abandons, attempt and interval untouched', () => {
    expect(cancel(taskPart())).toEqual({
      status: 'next_run_not_scheduled', disabledReason: null, nextRun: new Date(E.getTime() + DAY), currentIntervalMs: DAY,
      retriesLeft: 1, consecutiveAbandons: 2, nextAttempt: 3, scheduledFor: new Date(E.getTime() + DAY),
    });
  });

  it('recurring cron: the next occurrence after the end', () => {
    const schedule = normaliseSchedule({ kind: 'cron', expr: '0 12 * * *', tz: 'UTC' }, E, 'schedule');
    expect(cancel(taskPart({ schedule, currentIntervalMs: null })).nextRun).toEqual(new Date('2026-01-10T12:00:00.000Z'));
  });

  it('one-shot: disabled (manual), so it does not run again until respawned', () => {
    expect(cancel(taskPart({ policy: 'oneshot', currentIntervalMs: null }))).toMatchObject({ status: 'disabled', disabledReason: 'manual', retriesLeft: 1 });
  });

  it('with no retries left it still consumes nothing (unlike a failure)', () => {
    expect(cancel(taskPart({ retriesLeft: 0 })).retriesLeft).toBe(0);
    expect(endOfRun({ task: taskPart({ retriesLeft: 0 }), type, status: 'failed', ended: E, cause: 'end' }).retriesLeft).toBe(3);
  });
});

const run = (over: Partial<TaskRun> = {}): TaskRun => ({
  id: 1, task: 1, type: 'load', backendId: 'b1', status: 'started', scheduled: NEXT, scheduledFor: NEXT, started: NEXT, ended: null, metadata: {}, result: null,
  error: null, worker: 'w1', leaseExpiresAt: E, attempt: 1, cancelRequested: false, ...over,
});
const task: Task = {
  id: 1, type: 'load', arguments: { args: [], kwargs: {} }, policy: 'recurring', schedule: { kind: 'adaptive' }, nextRun: NEXT, scheduledFor: NEXT, currentIntervalMs: DAY,
  status: 'next_run_scheduled', disabledReason: null, retriesLeft: 3, consecutiveAbandons: 0, priority: null, nextAttempt: 1, key: null,
  concurrencyKey: null, created: NEXT,
};
const req = (over: Partial<RunEndRequest> = {}): RunEndRequest => ({ status: 'failed', at: E, cause: 'end', worker: 'w1', error: 'boom', ...over });

describe('planRunEnd: cancellations', () => {
  it('a cancelled waiting run ends lost (SPEC: scheduled | claimed -> lost), skipped: no retry, no abandon', () => {
    for (const status of ['scheduled', 'claimed'] as const) {
      const p = planRunEnd(run({ status, worker: null }), task, type, 1, req({ status: 'lost', cause: 'cancel', worker: null, error: 'cancelled' }));
      expect(p.run).toMatchObject({ status: 'lost', error: 'cancelled', ended: E });
      expect(p.task).toMatchObject({ retriesLeft: 3, consecutiveAbandons: 0, nextRun: new Date(E.getTime() + DAY) });
    }
    // A scheduled run never ends failed, even as a cancellation.
    expect(() => planRunEnd(run({ status: 'scheduled', worker: null }), task, type, 1, req({ worker: null }))).toThrow(InvalidTransitionError);
    expect(() => planRunEnd(run({ status: 'scheduled', worker: null }), task, type, 1, req({ cause: 'cancel', worker: null }))).toThrow(InvalidTransitionError);
  });

  it('a started run with cancelRequested that ends failed or lost is a cancellation', () => {
    const flagged = run({ cancelRequested: true });
    expect(asCancellation(flagged, req({ error: 'cancelled' }))).toMatchObject({ status: 'failed', cause: 'cancel', error: 'cancelled' });
    expect(asCancellation(flagged, req({ status: 'lost', cause: 'lease-expired', error: 'lease expired' }))).toMatchObject({
      status: 'failed', cause: 'cancel', error: 'cancelled (lease expired)',
    });
    expect(asCancellation(flagged, req({ status: 'lost', cause: 'abandon', error: 'worker shutting down' })).cause).toBe('cancel');
    const p = planRunEnd(flagged, task, type, 1, req({ error: 'cancelled' }));
    expect(p.task).toMatchObject({ retriesLeft: 3, status: 'next_run_not_scheduled' });
  });

  it('an outcome reached before the worker learned of the request stands', () => {
    const flagged = run({ cancelRequested: true });
    expect(asCancellation(flagged, req({ status: 'eventful', error: null }))).toMatchObject({ status: 'eventful', cause: 'end' });
    expect(asCancellation(flagged, req({ status: 'permfailed' })).status).toBe('permfailed');
    expect(asCancellation(run(), req()).cause).toBe('end'); // not flagged: an ordinary failure
  });

  it('a finished run cannot be cancelled', () => {
    expect(() => planRunEnd(run({ status: 'failed', ended: E }), task, type, 1, req({ cause: 'cancel' }))).toThrow(/already ended/);
  });
});
