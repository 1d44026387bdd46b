import { NotFoundError, StorageUnavailableError } from '../core/errors.js';
import type { Task, TaskRun } from '../core/model.js';
import { checkMs, optionsObject, refuseUnknownKeys } from '../core/options.js';
import { checkId } from '../core/task-ids.js';
import { taskFinished, WAIT_OPTIONS, waitPollMs, waitSignal, type TaskWait } from '../core/task-wait.js';
import type { Clock } from './clock.js';
import type { RunEvent } from './service-types.js';

export interface WaitForTaskOptions {
  /** Give up after this many ms and answer with `finished: false` (default: wait as long as it takes). */
  timeoutMs?: number;
  /** Stop waiting (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** How often to read the task again (default 1000 ms, at least 10): other processes' ends are seen this way. */
  pollMs?: number;
}

interface WaitHost {
  clock: Clock;
  events: { on(event: 'run', fn: (e: RunEvent) => void): unknown; off(event: 'run', fn: (e: RunEvent) => void): unknown };
  getTask(id: number): Promise<Task | null>;
  listRuns(taskId: number, opts: { last?: number }): Promise<TaskRun[]>;
}

/**
 * Waits until the task is finished (core/task-wait.ts: completed or disabled), or `timeoutMs`
 * passes. A run of the task this process ends is seen at once; anything else (another process's
 * worker, a disable) at the next read, every `pollMs`. A read that finds the database unavailable
 * (StorageUnavailableError: a restart, a lock held past the busy timeout) after a first answer is
 * tried again at the next poll, the wait going on; the first read's failure is the caller's.
 */
export async function waitForTask(host: WaitHost, id: number, options?: WaitForTaskOptions): Promise<TaskWait> {
  checkId(id);
  const opts = optionsObject(options, 'options');
  // A misspelt option (`timeout`) would make the wait last for ever without a word.
  refuseUnknownKeys(opts, WAIT_OPTIONS, 'options');
  const timeoutMs = opts.timeoutMs === undefined ? null : checkMs(opts.timeoutMs, 'timeoutMs');
  const pollMs = waitPollMs(opts.pollMs);
  const signal = waitSignal(opts.signal);
  const deadline = timeoutMs === null ? null : host.clock.now().getTime() + timeoutMs;
  const answer = async (): Promise<TaskWait> => {
    const task = await host.getTask(id);
    if (!task) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: `no task ${id}` }]);
    const [run] = await host.listRuns(id, { last: 1 });
    return { finished: taskFinished(task), task, run: run ?? null };
  };
  let woken: (() => void) | null = null;
  // An end seen while the task was being read: the next sleep is skipped (its wake-up came early).
  let ended = false;
  const onRun = (e: RunEvent) => {
    if (e.event !== 'ended' || e.run.task !== id) return;
    ended = true;
    woken?.();
  };
  host.events.on('run', onRun);
  // The timeout is a timer of the clock too, as the reads' pauses are: a ManualClock's time moves only
  // when the test moves it, but its timers are Node's, so the wait ended when a reading of now() said
  // so, which never came (a wait with a timeout over HTTP hung).
  let timedOut = false;
  const timeout = timeoutMs === null ? null : host.clock.setTimer(timeoutMs, () => ((timedOut = true), woken?.()));
  let last: TaskWait | null = null;
  try {
    for (;;) {
      signal?.throwIfAborted();
      ended = false;
      let now: TaskWait;
      try {
        now = last = await answer();
      } catch (e) {
        // The database away for a while (it exited 1 at the first failed read): the last answer stands.
        if (!(e instanceof StorageUnavailableError) || last === null) throw e;
        now = last;
      }
      if (now.finished) return now;
      const left = deadline === null ? Infinity : deadline - host.clock.now().getTime();
      if (left <= 0 || timedOut) return now;
      if (ended) continue;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          timer.cancel();
          signal?.removeEventListener('abort', aborted);
          woken = null;
          resolve();
        };
        const aborted = () => {
          timer.cancel();
          woken = null;
          reject(signal!.reason);
        };
        const timer = host.clock.setTimer(Math.min(pollMs, left), done);
        woken = done;
        signal?.addEventListener('abort', aborted, { once: true });
      });
    }
  } finally {
    timeout?.cancel();
    host.events.off('run', onRun);
  }
}
