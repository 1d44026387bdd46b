import type { DagTaskAlert } from '../core/dag-progress.js';
import type { TaskAlert } from '../core/task-alert.js';

/** Where an alert comes from: a task's run end (docs/guide.md#alerts) or a DAG task's failure (docs/dags.md#alerts). */
export type AlertSource = 'task' | 'dag';
export const ALERT_SOURCES: readonly AlertSource[] = ['task', 'dag'];

/** An alert to store, with what its notifier receives. */
export type NewAlert = { source: 'task'; alert: TaskAlert; recorded: Date } | { source: 'dag'; alert: DagTaskAlert; recorded: Date };

/** An alert as stored: written with what it reports, deleted once delivered. */
export type StoredAlert = NewAlert & {
  /** The alert's row (internal: a receiver tells alerts apart by their fields). */
  id: number;
  /** Deliveries begun, this one included. */
  tries: number;
  /** When the first delivery began (null until a sender takes it; a take sets it). */
  firstTry: Date | null;
  /** Why the last delivery failed, or null. */
  lastError: string | null;
  /** When a sender may take it (next): the end of a take's hold, or its next try after a failure. */
  nextTry: Date;
};

/** What a take holds: the alerts, and the token that settles them (a take whose lease ran out settles nothing). */
export interface TakenAlerts {
  token: string;
  alerts: StoredAlert[];
}

export interface AlertSettlement {
  token: string;
  /** Delivered (or not wanted by the sender): deleted. */
  done: readonly number[];
  /** Failed: tried again at `retryAt`. */
  retry: ReadonlyArray<{ id: number; retryAt: Date; error: string }>;
}

/** The alerts waiting in the store, of every source. */
export interface WaitingAlerts {
  /** Alerts stored and not yet delivered. */
  waiting: number;
  /** How many of them failed to be delivered at least once. */
  failing: number;
  /** The instant the oldest of them is about (its run's end, its DAG step), or null. */
  oldest: Date | null;
}

/**
 * The alerts' outbox: a run's end that calls for a task alert (core storedAlertOf) and a DAG step
 * that records a DAG task's failure write it in their own transaction; a process with a notifier for
 * its source takes them, oldest due first, holds them for ALERT_LEASE_MS, and settles them.
 */
export interface AlertStore {
  /**
   * Takes up to `limit` alerts of `sources` whose next try is due at `at`: each gets `tries + 1`,
   * its first try (if it had none) at `at`, and is held until `at + leaseMs` under a new token.
   */
  takeAlerts(req: { sources: readonly AlertSource[]; at: Date; limit: number; leaseMs: number }): Promise<TakenAlerts>;
  /** Deletes the done alerts and schedules the retries, of those the token still holds; answers how many it settled. */
  settleAlerts(s: AlertSettlement): Promise<number>;
  /** The earliest next try of a waiting alert of `sources`, or null when none waits. */
  nextAlertAt(sources: readonly AlertSource[]): Promise<Date | null>;
  waitingAlerts(): Promise<WaitingAlerts>;
  /** The waiting alerts, of every source, those a sender takes first first (by next try, then id), at most `limit`. */
  listAlerts(limit: number): Promise<StoredAlert[]>;
  /** Deletes the alerts about instants before `before` (archiving); answers how many. */
  deleteAlertsBefore(before: Date): Promise<number>;
}
