import { Command, InvalidArgumentError, Option } from 'commander';
import { MAX_DURATION_MS } from '../core/duration-limit.js';
import { ValidationError } from '../core/errors.js';
import { readArchiveFile, type ArchiveRecord } from '../engine/archive-file.js';
import { archivedCounts as counted, MAX_ARCHIVE_BATCH, type ArchiveSummary } from '../engine/archiving.js';
import { addDb, durationArg, instantArg, isStandIn, iso, nonNegativeIntArg, parseId, positiveIntArg, printJson, table, UsageError, withOrrery, type DbOpts, type Io } from './common.js';

/** `serve --retention`: a duration of at least one second and at most 100 years (core MAX_DURATION_MS). */
export const retentionArg = (v: string): number => {
  const ms = durationArg(v);
  if (ms < 1000) throw new InvalidArgumentError('must be at least 1s');
  if (ms > MAX_DURATION_MS) throw new InvalidArgumentError('must be at most 100 years (36500d)');
  return ms;
};

interface ArchiveOpts extends DbOpts {
  before?: Date;
  to?: string;
  table?: boolean;
  batch?: number;
  at?: Date;
  json?: boolean;
  quiet?: boolean;
}

interface ReadOpts extends DbOpts {
  task?: string;
  kind?: 'run' | 'task';
  after?: number;
  limit?: number;
  json?: boolean;
}

/** Records read from the archive tables per query when no --limit is given (all are printed, page after page). */
const READ_PAGE = 1000;

export function archiveCommands(io: Io): Command {
  // One command, not `archive` plus a `read` subcommand: commander would hand a subcommand's --db and
  // --json to the parent command, which defines them too.
  return addDb(
    new Command('archive')
      .usage('--before ISO [--to FILE.jsonl] [--table] [--batch N] [--json]\n       orrery archive read [FILE] [--task ID] [--json]')
      .description('move finished runs (with their logs) and finished one-shot tasks older than --before out of the live tables; `archive read` prints them back')
      .argument('[read]', '`read`: print archived runs and tasks instead of archiving')
      .argument('[file]', 'with read: a JSONL file written by --to (without it: the archive tables of --db)')
      .option('--before <instant>', 'archive runs ended before this ISO 8601 instant (required to archive)', instantArg)
      .option('--to <file>', 'append to this JSONL file (crash-safe; re-run after an interruption)')
      .option('--table', 'also copy into the archive tables (the default when --to is not given)')
      .option('--batch <n>', `runs per batch, one transaction each (default 1000, at most ${MAX_ARCHIVE_BATCH})`, positiveIntArg)
      .option('--at <instant>', 'as if now were this instant (recorded as the archiving time)', instantArg)
      .option('--quiet', 'no progress lines on stderr')
      .option('--task <id>', 'read: only this task and its runs')
      .addOption(new Option('--kind <kind>', 'read from the archive tables: only runs or only tasks (each has its own ids: --after and --limit need it)').choices(['run', 'task']))
      .option('--after <id>', 'read from the archive tables, with --kind: records with a larger id (the next page)', nonNegativeIntArg)
      .option('--limit <n>', 'read from the archive tables, with --kind: at most this many records, then a `more:` line on stderr if there may be more (default: all)', positiveIntArg)
      .option('--json', 'print JSON: the summary, or with read an array of records ({kind: "run", run, logs} and {kind: "task", task})'),
  ).action(async (action: string | undefined, file: string | undefined, o: ArchiveOpts & ReadOpts) => {
    if (action === undefined) return archive(io, o);
    if (action !== 'read') throw new UsageError(`unknown action "${action}" (did you mean \`orrery archive read ${action}\`?)`);
    const archiving = (['before', 'to', 'table', 'batch', 'at', 'quiet'] as const).filter((k) => o[k] !== undefined);
    if (archiving.length) throw new UsageError(`--${archiving[0]}: not an option of \`archive read\``);
    return read(io, file, o);
  });
}

async function archive(io: Io, o: ArchiveOpts): Promise<void> {
  if (o.before === undefined) throw new UsageError('--before is required (archive runs ended before this ISO 8601 instant)');
  if (o.batch !== undefined && o.batch > MAX_ARCHIVE_BATCH) throw new UsageError(`--batch: ${o.batch} is more than ${MAX_ARCHIVE_BATCH}`);
  const reading = (['task', 'kind', 'after', 'limit'] as const).filter((k) => (o as ReadOpts)[k] !== undefined);
  if (reading.length) throw new UsageError(`--${reading[0]}: only applies to \`archive read\``);
  const summary = await withOrrery(o, async (orrery) => {
    // A missing database answered as an empty one archives nothing: its --to file is not created (its tables stand in, in memory).
    const standIn = isStandIn(orrery) && o.to !== undefined;
    const done = await orrery
      .archive({
        before: o.before!,
        ...(o.to !== undefined && !standIn ? { to: o.to } : {}),
        ...(o.table || standIn ? { table: true } : {}),
        ...(o.batch !== undefined ? { batch: o.batch } : {}),
        ...(o.at ? { at: o.at } : {}),
        ...(o.quiet ? {} : { onProgress: (p: ArchiveSummary) => io.err(`archived ${counted(p)} so far\n`) }),
      })
      .catch((e: unknown) => {
        if (e instanceof ValidationError && e.details[0]?.path === 'to') throw new UsageError(`--to ${e.message}`);
        throw e;
      });
    return standIn ? { ...done, file: o.to!, table: o.table === true } : done;
  });
  if (o.json) return printJson(io, summary);
  const where = [summary.file, summary.table && 'the archive tables'].filter(Boolean).join(' and ');
  io.out(`archived ${counted(summary)} ended before ${iso(summary.before)} to ${where} in ${summary.batches} batch${summary.batches === 1 ? '' : 'es'} (${summary.durationMs} ms)${summary.alerts > 0 ? `; deleted ${summary.alerts} stored alert${summary.alerts === 1 ? '' : 's'}` : ''}\n`);
}

