import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongestFirst from './test/support/sequencer.js';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // At least two files at once: most tests wait on processes, servers and timers, not on the CPU,
    // so even a 2-core machine (where the default would be one) runs the suite in half the time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // One PostgreSQL server (embedded, or ORRERY_TEST_PG_URL) and one migrated template per run.
    globalSetup: ['test/support/postgres-global-setup.ts'],
    // The files that take longest start first (test/support/sequencer.ts).
    sequence: { sequencer: LongestFirst },
  },
});
