import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One PostgreSQL server (embedded, or ORRERY_TEST_PG_URL) and one migrated template per run.
    globalSetup: ['test/support/postgres-global-setup.ts'],
  },
});
