import { ALERT_LEASE_MS, alertRetryAt } from '../core/alert-retry.js';
import { describeAlert, mayAlert } from '../core/task-alert.js';
import type { AlertSource, NewAlert, StoredAlert } from '../store/alert-store.js';
import type { Timer } from './clock.js';
import { describeDagAlert, type DagNotifier, type Delivering } from './dag-notifier.js';
import type { Logger } from './logger.js';
import { PeriodicLoop } from './periodic-loop.js';
import type { Orrery } from './service.js';
import type { RunEvent } from './service-types.js';
import type { TaskNotifier } from './task-notifier.js';

/** How long stopping waits for alerts being sent (a notifier that hangs does not hold a shutdown up). */
export const ALERTS_STOP_WAIT_MS = 10_000;
/** Alerts of one source sent at once by one process; the others wait their turn in the store. */
export const ALERTS_IN_FLIGHT = 8;
/** How often a sender looks for alerts stored by other processes (this process's own wake it at once). */
export const ALERTS_POLL_MS = 1000;

/**
 * A delivery that has not settled by then counts as failed (and is tried again later), so that it ends
 * before its take's hold does: this process never takes an alert it is still sending.
 */
export const ALERT_DELIVERY_LIMIT_MS = ALERT_LEASE_MS - 10_000;

/** How a sender hands its source's alerts to a notifier: throws or rejects when the delivery failed. */
interface Delivery {
  source: AlertSource;
  deliver(a: StoredAlert, d: Delivering): void | Promise<void>;
}

type Notifier<A> = { onFailure(a: A, d?: Delivering): void | Promise<void>; onRetry?(a: A, d?: Delivering): void | Promise<void> };

/** The alerts of `source` to its notifier (TaskNotifier, DagNotifier): a retry alert it has no `onRetry` for is settled unsent. */
export function delivery(source: 'task', n: TaskNotifier): Delivery;
export function delivery(source: 'dag', n: DagNotifier): Delivery;
export function delivery(source: AlertSource, n: Notifier<never>): Delivery {
  const to = n as Notifier<StoredAlert['alert']>;
  return { source, deliver: (a, d) => (a.source !== source ? undefined : a.alert.kind === 'failed' ? to.onFailure(a.alert, d) : to.onRetry?.(a.alert, d)) };
}

/**
 * Delivers the alerts of one source stored with what they report (docs/guide.md#alerts,
 * docs/dags.md#alerts), whichever process recorded them: it takes up to ALERTS_IN_FLIGHT at a time,
 * those due the longest first, holding each for ALERT_LEASE_MS; a delivered alert is deleted, a
 * failed one tried again later (core alertRetryAt), and one that failed for 24 hours is given up and
 * logged. This process's own ends and DAG steps wake it at once; other processes' alerts are found
 * within ALERTS_POLL_MS.
 */
export class AlertSender extends PeriodicLoop {
  private readonly sending = new Set<Promise<void>>();
  private readonly onRun = (e: RunEvent): void => {
    if (this.delivery.source === 'task' && e.event === 'ended' && mayAlert(e.run.status)) this.wake();
  };
  private readonly onAlerts = (source: AlertSource): void => {
    if (source === this.delivery.source) this.wake();
  };

  constructor(
    orrery: Orrery,
    private readonly delivery: Delivery,
    logger: Logger,
  ) {
    super(orrery, `${delivery.source} alerts`, { maxSleepMs: ALERTS_POLL_MS, logger });
  }

  protected override onStart(): void {
    this.orrery.events.on('run', this.onRun);
    this.orrery.events.on('alerts', this.onAlerts);
  }

  protected override onStop(): void {
    this.orrery.events.off('run', this.onRun);
    this.orrery.events.off('alerts', this.onAlerts);
  }

  protected async pass(): Promise<number> {
    const room = ALERTS_IN_FLIGHT - this.sending.size;
    if (room <= 0) return this.maxSleepMs; // a delivery that settles wakes the loop
    const alerts = this.orrery.store.alerts;
    const sources = [this.delivery.source];
    // A read first: a pass with nothing due writes nothing.
    const next = await alerts.nextAlertAt(sources);
    const now = this.orrery.clock.now();
    if (next === null) return this.maxSleepMs;
    if (next.getTime() > now.getTime()) return Math.max(1, Math.min(next.getTime() - now.getTime(), this.maxSleepMs));
    const taken = await alerts.takeAlerts({ sources, at: now, limit: room, leaseMs: ALERT_LEASE_MS });
    for (const a of taken.alerts) {
      const p: Promise<void> = this.deliver(taken.token, a).finally(() => {
        this.sending.delete(p);
        this.wake();
      });
      this.sending.add(p);
    }
    return taken.alerts.length === room ? this.maxSleepMs : 0;
  }

