import type { Command } from 'commander';
import type { OriginVisit, VisitMetricsSeries } from '../store/visit-history.js';
import { addDb, instantArg, iso, positiveIntArg, printJson, table, withOrrery, type DbOpts, type Io } from './common.js';

interface JsonOpt extends DbOpts {
  json?: boolean;
}

/** `orrery origin history` and `orrery origin metrics-history` (issue 9 item 5), added to the `origin` group. */
export function addVisitHistoryCommands(io: Io, origin: Command, listerIdArg: (v: string, what: string) => string): void {
  addDb(
    origin
      .command('history')
      .description("an origin's visits, newest first (each applied visit result; ignored late or duplicate ones are not kept)")
      .argument('<url>', 'origin URL')
      .argument('<visit-type>', 'visit type')
      .option('--limit <n>', 'at most this many (default 100)', positiveIntArg)
      .option('--before <instant>', 'only visits before this instant (the last AT printed: the next page)', instantArg)
      .option('--json', 'print a JSON array of {url, visitType, at, status, snapshot, eventful}'),
  ).action(async (url: string, visitType: string, o: JsonOpt & { limit?: number; before?: Date }) => {
    const visits = await withOrrery(o, (orrery) =>
      orrery.visits.getOriginVisits(url, visitType, { ...(o.limit !== undefined ? { limit: o.limit } : {}), ...(o.before ? { before: o.before } : {}) }),
    );
    if (o.json) return printJson(io, visits);
    printVisits(io, visits);
  });

  addDb(
    origin
      .command('metrics-history')
      .description('the metrics over time: one point per update-metrics and (lister, visit type), oldest first')
      .option('--lister <id>', 'only this lister')
      .option('--visit-type <type>', 'only this visit type')
      .option('--since <instant>', 'only points at or after this instant', instantArg)
      .option('--limit <n>', 'the last N points of each lister and visit type (default 1000)', positiveIntArg)
      .option('--json', 'print a JSON array of {listerId, visitType, points: [...]}'),
  ).action(async (o: JsonOpt & { lister?: string; visitType?: string; since?: Date; limit?: number }) => {
    if (o.lister !== undefined) listerIdArg(o.lister, '--lister');
    const series = await withOrrery(o, (orrery) =>
      orrery.visits.getMetricsHistory({
        ...(o.lister !== undefined ? { lister: o.lister } : {}),
        ...(o.visitType !== undefined ? { visitType: o.visitType } : {}),
        ...(o.since ? { since: o.since } : {}),
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
      }),
    );
    if (o.json) return printJson(io, series);
    printSeries(io, series);
  });
}

function printVisits(io: Io, visits: OriginVisit[]): void {
  if (visits.length === 0) return io.out('no visits recorded\n');
  table(io, ['AT', 'STATUS', 'SNAPSHOT', 'EVENTFUL'], visits.map((v) => [iso(v.at), v.status, v.snapshot ?? '-', v.eventful ? 'yes' : 'no']));
}

function printSeries(io: Io, series: VisitMetricsSeries[]): void {
  if (series.length === 0) return io.out('no metrics history (run `orrery origin update-metrics`)\n');
  table(
    io,
    ['LISTER', 'VISIT TYPE', 'AT', 'KNOWN', 'ENABLED', 'NEVER VISITED', 'PENDING CHANGES'],
    series.flatMap((s) =>
      s.points.map((p) => [s.listerId, s.visitType, iso(p.at), String(p.originsKnown), String(p.originsEnabled), String(p.originsNeverVisited), String(p.originsWithPendingChanges)]),
    ),
  );
}
