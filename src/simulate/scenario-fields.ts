import { z } from 'zod';
import { MAX_DURATION_MS, parseDuration } from '../core/durations.js';
import type { ValidationError } from '../core/errors.js';
import { checkDate, parseInstant } from '../core/instants.js';
import { MAX_TIMER_MS } from '../core/options.js';

/**
 * Whole milliseconds as a number or duration text (`90s`, `1d12h`, `P1D`; text is rounded to whole
 * milliseconds). No upper bound here: the scenario's horizon checks bound the window's fields with
 * their own messages, and `boundedMs` bounds the durations the engine takes as they are.
 */
export const ms = z
  .union([z.number(), z.string()], { error: (issue) => (issue.input === undefined ? 'required (duration text such as 90s, or milliseconds)' : 'must be duration text (90s, 1d12h, P1D) or milliseconds') })
  .transform((v, ctx) => {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a non-negative number of milliseconds' });
      return z.NEVER;
    }
    if (!Number.isInteger(v)) {
      ctx.addIssue({ code: 'custom', message: 'must be a whole number of milliseconds' });
      return z.NEVER;
    }
    return v;
  }
  try {
    return parseDuration(v, '');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as ValidationError).details[0]?.message ?? String(e) });
    return z.NEVER;
  }
});
export const positiveMs = ms.refine((v) => v > 0, 'must be more than 0');
/** A duration the engine takes as it is (a retry delay, a restart delay, a relisting period): at most 100 years, as everywhere in Orrery. */
export const boundedMs = ms.refine((v) => v <= MAX_DURATION_MS, 'must be at most 100 years');
/** A loop's poll interval (a `maxSleepMs`, a worker's `pollMs`): from 10 ms, as the engine takes it, to the longest timer. */
export const pollMs = ms.refine((v) => v >= 10 && v <= MAX_TIMER_MS, `must be from 10ms to ${MAX_TIMER_MS}ms (about 24.8 days, the longest timer)`);
export const probability = z.number().min(0, 'must be between 0 and 1').max(1, 'must be between 0 and 1');
/** An instant: ISO 8601 text (a scenario file), or a valid Date (the library's `simulate`). */
export const instant = z.union([z.string(), z.date()], { error: 'must be an ISO 8601 instant' }).transform((v, ctx) => {
  try {
    if (v instanceof Date) {
      checkDate(v, '');
      return new Date(v.getTime());
    }
    return parseInstant(v, '');
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 instant' });
    return z.NEVER;
  }
});
export const count = z.number().int('must be an integer').min(0, 'must not be negative');
export const positiveCount = z.number().int('must be an integer').min(1, 'must be at least 1');

/**
 * A store URL as `openStore` takes it: `sqlite:PATH`, `sqlite::memory:`, `postgres://…` or a file path.
 * Checked here so that a bad one is reported as the scenario's `store` before anything runs.
 */
export const storeUrl = z
  .string()
  .min(1, 'must not be empty')
  .refine((url) => (url.startsWith('sqlite:') ? url.length > 'sqlite:'.length : /^postgres(ql)?:\/\//.test(url) || !url.includes(':') || /^[./~]/.test(url)), {
    message: 'must be sqlite::memory:, sqlite:PATH or postgres://… (docs/simulate.md#the-scenario)',
  });

export const durationModel = z.discriminatedUnion('dist', [
  z.strictObject({ dist: z.literal('constant'), value: ms }),
  z.strictObject({ dist: z.literal('uniform'), min: ms, max: ms }).refine((d) => d.min <= d.max, { message: 'min must be <= max', path: ['min'] }),
  z.strictObject({ dist: z.literal('exponential'), mean: positiveMs }),
  z.strictObject({ dist: z.literal('lognormal'), median: positiveMs, p99: positiveMs }).refine((d) => d.p99 > d.median, { message: 'must be more than median', path: ['p99'] }),
]);

