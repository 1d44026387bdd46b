import type { TaskAlert } from '../core/task-alert.js';

/** A task alert as stored (docs/guide.md#alerts): written with the run's end, deleted once delivered. */
export interface StoredTaskAlert extends TaskAlert {
  /** The alert's row (internal: the run's `backendId` is what identifies it to a receiver). */
  id: number;
  /** Deliveries begun, this one included. */
  tries: number;
  /** When the first delivery began. */
  firstTry: Date;
  /** Why the last delivery failed, or null. */
  lastError: string | null;
}

/** What a take holds: the alerts, and the token that settles them (a take whose lease ran out settles nothing). */
export interface TakenTaskAlerts {
  token: string;
  alerts: StoredTaskAlert[];
}

export interface AlertSettlement {
  token: string;
  /** Delivered (or not wanted by the sender): deleted. */
  done: readonly number[];
  /** Failed: tried again at `retryAt`. */
  retry: ReadonlyArray<{ id: number; retryAt: Date; error: string }>;
}

/** The alerts waiting in the store (docs/guide.md#alerts). */
export interface WaitingTaskAlerts {
  /** Alerts stored and not yet delivered. */
  waiting: number;
  /** The end instant of the oldest waiting alert, or null. */
  oldestEnded: Date | null;
  /** How many have failed to be delivered at least once. */
  failing: number;
}

/**
 * The task alerts' outbox: the end of a run that calls for an alert (core storedAlertOf) writes it in
 * the same transaction; any process with a task notifier takes them in end order, holds them for
 * ALERT_LEASE_MS, and settles them.
 */
export interface AlertStore {
  /**
   * Takes up to `limit` alerts whose next try is due at `at`, oldest first: each gets `tries + 1`,
   * its first try (if it had none) at `at`, and is held until `at + leaseMs` under a new token.
   */
  takeTaskAlerts(req: { at: Date; limit: number; leaseMs: number }): Promise<TakenTaskAlerts>;
  /** Deletes the done alerts and schedules the retries, of those the token still holds; answers how many it settled. */
  settleTaskAlerts(s: AlertSettlement): Promise<number>;
  /** The earliest next try of a waiting alert, or null when none waits. */
  nextTaskAlertAt(): Promise<Date | null>;
  waitingTaskAlerts(): Promise<WaitingTaskAlerts>;
  /** Deletes the alerts of runs that ended before `before` (archiving); answers how many. */
  deleteTaskAlertsBefore(before: Date): Promise<number>;
}
