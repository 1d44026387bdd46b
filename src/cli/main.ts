import { Command, CommanderError } from 'commander';
import { OrreryError } from '../core/errors.js';
import { setDatabaseCreation, UsageError, type Io } from './common.js';
import { archiveCommands } from './archive-commands.js';
import { daemonCommands } from './daemon-commands.js';
import { dagCommands } from './dag-commands.js';
import { runCommands } from './run-commands.js';
import { Interrupted } from './run-logs-command.js';
import { setHeldSignals, signalExitCode, takeHeldSignals, type HeldSignals } from './held-signals.js';
import { taskCommands } from './task-commands.js';
import { taskTypeCommands } from './task-type-commands.js';
import { visitCommands } from './visit-commands.js';
import { simulateCommand } from './simulate-command.js';
import { scheduleCommands } from './schedule-commands.js';
import { copyCommand } from './copy-command.js';
import { statusCommand } from './status-command.js';
import { alertsCommand } from './alerts-command.js';
import { oneLine as lineOf, terminalText } from '../core/terminal-text.js';
import { hideUserInfo } from '../core/url-text.js';

/** Errors that mean "the input was wrong": exit 2. Everything else (I/O, storage, bugs) exits 1. */
const INPUT_ERRORS = new Set(['validation_error', 'not_found', 'conflict', 'invalid_transition', 'lease_lost', 'stale_data']);

/** The option parser's errors: one line, ending with the hint to the usage (docs/cli.md, "Exit codes"). */
const output = (io: Io) => ({
  writeOut: io.out,
  writeErr: io.err,
  // The parser's suggestion is its own second line (`\n(Did you mean --json?)`): joined, not escaped as a quoted value's newline is.
  outputError: (str: string, write: (s: string) => void) => write(`${errorLine(`${str.trimEnd().replace(/\n(\(Did you mean [^\n]*\?\))$/, ' $1')} (run with --help for usage)`)}\n`),
});

export function buildProgram(io: Io): Command {
  const program = new Command('orrery')
    .description('Orrery: a durable scheduler for background work')
    .version('0.1.0')
    // --version (and the program's --help) only before a command: `--reason --version` is a reason.
    .enablePositionalOptions()
    .configureOutput(output(io))
    .exitOverride();
  program.addCommand(taskTypeCommands(io));
  program.addCommand(taskCommands(io));
  program.addCommand(runCommands(io));
  program.addCommand(archiveCommands(io));
  program.addCommand(scheduleCommands(io));
  for (const c of dagCommands(io)) program.addCommand(c);
  for (const c of daemonCommands(io)) program.addCommand(c);
  for (const c of visitCommands(io)) program.addCommand(c);
  program.addCommand(simulateCommand(io));
  program.addCommand(statusCommand(io));
  program.addCommand(alertsCommand(io));
  program.addCommand(copyCommand(io));
  const harden = (c: Command) => {
    c.exitOverride().configureOutput(output(io));
    refuseRepeats(c);
    refuseContradictions(c);
    c.commands.forEach(harden);
  };
  harden(program);
  return program;
}

/**
 * An option that takes one value, given twice (`--db A --db B`, `--limit 3 --limit 4`), is an error
 * naming it, not the last value taken without a word. Variadic options (`--status a b`) and those
 * described as repeatable (`--exclude`) collect every value.
 */
function refuseRepeats(c: Command): void {
  for (const o of c.options) {
    if (!(o.required || o.optional) || o.variadic || /repeatable/.test(o.description)) continue;
    let seen = 0;
    c.on(`option:${o.name()}`, () => {
      if (++seen > 1) throw new UsageError(`option ${o.long ?? o.short} given twice: give it once`);
    });
  }
}

/**
 * A flag and its negation both given (`--paused --no-paused`) is an error naming them: commander keeps
 * the last, which would drop the other without a word.
 */
function refuseContradictions(c: Command): void {
  for (const negative of c.options) {
    if (!negative.negate || !negative.long) continue;
    const positive = c.options.find((o) => o.long === `--${negative.long!.slice('--no-'.length)}`);
    if (!positive) continue;
    const seen = new Set<string>();
    for (const o of [positive, negative]) {
      c.on(`option:${o.name()}`, () => {
        seen.add(o.long!);
        if (seen.size === 2) throw new UsageError(`${positive.long} and ${negative.long} contradict each other: give one of them`);
      });
    }
  }
}

