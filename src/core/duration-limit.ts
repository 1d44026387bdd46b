/** Longest duration Orrery accepts: 100 years, so every instant computed from one stays a valid date. */
export const MAX_DURATION_MS = 100 * 365 * 86_400_000;

/**
 * What is wrong with a duration given as a number of milliseconds (a run end's `retryAfterMs`, a
 * `RetryAfter` delay), or undefined when it is a non-negative integer of at most 100 years.
 * The library, the CLI and the HTTP schemas share it, so they refuse the same values with the same message.
 * A whole number too large to be exact (`1e20`, past 2^53) is past 100 years too, and is told so.
 */
export function durationMsProblem(ms: unknown): string | undefined {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0) return 'must be a non-negative integer number of milliseconds';
  if (ms > MAX_DURATION_MS) return 'must be at most 100 years';
  return undefined;
}
