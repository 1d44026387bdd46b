import { Command, Option } from 'commander';
import { RUN_END_STATUSES, RUN_STATUSES, type RunEndStatus } from '../core/model.js';
import { DEFAULT_RUN_PAGE, MAX_RUN_PAGE } from '../core/run-search.js';
import { shown } from '../core/errors.js';
import { addDb, dur, durationArg, instantArg, iso, jsonArg, jsonObjectArg, nonEmptyArg, positiveIntArg, printJson, requireTypes, UsageError, withOrrery, workerIdArg, type DbOpts, type Io } from './common.js';
import { printRuns } from './task-commands.js';
import { logLine, runLogsCommand } from './run-logs-command.js';

export function runCommands(io: Io): Command {
  const cmd = new Command('run').description('task runs: inspect, and start or end them from an external execution backend');

  addDb(
    cmd
      .command('start')
      .description('mark a scheduled run started (it holds its type\'s lease)')
      .argument('<backendId>', 'the run\'s backend id')
      .option('--at <instant>', 'when it started (default now)', instantArg)
      .option('--worker <id>', 'who runs it (default "external"; at most 200 characters)', workerIdArg)
      .option('--metadata <json>', 'JSON object shallow-merged into the run\'s metadata', jsonObjectArg)
      .option('--json', 'print the run as JSON'),
  ).action(async (backendId: string, o: DbOpts & { at?: Date; worker?: string; metadata?: Record<string, unknown>; json?: boolean }) => {
    const run = await withOrrery(o, (orrery) =>
      orrery.startRun(backendId, { ...(o.at ? { at: o.at } : {}), ...(o.worker ? { worker: o.worker } : {}), ...(o.metadata ? { metadata: o.metadata } : {}) }),
    );
    if (o.json) return printJson(io, run);
    io.out(`run ${run.backendId} started at ${iso(run.started)} by ${run.worker}, lease until ${iso(run.leaseExpiresAt)}\n`);
  });

  addDb(
    cmd
      .command('end')
      .description('end a run and apply the end-of-run formula to its task')
      .argument('<backendId>', 'the run\'s backend id')
      .addOption(new Option('--status <status>', 'how it ended').choices(RUN_END_STATUSES).makeOptionMandatory())
      .option('--at <instant>', 'when it ended (default now)', instantArg)
      .option('--metadata <json>', 'JSON object shallow-merged into the run\'s metadata', jsonObjectArg)
      .option('--result <json>', 'the run\'s result (JSON)', jsonArg)
      .option('--error <text>', 'error text of a failed run')
      .option('--worker <id>', 'only end it if this worker holds it (default: end it whoever holds it)', nonEmptyArg)
      .option('--retry-after <duration>', 'failed: retry after this delay instead of the type\'s retry delay', durationArg)
      .option('--throttle', 'the work met pressure downstream: the rate of the run\'s type (or key) drops (docs/limits.md#adaptive-limits)')
      .option('--json', 'print the run and its task as JSON'),
  ).action(
    async (
      backendId: string,
      o: DbOpts & { status: RunEndStatus; worker?: string; at?: Date; metadata?: Record<string, unknown>; result?: { value: unknown }; error?: string; retryAfter?: number; throttle?: boolean; json?: boolean },
    ) => {
      if (o.retryAfter !== undefined && o.status !== 'failed') throw new UsageError('--retry-after only applies to --status failed');
      const r = await withOrrery(o, (orrery) =>
        orrery.endRun(backendId, {
          status: o.status,
          ...(o.worker !== undefined ? { worker: o.worker } : {}),
          ...(o.at ? { at: o.at } : {}),
          ...(o.metadata ? { metadata: o.metadata } : {}),
          ...(o.result !== undefined ? { result: o.result.value } : {}),
          ...(o.error !== undefined ? { error: o.error } : {}),
          ...(o.retryAfter !== undefined ? { retryAfterMs: o.retryAfter } : {}),
          ...(o.throttle ? { throttle: true } : {}),
        }),
      );
      if (o.json) return printJson(io, { run: r.run, task: r.task, taskUpdated: r.taskUpdated, ...(r.note ? { note: r.note } : {}) });
      io.out(`run ${r.run.backendId} ended ${r.run.status} at ${iso(r.run.ended)}\n`);
      if (!r.taskUpdated) io.out(`note: ${r.note}\n`);
      else {
        const t = r.task;
        io.out(
          `task ${t.id}: ${t.status}${t.disabledReason ? ` (${t.disabledReason})` : ''}, next run ${iso(t.nextRun)}, interval ${dur(t.currentIntervalMs)}, retries left ${t.retriesLeft}\n`,
        );
      }
    },
  );

  addDb(
    cmd
      .command('cancel')
      .description('cancel a run: a waiting one (scheduled, or claimed in a worker buffer) ends lost (cancelled) at once; a started one is stopped by its worker and ends failed (cancelled)')
      .argument('<backendId>', 'the run\'s backend id')
      .option('--at <instant>', 'when (default now)', instantArg)
      .option('--json', 'print the outcome, the run and its task as JSON'),
  ).action(async (backendId: string, o: DbOpts & { at?: Date; json?: boolean }) => {
    const r = await withOrrery(o, (orrery) => orrery.cancelRun(backendId, o.at ? { at: o.at } : {}));
    if (o.json) return printJson(io, r);
    if (r.outcome === 'ended') io.out(`run ${r.run.backendId} cancelled: ended ${r.run.status} (${r.run.error}); task ${r.task.id} ${r.task.status}\n`);
    else io.out(`run ${r.run.backendId} is running on ${r.run.worker}: asked it to stop (it ends failed, cancelled)\n`);
  });

  addDb(cmd.command('show').description('a run and its log records').argument('<backendId>', 'the run\'s backend id').option('--json', 'print JSON')).action(
    async (backendId: string, o: DbOpts & { json?: boolean }) => {
      const found = await withOrrery(o, async (orrery) => {
        const run = await orrery.getRun(backendId);
        return run ? { ...run, logs: await orrery.getRunLogs(backendId) } : null;
      });
      if (!found) throw new UsageError(`BACKEND_ID: run ${shown(backendId)} not found`);
      if (o.json) return printJson(io, found);
      printRuns(io, [found]);
      if (found.error) io.out(`\nerror:\n${found.error}\n`);
      if (found.result !== null) io.out(`\nresult: ${JSON.stringify(found.result)}\n`);
      if (Object.keys(found.metadata).length > 0) io.out(`metadata: ${JSON.stringify(found.metadata)}\n`);
      io.out(`\nlog (${found.logs.length} record${found.logs.length === 1 ? '' : 's'}):\n`);
      for (const l of found.logs) io.out(logLine(l));
    },
  );
  addDb(
    cmd
      .command('list')
      .description('runs across tasks, newest first (by ended when every --status is final, else by creation), one page at a time')
      .addOption(new Option('--status <status...>', `only these statuses (${RUN_STATUSES.join(', ')}); commas also separate`))
      .option('--type <name>', 'only runs of this task type')
      .option('--worker <id>', 'only runs of this worker')
      .option('--since <instant>', 'runs ended (all statuses final) or scheduled (otherwise) at or after this instant', instantArg)
      .option('--until <instant>', '... before this instant', instantArg)
      .option('--limit <n>', `runs per page, 1 to ${MAX_RUN_PAGE} (default ${DEFAULT_RUN_PAGE})`, positiveIntArg)
      .option('--cursor <cursor>', 'continue after the page that printed it (same filters)')
      .option('--json', "print a JSON array of runs (the next page's cursor, if any, goes to stderr as a `more:` line)"),
  ).action(
    async (o: DbOpts & { status?: string[]; type?: string; worker?: string; since?: Date; until?: Date; limit?: number; cursor?: string; json?: boolean }) => {
      const page = await withOrrery(o, async (orrery) => {
        if (o.type !== undefined) await requireTypes(orrery, '--type', [o.type]);
        return orrery.searchRuns({
          ...(o.status ? { status: o.status.flatMap((x) => x.split(',')) } : {}),
          ...(o.type !== undefined ? { type: o.type } : {}),
          ...(o.worker !== undefined ? { worker: o.worker } : {}),
          ...(o.since ? { since: o.since } : {}),
          ...(o.until ? { until: o.until } : {}),
          ...(o.limit !== undefined ? { limit: o.limit } : {}),
          ...(o.cursor !== undefined ? { cursor: o.cursor } : {}),
        });
      });
      if (o.json) {
        printJson(io, page.runs);
        if (page.nextCursor) io.err(`more: orrery run list ... --cursor ${page.nextCursor}\n`);
        return;
      }
      if (page.runs.length === 0) return io.out(o.cursor ? 'no more runs\n' : 'no run matches\n');
      printRuns(io, page.runs);
      if (page.nextCursor) io.out(`\nmore: orrery run list ... --cursor ${page.nextCursor}\n`);
    },
  );
  cmd.addCommand(runLogsCommand(io));
  return cmd;
}
