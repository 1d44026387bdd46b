import { addDagPauseCommands } from './pause-commands.js';
import { oneLine } from '../core/terminal-text.js';
import { addDagScheduleCommands } from './schedule-commands.js';
import { Command } from 'commander';
import { DAG_RUN_STATUSES, DAG_TASK_STATUSES, type DagRunStatus, type DagSchedule } from '../core/dag.js';
import type { DagAttemptView, DagRunSummary } from '../engine/dag-service.js';
import type { DagRun } from '../store/dag-store.js';
import { addDb, choiceOption, dur, iso, jsonObjectArg, positiveCountArg, positiveIntArg, printJson, table, truncate, UsageError, withOrrery, type DbOpts, type Io } from './common.js';

interface JsonOpts extends DbOpts {
  json?: boolean;
}

/** A DAG run id argument: a positive integer. */
function parseRunId(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) === 0 || !Number.isSafeInteger(Number(v))) throw new UsageError(`RUN: "${v}" is not a DAG run id (a positive integer)`);
  return Number(v);
}

/** `orrery dag ...` and `orrery dag-run ...` (SPEC §3, §6.2): thin adapters over `orrery.dags`. */
export function dagCommands(io: Io): Command[] {
  return [dagCommand(io), dagRunCommand(io)];
}

function dagCommand(io: Io): Command {
  const cmd = new Command('dag').description('inspect and trigger DAG workflows (defined in code, synced by the processes that load them)');

  addDb(cmd.command('list').description('DAGs with their schedule, next point, run counts and latest run').option('--json', 'print a JSON array')).action(
    async (o: JsonOpts) => {
      const dags = await withOrrery(o, (orrery) => orrery.dags.list());
      if (o.json) return printJson(io, dags);
      if (dags.length === 0) return io.out('no DAGs found\n');
      table(
        io,
        ['ID', 'SCHEDULE', 'NEXT POINT', 'CATCH-UP', 'TASKS', 'RUNS', 'LATEST RUN'],
        dags.map((d) => [d.id + (d.paused ? ' (paused)' : ''), scheduleText(d.schedule), iso(d.nextPoint), d.catchUp ? 'yes' : 'no', String(d.tasks.length), countsText(d.runs, DAG_RUN_STATUSES), latestText(d.latest[0])]),
      );
    },
  );

  addDb(cmd.command('show').description('a DAG: definition, tasks, recent runs and recorded schedule points').argument('<id>', 'DAG id').option('--json', 'print JSON')).action(
    async (id: string, o: JsonOpts) => {
      const d = await withOrrery(o, (orrery) => orrery.dags.get(id));
      if (o.json) return printJson(io, d);
      const rows: [string, string][] = [
        ['id', d.id],
        ['description', d.description || '-'],
        ['version', d.version],
        ['schedule', scheduleText(d.schedule)],
        ['start', iso(d.start)],
        ['next point', iso(d.nextPoint)],
        ['catch-up', d.schedule.kind === 'none' ? (d.catchUp ? 'yes' : 'no') : d.catchUp ? 'yes (missed points are run in order)' : 'no (missed points are skipped)'],
        ['max active runs', String(d.maxActiveRuns)],
        ['paused', d.paused ? `since ${iso(d.paused.at)}${d.paused.reason ? ` (${oneLine(d.paused.reason)})` : ''}` : 'no'],
        ['overlap', d.overlap],
        ['runs', countsText(d.runs, DAG_RUN_STATUSES)],
        ['created', iso(d.created)],
        ['updated', iso(d.updated)],
      ];
      for (const [k, v] of rows) io.out(`${k.padEnd(18)}${v}\n`);
      io.out(`\ntasks (${d.tasks.length}):\n`);
      table(
        io,
        ['TASK', 'AFTER', 'RETRIES', 'RETRY DELAY', 'TIMEOUT', 'TYPE'],
        d.tasks.map((t) => [t.id, t.after.length ? t.after.join(',') : '-', String(t.retries), dur(t.retryDelayMs), dur(t.timeoutMs), t.type]),
      );
      io.out(`\nrecent runs (${d.latest.length}):\n`);
      if (d.latest.length > 0) printDagRuns(io, d.latest);
      io.out(`\nrecorded points (${d.points.length}):\n`);
      if (d.points.length > 0) {
        table(
          io,
          ['KIND', 'EXEC TS', 'UNTIL', 'COUNT', 'RUN', 'RECORDED'],
          d.points.map((p) => [p.kind, iso(p.execTs), iso(p.untilTs), String(p.count), p.run === null ? '-' : String(p.run), iso(p.recorded)]),
        );
      }
    },
  );

  addDb(
    cmd
      .command('trigger')
      .description('create a run now; --params is a JSON object every task sees')
      .argument('<id>', 'DAG id')
      .option('--params <json>', 'a JSON object, e.g. \'{"day":"2026-01-01"}\'', jsonObjectArg)
      .option('--json', 'print the run as JSON'),
  ).action(async (id: string, o: JsonOpts & { params?: Record<string, unknown> }) => {
    const run = await withOrrery(o, (orrery) => orrery.dags.trigger(id, o.params ?? {}));
    if (o.json) return printJson(io, run);
    io.out(`triggered run ${run.id} of DAG ${run.dag} at ${iso(run.execTs)} (${run.status})\n`);
  });

  addDb(
    cmd
      .command('runs')
      .description("a DAG's runs, newest first, with their task counts")
      .argument('<id>', 'DAG id')
      .addOption(choiceOption('--status <status>', 'only runs with this status', DAG_RUN_STATUSES))
      .option('--before <run>', 'only runs with a smaller id (pagination)', positiveIntArg)
      .option('--limit <n>', 'at most this many, 1 to 2147483647 (default 100)', positiveCountArg)
      .option('--json', 'print a JSON array'),
  ).action(async (id: string, o: JsonOpts & { status?: DagRunStatus; before?: number; limit?: number }) => {
    const runs = await withOrrery(o, (orrery) =>
      orrery.dags.runs({ dag: id, ...(o.status ? { status: o.status } : {}), ...(o.before !== undefined ? { beforeId: o.before } : {}), limit: o.limit ?? 100 }),
    );
    if (o.json) return printJson(io, runs);
    if (runs.length === 0) return io.out('no runs found\n');
    printDagRuns(io, runs);
  });
  addDagPauseCommands(cmd, io);
  addDagScheduleCommands(cmd, io);
  return cmd;
}

