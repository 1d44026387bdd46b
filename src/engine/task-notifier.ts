import { DAG_BACKEND } from '../core/dag.js';
import { invalid } from '../core/errors.js';
import { taskAlertOf, type TaskAlert } from '../core/task-alert.js';
import { jsonPoster, type WebhookOptions } from './dag-notifier.js';
import type { Timer } from './clock.js';
import type { Logger } from './logger.js';
import type { Orrery } from './service.js';
import type { RunEvent } from './service-types.js';

export type { TaskAlert } from '../core/task-alert.js';

/**
 * Alerts for tasks (docs/guide.md#alerts): called in the process that records a run's end, after
 * it is stored. `onRetry` is optional: leave it out to hear only of tasks that failed for good. A
 * notifier that throws is logged and otherwise ignored. DAG attempts are not reported here (the DAG
 * notifier reports them).
 */
export interface TaskNotifier {
  /** A task was disabled by its run's end: permfailed, retries exhausted, or dead-lettered. */
  onFailure(alert: TaskAlert): void | Promise<void>;
  /** A task's handler failed and the task runs again at `alert.nextRun` (optional). */
  onRetry?(alert: TaskAlert): void | Promise<void>;
}

/** A ValidationError naming the field unless `n` is a TaskNotifier (Daemon and startServer check it before anything starts). */
export function checkTaskNotifier(n: unknown): void {
  if (typeof n !== 'object' || n === null || typeof (n as TaskNotifier).onFailure !== 'function') throw invalid('taskNotifier', 'must be an object with an onFailure(alert) method');
  const retry = (n as TaskNotifier).onRetry;
  if (retry !== undefined && typeof retry !== 'function') throw invalid('taskNotifier.onRetry', 'must be a function (or left out)');
}

function describe(a: TaskAlert): string {
  return `task ${a.taskId} (${a.type}) run ${a.backendId} attempt ${a.attempt} ${a.status}`;
}

/** Failures logged at error level (retries at warn level when `retries` is set). */
export function taskLogNotifier(log: Logger, opts: { retries?: boolean } = {}): TaskNotifier {
  const fields = (a: TaskAlert) => ({ task: a.taskId, type: a.type, backendId: a.backendId, attempt: a.attempt });
  return {
    onFailure: (a) => log.error(fields(a), `${describe(a)}: task disabled (${a.disabledReason})${a.error ? `: ${firstLine(a.error)}` : ''}`),
    ...(opts.retries ? { onRetry: (a: TaskAlert) => log.warn(fields(a), `${describe(a)}, next run ${a.nextRun?.toISOString()}${a.error ? `: ${firstLine(a.error)}` : ''}`) } : {}),
  };
}

/** Posts each alert as JSON: `{ event: 'task_failed' | 'task_retry', taskId, type, backendId, attempt, status, error, disabledReason, nextRun, ended }`. */
export function taskWebhookNotifier(url: string, opts: WebhookOptions = {}): TaskNotifier {
  const post = jsonPoster(url, opts);
  const body = (event: string, { kind: _kind, ...a }: TaskAlert) => ({ event, ...a });
  return {
    onFailure: (a) => post(body('task_failed', a)),
    ...(opts.retries ? { onRetry: (a: TaskAlert) => post(body('task_retry', a)) } : {}),
  };
}

/** Calls every notifier; one that fails does not stop the others. */
export function combineTaskNotifiers(list: readonly TaskNotifier[]): TaskNotifier {
  return {
    onFailure: async (a) => void (await Promise.allSettled(list.map((n) => n.onFailure(a)))),
    onRetry: async (a) => void (await Promise.allSettled(list.map((n) => n.onRetry?.(a)))),
  };
}

/** How long stopping waits for alerts already begun (a notifier that hangs does not hold a shutdown up). */
export const ALERTS_STOP_WAIT_MS = 10_000;
/** Alerts sent at once; the others wait their turn (a burst of failures does not open thousands of requests). */
export const ALERTS_IN_FLIGHT = 8;
/** Alerts that may wait their turn; past it an alert is dropped, and the drops are logged. */
export const ALERTS_WAITING = 10_000;

/**
 * Calls `notifier` for each run end this process records (its worker's, remote workers' through its
 * HTTP jobboard, its reaper's) that calls for an alert, at most ALERTS_IN_FLIGHT at once, started in
 * the order of the ends. Returns the function that stops it, which resolves once the alerts already queued are
 * done, or after ALERTS_STOP_WAIT_MS.
 */
export function watchTaskAlerts(orrery: Orrery, notifier: TaskNotifier, log: Logger): () => Promise<void> {
  const waiting: TaskAlert[] = [];
  let inFlight = 0;
  let dropped = 0;
  let idle: (() => void) | null = null;
  const next = (): void => {
    while (inFlight < ALERTS_IN_FLIGHT && waiting.length > 0) {
      inFlight++;
      void deliver(orrery, notifier, waiting.shift()!, log).finally(() => {
        inFlight--;
        next();
      });
    }
    if (inFlight === 0 && waiting.length === 0) idle?.();
  };
  const onRun = (e: RunEvent) => {
    if (e.event !== 'ended' || !e.task) return;
    const alert = taskAlertOf(e.run, e.task, e.taskUpdated === true);
    if (!alert || (alert.kind === 'retry' && !notifier.onRetry)) return;
    if (waiting.length >= ALERTS_WAITING) {
      if (dropped++ % 1000 === 0) log.warn(`task alerts dropped: ${dropped} so far (${ALERTS_WAITING} wait to be sent, ${describe(alert)} among the dropped)`);
      return;
    }
    waiting.push(alert);
    next();
  };
  orrery.events.on('run', onRun);
  return async () => {
    orrery.events.off('run', onRun);
    if (inFlight === 0 && waiting.length === 0) return;
    let timer: Timer | undefined;
    const waited = new Promise<void>((r) => (timer = orrery.clock.setTimer(ALERTS_STOP_WAIT_MS, r, { unref: true })));
    await Promise.race([new Promise<void>((r) => (idle = r)), waited]);
    timer?.cancel();
    const left = inFlight + waiting.length;
    waiting.length = 0;
    if (left > 0) log.warn(`stopped with ${left} task alert(s) not sent`);
  };
}

async function deliver(orrery: Orrery, notifier: TaskNotifier, alert: TaskAlert, log: Logger): Promise<void> {
  try {
    // A DAG attempt (a type served by the DAG backend) is the DAG notifier's.
    const type = await orrery.getTaskType(alert.type);
    if (type?.backendName === DAG_BACKEND) return;
    await (alert.kind === 'failed' ? notifier.onFailure(alert) : notifier.onRetry?.(alert));
  } catch (e) {
    log.warn({ err: e, task: alert.taskId }, `task alert for ${describe(alert)} failed: ${(e as Error).message}`);
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? '';
}
