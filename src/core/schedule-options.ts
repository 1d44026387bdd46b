import { MAX_DURATION_MS, parseDuration } from './durations.js';
import { ValidationError, invalid, type ErrorDetail } from './errors.js';
import { fromDetails } from './json-checks.js';
import { parseInstant } from './instants.js';

/**
 * What a cron or rrule task does with occurrences it missed (docs/guide.md#schedules): `none` runs
 * nothing for them, `latest` runs once for the latest (the default), `all` runs each once, in order.
 */
export const CATCH_UP_POLICIES = ['none', 'latest', 'all'] as const;
export type CatchUp = (typeof CATCH_UP_POLICIES)[number];

/**
 * The options of a cron or rrule schedule as stored (fields with their default are left out, so a
 * schedule without options is stored as before).
 */
export interface CalendarOptions {
  /** Missed occurrences: `none`, `latest` (default) or `all`. */
  catchUp?: CatchUp;
  /** Only occurrences at most this old are caught up (absent: no limit). */
  catchUpWindowMs?: number;
  /** Each occurrence is due a pseudo-random offset in [0, jitterMs) after it (absent: 0). */
  jitterMs?: number;
  /** No occurrence before this instant (ISO 8601 UTC). */
  startAt?: string;
  /** No occurrence after this instant (ISO 8601 UTC); the task completes after its last one. */
  endAt?: string;
  /** Occurrences on these local dates (`YYYY-MM-DD`, in the schedule's zone) or at these instants do not happen. */
  exclude?: string[];
}

/** The option fields a cron or rrule schedule accepts as input (durations as text or milliseconds). */
export const CALENDAR_OPTION_FIELDS = ['catchUp', 'catchUpWindow', 'jitter', 'startAt', 'endAt', 'exclude'] as const;

/** The options of a cron or rrule schedule as given (`TaskInput.schedule`). */
export interface CalendarOptionsInput {
  /** `none`, `latest` (default) or `all`. */
  catchUp?: CatchUp;
  /** A duration (`6h`, or milliseconds): only missed occurrences at most this old are caught up. */
  catchUpWindow?: string | number;
  /** A duration (`5m`, or milliseconds), at most the schedule's shortest interval. */
  jitter?: string | number;
  /** An instant (ISO 8601): no occurrence before it. */
  startAt?: string | Date;
  /** An instant (ISO 8601): no occurrence after it; not before `startAt`. */
  endAt?: string | Date;
  /** Local dates (`2026-12-25`) or instants (`2026-12-24T18:00:00Z`) without occurrence. */
  exclude?: string[];
}

export const MAX_EXCLUSIONS = 1000;
const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Validates the calendar options of a schedule object `s` (field names prefixed with `field`); every
 * problem is reported at once (one ValidationError with a detail each).
 */
export function normaliseCalendarOptions(s: Record<string, unknown>, field: string): CalendarOptions {
  const out: CalendarOptions = {};
  const problems: ErrorDetail[] = [];
  const check = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      problems.push(...e.details);
      return undefined;
    }
  };
  if (s.catchUp !== undefined) {
    if (typeof s.catchUp !== 'string' || !(CATCH_UP_POLICIES as readonly string[]).includes(s.catchUp)) {
      problems.push({ path: `${field}.catchUp`, message: 'must be "none", "latest" or "all"' });
    } else if (s.catchUp !== 'latest') out.catchUp = s.catchUp as CatchUp;
  }
  if (s.catchUpWindow !== undefined) {
    if (s.catchUp === 'none') problems.push({ path: `${field}.catchUpWindow`, message: 'applies to catchUp "latest" or "all", not "none"' });
    else {
      const window = check(() => durationOption(s.catchUpWindow, `${field}.catchUpWindow`));
      if (window !== undefined) out.catchUpWindowMs = window;
    }
  }
  if (s.jitter !== undefined) {
    const jitter = check(() => durationOption(s.jitter, `${field}.jitter`));
    if (jitter !== undefined && jitter > 0) out.jitterMs = jitter;
  }
  const startAt = s.startAt === undefined ? undefined : check(() => instantOption(s.startAt, `${field}.startAt`));
  const endAt = s.endAt === undefined ? undefined : check(() => instantOption(s.endAt, `${field}.endAt`));
  if (startAt && endAt && endAt.getTime() < startAt.getTime()) problems.push({ path: `${field}.endAt`, message: `must not be before startAt (${startAt.toISOString()})` });
  if (startAt) out.startAt = startAt.toISOString();
  if (endAt) out.endAt = endAt.toISOString();
  if (s.exclude !== undefined) {
    if (!Array.isArray(s.exclude)) problems.push({ path: `${field}.exclude`, message: 'must be an array of dates (2026-12-25) or instants' });
    else if (s.exclude.length > MAX_EXCLUSIONS) problems.push({ path: `${field}.exclude`, message: `at most ${MAX_EXCLUSIONS} entries` });
    else {
      const seen = new Set<string>();
      s.exclude.forEach((e, i) => {
        const path = `${field}.exclude[${i}]`;
        if (typeof e !== 'string') return void problems.push({ path, message: 'must be a date (2026-12-25) or an instant (2026-12-24T18:00:00Z)' });
        const text = e.trim();
        const normal = check(() => (LOCAL_DATE.test(text) ? (parseInstant(text, path), text) : parseInstant(text, path).toISOString()));
        if (normal !== undefined) seen.add(normal);
      });
      if (seen.size > 0) out.exclude = [...seen].sort();
    }
  }
  if (problems.length > 0) throw fromDetails(problems);
  return out;
}

function durationOption(v: unknown, path: string): number {
  let ms: number;
  if (typeof v === 'number') {
    // A whole number past 2^53 (1e20) is past 100 years: told so below.
    if (!Number.isInteger(v)) throw invalid(path, 'must be an integer number of milliseconds or a duration like 5m');
    ms = v;
  } else if (typeof v === 'string') {
    if (v.trim().startsWith('-')) throw invalid(path, 'must not be negative');
    ms = parseDuration(v, path);
  } else throw invalid(path, 'must be a duration like 5m, or milliseconds');
  if (ms < 0) throw invalid(path, 'must not be negative');
  if (ms > MAX_DURATION_MS) throw invalid(path, 'must be at most 100 years');
  return ms;
}

function instantOption(v: unknown, path: string): Date {
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw invalid(path, 'invalid date');
    return v;
  }
  if (typeof v !== 'string') throw invalid(path, 'must be an ISO 8601 instant');
  return parseInstant(v, path);
}

/** The calendar options of a stored schedule (absent fields mean their defaults). */
export function calendarOptionsOf(s: CalendarOptions): Required<Pick<CalendarOptions, 'catchUp'>> & CalendarOptions {
  return { ...s, catchUp: s.catchUp ?? 'latest' };
}

/** True when `e` is a ValidationError (used where an option check wraps another one). */
export function isValidation(e: unknown): e is ValidationError {
  return e instanceof ValidationError;
}