function dagRunCommand(io: Io): Command {
  const cmd = new Command('dag-run').description('inspect, cancel, restart and read the logs of DAG runs');

  addDb(cmd.command('show').description("a DAG run and every task's status, attempts, duration and error").argument('<run>', 'DAG run id').option('--json', 'print JSON')).action(
    async (id: string, o: JsonOpts) => {
      const runId = parseRunId(id);
      const run = await withOrrery(o, (orrery) => orrery.dags.run(runId));
      if (o.json) return printJson(io, run);
      printRunHeader(io, run);
      io.out(`\ntasks (${run.tasks.length}):\n`);
      table(
        io,
        ['TASK', 'STATUS', 'ATTEMPTS', 'RETRIES LEFT', 'STARTED', 'ENDED', 'DURATION', 'AFTER', 'ERROR'],
        run.tasks.map((t) => [
          t.taskId,
          t.status,
          String(t.attempts),
          String(t.retriesLeft),
          iso(t.started),
          iso(t.ended),
          dur(t.durationMs),
          t.after.length ? t.after.join(',') : '-',
          truncate(firstLine(t.error), 60),
        ]),
      );
    },
  );

  addDb(cmd.command('cancel').description('cancel a waiting or running run: unfinished tasks fail (cancelled), live attempts are stopped').argument('<run>', 'DAG run id').option('--json', 'print the run as JSON')).action(
    async (id: string, o: JsonOpts) => {
      const runId = parseRunId(id);
      const run = await withOrrery(o, (orrery) => orrery.dags.cancel(runId));
      if (o.json) return printJson(io, run);
      io.out(`cancelled run ${run.id} of DAG ${run.dag} (status ${run.status})\n`);
    },
  );

  addDb(cmd.command('restart').description('re-run the failed and upstream-failed tasks of a failed run (successes are kept)').argument('<run>', 'DAG run id').option('--json', 'print the run as JSON')).action(
    async (id: string, o: JsonOpts) => {
      const runId = parseRunId(id);
      const run = await withOrrery(o, (orrery) => orrery.dags.restart(runId));
      if (o.json) return printJson(io, run);
      io.out(`restarted run ${run.id} of DAG ${run.dag} (restart ${run.restarts}, status ${run.status})\n`);
    },
  );

  addDb(
    cmd
      .command('logs')
      .description("the log records of a run's task attempts (instant, level, message, attributes)")
      .argument('<run>', 'DAG run id')
      .option('--task <task>', 'only this task')
      .option('--attempt <n>', 'only this attempt', positiveIntArg)
      .option('--json', 'print a JSON array of attempts, each with its runs and their logs'),
  ).action(async (id: string, o: JsonOpts & { task?: string; attempt?: number }) => {
    const runId = parseRunId(id);
    const attempts = await withOrrery(o, async (orrery) => {
      const taskIds = o.task !== undefined ? [o.task] : (await orrery.dags.run(runId)).tasks.filter((t) => t.attempts > 0).map((t) => t.taskId);
      const out: Array<{ taskId: string } & DagAttemptView> = [];
      for (const taskId of taskIds) {
        const all = await orrery.dags.attempts(runId, taskId);
        const chosen = o.attempt === undefined ? all : all.filter((a) => a.attempt === o.attempt);
        if (o.task !== undefined && o.attempt !== undefined && chosen.length === 0) {
          throw new UsageError(`--attempt: task "${taskId}" of DAG run ${runId} has no attempt ${o.attempt} (it has ${all.length === 0 ? 'none yet' : all.map((a) => a.attempt).join(', ')})`);
        }
        out.push(...chosen.map((a) => ({ taskId, ...a })));
      }
      return out;
    });
    if (o.json) return printJson(io, attempts);
    if (attempts.length === 0) return io.out('no attempts found\n');
    attempts.forEach((a, i) => {
      if (i > 0) io.out('\n');
      // One run per attempt, or more when a worker abandoned one at a graceful stop (it ran again at once): all are named.
      const runs = a.runs.map((r) => `${r.backendId} ${r.status}`).join(', then ');
      io.out(`task ${a.taskId}, attempt ${a.attempt} (orrery task ${a.orreryTask}${runs ? `, run${a.runs.length > 1 ? 's' : ''} ${runs}` : ', no run recorded: not run yet, or archived to a file'}):\n`);
      const logs = a.runs.flatMap((r) => r.logs);
      if (logs.length === 0) return io.out('no log records\n');
      table(
        io,
        ['AT', 'LEVEL', 'MESSAGE', 'ATTRIBUTES'],
        logs.map((l) => [iso(l.at), l.level, l.message, Object.keys(l.attributes).length ? JSON.stringify(l.attributes) : '-']),
      );
    });
  });
  return cmd;
}

