import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import type { TaskType } from './model.js';
import { assertJson, canonicalJson, dedupeKey, validateMetadata, validateTask, validateTaskType } from './validation.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const iso = (s: string): Date => new Date(s);
const AT = iso('2026-01-10T12:34:56.000Z');

function errorOf(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

const paths = (e: ValidationError): string[] => e.details.map((d) => d.path);

describe('validateTaskType', () => {
  it('fills every default', () => {
    expect(validateTaskType({ name: 'load-git' })).toEqual({
      name: 'load-git',
      description: '',
      backendName: 'load-git',
      defaultIntervalMs: null,
      minIntervalMs: null,
      maxIntervalMs: null,
      backoffFactor: 1,
      maxQueueLength: 1000,
      numRetries: 0,
      retryDelayMs: 3_600_000,
      timeoutMs: null,
      leaseMs: 30_000,
      maxAbandons: 3,
      maxRunning: null,
      maxRunningPerKey: null,
      rateLimit: null,
      rateLimitPerKey: null,
      fairShare: null,
      fifoPerKey: false,
    });
  });

  it('min and max default to the default interval', () => {
    const t = validateTaskType({ name: 'load-git', defaultIntervalMs: DAY });
    expect(t.defaultIntervalMs).toBe(DAY);
    expect(t.minIntervalMs).toBe(DAY);
    expect(t.maxIntervalMs).toBe(DAY);
  });

  it('only one bound given: the other defaults to the default interval', () => {
    const t = validateTaskType({ name: 'x', defaultIntervalMs: DAY, minIntervalMs: HOUR });
    expect([t.minIntervalMs, t.maxIntervalMs]).toEqual([HOUR, DAY]);
    const u = validateTaskType({ name: 'x', defaultIntervalMs: DAY, maxIntervalMs: '64d' });
    expect([u.minIntervalMs, u.maxIntervalMs]).toEqual([DAY, 64 * DAY]);
  });

  it('accepts durations as strings (compact, ISO, plain ms) and as numbers', () => {
    const t = validateTaskType({
      name: 'load-git',
      description: 'Load a git repository',
      backendName: 'swh.loader.git',
      defaultIntervalMs: '1d',
      minIntervalMs: 'PT12H',
      maxIntervalMs: '64d',
      backoffFactor: 2,
      maxQueueLength: null,
      numRetries: 3,
      retryDelayMs: '15m',
      timeoutMs: '1d12h',
      leaseMs: 90_000,
      maxAbandons: 5,
      maxRunning: 5,
      maxRunningPerKey: 1,
      rateLimit: '100/1m',
    });
    expect(t).toEqual({
      name: 'load-git',
      description: 'Load a git repository',
      backendName: 'swh.loader.git',
      defaultIntervalMs: DAY,
      minIntervalMs: 12 * HOUR,
      maxIntervalMs: 64 * DAY,
      backoffFactor: 2,
      maxQueueLength: null,
      numRetries: 3,
      retryDelayMs: 15 * MINUTE,
      timeoutMs: 36 * HOUR,
      leaseMs: 90 * SECOND,
      maxAbandons: 5,
      maxRunning: 5,
      maxRunningPerKey: 1,
      rateLimit: { count: 100, perMs: MINUTE },
      rateLimitPerKey: null,
      fairShare: null,
      fifoPerKey: false,
    });
    expect(validateTaskType({ name: 'y', retryDelayMs: '250' }).retryDelayMs).toBe(250);
    expect(validateTaskType({ name: 'y', rateLimit: { count: 50, perMs: '1s' } }).rateLimit).toEqual({ count: 50, perMs: SECOND });
  });

  it('a rate, a duration or a weight of the wrong kind says what it must be', () => {
    const problem = (input: Record<string, unknown>) => {
      try {
        validateTaskType({ name: 'y', ...input });
      } catch (e) {
        return (e as { details: Array<{ path: string; message: string }> }).details[0];
      }
      return null;
    };
    expect(problem({ rateLimit: 5 })).toEqual({ path: 'rateLimit', message: 'must be a rate: text like "100/1m" or { count, perMs }' });
    expect(problem({ rateLimit: { count: 1 } })).toEqual({ path: 'rateLimit.perMs', message: expect.stringMatching(/^must be a duration: a number of milliseconds or text like "90s"/) });
    expect(problem({ retryDelayMs: true })).toEqual({ path: 'retryDelayMs', message: expect.stringMatching(/^must be a duration/) });
    expect(problem({ fairShare: { weights: { a: '3 b=2' } } })).toEqual({ path: 'fairShare.weights.a', message: 'must be a whole number from 1' });
  });

  it('accepts names made of the allowed characters, up to 128 of them', () => {
    for (const name of ['a', '0', 'load-git', 'swh.loader:git_v2', 'a.b:c-d', 'a'.repeat(128)]) {
      expect(validateTaskType({ name }).name).toBe(name);
    }
  });

  it.each([
    [{ name: 'Load-Git' }, 'name', 'must match'],
    [{ name: '-load' }, 'name', 'must match'],
    [{ name: 'load git' }, 'name', 'must match'],
    [{ name: '_load' }, 'name', 'must match'],
    [{ name: 'load/git' }, 'name', 'must match'],
    [{ name: '' }, 'name', 'must match'],
    [{ name: 'a'.repeat(129) }, 'name', 'at most 128 characters'],
    [{}, 'name', ''],
    [{ name: 'x', defaultIntervalMs: HOUR, minIntervalMs: 2 * HOUR, maxIntervalMs: 3 * HOUR }, 'minIntervalMs', 'must be <= defaultIntervalMs'],
    [{ name: 'x', defaultIntervalMs: 4 * HOUR, minIntervalMs: HOUR, maxIntervalMs: 3 * HOUR }, 'maxIntervalMs', 'must be >= defaultIntervalMs'],
    [{ name: 'x', minIntervalMs: HOUR }, 'defaultIntervalMs', 'is required when minIntervalMs is set'],
    [{ name: 'x', minIntervalMs: HOUR, maxIntervalMs: 2 * HOUR }, 'defaultIntervalMs', 'is required when minIntervalMs and maxIntervalMs are set'],
    [{ name: 'x', defaultIntervalMs: 0 }, 'defaultIntervalMs', 'must be > 0'],
    [{ name: 'x', defaultIntervalMs: -5 }, 'defaultIntervalMs', 'non-negative'],
    [{ name: 'x', defaultIntervalMs: '-5s' }, 'defaultIntervalMs', 'invalid duration "-5s"'],
    [{ name: 'x', defaultIntervalMs: 1.5 }, 'defaultIntervalMs', 'integer'],
    [{ name: 'x', retryDelayMs: 'P1M' }, 'retryDelayMs', 'invalid ISO 8601 duration'],
    [{ name: 'x', retryDelayMs: 'soon' }, 'retryDelayMs', 'invalid duration'],
    [{ name: 'x', backoffFactor: 0 }, 'backoffFactor', 'must be > 0'],
    [{ name: 'x', backoffFactor: -2 }, 'backoffFactor', 'must be > 0'],
    [{ name: 'x', maxQueueLength: -1 }, 'maxQueueLength', 'must not be negative'],
    [{ name: 'x', maxQueueLength: 1.5 }, 'maxQueueLength', 'must be an integer'],
    [{ name: 'x', numRetries: -1 }, 'numRetries', 'must not be negative'],
    [{ name: 'x', maxAbandons: 0 }, 'maxAbandons', 'must be at least 1'],
    [{ name: 'x', leaseMs: 999 }, 'leaseMs', 'must be at least 1s'],
    [{ name: 'x', leaseMs: '500ms' }, 'leaseMs', 'must be at least 1s'],
    [{ name: 'x', timeoutMs: 0 }, 'timeoutMs', 'must be > 0'],
    [{ name: 'x', backendName: 'has space' }, 'backendName', 'must not contain spaces'],
    [{ name: 'x', retries: 3 }, 'retries', 'unknown field'],
    [{ name: 'x', rateLimitPerKey: '0/1m' }, 'rateLimitPerKey', 'the count must be a positive integer'],
    [{ name: 'x', rateLimitPerKey: { count: 5, perMs: 0 } }, 'rateLimitPerKey.perMs', 'at least 1ms'],
    [{ name: 'x', fairShare: 'yes' }, 'fairShare', ''],
    [{ name: 'x', fairShare: { weights: { a: 0 } } }, 'fairShare.weights.a', 'must be at least 1'],
    [{ name: 'x', fairShare: { weights: { a: 1.5 } } }, 'fairShare.weights.a', 'must be an integer'],
    [{ name: 'x', fairShare: { weights: { a: 1001 } } }, 'fairShare.weights.a', 'at most 1000'],
    [{ name: 'x', fairShare: { weight: { a: 2 } } }, 'fairShare.weight', 'unknown field'],
    [{ name: 'x', fifoPerKey: 'yes' }, 'fifoPerKey', ''],
    [{ name: 'x', fifoPerKey: true, maxRunningPerKey: 2 }, 'maxRunningPerKey', 'must be null or 1 with fifoPerKey'],
    [{ name: 'x', fifoPerKey: true, fairShare: { weights: { a: 2 } } }, 'fairShare.weights', 'have no effect with fifoPerKey'],
  ])('%j is rejected naming %s', (input, path, message) => {
    const e = errorOf(() => validateTaskType(input));
    expect(paths(e)).toContain(path);
    expect(e.details.find((d) => d.path === path)?.message).toContain(message);
    expect(e.message.startsWith(`${path}: `)).toBe(true);
  });

  it('reports the checks across fields with the fields\' own problems, all at once', () => {
    const details = (input: unknown) => {
      try {
        validateTaskType(input);
      } catch (e) {
        return (e as ValidationError).details.map((d) => `${d.path}: ${d.message}`);
      }
      return [];
    };
    expect(details({ name: 'x4', defaultIntervalMs: '1h', minIntervalMs: '2h', backoffFactor: 0, numRetries: -1, bogus: 1 })).toEqual([
      'backoffFactor: must be > 0',
      'numRetries: must not be negative',
      'bogus: unknown field',
      'minIntervalMs: must be <= defaultIntervalMs',
    ]);
    // A bound left out takes the default: only the fields given are named (an audit saw maxIntervalMs 3
    // with defaultIntervalMs 4 blamed on minIntervalMs, which was not given).
    expect(details({ name: 'x5', defaultIntervalMs: 4, maxIntervalMs: 3 })).toEqual(['maxIntervalMs: must be >= defaultIntervalMs']);
    expect(details({ name: 'x6', defaultInterval: '1h', minInterval: '2h', maxInterval: '30m' })).toEqual([
      'minInterval: must be <= maxInterval',
      'minInterval: must be <= defaultInterval',
      'maxInterval: must be >= defaultInterval',
    ]);
    expect(details({ name: 'x', lease: '0.5s', numRetries: -1 })).toEqual(['numRetries: must not be negative', 'lease: must be at least 1s']);
    // A creation in the specification's names hears of every duration field by those names, as an edit
    // does: the default interval it left out was named defaultIntervalMs.
    expect(details({ name: 'k2', minInterval: '1h', maxInterval: '2h' })).toEqual(['defaultInterval: is required when minInterval and maxInterval are set']);
    expect(details({ name: 'k2', minIntervalMs: 3_600_000, maxIntervalMs: 7_200_000 })).toEqual(['defaultIntervalMs: is required when minIntervalMs and maxIntervalMs are set']);
    // A check that reads a field which failed is left out: no 'required' for a field that was given.
    expect(details({ name: 'x', defaultInterval: 'abc', minInterval: '1h' })).toEqual([expect.stringMatching(/^defaultInterval: /)]);
    expect(details({ name: 'x', defaultInterval: '1h', minInterval: '2h', maxInterval: 'abc' }).filter((d) => d.includes('maxInterval'))).toHaveLength(1);
    expect(details({ name: 'Bad Name', defaultInterval: '1h', minInterval: '2h' })).toContain('minInterval: must be <= defaultInterval');
  });

  it('min > max is rejected naming minIntervalMs', () => {
    const e = errorOf(() => validateTaskType({ name: 'x', defaultIntervalMs: '2h', minIntervalMs: '3h', maxIntervalMs: '1h' }));
    expect(e.message).toMatch(/^minIntervalMs: must be <= maxIntervalMs/);
    expect(e.details).toContainEqual({ path: 'minIntervalMs', message: 'must be <= maxIntervalMs' });
  });

  it('flow control: rateLimitPerKey as text or object, fairShare as true or weights (kept in one order), fifoPerKey', () => {
    const t = validateTaskType({ name: 'x', rateLimitPerKey: '5/s', fairShare: { weights: { b: 2, a: 3 } } });
    expect(t).toMatchObject({ rateLimitPerKey: { count: 5, perMs: SECOND }, fairShare: { weights: { a: 3, b: 2 } }, fifoPerKey: false });
    expect(Object.keys(t.fairShare!.weights)).toEqual(['a', 'b']);
    expect(validateTaskType({ name: 'x', fairShare: true }).fairShare).toEqual({ weights: {} });
    expect(validateTaskType({ name: 'x', fairShare: false }).fairShare).toBeNull();
    expect(validateTaskType({ name: 'x', fairShare: {} }).fairShare).toEqual({ weights: {} });
    expect(validateTaskType({ name: 'x', fifoPerKey: true, maxRunningPerKey: 1, fairShare: true })).toMatchObject({ fifoPerKey: true, maxRunningPerKey: 1 });
    const many = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, 2]));
    expect(paths(errorOf(() => validateTaskType({ name: 'x', fairShare: { weights: many } })))).toContain('fairShare.weights');
  });

  it('the lease may be exactly 1s', () => {
    expect(validateTaskType({ name: 'x', leaseMs: '1s' }).leaseMs).toBe(1_000);
  });

  it('min == default == max is fine', () => {
    const t = validateTaskType({ name: 'x', defaultIntervalMs: '1h', minIntervalMs: '60m', maxIntervalMs: 'PT1H' });
    expect([t.minIntervalMs, t.defaultIntervalMs, t.maxIntervalMs]).toEqual([HOUR, HOUR, HOUR]);
  });

  it('reports every problem at once, the first in the message', () => {
    const e = errorOf(() => validateTaskType({ name: 'Bad', backoffFactor: 0, bogus: 1 }));
    expect(paths(e).sort()).toEqual(['backoffFactor', 'bogus', 'name']);
    expect(e.message).toMatch(/\(and 2 more problems\)$/);
    expect(e.code).toBe('validation_error');
  });

  it('rejects a non-object', () => {
    expect(() => validateTaskType('load-git')).toThrow(ValidationError);
    expect(() => validateTaskType(null)).toThrow(ValidationError);
  });
});

