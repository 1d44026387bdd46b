import { describe, expect, it } from 'vitest';
import type { Orrery } from '../../src/engine/service.js';
import type { StoreUnderTest } from './describe-store.js';
import { T0, useOrrery } from './fixtures.js';

/**
 * Library calls given values of the wrong kind (a second library fuzz audit): each is a ValidationError
 * naming the field, the same on both stores, never a TypeError or RangeError of JavaScript or the
 * driver, and nothing is written.
 */
export function inputKindCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  /** A DAG, a lister and a task: what the calls below name. */
  async function world() {
    const { orrery } = await setup([{ name: 'o', defaultIntervalMs: '1h' }]);
    await orrery.dags.register([{ id: 'd1', tasks: [{ id: 'a' }] }]);
    const lister = await orrery.visits.getOrCreateLister('gl', 'x', { at: T0 });
    const task = await orrery.createTask({ type: 'o', policy: 'oneshot' }, { at: T0 });
    return { orrery, lister, task };
  }

  /** What a refused call could have written. */
  async function written(o: Orrery): Promise<unknown> {
    return {
      tasks: await o.searchTasks({}),
      runs: await o.searchRuns({ limit: 1000 }),
      dagRuns: await o.dags.runs({}),
      listers: await o.visits.listListers(),
      visits: await o.visits.getVisitStats([{ url: 'https://a/1', visitType: 'git' }]),
    };
  }

  /** Each call is a ValidationError naming `path` (its message too), and writes nothing. */
  async function refused(o: Orrery, path: string, calls: Array<() => unknown>): Promise<void> {
    const before = await written(o);
    for (const call of calls) {
      const e = await Promise.resolve().then(call).then(() => null, (x: unknown) => x);
      expect.soft(e, call.toString()).toMatchObject({ name: 'ValidationError', details: [expect.objectContaining({ path })] });
    }
    expect(await written(o)).toEqual(before);
  }

  /** An array nested 10,000 deep: turned into text, it overflowed the stack (RangeError). */
  const deep = (): unknown => {
    let a: unknown = [];
    for (let i = 0; i < 10_000; i++) a = [a];
    return a;
  };

  describe('library calls given values of the wrong kind (second fuzz audit)', () => {
    it('recordVisit({ at }) refuses NaN, 0, -0 and "" naming at: they were dropped and the visit stamped now', async () => {
      const { orrery } = await world();
      const visit = (at: unknown) => () => orrery.visits.recordVisit('https://a/1', 'git', 'failed', null, { at } as never);
      await refused(orrery, 'at', [visit(Number.NaN), visit(0), visit(-0), visit(''), visit(false), visit(deep())]);
      // A Date, or left out, records it.
      expect((await orrery.visits.recordVisit('https://a/1', 'git', 'failed', null, { at: T0 })).applied).toBe(true);
    });

    it('every DAG call taking an id refuses a value that is not a string naming it (a TypeError on SQLite, not found on PostgreSQL)', async () => {
      const { orrery } = await world();
      const range = { from: new Date(T0.getTime() - 3_600_000), to: T0 };
      const ids: unknown[] = [{}, new Date(), true, () => 1, new Map(), 10n, 5, deep()];
      await refused(orrery, 'id', ids.flatMap((id) => [
        () => orrery.dags.trigger(id as never),
        () => orrery.dags.grid(id as never),
        () => orrery.dags.next(id as never),
        () => orrery.dags.backfill(id as never, range),
        () => orrery.dags.pause(id as never),
        () => orrery.dags.resume(id as never),
        () => orrery.dags.get(id as never),
      ]));
      await refused(orrery, 'task', [() => orrery.dags.attempts(1, Symbol('x') as never), () => orrery.dags.attempts(1, deep() as never), () => orrery.dags.attempts(1, 5 as never)]);
      await refused(orrery, 'run', [() => orrery.dags.attempts('1' as never, 'a'), () => orrery.dags.run(deep() as never), () => orrery.dags.cancel(Symbol('x') as never)]);
      expect((await orrery.dags.trigger('d1')).dag).toBe('d1');
    });

    it('updateLister refuses an `updated` before 4714-11-24 BC naming it (PostgreSQL\'s 22008, SQLite\'s stale data)', async () => {
      const { orrery, lister } = await world();
      await refused(orrery, 'updated', [() => orrery.visits.updateLister({ id: lister.id, updated: new Date('-004714-01-01T00:00:00Z') }), () => orrery.visits.updateLister({ id: lister.id, updated: new Date(-8.64e15) })]);
    });

    it('a task given as a function is refused (reading a strict function\'s arguments was a TypeError)', async () => {
      const { orrery } = await world();
      await refused(orrery, '', [() => orrery.createTask((() => 1) as never)]);
      await refused(orrery, 'tasks[1]', [() => orrery.createTasks([{ type: 'o', policy: 'oneshot' }, (() => 1) as never])]);
    });

    it('searchRuns refuses a status list item that is not text, naming status (s.trim is not a function)', async () => {
      const { orrery } = await world();
      await refused(orrery, 'status', [() => orrery.searchRuns({ status: [5] as never }), () => orrery.searchRuns({ status: [null] as never }), () => orrery.searchRuns({ status: [deep()] as never })]);
    });

    it('schedules.preview checks a Date `from` as every instant: invalid, or before 4714-11-24 BC', async () => {
      const { orrery } = await world();
      const preview = (from: unknown, rule: object = { cron: '0 0 * * *' }) => () => orrery.schedules.preview({ ...rule, from, count: 1 } as never);
      await refused(orrery, 'from', [
        preview(new Date(Number.NaN)),
        preview(new Date(Number.NaN), { rrule: 'FREQ=DAILY' }),
        preview(new Date(-8.64e15)),
        preview(new Date(-8.64e15), { rrule: 'FREQ=DAILY' }),
        preview(new Date('-004714-01-01T00:00:00Z')),
        preview(5),
        preview(deep()),
      ]);
      expect(orrery.schedules.preview({ cron: '0 0 * * *', from: T0, count: 1 }).occurrences).toHaveLength(1);
    });

    it('bulkTasks, importTasks and dags.attempts refuse symbols, non-streams and odd chunks naming the argument', async () => {
      const { orrery, task } = await world();
      await refused(orrery, 'action', [() => orrery.bulkTasks(Symbol('x') as never, { ids: [task.id] }), () => orrery.bulkTasks(deep() as never, { ids: [task.id] })]);
      await refused(orrery, 'onProgress', [() => orrery.bulkTasks('disable', { ids: [task.id] }, { onProgress: 5 as never })]);
      const yielding = (chunk: unknown) => (async function* () { yield chunk; })();
      await refused(orrery, 'source', [null, 5, {}, new Date(), deep(), yielding(5), yielding({}), yielding(deep())].map((s) => () => orrery.importTasks(s as never)));
      // Text and bytes, as a stream or a whole string, are taken.
      expect((await orrery.importTasks(yielding(Buffer.from('{"type":"o","policy":"oneshot","key":"k1"}\n')) as AsyncIterable<Uint8Array>)).created).toBe(1);
    });

    it('a deeply nested array given as an id or a choice is a ValidationError naming it, not a stack overflow', async () => {
      const { orrery } = await world();
      const d = deep() as never;
      const cases: Array<[string, () => unknown]> = [
        ['id', () => orrery.getTask(d)],
        ['id', () => orrery.getTaskWithRuns(d)],
        ['id', () => orrery.whyTask(d)],
        ['id', () => orrery.waitForTask(d)],
        ['status', () => orrery.findTasks({ status: d })],
        ['disabledReason', () => orrery.findTasks({ disabledReason: d })],
        ['ids[0]', () => orrery.findTasks({ ids: d })],
        ['ids[0]', () => orrery.bulkTasks('disable', { ids: d })],
        ['range', () => orrery.runSeries({ range: d })],
        ['to', () => orrery.archive({ before: T0, to: d })],
        ['id', () => orrery.schedules.next(d)],
        ['id', () => orrery.schedules.backfill(d, { from: T0, to: T0 })],
        ['id', () => orrery.schedules.progress(d)],
        ['id', () => orrery.schedules.backfills(d)],
        ['id', () => orrery.schedules.cancelBackfill(d)],
        ['tz', () => orrery.schedules.preview({ cron: '0 0 * * *', tz: d })],
        ['pageToken', () => orrery.visits.getListedOrigins({ pageToken: d })],
        ['policy', () => orrery.visits.grabNextVisits('git', 1, d)],
      ];
      for (const [path, call] of cases) await refused(orrery, path, [call]);
    });

    it('grabNextVisits refuses cooldowns that are not an object; an array of options is refused as `options`', async () => {
      const { orrery } = await world();
      const grab = (cooldowns: unknown) => () => orrery.visits.grabNextVisits('git', 1, 'oldest_scheduled_first', { dryRun: true, cooldowns } as never);
      await refused(orrery, 'cooldowns', [grab(Symbol('x')), grab(() => 1), grab(Number.NaN), grab([]), grab(true)]);
      // Array.prototype.at was read as the instant: "at: must be a valid Date".
      await refused(orrery, 'options', [() => orrery.createTask({ type: 'o', policy: 'oneshot' }, [] as never), () => orrery.dueStats([] as never)]);
    });
  });
}
