import { describe, expect, it } from 'vitest';
import { ValidationError } from './errors.js';
import { quickTaskInput, taskInputSchema, validateTask, validateTaskType } from './validation.js';

/**
 * The fast path of task validation (quickTaskInput) against zod, the reference: on every input it
 * accepts, zod accepts and yields an equal value; every input zod rejects, it declines (so the errors
 * are zod's). validateTask is compared with itself on a disguised copy of the input that only zod
 * parses (same fields, prototype not Object.prototype).
 */

const AT = new Date('2026-01-10T12:34:56.000Z');
const TYPES = new Map([
  ['crawl', validateTaskType({ name: 'crawl', defaultIntervalMs: '1h', numRetries: 2 })],
  ['once-only', validateTaskType({ name: 'once-only' })],
]);

function viaZod(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || Object.getPrototypeOf(input) !== Object.prototype) return input;
  return Object.setPrototypeOf({ ...input }, Object.create(Object.prototype) as object);
}

type Outcome = { ok: unknown } | { error: string; details: unknown; code: string };
function outcome(fn: () => unknown): Outcome {
  try {
    return { ok: fn() };
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    return { error: e.message, details: e.details, code: e.code };
  }
}

/** Asserts the fast path agrees with zod on `input`; returns whether it took the input. */
function agrees(input: unknown): boolean {
  const quick = quickTaskInput(input);
  const zod = taskInputSchema.safeParse(input);
  if (quick !== undefined) {
    expect(zod.success, `zod rejects what the fast path took: ${show(input)}`).toBe(true);
    expect(quick).toEqual(zod.data);
  }
  expect(outcome(() => validateTask(input, TYPES, AT, 'tasks[7]'))).toEqual(outcome(() => validateTask(viaZod(input), TYPES, AT, 'tasks[7]')));
  return quick !== undefined;
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

const GOOD: unknown[] = [
  { type: 'crawl' },
  { type: 'crawl', arguments: { args: ['https://a', 1, { b: [true] }], kwargs: { depth: 2, when: null } } },
  { type: 'crawl', policy: 'oneshot', arguments: { args: [3] } },
  { type: 'crawl', arguments: { kwargs: { a: 1 } }, priority: 'high', retriesLeft: 0 },
  { type: 'once-only', policy: 'oneshot', nextRun: new Date('2026-02-01T00:00:00Z'), priority: null, key: 'k', concurrencyKey: 'c' },
  { type: 'once-only', policy: 'oneshot', nextRun: '2026-02-01T03:04:05+02:00', onConflict: 'replace', key: 'x'.repeat(512) },
  { type: 'crawl', schedule: { kind: 'cron', expr: '0 3 * * *', tz: 'Europe/Warsaw' }, onConflict: 'error', key: 'k' },
  { type: 'crawl', schedule: { kind: 'rrule', rule: 'FREQ=DAILY;BYHOUR=3' }, retriesLeft: 5 },
  { type: 'crawl', schedule: null, nextRun: undefined, priority: undefined, arguments: undefined, key: undefined },
  { type: 'crawl', nextRun: null, retriesLeft: null }, // null is the default (SPEC §1.2's `given ?? default`)
  { type: 'crawl', arguments: { args: [], kwargs: Object.assign(Object.create(null) as object, { a: 1 }) } },
  Object.assign(Object.create(null) as object, { type: 'crawl', policy: 'recurring' }),
  { type: 'no-such-type', arguments: { args: [1] } },
  { type: 'once-only', arguments: { args: [1] } }, // valid input, but the type has no default interval
  { type: 'crawl', arguments: { args: [new Date(0), { z: 1, a: 2 }] } },
  { type: 'crawl', arguments: { args: [NaN] } },
  { type: 'crawl', arguments: { args: [1, , 3] } },
  { type: 'crawl', arguments: { kwargs: { '10': 1, '9': 2 } } },
  { type: 'crawl', policy: 'oneshot', schedule: { kind: 'cron', expr: '0 3 * * *' } },
];

const symbolKwargs = { a: 1, [Symbol('s')]: 2 };
const hiddenSymbol = Object.defineProperty({ a: 1 }, Symbol('h'), { value: 1, enumerable: false });
const protoKey = JSON.parse('{"type":"crawl","__proto__":{"x":1}}') as unknown;
const protoKwarg = JSON.parse('{"type":"crawl","arguments":{"args":[],"kwargs":{"__proto__":{"x":1},"b":2}}}') as unknown;
class Args {
  args = [1];
  kwargs = {};
}

const BAD_OR_ODD: unknown[] = [
  null, undefined, 'crawl', 5, [], [{ type: 'crawl' }], new Date(), new Map(),
  {}, { type: '' }, { type: 5 }, { type: null }, { type: 'crawl', bogus: 1 }, { type: 'crawl', Type: 'x' }, protoKey,
  { type: 'crawl', arguments: null }, { type: 'crawl', arguments: [] }, { type: 'crawl', arguments: 'x' }, { type: 'crawl', arguments: new Args() },
  { type: 'crawl', arguments: { args: 'x' } }, { type: 'crawl', arguments: { args: {} } }, { type: 'crawl', arguments: { args: [], extra: 1 } },
  { type: 'crawl', arguments: { kwargs: [] } }, { type: 'crawl', arguments: { kwargs: 'x' } }, { type: 'crawl', arguments: { kwargs: null } },
  { type: 'crawl', arguments: { kwargs: new Map() } }, { type: 'crawl', arguments: { kwargs: new Args() } }, { type: 'crawl', arguments: { kwargs: symbolKwargs } },
  { type: 'crawl', arguments: { kwargs: hiddenSymbol } }, { type: 'crawl', arguments: { kwargs: { constructor: 1 } } }, protoKwarg,
  { type: 'crawl', arguments: { kwargs: { constructor: () => 1 } } }, { type: 'crawl', arguments: { kwargs: { constructor: function named() {} } } },
  { type: 'crawl', arguments: { kwargs: { f: () => 1 } } }, { type: 'crawl', arguments: { args: [1n] } },
  { type: 'crawl', policy: 'weekly' }, { type: 'crawl', policy: null }, { type: 'crawl', policy: 1 },
  { type: 'crawl', nextRun: new Date(NaN) }, { type: 'crawl', nextRun: '2026-02-30' }, { type: 'crawl', nextRun: 'tomorrow' }, { type: 'crawl', nextRun: 0 },
  { type: 'crawl', priority: 'urgent' }, { type: 'crawl', priority: 1 },
  { type: 'crawl', retriesLeft: -1 }, { type: 'crawl', retriesLeft: 1.5 }, { type: 'crawl', retriesLeft: NaN }, { type: 'crawl', retriesLeft: Infinity },
  { type: 'crawl', retriesLeft: 2 ** 53 }, { type: 'crawl', retriesLeft: '3' },
  { type: 'crawl', key: '' }, { type: 'crawl', key: 'x'.repeat(513) }, { type: 'crawl', key: 5 }, { type: 'crawl', concurrencyKey: '' },
  { type: 'crawl', onConflict: 'ignore' }, { type: 'crawl', onConflict: null }, { type: 'crawl', schedule: 'daily' }, { type: 'crawl', schedule: { kind: 'x' } },
  { type: 5, policy: 'weekly', bogus: 1, arguments: { args: 'x' } },
];

describe('quickTaskInput, the fast path of task validation', () => {
  it('knows exactly the fields of taskInputSchema', () => {
    const fields = Object.keys(taskInputSchema.shape).sort();
    expect(fields).toHaveLength(12);
    // flow control (unique, debounce) always goes the zod way: its durations need parsing
    const flow = ['debounce', 'unique'];
    for (const f of fields) {
      const quick = quickTaskInput({ type: 'crawl', [f]: f === 'type' ? 'crawl' : flow.includes(f) ? {} : undefined });
      if (flow.includes(f)) expect(quick, f).toBeUndefined();
      else expect(quick, f).toBeDefined();
    }
    expect(quickTaskInput({ type: 'crawl', other: undefined })).toBeUndefined();
  });

  it('takes the common shapes, with the values zod gives (copies of the arguments)', () => {
    let taken = 0;
    for (const input of GOOD) if (agrees(input)) taken++;
    expect(taken).toBeGreaterThanOrEqual(15);
    const input = { type: 'crawl', arguments: { args: [1], kwargs: { a: 1 } } };
    const t = quickTaskInput(input)!;
    expect(t.arguments).not.toBe(input.arguments);
    expect(t.arguments.args).not.toBe(input.arguments.args);
    expect(t.arguments.kwargs).not.toBe(input.arguments.kwargs);
  });

  it('declines everything zod rejects, so the errors are zod own', () => {
    for (const input of BAD_OR_ODD) agrees(input);
    const err = outcome(() => validateTask({ type: 5, policy: 'weekly', bogus: 1 }, TYPES, AT, 'tasks[3]'));
    expect(err).toMatchObject({ error: 'tasks[3].type: must be a string (and 2 more problems)', code: 'validation_error' });
  });

  it('agrees with zod on random mixes of good and bad fields', () => {
    let s = 12345;
    const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const pools: Record<string, { good: unknown[]; bad: unknown[] }> = {
      type: { good: ['crawl', 'once-only'], bad: ['', 5, null, 'nope'] },
      arguments: { good: [undefined, { args: [1, 'a'] }, { kwargs: { x: { y: [1] } } }, { args: [], kwargs: {} }], bad: [null, [], { args: 'x' }, { args: [], extra: 1 }, { kwargs: symbolKwargs }, { kwargs: { constructor: 'x' } }, { args: [NaN] }] },
      policy: { good: [undefined, 'recurring', 'oneshot'], bad: ['weekly', null] },
      schedule: { good: [undefined, null, { kind: 'adaptive' }, { kind: 'cron', expr: '*/5 * * * *', tz: 'UTC' }], bad: ['daily', { kind: 'cron', expr: 'x' }] },
      nextRun: { good: [undefined, null, new Date('2026-03-01T00:00:00Z'), '2026-03-01T10:00:00Z', '2026-03-01'], bad: [new Date(NaN), '2026-13-01', 7] },
      priority: { good: [undefined, null, 'high', 'normal', 'low'], bad: ['urgent', 0] },
      retriesLeft: { good: [undefined, null, 0, 7, Number.MAX_SAFE_INTEGER], bad: [-1, 0.5, NaN, '1'] },
      key: { good: [undefined, null, 'k', 'x'.repeat(512)], bad: ['', 'x'.repeat(513), 1] },
      concurrencyKey: { good: [undefined, null, 'c'], bad: ['', 2] },
      onConflict: { good: [undefined, 'return', 'replace', 'error'], bad: ['skip', null] },
    };
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const input: Record<string, unknown> = {};
      for (const [field, pool] of Object.entries(pools)) {
        if (next() < 0.3) continue;
        input[field] = next() < 0.9 ? pick(pool.good) : pick(pool.bad);
      }
      if (next() < 0.03) input[pick(['bogus', 'Type', 'args'])] = 1;
      if (agrees(input)) taken++;
    }
    expect(taken).toBeGreaterThan(500);
  });
});
