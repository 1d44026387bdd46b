import { Command, Option } from 'commander';
import { oneLine } from '../core/terminal-text.js';
import { PRIORITIES, TASK_POLICIES, type Priority, type Task, type TaskPolicy, type TaskRun } from '../core/model.js';
import type { TaskInput } from '../core/validation.js';
import { ON_CONFLICT_MODES, type OnConflict } from '../core/json-checks.js';
import { CATCH_UP_POLICIES, type CalendarOptionsInput, type CatchUp } from '../core/schedule-options.js';
import { UNIQUE_BY, type UniqueBy } from '../core/flow-control.js';
import { parseTaskArguments } from './arguments.js';
import { whyCommand } from './why-command.js';
import { taskWaitCommand } from './task-wait-command.js';
import { addTaskPauseCommands } from './pause-commands.js';
import { addTaskFilters, taskFilterInput, type TaskFilterOpts } from './task-filters.js';
import { addBulkCommand } from './task-bulk-command.js';
import { MAX_TASK_PAGE, type TaskSearchInput } from '../core/task-search.js';
import type { Orrery } from '../engine/service.js';
import { addTaskScheduleCommands } from './schedule-commands.js';
import { addImportCommand } from './task-import-command.js';
import { INT4_MAX } from '../core/storable.js';
import { addDb, boundedIntArg, countArg, dur, instantArg, iso, nonNegativeIntArg, parseId, positiveIntArg, printJson, requireTypes, table, truncate, UsageError, withOrrery, type DbOpts, type Io } from './common.js';
import { MAX_LAST_RUNS } from '../core/options.js';

interface AddOpts extends DbOpts {
  at?: Date;
  policy?: TaskPolicy;
  nextRun?: Date;
  priority?: Priority;
  cron?: string;
  tz?: string;
  rrule?: string;
  retries?: number;
  key?: string;
  concurrencyKey?: string;
  onConflict?: OnConflict;
  catchUp?: CatchUp;
  catchUpWindow?: string;
  jitter?: string;
  startAt?: string;
  endAt?: string;
  exclude?: string[];
  uniqueFor?: string;
  uniqueBy?: UniqueBy;
  debounceKey?: string;
  debounce?: string;
  json?: boolean;
}

