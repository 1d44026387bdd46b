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
  const claimed = await claimStarted(orrery, { worker, types: [run.type], limit: 100, at: when });
  const mine = claimed.find((c) => c.run.task === taskId);
  if (!mine) throw new Error(`run of task ${taskId} was not claimed`);
  return mine.run;
}

/**
 * Claims like a worker and begins every claimed run's handler at once: the runs are marked started
 * the way a worker's heartbeat marks them (claimed -> started, `started` = the claim's instant).
 */
export async function claimStarted(orrery: Orrery, opts: Parameters<Orrery['claimRuns']>[0]) {
  const claimed = await orrery.claimRuns(opts);
  const at = opts.at ?? orrery.now();
  if (claimed.length > 0) {
    const answer = await orrery.heartbeatRuns({ worker: opts.worker, runs: claimed.map((c) => ({ backendId: c.run.backendId, startedAt: at })), at });
    if (answer.lost.length > 0) throw new Error(`claimed runs not held: ${answer.lost.join(', ')}`);
  }
  return claimed.map((c) => ({ ...c, run: { ...c.run, status: 'started' as const, started: at } }));
}
