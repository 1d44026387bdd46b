import { afterEach } from 'vitest';
import { ManualClock } from '../../src/engine/clock.js';
import { Orrery } from '../../src/engine/service.js';
import type { TaskTypeInput } from '../../src/core/validation.js';
import type { StoreUnderTest } from './describe-store.js';

export const T0 = new Date('2026-01-01T00:00:00.000Z');
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const at = (iso: string) => new Date(iso);
export const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);

export const LOAD_GIT: TaskTypeInput = {
  name: 'load-git',
  defaultIntervalMs: '1d',
  minIntervalMs: '12h',
  maxIntervalMs: '64d',
  backoffFactor: 2,
  numRetries: 2,
  retryDelayMs: '1h',
  leaseMs: '30s',
  maxAbandons: 3,
};

/** Opens a fresh store with an Orrery service on a manual clock; closed after the test. */
export function useOrrery(sut: StoreUnderTest) {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });
  return async (types: TaskTypeInput[] = [LOAD_GIT]) => {
    const opened = await sut.open();
    const clock = new ManualClock(T0);
    const orrery = new Orrery(opened.store, clock);
    cleanups.push(async () => {
      await orrery.close();
      await opened.cleanup();
    });
    for (const t of types) await orrery.createTaskType(t, { at: T0 });
    const another = async () => {
      const s = await opened.openAnother();
      const o = new Orrery(s, clock);
      cleanups.push(() => o.close());
      return o;
    };
    return { orrery, clock, another };
  };
}

/** Creates a task, schedules it and claims its run as `worker`. */
export async function claimOne(orrery: Orrery, taskId: number, when: Date, worker = 'w1') {
  const runs = await orrery.scheduleDue({ at: when });
  const run = runs.find((r) => r.task === taskId);
  if (!run) throw new Error(`task ${taskId} was not scheduled at ${when.toISOString()}`);
  const claimed = await orrery.claimRuns({ worker, types: [run.type], limit: 100, at: when });
  const mine = claimed.find((c) => c.run.task === taskId);
  if (!mine) throw new Error(`run of task ${taskId} was not claimed`);
  return mine.run;
}
