import { Command, InvalidArgumentError, Option } from 'commander';
import { createReadStream } from 'node:fs';
import { ValidationError } from '../core/errors.js';
import { parseInstant } from '../core/instants.js';
import { VISIT_POLICIES, VISIT_STATUSES, checkGrabCount, usablePolicyWeights, validateCooldowns, type ListedOrigin, type Lister, type PolicyWeight, type VisitCooldowns, type VisitPolicy, type VisitStatus } from '../core/visits.js';
import type { VisitMetrics } from '../store/visit-store.js';
import { addVisitHistoryCommands } from './visit-history-commands.js';
import { LOOPS_STOP_MS, startPatiently, stoppedBeforeStart, stopWithin, watchSignals } from './daemon-lifecycle.js';
import type { LogFormat } from '../engine/logger.js';
import type { Orrery } from '../engine/service.js';
import { addDb, durationArg, hasEmptyName, inexactJsonProblem, instantArg, intervalArg, iso, jsonObjectArg, nonNegativeIntArg, numberArg, open, positiveCountArg, positiveIntArg, printJson, table, truncate, UsageError, withOrrery, type DbOpts, type Io } from './common.js';

/** `origin grab-next --count`: the library's rule (core checkGrabCount), named as the option. */
function grabCountArg(v: string): number {
  try {
    return checkGrabCount(/^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN);
  } catch (e) {
    throw new UsageError(`--count: ${(e as ValidationError).details[0]!.message}`);
  }
}

interface JsonOpt extends DbOpts {
  json?: boolean;
}

interface CooldownOpts {
  absoluteCooldown?: number;
  scheduledCooldown?: number;
  failedCooldown?: number;
  notFoundCooldown?: number;
}

/** `NAME=WEIGHT,...` policy weights, e.g. `oldest_scheduled_first=40,never_visited_oldest_update_first=40,origins_without_last_update=20`. */
export const policyWeightsArg = (v: string): PolicyWeight[] =>
  v.split(',').map((part) => {
    const m = /^\s*([a-z_]+)\s*(?:=\s*(\d+(?:\.\d+)?))?\s*$/.exec(part);
    if (!m || !(VISIT_POLICIES as readonly string[]).includes(m[1]!)) throw new InvalidArgumentError(`"${part}" is not POLICY[=WEIGHT] (policies: ${VISIT_POLICIES.join(', ')})`);
    const weight = m[2] === undefined ? 1 : Number(m[2]);
    if (!(weight > 0)) throw new InvalidArgumentError(`"${part}": the weight must be positive`);
    return { policy: m[1] as VisitPolicy, weight };
  });

/** A decimal fraction in (0, 1] (numberArg's decimals: "0x1" and "0b1" are no fractions). */
const fractionArg = (v: string): number => {
  let n: number;
  try {
    n = numberArg(v);
  } catch {
    n = NaN;
  }
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`"${v}" is not a fraction in (0, 1]`);
  return n;
};

/** Each cooldown's option. */
const COOLDOWN_OPTIONS: Record<keyof VisitCooldowns, string> = {
  absoluteMs: '--absolute-cooldown',
  scheduledMs: '--scheduled-cooldown',
  failedMs: '--failed-cooldown',
  notFoundMs: '--not-found-cooldown',
};

/** The cooldowns given, checked as the library checks them (at most 100 years), a refusal naming the option. */
function cooldownsOf(o: CooldownOpts): Partial<VisitCooldowns> {
  const c: Partial<VisitCooldowns> = {
    ...(o.absoluteCooldown !== undefined ? { absoluteMs: o.absoluteCooldown } : {}),
    ...(o.scheduledCooldown !== undefined ? { scheduledMs: o.scheduledCooldown } : {}),
    ...(o.failedCooldown !== undefined ? { failedMs: o.failedCooldown } : {}),
    ...(o.notFoundCooldown !== undefined ? { notFoundMs: o.notFoundCooldown } : {}),
  };
  try {
    validateCooldowns(c);
  } catch (e) {
    const detail = e instanceof ValidationError ? e.details[0] : undefined;
    const key = detail?.path.replace(/^cooldowns\./, '') as keyof VisitCooldowns | undefined;
    if (!detail || key === undefined || !(key in COOLDOWN_OPTIONS)) throw e;
    throw new UsageError(`${COOLDOWN_OPTIONS[key]}: ${detail.message}`);
  }
  return c;
}

