/**
 * The delivery rules of stored alerts, task and DAG alike (docs/guide.md#alerts, docs/dags.md#alerts):
 * how long a take holds them, and when a failed delivery is tried again or given up.
 */

/** How long a sender holds the alerts it took before another sender may take them again. */
export const ALERT_LEASE_MS = 60_000;
/** A failed delivery is tried again after 10 s, then twice as long each time, at most this long apart. */
export const ALERT_MAX_BACKOFF_MS = 30 * 60_000;
/** How long after its first try an alert that could not be delivered is given up (and logged). */
export const ALERT_GIVE_UP_MS = 24 * 60 * 60_000;

/**
 * When to try an alert again after its `tries`-th delivery failed at `at` (the first try was at
 * `firstTry`): 10 s, 20 s, 40 s ... at most ALERT_MAX_BACKOFF_MS apart, the last try at
 * ALERT_GIVE_UP_MS after the first (a receiver back within the 24 hours gets the alert); null once a
 * try at or past that instant failed.
 */
export function alertRetryAt(tries: number, firstTry: Date, at: Date): Date | null {
  const last = firstTry.getTime() + ALERT_GIVE_UP_MS;
  if (at.getTime() >= last) return null;
  const delay = Math.min(10_000 * 2 ** Math.max(0, Math.min(tries - 1, 20)), ALERT_MAX_BACKOFF_MS);
  return new Date(Math.min(at.getTime() + delay, last));
}
