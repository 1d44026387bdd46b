import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import LongestFirst from './test/support/sequencer.js';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // At least two files at once: most tests wait on processes, servers and timers, not on the CPU,
    // so even a 2-core machine (where the default would be one) runs the suite in half the time.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // The files that take longest start first (test/support/sequencer.ts).
    sequence: { sequencer: LongestFirst },
    projects: [
      {
        extends: true,
        // The pure unit tests beside the code share their worker processes (a fresh process per file
        // cost more CPU than the tests themselves): they touch no global state.
        test: { name: 'unit', include: ['src/**/*.test.ts'], isolate: false },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // The files of a test worker share its process too (a fresh process per file cost ~0.7 s of
          // CPU each, a tenth of the suite): a file that changes process-wide state (process.env, the
          // working directory, listeners) puts it back, and leaves no server, timer or process behind.
          isolate: false,
          // One PostgreSQL server (embedded, or ORRERY_TEST_PG_URL) and one migrated template per run.
          globalSetup: ['test/support/postgres-global-setup.ts'],
          // Per file: what a hook at the top of a shared helper module would do for its first file only.
          setupFiles: ['test/support/each-file.ts'],
        },
      },
    ],
  },
});
