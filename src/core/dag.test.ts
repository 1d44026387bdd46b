import { describe, expect, it } from 'vitest';
import { CycleError, ValidationError } from './errors.js';
import { archiveHoldsAttempt, dagSyncLine, dagVersion, findCycle, topologicalOrder, type DagTaskSpec } from './dag.js';
import { validateDag } from './dag-input.js';

const t = (id: string, after: string[] = []) => ({ id, after });
const errorOf = (f: () => unknown): ValidationError => {
  try {
    f();
  } catch (e) {
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
};

describe('validateDag', () => {
  it('names every bad field in one error: the schema\'s and the checks past it (dependencies, duplicates, timeouts, the schedule)', () => {
    const paths = (input: unknown) => {
      try {
        validateDag(input);
      } catch (e) {
        return (e as ValidationError).details.map((d) => d.path).sort();
      }
      return [];
    };
    // Before: only maxActiveRuns (the schema's), then the others one at a time.
    expect(paths({ id: 's6', schedule: { every: '0s' }, maxActiveRuns: 0, tasks: [{ id: 'a', after: ['zz'] }, { id: 'a' }] })).toEqual(['maxActiveRuns', 'schedule.every', 'tasks[0].after[0]', 'tasks[1].id']);
    expect(paths({ id: 's4', maxActiveRuns: 0, tasks: [{ id: 'a', retries: -1, retryDelay: 'abc', timeout: '0s' }] })).toEqual(['maxActiveRuns', 'tasks[0].retries', 'tasks[0].retryDelay', 'tasks[0].timeout']);
    // A task whose own fields are bad is named for them, not as an unknown dependency of another.
    expect(paths({ id: 'x', tasks: [{ id: 'a', retries: -1 }, { id: 'b', after: ['a'], timeout: '0s' }] })).toEqual(['tasks[0].retries', 'tasks[1].timeout']);
    // A dependency on a task whose id is bad is not unknown; a bad timeout is not checked again as the default's (review).
    const long = 'x'.repeat(300);
    expect(paths({ id: 'x', tasks: [{ id: long }, { id: 'b', after: [long] }] })).toEqual(['tasks[0].id']);
    expect(paths({ id: 'x', defaults: { timeout: 0 }, tasks: [{ id: 'a', timeout: 'zz' }] })).toEqual(['tasks[0].timeout']);
    let message = '';
    try {
      validateDag({ id: 's6', schedule: { every: '0s' }, tasks: [{ id: 'a' }] });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toBe('schedule.every: must be at least 1s');
    expect(() => validateDag({ id: 's6', schedule: { every: '0s' }, maxActiveRuns: 0, tasks: [{ id: 'a' }] })).toThrow('invalid DAG "s6": maxActiveRuns: must be at least 1; schedule.every: must be at least 1s');
  });

  it('fills defaults: no schedule, no catch-up, 16 active runs, the orrery.dag type, no retries', () => {
    const d = validateDag({ id: 'etl', tasks: [t('a'), t('b', ['a'])] });
    expect(d.schedule).toEqual({ kind: 'none' });
    expect(d.catchUp).toBe(false);
    expect(d.maxActiveRuns).toBe(16);
    expect(d.start).toBeNull();
    expect(d.tasks[1]).toEqual({ id: 'b', after: ['a'], retries: 0, retryDelayMs: 300_000, timeoutMs: null, type: 'orrery.dag' });
  });

  it('takes cron with a zone, intervals from a start, and per-task options over DAG defaults', () => {
    const d = validateDag(
      {
        id: 'etl',
        schedule: { cron: '0 3 * * *', tz: 'Europe/Warsaw' },
        start: '2026-01-01T00:00:00Z',
        catchUp: true,
        defaults: { retries: 2, retryDelay: '1m', timeout: '10m' },
        tasks: [{ id: 'a', retries: 5, timeout: null }, { id: 'b', after: ['a'], retryDelay: 500, type: 'heavy' }],
      },
    );
    expect(d.schedule).toEqual({ kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' });
    expect(d.start).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(d.tasks[0]).toMatchObject({ retries: 5, retryDelayMs: 60_000, timeoutMs: null });
    expect(d.tasks[1]).toMatchObject({ retries: 2, retryDelayMs: 500, timeoutMs: 600_000, type: 'heavy' });
    expect(validateDag({ id: 'x', schedule: { every: '1h' }, tasks: [t('a')] }).schedule).toEqual({ kind: 'interval', everyMs: 3_600_000 });
  });

  it('rejects a cycle, naming it', () => {
    const input = { id: 'loop', tasks: [t('a', ['c']), t('b', ['a']), t('c', ['b']), t('d')] };
    expect(() => validateDag(input)).toThrow(CycleError);
    expect(() => validateDag(input)).toThrow('DAG "loop" has a cycle: a -> c -> b -> a');
    try {
      validateDag(input);
    } catch (e) {
      expect((e as CycleError).cycle).toEqual(['a', 'c', 'b', 'a']);
      expect((e as CycleError).code).toBe('validation_error');
    }
    // With another problem, the cycle is listed with it (it was left out: dags audit); a self-dependency is its own problem, no cycle.
    const both = errorOf(() => validateDag({ id: 'loop', maxActiveRuns: 0, tasks: [t('a', ['b']), t('b', ['a'])] }));
    expect(both.details).toEqual([{ path: 'maxActiveRuns', message: 'must be at least 1' }, { path: 'tasks', message: 'cycle: a -> b -> a' }]);
    expect(both.message).toBe('invalid DAG "loop": maxActiveRuns: must be at least 1; tasks: cycle: a -> b -> a');
    const unknownToo = errorOf(() => validateDag({ id: 'x', tasks: [t('a', ['b']), t('b', ['a']), t('c', ['zz'])] }));
    expect(unknownToo.details.map((d) => d.message)).toEqual(['task "c" depends on unknown task "zz"', 'cycle: a -> b -> a']);
    expect(errorOf(() => validateDag({ id: 'x', maxActiveRuns: 0, tasks: [t('a', ['a'])] })).details.map((d) => d.message)).toEqual(['must be at least 1', 'task "a" depends on itself']);
  });

  it('rejects unknown dependencies, self-dependencies and duplicate ids, naming each', () => {
    expect(() => validateDag({ id: 'x', tasks: [t('a', ['nope'])] })).toThrow('task "a" depends on unknown task "nope"');
    expect(() => validateDag({ id: 'x', tasks: [t('a', ['a'])] })).toThrow('task "a" depends on itself');
    expect(() => validateDag({ id: 'x', tasks: [t('a'), t('a')] })).toThrow('duplicate task id "a"');
  });

  it('rejects bad fields with their path', () => {
    const bad = (input: unknown, text: string) => {
      expect(() => validateDag(input)).toThrow(ValidationError);
      expect(() => validateDag(input)).toThrow(text);
    };
    bad({ id: 'x', tasks: [] }, 'a DAG needs at least one task');
    bad({ id: 'has space', tasks: [t('a')] }, 'id');
    bad({ id: 'x', schedule: { cron: 'not a cron' }, tasks: [t('a')] }, 'schedule.cron: invalid cron expression "not a cron"');
    bad({ id: 'x', schedule: { every: '-1h' }, tasks: [t('a')] }, 'schedule.every:');
    bad({ id: 'x', schedule: { cron: '0 3 * * *', every: '1h' }, tasks: [t('a')] }, 'schedule: give either cron (with tz) or every, not both');
    bad({ id: 'x', schedule: {}, tasks: [t('a')] }, 'schedule: needs cron');
    bad({ id: 'x', schedule: { every: '1h', tz: 'UTC' }, tasks: [t('a')] }, 'schedule.tz: only goes with cron');
    bad({ id: 'x', schedule: { cron: '0 3 * * *', tz: 'Mars/Base' }, tasks: [t('a')] }, 'unknown time zone');
    bad({ id: 'x', schedule: { every: '10ms' }, tasks: [t('a')] }, 'schedule.every: must be at least 1s');
    bad({ id: 'x', maxActiveRuns: 0, tasks: [t('a')] }, 'maxActiveRuns');
    bad({ id: 'x', tasks: [{ id: 'a', retries: -1 }] }, 'tasks[0].retries');
    bad({ id: 'x', tasks: [{ id: 'a', timeout: '0s' }] }, 'tasks[0].timeout: must be > 0');
    bad({ id: 'x', tasks: [t('a')], extra: 1 }, 'extra: unknown field');
  });

  it('handles a 20,000-task chain without deep recursion', () => {
    const tasks = Array.from({ length: 20_000 }, (_, i) => t(`t${i}`, i === 0 ? [] : [`t${i - 1}`]));
    expect(validateDag({ id: 'long', tasks }).tasks).toHaveLength(20_000);
  });
});

describe('structure', () => {
  const spec = (tasks: Array<Partial<DagTaskSpec> & { id: string }>) =>
    tasks.map((x) => ({ after: [], retries: 0, retryDelayMs: 1000, timeoutMs: null, type: 'orrery.dag', ...x }));

  it('versions by structure: order of definition does not matter, options and edges do', () => {
    const a = dagVersion({ tasks: spec([{ id: 'a' }, { id: 'b', after: ['a'] }]) });
    expect(dagVersion({ tasks: spec([{ id: 'b', after: ['a'] }, { id: 'a' }]) })).toBe(a);
    expect(dagVersion({ tasks: spec([{ id: 'a' }, { id: 'b' }]) })).not.toBe(a);
    expect(dagVersion({ tasks: spec([{ id: 'a' }, { id: 'b', after: ['a'], retries: 1 }]) })).not.toBe(a);
  });

  it('orders tasks after their dependencies', () => {
    const order = topologicalOrder(spec([{ id: 'd', after: ['b', 'c'] }, { id: 'c', after: ['a'] }, { id: 'b', after: ['a'] }, { id: 'a' }])).map((x) => x.id);
    expect(order[0]).toBe('a');
    expect(order[3]).toBe('d');
    expect(findCycle(spec([{ id: 'a' }, { id: 'b', after: ['a'] }]))).toBeNull();
  });
});

describe('archiveHoldsAttempt', () => {
  it('holds the current attempt of a DAG task not yet final, nothing else', () => {
    for (const status of ['pending', 'scheduled', 'running', 'up_for_retry'] as const) expect(archiveHoldsAttempt({ status, attempt: 2 }, 2)).toBe(true);
    for (const status of ['success', 'failed', 'upstream_failed', 'skipped'] as const) expect(archiveHoldsAttempt({ status, attempt: 2 }, 2)).toBe(false);
    expect(archiveHoldsAttempt({ status: 'up_for_retry', attempt: 2 }, 1)).toBe(false); // an earlier attempt, already recorded
  });
});

describe('validateDag: a cron schedule must have a point from its start', () => {
  const cronDag = (start: string, cron = '0 3 * * *') => ({ id: 'far', schedule: { cron }, start, tasks: [t('a')] });
  it('refuses a start beyond the year 2999, where cron schedules end, naming start', () => {
    const e = (() => {
      try {
        validateDag(cronDag('9999-12-31T00:00:00Z'));
      } catch (x) {
        return x as ValidationError;
      }
      throw new Error('accepted');
    })();
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.details).toEqual([{ path: 'start', message: 'cron schedule "0 3 * * *" has no point from 9999-12-31T00:00:00.000Z before the year 3000, where cron schedules end' }]);
    expect(() => validateDag(cronDag('3000-01-01T00:00:00Z'))).toThrow(ValidationError);
    // a year field that ends before the start
    expect(() => validateDag(cronDag('2028-01-01T00:00:00Z', '0 0 9 * * * 2027'))).toThrow('start: cron schedule "0 0 9 * * * 2027" has no point from 2028-01-01T00:00:00.000Z');
  });
  it('accepts a start with a point left before the year 3000, and a far start of an interval', () => {
    expect(validateDag(cronDag('2999-06-01T00:00:00Z')).start).toEqual(new Date('2999-06-01T00:00:00Z'));
    expect(validateDag({ id: 'far', schedule: { every: '1h' }, start: '9999-12-31T00:00:00Z', tasks: [t('a')] }).schedule).toEqual({ kind: 'interval', everyMs: 3_600_000 });
  });
});

describe('dagSyncLine', () => {
  it('says created, updated (a new version) or synced with its tasks unchanged (other options are stored all the same)', () => {
    const d = { id: 'etl', version: 'v1', created: false, newVersion: false };
    expect(dagSyncLine({ ...d, created: true, newVersion: true })).toBe('DAG etl created (version v1)');
    expect(dagSyncLine({ ...d, newVersion: true })).toBe('DAG etl updated (version v1)');
    expect(dagSyncLine(d)).toBe('DAG etl synced, its tasks unchanged (version v1)');
  });
});
