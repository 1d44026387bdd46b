import { Command } from 'commander';
import { addDb, boundedIntArg, iso, printJson, table, truncate, UsageError, withOrrery, type DbOpts, type Io } from './common.js';

/**
 * `orrery worker list [--minutes N] [--json]`: the workers of the registry and of the runs, with their
 * liveness (docs/operations.md#workers). A subcommand of `orrery worker`, whose options (`--db` aside)
 * it refuses: `worker list --handlers h.js` is a mistake, not a worker.
 */
export function workerListCommand(io: Io): Command {
  return addDb(
    new Command('list')
      .description('workers registered and seen in the last --minutes (stopped ones too), holding runs, or that ended runs then, with their liveness: alive, stale, gone, stopped')
      .option('--minutes <n>', 'the window, 1 to 1440 minutes (default 60)', boundedIntArg(1, 1440))
      .option('--json', 'print a JSON array (the shape of GET /api/workers)'),
  ).action(async (o: DbOpts & { minutes?: number; json?: boolean }, cmd: Command) => {
    // The parent `worker` command reads its own options (--db among them) wherever they are.
    const parent = cmd.parent!;
    const stray = parent.options.map((x) => x.attributeName()).filter((k) => k !== 'db' && parent.getOptionValueSource(k) === 'cli');
    if (stray.length > 0) throw new UsageError(`--${stray[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: not an option of worker list`);
    const db = o.db ?? (parent.opts() as DbOpts).db;
    const workers = await withOrrery(db !== undefined ? { db } : {}, (orrery) => orrery.listWorkers(o.minutes !== undefined ? { minutes: o.minutes } : {}));
    if (o.json) return printJson(io, workers);
    if (workers.length === 0) return io.out(`no worker seen in the last ${o.minutes ?? 60} minutes\n`);
    table(
      io,
      ['WORKER', 'LIVENESS', 'HOST', 'PID', 'RUNNING', 'CONCURRENCY', 'STARTED', 'LAST SEEN', 'TYPES'],
      workers.map((w) => [
        w.worker,
        w.liveness,
        w.host ?? '-',
        w.pid === null ? '-' : String(w.pid),
        String(w.running),
        w.concurrency === null ? '-' : String(w.concurrency),
        iso(w.startedAt),
        iso(w.lastSeen),
        w.types === null ? '-' : truncate(w.types.join(',') || '(none)', 60),
      ]),
    );
  });
}
