import { createRequire } from 'node:module';
import type Pino from 'pino';
import type { Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import { invalid, shown } from '../core/errors.js';
import { oneLine, terminalText } from '../core/terminal-text.js';

export type { Logger };

export type LogFormat = 'pretty' | 'json';

/** Readable lines on stderr by default; `json` for log collectors. */
export function createLogger(format: LogFormat = 'pretty', level = process.env.ORRERY_LOG_LEVEL || 'info'): Logger {
  // pino is loaded on first use too: a process that logs nothing (a library user's worker) does not carry it (about 5 MiB resident).
  const pino = createRequire(import.meta.url)('pino') as typeof Pino;
  // pino's own levels (and `silent`): pino refuses any other with a message that does not name the variable.
  const levels = [...Object.keys(pino.levels.values), 'silent'];
  if (!levels.includes(level)) throw invalid('ORRERY_LOG_LEVEL', `log level "${shown(level)}" is not one of ${levels.join(', ')}`);
  if (format === 'json') return pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
  // Loaded on first use: a worker logging JSON (or nothing) does not carry it (about 10 MiB resident).
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const stream = pretty({
    destination: 2,
    sync: true,
    // https://no-color.org: a non-empty NO_COLOR turns colour off.
    colorize: (process.stderr.isTTY ?? false) && !process.env.NO_COLOR,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    hideObject: true,
    // An HTTP 5xx (logged with its request id) shows its stack under the line. A message quotes
    // what handlers and clients wrote (an error, a worker id): its control characters are shown as
    // escapes, never sent raw to the terminal (core/terminal-text.ts), and its line breaks too, so
    // an event is one line and a message cannot forge the next one.
    messageFormat: (log: Record<string, unknown>) => {
      const stack = log.requestId !== undefined ? (log.err as { stack?: unknown } | undefined)?.stack : undefined;
      const line = oneLine(`${log.loop !== undefined ? `${String(log.loop)}: ` : ''}${String(log.msg ?? '')}`);
      return stack !== undefined ? `${line}\n${terminalText(String(stack))}` : line;
    },
  });
  return pino({ level, base: undefined }, stream);
}

const nothing = (): void => {};

/**
 * The logger of loops given none: every level is off. Written out rather than `pino({ level: 'silent' })`
 * so that a process which never logs does not load pino; it has the methods Orrery's loops call.
 */
export const silentLogger: Logger = {
  level: 'silent',
  fatal: nothing,
  error: nothing,
  warn: nothing,
  info: nothing,
  debug: nothing,
  trace: nothing,
  silent: nothing,
  isLevelEnabled: () => false,
  child: () => silentLogger,
} as unknown as Logger;
