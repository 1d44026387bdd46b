import { describe, expect, it } from 'vitest';
import { ConflictError, ValidationError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { DAY, T0, plus, useOrrery } from './fixtures.js';

const args = (url: string) => ({ args: [url], kwargs: {} });
/** More than one INSERT statement's worth on PostgreSQL (5,000 rows), so the batch spans statements. */
const BIG = 12_000;

/** Batches larger than one statement: the same semantics as a small batch. */
export function taskBatchCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('large task batches', () => {
    it('return equal active tasks, resolve repeats across statements, and keep the input order', async () => {
      const { orrery } = await setup();
      const before = await orrery.createTasks([0, 5000, BIG - 1].map((i) => ({ type: 'load-git', arguments: args(`u${i}`) })));
      const inputs = Array.from({ length: BIG }, (_, i) => ({ type: 'load-git', arguments: args(`u${i}`), priority: i % 7 === 3 ? ('high' as const) : null }));
      inputs.push(inputs[3]!, inputs[7000]!, inputs[BIG - 1]!);
      const out = await orrery.createTasksDetailed(inputs);
      expect(out.map((c) => c.task.arguments.args[0])).toEqual(inputs.map((x) => x.arguments.args[0]));
      expect(out.filter((c) => c.created)).toHaveLength(BIG - 3);
      for (const [j, i] of [0, 5000, BIG - 1].entries()) expect(out[i]).toMatchObject({ created: false, task: before[j] });
      expect(out[BIG]).toMatchObject({ created: false, task: { id: out[3]!.task.id } });
      expect(out[BIG + 1]).toMatchObject({ created: false, task: { id: out[7000]!.task.id } });
      expect(out[BIG + 2]).toMatchObject({ created: false, task: before[2] });
      expect(new Set(out.map((c) => c.task.id)).size).toBe(BIG);
      for (const i of [1, 4999, 5001, 9998, 11_000]) expect(await orrery.getTask(out[i]!.task.id)).toEqual(out[i]!.task);
      expect(await orrery.searchTasks({ priority: 'high', limit: BIG })).toHaveLength(inputs.slice(0, BIG).filter((x) => x.priority === 'high').length);
    });

    it('a small batch whose duplicates are within itself uses no id for them (guide.md)', async () => {
      const { orrery } = await setup();
      const [first] = await orrery.createTasks([{ type: 'load-git', arguments: args('z') }]);
      const out = await orrery.createTasksDetailed(['a', 'a', 'b', 'a'].map((u) => ({ type: 'load-git', arguments: args(u) })));
      const id = first!.id;
      expect(out.map((o) => [o.task.id, o.created])).toEqual([[id + 1, true], [id + 1, false], [id + 2, true], [id + 1, false]]);
      expect((await orrery.createTask({ type: 'load-git', arguments: args('c') })).id).toBe(id + 3);
      // A later equal task of the batch is answered with the task as stored (the first one's fields).
      const pair = await orrery.createTasksDetailed([
        { type: 'load-git', arguments: args('d'), concurrencyKey: 'a', retriesLeft: 1 },
        { type: 'load-git', arguments: args('d'), concurrencyKey: 'b', retriesLeft: 5 },
      ]);
      expect(pair[1]!.task).toEqual(pair[0]!.task);
      expect(pair[1]!.task).toEqual(await orrery.getTask(pair[0]!.task.id));
      // The same with `unique` (each taken under its key's lock on PostgreSQL): a window of 0 matches
      // no earlier task, and the repeat still gets the batch's own task without an id of its own.
      const next = (await orrery.createTask({ type: 'load-git', arguments: args('e') })).id;
      const uniq = await orrery.createTasksDetailed(['u', 'u'].map((u) => ({ type: 'load-git', policy: 'oneshot' as const, arguments: args(u), unique: { for: 0 } })));
      expect(uniq.map((o) => [o.task.id, o.created])).toEqual([[next + 1, true], [next + 1, false]]);
      expect((await orrery.createTask({ type: 'load-git', arguments: args('f') })).id).toBe(next + 2);
    });

    it("a batch with unique and debounced creates among plain ones: the ids of the tasks created follow the batch's order (PostgreSQL took them in key order: differential audit)", async () => {
      const { orrery } = await setup();
      const batch = [
        { type: 'load-git', arguments: args('p1') },
        ...Array.from({ length: 8 }, (_, i) => ({ type: 'load-git', policy: 'oneshot' as const, arguments: args(`u${i * 11}`), unique: { for: '1h', by: 'arguments' as const } })),
        { type: 'load-git', arguments: args('p2') },
        { type: 'load-git', policy: 'oneshot' as const, arguments: args('d'), debounce: { key: 'deb', period: '1m' } },
        { type: 'load-git', arguments: args('p3') },
      ];
      const created = await orrery.createTasksDetailed(batch);
      expect(created.every((o) => o.created)).toBe(true);
      const ids = created.map((o) => o.task.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(created.map((o) => o.task.arguments.args[0])).toEqual(batch.map((t) => t.arguments.args[0]));
      const summary = await orrery.createTasksSummary(['z9', 'z1', 'z5', 'z3'].map((u) => ({ type: 'load-git', policy: 'oneshot' as const, arguments: args(u), unique: { for: '1h' } })), { ids: true });
      expect(summary.ids).toEqual([...summary.ids!].sort((a, b) => a - b));
    });

    it('onConflict error anywhere in the batch refuses all of it; replace updates the holder', async () => {
      const { orrery } = await setup();
      const held = await orrery.createTask({ type: 'load-git', key: 'k', arguments: args('old') });
      const plain = Array.from({ length: 6000 }, (_, i) => ({ type: 'load-git', arguments: args(`p${i}`) }));
      const refused = await orrery.createTasks([...plain, { type: 'load-git', key: 'k', onConflict: 'error', arguments: args('new') }]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConflictError);
      expect((refused as Error).message).toMatch(/^tasks\[6000\]: /); // named in a batch written chunk by chunk too
      expect(await orrery.searchTasks({ limit: BIG })).toHaveLength(1);
      const out = await orrery.createTasksDetailed([...plain, { type: 'load-git', key: 'k', onConflict: 'replace', arguments: args('new') }]);
      expect(out[6000]).toMatchObject({ created: false, replaced: true, task: { id: held.id, arguments: args('new') } });
      expect(await orrery.searchTasks({ limit: BIG })).toHaveLength(6001);
    });

    it('stores each task own nextRun, far past and future included', async () => {
      const { orrery } = await setup();
      const instants = ['0001-01-01T00:00:00.000Z', '0000-06-01T00:00:00.000Z', '-000001-12-31T23:59:59.999Z', '1969-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z', '+010000-01-01T00:00:00.001Z', '+200000-06-30T12:34:56.789Z'].map((s) => new Date(s));
      const once = (nextRun: Date, url: string) => ({ type: 'load-git', policy: 'oneshot' as const, nextRun, arguments: args(url) });
      const varied = await orrery.createTasks(instants.map((nextRun, i) => once(nextRun, `v${i}`)));
      for (const [i, t] of varied.entries()) expect((await orrery.getTask(t.id))!.nextRun).toEqual(instants[i]);
      for (const nextRun of instants) {
        const pair = await orrery.createTasks([once(nextRun, 'a'), once(nextRun, 'b')]); // one nextRun for the whole statement
        for (const t of pair) expect((await orrery.getTask(t.id))!.nextRun).toEqual(nextRun);
      }
      const later = await orrery.createTasks(Array.from({ length: 6000 }, (_, i) => ({ type: 'load-git', nextRun: plus(T0, i * DAY), arguments: args(`l${i}`) })));
      expect((await orrery.getTask(later[5999]!.id))!.nextRun).toEqual(plus(T0, 5999 * DAY));
    });

    it('stores arguments and keys with any characters, whether a column varies in the batch or not', async () => {
      const { orrery } = await setup();
      const odd = ['NULL', 'null', '', '"', '\\', '\\"', '{a,b}', '{"x": [1]}', 'tab\tnew\nline', 'é😀\u2028', ' spaced ', "it's"];
      const varied = await orrery.createTasks(odd.map((s, i) => ({ type: 'load-git', key: `${s}#${i}`, concurrencyKey: s || null, arguments: { args: [s, i], kwargs: { [s]: s } } })));
      const same = await orrery.createTasks(odd.map((s, i) => ({ type: 'load-git', key: `k${i}`, concurrencyKey: 'c"{,}\\', arguments: { args: [s], kwargs: {} } })));
      for (const t of [...varied, ...same]) expect(await orrery.getTask(t.id)).toEqual(t);
      expect(varied.map((t) => [t.key, t.arguments.args[0]])).toEqual(odd.map((s, i) => [`${s}#${i}`, s]));
    });

    it('a task found invalid after earlier chunks were written rejects the batch and writes nothing', async () => {
      const { orrery } = await setup();
      const inputs: unknown[] = Array.from({ length: 4500 }, (_, i) => ({ type: 'load-git', arguments: args(`i${i}`) }));
      inputs[4321] = { type: 'load-git', arguments: args('bad'), priority: 'urgent' };
      const refused = await orrery.createTasks(inputs as never).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ValidationError);
      expect((refused as Error).message).toMatch(/^tasks\[4321\]\.priority/);
      const summary = await orrery.createTasksSummary(inputs.slice(0, 4000) as never).catch((e: unknown) => e);
      expect(summary).toMatchObject({ count: 4000, created: 4000 });
      const again = await orrery.createTasksSummary(inputs as never).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(ValidationError);
      expect(await orrery.searchTasks({ limit: BIG })).toHaveLength(4000);
    });

    it('a chunk that replaces sees the plain chunks written before it in the same batch', async () => {
      const { orrery } = await setup();
      const inputs: Array<Record<string, unknown>> = Array.from({ length: 3500 }, (_, i) => ({ type: 'load-git', arguments: args(`r${i}`) }));
      inputs[3400] = { type: 'load-git', arguments: args('r1500'), onConflict: 'replace' };
      const out = await orrery.createTasksDetailed(inputs as never);
      expect(out[3400]).toMatchObject({ created: false, task: { id: out[1500]!.task.id } });
      expect(out.filter((c) => c.created)).toHaveLength(3499);
    });

    it('wakes the runners once per batch', async () => {
      const { orrery } = await setup();
      let wakes = 0;
      const stop = orrery.store.listen('tasks', () => wakes++);
      await orrery.createTasks(Array.from({ length: BIG }, (_, i) => ({ type: 'load-git', arguments: args(`w${i}`) })));
      expect(wakes).toBe(1);
      stop();
    });
  });
}
