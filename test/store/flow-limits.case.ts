import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import type { Orrery } from '../../src/engine/service.js';
import type { StoreUnderTest } from './describe-store.js';
import { T0, plus, useOrrery } from './fixtures.js';

const task = (type: string, i: number, key: string | null, extra: Record<string, unknown> = {}) => ({
  type,
  policy: 'oneshot' as const,
  arguments: { args: [i], kwargs: {} },
  concurrencyKey: key,
  ...extra,
});

/** Creates `n` one-shot tasks of `key` (numbered from `from`) and queues them at T0. */
async function queue(o: Orrery, type: string, spec: Array<[key: string | null, n: number]>): Promise<void> {
  let i = 0;
  for (const [key, n] of spec) await o.createTasks(Array.from({ length: n }, () => task(type, i++, key)), { at: T0 });
  await o.scheduleDue({ at: T0 });
}

/** The concurrency keys of claimed runs, sorted (null last). */
async function keysOf(o: Orrery, runs: ReadonlyArray<{ run: { task: number } }>): Promise<Array<string | null>> {
  const keys = await Promise.all(runs.map(async (c) => (await o.getTask(c.run.task))!.concurrencyKey));
  return keys.sort((a, b) => (a === null ? 1 : b === null ? -1 : a < b ? -1 : a > b ? 1 : 0));
}

