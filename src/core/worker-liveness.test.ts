import { describe, expect, it } from 'vitest';
import { WORKER_ALIVE_MS, WORKER_GONE_MS, lastSignOfLife, workerLiveness } from './worker-liveness.js';

const at = new Date('2026-01-01T00:10:00Z');
const ago = (ms: number) => new Date(at.getTime() - ms);

describe('worker liveness', () => {
  it('is alive, stale or gone by the age of the latest sign of life, bounds included on the younger side', () => {
    expect(workerLiveness(ago(0), at)).toBe('alive');
    expect(workerLiveness(ago(WORKER_ALIVE_MS), at)).toBe('alive');
    expect(workerLiveness(ago(WORKER_ALIVE_MS + 1), at)).toBe('stale');
    expect(workerLiveness(ago(WORKER_GONE_MS), at)).toBe('stale');
    expect(workerLiveness(ago(WORKER_GONE_MS + 1), at)).toBe('gone');
    expect(workerLiveness(null, at)).toBe('gone');
    // A sign of life a little ahead of the reader's clock is alive, not in the future.
    expect(workerLiveness(ago(-2000), at)).toBe('alive');
  });

  it('is stopped once the worker said so, unless it showed a sign of life after that', () => {
    expect(workerLiveness(ago(1000), at, ago(1000))).toBe('stopped');
    expect(workerLiveness(ago(WORKER_GONE_MS + 1), at, ago(WORKER_GONE_MS + 1))).toBe('stopped');
    expect(workerLiveness(null, at, ago(1000))).toBe('stopped');
    // The same id seen again after its stop (a process that reused it): liveness by age again.
    expect(workerLiveness(ago(500), at, ago(1000))).toBe('alive');
    // Judged at an instant before its stop (status --at): it was running then.
    expect(workerLiveness(ago(-60_000), at, ago(-60_000))).toBe('alive');
  });

  it('takes the latest of the signs given', () => {
    expect(lastSignOfLife(null, ago(5000), undefined, ago(1000))).toEqual(ago(1000));
    expect(lastSignOfLife(null, undefined)).toBeNull();
  });
});
