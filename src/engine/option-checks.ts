import { invalid } from '../core/errors.js';
import { checkMethods } from '../core/options.js';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';

/** What Orrery calls on a logger (pino's do; a child is asked of it for each loop). */
export const LOGGER_METHODS = ['error', 'warn', 'info', 'debug', 'child', 'isLevelEnabled'] as const;
/** What Orrery calls on a clock. */
export const CLOCK_METHODS = ['now', 'setTimer', 'sleep'] as const;

/**
 * A logger given in options (left out: undefined), checked when the loop is built: one missing a
 * method was a TypeError long after start (an unhandled rejection, or each run's end taken for lost).
 */
export function checkLogger(v: unknown, name = 'logger'): Logger | undefined {
  if (v === undefined) return undefined;
  return checkMethods(v, name, LOGGER_METHODS) as Logger;
}

/** A logger's child for a loop (`logger.child({ loop })`), checked as the logger is. */
export function childLogger(logger: Logger, bindings: Record<string, unknown>, name = 'logger'): Logger {
  const child: unknown = logger.child(bindings);
  if (child === null || typeof child !== 'object') throw invalid(`${name}.child`, 'must return a logger');
  return checkMethods(child, `${name}.child()`, LOGGER_METHODS) as Logger;
}

/** A clock given in options (left out: undefined): an object with now(), setTimer() and sleep(). */
export function checkClock(v: unknown, name = 'clock'): Clock | undefined {
  if (v === undefined) return undefined;
  const clock = checkMethods(v, name, CLOCK_METHODS) as Clock;
  const now: unknown = clock.now();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw invalid(`${name}.now`, 'must return a valid Date');
  return clock;
}

/** A handlers object: every member a function (the handler of that backend name), checked when a worker is built rather than failing each run. */
export function checkHandlers(handlers: unknown, name = 'handlers'): void {
  if (handlers === null || typeof handlers !== 'object' || Array.isArray(handlers)) throw invalid(name, 'must be an object of handler functions, one per backend name');
  for (const [backend, h] of Object.entries(handlers)) {
    if (typeof h !== 'function') throw invalid(`${name}.${backend}`, 'must be a function (the handler of that backend)');
  }
}
