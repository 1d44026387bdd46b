import { oneLine } from '../core/terminal-text.js';
import { Command } from 'commander';
import type { Preview } from '../core/schedule-preview.js';
import type { Orrery } from '../engine/service.js';
import { previewOf, type BackfillProgress } from '../engine/schedule-service.js';
import type { DagRun } from '../store/dag-store.js';
import type { TaskBackfill } from '../store/schedule-store.js';
import { addDb, instantArg, iso, jsonObjectArg, parseId, positiveIntArg, printJson, table, UsageError, withOrrery, type DbOpts, type Io } from './common.js';

/** How often `--follow` looks at a backfill's progress. */
const FOLLOW_POLL_MS = 500;

interface JsonOpts extends DbOpts {
  json?: boolean;
}

/** `orrery schedule preview`: the next occurrences of a cron expression or rrule. */
export function scheduleCommands(io: Io): Command {
  const cmd = new Command('schedule').description('preview cron and rrule schedules');
  addDb(cmd.command('preview'))
    .description('the next occurrences of a cron expression (--cron, --tz) or an RFC 5545 rule (--rrule), in UTC and local time; DST changes marked')
    .option('--cron <expr>', 'a cron expression, e.g. "30 2 * * *"')
    .option('--tz <zone>', 'IANA time zone of --cron (default UTC)')
    .option('--rrule <rule>', 'an RFC 5545 rule (DTSTART;TZID=... and EXDATE lines allowed; \\n separates lines)')
    .option('--count <n>', 'how many occurrences (default 5, at most 1000)', positiveIntArg)
    .option('--from <instant>', 'the first occurrence is at or after this ISO 8601 instant (default now)')
    .option('--json', 'print JSON')
    // --db is accepted like on every command; a preview reads no database.
    .action(async (o: { cron?: string; tz?: string; rrule?: string; count?: number; from?: string; json?: boolean }) => {
      if ((o.cron === undefined) === (o.rrule === undefined)) throw new UsageError('give either --cron or --rrule');
      if (o.tz !== undefined && o.cron === undefined) throw new UsageError('--tz only applies to --cron');
      // A preview reads no database.
      const preview = previewOf({
        ...(o.cron !== undefined ? { cron: o.cron } : {}),
        ...(o.tz !== undefined ? { tz: o.tz } : {}),
        ...(o.rrule !== undefined ? { rrule: o.rrule.replace(/\\n/g, '\n') } : {}),
        ...(o.count !== undefined ? { count: o.count } : {}),
        ...(o.from !== undefined ? { from: o.from } : {}),
      }, new Date());
      if (o.json) return printJson(io, preview);
      printPreview(io, preview, false);
    });
  return cmd;
}

