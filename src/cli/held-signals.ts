import { constants } from 'node:os';

/**
 * SIGINT and SIGTERM that reach the process while the CLI's modules load are held by bin/orrery.js:
 * their default action would kill a daemon mid-start, with no word and exit 143. A daemon command
 * takes them over (it then stops before it starts, exit 0); any other command exits 128 + the
 * signal's number before it runs, as the default action would have made it.
 */
export interface HeldSignals {
  /** The signals held so far, oldest first. */
  readonly received: readonly NodeJS.Signals[];
  /** Stops holding: SIGINT and SIGTERM get their default action again (or the handlers installed since). */
  release(): void;
}

let held: HeldSignals | null = null;

export function setHeldSignals(h: HeldSignals | null): void {
  held = h;
}

/** Ends the hold (the caller now owns SIGINT and SIGTERM); the first signal held, or null. */
export function takeHeldSignals(): NodeJS.Signals | null {
  const h = held;
  held = null;
  if (h === null) return null;
  h.release();
  return h.received[0] ?? null;
}

/** The exit code of a process killed by `signal` (128 + its number). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