function addCooldowns(cmd: Command): Command {
  return cmd
    .option('--absolute-cooldown <duration>', 'not again within this long after being scheduled (default 12h)', durationArg)
    .option('--scheduled-cooldown <duration>', 'not again within this long after being scheduled unless visited since (default 7d)', durationArg)
    .option('--failed-cooldown <duration>', 'not within this long after a failed visit (default 14d)', durationArg)
    .option('--not-found-cooldown <duration>', 'not within this long after a not_found visit (default 31d)', durationArg);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function listerIdArg(v: string, what = 'LISTER_ID'): string {
  if (!UUID.test(v)) throw new UsageError(`${what}: "${v}" is not a lister id (a UUID)`);
  return v;
}

export function visitCommands(io: Io): Command[] {
  return [listerCommands(io), originCommands(io), visitSchedulerCommand(io)];
}

function listerCommands(io: Io): Command {
  const cmd = new Command('lister').description('listers: the crawlers that list origins to visit');
  addDb(
    cmd
      .command('add')
      .description('get or create a lister instance')
      .argument('<name>', 'lister name (e.g. gitlab)')
      .option('--instance <name>', 'instance name (e.g. gitlab.com)', '')
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--json', 'print the lister as JSON'),
  ).action(async (name: string, o: JsonOpt & { instance: string; at?: Date }) => {
    const l = await withOrrery(o, (orrery) => orrery.visits.getOrCreateLister(name, o.instance, o.at ? { at: o.at } : {}));
    if (o.json) return printJson(io, l);
    io.out(`lister ${l.id} (${l.name}${l.instanceName ? `, ${l.instanceName}` : ''})\n`);
  });
  addDb(cmd.command('list').description('every lister').option('--json', 'print a JSON array')).action(async (o: JsonOpt) => {
    const listers = await withOrrery(o, (orrery) => orrery.visits.listListers());
    if (o.json) return printJson(io, listers);
    printListers(io, listers);
  });
  addDb(cmd.command('show').description('one lister, with its state').argument('<id>', 'lister id').option('--json', 'print JSON')).action(async (id: string, o: JsonOpt) => {
    const l = await withOrrery(o, (orrery) => orrery.visits.getLister(listerIdArg(id, 'ID')));
    if (!l) throw new UsageError(`ID: lister ${id} not found`);
    if (o.json) return printJson(io, l);
    printListers(io, [l]);
    io.out(`state: ${JSON.stringify(l.currentState)}\n`);
  });
  return cmd;
}

function originCommands(io: Io): Command {
  const cmd = new Command('origin').description('listed origins and their visits');
  addDb(
    cmd
      .command('record')
      .description('record listed origins (upsert by lister, url and visit type): one from arguments, or a JSONL file')
      .argument('<lister-id>', 'lister id')
      .argument('[url]', 'origin URL')
      .argument('[visit-type]', 'visit type (e.g. git)')
      .option('--last-update <instant>', 'when the origin last changed, as the lister saw it', instantArg)
      .option('--extra <json>', 'extra loader arguments (a JSON object)', jsonObjectArg)
      .option('--file <origins.jsonl>', 'one JSON object per line: {"url", "visitType", "lastUpdate"?, "extraLoaderArguments"?}; one bad line rejects the file')
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--json', 'print the recorded origins as JSON'),
  ).action(async (listerId: string, url: string | undefined, visitType: string | undefined, o: JsonOpt & { lastUpdate?: Date; extra?: Record<string, unknown>; file?: string; at?: Date }) => {
    listerIdArg(listerId);
    let inputs: Array<Record<string, unknown>>;
    // What names the i-th origin in an error: its line of --file, or nothing for the one of the arguments.
    let named: (i: number) => string = () => '';
    if (o.file !== undefined) {
      if (url !== undefined) throw new UsageError('--file: give either URL VISIT_TYPE or --file, not both');
      const read = await readOrigins(o.file);
      // A line may repeat the command's lister, not name another one (every line is recorded for it).
      for (const { origin, line } of read) {
        // Lister ids are UUIDs: the same one in another letter case is the same lister (the library takes either).
        if (origin.listerId !== undefined && (typeof origin.listerId !== 'string' || origin.listerId.toLowerCase() !== listerId.toLowerCase())) {
          throw new UsageError(`--file: line ${line}: listerId: ${JSON.stringify(origin.listerId)} is not the command's lister ${listerId} (leave it out: every line is recorded for ${listerId})`);
        }
      }
      inputs = read.map(({ origin }) => ({ ...origin, listerId }));
      named = (i) => `line ${read[i]?.line ?? '?'}`;
    } else {
      if (url === undefined || visitType === undefined) throw new UsageError('URL and VISIT_TYPE are required (or --file)');
      inputs = [{ listerId, url, visitType, ...(o.lastUpdate ? { lastUpdate: o.lastUpdate } : {}), ...(o.extra ? { extraLoaderArguments: o.extra } : {}) }];
    }
    const recorded = await withOrrery(o, (orrery) => orrery.visits.recordListedOrigins(inputs, o.at ? { at: o.at } : {})).catch((e: unknown) => {
      throw originNamed(e, named, o.file !== undefined);
    });
    if (o.json) return printJson(io, { origins: recorded }); // as POST /api/origins answers
    io.out(`recorded ${recorded.length} origin${recorded.length === 1 ? '' : 's'}\n`);
  });

  addDb(
    cmd
      .command('list')
      .description('listed origins, in insertion order (cursor pagination)')
      .option('--lister <id>', 'only this lister')
      .option('--visit-type <type>', 'only this visit type')
      .option('--url <url>', 'only this URL')
      .addOption(new Option('--enabled <bool>', 'only enabled (true) or disabled (false) origins').choices(['true', 'false']))
      .option('--limit <n>', 'at most this many (default 100)', positiveIntArg)
      .option('--page-token <token>', 'continue after the previous page (printed as nextPageToken)')
      .option('--json', 'print a JSON array (the next page\'s token, if any, goes to stderr as a `more:` line)'),
  ).action(async (o: JsonOpt & { lister?: string; visitType?: string; url?: string; enabled?: string; limit?: number; pageToken?: string }) => {
    if (o.lister !== undefined) listerIdArg(o.lister, '--lister');
    const page = await withOrrery(o, (orrery) =>
      orrery.visits.getListedOrigins({
        limit: o.limit ?? 100,
        ...(o.lister !== undefined ? { listerId: o.lister } : {}),
        ...(o.visitType !== undefined ? { visitType: o.visitType } : {}),
        ...(o.url !== undefined ? { url: o.url } : {}),
        ...(o.enabled !== undefined ? { enabled: o.enabled === 'true' } : {}),
        ...(o.pageToken !== undefined ? { pageToken: o.pageToken } : {}),
      }),
    );
    // A listing prints an array (SPEC §6.3); the token of the next page is not part of it.
    if (o.json) {
      printJson(io, page.origins);
      if (page.nextPageToken) io.err(`more: --page-token ${page.nextPageToken}\n`);
      return;
    }
    printOrigins(io, page.origins);
    if (page.nextPageToken) io.out(`more: --page-token ${page.nextPageToken}\n`);
  });

  addDb(
    addCooldowns(
      cmd
        .command('grab-next')
        .description('select the next origins to visit by policy and cooldowns, and mark them scheduled')
        .argument('<visit-type>', 'visit type')
        // Refused with the library's rule (docs/visits.md), whatever is wrong with it: `--count: must be an integer from 0 to 100000`.
        .requiredOption('--count <n>', 'at most this many origins (0 to 100000)', grabCountArg)
        .addOption(new Option('--policy <policy>', 'selection policy').choices(VISIT_POLICIES).makeOptionMandatory())
        .option('--lister <id>', 'only origins of this lister (required by first_visits_after_listing)')
        .option('--dry-run', 'select without marking them scheduled')
        .option('--at <instant>', 'as if now were this instant', instantArg)
        .option('--json', 'print a JSON array of listed origins'),
    ),
  ).action(async (visitType: string, o: JsonOpt & CooldownOpts & { count: number; policy: VisitPolicy; lister?: string; dryRun?: boolean; at?: Date }) => {
    if (o.lister !== undefined) listerIdArg(o.lister, '--lister');
    if (o.policy === 'first_visits_after_listing' && o.lister === undefined) throw new UsageError('--policy first_visits_after_listing needs --lister');
    const got = await withOrrery(o, (orrery) =>
      orrery.visits.grabNextVisits(visitType, o.count, o.policy, {
        cooldowns: cooldownsOf(o),
        ...(o.lister !== undefined ? { lister: o.lister } : {}),
        ...(o.dryRun ? { dryRun: true } : {}),
        ...(o.at ? { at: o.at } : {}),
      }),
    );
    if (o.json) return printJson(io, got);
    io.out(`${o.dryRun ? 'would grab' : 'grabbed'} ${got.length} origin${got.length === 1 ? '' : 's'}\n`);
    if (got.length) printOrigins(io, got);
  });

  addDb(
    cmd
      .command('visited')
      .description('record the result of a visit (older or duplicate results are ignored)')
      .argument('<url>', 'origin URL')
      .argument('<visit-type>', 'visit type')
      .addOption(new Option('--status <status>', 'how the visit ended').choices(VISIT_STATUSES).makeOptionMandatory())
      .option('--snapshot <id>', 'the snapshot a successful visit produced (a new one makes it eventful)')
      .option('--at <instant>', 'when the visit ended (default now)', instantArg)
      .option('--json', 'print {stats, applied, eventful, disabled} as JSON'),
  ).action(async (url: string, visitType: string, o: JsonOpt & { status: VisitStatus; snapshot?: string; at?: Date }) => {
    const r = await withOrrery(o, (orrery) => orrery.visits.recordVisit(url, visitType, o.status, o.snapshot ?? null, o.at ? { at: o.at } : {}));
    if (o.json) return printJson(io, r);
    if (!r.applied) return io.out(`ignored: a visit at or after ${iso(r.stats.lastVisit)} is already recorded\n`);
    io.out(`recorded ${o.status} visit${r.eventful ? ' (eventful)' : ''}; next position offset ${r.stats.nextPositionOffset}${r.disabled ? '; origin disabled after repeated failures' : ''}\n`);
  });

  addDb(
    cmd
      .command('metrics')
      .description('per lister and visit type: known, enabled, never visited, with pending changes, counted now (--stored: as of the last update-metrics)')
      .option('--lister <id>', 'only this lister')
      .option('--visit-type <type>', 'only this visit type')
      .option('--stored', 'print the metrics stored by the last update-metrics instead of counting (cheap at millions of origins)')
      .option('--json', 'print a JSON array'),
  ).action(async (o: JsonOpt & { lister?: string; visitType?: string; stored?: boolean }) => {
    if (o.lister !== undefined) listerIdArg(o.lister, '--lister');
    const m = await withOrrery(o, (orrery) =>
      orrery.visits.getMetrics({ ...(o.lister ? { lister: o.lister } : {}), ...(o.visitType ? { visitType: o.visitType } : {}), fresh: !o.stored }),
    );
    if (o.json) return printJson(io, m);
    printMetrics(io, m, !o.stored);
  });

  addDb(
    cmd
      .command('update-metrics')
      .description('recompute and store the metrics (reads every listed origin of the lister, or of all listers)')
      .option('--lister <id>', 'only this lister')
      .option('--at <instant>', 'as if now were this instant', instantArg)
      .option('--json', 'print a JSON array'),
  ).action(async (o: JsonOpt & { lister?: string; at?: Date }) => {
    if (o.lister !== undefined) listerIdArg(o.lister, '--lister');
    const m = await withOrrery(o, (orrery) => orrery.visits.updateMetrics({ ...(o.lister ? { lister: o.lister } : {}), ...(o.at ? { at: o.at } : {}) }));
    if (o.json) return printJson(io, m);
    printMetrics(io, m, true);
  });
  addVisitHistoryCommands(io, cmd, listerIdArg);
  return cmd;
}

function visitSchedulerCommand(io: Io): Command {
  return addDb(
    addCooldowns(
      new Command('visit-scheduler')
        .description('keep a queue of one-shot visit tasks per visit type filled by weighted policies, and record finished visits, until SIGINT/SIGTERM/SIGHUP')
        .requiredOption('--visit-types <types>', 'comma-separated visit types (each needs a task type of that name and a handler)')
        .option('--queue <n>', 'visits in flight per visit type, 1 to 2147483647 (default 1000)', positiveCountArg)
        .option('--policies <list>', 'POLICY=WEIGHT,... (default oldest_scheduled_first=40,never_visited_oldest_update_first=40,origins_without_last_update=20)', policyWeightsArg)
        .option('--lister <id>', 'only origins of this lister')
        .option('--refill <fraction>', 'refill a queue once this fraction of it is free (default 0.1)', fractionArg)
        .option('--max-sleep <duration>', 'poll interval for visits finished in other processes (default 5s)', intervalArg)
        .option('--metrics-every <duration>', 'recompute the visit metrics of every lister (appending to their history) this often; 0: never (default 15m)', durationArg)
        .option('--once', 'one pass (record finished visits, refill the queues), print what it did, exit')
        .option('--at <instant>', 'with --once: as if now were this instant', instantArg)
        .option('--json', 'with --once: print the pass as JSON')
        .addOption(new Option('--log-format <format>', 'the loop\'s log lines: pretty or JSON').choices(['pretty', 'json']).default('pretty')),
    ),
  ).action(
    async (o: JsonOpt & CooldownOpts & { logFormat: LogFormat; visitTypes: string; queue?: number; policies?: PolicyWeight[]; lister?: string; refill?: number; maxSleep?: number; metricsEvery?: number; once?: boolean; at?: Date }) => {
      if (o.lister !== undefined) listerIdArg(o.lister, '--lister');
      // Before the loop starts (its passes would each fail on it).
      if (o.policies) usablePolicyWeights(o.policies, o.lister !== undefined, '--policies');
      if (o.at && !o.once) throw new UsageError('--at only applies to --once');
      if (o.json && !o.once) throw new UsageError('--json only applies to --once (the loop logs; --once prints its pass)');
      const types = o.visitTypes.split(',').map((t) => t.trim()).filter(Boolean);
      if (types.length === 0) throw new UsageError('--visit-types: at least one visit type');
      if (hasEmptyName(o.visitTypes)) throw new UsageError(`--visit-types: "${o.visitTypes}" has an empty name between its commas (give comma-separated visit types, none empty)`);
      const twice = types.find((t, i) => types.indexOf(t) !== i);
      if (twice !== undefined) throw new UsageError(`--visit-types: "${twice}" is named twice (one queue per visit type)`);
      const { VisitScheduler } = await import('../engine/visit-scheduler.js');
      if (o.once) {
        const orrery = await open(o);
        try {
          const loop = new VisitScheduler(orrery, { queues: await visitQueues(orrery, o, types), ...(o.refill !== undefined ? { refillFraction: o.refill } : {}) });
          const r = await loop.runOnce(o.at);
          if (o.json) return printJson(io, r);
          io.out(`recorded ${r.recorded} finished visit${r.recorded === 1 ? '' : 's'}; scheduled ${Object.entries(r.scheduled).map(([t, n]) => `${n} ${t}`).join(', ') || 'nothing'}\n`);
          return;
        } finally {
          await orrery.close();
        }
      }
      // The loop lives as the other daemons do: signals watched from the start, a database away at
      // start waited for, a stop bounded (cli/daemon-lifecycle.ts).
      const signals = watchSignals(LOOPS_STOP_MS);
      const { createLogger } = await import('../engine/logger.js');
      const log = createLogger(o.logFormat);
      signals.useLog(log);
      if (signals.received) return stoppedBeforeStart(log);
      const started = await startPatiently(o, log, signals, async (orrery) => {
        const loop = new VisitScheduler(orrery, {
          queues: await visitQueues(orrery, o, types),
          logger: log.child({ loop: 'visit-scheduler' }),
          ...(o.refill !== undefined ? { refillFraction: o.refill } : {}),
          ...(o.maxSleep !== undefined ? { maxSleepMs: o.maxSleep } : {}),
          ...(o.metricsEvery !== undefined ? { metricsEveryMs: o.metricsEvery } : {}),
        });
        loop.start();
        return loop;
      });
      if (!started) return stoppedBeforeStart(log);
      const { orrery, running: loop } = started;
      try {
        signals.markStarted();
        log.info(`visit-scheduler started on ${orrery.store.url} for ${types.join(', ')}`);
        await signals.signalled;
        log.info('stopping');
        await stopWithin(() => loop.stop(), LOOPS_STOP_MS, log, { bound: 'its pass in progress', after: null });
        log.info('stopped');
      } finally {
        await orrery.close();
      }
    },
  );
}

/** The queues of `visit-scheduler`, once its visit types and `--lister` are checked against the database (exit 2). */
async function visitQueues(orrery: Orrery, o: CooldownOpts & { queue?: number; policies?: PolicyWeight[]; lister?: string }, types: string[]) {
  const known = new Set((await orrery.listTaskTypes(types)).map((t) => t.name));
  const missing = types.filter((t) => !known.has(t));
  if (missing.length) throw new UsageError(`--visit-types: no task type named ${missing.join(', ')} (visits run as one-shot tasks of a task type named after the visit type)`);
  // Checked before the loop starts: its passes would each fail on it (NotFoundError, exit 2 with --once).
  if (o.lister !== undefined && (await orrery.visits.getLister(o.lister)) === null) throw new UsageError(`--lister: lister ${o.lister} not found`);
  const cooldowns = cooldownsOf(o);
  return types.map((visitType) => ({
    visitType,
    ...(o.queue !== undefined ? { size: o.queue } : {}),
    ...(o.policies ? { policies: o.policies } : {}),
    ...(o.lister !== undefined ? { lister: o.lister } : {}),
    cooldowns,
  }));
}

/**
 * A validation error of `recordListedOrigins` (`origins[3].url: ...`) named as the user gave the
 * origins: by the line of --file (`--file: line 5: url: ...`, path `line 5.url`), or by the field of
 * the one origin of the arguments (`url: ...`).
 */
function originNamed(e: unknown, named: (i: number) => string, file: boolean): unknown {
  if (!(e instanceof ValidationError) || e.details.length === 0) return e;
  const rename = (path: string) => path.replace(/^origins\[(\d+)\]\.?/, (_m, i: string) => (named(Number(i)) ? `${named(Number(i))}.` : '')).replace(/\.$/, '');
  const details = e.details.map((d) => ({ path: rename(d.path), message: d.message }));
  const first = details[0]!;
  const where = first.path.replace(/^(line \d+)\.?/, '$1: ').replace(/: $/, '');
  return new ValidationError(`${file ? '--file: ' : ''}${where ? `${where}: ` : ''}${first.message}`, details);
}

/**
 * Reads a JSONL file of origins (each with its line number); a bad line is a usage error naming the
 * line. Lines are read as `task import` reads its file (engine/task-import.ts readLines): UTF-8 only
 * (other bytes refused with their line, never stored as U+FFFD), a byte order mark and \r\n accepted.
 */
async function readOrigins(file: string): Promise<Array<{ line: number; origin: Record<string, unknown> }>> {
  const { readLines } = await import('../engine/task-import.js');
  const lines: Array<{ no: number; text: string }> = [];
  try {
    for await (const l of readLines(createReadStream(file), { lines: 0 })) lines.push(l);
  } catch (e) {
    if (e instanceof ValidationError) throw new UsageError(`--file: ${e.details[0]?.path ?? ''}: ${e.details[0]?.message ?? e.message}`);
    throw new UsageError(`--file: cannot read ${file}: ${(e as Error).message}`);
  }
  const out: Array<{ line: number; origin: Record<string, unknown> }> = [];
  for (const { no, text } of lines) {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--file: line ${no}: invalid JSON: ${(e as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError(`--file: line ${no}: must be a JSON object`);
    // An integer past 2^53 (in extraLoaderArguments) would be stored rounded: refused as the CLI's other JSON is.
    const inexact = inexactJsonProblem(text);
    if (inexact) throw new UsageError(`--file: line ${no}: ${inexact}`);
    const o = { ...(v as Record<string, unknown>) };
    if (o.lastUpdate !== undefined && o.lastUpdate !== null) {
      if (typeof o.lastUpdate !== 'string') throw new UsageError(`--file: line ${no}: lastUpdate: must be an ISO 8601 instant`);
      try {
        o.lastUpdate = parseInstant(o.lastUpdate, 'lastUpdate');
      } catch (e) {
        throw new UsageError(`--file: line ${no}: ${(e as Error).message}`);
      }
    }
    out.push({ line: no, origin: o });
  }
  return out;
}

function printListers(io: Io, listers: Lister[]): void {
  if (listers.length === 0) return io.out('no listers\n');
  table(io, ['ID', 'NAME', 'INSTANCE', 'UPDATED', 'LAST LISTING FINISHED'], listers.map((l) => [l.id, l.name, l.instanceName || '-', iso(l.updated), iso(l.lastListingFinishedAt)]));
}

function printOrigins(io: Io, origins: ListedOrigin[]): void {
  if (origins.length === 0) return io.out('no origins\n');
  table(
    io,
    ['URL', 'VISIT TYPE', 'ENABLED', 'LAST UPDATE', 'FIRST SEEN', 'LAST SEEN', 'LISTER'],
    origins.map((x) => [truncate(x.url, 80), x.visitType, x.enabled ? 'yes' : 'no', iso(x.lastUpdate), iso(x.firstSeen), iso(x.lastSeen), x.listerId]),
  );
}

function printMetrics(io: Io, m: VisitMetrics[], counted: boolean): void {
  if (m.length === 0) return io.out(counted ? 'no listed origins\n' : 'no metrics stored (run `orrery origin update-metrics`)\n');
  table(
    io,
    ['LISTER', 'VISIT TYPE', 'KNOWN', 'ENABLED', 'NEVER VISITED', 'PENDING CHANGES', 'UPDATED'],
    m.map((x) => [x.listerId, x.visitType, String(x.originsKnown), String(x.originsEnabled), String(x.originsNeverVisited), String(x.originsWithPendingChanges), iso(x.updated)]),
  );
}
