/**
 * The simulation's own short cuts (src/simulate/sim-store.ts, wake-gate.ts): claims it answers as
 * empty without the store must be empty in the store too, and the forecast must not depend on them.
 * Many worker processes on one wake-up channel, failures, retries and crashes. SQLite in memory.
 */
import { describe, expect, it } from 'vitest';
import { runSimulation, summaryJson, type ScenarioInput } from '../../src/index.js';
import { countStoreCalls } from '../../src/simulate/sim-store.js';

/** 1,000 daily adaptive tasks on 24 worker processes of 2 slots, two of them serving one type only. */
const HERD: ScenarioInput = {
  name: 'herd',
  start: '2026-05-04T00:00:00Z',
  duration: '4h',
  seed: 3,
  interval: '1h',
  taskTypes: [
    { name: 'load', defaultIntervalMs: '1h', minIntervalMs: '30m', maxIntervalMs: '4h', backoffFactor: 2, leaseMs: '1m', numRetries: 1, retryDelayMs: '2m' },
    { name: 'mail', maxQueueLength: null, leaseMs: '30s' },
  ],
  tasks: [{ type: 'load', count: 1000, policy: 'recurring', spread: '1h' }],
  arrivals: [{ type: 'mail', ratePerHour: 120 }],
  handlers: {
    load: { duration: { dist: 'lognormal', median: '10s', p99: '2m' }, eventful: 0.3, failed: 0.05, crash: 0.005 },
    mail: { duration: { dist: 'exponential', mean: '2s' }, retryAfter: 0.05, retryAfterDelay: '1m' },
  },
  workers: [
    { count: 22, concurrency: 2 },
    { count: 2, concurrency: 2, types: ['mail'] },
  ],
};

const withoutWall = (json: string) => json.replace(/"(wallMs|runsPerWallSecond)": \d+/g, '"$1": 0');

describe('simulation short cuts', () => {
  it('answer no claim as empty that the store would have answered with work, and change nothing in the forecast', { timeout: 180_000 }, async () => {
    const calls = countStoreCalls();
    const plain = await runSimulation(HERD);
    const claims = calls.get('claimRuns') ?? 0;
    // Every claim answered here is made to the store too, which fails the simulation if it finds work.
    const checked = await runSimulation(HERD, { verifyShortCuts: true });
    expect(withoutWall(summaryJson(checked.summary))).toBe(withoutWall(summaryJson(plain.summary)));
    const runs = plain.summary.runs.total;
    expect(runs).toBeGreaterThan(2500);
    expect(plain.summary.workers.crashes).toBeGreaterThan(0);
    expect(plain.summary.runs.failed).toBeGreaterThan(0);
    // 24 processes woken by every end would claim about 24 times per run; the short cuts leave a few.
    expect(claims).toBeLessThan(3 * runs);
  });
});