/** `orrery task next`, `task backfill`, `task backfills`, `task backfill-cancel`. */
export function addTaskScheduleCommands(cmd: Command, io: Io): void {
  addDb(
    cmd
      .command('next')
      .description("a task's next occurrences (the one its next run serves first), due instants with jitter, DST changes marked")
      .argument('<id>', 'task id')
      .option('--count <n>', 'how many (default 5, at most 1000)', positiveIntArg)
      .option('--at <instant>', "as if now were this instant (a late task's catch-up is planned from it)", instantArg)
      .option('--json', 'print JSON'),
  ).action(async (id: string, o: JsonOpts & { count?: number; at?: Date }) => {
    const preview = await withOrrery(o, (orrery) => orrery.schedules.next(parseId(id), { ...(o.count !== undefined ? { count: o.count } : {}), ...(o.at ? { at: o.at } : {}) }));
    if (o.json) return printJson(io, preview);
    if (preview.occurrences.length === 0) return io.out(`task ${preview.task} has no next run\n`);
    printPreview(io, preview, true);
  });

  addDb(
    cmd
      .command('backfill')
      .description('run every occurrence of a cron or rrule task in [--from, --to] once, in order, one at a time (the handler sees run.scheduledFor)')
      .argument('<id>', 'task id')
      .requiredOption('--from <instant>', 'first instant of the range (ISO 8601, included)')
      .requiredOption('--to <instant>', 'last instant of the range (ISO 8601, included, not in the future)')
      .option('--at <instant>', 'as if now were this instant (--to may not be after it; recorded as the creation time)', instantArg)
      .option('--follow', 'print each occurrence as its run ends, until the backfill is done (needs running workers)')
      .option('--json', 'print the backfill as JSON'),
  ).action(async (id: string, o: JsonOpts & { from: string; to: string; at?: Date; follow?: boolean }) => {
    const taskId = parseId(id);
    await withOrrery(o, async (orrery) => {
      const b = await orrery.schedules.backfill(taskId, { from: o.from, to: o.to }, o.at ? { at: o.at } : {});
      if (o.json && !o.follow) return printJson(io, b);
      // With --json, stdout holds the one JSON document: the progress lines go to stderr.
      const say = o.json ? (t: string) => io.err(t) : (t: string) => io.out(t);
      say(`backfill ${b.id} of task ${b.task}: ${b.total} occurrence${b.total === 1 ? '' : 's'} from ${iso(b.from)} to ${iso(b.to)}\n`);
      if (!o.follow) return say(`running; follow it with: orrery task backfills ${b.task}\n`);
      const done = await followBackfill(orrery, b, say);
      if (o.json) printJson(io, done);
    });
  });

  addDb(
    cmd.command('backfills').description("a task's backfills, newest first, with their progress").argument('<id>', 'task id').option('--json', 'print JSON'),
  ).action(async (id: string, o: JsonOpts) => {
    const list = await withOrrery(o, async (orrery) => Promise.all((await orrery.schedules.backfills(parseId(id))).map((b) => orrery.schedules.progress(b.id))));
    if (o.json) return printJson(io, list);
    if (list.length === 0) return io.out('no backfills\n');
    table(
      io,
      ['ID', 'STATUS', 'FROM', 'TO', 'ENDED', 'TOTAL', 'NEXT'],
      list.map((b) => [String(b.id), b.status, iso(b.from), iso(b.to), String(b.runs.filter((r) => r.ended !== null).length), String(b.total), iso(b.nextPoint)]),
    );
  });

  addDb(
    cmd
      .command('backfill-cancel')
      .description('stop a running backfill (a run already made finishes)')
      .argument('<backfill>', 'backfill id')
      .option('--at <instant>', 'as if now were this instant (recorded as the cancellation time)', instantArg)
      .option('--json', 'print JSON'),
  ).action(async (id: string, o: JsonOpts & { at?: Date }) => {
    const b = await withOrrery(o, (orrery) => orrery.schedules.cancelBackfill(parseId(id, 'BACKFILL', 'backfill id'), o.at ? { at: o.at } : {}));
    if (o.json) return printJson(io, b);
    io.out(`backfill ${b.id} of task ${b.task} cancelled\n`);
  });
}

