import { ALERT_LEASE_MS, alertRetryAt, describeAlert as describe, mayAlert } from '../core/task-alert.js';
import type { StoredTaskAlert } from '../store/alert-store.js';
import type { Timer } from './clock.js';
import type { Logger } from './logger.js';
import { PeriodicLoop } from './periodic-loop.js';
import type { Orrery } from './service.js';
import type { RunEvent } from './service-types.js';
import type { TaskNotifier } from './task-notifier.js';

/** How long stopping waits for alerts being sent (a notifier that hangs does not hold a shutdown up). */
export const ALERTS_STOP_WAIT_MS = 10_000;
/** Alerts sent at once by one process; the others wait their turn in the store. */
export const ALERTS_IN_FLIGHT = 8;
/** How often a sender looks for alerts stored by other processes (its own ends wake it at once). */
export const ALERTS_POLL_MS = 1000;

/**
 * Delivers the task alerts stored with the run ends (docs/guide.md#alerts), whichever process
 * recorded them: it takes up to ALERTS_IN_FLIGHT at a time, oldest first, holding each for
 * ALERT_LEASE_MS; a delivered alert is deleted, a failed one tried again later (core alertRetryAt),
 * and one that failed for 24 hours is given up and logged. Ends recorded in this process wake it at
 * once; those of other processes are found within ALERTS_POLL_MS.
 */
export class TaskAlertSender extends PeriodicLoop {
  private readonly sending = new Set<Promise<void>>();
  private readonly onRun = (e: RunEvent): void => {
    if (e.event === 'ended' && mayAlert(e.run.status)) this.wake();
  };

  constructor(
    orrery: Orrery,
    private readonly notifier: TaskNotifier,
    logger: Logger,
  ) {
    super(orrery, 'task alerts', { maxSleepMs: ALERTS_POLL_MS, logger });
  }

  protected override onStart(): void {
    this.orrery.events.on('run', this.onRun);
  }

  protected override onStop(): void {
    this.orrery.events.off('run', this.onRun);
  }

  protected async pass(): Promise<number> {
    const room = ALERTS_IN_FLIGHT - this.sending.size;
    if (room <= 0) return this.maxSleepMs; // a delivery that settles wakes the loop
    const alerts = this.orrery.store.alerts;
    // A read first: a pass with nothing due writes nothing.
    const next = await alerts.nextTaskAlertAt();
    const now = this.orrery.clock.now();
    if (next === null) return this.maxSleepMs;
    if (next.getTime() > now.getTime()) return Math.max(1, Math.min(next.getTime() - now.getTime(), this.maxSleepMs));
    const taken = await alerts.takeTaskAlerts({ at: now, limit: room, leaseMs: ALERT_LEASE_MS });
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
    const waited = new Promise<void>((r) => (timer = this.orrery.clock.setTimer(ALERTS_STOP_WAIT_MS, r, { unref: true })));
    await Promise.race([Promise.allSettled([...this.sending]), waited]);
    timer?.cancel();
    if (this.sending.size > 0) {
      this.log.warn(`stopped with ${this.sending.size} task alert(s) still being sent: they stay stored, and a process with a task notifier sends them again ${ALERT_LEASE_MS / 1000} s after they were taken`);
    }
  }

  private async deliver(token: string, stored: StoredTaskAlert): Promise<void> {
    const { id, tries, firstTry, lastError: _lastError, ...alert } = stored;
    let error: string | null = null;
    try {
      // A retry alert that this sender's notifier does not want is settled unsent.
      await (alert.kind === 'failed' ? this.notifier.onFailure(alert) : this.notifier.onRetry?.(alert));
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    const at = this.orrery.clock.now();
    const retryAt = error === null ? null : alertRetryAt(tries, firstTry, at);
    if (error !== null) {
      const fields = { task: alert.taskId, backendId: alert.backendId, tries };
      if (retryAt) this.log.warn(fields, `task alert for ${describe(alert)} failed (try ${tries}; next at ${retryAt.toISOString()}): ${error}`);
      else this.log.error(fields, `task alert for ${describe(alert)} given up after ${tries} tries since ${firstTry.toISOString()}: ${error}`);
    }
    try {
      await this.orrery.store.alerts.settleTaskAlerts({ token, done: retryAt ? [] : [id], retry: retryAt ? [{ id, retryAt, error: error! }] : [] });
    } catch (e) {
      // Left held: taken again once its lease ends (it may then be sent twice).
      this.log.warn({ err: e, task: alert.taskId }, `task alert for ${describe(alert)}: could not record its delivery: ${(e as Error).message}`);
    }
  }
}
