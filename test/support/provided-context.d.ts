// Values the PostgreSQL globalSetup (test/support/postgres-global-setup.ts) hands to test files via inject().
declare module 'vitest' {
  export interface ProvidedContext {
    /** Maintenance URL of the test server (database `postgres` or the one in ORRERY_TEST_PG_URL); the user may CREATE DATABASE. */
    pgUrl: string;
    /** Name of the migrated template database that createTestDatabase() copies. */
    pgTemplate: string;
    /** Prefix of every database this run creates (unique per run, so runs sharing a server never collide). */
    pgPrefix: string;
    /** Why the template could not be prepared, or '' if it is ready; createTestDatabase() throws it. */
    pgTemplateError: string;
  }
}

export {};
