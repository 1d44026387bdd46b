import type { TaskAlert } from '../core/task-alert.js';
import { checkNotifier, checkRetriesFlag, combined, firstLine, jsonPoster, requireLogger, webhookOptions, type Delivering, type WebhookOptions } from './dag-notifier.js';
import { knownOptions } from '../core/options.js';
import type { Logger } from './logger.js';
import { describeAlert as describe } from '../core/task-alert.js';

export type { TaskAlert } from '../core/task-alert.js';

/**
 * Alerts for tasks (docs/guide.md#alerts): each is stored with the run's end and delivered by a
 * process with a task notifier (AlertSender), at least once. `onRetry` is optional: leave it out
 * to hear only of tasks that failed for good. A notifier that throws or rejects is called again for
 * the same alert later (10 s, 20 s, 40 s ... apart, for 24 hours). DAG attempts are not reported
 * here (the DAG notifier reports them).
 */
export interface TaskNotifier {
  /** A task was disabled by its run's end: permfailed, retries exhausted, or dead-lettered. */
  onFailure(alert: TaskAlert, delivery?: Delivering): void | Promise<void>;
  /** A task's handler failed and the task runs again at `alert.nextRun` (optional). */
  onRetry?(alert: TaskAlert, delivery?: Delivering): void | Promise<void>;
}

/** A ValidationError naming the field unless `n` is a TaskNotifier (Daemon and startServer check it before anything starts). */
export function checkTaskNotifier(n: unknown): void {
  checkNotifier(n, 'taskNotifier');
}

/** Failures logged at error level (retries at warn level when `retries` is set). */
export function taskLogNotifier(log: Logger, opts: { retries?: boolean } = {}): TaskNotifier {
  requireLogger(log);
  opts = knownOptions(opts, ['retries']);
  checkRetriesFlag(opts);
  const fields = (a: TaskAlert) => ({ task: a.taskId, type: a.type, backendId: a.backendId, attempt: a.attempt });
  return {
    onFailure: (a) => log.error(fields(a), `${describe(a)}: task disabled (${a.disabledReason})${a.error ? `: ${firstLine(a.error)}` : ''}`),
    ...(opts.retries ? { onRetry: (a: TaskAlert) => log.warn(fields(a), `${describe(a)}, next run ${a.nextRun?.toISOString()}${a.error ? `: ${firstLine(a.error)}` : ''}`) } : {}),
  };
}

/** Posts each alert as JSON: `{ event: 'task_failed' | 'task_retry', taskId, type, backendId, attempt, status, error, disabledReason, nextRun, ended }`. */
export function taskWebhookNotifier(url: string, opts: WebhookOptions = {}): TaskNotifier {
  opts = webhookOptions(opts);
  const post = jsonPoster(url, opts);
  const body = (event: string, { kind: _kind, ...a }: TaskAlert) => ({ event, ...a });
  return {
    onFailure: (a, d) => post(body('task_failed', a), d?.signal),
    ...(opts.retries ? { onRetry: (a: TaskAlert, d?: Delivering) => post(body('task_retry', a), d?.signal) } : {}),
  };
}

/**
 * Calls every notifier; one that fails does not stop the others, but the combination then fails, so
 * the alert is delivered again later (to every notifier).
 */
export function combineTaskNotifiers(list: readonly TaskNotifier[]): TaskNotifier {
  return combined(list);
}