export function taskCommands(io: Io): Command {
  const cmd = new Command('task').description('create, inspect and manage tasks');

  addDb(
    cmd
      .command('add')
      .description('create a task (returns the existing one if an equal task is active)')
      .argument('<type>', 'task type')
      .argument('[arguments...]', 'ARG values become args, KEY=VALUE pairs become kwargs; JSON values are parsed')
      .addOption(new Option('--policy <policy>', 'recurring or oneshot (default recurring; oneshot with --debounce)').choices(TASK_POLICIES))
      .option('--next-run <instant>', 'first run at or after this ISO 8601 instant (default now)', instantArg)
      .addOption(new Option('--priority <priority>', 'high, normal or low').choices(PRIORITIES))
      .option('--cron <expr>', 'recurring on a cron schedule')
      .option('--tz <zone>', 'IANA time zone of --cron (default UTC)')
      .option('--rrule <rule>', 'recurring on an RFC 5545 rule (DTSTART;TZID=... allowed)')
      .option('--retries <n>', 'retries left (default: the type\'s numRetries)', countArg)
      .option('--key <key>', 'the task\'s identity within its type (default: its whole definition)')
      .option('--concurrency-key <key>', 'runs sharing this key count against the type\'s --max-running-per-key')
      .addOption(new Option('--on-conflict <mode>', 'when an active task has the same identity: return it, replace its arguments and next run, or fail').choices(ON_CONFLICT_MODES))
      .addOption(new Option('--catch-up <policy>', 'missed occurrences of --cron/--rrule: run none, the latest (default), or all in order').choices(CATCH_UP_POLICIES))
      .option('--catch-up-window <duration>', 'only catch up occurrences at most this old (e.g. 6h)')
      .option('--jitter <duration>', 'delay each occurrence by a pseudo-random offset below this (e.g. 5m)')
      .option('--start-at <instant>', 'no occurrence before this ISO 8601 instant')
      .option('--end-at <instant>', 'no occurrence after this ISO 8601 instant')
      .option('--exclude <date>', 'no occurrence on this local date (2026-12-25) or at this instant; repeatable', (v: string, prev: string[] = []) => [...prev, v])
      .option('--unique-for <duration>', 'return the task created within this window with the same key or arguments, whatever its status')
      .addOption(new Option('--unique-by <what>', 'what --unique-for compares (default: key when --key is given, else arguments)').choices(UNIQUE_BY))
      .option('--debounce-key <key>', 'creates with this key within --debounce collapse into one task')
      .option('--debounce <duration>', 'the debounce period: the task runs this long after the last create, with its arguments')
      .option('--at <instant>', 'as if now were this instant: the creation time, and the default --next-run', instantArg)
      .option('--json', 'print the task as JSON'),
  ).action(async (type: string, tokens: string[], o: AddOpts) => {
    if (o.cron !== undefined && o.rrule !== undefined) throw new UsageError('--cron and --rrule cannot be combined');
    if (o.tz !== undefined && o.cron === undefined) throw new UsageError('--tz only applies to --cron');
    const input: TaskInput = { type, arguments: parseTaskArguments(tokens), priority: o.priority ?? null };
    // A debounced task is one-shot unless --policy says otherwise (core refuses recurring).
    if (o.policy !== undefined || o.debounceKey === undefined) input.policy = o.policy ?? 'recurring';
    if (o.nextRun) input.nextRun = o.nextRun;
    if (o.cron !== undefined) input.schedule = { kind: 'cron', expr: o.cron, tz: o.tz ?? 'UTC' };
    if (o.rrule !== undefined) input.schedule = { kind: 'rrule', rule: o.rrule.replace(/\\n/g, '\n') };
    if (o.retries !== undefined) input.retriesLeft = o.retries;
    if (o.key !== undefined) input.key = o.key;
    if (o.concurrencyKey !== undefined) input.concurrencyKey = o.concurrencyKey;
    if (o.onConflict !== undefined) input.onConflict = o.onConflict;
    const options = calendarOptions(o);
    if (Object.keys(options).length > 0) {
      if (input.schedule?.kind !== 'cron' && input.schedule?.kind !== 'rrule') throw new UsageError('--catch-up, --catch-up-window, --jitter, --start-at, --end-at and --exclude apply to --cron or --rrule');
      input.schedule = { ...input.schedule, ...options };
    }
    if (o.uniqueBy !== undefined && o.uniqueFor === undefined) throw new UsageError('--unique-by needs --unique-for');
    if (o.uniqueFor !== undefined) input.unique = { for: o.uniqueFor, ...(o.uniqueBy !== undefined ? { by: o.uniqueBy } : {}) };
    if ((o.debounceKey === undefined) !== (o.debounce === undefined)) throw new UsageError('--debounce-key and --debounce go together');
    if (o.debounceKey !== undefined) input.debounce = { key: o.debounceKey, period: o.debounce! };
    const [created] = await withOrrery(o, (orrery) => orrery.createTasksDetailed([input], o.at ? { at: o.at } : {}, ''));
    if (o.json) return printJson(io, created!.task);
    const t = created!.task;
    const verb = created!.created ? 'created' : created!.replaced ? 'replaced' : 'already exists:';
    io.out(`${verb} task ${t.id} (${t.type}, ${t.policy}, next run ${iso(t.nextRun)})\n`);
  });

  addDb(
    addTaskFilters(cmd.command('list').description('search tasks, in id order (server-side: docs/operations.md#task-search)'))
      .option('--after <id>', 'only tasks with a larger id (pagination)', nonNegativeIntArg)
      .option('--limit <n>', 'at most this many, at least 1 (default 100)', positiveIntArg)
      .option('--json', 'print a JSON array'),
  ).action(async (o: DbOpts & TaskFilterOpts & { after?: number; limit?: number; json?: boolean }) => {
    // Each page (1,000 tasks) is written as JSON, or made table rows, as it arrives: a --limit of
    // 100,000 does not hold 100,000 tasks in memory (it peaked at 399 MB).
    const json = o.json ? jsonArrayWriter(io) : null;
    const rows: string[][] = [];
    const found = await withOrrery(o, async (orrery) => {
      if (o.type !== undefined) await requireTypes(orrery, '--type', [o.type]);
      return listTasks(orrery, taskFilterInput(o), o.after ?? null, o.limit ?? 100, (page) => (json ? json.add(page) : rows.push(...page.map(taskRow))));
    });
    if (json) return json.end();
    if (rows.length === 0) io.out('no tasks found\n');
    else table(io, TASK_HEADERS, rows);
    if (found.after !== null) io.out(`\nmore: orrery task list ... --after ${found.after}\n`);
  });

  addDb(
    cmd
      .command('list-pending')
      .description('tasks of a type that are due and waiting to be scheduled, in runner order')
      .argument('<type>', 'task type')
      .option('--limit <n>', 'at most this many, from 1 to 2147483647 (default 100)', boundedIntArg(1, INT4_MAX))
      .option('--at <instant>', 'due at this instant (default now)', instantArg)
      .option('--json', 'print a JSON array'),
  ).action(async (type: string, o: DbOpts & { limit?: number; at?: Date; json?: boolean }) => {
    const tasks = await withOrrery(o, async (orrery) => {
      if (!(await orrery.getTaskType(type))) throw new UsageError(`TYPE: unknown task type "${type}"`);
      return orrery.listPending(type, { limit: o.limit ?? 100, ...(o.at ? { at: o.at } : {}) });
    });
    if (o.json) return printJson(io, tasks);
    io.out(`found ${tasks.length} pending ${type} task${tasks.length === 1 ? '' : 's'}\n`);
    if (tasks.length > 0) printTasks(io, tasks);
  });

  addDb(
    cmd
      .command('show')
      .description('a task and its runs')
      .argument('<id>', 'task id')
      .option('--runs <n>', `only its newest N runs (1 to ${MAX_LAST_RUNS}; default: every run)`, boundedIntArg(1, MAX_LAST_RUNS))
      .option('--json', 'print JSON'),
  ).action(
    async (id: string, o: DbOpts & { json?: boolean; runs?: number }) => {
      const taskId = parseId(id);
      const task = await withOrrery(o, (orrery) => orrery.getTaskWithRuns(taskId, o.runs === undefined ? {} : { runs: o.runs }));
      if (!task) throw new UsageError(`ID: task ${taskId} not found`);
      if (o.json) return printJson(io, task);
      const rows: [string, string][] = [
        ['id', String(task.id)],
        ['type', task.type],
        ['policy', task.policy],
        ['schedule', scheduleText(task)],
        ['status', task.status + (task.disabledReason ? ` (${task.disabledReason})` : '')],
        ['paused', task.paused ? `since ${iso(task.paused.at)}${task.paused.reason ? ` (${oneLine(task.paused.reason)})` : ''}` : 'no'],
        ['next run', iso(task.nextRun)],
        ['serves', iso(task.scheduledFor)],
        ['interval', dur(task.currentIntervalMs)],
        ['priority', task.priority ?? '-'],
        ['retries left', String(task.retriesLeft)],
        ['abandons in a row', String(task.consecutiveAbandons)],
        ['args', JSON.stringify(task.arguments.args)],
        ['kwargs', JSON.stringify(task.arguments.kwargs)],
        ['created', iso(task.created)],
      ];
      for (const [k, v] of rows) io.out(`${k.padEnd(18)}${v}\n`);
      io.out(o.runs === undefined ? `\nruns (${task.runs.length}):\n` : `\nruns (the newest ${task.runs.length}, --runs ${o.runs}):\n`);
      if (task.runs.length > 0) printRuns(io, task.runs);
    },
  );

  addDb(
    cmd
      .command('disable')
      .description('disable tasks (their waiting runs are cancelled)')
      .argument('<ids...>', 'task ids')
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--json', 'print JSON'),
  ).action(
    async (ids: string[], o: DbOpts & { at?: Date; json?: boolean }) => {
      const parsed = ids.map((i) => parseId(i));
      const tasks = await withOrrery(o, (orrery) => orrery.disableTasks(parsed, o.at ? { at: o.at } : {}));
      if (o.json) return printJson(io, tasks);
      for (const t of tasks) io.out(`task ${t.id} disabled (${t.disabledReason})\n`);
    },
  );

  addDb(
    cmd
      .command('respawn')
      .description('re-enable disabled or completed tasks, due at --next-run (default now)')
      .argument('<ids...>', 'task ids')
      .option('--next-run <instant>', 'when they are due again (default --at or now)', instantArg)
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--json', 'print JSON'),
  ).action(async (ids: string[], o: DbOpts & { nextRun?: Date; at?: Date; json?: boolean }) => {
    const parsed = ids.map((i) => parseId(i));
    const tasks = await withOrrery(o, (orrery) => orrery.respawnTasks(parsed, { ...(o.nextRun ? { nextRun: o.nextRun } : {}), ...(o.at ? { at: o.at } : {}) }));
    if (o.json) return printJson(io, tasks);
    for (const t of tasks) io.out(`task ${t.id} respawned, next run ${iso(t.nextRun)}\n`);
  });

  addDb(
    cmd
      .command('schedule')
      .description('one runner pass: schedule due tasks into the jobboard and print the runs created')
      .option('-t, --type <type>', 'only this task type')
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--json', 'print a JSON array of runs'),
  ).action(async (o: DbOpts & { type?: string; at?: Date; json?: boolean }) => {
    const runs = await withOrrery(o, async (orrery) => {
      if (o.type !== undefined && !(await orrery.getTaskType(o.type))) throw new UsageError(`--type: unknown task type "${o.type}"`);
      return orrery.scheduleDue({ ...(o.type !== undefined ? { type: o.type } : {}), ...(o.at ? { at: o.at } : {}) });
    });
    if (o.json) return printJson(io, runs);
    io.out(`scheduled ${runs.length} run${runs.length === 1 ? '' : 's'}\n`);
    if (runs.length > 0) printRuns(io, runs);
  });
  cmd.addCommand(whyCommand(io));
  cmd.addCommand(taskWaitCommand(io));
  addTaskPauseCommands(cmd, io);
  addImportCommand(cmd, io);
  addBulkCommand(cmd, io);
  addTaskScheduleCommands(cmd, io);
  return cmd;
}

