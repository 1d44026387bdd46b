import { oneLine } from '../core/terminal-text.js';
import { Command } from 'commander';
import { invalid } from '../core/errors.js';
import type { TaskType } from '../core/model.js';
import type { TaskTypeInput } from '../core/validation.js';
import { addDb, countArg, dur, durationArg, fairShareArg, numberArg, positiveCountArg, printJson, rateLimitArg, requireTypes, table, withOrrery, type DbOpts, type Io } from './common.js';

type Parse = (v: string) => unknown;
/** The fields a type's options set: `add` takes all of them, `edit` all but the backend name. */
const FIELDS: Array<{ flag: string; key: keyof TaskTypeInput; help: string; parse?: Parse; nullable?: boolean; addOnly?: boolean; bool?: boolean }> = [
  { flag: '--backend-name <name>', key: 'backendName', help: 'handler name (default: the type name)', addOnly: true },
  { flag: '--description <text>', key: 'description', help: 'human-readable description' },
  { flag: '--default-interval <duration>', key: 'defaultIntervalMs', help: 'first interval of new recurring tasks (e.g. 1d)', parse: durationArg, nullable: true },
  { flag: '--min-interval <duration>', key: 'minIntervalMs', help: 'lower clamp of the adaptive interval', parse: durationArg, nullable: true },
  { flag: '--max-interval <duration>', key: 'maxIntervalMs', help: 'upper clamp of the adaptive interval', parse: durationArg, nullable: true },
  { flag: '--backoff-factor <n>', key: 'backoffFactor', help: 'interval adaptation factor, > 0 (default 1)', parse: numberArg },
  { flag: '--max-queue-length <n>', key: 'maxQueueLength', help: 'most runs waiting in the jobboard, or "none" (default 1000)', parse: countArg, nullable: true },
  { flag: '--num-retries <n>', key: 'numRetries', help: 'retries of a failed run (default 0)', parse: countArg },
  { flag: '--retry-delay <duration>', key: 'retryDelayMs', help: 'delay before a retry (default 1h)', parse: durationArg },
  { flag: '--timeout <duration>', key: 'timeoutMs', help: 'abort runs still going after this, or "none" (default none)', parse: durationArg, nullable: true },
  { flag: '--lease <duration>', key: 'leaseMs', help: 'claim duration without a heartbeat (default 30s)', parse: durationArg },
  { flag: '--max-abandons <n>', key: 'maxAbandons', help: 'lost runs in a row before the dead-letter bin (default 3)', parse: positiveCountArg },
  { flag: '--max-running <n>', key: 'maxRunning', help: 'most runs of this type running at once, across all workers, or "none" (default none)', parse: positiveCountArg, nullable: true },
  { flag: '--max-running-per-key <n>', key: 'maxRunningPerKey', help: 'most running runs per task concurrency key, or "none" (default none)', parse: positiveCountArg, nullable: true },
  { flag: '--rate-limit <count/duration>', key: 'rateLimit', help: 'most runs started in any such window, e.g. 100/1m, or "none" (default none)', parse: rateLimitArg, nullable: true },
  { flag: '--rate-limit-per-key <count/duration>', key: 'rateLimitPerKey', help: 'most runs of one concurrency key started in any such window, e.g. 10/1s, or "none" (default none)', parse: rateLimitArg, nullable: true },
  { flag: '--fair-share <spec>', key: 'fairShare', help: 'concurrency keys take turns at claims: "on", weights KEY=N,KEY=N (others weigh 1), or "none" (default none)', parse: fairShareArg, nullable: true },
  { flag: '--fifo-per-key', key: 'fifoPerKey', help: 'one run per concurrency key at a time, keys in turn, each key\'s runs in order (--no-fifo-per-key: off; default off)', bool: true },
];

/** "none" clears a nullable field; commander turns a parser's null into '', so a marker stands for it. */
const NONE = Symbol('none');
const orNone = (parse: Parse | undefined): Parse => (v: string) => (/^(none|unbounded|null|off)$/i.test(v.trim()) ? NONE : parse ? parse(v) : v);

