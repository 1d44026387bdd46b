import { Command } from 'commander';
import type { TaskWait } from '../core/task-wait.js';
import { addDb, intervalArg, iso, parseId, printJson, timerArg, withOrrery, type DbOpts, type Io } from './common.js';
import { Interrupted } from './run-logs-command.js';
import { formatDuration } from '../core/durations.js';

type WaitOpts = DbOpts & { timeout?: number; poll?: number; json?: boolean };

/**
 * `orrery task wait ID`: until the task is finished (completed: exit 0; disabled: exit 1), or until
 * --timeout passes (exit 1), or a signal (128 + its number). docs/cli.md#orrery-task-wait.
 */
export function taskWaitCommand(io: Io): Command {
  return addDb(
    new Command('wait')
      .description('wait until a task is finished: completed (exit 0) or disabled (exit 1); with --timeout, exit 1 when it is still active then')
      .argument('<id>', 'task id')
      .option('--timeout <duration>', 'give up after this long (default: wait as long as it takes)', timerArg)
      .option('--poll <duration>', 'how often to read the task again (default 1s, at least 10ms)', intervalArg)
      .option('--json', 'print the answer as JSON: {"finished","task","run"}'),
  ).action(async (id: string, o: WaitOpts) => {
    const taskId = parseId(id);
    const stop = new AbortController();
    let code = 0;
    const on = (n: number) => () => {
      if (code !== 0) process.exit(n); // a second signal while a read hangs: at once
      code = n;
      stop.abort(new Interrupted(n));
    };
    const handlers: Array<[NodeJS.Signals, () => void]> = [['SIGINT', on(130)], ['SIGTERM', on(143)], ['SIGHUP', on(129)]];
    for (const [s, h] of handlers) process.on(s, h);
    let answer: TaskWait;
    try {
      answer = await withOrrery(o, (orrery) =>
        orrery.waitForTask(taskId, { signal: stop.signal, ...(o.timeout !== undefined ? { timeoutMs: o.timeout } : {}), ...(o.poll !== undefined ? { pollMs: o.poll } : {}) }),
      );
    } finally {
      for (const [s, h] of handlers) process.off(s, h);
    }
    if (o.json) printJson(io, answer);
    else io.out(`${describe(answer, o.timeout)}\n`);
    if (!answer.finished || answer.task.status !== 'completed') throw new Interrupted(1);
  });
}

/** One line: how the task finished, with its last run, or that it is still active. */
export function describe(a: TaskWait, timeoutMs?: number): string {
  const run = a.run;
  const last = run === null ? 'no run' : `last run ${run.backendId} ${run.status}${run.ended ? ` at ${iso(run.ended)}` : ''}${run.error ? `: ${run.error.split('\n')[0]}` : ''}`;
  if (!a.finished) return `task ${a.task.id} still ${a.task.status} after ${formatDuration(timeoutMs ?? 0)} (${last})`;
  if (a.task.status === 'completed') return `task ${a.task.id} completed (${last})`;
  return `task ${a.task.id} disabled (${a.task.disabledReason ?? 'manual'}) (${last})`;
}