/**
 * Up to `limit` tasks of a search after id `after`, read page by page (1,000 at most each); pages that
 * stopped at the scan bound are followed. `after` in the answer: where to go on, or null at the end.
 */
/** Up to `limit` tasks, a page of at most MAX_TASK_PAGE at a time handed to `onPage`; `after`: the cursor of the rest, if any. */
async function listTasks(orrery: Orrery, filter: TaskSearchInput, after: number | null, limit: number, onPage: (tasks: Task[]) => void): Promise<{ after: number | null }> {
  let count = 0;
  let cursor = after === null ? undefined : String(after);
  while (count < limit) {
    const page = await orrery.findTasks({ ...filter, limit: Math.min(MAX_TASK_PAGE, limit - count), ...(cursor !== undefined ? { cursor } : {}) });
    count += page.tasks.length;
    onPage(page.tasks);
    if (page.nextCursor === null) return { after: null };
    cursor = page.nextCursor;
  }
  return { after: Number(cursor) };
}

/**
 * A JSON array written element by element, exactly as printJson writes the whole array (two-space
 * indentation): a listing of many pages is not held in memory to be printed.
 */
function jsonArrayWriter(io: Io): { add(items: readonly unknown[]): void; end(): void } {
  let first = true;
  return {
    add(items) {
      for (const item of items) {
        io.out(`${first ? '[\n' : ',\n'}  ${JSON.stringify(item, null, 2).replace(/\n/g, '\n  ')}`);
        first = false;
      }
    },
    end() {
      io.out(first ? '[]\n' : '\n]\n');
    },
  };
}

