import { InvalidArgumentError, Option, type Command } from 'commander';
import { DISABLED_REASONS, PRIORITIES, TASK_POLICIES, TASK_STATUSES, type DisabledReason, type Priority, type TaskPolicy, type TaskStatus } from '../core/model.js';
import { ARGS_MATCHES, type ArgsMatch, type TaskSearchInput } from '../core/task-search.js';
import { instantArg } from './common.js';

/** The task search options of `task list` and `task bulk` (core/task-search.ts). */
export interface TaskFilterOpts {
  type?: string;
  status?: TaskStatus[];
  priority?: Priority | 'none';
  policy?: TaskPolicy;
  disabledReason?: DisabledReason[];
  dagAttempts?: boolean;
  paused?: boolean;
  nextRunFrom?: Date;
  nextRunBefore?: Date;
  concurrencyKey?: string;
  args?: string;
  argsMatch?: ArgsMatch;
}

/** A repeatable option whose values may also be comma-separated, each one of `allowed`. */
function listArg<T extends string>(allowed: readonly T[], what: string) {
  return (v: string, previous: T[] | undefined): T[] => {
    const items = v.split(',').map((x) => x.trim());
    for (const x of items) if (!(allowed as readonly string[]).includes(x)) throw new InvalidArgumentError(`'${x}' is not ${what} (one of ${allowed.join(', ')})`);
    return [...(previous ?? []), ...(items as T[])];
  };
}

/** Adds the task filters to a command. */
export function addTaskFilters(cmd: Command): Command {
  return cmd
    .option('-t, --type <type>', 'only this task type')
    .addOption(new Option('--status <status...>', `only these statuses (${TASK_STATUSES.join(', ')}); commas also separate`).argParser(listArg(TASK_STATUSES, 'a task status')))
    .addOption(new Option('--priority <priority>', 'only this priority (or "none")').choices([...PRIORITIES, 'none']))
    .addOption(new Option('--policy <policy>', 'only this policy').choices(TASK_POLICIES))
    .addOption(
      new Option('--disabled-reason <reason...>', 'only disabled tasks with these reasons (dead_letter: the dead-letter bin)').argParser(listArg(DISABLED_REASONS, 'a disabled reason')),
    )
    .option('--no-dag-attempts', 'leave out DAG attempts (tasks of DAG types), as the dead-letter bin does')
    .option('--paused', 'only tasks whose schedule is paused (orrery task pause)')
    .option('--no-paused', 'only tasks whose schedule is not paused')
    .option('--next-run-from <instant>', 'only tasks whose next run is at or after this instant', instantArg)
    .option('--next-run-before <instant>', 'only tasks whose next run is before this instant', instantArg)
    .option('--concurrency-key <key>', 'only tasks with this concurrency key')
    .option('--args <text>', 'only tasks with a string argument (args or kwargs, any depth) containing this text, ASCII case ignored')
    .addOption(new Option('--args-match <how>', 'substring (default) or prefix: the string argument starts with the text').choices(ARGS_MATCHES));
}

/** The search input of the filter options given. */
export function taskFilterInput(o: TaskFilterOpts): TaskSearchInput {
  return {
    ...(o.type !== undefined ? { type: o.type } : {}),
    ...(o.status !== undefined ? { status: o.status } : {}),
    ...(o.priority !== undefined ? { priority: o.priority } : {}),
    ...(o.policy !== undefined ? { policy: o.policy } : {}),
    ...(o.disabledReason !== undefined ? { disabledReason: o.disabledReason } : {}),
    ...(o.dagAttempts === false ? { dagAttempts: false } : {}),
    ...(o.paused !== undefined ? { paused: o.paused } : {}),
    ...(o.nextRunFrom !== undefined ? { nextRunFrom: o.nextRunFrom } : {}),
    ...(o.nextRunBefore !== undefined ? { nextRunBefore: o.nextRunBefore } : {}),
    ...(o.concurrencyKey !== undefined ? { concurrencyKey: o.concurrencyKey } : {}),
    ...(o.args !== undefined ? { args: o.args } : {}),
    ...(o.argsMatch !== undefined ? { argsMatch: o.argsMatch } : {}),
  };
}
