import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import type { StoreUnderTest } from './describe-store.js';
import { T0, plus, useOrrery } from './fixtures.js';

const oneshot = (type: string, i: number) => ({ type, policy: 'oneshot' as const, arguments: { args: [i], kwargs: {} } });

/** Issue 18: runs across tasks, filtered, newest first, in keyset pages (docs/operations.md#runs-across-tasks). */
export function runSearchCases(sut: StoreUnderTest): void {
  const setup = useOrrery(sut);

  describe('runs across tasks', () => {
    it('filters by status, type and worker; final statuses page by ended, newest first, with a cursor', async () => {
      const { orrery } = await setup([{ name: 'a' }, { name: 'b' }]);
      await orrery.createTasks([1, 2, 3, 4, 5].map((i) => oneshot('a', i)).concat([oneshot('b', 6)]), { at: T0 });
      await orrery.scheduleDue({ at: T0 });
      const claimed = (await orrery.claim({ worker: 'w1', types: ['a', 'b'], limit: 10, at: T0 })).runs;
      expect(claimed).toHaveLength(6);
      // End them one second apart, in reverse claim order, with alternating outcomes.
      const ends = [...claimed].reverse();
      for (const [i, c] of ends.entries()) {
        await orrery.endRun(c.run.backendId, { status: i % 2 === 0 ? 'failed' : 'eventful', worker: 'w1', at: plus(T0, (i + 1) * 1000), ...(i % 2 === 0 ? { error: 'boom' } : {}) });
      }
      const failed = await orrery.searchRuns({ status: ['failed'] });
      expect(failed.runs.map((r) => r.backendId)).toEqual(ends.filter((_, i) => i % 2 === 0).map((c) => c.run.backendId).reverse());
      expect(failed.nextCursor).toBeNull();

      // Pages of two, by ended descending, continued with the cursor.
      const first = await orrery.searchRuns({ status: 'failed,eventful', limit: 2 });
      expect(first.runs.map((r) => r.ended!.getTime())).toEqual([plus(T0, 6000).getTime(), plus(T0, 5000).getTime()]);
      const second = await orrery.searchRuns({ status: 'failed,eventful', limit: 2, cursor: first.nextCursor! });
      expect(second.runs.map((r) => r.ended!.getTime())).toEqual([plus(T0, 4000).getTime(), plus(T0, 3000).getTime()]);
      const third = await orrery.searchRuns({ status: 'failed,eventful', limit: 2, cursor: second.nextCursor! });
      expect(third.runs).toHaveLength(2);
      expect((await orrery.searchRuns({ status: 'failed,eventful', limit: 2, cursor: third.nextCursor! })).runs).toEqual([]);

      // Time window on ended, type and worker filters.
      const window = await orrery.searchRuns({ status: ['failed', 'eventful'], since: plus(T0, 2000), until: plus(T0, 4000) });
      expect(window.runs.map((r) => r.ended!.getTime())).toEqual([plus(T0, 3000).getTime(), plus(T0, 2000).getTime()]);
      const bRuns = await orrery.searchRuns({ type: 'b' });
      expect(bRuns.runs.map((r) => r.type)).toEqual(['b']);
      expect((await orrery.searchRuns({ worker: 'nobody' })).runs).toEqual([]);
      expect((await orrery.searchRuns({ worker: 'w1' })).runs).toHaveLength(6);
    });

    it('active statuses and no status list newest created first', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      await orrery.createTasks([1, 2, 3].map((i) => oneshot('a', i)), { at: T0 });
      const queued = await orrery.scheduleDue({ at: T0 });
      await orrery.claim({ worker: 'w1', types: ['a'], limit: 1, startNow: 1, at: T0 });
      const scheduled = await orrery.searchRuns({ status: ['scheduled'] });
      expect(scheduled.runs.map((r) => r.status)).toEqual(['scheduled', 'scheduled']);
      expect(scheduled.runs[0]!.id).toBeGreaterThan(scheduled.runs[1]!.id);
      expect((await orrery.searchRuns({ status: 'started' })).runs).toHaveLength(1);
      const all = await orrery.searchRuns({ limit: 2 });
      expect(all.runs.map((r) => r.id)).toEqual(queued.map((r) => r.id).sort((x, y) => y - x).slice(0, 2));
      const rest = await orrery.searchRuns({ limit: 2, cursor: all.nextCursor! });
      expect(rest.runs.map((r) => r.id)).toEqual([Math.min(...queued.map((r) => r.id))]);
      expect(rest.nextCursor).toBeNull();
    });

    it('pages runs that ended before 1970 by their end (a cursor with a negative instant)', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      const at = new Date('1960-01-01T00:00:00Z');
      await orrery.createTasks([1, 2, 3].map((i) => oneshot('a', i)), { at });
      await orrery.scheduleDue({ at });
      const claimed = (await orrery.claim({ worker: 'w1', types: ['a'], limit: 3, at })).runs;
      for (const [i, c] of claimed.entries()) await orrery.endRun(c.run.backendId, { status: 'eventful', worker: 'w1', at: plus(at, (i + 1) * 1000) });
      const first = await orrery.searchRuns({ status: 'eventful', limit: 2 });
      expect(first.runs.map((r) => r.ended!.getTime())).toEqual([plus(at, 3000).getTime(), plus(at, 2000).getTime()]);
      const second = await orrery.searchRuns({ status: 'eventful', limit: 2, cursor: first.nextCursor! });
      expect(second.runs.map((r) => r.ended!.getTime())).toEqual([plus(at, 1000).getTime()]);
    });

    it('refuses bad filters naming the field', async () => {
      const { orrery } = await setup([{ name: 'a' }]);
      const bad: Array<[Record<string, unknown>, RegExp]> = [
        [{ status: 'done' }, /status: "done" is not a run status/],
        [{ limit: 0 }, /limit: must be an integer from 1 to 1000/],
        [{ limit: 1001 }, /limit/],
        [{ since: 'yesterday-ish' }, /since/],
        [{ since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' }, /until: must be after since/],
        [{ cursor: 'nope' }, /cursor: is not a cursor of this listing/],
        [{ status: 'failed', cursor: Buffer.from(JSON.stringify({ id: 3 })).toString('base64url') }, /cursor/],
        // An end instant no Date holds (PostgreSQL failed with its driver's error: differential audit).
        [{ status: 'failed', cursor: Buffer.from(JSON.stringify({ ended: 9e15, id: 1 })).toString('base64url') }, /cursor: is not a cursor of this listing/],
        [{ status: 'failed', cursor: Buffer.from(JSON.stringify({ ended: -9e15, id: 1 })).toString('base64url') }, /cursor: is not a cursor of this listing/],
      ];
      for (const [input, message] of bad) {
        await expect(orrery.searchRuns(input as never)).rejects.toThrow(ValidationError);
        await expect(orrery.searchRuns(input as never)).rejects.toThrow(message);
      }
    });
  });
}