/** The calendar options given on the command line (core validation names a bad value). */
function calendarOptions(o: AddOpts): CalendarOptionsInput {
  return {
    ...(o.catchUp !== undefined ? { catchUp: o.catchUp } : {}),
    ...(o.catchUpWindow !== undefined ? { catchUpWindow: o.catchUpWindow } : {}),
    ...(o.jitter !== undefined ? { jitter: o.jitter } : {}),
    ...(o.startAt !== undefined ? { startAt: o.startAt } : {}),
    ...(o.endAt !== undefined ? { endAt: o.endAt } : {}),
    ...(o.exclude !== undefined ? { exclude: o.exclude } : {}),
  };
}

function scheduleText(t: Task): string {
  if (t.policy === 'oneshot') return 'once';
  const s = t.schedule;
  if (s.kind === 'adaptive') return 'adaptive';
  const base = s.kind === 'cron' ? `cron "${s.expr}" (${s.tz})` : `rrule ${s.rule.replace(/\n/g, ' ')}`;
  const options = [
    `catch-up ${s.catchUp ?? 'latest'}${s.catchUpWindowMs !== undefined ? ` within ${dur(s.catchUpWindowMs)}` : ''}`,
    ...(s.jitterMs !== undefined ? [`jitter ${dur(s.jitterMs)}`] : []),
    ...(s.startAt !== undefined ? [`from ${s.startAt}`] : []),
    ...(s.endAt !== undefined ? [`until ${s.endAt}`] : []),
    ...(s.exclude !== undefined ? [`except ${s.exclude.join(', ')}`] : []),
  ];
  return `${base}; ${options.join('; ')}`;
}

