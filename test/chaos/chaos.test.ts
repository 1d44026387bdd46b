import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startOwnPostgres } from '../support/own-postgres.js';
import { describeReport, runChaosRound, type ChaosOptions, type ChaosReport } from './driver.js';

// Small in `npm test`; `npm run chaos -- --oneshot 5000 --recurring 500 --rounds 3` for the real thing.
const env = (name: string, fallback: number) => Number(process.env[`ORRERY_CHAOS_${name}`] ?? fallback);
const SIZE = {
  oneshot: env('ONESHOT', 1000),
  recurring: env('RECURRING', 100),
  rounds: env('ROUNDS', 1),
  maxChaosMs: env('MAX_MS', 12_000),
};
const base = (db: string): ChaosOptions => ({
  db,
  oneshot: SIZE.oneshot,
  recurring: SIZE.recurring,
  runners: 2,
  workers: 3,
  concurrency: 10,
  killEveryMs: [200, 500],
  maxChaosMs: SIZE.maxChaosMs,
  log: (l) => console.log(`chaos: ${l}`),
});
const reports: ChaosReport[] = [];
const dirs: string[] = [];
afterAll(() => {
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  // The figures of the last run, for docs/guarantees.md.
  if (process.env.ORRERY_CHAOS_REPORT) writeFileSync(process.env.ORRERY_CHAOS_REPORT, JSON.stringify(reports, null, 2));
});

function check(r: ChaosReport): void {
  console.log(describeReport(r));
  reports.push(r);
  expect(r.violations.join('\n'), 'violations').toBe(''); // as text: a failure report names each one in full
  expect(r.kills).toBeGreaterThan(0);
  expect(r.completed + Object.values(r.disabled).reduce((a, b) => a + b, 0)).toBe(r.oneshot);
  expect(r.lostRuns + r.givenBack).toBeGreaterThan(0); // the kills did hit held work
}

describe('chaos: runners and workers SIGKILLed at random', () => {
  for (let round = 1; round <= SIZE.rounds; round++) {
    it(`SQLite (five processes on one file), round ${round}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'orrery-chaos-'));
      dirs.push(dir);
      check(await runChaosRound(base(`sqlite:${join(dir, 'chaos.db')}`)));
    }, 300_000 + SIZE.maxChaosMs);

    it(`PostgreSQL, restarted mid-round, round ${round}`, async () => {
      // Its own server, so that restarting it disturbs no other test.
      const own = await startOwnPostgres('orrery-chaos-pg-');
      try {
        const report = await runChaosRound({
          ...base(own.url),
          midRound: async () => {
            await own.server.stop();
            await new Promise((r) => setTimeout(r, 1000));
            await own.server.start();
          },
        });
        check(report);
      } finally {
        await own.remove();
      }
    }, 300_000 + SIZE.maxChaosMs);
  }
});
