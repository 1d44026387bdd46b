import { Command } from 'commander';
import { describeStoredAlert } from '../engine/alert-sender.js';
import { addDb, boundedIntArg, printJson, table, withOrrery, type DbOpts, type Io } from './common.js';

interface AlertsOpts extends DbOpts {
  limit?: number;
  json?: boolean;
}

/** `orrery alerts`: the stored alerts waiting to be delivered (docs/cli.md#alerts). */
export function alertsCommand(io: Io): Command {
  return addDb(
    new Command('alerts')
      .description('the alerts (task and DAG) stored and not yet delivered, those a sender takes first first: what each reports, its tries and last error')
      .option('--limit <n>', 'at most this many, 1 to 10000 (default 100)', boundedIntArg(1, 10_000))
      .option('--json', 'print them as a JSON array'),
  ).action(async (o: AlertsOpts) => {
    const alerts = await withOrrery(o, (orrery) => orrery.store.alerts.listAlerts(o.limit ?? 100));
    if (o.json) return printJson(io, alerts);
    if (alerts.length === 0) return io.out('no alerts waiting to be delivered\n');
    table(
      io,
      ['ID', 'SOURCE', 'KIND', 'ALERT', 'RECORDED', 'TRIES', 'NEXT TRY', 'LAST ERROR'],
      alerts.map((a) => [
        String(a.id),
        a.source,
        a.alert.kind,
        describeStoredAlert(a).replace(/^(task|DAG) alert for /, ''),
        a.recorded.toISOString(),
        String(a.tries),
        a.nextTry.toISOString(),
        a.lastError === null ? '-' : oneLine(a.lastError),
      ]),
    );
  });
}

function oneLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}
