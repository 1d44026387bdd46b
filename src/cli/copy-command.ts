import { Command } from 'commander';
import { ConflictError, ValidationError } from '../core/errors.js';
import { copyPostgresToSqlite } from '../store/copy/postgres-to-sqlite.js';
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

/**
 * `orrery copy --to URL`: a SQLite database into an empty PostgreSQL one, or a PostgreSQL database
 * into an empty SQLite file (docs/cli.md#copy).
 */
export function copyCommand(io: Io): Command {
  return addDb(
    new Command('copy')
      .description('copy every Orrery row of the SQLite database (--db) into an empty PostgreSQL database, or of a PostgreSQL one into an empty SQLite file, in one transaction (docs/operations.md#moving-from-sqlite-to-postgresql)')
      .requiredOption('--to <url>', 'the database to fill: postgres://user:pass@host:port/db from SQLite (migrated first), sqlite:PATH from PostgreSQL (created if missing); its Orrery tables must be empty')
      .option('--ignore-workers', 'copy even though a worker registered in the source database was seen in the last 30 s (its later writes are not copied)')
      .option('--at <instant>', 'as if now were this instant, to tell whether a registered worker is alive', instantArg)
      .option('--json', 'print the summary as JSON'),
  ).action(async (o: CopyFlags) => {
    const from = o.db ?? (process.env.ORRERY_DB || DEFAULT_DB_URL);
    const source = o.db !== undefined ? '--db' : process.env.ORRERY_DB ? '$ORRERY_DB' : 'the default --db';
    const fromPath = sqlitePath(from);
    const toPath = sqlitePath(o.to);
    const toSqlite = fromPath === null && /^postgres(ql)?:\/\//.test(from);
    if (fromPath === null && !toSqlite) throw new UsageError(`${source}: ${redactUrl(from)} is neither a SQLite file nor a PostgreSQL database (copy goes from sqlite:PATH to postgres://... or back)`);
    if (fromPath === '' || fromPath === ':memory:') throw new UsageError(`${source}: the copy reads a SQLite database file, not "${from}"`);
    if (toSqlite && toPath === null) throw new UsageError(`--to: from PostgreSQL the copy fills a SQLite file (sqlite:PATH), not "${redactUrl(o.to)}"`);
    if (toSqlite && (toPath === '' || toPath === ':memory:')) throw new UsageError(`--to: the copy fills a SQLite database file, not "${o.to}"`);
    if (!toSqlite && toPath !== null) throw new UsageError(`--to: from SQLite the copy fills a PostgreSQL database (postgres://...), not "${o.to}"`);
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
    const common = { ...(o.at ? { at: o.at } : {}), ...(o.ignoreWorkers ? { ignoreWorkers: true } : {}), onProgress: progress };
    let summary: CopySummary;
    try {
      summary = toSqlite
        ? await copyPostgresToSqlite({ postgresUrl: from, sqlitePath: toPath!, ...common })
        : await copySqliteToPostgres({ sqlitePath: fromPath!, postgresUrl: o.to, ...common });
    } catch (e) {
      // The library names its own options; here they are the command's.
      const field = e instanceof ValidationError && e.details.length === 1 ? e.details[0]!.path : '';
      if (field === 'sqlitePath' || field === 'postgresUrl') {
        const isSource = (field === 'sqlitePath') !== toSqlite;
        throw new UsageError(`${isSource ? source : '--to'}: ${e instanceof ValidationError ? e.details[0]!.message : ''}`);
      }
      if (e instanceof ConflictError && e.details[0]?.path === 'ignoreWorkers') throw new ConflictError(`${e.message}: --ignore-workers copies anyway`, e.details);
      throw e;
    }
    if (o.json) return printJson(io, { from: redactUrl(from), to: redactUrl(o.to), ...summary });
    const tables = summary.tables.filter((t) => t.rows > 0).length;
    io.out(
      `copied ${summary.rows.toLocaleString('en-US')} row${summary.rows === 1 ? '' : 's'} of ${tables} table${tables === 1 ? '' : 's'} ` +
        `from ${fromPath ?? redactUrl(from)} to ${toPath ?? redactUrl(o.to)} (${(summary.durationMs / 1000).toFixed(1)} s)\n`,
    );
    if (summary.skippedTables.length > 0) {
      const n = summary.skippedTables.length;
      const what = `${n} table${n === 1 ? '' : 's'} that ${n === 1 ? 'is' : 'are'} not Orrery's: ${summary.skippedTables.join(', ')}`;
      io.out(toSqlite ? `left alone ${what} (in the SQLite file)\n` : `left out ${what}\n`);
    }
    if (summary.heldRuns > 0) {
      io.out(
        `${summary.heldRuns} run${summary.heldRuns === 1 ? ' was' : 's were'} held by a worker (claimed or started): ` +
          `the reaper on ${toSqlite ? 'the SQLite file' : 'PostgreSQL'} takes them back once their leases expire\n`,
      );
    }
  });
}