function addFieldOptions(c: Command, edit: boolean): Command {
  for (const f of FIELDS) {
    if (edit && f.addOnly) continue;
    if (f.bool) {
      c.option(f.flag, f.help);
      c.option(f.flag.replace(/^--/, '--no-'), `turn ${f.flag} off`);
      continue;
    }
    const parse = f.nullable ? orNone(f.parse) : f.parse;
    if (parse) c.option(f.flag, f.help, parse);
    else c.option(f.flag, f.help);
  }
  return c;
}

/** The fields the options gave, keyed as in TaskTypeInput (commander keys options by camel-cased flag). */
function fieldsFrom(o: object): Partial<TaskTypeInput> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const v = (o as Record<string, unknown>)[camel(f.flag)];
    if (v !== undefined) out[f.key] = v === NONE ? null : v;
  }
  return out as Partial<TaskTypeInput>;
}

function camel(flag: string): string {
  return flag.replace(/^--/, '').split(' ')[0]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

export function taskTypeCommands(io: Io): Command {
  const cmd = new Command('task-type').description('manage task types');

  addDb(
    addFieldOptions(cmd.command('add').description('create a task type').argument('<name>', 'unique name, [a-z0-9][a-z0-9._:-]*'), false).option(
      '--json',
      'print the created type as JSON',
    ),
  ).action(async (name: string, o: DbOpts & { json?: boolean }) => {
    const input = { name, ...fieldsFrom(o) } as TaskTypeInput;
    const type = await withOrrery(o, (orrery) => orrery.createTaskType(input));
    if (o.json) printJson(io, type);
    else io.out(`created task type ${type.name} (backend ${type.backendName})\n`);
  });

  addDb(
    addFieldOptions(
      cmd
        .command('edit')
        .description('change fields of a task type at runtime (taken into account from the next claim or end; "none" clears a limit)')
        .argument('<name>', 'the task type'),
      true,
    ).option('--json', 'print the edited type as JSON'),
  ).action(async (name: string, o: DbOpts & { json?: boolean }) => {
    const edit = fieldsFrom(o);
    if (Object.keys(edit).length === 0) throw invalid('', 'nothing to change: give at least one field option (see orrery task-type edit --help)');
    const type = await withOrrery(o, (orrery) => orrery.updateTaskType(name, edit));
    if (o.json) printJson(io, type);
    else io.out(`edited task type ${type.name}: ${Object.keys(edit).join(', ')}\n`);
  });

  addDb(
    cmd
      .command('pause')
      .description('pause a task type: no new scheduling or claims; started runs finish, runs held but not begun go back to the queue')
      .argument('<name>', 'the task type')
      .option('--reason <text>', 'why (shown in listings, the dashboard and `orrery task why`)')
      .option('--json', 'print the type as JSON'),
  ).action(async (name: string, o: DbOpts & { reason?: string; json?: boolean }) => {
    const type = await withOrrery(o, (orrery) => orrery.pauseTaskType(name, o.reason !== undefined ? { reason: o.reason } : {}));
    if (o.json) printJson(io, type);
    else io.out(`paused task type ${type.name} since ${type.paused!.at.toISOString()}${type.paused!.reason ? ` (${oneLine(type.paused!.reason)})` : ''}\n`);
  });

  addDb(
    cmd
      .command('resume')
      .description('resume a paused task type')
      .argument('<name>', 'the task type')
      .option('--json', 'print the type as JSON'),
  ).action(async (name: string, o: DbOpts & { json?: boolean }) => {
    const type = await withOrrery(o, (orrery) => orrery.resumeTaskType(name));
    if (o.json) printJson(io, type);
    else io.out(`task type ${type.name} is running\n`);
  });

  addDb(
    cmd
      .command('delete')
      .description('delete a task type that has no tasks')
      .argument('<name>', 'the task type')
      .option('--json', 'print {"deleted": NAME}'),
  ).action(async (name: string, o: DbOpts & { json?: boolean }) => {
    await withOrrery(o, (orrery) => orrery.deleteTaskType(name));
    if (o.json) printJson(io, { deleted: name });
    else io.out(`deleted task type ${name}\n`);
  });

  addDb(
    cmd
      .command('list')
      .description('list task types')
      .option('-v, --verbose', 'show every field')
      .option('-t, --type <name...>', 'only these types')
      .option('--json', 'print a JSON array'),
  ).action(async (o: DbOpts & { verbose?: boolean; type?: string[]; json?: boolean }) => {
    const types = await withOrrery(o, async (orrery) => {
      if (o.type) await requireTypes(orrery, '--type', o.type);
      return orrery.listTaskTypes(o.type);
    });
    if (o.json) return printJson(io, types);
    if (types.length === 0) return io.out('no task types yet (create one with: orrery task-type add NAME)\n');
    if (!o.verbose) {
      return table(
        io,
        ['NAME', 'BACKEND', 'STATE', 'INTERVAL [MIN, MAX]', 'FACTOR', 'QUEUE', 'RETRIES', 'LEASE', 'DESCRIPTION'],
        types.map((t) => [t.name, t.backendName, t.paused ? 'paused' : 'running', intervals(t), String(t.backoffFactor), queue(t), String(t.numRetries), dur(t.leaseMs), t.description]),
      );
    }
    for (const t of types) {
      io.out(`${t.name}: ${t.backendName}\n`);
      if (t.description) io.out(`  ${oneLine(t.description)}\n`);
      if (t.paused) io.out(`  paused since ${t.paused.at.toISOString()}${t.paused.reason ? `: ${oneLine(t.paused.reason)}` : ''}\n`);
      io.out(`  interval: ${intervals(t)}\n  backoff factor: ${t.backoffFactor}\n  max queue length: ${queue(t)}\n`);
      io.out(`  retries: ${t.numRetries} (delay ${dur(t.retryDelayMs)})\n  timeout: ${dur(t.timeoutMs)}\n  lease: ${dur(t.leaseMs)}\n`);
      io.out(`  max abandons: ${t.maxAbandons}\n`);
      io.out(`  max running: ${t.maxRunning ?? 'unbounded'} (per key: ${t.maxRunningPerKey ?? 'unbounded'})\n`);
      io.out(`  rate limit: ${rate(t.rateLimit)} (per key: ${rate(t.rateLimitPerKey)})\n`);
      io.out(`  keys: ${t.fifoPerKey ? 'one run at a time each, in turn (fifoPerKey)' : t.fairShare ? `in turn (fair shares${weights(t)})` : 'in claim order'}\n`);
      const e = t.effectiveRate;
      if (e?.type && t.rateLimit && e.type.count < t.rateLimit.count) io.out(`  effective rate (throttled): ${e.type.count} per ${dur(e.type.perMs)}\n`);
      for (const k of e?.keys.slice(0, 10) ?? []) io.out(`  effective rate of key ${k.key} (throttled): ${k.count} per ${dur(k.perMs)}\n`);
      if ((e?.keys.length ?? 0) > 10) io.out(`  and ${e!.keys.length - 10} more throttled keys\n`);
    }
  });
  return cmd;
}

function intervals(t: TaskType): string {
  return t.defaultIntervalMs === null ? '-' : `${dur(t.defaultIntervalMs)} [${dur(t.minIntervalMs)}, ${dur(t.maxIntervalMs)}]`;
}

function queue(t: TaskType): string {
  return t.maxQueueLength === null ? 'unbounded' : String(t.maxQueueLength);
}

function rate(r: { count: number; perMs: number } | null): string {
  return r ? `${r.count} per ${dur(r.perMs)}` : 'none';
}

function weights(t: TaskType): string {
  const w = Object.entries(t.fairShare?.weights ?? {});
  return w.length === 0 ? '' : `, weights ${w.map(([k, n]) => `${k}=${n}`).join(', ')}`;
}