/** The commands that may create a SQLite database that does not exist yet (common.ts: setDatabaseCreation). */
const CREATING_COMMANDS = new Set(['task-type add', 'task add', 'task import', 'lister add', 'origin visited', 'runner', 'worker', 'serve', 'visit-scheduler']);

/** The commands that watch SIGINT/SIGTERM themselves from their start (daemon-lifecycle.ts); `visit-scheduler --once` is one pass, not a daemon. */
const DAEMONS = new Set(['runner', 'worker', 'serve', 'visit-scheduler']);

/** Runs the CLI and returns the exit code: 0 success, 2 invalid input, 1 other failures. */
export async function main(
  argv: string[],
  io: Io = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), errIsTty: process.stderr.isTTY === true },
  held: HeldSignals | null = null,
): Promise<number> {
  // Everything the commands print on stdout is from data anyone may have written: no control
  // character reaches the terminal raw (terminal-text.ts); newlines and tabs are kept.
  const out = io.out;
  io = { ...io, out: (s) => out(terminalText(s)) };
  const program = buildProgram(io);
  // Signals held while the CLI loaded (bin/orrery.js): a daemon takes them over; another command exits as they asked.
  setHeldSignals(held);
  program.hook('preAction', (_root, action) => {
    const path = action.parent === program || action.parent === null ? action.name() : `${action.parent.name()} ${action.name()}`;
    setDatabaseCreation(CREATING_COMMANDS.has(path), (text) => io.err(`orrery: ${text}\n`));
    if (action.parent === program && DAEMONS.has(action.name()) && !action.opts().once) return;
    const signal = takeHeldSignals();
    if (signal !== null) throw new Interrupted(signalExitCode(signal));
  });
  try {
    const isGroup = (name: string) => (program.commands.find((c) => c.name() === name)?.commands.length ?? 0) > 0;
    const isSubcommand = (group: string, name: string) => program.commands.find((c) => c.name() === group)?.commands.some((c) => c.name() === name || c.aliases().includes(name)) ?? false;
    const args = hoistEveryDb(argv, isGroup);
    // `orrery --db` and `orrery task --db`, the URL missing: no command takes it, so the parser would call --db unknown.
    if (args.length <= 2 && args[args.length - 1] === '--db' && (args.length === 1 || isGroup(args[0]!))) {
      io.err(`error: option '--db <url>' argument missing (run with --help for usage)\n`);
      return 2;
    }
    await program.parseAsync(helpOfSubcommand(args, isSubcommand), { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help') {
        if (e.exitCode === 0) return 0;
        // A command group without its subcommand (`orrery task`), or no command at all: commander has
        // printed the usage on stderr; this is invalid input like an unknown command.
        // `help NAME` of an unknown command ends as the parser's own errors do (`help task nope` goes through it).
        io.err(argv[0] === 'help' && argv[1] !== undefined ? `${errorLine(`error: unknown command '${argv[1]}' (run with --help for usage)`)}\n` : 'error: missing command\n');
        return 2;
      }
      if (e.code === 'commander.executeSubCommandAsync') return 1;
      return 2; // commander already printed the message
    }
    if (e instanceof Interrupted) return e.exitCode;
    if (e instanceof UsageError) {
      io.err(`orrery: ${errorLine(e.message)}\n`);
      return 2;
    }
    if (e instanceof OrreryError) {
      io.err(`orrery: ${errorLine(oneLine(e))}\n`);
      return INPUT_ERRORS.has(e.code) ? 2 : 1;
    }
    io.err(`orrery: ${errorLine((e as Error)?.message ?? String(e))}\n`);
    if (process.env.ORRERY_DEBUG) io.err(`${(e as Error)?.stack}\n`);
    return 1;
  } finally {
    takeHeldSignals();
  }
}

/**
 * `orrery --db URL task list` and `orrery task --db URL list` mean `orrery task list --db URL`: --db
 * belongs to every command, so it may also come before the command or between a group and its
 * command. It moves to just after the command's words (its name, subcommand and leading arguments),
 * before the first option: at the end, an option left without its value (`archive --to`) took it
 * as its value, and the parser then reported the URL as an unknown action.
 */