function types(): Map<string, TaskType> {
  return new Map<string, TaskType>([
    ['load-git', validateTaskType({ name: 'load-git', defaultIntervalMs: '1d', minIntervalMs: '12h', maxIntervalMs: '64d', backoffFactor: 2, numRetries: 2 })],
    ['send-mail', validateTaskType({ name: 'send-mail', backendName: 'mailer' })],
  ]);
}

describe('validateTask', () => {
  it('fills the defaults of a recurring adaptive task', () => {
    const t = validateTask({ type: 'load-git' }, types(), AT);
    expect(t).toEqual({
      type: 'load-git',
      arguments: { args: [], kwargs: {} },
      policy: 'recurring',
      schedule: { kind: 'adaptive' },
      nextRun: AT,
      nextRunDefaulted: true,
      currentIntervalMs: DAY,
      retriesLeft: 2,
      priority: null,
      priorityRank: 3,
      dedupeKey: expect.any(String),
      key: null,
      concurrencyKey: null,
      onConflict: 'return',
    });
  });

  it('refuses arguments that the schema would read as {} (a Map, a Set, a Date, a RegExp): the Map\'s entries were lost', () => {
    const cases: Array<[unknown, string]> = [
      [new Map([['args', [1]]]), 'arguments: a Map is not JSON (it would be written as {}): convert it, e.g. Object.fromEntries(map)'],
      [new Set([1]), 'arguments: a Set is not JSON (it would be written as {}): convert it, e.g. Array.from(set)'],
      [new Date(0), 'arguments: must be an object { args, kwargs }, not a Date'],
      [/x/, 'arguments: a RegExp is not JSON (it would be written as {}): keep its source'],
    ];
    for (const [args, message] of cases) expect(() => validateTask({ type: 'load-git', arguments: args }, types(), AT)).toThrow(message);
    expect(validateTask({ type: 'load-git', arguments: Object.assign(Object.create(null), { args: [1] }) }, types(), AT).arguments).toEqual({ args: [1], kwargs: {} });
  });

  it('keeps what is given', () => {
    const t = validateTask(
      {
        type: 'load-git',
        arguments: { args: ['https://example.org/repo.git'], kwargs: { depth: 1 } },
        policy: 'recurring',
        nextRun: '2026-02-01T00:00:00Z',
        priority: 'high',
        retriesLeft: 0,
      },
      types(),
      AT,
    );
    expect(t.arguments).toEqual({ args: ['https://example.org/repo.git'], kwargs: { depth: 1 } });
    expect(t.nextRun.toISOString()).toBe('2026-02-01T00:00:00.000Z');
    expect(t.priority).toBe('high');
    expect(t.priorityRank).toBe(0);
    expect(t.retriesLeft).toBe(0);
  });

  it('takes null for nextRun and retriesLeft as their defaults (SPEC §1.2: given ?? default)', () => {
    const given = { type: 'load-git', nextRun: null, retriesLeft: null };
    for (const t of [validateTask(given, types(), AT), validateTask(JSON.parse(JSON.stringify({ ...given, policy: 'oneshot', unique: { for: '1h' } })), types(), AT)]) {
      expect(t.nextRun).toEqual(AT);
      expect(t.retriesLeft).toBe(2);
    }
    // a cron task's first occurrence, as when nextRun is absent
    const cron = validateTask({ type: 'load-git', nextRun: null, schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' } }, types(), AT);
    expect(cron.nextRun).toEqual(validateTask({ type: 'load-git', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'UTC' } }, types(), AT).nextRun);
  });

  it('accepts a Date for nextRun', () => {
    expect(validateTask({ type: 'load-git', nextRun: iso('2026-03-01T00:00:00Z') }, types(), AT).nextRun.toISOString()).toBe('2026-03-01T00:00:00.000Z');
  });

  it('oneshot task of a type without a default interval', () => {
    const t = validateTask({ type: 'send-mail', policy: 'oneshot', arguments: { kwargs: { to: 'a@example.org' } } }, types(), AT);
    expect(t.policy).toBe('oneshot');
    expect(t.schedule).toEqual({ kind: 'adaptive' });
    expect(t.currentIntervalMs).toBeNull();
    expect(t.retriesLeft).toBe(0);
    expect(t.nextRun).toEqual(AT);
    expect(t.arguments).toEqual({ args: [], kwargs: { to: 'a@example.org' } });
  });

  it('rejects an unknown type', () => {
    expect(errorOf(() => validateTask({ type: 'nope' }, types(), AT)).message).toBe('type: unknown task type "nope"');
  });

  it('rejects a oneshot task with a cron or rrule schedule', () => {
    const cron = errorOf(() => validateTask({ type: 'send-mail', policy: 'oneshot', schedule: { kind: 'cron', expr: '0 3 * * *' } }, types(), AT));
    expect(cron.message).toMatch(/^schedule: a oneshot task runs once/);
    const rrule = errorOf(() => validateTask({ type: 'send-mail', policy: 'oneshot', schedule: { kind: 'rrule', rule: 'FREQ=DAILY' } }, types(), AT));
    expect(rrule.details[0]?.path).toBe('schedule');
  });

  it('rejects a recurring adaptive task whose type has no default interval', () => {
    const e = errorOf(() => validateTask({ type: 'send-mail' }, types(), AT));
    expect(e.message).toMatch(/^policy: task type "send-mail" has no defaultInterval/);
  });

  it('a recurring cron task of a type without a default interval is fine', () => {
    const t = validateTask({ type: 'send-mail', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' } }, types(), AT);
    expect(t.currentIntervalMs).toBeNull();
    expect(t.schedule).toEqual({ kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' });
  });

  it('a cron task without nextRun starts at the first occurrence at or after `at`', () => {
    const t = validateTask({ type: 'load-git', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' } }, types(), AT);
    // 2026-01-11 03:00 CET = 02:00Z
    expect(t.nextRun.toISOString()).toBe('2026-01-11T02:00:00.000Z');
    expect(t.currentIntervalMs).toBeNull();
    const onTheDot = validateTask({ type: 'load-git', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' } }, types(), iso('2026-01-11T02:00:00.000Z'));
    expect(onTheDot.nextRun.toISOString()).toBe('2026-01-11T02:00:00.000Z');
  });

  it('an rrule task without nextRun starts at its first occurrence at or after `at`', () => {
    const t = validateTask(
      { type: 'load-git', schedule: { kind: 'rrule', rule: 'DTSTART;TZID=America/New_York:20260101T090000\nRRULE:FREQ=DAILY' } },
      types(),
      AT,
    );
    expect(t.nextRun.toISOString()).toBe('2026-01-10T14:00:00.000Z');
    const anchored = validateTask({ type: 'load-git', schedule: { kind: 'rrule', rule: 'FREQ=DAILY' } }, types(), AT);
    expect(anchored.nextRun.toISOString()).toBe('2026-01-10T12:34:56.000Z');
  });

  it('a cron task keeps an explicit nextRun', () => {
    const t = validateTask({ type: 'load-git', schedule: { kind: 'cron', expr: '0 3 * * *' }, nextRun: '2026-05-05T05:05:05Z' }, types(), AT);
    expect(t.nextRun.toISOString()).toBe('2026-05-05T05:05:05.000Z');
  });

  it.each([
    [{ type: 'load-git', policy: 'sometimes' }, 'policy'],
    [{ type: 'load-git', priority: 'urgent' }, 'priority'],
    [{ type: 'load-git', retriesLeft: -1 }, 'retriesLeft'],
    [{ type: 'load-git', nextRun: 'tomorrow' }, 'nextRun'],
    [{ type: 'load-git', nextRun: '2026-02-30' }, 'nextRun'],
    [{ type: 'load-git', arguments: { args: 'x' } }, 'arguments.args'],
    [{ type: 'load-git', arguments: { kwargs: [] } }, 'arguments.kwargs'],
    [{ type: 'load-git', arguments: { args: [], kwargs: {}, extra: 1 } }, 'arguments.extra'],
    [{ type: 'load-git', arguments: { args: [Number.NaN] } }, 'arguments.args[0]'],
    [{ type: 'load-git', arguments: { kwargs: { f: () => 1 } } }, 'arguments.kwargs.f'],
    [{ type: 'load-git', schedule: { kind: 'cron', expr: 'nope' } }, 'schedule.expr'],
    [{ type: 'load-git', schedule: { kind: 'cron', expr: '* * * * *', tz: 'Nowhere' } }, 'schedule.tz'],
    [{ type: 'load-git', bogus: true }, 'bogus'],
    [{ type: '' }, 'type'],
    [{}, 'type'],
  ])('%j is rejected naming %s', (input, path) => {
    const e = errorOf(() => validateTask(input, types(), AT));
    expect(e.details[0]?.path).toBe(path);
    expect(e.message.startsWith(`${path}: `)).toBe(true);
  });

  it('prefixes every field with `path`', () => {
    const cases: Array<[unknown, string]> = [
      [{ type: 'nope' }, 'tasks[3].type'],
      [{ type: 'load-git', bogus: 1 }, 'tasks[3].bogus'],
      [{ type: 'load-git', policy: 'x' }, 'tasks[3].policy'],
      [{ type: 'send-mail' }, 'tasks[3].policy'],
      [{ type: 'send-mail', policy: 'oneshot', schedule: { kind: 'cron', expr: '* * * * *' } }, 'tasks[3].schedule'],
      [{ type: 'load-git', schedule: { kind: 'cron', expr: 'bad' } }, 'tasks[3].schedule.expr'],
      [{ type: 'load-git', arguments: { kwargs: { x: Number.POSITIVE_INFINITY } } }, 'tasks[3].arguments.kwargs.x'],
      [{ type: 'load-git', nextRun: 'later' }, 'tasks[3].nextRun'],
    ];
    for (const [input, path] of cases) {
      const e = errorOf(() => validateTask(input, types(), AT, 'tasks[3]'));
      expect(e.message.startsWith(`${path}: `), `${JSON.stringify(input)} -> ${e.message}`).toBe(true);
      expect(e.details[0]?.path).toBe(path);
    }
  });

  describe('dedupeKey', () => {
    const key = (input: unknown) => validateTask(input, types(), AT).dedupeKey;

    it('is equal for equal (type, arguments, policy, priority), whatever the key order', () => {
      const a = key({ type: 'load-git', arguments: { args: [1, { b: 2, a: 1 }], kwargs: { url: 'u', depth: { max: 3, min: 1 } } }, priority: 'low' });
      const b = key({ priority: 'low', arguments: { kwargs: { depth: { min: 1, max: 3 }, url: 'u' }, args: [1, { a: 1, b: 2 }] }, type: 'load-git' });
      expect(a).toBe(b);
      expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it('ignores nextRun for recurring tasks', () => {
      expect(key({ type: 'load-git', nextRun: '2026-01-01T00:00:00Z' })).toBe(key({ type: 'load-git', nextRun: '2026-06-01T00:00:00Z' }));
    });

    it('differs for oneshot tasks with different nextRun, and is equal for the same nextRun', () => {
      const one = (nextRun: string) => key({ type: 'send-mail', policy: 'oneshot', nextRun });
      expect(one('2026-01-01T00:00:00Z')).not.toBe(one('2026-01-01T00:00:01Z'));
      expect(one('2026-01-01T00:00:00Z')).toBe(one('2026-01-01T01:00:00+01:00'));
    });

    it('differs when type, arguments, argument order, policy or priority differ', () => {
      const base = key({ type: 'load-git', arguments: { args: [1, 2] } });
      expect(key({ type: 'load-git', arguments: { args: [2, 1] } })).not.toBe(base);
      expect(key({ type: 'load-git', arguments: { args: [1, 2], kwargs: { x: 1 } } })).not.toBe(base);
      expect(key({ type: 'load-git', arguments: { args: [1, 2] }, priority: 'normal' })).not.toBe(base);
      expect(key({ type: 'load-git', arguments: { args: [1, 2] }, policy: 'oneshot', nextRun: AT })).not.toBe(base);
      expect(key({ type: 'send-mail', policy: 'oneshot', arguments: { args: [1, 2] }, nextRun: AT })).not.toBe(
        key({ type: 'load-git', policy: 'oneshot', arguments: { args: [1, 2] }, nextRun: AT }),
      );
    });

    it('dedupeKey() directly: the nextRun argument counts, the key order does not', () => {
      const args = { args: [], kwargs: { b: 1, a: 2 } };
      expect(dedupeKey('t', args, 'oneshot', null, AT)).toBe(dedupeKey('t', { args: [], kwargs: { a: 2, b: 1 } }, 'oneshot', null, new Date(AT.getTime())));
      expect(dedupeKey('t', args, 'oneshot', null, AT)).not.toBe(dedupeKey('t', args, 'oneshot', null, null));
    });
  });
});

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  });
});

describe('assertJson / validateMetadata', () => {
  it('refuses what JSON would write without complaint but lose: a Map, a Set, an Error, an invalid Date', () => {
    const problem = (v: unknown) => {
      try {
        assertJson(v, 'result');
        return null;
      } catch (e) {
        return (e as ValidationError).message;
      }
    };
    expect(problem({ m: new Map([['a', 1]]) })).toBe('result.m: a Map is not JSON (it would be written as {}): convert it, e.g. Object.fromEntries(map)');
    expect(problem([new Set([1])])).toBe('result[0]: a Set is not JSON (it would be written as {}): convert it, e.g. Array.from(set)');
    expect(problem({ e: new Error('x') })).toBe('result.e: an Error is not JSON (it would be written as {}): keep its message');
    expect(problem({ at: new Date(NaN) })).toBe('result.at: an invalid Date is not JSON (it would be written as null)');
    // Boxed values and objects JSON writes as {} or cannot write (they passed as empty objects, or threw a TypeError)
    expect(problem({ a: Object(1n) })).toBe('result.a: bigint is not JSON');
    expect(problem({ a: Object(Symbol('s')) })).toBe('result.a: symbol is not JSON');
    expect(problem({ a: new Number(NaN) })).toBe('result.a: numbers must be finite');
    expect(problem({ a: /x/ })).toBe('result.a: a RegExp is not JSON (it would be written as {}): keep its source');
    expect(problem({ a: Promise.resolve(1) })).toBe('result.a: a Promise is not JSON (it would be written as {}): await it first');
    // An array hole is written as null, as an undefined would be
    // eslint-disable-next-line no-sparse-arrays
    expect(problem({ a: [1, , 2] })).toBe('result.a[1]: an array hole is not JSON (it would be written as null)');
    expect(problem({ a: new Array(2) })).toBe('result.a[0]: an array hole is not JSON (it would be written as null)');
    // A class instance is written as its own fields, a boxed number or string as itself
    class Point {
      constructor(readonly x: number) {}
    }
    expect(problem({ p: new Point(1), n: new Number(2), s: new String('x'), o: Object.create(null) as object })).toBeNull();
    expect(problem({ p: new Point(NaN) })).toBe('result.p.x: numbers must be finite');
    // What says how it is written, and valid Dates, are JSON.
    expect(problem({ at: new Date(0), custom: { toJSON: () => 'x' }, e: Object.assign(new Error('y'), { toJSON: () => ({ message: 'y' }) }) })).toBeNull();
  });

  it('refuses JSON nested deeper than 128 levels (deeper ones overflowed the stack: exit 1, not 2)', () => {
    const deep = (n: number): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    expect(() => assertJson(deep(127), 'v')).not.toThrow();
    expect(() => assertJson(deep(10_000), 'v')).toThrow(/^v: JSON nested deeper than 128 levels$/);
  });
  it('accepts plain JSON values', () => {
    expect(() => assertJson({ a: [1, 'x', true, null, { b: 2 }] }, 'v')).not.toThrow();
  });

  it.each([
    [{ a: Number.NaN }, 'v.a', 'numbers must be finite'],
    [{ a: [1, undefined] }, 'v.a[1]', 'undefined is not JSON'],
    [{ a: 10n }, 'v.a', 'bigint is not JSON'],
    [{ a: Symbol('s') }, 'v.a', 'symbol is not JSON'],
  ])('rejects %s at %s', (value, path, message) => {
    expect(errorOf(() => assertJson(value, 'v')).message).toBe(`${path}: ${message}`);
  });

  it('rejects cycles but not shared references', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(errorOf(() => assertJson(cyclic, 'v')).message).toBe('v.self: circular value');
    const shared = { x: 1 };
    expect(() => assertJson({ a: shared, b: shared }, 'v')).not.toThrow();
  });

  it('validateMetadata: null/undefined -> {}, objects pass, others rejected', () => {
    expect(validateMetadata(undefined)).toEqual({});
    expect(validateMetadata(null)).toEqual({});
    expect(validateMetadata({ a: 1 })).toEqual({ a: 1 });
    expect(errorOf(() => validateMetadata([1])).message).toBe('metadata: must be a JSON object');
    expect(errorOf(() => validateMetadata('x', 'end.metadata')).message).toBe('end.metadata: must be a JSON object');
    expect(errorOf(() => validateMetadata({ n: Number.NaN })).message).toBe('metadata.n: numbers must be finite');
  });
});

describe("SPEC §1.1's duration names", () => {
  it('defaultInterval, minInterval, maxInterval, retryDelay, timeout and lease are the Ms fields by their SPEC names', () => {
    const t = validateTaskType({ name: 'x', defaultInterval: '1d', minInterval: '12h', maxInterval: '64d', retryDelay: '5m', timeout: '10m', lease: '45s' });
    expect(t).toMatchObject({ defaultIntervalMs: 86_400_000, minIntervalMs: 43_200_000, maxIntervalMs: 64 * 86_400_000, retryDelayMs: 300_000, timeoutMs: 600_000, leaseMs: 45_000 });
    expect(validateTaskType({ name: 'x', defaultInterval: '1d' })).toEqual(validateTaskType({ name: 'x', defaultIntervalMs: '1d' }));
  });

  it('both names of one field are refused; problems are named as the input named the field', () => {
    expect(errorOf(() => validateTaskType({ name: 'x', lease: '30s', leaseMs: 30_000 })).details).toEqual([{ path: 'lease', message: 'is leaseMs by another name: give one of them' }]);
    expect(errorOf(() => validateTaskType({ name: 'x', lease: '5ms' })).details).toEqual([{ path: 'lease', message: 'must be at least 1s' }]);
    expect(errorOf(() => validateTaskType({ name: 'x', timeout: 'soon' })).details[0]!.path).toBe('timeout');
    expect(errorOf(() => validateTaskType({ name: 'x', colour: 'red', lease: '1m' })).details).toEqual([{ path: 'colour', message: 'unknown field' }]);
  });
});
