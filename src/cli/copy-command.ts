import { Command } from 'commander';
import { ConflictError, ValidationError } from '../core/errors.js';
import { copySqliteToPostgres, type CopyProgress, type CopySummary } from '../store/copy/sqlite-to-postgres.js';
import { DEFAULT_DB_URL, sqlitePath } from '../store/open-store.js';
import { redactUrl } from '../store/redact-url.js';
import { addDb, instantArg, printJson, UsageError, type DbOpts, type Io } from './common.js';

interface CopyFlags extends DbOpts {
  to: string;
  ignoreWorkers?: boolean;
  at?: Date;
  json?: boolean;
}

/** A line on stderr for a table still being copied, at most this often. */
const PROGRESS_EVERY_MS = 5_000;

/** `orrery copy --to postgres://...`: a SQLite database into an empty PostgreSQL one (docs/cli.md#orrery-copy). */
export function copyCommand(io: Io): Command {
  return addDb(
    new Command('copy')
      .description('copy every row of the SQLite database (--db) into an empty PostgreSQL database, in one transaction (docs/operations.md#moving-from-sqlite-to-postgresql)')
      .requiredOption('--to <url>', 'the PostgreSQL database to fill (postgres://user:pass@host:port/db); migrated first, its Orrery tables must be empty')
      .option('--ignore-workers', 'copy even though a worker registered in the SQLite database was seen in the last 30 s (its later writes are not copied)')
      .option('--at <instant>', 'as if now were this instant, to tell whether a registered worker is alive', instantArg)
      .option('--json', 'print the summary as JSON'),
  ).action(async (o: CopyFlags) => {
    const from = o.db ?? (process.env.ORRERY_DB || DEFAULT_DB_URL);
    const source = o.db !== undefined ? '--db' : process.env.ORRERY_DB ? '$ORRERY_DB' : 'the default --db';
    const path = sqlitePath(from);
    if (path === null) throw new UsageError(`${source}: the copy reads a SQLite database, and ${redactUrl(from)} is not one (copy from sqlite:PATH to --to postgres://...)`);
    if (path === '' || path === ':memory:') throw new UsageError(`${source}: the copy reads a SQLite database file, not "${from}"`);
    let lastLine = 0;
    const progress = (p: CopyProgress): void => {
      if (o.json) return;
      if (p.done) {
        if (p.total > 0) io.err(`copied ${p.table}: ${p.copied.toLocaleString('en-US')} row${p.copied === 1 ? '' : 's'}\n`);
        lastLine = performance.now();
      } else if (performance.now() - lastLine >= PROGRESS_EVERY_MS) {
        io.err(`copying ${p.table}: ${p.copied.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} rows\n`);
        lastLine = performance.now();
      }
    };
    lastLine = performance.now();
    let summary: CopySummary;
    try {
      summary = await copySqliteToPostgres({
        sqlitePath: path,
        postgresUrl: o.to,
        ...(o.at ? { at: o.at } : {}),
        ...(o.ignoreWorkers ? { ignoreWorkers: true } : {}),
        onProgress: progress,
      });
    } catch (e) {
      // The library names its own options; here they are the command's.
      const field = e instanceof ValidationError && e.details.length === 1 ? e.details[0]!.path : '';
      if (field === 'sqlitePath' || field === 'postgresUrl') throw new UsageError(`${field === 'sqlitePath' ? source : '--to'}: ${e instanceof ValidationError ? e.details[0]!.message : ''}`);
      if (e instanceof ConflictError && e.details[0]?.path === 'ignoreWorkers') throw new ConflictError(`${e.message}: --ignore-workers copies anyway`, e.details);
      throw e;
    }
    if (o.json) return printJson(io, { from: redactUrl(from), to: redactUrl(o.to), ...summary });
    const tables = summary.tables.filter((t) => t.rows > 0).length;
    io.out(
      `copied ${summary.rows.toLocaleString('en-US')} row${summary.rows === 1 ? '' : 's'} of ${tables} table${tables === 1 ? '' : 's'} ` +
        `from ${path} to ${redactUrl(o.to)} (${(summary.durationMs / 1000).toFixed(1)} s)\n`,
    );
    if (summary.skippedTables.length > 0) {
      const n = summary.skippedTables.length;
      io.out(`left out ${n} table${n === 1 ? '' : 's'} that ${n === 1 ? 'is' : 'are'} not Orrery's: ${summary.skippedTables.join(', ')}\n`);
    }
    if (summary.heldRuns > 0) {
      io.out(
        `${summary.heldRuns} run${summary.heldRuns === 1 ? ' was' : 's were'} held by a worker (claimed or started): ` +
          'the reaper on PostgreSQL takes them back once their leases expire\n',
      );
    }
  });
}
