import { Argument, Command, Option } from 'commander';
import { BULK_ACTIONS, type BulkAction, type BulkResult } from '../core/bulk.js';
import { RUN_STATUSES } from '../core/model.js';
import type { BulkSelectionInput } from '../core/bulk.js';
import { addDb, instantArg, parseId, printJson, requireTypes, UsageError, withOrrery, type DbOpts, type Io } from './common.js';
import { addTaskFilters, taskFilterInput, type TaskFilterOpts } from './task-filters.js';
import { signalExitCode } from './held-signals.js';

interface BulkOpts extends DbOpts, TaskFilterOpts {
  ids?: number[];
  all?: boolean;
  runStatus?: string[];
  runType?: string;
  runWorker?: string;
  runSince?: Date;
  runUntil?: Date;
  nextRun?: Date;
  at?: Date;
  dryRun?: boolean;
  json?: boolean;
}

const PAST: Record<BulkAction, string> = { respawn: 'respawned', redrive: 'redriven', disable: 'disabled', cancel: 'cancelled', delete: 'deleted' };
const n = (x: number) => x.toLocaleString('en-US');

/** `orrery task bulk ACTION [filters] [--dry-run]`: a bulk action by filter (docs/operations.md#bulk-actions). */
export function addBulkCommand(parent: Command, io: Io): void {
  const cmd = parent
    .command('bulk')
    .description('act on every task a filter selects, in batches of 1,000 (respawn, redrive the dead-letter bin, disable, cancel, delete); --dry-run counts first')
    .addArgument(new Argument('<action>', 'respawn | redrive | disable | cancel | delete').choices(BULK_ACTIONS));
  addDb(
    addTaskFilters(cmd)
      .option('--ids <ids>', 'these tasks (comma-separated ids) instead of a filter', (v: string) => v.split(',').map((x) => parseId(x.trim(), '--ids')))
      .addOption(new Option('--run-status <status...>', `the tasks of runs with these statuses (${RUN_STATUSES.join(', ')}): retry failed runs`))
      .option('--run-type <type>', 'the tasks of runs of this type')
      .option('--run-worker <worker>', 'the tasks of runs of this worker')
      .option('--run-since <instant>', 'the tasks of runs ended (statuses all final) or scheduled at or after this instant', instantArg)
      .option('--run-until <instant>', '... before this instant', instantArg)
      .option('--all', 'every task (an action without a filter is refused otherwise)')
      .option('--next-run <instant>', 'respawn, redrive: when the tasks are due (default --at or now)', instantArg)
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--dry-run', 'count the tasks the action would take; change nothing')
      .option('--json', 'print the result as JSON'),
  ).action(async (action: BulkAction, o: BulkOpts) => {
    // Named as the option (the library names its own field, nextRun).
    if (o.nextRun && action !== 'respawn' && action !== 'redrive') throw new UsageError(`--next-run only applies to respawn and redrive (not ${action})`);
    const selection = selectionOf(o);
    const progress = new BulkProgress(io, action);
    // Interrupted, the command says what was done: the batches before are committed, the one in
    // progress is rolled back with the process.
    const interrupted = (signal: NodeJS.Signals) => {
      progress.interrupted(signal);
      process.exit(signalExitCode(signal));
    };
    for (const s of STOP_SIGNALS) process.once(s, interrupted);
    const result = await withOrrery(o, async (orrery) => {
      if (o.type !== undefined) await requireTypes(orrery, '--type', [o.type]);
      if (o.runType !== undefined) await requireTypes(orrery, '--run-type', [o.runType]);
      return orrery.bulkTasks(action, selection, {
        ...(o.at ? { at: o.at } : {}),
        ...(o.nextRun ? { nextRun: o.nextRun } : {}),
        ...(o.dryRun ? { dryRun: true } : {}),
        onProgress: (p) => progress.update(p),
      });
    }).finally(() => STOP_SIGNALS.forEach((s) => process.off(s, interrupted)));
    progress.end();
    if (o.json) return printJson(io, result);
    io.out(summary(result));
  });
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The selection the options name: task filters, --ids, --run-* filters or --all (one way only). */
function selectionOf(o: BulkOpts): BulkSelectionInput {
  const filter = taskFilterInput(o);
  const runs = {
    ...(o.runStatus ? { status: o.runStatus.flatMap((x) => x.split(',')) } : {}),
    ...(o.runType !== undefined ? { type: o.runType } : {}),
    ...(o.runWorker !== undefined ? { worker: o.runWorker } : {}),
    ...(o.runSince ? { since: o.runSince } : {}),
    ...(o.runUntil ? { until: o.runUntil } : {}),
  };
  const ways = [Object.keys(filter).length > 0 && 'task filters', o.ids && '--ids', Object.keys(runs).length > 0 && '--run-* filters', o.all && '--all'].filter(Boolean);
  if (ways.length === 0) throw new UsageError('choose the tasks: task filters (--type, --status, ...), --ids, --run-* filters, or --all');
  if (ways.length > 1) throw new UsageError(`choose the tasks one way only (${ways.join(' and ')} given)`);
  if (o.ids) return { ids: o.ids };
  if (Object.keys(runs).length > 0) return { runs };
  if (o.all) return { all: true };
  return { filter };
}

function summary(r: BulkResult): string {
  const tasks = (x: number) => `${n(x)} task${x === 1 ? '' : 's'}`;
  if (r.dryRun) return `${r.action} would take ${tasks(r.matched)} (dry run: nothing changed)\n`;
  const skipped = Object.entries(r.skipped);
  const left = skipped.reduce((a, [, c]) => a + c, 0);
  return (
    `${PAST[r.action]} ${tasks(r.changed)} of ${n(r.matched)} matched, in ${n(r.batches)} batch${r.batches === 1 ? '' : 'es'}` +
    (left > 0 ? `; left ${n(left)} alone (${skipped.map(([k, c]) => `${k}: ${n(c)}`).join(', ')})` : '') +
    '\n'
  );
}

/** Progress on stderr: on a terminal one line redrawn after each batch, otherwise a line every 5 s. */
class BulkProgress {
  private last = performance.now();
  private line = '';
  private shown = '';
  constructor(
    private readonly io: Io,
    private readonly action: BulkAction,
  ) {}

  update(p: BulkResult): void {
    const left = Object.values(p.skipped).reduce((a, c) => a + c, 0);
    this.line = p.dryRun ? `${this.action} (dry run): ${n(p.matched)} tasks counted` : `${this.action}: ${n(p.matched)} tasks read, ${n(p.changed)} ${PAST[this.action]}, ${n(left)} left alone`;
    const now = performance.now();
    if (this.io.errIsTty) this.io.err(`\r${this.line}\x1b[K`);
    else {
      if (now - this.last < 5000) return;
      this.io.err(`${this.line}\n`);
    }
    this.last = now;
    this.shown = this.line;
  }

  /** The line of a command stopped by `signal`: what the committed batches did. */
  interrupted(signal: NodeJS.Signals): void {
    const done = this.line === '' ? `${this.action}: no batch done` : this.line;
    this.io.err(`${this.io.errIsTty ? '\r\x1b[K' : ''}interrupted by ${signal}: ${done} (the batch in progress was rolled back); the same command again acts on what its selection still finds\n`);
  }

  end(): void {
    if (this.shown === '') return; // one quick batch: the summary says it all
    if (this.io.errIsTty) this.io.err(this.shown === this.line ? '\n' : `\r${this.line}\x1b[K\n`);
    else if (this.shown !== this.line) this.io.err(`${this.line}\n`);
  }
}
