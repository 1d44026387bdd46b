/**
 * A duration given as a whole number too large to be exact (1e20, past 2^53 ms) is past 100 years:
 * every duration field says so (`must be at most 100 years`, as 3.2e12 is told), not that it is no
 * integer (audit: `rateLimit.perMs: 1e20` was refused as "must be a non-negative integer number of
 * milliseconds"). Library calls on a real SQLite file; nothing is written.
 */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { useTempOrrery } from './engine-helpers.js';

const open = useTempOrrery();

/** The `path: message` of the ValidationError a call rejects with. */
async function refusal(call: () => Promise<unknown>): Promise<string> {
  const err = await call().then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(ValidationError);
  const d = (err as ValidationError).details[0]!;
  return `${d.path}: ${d.message}`;
}

describe('a duration of 1e20 ms is past 100 years, whatever the field', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['a rate window', { rateLimit: { count: 1, perMs: 1e20 } }, 'rateLimit.perMs'],
    ['a per-key rate window', { rateLimitPerKey: { count: 1, perMs: 1e20 } }, 'rateLimitPerKey.perMs'],
    ['a lease', { leaseMs: 1e20 }, 'leaseMs'],
    ['a lease by its SPEC name', { lease: 1e20 }, 'lease'],
    ['a timeout', { timeoutMs: 1e20 }, 'timeoutMs'],
    ['a default interval', { defaultIntervalMs: 1e20 }, 'defaultIntervalMs'],
    ['a maximum interval', { maxIntervalMs: 1e20 }, 'maxIntervalMs'],
    ['a retry delay', { retryDelayMs: 1e20 }, 'retryDelayMs'],
  ])('%s of a task type', async (_what, fields, path) => {
    const { orrery } = await open();
    expect(await refusal(() => orrery.createTaskType({ name: 'x', ...fields }))).toBe(`${path}: must be at most 100 years`);
    expect(await orrery.getTaskType('x')).toBeNull();
  });

  it('3.2e12 and 1e20 get the same message; a fraction and a negative number keep theirs', async () => {
    const { orrery } = await open();
    const perMs = (v: number) => refusal(() => orrery.createTaskType({ name: 'x', rateLimit: { count: 1, perMs: v } }));
    expect(await perMs(3.2e12)).toBe('rateLimit.perMs: must be at most 100 years');
    expect(await perMs(2 ** 53)).toBe('rateLimit.perMs: must be at most 100 years');
    expect(await perMs(1.5)).toBe('rateLimit.perMs: must be a non-negative integer number of milliseconds');
    expect(await perMs(-1)).toBe('rateLimit.perMs: must be a non-negative integer number of milliseconds');
  });

  it('a task\'s unique window and debounce period, and its schedule\'s jitter and catch-up window', async () => {
    const { orrery } = await open();
    await orrery.createTaskType({ name: 'x' });
    expect(await refusal(() => orrery.createTask({ type: 'x', unique: { for: 1e20 } }))).toBe('unique.for: must be at most 100 years');
    expect(await refusal(() => orrery.createTask({ type: 'x', debounce: { key: 'k', period: 1e20 } }))).toBe('debounce.period: must be at most 100 years');
    expect(await refusal(() => orrery.createTask({ type: 'x', schedule: { kind: 'cron', expr: '0 * * * *', jitter: 1e20 } }))).toBe('schedule.jitter: must be at most 100 years');
    expect(await refusal(() => orrery.createTask({ type: 'x', schedule: { kind: 'cron', expr: '0 * * * *', catchUp: 'all', catchUpWindow: 1e20 } }))).toBe('schedule.catchUpWindow: must be at most 100 years');
    expect(await orrery.searchTasks({})).toEqual([]);
  });

  it('a DAG\'s interval and a run end\'s retryAfterMs', async () => {
    const { orrery } = await open();
    expect(await refusal(() => orrery.dags.register([{ id: 'd', schedule: { every: 1e20 }, tasks: [{ id: 'a' }] }]))).toBe('dags[0].schedule.every: must be at most 100 years');
    expect(await refusal(() => orrery.endRun('no-such-run', { status: 'failed', retryAfterMs: 1e20 }))).toBe('retryAfterMs: must be at most 100 years');
  });
});
