import { Command } from 'commander';
import type { TaskType } from '../core/model.js';
import type { TaskTypeInput } from '../core/validation.js';
import { addDb, dur, durationArg, limitOrNoneArg, nonNegativeIntArg, numberArg, positiveIntArg, printJson, rateLimitArg, table, withOrrery, type DbOpts, type Io } from './common.js';

interface AddOpts extends DbOpts {
  backendName?: string;
  description?: string;
  defaultInterval?: number;
  minInterval?: number;
  maxInterval?: number;
  backoffFactor?: number;
  maxQueueLength?: number;
  numRetries?: number;
  retryDelay?: number;
  timeout?: number;
  lease?: number;
  maxAbandons?: number;
  maxRunning?: number;
  maxRunningPerKey?: number;
  rateLimit?: { count: number; perMs: number };
  json?: boolean;
}

export function taskTypeCommands(io: Io): Command {
  const cmd = new Command('task-type').description('manage task types');

  addDb(
    cmd
      .command('add')
      .description('create a task type')
      .argument('<name>', 'unique name, [a-z0-9][a-z0-9._:-]*')
      .option('--backend-name <name>', 'handler name (default: the type name)')
      .option('--description <text>', 'human-readable description')
      .option('--default-interval <duration>', 'first interval of new recurring tasks (e.g. 1d)', durationArg)
      .option('--min-interval <duration>', 'lower clamp of the adaptive interval', durationArg)
      .option('--max-interval <duration>', 'upper clamp of the adaptive interval', durationArg)
      .option('--backoff-factor <n>', 'interval adaptation factor, > 0 (default 1)', numberArg)
      .option('--max-queue-length <n>', 'most runs waiting in the jobboard, or "none" (default 1000)', limitOrNoneArg)
      .option('--num-retries <n>', 'retries of a failed run (default 0)', nonNegativeIntArg)
      .option('--retry-delay <duration>', 'delay before a retry (default 1h)', durationArg)
      .option('--timeout <duration>', 'abort runs still going after this (default none)', durationArg)
      .option('--lease <duration>', 'claim duration without a heartbeat (default 30s)', durationArg)
      .option('--max-abandons <n>', 'lost runs in a row before the dead-letter bin (default 3)', positiveIntArg)
      .option('--max-running <n>', 'most runs of this type running at once, across all workers (default unbounded)', positiveIntArg)
      .option('--max-running-per-key <n>', 'most running runs per task concurrency key (default unbounded)', positiveIntArg)
      .option('--rate-limit <count/duration>', 'most runs started in any such window, e.g. 100/1m (default none)', rateLimitArg)
      .option('--json', 'print the created type as JSON'),
  ).action(async (name: string, o: AddOpts) => {
    const input: TaskTypeInput = { name };
    if (o.backendName !== undefined) input.backendName = o.backendName;
    if (o.description !== undefined) input.description = o.description;
    if (o.defaultInterval !== undefined) input.defaultIntervalMs = o.defaultInterval;
    if (o.minInterval !== undefined) input.minIntervalMs = o.minInterval;
    if (o.maxInterval !== undefined) input.maxIntervalMs = o.maxInterval;
    if (o.backoffFactor !== undefined) input.backoffFactor = o.backoffFactor;
    if (o.maxQueueLength !== undefined) input.maxQueueLength = o.maxQueueLength === Infinity ? null : o.maxQueueLength;
    if (o.numRetries !== undefined) input.numRetries = o.numRetries;
    if (o.retryDelay !== undefined) input.retryDelayMs = o.retryDelay;
    if (o.timeout !== undefined) input.timeoutMs = o.timeout;
    if (o.lease !== undefined) input.leaseMs = o.lease;
    if (o.maxAbandons !== undefined) input.maxAbandons = o.maxAbandons;
    if (o.maxRunning !== undefined) input.maxRunning = o.maxRunning;
    if (o.maxRunningPerKey !== undefined) input.maxRunningPerKey = o.maxRunningPerKey;
    if (o.rateLimit !== undefined) input.rateLimit = o.rateLimit;
    const type = await withOrrery(o, (orrery) => orrery.createTaskType(input));
    if (o.json) printJson(io, type);
    else io.out(`created task type ${type.name} (backend ${type.backendName})\n`);
  });

  addDb(
    cmd
      .command('list')
      .description('list task types')
      .option('-v, --verbose', 'show every field')
      .option('-t, --type <name...>', 'only these types')
      .option('--json', 'print a JSON array'),
  ).action(async (o: DbOpts & { verbose?: boolean; type?: string[]; json?: boolean }) => {
    const types = await withOrrery(o, (orrery) => orrery.listTaskTypes(o.type));
    if (o.json) return printJson(io, types);
    if (types.length === 0) return io.out(o.type ? 'no such task type\n' : 'no task types yet (create one with: orrery task-type add NAME)\n');
    if (!o.verbose) {
      return table(
        io,
        ['NAME', 'BACKEND', 'INTERVAL [MIN, MAX]', 'FACTOR', 'QUEUE', 'RETRIES', 'LEASE', 'DESCRIPTION'],
        types.map((t) => [t.name, t.backendName, intervals(t), String(t.backoffFactor), queue(t), String(t.numRetries), dur(t.leaseMs), t.description]),
      );
    }
    for (const t of types) {
      io.out(`${t.name}: ${t.backendName}\n`);
      if (t.description) io.out(`  ${t.description}\n`);
      io.out(`  interval: ${intervals(t)}\n  backoff factor: ${t.backoffFactor}\n  max queue length: ${queue(t)}\n`);
      io.out(`  retries: ${t.numRetries} (delay ${dur(t.retryDelayMs)})\n  timeout: ${dur(t.timeoutMs)}\n  lease: ${dur(t.leaseMs)}\n`);
      io.out(`  max abandons: ${t.maxAbandons}\n`);
      io.out(`  max running: ${t.maxRunning ?? 'unbounded'} (per key: ${t.maxRunningPerKey ?? 'unbounded'})\n`);
      io.out(`  rate limit: ${t.rateLimit ? `${t.rateLimit.count} per ${dur(t.rateLimit.perMs)}` : 'none'}\n`);
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