const TASK_HEADERS = ['ID', 'TYPE', 'POLICY', 'STATUS', 'PRIORITY', 'NEXT RUN', 'INTERVAL', 'ARGUMENTS'];

function taskRow(t: Task): string[] {
  return [
    String(t.id),
    t.type,
    t.policy,
    t.status + (t.disabledReason ? ` (${t.disabledReason})` : '') + (t.paused ? ' (paused)' : ''),
    t.priority ?? '-',
    iso(t.nextRun),
    t.schedule.kind === 'adaptive' ? dur(t.currentIntervalMs) : t.schedule.kind,
    truncate(argsText(t), 60),
  ];
}

export function printTasks(io: Io, tasks: Task[]): void {
  if (tasks.length === 0) return io.out('no tasks found\n');
  table(io, TASK_HEADERS, tasks.map(taskRow));
}

export function printRuns(io: Io, runs: TaskRun[]): void {
  table(
    io,
    ['BACKEND ID', 'TASK', 'TYPE', 'STATUS', 'ATTEMPT', 'SCHEDULED', 'SERVES', 'STARTED', 'ENDED', 'WORKER', 'ERROR'],
    runs.map((r) => [
      r.backendId,
      String(r.task),
      r.type,
      r.status,
      String(r.attempt),
      iso(r.scheduled),
      iso(r.scheduledFor),
      iso(r.started),
      iso(r.ended),
      r.worker ?? '-',
      // As any cell: a newline shows as \n, and a cut error ends with … (its first line alone hid that it went on).
      truncate(r.error ?? '', 50),
    ]),
  );
}

function argsText(t: Task): string {
  const parts = t.arguments.args.map((a) => JSON.stringify(a));
  for (const [k, v] of Object.entries(t.arguments.kwargs)) parts.push(`${k}=${JSON.stringify(v)}`);
  return parts.join(' ');
}