async function read(io: Io, file: string | undefined, o: ReadOpts): Promise<void> {
  const task = o.task !== undefined ? parseId(o.task, '--task') : undefined;
  // With a FILE, `--db` (given on every command by scripts, as ORRERY_DB is) is not used: no database is opened.
  if (file !== undefined && (o.after !== undefined || o.limit !== undefined || o.kind !== undefined)) throw new UsageError('--kind, --after and --limit apply to the archive tables, not to a FILE');
  if ((o.after !== undefined || o.limit !== undefined) && o.kind === undefined) {
    throw new UsageError('--after and --limit page one kind of record at a time (runs and tasks have ids of their own): add --kind run or --kind task');
  }
  const out = printer(io, o.json ?? false);
  if (file !== undefined) {
    try {
      // Read through once before printing anything: a bad line further on exits 2 with nothing on stdout
      // (not half a JSON array, or a table cut short). The second pass prints the records the first saw.
      let count = 0;
      for await (const r of readArchiveFile(file)) if (task === undefined || recordTask(r) === task) count += 1;
      if (count > 0) {
        for await (const r of readArchiveFile(file)) {
          if (task !== undefined && recordTask(r) !== task) continue;
          out.record(r);
          if (--count === 0) break;
        }
      }
    } catch (e) {
      if (e instanceof ValidationError) throw new UsageError(e.message);
      throw e;
    }
  } else {
    await withOrrery(o, async (orrery) => {
      const kinds = o.kind === undefined ? (['run', 'task'] as const) : [o.kind];
      for (const kind of kinds) {
        // One page with --limit (and a hint to the next), else every page until a short one.
        let after = o.after;
        let left = o.limit ?? Infinity;
        while (left > 0) {
          const filter = { ...(task !== undefined ? { task } : {}), ...(after !== undefined ? { afterId: after } : {}), limit: Math.min(left, READ_PAGE) };
          const ids: number[] = [];
          if (kind === 'run') {
            for (const r of await orrery.readArchivedRuns(filter)) {
              ids.push(r.run.id);
              out.record(JSON.parse(JSON.stringify({ kind: 'run', run: r.run, logs: r.logs })) as ArchiveRecord);
            }
          } else {
            for (const t of await orrery.readArchivedTasks(filter)) {
              ids.push(t.id);
              out.record(JSON.parse(JSON.stringify({ kind: 'task', task: t })) as ArchiveRecord);
            }
          }
          if (ids.length < filter.limit) break;
          after = ids[ids.length - 1]!;
          left -= ids.length;
          if (left === 0) io.err(`more: orrery archive read${task !== undefined ? ` --task ${task}` : ''} --kind ${kind} --after ${after} --limit ${o.limit}\n`);
        }
      }
    });
  }
  out.end();
}

function recordTask(r: ArchiveRecord): number {
  return r.kind === 'run' ? r.run.task : r.task.id;
}

/** Streams records: a JSON array, or a table (rows printed as they come, so large files print at once). */
function printer(io: Io, json: boolean) {
  let n = 0;
  const rows: string[][] = [];
  return {
    record(r: ArchiveRecord) {
      if (json) io.out(`${n === 0 ? '[\n' : ',\n'}${JSON.stringify(r)}`);
      else if (r.kind === 'run') rows.push(['run', String(r.run.id), String(r.run.task), String(r.run.type), String(r.run.status), String(r.run.ended ?? '-'), String(r.logs.length)]);
      else rows.push(['task', String(r.task.id), String(r.task.id), String(r.task.type), String(r.task.status), '-', '-']);
      n += 1;
      if (!json && rows.length >= 1000) flush();
    },
    end() {
      if (json) io.out(n === 0 ? '[]\n' : '\n]\n');
      else if (n === 0) io.out('no archived records\n');
      else flush();
    },
  };
  function flush() {
    if (rows.length) table(io, ['KIND', 'ID', 'TASK', 'TYPE', 'STATUS', 'ENDED', 'LOGS'], rows.splice(0));
  }
}
