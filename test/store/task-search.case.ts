import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { TASK_SCAN_LIMIT } from '../../src/core/task-search.js';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, T0, plus, useOrrery } from './fixtures.js';

/** Issue 18: server-side task search, filtered, in keyset pages (docs/operations.md#task-search). */
export function taskSearchCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('task search', () => {
    it('filters by type, statuses, priority, next-run range and concurrency key, in id order with a cursor', async () => {
      const { orrery } = await setup([{ name: 'a' }, { name: 'b' }]);
      const mk = (type: string, i: number, extra: Record<string, unknown> = {}) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, nextRun: plus(T0, i * HOUR), ...extra });
      const tasks = await orrery.createTasks(
        [
          mk('a', 1, { priority: 'high', concurrencyKey: 'k1' }),
          mk('b', 2, { concurrencyKey: 'k1' }),
          mk('a', 3),
          mk('a', 4, { priority: 'low', concurrencyKey: 'k2' }),
          mk('b', 5),
          mk('a', 6, { concurrencyKey: 'k1' }),
        ],
        { at: T0 },
      );
      const id = (i: number) => tasks[i - 1]!.id;
      await orrery.disableTasks([id(3), id(6)], { at: T0 });
      const ids = async (input: Parameters<typeof orrery.findTasks>[0]) => (await orrery.findTasks(input)).tasks.map((t) => t.id);

      expect(await ids({ type: 'a' })).toEqual([id(1), id(3), id(4), id(6)]);
      // Two statuses of one type: the ranges merge in id order, page by page.
      const first = await orrery.findTasks({ type: 'a', status: 'disabled,next_run_not_scheduled', limit: 2 });
      expect(first.tasks.map((t) => t.id)).toEqual([id(1), id(3)]);
      expect(first).toMatchObject({ nextCursor: String(id(3)), partial: false });
      expect(await ids({ type: 'a', status: ['disabled', 'next_run_not_scheduled'], limit: 2, cursor: first.nextCursor! })).toEqual([id(4), id(6)]);
      expect(await ids({ status: 'disabled' })).toEqual([id(3), id(6)]);
      expect(await ids({ disabledReason: 'manual' })).toEqual([id(3), id(6)]);
      expect(await ids({ disabledReason: 'manual', status: 'next_run_not_scheduled' })).toEqual([]);
      expect(await ids({ priority: 'high' })).toEqual([id(1)]);
      expect(await ids({ priority: 'none', type: 'b' })).toEqual([id(2), id(5)]);
      expect(await ids({ nextRunFrom: plus(T0, 2 * HOUR), nextRunBefore: plus(T0, 5 * HOUR) })).toEqual([id(2), id(3), id(4)]);
      expect(await ids({ nextRunFrom: '2026-01-01T04:00:00Z' })).toEqual([id(4), id(5), id(6)]);
      expect(await ids({ concurrencyKey: 'k1' })).toEqual([id(1), id(2), id(6)]);
      expect(await ids({ concurrencyKey: 'k1', type: 'a', status: 'next_run_not_scheduled' })).toEqual([id(1)]);
      expect(await ids({ policy: 'recurring' })).toEqual([]);
      const all = await orrery.findTasks({});
      expect(all.tasks).toHaveLength(6);
      expect(all).toMatchObject({ nextCursor: null, partial: false });
    });

    it('filters by paused (the task schedule is paused) or not, alone or with other filters, in id order with a cursor', async () => {
      const { orrery } = await setup([{ name: 'a' }, { name: 'b' }]);
      const tasks = await orrery.createTasks(
        [1, 2, 3, 4, 5, 6].map((i) => ({ type: i % 2 ? 'a' : 'b', policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} }, ...(i === 5 ? { concurrencyKey: 'k' } : {}) })),
        { at: T0 },
      );
      const id = (i: number) => tasks[i - 1]!.id;
      for (const i of [1, 2, 5]) await orrery.pauseTask(id(i), { reason: 'look', at: T0 });
      await orrery.disableTasks([id(5)], { at: T0 });
      const ids = async (input: Parameters<typeof orrery.findTasks>[0]) => (await orrery.findTasks(input)).tasks.map((t) => t.id);

      expect(await ids({ paused: true })).toEqual([id(1), id(2), id(5)]);
      expect(await ids({ paused: false })).toEqual([id(3), id(4), id(6)]);
      expect(await ids({ paused: true, type: 'a' })).toEqual([id(1), id(5)]);
      expect(await ids({ paused: false, type: 'a' })).toEqual([id(3)]);
      expect(await ids({ paused: true, status: 'next_run_not_scheduled' })).toEqual([id(1), id(2)]);
      expect(await ids({ paused: true, type: 'a', status: 'disabled' })).toEqual([id(5)]);
      expect(await ids({ paused: true, concurrencyKey: 'k' })).toEqual([id(5)]);
      expect(await ids({ paused: false, concurrencyKey: 'k' })).toEqual([]);
      expect(await ids({ paused: true, ids: [id(1), id(3)] })).toEqual([id(1)]);
      // Pages: the paused tasks of every type, in id order, two at a time.
      const first = await orrery.findTasks({ paused: true, limit: 2 });
      expect(first).toMatchObject({ nextCursor: String(id(2)), partial: false });
      expect(await ids({ paused: true, limit: 2, cursor: first.nextCursor! })).toEqual([id(5)]);
      // Resumed: no longer paused.
      await orrery.resumeTask(id(1));
      expect(await ids({ paused: true })).toEqual([id(2), id(5)]);
      await expect(orrery.findTasks({ paused: 'yes' } as never)).rejects.toThrow(/paused: must be true or false/);
    });

    it('finds argument text: a string value of args or kwargs that contains or starts with it, ASCII case ignored', async () => {
      const { orrery } = await setup([{ name: 'load' }]);
      const t = await orrery.createTasks(
        [
          { type: 'load', policy: 'oneshot', arguments: { args: ['https://github.com/Org/Repo'], kwargs: {} } },
          { type: 'load', policy: 'oneshot', arguments: { args: [], kwargs: { url: 'https://gitlab.com/org/other', depth: 3 } } },
          { type: 'load', policy: 'oneshot', arguments: { args: [{ mirror: ['ftp://example.org/ÉTÉ'] }], kwargs: {} } },
          { type: 'load', policy: 'oneshot', arguments: { args: [12345], kwargs: { note: null } } },
        ],
        { at: T0 },
      );
      const ids = async (args: string, argsMatch?: 'prefix' | 'substring') => (await orrery.findTasks({ args, ...(argsMatch ? { argsMatch } : {}) })).tasks.map((x) => x.id);
      expect(await ids('org/')).toEqual([t[0]!.id, t[1]!.id, t[2]!.id]);
      expect(await ids('GITHUB.COM/org/repo')).toEqual([t[0]!.id]);
      expect(await ids('https://git', 'prefix')).toEqual([t[0]!.id, t[1]!.id]);
      expect(await ids('github', 'prefix')).toEqual([]);
      expect(await ids('ftp://example.org/ÉTÉ')).toEqual([t[2]!.id]);
      // Only ASCII letters are folded; keys and numbers are not argument text.
      expect(await ids('été')).toEqual([]);
      expect(await ids('url')).toEqual([]);
      expect(await ids('123')).toEqual([]);
      expect((await orrery.findTasks({ args: 'gitlab', type: 'load', status: 'next_run_not_scheduled' })).tasks.map((x) => x.id)).toEqual([t[1]!.id]);
    });

    it(`a page examines at most ${TASK_SCAN_LIMIT} tasks of its index range and says where to go on`, async () => {
      const { orrery } = await setup([{ name: 'bulk' }]);
      const n = TASK_SCAN_LIMIT + 5;
      const created = await orrery.createTasks(
        Array.from({ length: n }, (_, i) => ({ type: 'bulk', policy: 'oneshot' as const, arguments: { args: [i === n - 2 ? 'needle' : `hay-${i}`], kwargs: {} } })),
        { at: T0 },
      );
      const page = await orrery.findTasks({ type: 'bulk', args: 'needle' });
      expect(page.tasks).toEqual([]);
      expect(page.partial).toBe(true);
      expect(page.nextCursor).toBe(String(created[TASK_SCAN_LIMIT - 1]!.id));
      const rest = await orrery.findTasks({ type: 'bulk', args: 'needle', cursor: page.nextCursor! });
      expect(rest.tasks.map((t) => t.id)).toEqual([created[n - 2]!.id]);
      expect(rest).toMatchObject({ nextCursor: null, partial: false });
      // Without a filter beyond the index's, pages are exact.
      expect((await orrery.findTasks({ type: 'bulk', limit: 1000 })).partial).toBe(false);
    });

    it('refuses bad filters naming the field', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ status: 'done' }, /status: "done" is not a task status/],
        [{ disabledReason: 'tired' }, /disabledReason: "tired" is not a disabled reason/],
        [{ priority: 'urgent' }, /priority: must be one of/],
        [{ limit: 0 }, /limit: must be an integer from 1 to 1000/],
        [{ nextRunFrom: 'soon' }, /nextRunFrom/],
        [{ nextRunFrom: '2026-01-02T00:00:00Z', nextRunBefore: '2026-01-01T00:00:00Z' }, /nextRunBefore: must be after nextRunFrom/],
        [{ args: '' }, /args: must be a non-empty string/],
        [{ argsMatch: 'prefix' }, /argsMatch: only applies with args/],
        [{ args: 'x', argsMatch: 'regex' }, /argsMatch: must be one of substring, prefix/],
        [{ concurrencyKey: 'a\u0000b' }, /concurrencyKey: must not contain NUL/],
        [{ cursor: 'abc' }, /cursor: is not a cursor of this listing/],
      ];
      for (const [input, message] of bad) {
        await expect(orrery.findTasks(input as never)).rejects.toThrow(ValidationError);
        await expect(orrery.findTasks(input as never)).rejects.toThrow(message);
      }
    });
  });
}
