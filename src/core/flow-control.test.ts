import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { debounceKeyOf, planDebounce, uniqueKeyOf, withinUniqueWindow } from './flow-control.js';
import type { TaskType } from './model.js';
import { validateTask } from './validation.js';

const AT = new Date('2026-01-01T12:00:00.000Z');
const type: TaskType = {
  name: 'mail', description: '', backendName: 'mail', defaultIntervalMs: null, minIntervalMs: null, maxIntervalMs: null, backoffFactor: 1, maxQueueLength: 1000,
  numRetries: 0, retryDelayMs: 1000, timeoutMs: null, leaseMs: 30_000, maxAbandons: 3, maxRunning: null, maxRunningPerKey: null, rateLimit: null, rateLimitPerKey: null, fairShare: null, fifoPerKey: false,
};
const types = new Map([['mail', type]]);
const fieldOf = (input: object): string | undefined => {
  try {
    validateTask({ type: 'mail', policy: 'oneshot', ...input }, types, AT);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).details[0]?.path;
  }
  throw new Error('expected a ValidationError');
};

describe('unique within a window', () => {
  it('the window is (at - for, at]: the boundary and a window of zero never match', () => {
    expect(withinUniqueWindow(new Date(AT.getTime() - 3_599_999), AT, 3_600_000)).toBe(true);
    expect(withinUniqueWindow(new Date(AT.getTime() - 3_600_000), AT, 3_600_000)).toBe(false);
    expect(withinUniqueWindow(AT, AT, 0)).toBe(false);
    expect(withinUniqueWindow(AT, AT, 1)).toBe(true);
    expect(withinUniqueWindow(new Date(AT.getTime() + 1), AT, 3_600_000)).toBe(false);
  });

  it('matches by key (the default when the task has one) or by arguments, per type', () => {
    const byArgs = validateTask({ type: 'mail', policy: 'oneshot', arguments: { args: [1] }, unique: { for: '1h' } }, types, AT);
    expect(byArgs.unique).toEqual({ key: uniqueKeyOf('mail', 'arguments', null, '{"args":[1],"kwargs":{}}'), forMs: 3_600_000 });
    const byKey = validateTask({ type: 'mail', policy: 'oneshot', key: 'k', arguments: { args: [2] }, unique: { for: 0 } }, types, AT);
    expect(byKey.unique).toEqual({ key: uniqueKeyOf('mail', 'key', 'k', ''), forMs: 0 });
    expect(uniqueKeyOf('mail', 'key', 'k', '')).not.toBe(uniqueKeyOf('other', 'key', 'k', ''));
  });

  it.each([
    [{ unique: { for: '-1h' } }, 'unique.for'],
    [{ unique: { for: -1 } }, 'unique.for'],
    [{ unique: { for: '1h', by: 'key' } }, 'unique.by'],
    [{ unique: { for: '1h', by: 'name' } }, 'unique.by'],
    [{ unique: { for: '1h', window: '1h' } }, 'unique.window'],
  ])('rejects %j naming %s', (input, path) => expect(fieldOf(input)).toBe(path));
});

describe('debounce', () => {
  it('a debounced create is one-shot (by default) and due a period after it', () => {
    const t = validateTask({ type: 'mail', arguments: { args: ['a'] }, debounce: { key: 'user-1', period: '30s' } }, types, AT);
    expect(t).toMatchObject({ policy: 'oneshot', nextRun: new Date(AT.getTime() + 30_000), debounce: { key: debounceKeyOf('mail', 'user-1'), periodMs: 30_000 } });
    // its identity is its own: two debounced creates never collide on it
    expect(validateTask({ type: 'mail', arguments: { args: ['a'] }, debounce: { key: 'user-2', period: '30s' } }, types, AT).dedupeKey).not.toBe(t.dedupeKey);
  });

  it('collapses into the waiting task of its key while its period runs (strictly before it is due)', () => {
    const incoming = { arguments: { args: ['b'], kwargs: {} }, nextRun: new Date(AT.getTime() + 30_000), priority: null, priorityRank: 3, concurrencyKey: null };
    expect(planDebounce({ status: 'next_run_not_scheduled', nextRun: new Date(AT.getTime() + 1) }, AT, incoming)).toEqual({ action: 'collapse', update: incoming });
    expect(planDebounce({ status: 'next_run_not_scheduled', nextRun: AT }, AT, incoming)).toEqual({ action: 'create' });
    expect(planDebounce({ status: 'next_run_scheduled', nextRun: new Date(AT.getTime() + 1) }, AT, incoming)).toEqual({ action: 'create' });
    expect(planDebounce(null, AT, incoming)).toEqual({ action: 'create' });
  });

  it('never moves the due instant back: a create that reached the task after a later one keeps the later due instant', () => {
    const incoming = { arguments: { args: ['late'], kwargs: {} }, nextRun: new Date(AT.getTime() + 30_000), priority: null, priorityRank: 3, concurrencyKey: null };
    const later = new Date(AT.getTime() + 31_000);
    expect(planDebounce({ status: 'next_run_not_scheduled', nextRun: later }, AT, incoming)).toEqual({ action: 'collapse', update: { ...incoming, nextRun: later } });
  });

  it.each([
    [{ debounce: { key: 'k', period: '-1s' } }, 'debounce.period'],
    [{ debounce: { key: '', period: '1s' } }, 'debounce.key'],
    [{ debounce: { key: 'k', period: '1s' }, unique: { for: '1h' } }, 'unique'],
    [{ debounce: { key: 'k', period: '1s' }, key: 'x' }, 'key'],
    [{ debounce: { key: 'k', period: '1s' }, policy: 'recurring' }, 'policy'],
    [{ debounce: { key: 'k', period: '1s' }, nextRun: '2026-01-02' }, 'nextRun'],
  ])('rejects %j naming %s', (input, path) => expect(fieldOf(input)).toBe(path));
});
