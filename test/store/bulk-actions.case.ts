import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import type { BulkResult } from '../../src/core/bulk.js';
import type { StoreUnderTest } from './describe-store.js';
import { HOUR, T0, claimStarted, plus, useOrrery } from './fixtures.js';

const oneshot = (type: string, i: number | string) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } });

/** Issue 18: bulk actions by filter, with a dry run first (docs/operations.md#bulk-actions). */
export function bulkActionCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('bulk actions', () => {
    it('disable and respawn by filter in batches of 1,000, counting first with a dry run', async () => {
      const { orrery } = await setup([{ name: 'many' }, { name: 'other' }]);
      const tasks = await orrery.createTasks(Array.from({ length: 1005 }, (_, i) => oneshot('many', i)), { at: T0 });
      const other = await orrery.createTask(oneshot('other', 1), { at: T0 });
      const dry = await orrery.bulkTasks('disable', { filter: { type: 'many' } }, { dryRun: true, at: T0 });
      expect(dry).toEqual({ action: 'disable', dryRun: true, matched: 1005, changed: 0, skipped: {}, batches: 2 });
      expect((await orrery.findTasks({ status: 'disabled' })).tasks).toEqual([]);

      const progress: BulkResult[] = [];
      const done = await orrery.bulkTasks('disable', { filter: { type: 'many' } }, { at: T0, onProgress: (p) => progress.push(p) });
      expect(done).toEqual({ action: 'disable', dryRun: false, matched: 1005, changed: 1005, skipped: {}, batches: 2 });
      expect(progress.map((p) => p.changed)).toEqual([1000, 1005]);
      expect((await orrery.getTask(tasks[7]!.id))).toMatchObject({ status: 'disabled', disabledReason: 'manual' });
      expect((await orrery.getTask(other.id))!.status).toBe('next_run_not_scheduled');
      // Disabling again: none match (already disabled ones are not selected).
      expect((await orrery.bulkTasks('disable', { filter: { type: 'many' } }, { dryRun: true, at: T0 })).matched).toBe(0);

      const due = plus(T0, HOUR);
      const respawned = await orrery.bulkTasks('respawn', { filter: { type: 'many', status: 'disabled' } }, { at: T0, nextRun: due });
      expect(respawned).toMatchObject({ matched: 1005, changed: 1005, skipped: {} });
      expect(await orrery.getTask(tasks[1004]!.id)).toMatchObject({ status: 'next_run_not_scheduled', disabledReason: null, nextRun: due });
    });

    it('a misspelt option, filter or selection key is refused naming it, and nothing changes (dryrun once deleted for real)', async () => {
      const { orrery } = await setup([{ name: 'many' }]);
      await orrery.createTasks([oneshot('many', 1), oneshot('many', 2)], { at: T0 });
      const refused = async (p: Promise<unknown>, path: string) => {
        const e = await p.then(() => null, (x: unknown) => x);
        expect(e, path).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).details.map((d) => d.path)).toEqual([path]);
      };
      await refused(orrery.bulkTasks('delete', { filter: { type: 'many' } }, { dryrun: true } as never), 'options.dryrun');
      await refused(orrery.bulkTasks('delete', { filter: { type: 'many', statuss: 'completed' } as never }), 'filter.statuss');
      await refused(orrery.bulkTasks('delete', { runs: { type: 'many', workr: 'w' } as never }), 'runs.workr');
      await refused(orrery.bulkTasks('delete', { all: true, filters: { type: 'x' } } as never), 'filters');
      expect((await orrery.findTasks({ type: 'many' })).tasks).toHaveLength(2);
      // A key left undefined is no key: options built from optional values stay accepted.
      expect(await orrery.bulkTasks('disable', { filter: { type: 'many', status: undefined } }, { dryRun: true, nextRun: undefined, at: T0 })).toMatchObject({ matched: 2, changed: 0 });
    });

    it('skips what the single action refuses: an equal task active, twice the same identity in one batch', async () => {
      const { orrery } = await setup([{ name: 'job', numRetries: 2 }]);
      const a = await orrery.createTask(oneshot('job', 'x'), { at: T0 });
      await orrery.disableTasks([a.id], { at: T0 });
      const b = await orrery.createTask(oneshot('job', 'x'), { at: T0 }); // equal to a, allowed while a is disabled
      await orrery.disableTasks([b.id], { at: T0 });
      const c = await orrery.createTask(oneshot('job', 'y'), { at: T0 });
      await orrery.disableTasks([c.id], { at: T0 });
      const d = await orrery.createTask(oneshot('job', 'y'), { at: T0 }); // equal to c, active
      const out = await orrery.bulkTasks('respawn', { ids: [a.id, b.id, c.id, d.id, 999_999] }, { at: T0 });
      // d is active and waiting: respawn moves its next run (as `task respawn` does); a goes first, b is its duplicate.
      expect(out).toMatchObject({ matched: 4, changed: 2, skipped: { equal_active: 2 } });
      expect((await orrery.getTask(a.id))!.status).toBe('next_run_not_scheduled');
      expect((await orrery.getTask(b.id))!.status).toBe('disabled');
      expect((await orrery.getTask(c.id))!.status).toBe('disabled');
      expect((await orrery.getTask(d.id))!.retriesLeft).toBe(2);
    });

    it('cancel ends waiting runs and asks started ones to stop; delete removes tasks with their runs', async () => {
      const { orrery } = await setup([{ name: 'w', numRetries: 0 }]);
      const ts = await orrery.createTasks([1, 2, 3, 4].map((i) => oneshot('w', i)), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const [started] = await claimStarted(orrery, { worker: 'w1', types: ['w'], limit: 1, at: T0 });
      await orrery.appendRunLogs(started!.run.backendId, [{ at: T0, level: 'info', message: 'working', attributes: {} }]); // deleted with its run
      const cancelled = await orrery.bulkTasks('cancel', { filter: { type: 'w' } }, { at: T0 });
      expect(cancelled).toMatchObject({ matched: 4, changed: 4, skipped: {} });
      const runs = (await orrery.searchRuns({ type: 'w' })).runs;
      expect(runs.filter((r) => r.status === 'lost' && r.error === 'cancelled')).toHaveLength(3);
      expect(runs.find((r) => r.backendId === started!.run.backendId)).toMatchObject({ status: 'started', cancelRequested: true });
      // One-shot tasks whose waiting run was cancelled are disabled (manual), as after `run cancel`.
      expect((await orrery.findTasks({ type: 'w', disabledReason: 'manual' })).tasks).toHaveLength(3);

      // Its worker stops it: it ends failed, and the cancellation rule applies (disabled, manual).
      await orrery.endRun(started!.run.backendId, { status: 'failed', worker: 'w1', at: T0, error: 'aborted' });
      expect((await orrery.getTask(started!.run.task))!.disabledReason).toBe('manual');

      // The newest task and the newest run belong to another task.
      const last = await orrery.createTask(oneshot('w', 9), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const deleted = await orrery.bulkTasks('delete', { filter: { type: 'w', status: 'disabled' } }, { at: plus(T0, HOUR) });
      expect(deleted).toMatchObject({ matched: 4, changed: 4, skipped: {} });
      expect(await orrery.getTask(ts[0]!.id)).toBeNull();
      expect(await orrery.getRun(started!.run.backendId)).toBeNull();
      // A task with a run waiting is not selected; once disabled it goes, the newest task and run too
      // (before: SQLite skipped them as newest_row), and their ids are not handed out again.
      expect((await orrery.bulkTasks('delete', { ids: [last.id] }, { dryRun: true })).matched).toBe(0);
      await orrery.disableTasks([last.id], { at: T0 });
      const newest = await orrery.bulkTasks('delete', { ids: [last.id] }, {});
      expect(newest).toMatchObject({ matched: 1, changed: 1, skipped: {} });
      expect((await orrery.createTask(oneshot('w', 10), { at: T0 })).id).toBeGreaterThan(last.id);
    });

    it('retries the tasks of failed runs (runs selection); redrive takes the dead-letter bin', async () => {
      const { orrery } = await setup([{ name: 'f', numRetries: 0 }]);
      const ts = await orrery.createTasks([1, 2, 3].map((i) => oneshot('f', i)), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const claimed = await claimStarted(orrery, { worker: 'w1', types: ['f'], limit: 3, at: T0 });
      for (const c of claimed.slice(0, 2)) await orrery.endRun(c.run.backendId, { status: 'failed', worker: 'w1', at: T0, error: 'boom' });
      await orrery.endRun(claimed[2]!.run.backendId, { status: 'eventful', worker: 'w1', at: T0 });
      const dry = await orrery.bulkTasks('respawn', { runs: { status: 'failed', type: 'f' } }, { dryRun: true, at: T0 });
      expect(dry).toMatchObject({ matched: 2, changed: 0 });
      expect((await orrery.bulkTasks('redrive', { filter: { type: 'f' } }, { dryRun: true, at: T0 })).matched).toBe(2);
      const out = await orrery.bulkTasks('redrive', { filter: { disabledReason: 'retries_exhausted' } }, { at: T0 });
      expect(out).toMatchObject({ matched: 2, changed: 2 });
      expect((await orrery.findTasks({ type: 'f', status: 'next_run_not_scheduled' })).tasks.map((t) => t.id).sort()).toEqual(
        claimed.slice(0, 2).map((c) => c.run.task).sort(),
      );
      expect((await orrery.getTask(ts.find((t) => t.id === claimed[2]!.run.task)!.id))!.status).toBe('completed');
    });

    it('every run a disable or a replacement ends has its run event, as a cancel\'s does (events, /api/events, /metrics)', async () => {
      const { orrery } = await setup([{ name: 'v', defaultIntervalMs: '1h' }]);
      const seen: string[] = [];
      orrery.events.on('run', (e) => seen.push(`${e.event} ${e.run.task} ${e.run.status} ${e.run.error}`));
      const [a, b, c, d] = await orrery.createTasks(
        ['a', 'b', 'c', 'd'].map((x) => ({ type: 'v', arguments: { args: [x], kwargs: {} }, ...(x === 'b' ? { key: 'kb' } : {}) })),
        { at: T0 },
      );
      await orrery.scheduleDue({ at: T0 });
      seen.length = 0;
      await orrery.disableTasks([a!.id], { at: T0 });
      await orrery.createTask({ type: 'v', key: 'kb', onConflict: 'replace', arguments: { args: ['b2'], kwargs: {} } }, { at: T0 });
      await orrery.bulkTasks('disable', { ids: [c!.id] }, { at: T0 });
      await orrery.bulkTasks('cancel', { ids: [d!.id] }, { at: T0 });
      expect(seen).toEqual([
        `ended ${a!.id} lost cancelled: task disabled`,
        `ended ${b!.id} lost cancelled: replaced`,
        `ended ${c!.id} lost cancelled: task disabled`,
        `ended ${d!.id} lost cancelled`,
      ]);
    });

    it('bulk respawn leaves a task as `task respawn` does: a retry\'s occurrence (scheduledFor) gives way to the new next run', async () => {
      const { orrery } = await setup([{ name: 'r', defaultIntervalMs: '1h', numRetries: 3, retryDelayMs: '10m' }]);
      const [a, b] = await orrery.createTasks([1, 2].map((i) => ({ type: 'r', arguments: { args: [i], kwargs: {} } })), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      for (const c of await claimStarted(orrery, { worker: 'w1', types: ['r'], limit: 2, at: T0 })) {
        await orrery.endRun(c.run.backendId, { status: 'failed', worker: 'w1', at: plus(T0, 1000), error: 'boom' });
      }
      // Each waits on its retry, serving the failed run's occurrence.
      expect((await orrery.getTask(a!.id))!.scheduledFor).toEqual(T0);
      await orrery.disableTasks([a!.id, b!.id], { at: plus(T0, 2000) });
      const due = plus(T0, 5000);
      const [single] = await orrery.respawnTasks([a!.id], { at: plus(T0, 3000), nextRun: due });
      await orrery.bulkTasks('respawn', { ids: [b!.id] }, { at: plus(T0, 3000), nextRun: due });
      const bulk = (await orrery.getTask(b!.id))!;
      expect(single).toMatchObject({ nextRun: due, scheduledFor: due, retriesLeft: 3, nextAttempt: 1 });
      expect(bulk).toMatchObject({ nextRun: due, scheduledFor: due, retriesLeft: 3, nextAttempt: 1 });
    });

    it('refuses a missing, empty or double selection and a bad action, writing nothing', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      await orrery.createTask(oneshot('a', 1), { at: T0 });
      const bad: Array<[string, Record<string, unknown>, Record<string, unknown>, RegExp]> = [
        ['explode', { all: true }, {}, /action: "explode" is not a bulk action/],
        ['disable', {}, {}, /filter: choose the tasks/],
        ['disable', { filter: {} }, {}, /filter: is empty/],
        ['disable', { filter: { type: 'a' }, ids: [1] }, {}, /ids: choose the tasks one way only/],
        ['disable', { filter: { status: 'nope' } }, {}, /filter.status: "nope" is not a task status/],
        ['disable', { filter: { limit: 5 } }, {}, /filter.limit: not a filter/],
        ['disable', { ids: [0] }, {}, /ids\[0\]/],
        ['respawn', { runs: { status: 'done' } }, {}, /runs.status/],
        ['disable', { all: true }, { nextRun: T0 }, /nextRun: only applies to respawn and redrive/],
      ];
      for (const [action, sel, opts, message] of bad) {
        await expect(orrery.bulkTasks(action as never, sel as never, opts)).rejects.toThrow(ValidationError);
        await expect(orrery.bulkTasks(action as never, sel as never, opts)).rejects.toThrow(message);
      }
      expect((await orrery.findTasks({ status: 'disabled' })).tasks).toEqual([]);
    });
  });
}