/** `orrery dag backfill`, `dag next`. */
export function addDagScheduleCommands(cmd: Command, io: Io): void {
  addDb(
    cmd
      .command('backfill')
      .description("a run per schedule point in [--from, --to], started in order within the DAG's limit (trigger backfill)")
      .argument('<id>', 'DAG id')
      .requiredOption('--from <instant>', 'first instant of the range (ISO 8601, included)')
      .requiredOption('--to <instant>', 'last instant of the range (ISO 8601, included, not in the future)')
      .option('--params <json>', 'a JSON object every task of these runs sees', jsonObjectArg)
      .option('--follow', 'print each run as it ends, until all have ended (needs a running scheduler and workers)')
      .option('--json', 'print the runs as JSON'),
  ).action(async (id: string, o: JsonOpts & { from: string; to: string; params?: Record<string, unknown>; follow?: boolean }) => {
    await withOrrery(o, async (orrery) => {
      const runs = await orrery.dags.backfill(id, { from: o.from, to: o.to, ...(o.params ? { params: o.params } : {}) });
      const say = o.json ? (t: string) => io.err(t) : (t: string) => io.out(t); // with --json, stdout holds the one JSON document
      if (!o.json || o.follow) say(`backfill of DAG ${id}: ${runs.length} run${runs.length === 1 ? '' : 's'} (${runs[0]!.id}..${runs.at(-1)!.id}) from ${iso(runs[0]!.execTs)} to ${iso(runs.at(-1)!.execTs)}\n`);
      // A paused DAG starts none of them: say so rather than wait without a word (on stderr with --json).
      const { paused } = await orrery.dags.get(id, 0);
      if (paused) say(`DAG ${id} is paused (${paused.reason ? oneLine(paused.reason) : 'no reason given'}): these runs start once it is resumed (orrery dag resume ${id})\n`);
      if (o.follow) {
        const ended = await followDagRuns(orrery, runs, say);
        if (o.json) printJson(io, ended);
      } else if (o.json) printJson(io, runs);
    });
  });

  addDb(
    cmd
      .command('next')
      .description("a DAG's next schedule points, in UTC and local time, DST changes marked")
      .argument('<id>', 'DAG id')
      .option('--count <n>', 'how many (default 5, at most 1000)', positiveIntArg)
      .option('--json', 'print JSON'),
  ).action(async (id: string, o: JsonOpts & { count?: number }) => {
    const preview = await withOrrery(o, (orrery) => orrery.dags.next(id, o.count !== undefined ? { count: o.count } : {}));
    if (o.json) return printJson(io, preview);
    if (preview.occurrences.length === 0) return io.out(`DAG ${id} has no next schedule point\n`);
    printPreview(io, preview, false);
  });
}

function printPreview(io: Io, p: Preview, due: boolean): void {
  io.out(`zone ${p.zone}\n`);
  table(
    io,
    due ? ['UTC', 'LOCAL', 'DUE', 'DST'] : ['UTC', 'LOCAL', 'DST'],
    p.occurrences.map((o) => (due ? [iso(o.at), o.local, iso(o.due), o.dst ?? '-'] : [iso(o.at), o.local, o.dst ?? '-'])),
  );
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Prints each backfilled occurrence as its run ends; returns the backfill once it is no longer running. */
async function followBackfill(orrery: Orrery, b: TaskBackfill, say: (line: string) => void): Promise<BackfillProgress> {
  const printed = new Set<number>();
  for (;;) {
    const p = await orrery.schedules.progress(b.id);
    for (const r of p.runs) {
      if (r.ended === null || printed.has(r.id)) continue;
      printed.add(r.id);
      say(`${iso(r.scheduledFor)}  ${r.status}  (${printed.size}/${p.total})\n`);
    }
    if (p.status !== 'running') {
      say(`backfill ${p.id} ${p.status}: ${printed.size} of ${p.total} occurrences ran\n`);
      return p;
    }
    await sleep(FOLLOW_POLL_MS);
  }
}

/** Prints each backfilled DAG run as it ends; returns the runs once all have ended. */
async function followDagRuns(orrery: Orrery, runs: readonly DagRun[], say: (line: string) => void): Promise<DagRun[]> {
  const open = new Map(runs.map((r) => [r.id, r]));
  const done: DagRun[] = [];
  while (open.size > 0) {
    for (const id of [...open.keys()]) {
      const r = (await orrery.dags.run(id)) as DagRun;
      if (r.status !== 'success' && r.status !== 'failed') continue;
      open.delete(id);
      done.push(r);
      say(`run ${r.id}  ${iso(r.execTs)}  ${r.status}  (${done.length}/${runs.length})\n`);
    }
    if (open.size > 0) await sleep(FOLLOW_POLL_MS);
  }
  return done;
}
