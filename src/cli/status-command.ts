import { Command } from 'commander';
import { formatDuration } from '../core/durations.js';
import { ValidationError } from '../core/errors.js';
import { assembleStatus, statusReport, type StatusReport } from '../engine/status.js';
import { OrreryClient } from '../http/client.js';
import { addDb, boundedIntArg, envToken, instantArg, printJson, serverUrlArg, table, tokenArg, UsageError, withOrrery, type DbOpts, type Io } from './common.js';

interface StatusOpts extends DbOpts {
  url?: string;
  token?: string;
  type?: string[];
  minutes?: number;
  at?: Date;
  json?: boolean;
}

/** `orrery status`: every task type's queue, backlog and recent ends, and the workers by liveness (docs/cli.md#status). */
export function statusCommand(io: Io): Command {
  return addDb(
    new Command('status')
      .description("each task type's queue (waiting, claimed, running), due backlog, dead letters and runs ended in the last --minutes, and the workers by liveness")
      .option('-t, --type <name...>', 'only these types')
      .option('--minutes <n>', 'the window of ended runs and of the workers counted, 1 to 1440 minutes (default 60)', boundedIntArg(1, 1440))
      .option('--at <instant>', 'as if now were this instant (not with --url)', instantArg)
      .option('--url <url>', 'read it from a running `orrery serve` (its dashboard routes) instead of opening the database', serverUrlArg)
      .option('--token <token>', 'API bearer token for --url (default $ORRERY_API_TOKEN)', tokenArg)
      .option('--json', 'print the report as JSON'),
  ).action(async (o: StatusOpts) => {
    if (o.url !== undefined && o.db !== undefined) throw new UsageError('--url and --db cannot be combined');
    if (o.url !== undefined && o.at !== undefined) throw new UsageError('--at cannot be combined with --url (the server uses its clock)');
    if (o.token !== undefined && o.url === undefined) throw new UsageError('--token: needs --url (it is sent to the server; a database given by --db needs none)');
    const report =
      o.url !== undefined
        ? await remoteStatus(o.url, o.token ?? envToken(), o.minutes ?? 60, o.type)
        : await withOrrery(o, (orrery) => statusReport(orrery, { ...(o.at ? { at: o.at } : {}), ...(o.minutes !== undefined ? { minutes: o.minutes } : {}), ...(o.type ? { types: o.type } : {}) }));
    requireNamed(report, o.type);
    if (o.json) return printJson(io, report);
    // An age to the second (to the millisecond under one).
    const age = (d: Date | null) => {
      if (d === null) return '-';
      const ms = Math.max(0, report.at.getTime() - d.getTime());
      return formatDuration(ms < 1000 ? ms : Math.round(ms / 1000) * 1000);
    };
    if (report.types.length === 0) io.out('no task types yet (create one with: orrery task-type add NAME)\n');
    else {
      table(
        io,
        ['TYPE', 'STATE', 'WAITING', 'CLAIMED', 'RUNNING', 'OLDEST WAITING', 'DUE', 'OLDEST DUE', 'DEAD LETTERS', 'PAUSED TASKS', `ENDED ${report.minutes}m OK/FAILED/LOST`],
        report.types.map((t) => [
          t.type,
          t.paused ? 'paused' : 'running',
          String(t.waiting),
          String(t.claimed),
          String(t.running),
          age(t.oldestWaiting),
          t.due >= 100_000 ? '100000+' : String(t.due),
          age(t.oldestDue),
          String(t.deadLettered),
          String(t.pausedTasks),
          `${t.ended.eventful + t.ended.uneventful}/${t.ended.failed + t.ended.permfailed}/${t.ended.lost}`,
        ]),
      );
    }
    const w = report.workers;
    io.out(`workers seen in the last ${report.minutes} minutes: ${w.alive} alive, ${w.stale} stale, ${w.gone} gone, ${w.stopped} stopped\n`);
    const a = report.alerts;
    io.out(`alerts waiting to be delivered: ${a.waiting}${a.waiting > 0 ? ` (${a.failing} failing; the oldest from ${age(a.oldest)} ago)` : ''}\n`);
  });
}

/** The same report from a running server: its task types and the dashboard's readings, at its own clock. */
async function remoteStatus(url: string, token: string | null, minutes: number, names: string[] | undefined): Promise<StatusReport> {
  const client = new OrreryClient(url, token);
  try {
    const [types, queues, due, rates, workers, alerts] = await Promise.all([
      client.listTaskTypes(names),
      client.stats.queues(),
      client.stats.due(),
      client.stats.runRates(minutes),
      client.stats.workers(minutes),
      client.stats.alerts(),
    ]);
    // The server's instant: the run rates' `at` ends their last whole minute, later than the reading.
    const { at, ...waiting } = alerts;
    return assembleStatus({ at, minutes, types, queues, due, rates: rates.rates, workers, alerts: waiting });
  } catch (e) {
    // Answers of another shape (a server that answers JSON but is not Orrery): said, not a bare TypeError.
    if (e instanceof TypeError && !(e as { cause?: unknown }).cause) throw new Error(`orrery server ${url} did not answer as an Orrery server does (${e.message}): is the URL an Orrery server's?`);
    throw e;
  } finally {
    client.close();
  }
}

/** Each --type names a task type the report found (the types are read once, with the report). */
function requireNamed(report: StatusReport, names: readonly string[] | undefined): void {
  const missing = (names ?? []).find((n) => !report.types.some((t) => t.type === n));
  if (missing !== undefined) throw new ValidationError(`--type: unknown task type "${missing}"`, [{ path: '--type', message: `unknown task type "${missing}"` }]);
}
