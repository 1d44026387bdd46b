import { Command } from 'commander';
import type { RunLogRecord, StoredRunLogRecord } from '../core/model.js';
import { addDb, intervalArg, iso, nonNegativeIntArg, UsageError, withOrrery, type DbOpts, type Io } from './common.js';
import { shown } from '../core/errors.js';
import { oneLine } from '../core/terminal-text.js';

/** Records read per query while catching up. */
const PAGE = 1000;
const DEFAULT_POLL_MS = 500;

/** Following was stopped by SIGINT or SIGTERM: the CLI exits 128 + the signal's number, printing nothing more. */
export class Interrupted extends Error {
  constructor(readonly exitCode: number) {
    super('interrupted');
  }
}

type LogsOpts = DbOpts & { follow?: boolean; after?: number; poll?: number; json?: boolean };

/** `orrery run logs BACKEND_ID [--follow]`: a run's log records, and with --follow the new ones until the run ends. */
export function runLogsCommand(io: Io): Command {
  return addDb(
    new Command('logs')
      .description("a run's log records; with --follow, new records as they reach the store, until the run ends")
      .argument('<backendId>', "the run's backend id")
      .option('-f, --follow', 'keep printing new records until the run has ended (exit 0), or until Ctrl-C')
      .option('--after <id>', 'only records after this record id (the `id` of --json output)', nonNegativeIntArg)
      .option('--poll <duration>', `with --follow: how often to look for new records (default ${DEFAULT_POLL_MS}ms)`, intervalArg)
      .option('--json', 'one JSON object per record and line (NDJSON), with its id'),
  ).action(async (backendId: string, o: LogsOpts) => {
    await withOrrery(o, async (orrery) => {
      const print = (l: StoredRunLogRecord) => io.out(o.json ? `${JSON.stringify(l)}\n` : logLine(l));
      const stop = o.follow ? interruption() : null;
      try {
        let after = o.after ?? 0;
        for (let first = true; ; first = false) {
          // The run is read before its records: a run seen ended has all its records in the store (a
          // worker sends them before the end), so the reads below find the last ones.
          const run = await orrery.getRun(backendId);
          if (!run) {
            if (first) throw new UsageError(`BACKEND_ID: run ${shown(backendId)} not found`);
            throw new Error(`run ${backendId} no longer exists (archived?)`);
          }
          for (;;) {
            const page = await orrery.getRunLogs(backendId, { after, limit: PAGE });
            for (const l of page) print(l);
            if (page.length > 0) after = page[page.length - 1]!.id;
            if (page.length < PAGE) break;
          }
          if (!stop || run.ended !== null) return;
          await stop.sleep(o.poll ?? DEFAULT_POLL_MS);
        }
      } finally {
        stop?.dispose();
      }
    });
  });
}

/** A log record as one line of text (as `orrery run show` prints it). */
export function logLine(l: RunLogRecord): string {
  const attrs = Object.keys(l.attributes).length ? ` ${JSON.stringify(l.attributes)}` : '';
  // One line a record: a message's own line breaks are shown as `\n`.
  return `${iso(l.at)} ${l.level.toUpperCase().padEnd(5)} ${oneLine(l.message)}${attrs}\n`;
}

/** Sleeps that SIGINT/SIGTERM cut short with `Interrupted` (the signals are the command's while it follows). */
function interruption(): { sleep(ms: number): Promise<void>; dispose(): void } {
  let signalled: Interrupted | null = null;
  let wake: (() => void) | null = null;
  const on = (code: number) => () => {
    if (signalled) process.exit(code); // a second signal while a read hangs: at once
    signalled = new Interrupted(code);
    wake?.();
  };
  const onInt = on(130);
  const onTerm = on(143);
  const onHup = on(129);
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  return {
    async sleep(ms) {
      if (!signalled) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
      }
      if (signalled) throw signalled;
    },
    dispose() {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    },
  };
}