  /** Stops taking alerts, then waits up to ALERTS_STOP_WAIT_MS for those being sent. */
  override async stop(): Promise<void> {
    await super.stop();
    if (this.sending.size === 0) return;
    let timer: Timer | undefined;
    // A referenced timer: an awaited stop keeps the process alive while it waits (unreferenced, a process
    // with nothing else open, on SQLite, exited mid-stop with its await unsettled: code 13).
    const waited = new Promise<void>((r) => (timer = this.orrery.clock.setTimer(ALERTS_STOP_WAIT_MS, r)));
    await Promise.race([Promise.allSettled([...this.sending]), waited]);
    timer?.cancel();
    if (this.sending.size > 0) {
      this.log.warn(`stopped with ${this.sending.size} ${this.delivery.source} alert(s) still being sent: they stay stored, and a process with a notifier sends them again ${ALERT_LEASE_MS / 1000} s after they were taken`);
      // Their notifiers' signals abort (a webhook's request is cancelled): a delivery does not outlive the
      // stop (it held the process up to its timeout, then failed to record itself in a closed store).
      this.halted = true;
      for (const c of this.inFlight) c.abort(new Error('the process stopped'));
    }
  }

  /** Set by a stop that left deliveries in flight: those are aborted and left stored, not recorded. */
  private halted = false;
  /** The abort controllers of the deliveries in flight. */
  private readonly inFlight = new Set<AbortController>();

  private async deliver(token: string, a: StoredAlert): Promise<void> {
    let error: string | null = null;
    let timer: Timer | undefined;
    // At the limit the notifier's signal aborts (a webhook's request is cancelled) and the delivery counts as failed.
    const abort = new AbortController();
    const limit = new Promise<never>((_, reject) => {
      timer = this.orrery.clock.setTimer(ALERT_DELIVERY_LIMIT_MS, () => {
        const e = new Error(`the notifier did not answer within ${ALERT_DELIVERY_LIMIT_MS / 1000} s`);
        abort.abort(e);
        reject(e);
      }, { unref: true });
      // A stop aborts it too (stop): the delivery ends then, whatever its notifier does with the signal.
      abort.signal.addEventListener('abort', () => reject(abort.signal.reason as Error), { once: true });
    });
    this.inFlight.add(abort);
    try {
      await Promise.race([Promise.resolve().then(() => this.delivery.deliver(a, { signal: abort.signal })), limit]);
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    } finally {
      timer?.cancel();
      this.inFlight.delete(abort);
    }
    // Cut by the stop: left stored and held, sent again once its hold runs out (nothing recorded in a store closing).
    if (this.halted) return;
    const at = this.orrery.clock.now();
    // A taken alert has its first try (the take sets it).
    const firstTry = a.firstTry ?? at;
    const retryAt = error === null ? null : alertRetryAt(a.tries, firstTry, at);
    if (error !== null) {
      const what = describeStoredAlert(a);
      if (retryAt) this.log.warn({ alert: a.id, tries: a.tries }, `${what}: delivery failed (try ${a.tries}; next at ${retryAt.toISOString()}): ${error}`);
      else this.log.error({ alert: a.id, tries: a.tries }, `${what}: given up after ${a.tries} tries since ${firstTry.toISOString()}: ${error}`);
    }
    try {
      const settled = await this.orrery.store.alerts.settleAlerts({ token, done: retryAt ? [] : [a.id], retry: retryAt ? [{ id: a.id, retryAt, error: error! }] : [] });
      // Its hold ran out first (this process stalled): another take holds it now, or held and settled it.
      if (settled === 0) this.log.warn({ alert: a.id }, `${describeStoredAlert(a)}: its hold ran out before its delivery was recorded; it may be delivered again`);
    } catch (e) {
      // Left held: taken again once its lease ends (it may then be sent twice).
      this.log.warn({ err: e, alert: a.id }, `${describeStoredAlert(a)}: could not record its delivery: ${(e as Error).message}`);
    }
  }
}

/** An alert in a log line: `task alert for task 42 (send-mail) run … attempt 3 failed`, `DAG alert for DAG etl run 7 (…): task load attempt 2`. */
export function describeStoredAlert(a: NewAlert): string {
  return a.source === 'task' ? `task alert for ${describeAlert(a.alert)}` : `DAG alert for ${describeDagAlert(a.alert)}`;
}