function printRunHeader(io: Io, run: DagRun): void {
  const rows: [string, string][] = [
    ['id', String(run.id)],
    ['dag', run.dag],
    ['version', run.version],
    ['exec ts', iso(run.execTs)],
    ['trigger', run.trigger],
    ['status', run.status],
    ['params', JSON.stringify(run.params)],
    ['restarts', String(run.restarts)],
    ['created', iso(run.created)],
    ['started', iso(run.started)],
    ['ended', iso(run.ended)],
    ['duration', dur(run.started && run.ended ? run.ended.getTime() - run.started.getTime() : null)],
  ];
  for (const [k, v] of rows) io.out(`${k.padEnd(18)}${v}\n`);
}

function printDagRuns(io: Io, runs: DagRunSummary[]): void {
  table(
    io,
    ['ID', 'EXEC TS', 'TRIGGER', 'STATUS', 'TASKS', 'RESTARTS', 'STARTED', 'ENDED'],
    runs.map((r) => [String(r.id), iso(r.execTs), r.trigger, r.status, countsText(r.tasks, DAG_TASK_STATUSES), String(r.restarts), iso(r.started), iso(r.ended)]),
  );
}

function scheduleText(s: DagSchedule): string {
  if (s.kind === 'cron') return `cron "${s.expr}" (${s.tz})`;
  if (s.kind === 'interval') return `every ${dur(s.everyMs)}`;
  return 'none (manual triggers only)';
}

/** `3 success, 1 failed` in the order statuses are declared, or `-` when there is nothing to count. */
function countsText(counts: Partial<Record<string, number>>, order: readonly string[]): string {
  const parts = order.filter((status) => (counts[status] ?? 0) > 0).map((status) => `${counts[status]} ${status}`);
  return parts.length ? parts.join(', ') : '-';
}

function latestText(r: DagRunSummary | undefined): string {
  return r ? `${r.id} ${r.status} ${iso(r.execTs)}` : '-';
}

function firstLine(s: string | null): string {
  return (s ?? '').split('\n')[0] ?? '';
}
