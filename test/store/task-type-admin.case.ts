import { describe, expect, it } from 'vitest';
import { ConflictError, NotFoundError, ValidationError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, T0, claimOne, plus, useOrrery } from './fixtures.js';

const oneshot = (type: string, i: number) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } });

/** Issue 18: task types paused, edited and deleted at runtime (docs/operations.md). */
export function taskTypeAdminCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('task types at runtime: pause, resume, edit, delete', () => {
    it('a paused type is neither scheduled nor claimed, in any process; resuming lets both go on', async () => {
      const { orrery, another } = await setup([{ name: 'a' }, { name: 'b' }]);
      const other = await another();
      await orrery.createTasks([oneshot('a', 1), oneshot('a', 2), oneshot('b', 3)], { at: T0 });
      const queued = await orrery.scheduleDue({ at: T0, type: 'a' });
      expect(queued).toHaveLength(2);
      await orrery.createTasks([oneshot('a', 4)], { at: T0 });

      const paused = await orrery.pauseTaskType('a', { reason: 'upstream down', at: plus(T0, 1) });
      expect(paused.paused).toEqual({ at: plus(T0, 1), reason: 'upstream down' });
      expect((await other.getTaskType('a'))!.paused).toEqual({ at: plus(T0, 1), reason: 'upstream down' });
      // Queued runs wait, due tasks are not claimed directly, nor scheduled by the runner.
      for (const o of [orrery, other]) {
        expect((await o.claim({ worker: 'w', types: ['a'], limit: 10, at: plus(T0, 2) })).runs).toEqual([]);
        expect((await o.claim({ worker: 'w', types: ['a'], limit: 10, due: true, at: plus(T0, 2) })).runs).toEqual([]);
      }
      expect(await orrery.scheduleDue({ at: plus(T0, 2), type: 'a' })).toEqual([]);
      // Other types go on; the runner's next due instant leaves the paused type out.
      const b = await other.claim({ worker: 'w', types: ['a', 'b'], limit: 10, due: true, at: plus(T0, 2) });
      expect(b.runs.map((c) => c.run.type)).toEqual(['b']);
      expect(await orrery.store.nextDueAt()).toBeNull();

      // Pausing again keeps the first instant; a new reason replaces the old one.
      expect((await orrery.pauseTaskType('a', { at: plus(T0, 5) })).paused!.at).toEqual(plus(T0, 1));
      expect((await orrery.pauseTaskType('a', { reason: 'still down', at: plus(T0, 5) })).paused).toEqual({ at: plus(T0, 1), reason: 'still down' });

      expect((await other.resumeTaskType('a', { at: plus(T0, 10) })).paused).toBeNull();
      expect((await orrery.resumeTaskType('a')).paused).toBeNull(); // resuming a running type changes nothing
      expect(await orrery.store.nextDueAt()).toEqual(T0);
      const after = await orrery.claim({ worker: 'w', types: ['a'], limit: 10, due: true, at: plus(T0, 11) });
      expect(after.runs).toHaveLength(3);
    });

    it('edits, pauses and resumes made at once, from two services, each apply to what the others wrote: none is lost (race audit)', async () => {
      const { orrery, another } = await setup([{ name: 'a', defaultIntervalMs: '1h' }]);
      const other = await another();
      for (let round = 0; round < 3; round++) {
        const [paused] = await Promise.all([orrery.pauseTaskType('a', { reason: `r${round}` }), other.updateTaskType('a', { description: `d${round}` })]);
        expect(paused.paused?.reason).toBe(`r${round}`);
        expect(await orrery.getTaskType('a')).toMatchObject({ description: `d${round}`, paused: { reason: `r${round}` } });
        await Promise.all([other.resumeTaskType('a'), orrery.updateTaskType('a', { numRetries: 7 + round })]);
        expect(await other.getTaskType('a')).toMatchObject({ paused: null, numRetries: 7 + round });
      }
      // Three edits of different fields at once: all three kept.
      await Promise.all([orrery.updateTaskType('a', { numRetries: 9 }), other.updateTaskType('a', { leaseMs: 45_000 }), orrery.updateTaskType('a', { maxRunning: 3 })]);
      expect(await orrery.getTaskType('a')).toMatchObject({ numRetries: 9, leaseMs: 45_000, maxRunning: 3, description: 'd2' });
      await expect(orrery.updateTaskType('nope', { numRetries: 1 })).rejects.toMatchObject({ name: 'NotFoundError', message: 'unknown task type "nope"' });
      await expect(orrery.pauseTaskType('nope')).rejects.toMatchObject({ name: 'NotFoundError' });
    });

    it('pausing and resuming wake the loops that wait on types, tasks and runs', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      const seen: string[] = [];
      for (const ch of ['types', 'tasks', 'runs'] as const) orrery.store.listen(ch, () => seen.push(ch));
      await orrery.pauseTaskType('a');
      expect(seen).toEqual(['types']);
      await orrery.resumeTaskType('a');
      expect(seen).toEqual(['types', 'types', 'tasks', 'runs']);
    });

    it('clearing a type\'s intervals leaves its adaptive tasks at the interval they have (they collapsed to 0 ms or grew past 100 years)', async () => {
      const { orrery } = await setup([{ name: 'x', defaultIntervalMs: HOUR, minIntervalMs: 600_000, maxIntervalMs: 86_400_000, backoffFactor: 1000 }]);
      const task = await orrery.createTask({ type: 'x', arguments: { args: ['a'], kwargs: {} }, nextRun: T0 });
      await orrery.updateTaskType('x', { defaultIntervalMs: null, minIntervalMs: null, maxIntervalMs: null });
      let at = T0;
      for (const status of ['eventful', 'eventful', 'uneventful'] as const) {
        const run = await claimOne(orrery, task.id, at);
        at = plus(at, 1000);
        await orrery.endRun(run.backendId, { status, at });
        const t = (await orrery.getTask(task.id))!;
        expect(t.currentIntervalMs).toBe(HOUR);
        expect(t.nextRun).toEqual(plus(at, HOUR));
        at = t.nextRun!;
      }
    });

    it('an edit is validated whole, keeps the pause, and counts from the next claim', async () => {
      const { orrery, another } = await setup([{ name: 'narrow', maxRunning: 1, timeoutMs: 60_000 }]);
      await orrery.createTasks([1, 2, 3].map((i) => oneshot('narrow', i)), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      expect((await orrery.claim({ worker: 'w', types: ['narrow'], limit: 10, at: T0 })).runs).toHaveLength(1);

      const edited = await orrery.updateTaskType('narrow', { maxRunning: 3, timeoutMs: null, numRetries: 2, description: 'wider' });
      expect(edited).toMatchObject({ maxRunning: 3, timeoutMs: null, numRetries: 2, description: 'wider', backendName: 'narrow', paused: null });
      expect((await orrery.claim({ worker: 'w', types: ['narrow'], limit: 10, at: plus(T0, 1) })).runs).toHaveLength(2);
      const other = await another();
      expect(await other.getTaskType('narrow')).toEqual(edited);

      await orrery.pauseTaskType('narrow', { reason: 'r', at: plus(T0, 2) });
      expect((await orrery.updateTaskType('narrow', { rateLimit: '10/1m' })).paused).toEqual({ at: plus(T0, 2), reason: 'r' });
      expect((await orrery.getTaskType('narrow'))!.rateLimit).toEqual({ count: 10, perMs: 60_000 });
    });

    it('refuses edits that are not valid, naming the field; nothing is written', async () => {
      const { orrery } = await setup([{ name: 't', defaultIntervalMs: 60_000 }]);
      const before = await orrery.getTaskType('t');
      const bad: Array<[unknown, RegExp]> = [
        [{ name: 'u' }, /name: cannot be changed/],
        [{ backendName: 'x' }, /backendName: cannot be changed/],
        [{ leaseMs: 10 }, /leaseMs: must be at least 1s/],
        [{ minIntervalMs: 120_000 }, /minIntervalMs: must be <= maxIntervalMs/],
        // In the specification's names, the problems are named by them (docs/guide.md, task type fields).
        [{ lease: '100ms' }, /^lease: must be at least 1s$/],
        [{ minInterval: '3m' }, /^minInterval: must be <= maxInterval \(and 1 more problem\)$/],
        [{ retryDelay: '-1h' }, /^retryDelay: /],
        [{ numRetries: -1 }, /numRetries/],
        [{ colour: 'red' }, /colour: is not a field of a task type that can be edited/],
        [{ constructor: 1 }, /^constructor: is not a field of a task type that can be edited/],
        [{ toString: 1 }, /^toString: is not a field of a task type that can be edited/],
        [{}, /nothing to change/],
        [[], /an edit must be an object/],
      ];
      for (const [edit, message] of bad) {
        await expect(orrery.updateTaskType('t', edit as never)).rejects.toThrow(ValidationError);
        await expect(orrery.updateTaskType('t', edit as never)).rejects.toThrow(message);
      }
      expect(await orrery.getTaskType('t')).toEqual(before);
      await expect(orrery.updateTaskType('missing', { numRetries: 1 })).rejects.toThrow(NotFoundError);
      await expect(orrery.pauseTaskType('missing')).rejects.toThrow(NotFoundError);
      await expect(orrery.resumeTaskType('missing')).rejects.toThrow(NotFoundError);
      await expect(orrery.pauseTaskType('t', { reason: 'x'.repeat(1001) })).rejects.toThrow(/reason: at most 1000 characters/);
      // Text neither store holds as given (SQLite wrote a lone surrogate as three U+FFFD, PostgreSQL as one).
      const [task] = await orrery.createTasks([oneshot('t', 1)], { at: T0 });
      for (const [reason, message] of [['r\udc00', 'reason: must not contain lone UTF-16 surrogates (not valid Unicode)'], ['a\0b', 'reason: must not contain NUL characters (U+0000)']]) {
        await expect(orrery.pauseTaskType('t', { reason })).rejects.toThrow(message);
        await expect(orrery.pauseTask(task!.id, { reason })).rejects.toThrow(message);
      }
      expect((await orrery.getTaskType('t'))!.paused).toBeNull();
      expect((await orrery.getTask(task!.id))!.paused).toBeNull();
    });

    it('deletes a type without tasks; a type with tasks is a conflict naming how many', async () => {
      const { orrery, another } = await setup([{ name: 'empty' }, { name: 'busy' }, { name: 'one' }]);
      await orrery.createTasks([oneshot('busy', 1), oneshot('busy', 2)], { at: T0 });
      await expect(orrery.deleteTaskType('busy')).rejects.toThrow(ConflictError);
      await expect(orrery.deleteTaskType('busy')).rejects.toThrow(/still has 2 tasks \(2 active\)/);
      await orrery.createTask(oneshot('one', 1), { at: T0 });
      // One task: "1 task", in the message and in its details alike.
      await expect(orrery.deleteTaskType('one')).rejects.toMatchObject({ message: expect.stringMatching(/still has 1 task \(1 active\)/), details: [{ path: 'name', message: 'has 1 task' }] });
      expect(await orrery.getTaskType('busy')).not.toBeNull();
      const other = await another();
      await orrery.deleteTaskType('empty');
      expect(await orrery.getTaskType('empty')).toBeNull();
      expect(await other.getTaskType('empty')).toBeNull();
      await expect(orrery.createTask(oneshot('empty', 1))).rejects.toThrow(/unknown task type|empty/);
      await expect(orrery.deleteTaskType('empty')).rejects.toThrow(NotFoundError);
      // Created again under the same name: a fresh type.
      expect((await orrery.createTaskType({ name: 'empty', numRetries: 4 })).numRetries).toBe(4);
    });

    it('a task created by a process that still holds the type, deleted by another, is refused as of an unknown type, nothing written (operations.md)', async () => {
      const { orrery, another } = await setup([{ name: 'gone' }]);
      const other = await another();
      const first = await other.createTask(oneshot('gone', 1), { at: T0 }); // this process now knows the type
      await orrery.bulkTasks('delete', { ids: [first.id] });
      await orrery.deleteTaskType('gone');
      // SQLite: a raw 'FOREIGN KEY constraint failed' (HTTP 500) while the other process still held the type.
      const err = await other.createTasks([oneshot('gone', 2)], { at: T0 }).then(() => null, (e: unknown) => e);
      expect(err).toMatchObject({ name: 'ValidationError', message: 'type: unknown task type "gone"' });
      expect(await orrery.searchTasks({})).toEqual([]);
    });
  });
}