/** Issue 19 items 9-11: per-key rate limits, fair shares between keys, limits that adapt (docs/limits.md). */
export function flowLimitCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('flow control: per-key rate limits', () => {
    it('rateLimitPerKey: at most count starts per key in any window; runs without a key are not limited per key', async () => {
      const { orrery } = await setup([{ name: 'api', rateLimitPerKey: '2/1s', maxQueueLength: null }]);
      await queue(orrery, 'api', [['a', 5], ['b', 5], [null, 2]]);
      const first = await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: T0 });
      expect(await keysOf(orrery, first.runs)).toEqual(['a', 'a', 'b', 'b', null, null]);
      expect(first).toMatchObject({ heldBack: true, retryAt: plus(T0, 1000) });
      expect(await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: plus(T0, 999) })).toEqual({ runs: [], heldBack: true, retryAt: plus(T0, 1000) });
      const second = await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: plus(T0, 1000) });
      expect(await keysOf(orrery, second.runs)).toEqual(['a', 'a', 'b', 'b']);
    });

    it("keys named like Object's own members (constructor, __proto__, toString) are keys like any other: per-key rates and fair shares hold", async () => {
      const { orrery } = await setup([
        { name: 'api', rateLimitPerKey: '2/1h', maxQueueLength: null },
        { name: 'fair', fairShare: true, maxQueueLength: null },
      ]);
      await queue(orrery, 'api', [['constructor', 4], ['__proto__', 4], ['toString', 4], ['a', 4]]);
      const got = await orrery.claim({ worker: 'w', types: ['api'], limit: 100, at: T0 });
      expect(await keysOf(orrery, got.runs)).toEqual(['__proto__', '__proto__', 'a', 'a', 'constructor', 'constructor', 'toString', 'toString']);
      await queue(orrery, 'fair', [['toString', 2], ['constructor', 2], ['b', 2]]);
      const fair = await orrery.claim({ worker: 'w', types: ['fair'], limit: 3, at: T0 });
      expect(await keysOf(orrery, fair.runs)).toEqual(['b', 'constructor', 'toString']);
    });

    it('concurrent claims from two stores never start more than the rate per key', async () => {
      const { orrery, another } = await setup([{ name: 'api', rateLimitPerKey: '3/1h', maxQueueLength: null }]);
      const other = await another();
      await queue(orrery, 'api', [['a', 10], ['b', 10]]);
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? orrery : other).claim({ worker: `w${i}`, types: ['api'], limit: 2, at: T0 })));
      const runs = claims.flatMap((c) => c.runs);
      expect(new Set(runs.map((c) => c.run.backendId)).size).toBe(runs.length);
      expect(await keysOf(orrery, runs)).toEqual(['a', 'a', 'a', 'b', 'b', 'b']);
    });

    it('an external start counts in its key\'s window; the type\'s rate and the key\'s both hold', async () => {
      const { orrery } = await setup([{ name: 'api', rateLimit: '3/1s', rateLimitPerKey: '2/1s', maxQueueLength: null }]);
      await queue(orrery, 'api', [['a', 4], ['b', 4]]);
      const [waiting] = await orrery.listRuns(1);
      await orrery.startRun(waiting!.backendId, { at: T0 }); // a run of key "a"
      const got = await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: T0 });
      // The type allows 2 more (3 - 1), key "a" 1 more (2 - 1).
      expect(await keysOf(orrery, got.runs)).toEqual(['a', 'b']);
      expect(got).toMatchObject({ heldBack: true, retryAt: plus(T0, 1000) });
    });
  });

  describe('flow control: fair shares between keys', () => {
    it('without fair shares a key with a big backlog takes every slot; with them each waiting key gets a turn', async () => {
      for (const fair of [false, true]) {
        const { orrery } = await setup([{ name: 'crawl', maxRunning: 50, maxQueueLength: null, ...(fair ? { fairShare: true } : {}) }]);
        await queue(orrery, 'crawl', [['big', 200], ['k1', 1], ['k2', 1], ['k3', 1], [null, 1]]);
        const got = await orrery.claim({ worker: 'w', types: ['crawl'], limit: 5, at: T0 });
        expect(await keysOf(orrery, got.runs)).toEqual(fair ? ['big', 'k1', 'k2', 'k3', null] : ['big', 'big', 'big', 'big', 'big']);
      }
    });

    it('keys take turns across claims and processes, each its weight per turn', async () => {
      const { orrery, another } = await setup([{ name: 'crawl', fairShare: { weights: { a: 3 } }, maxQueueLength: null }]);
      const other = await another();
      await queue(orrery, 'crawl', [['a', 20], ['b', 20], ['c', 20]]);
      const got: Array<string | null> = [];
      for (let i = 0; i < 5; i++) got.push(...(await keysOf(orrery, (await (i % 2 ? other : orrery).claim({ worker: 'w', types: ['crawl'], limit: 2, at: T0 })).runs)));
      // 10 runs over turns of a (3), b (1), c (1): a a a b c a a a b c.
      expect(got.filter((k) => k === 'a')).toHaveLength(6);
      expect(got.filter((k) => k === 'b')).toHaveLength(2);
      expect(got.filter((k) => k === 'c')).toHaveLength(2);
    });

    it('a key runs its runs in claim order; fifoPerKey starts one per key at a time', async () => {
      const { orrery } = await setup([{ name: 'ledger', fifoPerKey: true, maxQueueLength: null }]);
      await queue(orrery, 'ledger', [['a', 3], ['b', 3]]);
      const first = await orrery.claim({ worker: 'w', types: ['ledger'], limit: 10, at: T0 });
      expect(first.runs.map((c) => c.run.task).sort((x, y) => x - y)).toEqual([1, 4]);
      expect(first.heldBack).toBe(true);
      expect((await orrery.claim({ worker: 'w', types: ['ledger'], limit: 10, at: T0 })).runs).toEqual([]);
      const a1 = first.runs.find((c) => c.run.task === 1)!;
      await orrery.endRun(a1.run.backendId, { status: 'eventful', worker: 'w', at: plus(T0, 5) });
      const next = await orrery.claim({ worker: 'w', types: ['ledger'], limit: 10, at: plus(T0, 5) });
      expect(next.runs.map((c) => c.run.task)).toEqual([2]); // a's second run; b waits for its first
    });

    it('full keys are passed over and the claim says runs were held back', async () => {
      const { orrery } = await setup([{ name: 'crawl', fairShare: true, maxRunningPerKey: 1, maxQueueLength: null }]);
      await queue(orrery, 'crawl', [['a', 3], ['b', 3]]);
      const first = await orrery.claim({ worker: 'w', types: ['crawl'], limit: 10, at: T0 });
      expect(await keysOf(orrery, first.runs)).toEqual(['a', 'b']);
      expect(first.heldBack).toBe(true);
    });

    it('concurrent fair claims from two stores take each run once', async () => {
      const { orrery, another } = await setup([{ name: 'crawl', fairShare: true, maxQueueLength: null }]);
      const other = await another();
      await queue(orrery, 'crawl', Array.from({ length: 12 }, (_, i): [string, number] => [`k${String(i).padStart(2, '0')}`, 3]));
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? orrery : other).claim({ worker: `w${i}`, types: ['crawl'], limit: 4, at: T0 })));
      const runs = claims.flatMap((c) => c.runs);
      expect(runs).toHaveLength(24);
      expect(new Set(runs.map((c) => c.run.backendId)).size).toBe(24);
      // 24 runs over 12 keys in turn: two of each.
      const per = new Map<string | null, number>();
      for (const k of await keysOf(orrery, runs)) per.set(k, (per.get(k) ?? 0) + 1);
      expect([...per.values()]).toEqual(Array(12).fill(2));
    });
  });

  describe('flow control: limits that adapt', () => {
    it('a throttle halves the type\'s effective rate, once per window; it recovers additively; the type answers it', async () => {
      const { orrery, clock } = await setup([{ name: 'api', rateLimit: '100/1s', maxQueueLength: null }]);
      expect((await orrery.getTaskType('api'))!.effectiveRate).toEqual({ type: { count: 100, perMs: 1000 }, keys: [] });
      expect(await orrery.store.throttleRate('api', null, T0)).toEqual({ type: 'api', key: null, count: 50, perMs: 1000 });
      expect(await orrery.store.throttleRate('api', null, plus(T0, 500))).toBeNull(); // within the window of the last decrease
      await queue(orrery, 'api', [[null, 120]]);
      const got = await orrery.claim({ worker: 'w', types: ['api'], limit: 120, at: T0 });
      expect(got.runs).toHaveLength(50);
      // 50 starts fill the window; the rate grows by 10 per second (1 per 100 ms), so a 51st may start at T0 + 100.
      expect(got).toMatchObject({ heldBack: true, retryAt: plus(T0, 100) });
      expect((await orrery.claim({ worker: 'w', types: ['api'], limit: 120, at: plus(T0, 100) })).runs).toHaveLength(1);
      clock.set(plus(T0, 2000));
      expect((await orrery.getTaskType('api'))!.effectiveRate).toEqual({ type: { count: 70, perMs: 1000 }, keys: [] });
      clock.set(plus(T0, 10_000));
      expect((await orrery.listTaskTypes(['api']))[0]!.effectiveRate).toEqual({ type: { count: 100, perMs: 1000 }, keys: [] });
    });

    it('with rateLimitPerKey a throttle lowers the rate of the run\'s key only', async () => {
      const { orrery, clock } = await setup([{ name: 'api', rateLimitPerKey: '4/1s', maxQueueLength: null }]);
      await queue(orrery, 'api', [['a', 6], ['b', 6]]);
      const [run] = (await orrery.claim({ worker: 'w', types: ['api'], limit: 1, at: T0 })).runs;
      const ended = await orrery.endRun(run!.run.backendId, { status: 'failed', worker: 'w', at: plus(T0, 1000), throttle: true, retryAfterMs: 60_000 });
      expect(ended.run.status).toBe('failed');
      clock.set(plus(T0, 1000));
      expect((await orrery.getTaskType('api'))!.effectiveRate).toEqual({ type: null, keys: [{ key: 'a', count: 2, perMs: 1000 }] });
      const got = await orrery.claim({ worker: 'w', types: ['api'], limit: 10, at: plus(T0, 1000) });
      expect(await keysOf(orrery, got.runs)).toEqual(['a', 'a', 'b', 'b', 'b', 'b']);
    });

    it('throttles through a batch of ends; refused ends and types without a rate signal nothing', async () => {
      const { orrery } = await setup([{ name: 'api', rateLimit: '8/1s', maxQueueLength: null }, { name: 'free' }]);
      await queue(orrery, 'api', [[null, 2]]);
      await orrery.createTasks([task('free', 1, 'a')], { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const runs = (await orrery.claim({ worker: 'w', types: ['api', 'free'], limit: 10, at: T0 })).runs;
      const free = runs.find((c) => c.run.type === 'free')!;
      const outcomes = await orrery.endRuns([
        ...runs.map((c) => ({ backendId: c.run.backendId, status: 'uneventful' as const, worker: 'w', at: plus(T0, 10), throttle: true })),
        { backendId: free.run.backendId, status: 'uneventful', worker: 'w', at: plus(T0, 10), throttle: true }, // ended twice: refused
      ]);
      expect(outcomes.at(-1)).toBeInstanceOf(Error);
      expect(await orrery.store.adaptiveRates()).toEqual([{ type: 'api', key: null, state: { count: 4, since: plus(T0, 10).getTime(), decreasedAt: plus(T0, 10).getTime() } }]);
      expect(await orrery.store.throttleRate('free', 'a', T0)).toBeNull();
      expect(await orrery.store.throttleRate('no-such-type', null, T0)).toBeNull();
    });
  });

  describe('flow control: task type fields', () => {
    it('round-trip through the store; a bad edit names its field and writes nothing', async () => {
      const { orrery } = await setup([{ name: 'api', rateLimitPerKey: { count: 5, perMs: '1m' }, fairShare: { weights: { 'tenant-b': 2, 'tenant-a': 5 } } }]);
      const t = (await orrery.getTaskType('api'))!;
      expect(t).toMatchObject({ rateLimitPerKey: { count: 5, perMs: 60_000 }, fairShare: { weights: { 'tenant-a': 5, 'tenant-b': 2 } }, fifoPerKey: false });
      expect(Object.keys(t.fairShare!.weights)).toEqual(['tenant-a', 'tenant-b']);
      const e = await orrery.updateTaskType('api', { fairShare: { weights: { x: 0 } } }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).details.map((d) => d.path)).toEqual(['fairShare.weights.x']);
      await expect(orrery.updateTaskType('api', { fifoPerKey: true })).rejects.toThrow(/^fairShare\.weights: have no effect with fifoPerKey/);
      expect(await orrery.getTaskType('api')).toEqual(t);
      const edited = await orrery.updateTaskType('api', { fairShare: null, fifoPerKey: true, rateLimitPerKey: null });
      expect(edited).toMatchObject({ fairShare: null, fifoPerKey: true, rateLimitPerKey: null, effectiveRate: null });
      await expect(orrery.ensureTaskType({ name: 'other', rateLimitPerKey: '0/1s' })).rejects.toThrow(/^rateLimitPerKey: /);
      expect(await orrery.getTaskType('other')).toBeNull();
    });
  });
}