export function hoistDb(argv: string[], isGroup: (name: string) => boolean = () => true): string[] {
  for (let i = 0; i < Math.min(argv.length, 2); i++) {
    const a = argv[i]!;
    const width = a === '--db' ? 2 : a.startsWith('--db=') ? 1 : 0;
    if (width === 0) {
      if (a.startsWith('-')) return argv; // another option: not a command group's position
      continue;
    }
    if (width === 2 && argv.length < 2 + i) return argv; // `--db` without its value: commander says so
    const rest = [...argv.slice(0, i), ...argv.slice(i + width)];
    // No command to take it (`orrery task --db URL`): left out, so the parser says the command is missing.
    // A command of its own (`orrery runner --db URL`) takes it after its name.
    if (rest.length === 0 || (rest.length === 1 && isGroup(rest[0]!))) return rest;
    // Past the command's words and any other `--db` among them (hoistEveryDb moves it next, so that the
    // parser says `--db` is given twice), up to the first other option or the `--` that ends them.
    let at = 0;
    while (at < rest.length) {
      const a = rest[at]!;
      if (a === '--db') at += 2;
      else if (a.startsWith('--db=') || !a.startsWith('-')) at += 1;
      else break;
    }
    at = Math.min(at, rest.length);
    return [...rest.slice(0, at), ...argv.slice(i, i + width), ...rest.slice(at)];
  }
  return argv;
}

/**
 * `orrery help task add` is `orrery task add --help` (the option parser's `help` takes one command
 * and would print the group's help); `orrery help task nope` is the unknown command `task nope`
 * (exit 2). Other uses of `help` are left to the parser.
 */
export function helpOfSubcommand(argv: string[], isSubcommand: (group: string, name: string) => boolean): string[] {
  if (argv[0] !== 'help' || argv.length !== 3 || argv[2]!.startsWith('-')) return argv;
  return isSubcommand(argv[1]!, argv[2]!) ? [argv[1]!, argv[2]!, '--help'] : [argv[1]!, argv[2]!];
}

/**
 * hoistDb until no `--db` is left before the command (`orrery --db A --db B status`): each is moved
 * after it, where the option parser says it is given twice. At most one move per argument.
 */
export function hoistEveryDb(argv: string[], isGroup: (name: string) => boolean): string[] {
  let args = argv;
  for (let i = 0; i < argv.length; i++) {
    const next = hoistDb(args, isGroup);
    if (next.length === args.length && next.every((a, k) => a === args[k])) break;
    args = next;
  }
  return args;
}

/**
 * Every problem of an error on one line. A validation error's message usually names only the first
 * (`a: … (and 1 more problem)`): its details are printed instead. A message that already names every
 * problem (a `task import` line: `line 7: priority: …; retriesLeft: …; nothing written`) is printed as it is.
 */
function oneLine(e: OrreryError): string {
  if (e.details.length <= 1 || namesEvery(e)) return e.message;
  return e.details.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
}

/** The message holds each detail's message, one after another in their order (two alike are two). */
function namesEvery(e: OrreryError): boolean {
  let at = 0;
  for (const d of e.details) {
    const i = e.message.indexOf(d.message, at);
    if (i === -1) return false;
    at = i + d.message.length;
  }
  return true;
}

/** The longest error line the CLI prints: a 100,000-character bad value is cut, not echoed whole. */
const MAX_ERROR_LINE = 2000;

/**
 * An error message as one line: control characters a value carried (a newline, a tab) shown as
 * escapes, and a line longer than MAX_ERROR_LINE cut in its middle, saying how much was left out.
 */
export function errorLine(message: string): string {
  // No password of a URL in a message, however broken the URL (the option parser quotes arguments back).
  // eslint-disable-next-line no-control-regex
  const flat = lineOf(hideSecretArguments(hideUserInfo(message.replace(/\n+$/, ''))));
  if (flat.length <= MAX_ERROR_LINE) return flat;
  // Cut between characters, never inside a surrogate pair (its half would print as U+FFFD).
  const head = flat.slice(0, MAX_ERROR_LINE - 200).replace(/[\ud800-\udbff]$/, '');
  const tail = flat.slice(-100).replace(/^[\udc00-\udfff]/, '');
  return `${head}… (${flat.length - head.length - tail.length} characters left out) …${tail}`;
}

/** Options whose value is a secret: the option parser's refusal quotes its argument back, shown as `***` here. */
const SECRET_OPTIONS = ['--token'];

function hideSecretArguments(message: string): string {
  // Up to the last `' is invalid`: the value itself may hold those words.
  return message.replace(/(option '(--[a-z-]+)[^']*' argument )'.*'( is invalid)/s, (m, head: string, flag: string, tail: string) =>
    SECRET_OPTIONS.includes(flag) ? `${head}'***'${tail}` : m,
  );
}
