import { Command } from 'commander';
import { formatDuration } from '../core/durations.js';
import { statusReport } from '../engine/status.js';
import { addDb, boundedIntArg, instantArg, printJson, requireTypes, table, withOrrery, type DbOpts, type Io } from './common.js';

interface StatusOpts extends DbOpts {
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
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--json', 'print the report as JSON'),
  ).action(async (o: StatusOpts) => {
    const report = await withOrrery(o, async (orrery) => {
      if (o.type) await requireTypes(orrery, '--type', o.type);
      return statusReport(orrery, { ...(o.at ? { at: o.at } : {}), ...(o.minutes !== undefined ? { minutes: o.minutes } : {}), ...(o.type ? { types: o.type } : {}) });
    });
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
  });
}
