import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'pretty' | 'json';

/** Readable lines on stderr by default; `json` for log collectors. */
export function createLogger(format: LogFormat = 'pretty', level = process.env.ORRERY_LOG_LEVEL ?? 'info'): Logger {
  if (format === 'json') return pino({ level, base: undefined }, pino.destination({ fd: 2, sync: true }));
  // Loaded on first use: a worker logging JSON (or nothing) does not carry it (about 10 MiB resident).
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  const stream = pretty({
    destination: 2,
    sync: true,
    colorize: process.stderr.isTTY ?? false,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
    hideObject: true,
    // An HTTP 5xx (logged with its request id) shows its stack under the line.
    messageFormat: '{if loop}{loop}: {end}{msg}{if requestId}\n{err.stack}{end}',
  });
  return pino({ level, base: undefined }, stream);
}

export const silentLogger: Logger = pino({ level: 'silent' });
