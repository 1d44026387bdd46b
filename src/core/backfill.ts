import type { DagSchedule } from './dag.js';
import { pointAfter } from './dag-schedule.js';
import { invalid } from './errors.js';
import { parseInstant } from './instants.js';
import { checkRangeKeys } from './call-checks.js';
import type { CalendarSchedule } from './model.js';
import { firstOccurrence, nextOccurrenceOrNull } from './schedule.js';

/**
 * Backfills (docs/guide.md#backfill): every occurrence of a range of the past, run once, in order.
 * A task's occurrences run one at a time as the task is free; a DAG's points become waiting runs.
 */

/** Most occurrences one task backfill covers. */
export const MAX_TASK_BACKFILL = 10_000;
/** Most runs one DAG backfill creates. */
export const MAX_DAG_BACKFILL = 1_000;

export interface BackfillRange {
  from: Date;
  to: Date;
}

/** Validates a backfill's range: instants, `from` not after `to`, `to` not after `at` (the future runs on schedule). */
export function backfillRange(input: { from?: unknown; to?: unknown }, at: Date, keys: readonly string[] = ['from', 'to']): BackfillRange {
  // A misspelt key would otherwise be ignored without a word (a bound is refused as missing).
  checkRangeKeys(input, keys);
  const from = instant(input.from, 'from');
  const to = instant(input.to, 'to');
  if (to.getTime() < from.getTime()) throw invalid('to', `must not be before from (${from.toISOString()})`);
  if (to.getTime() > at.getTime()) throw invalid('to', `must not be in the future (now is ${at.toISOString()}); future occurrences run on schedule`);
  return { from, to };
}

function instant(v: unknown, field: string): Date {
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v;
  if (typeof v !== 'string') throw invalid(field, 'an ISO 8601 instant is required');
  return parseInstant(v, field);
}

/** The occurrences of a task's schedule in [from, to] (bounds and exclusions applied): at least one, at most `max`. */
export function occurrencesBetween(schedule: CalendarSchedule, range: BackfillRange, max = MAX_TASK_BACKFILL): Date[] {
  return collect(firstOccurrence(schedule, range.from), (d) => nextOccurrenceOrNull(schedule, d), range, max);
}

/**
 * The points of a DAG's schedule in [from, to]: at least one, at most `max`. A backfill may reach
 * before the DAG's `start`: an interval schedule keeps its phase (`start` plus whole intervals).
 */
export function dagPointsBetween(schedule: DagSchedule, start: Date, range: BackfillRange, max = MAX_DAG_BACKFILL): Date[] {
  if (schedule.kind === 'none') throw invalid('id', 'the DAG has no schedule to backfill');
  const first =
    schedule.kind === 'interval'
      ? new Date(start.getTime() + Math.ceil((range.from.getTime() - start.getTime()) / schedule.everyMs) * schedule.everyMs)
      : firstOccurrence({ kind: 'cron', expr: schedule.expr, tz: schedule.tz }, range.from);
  return collect(first, (d) => pointAfter(schedule, d), range, max);
}

/**
 * A backfill's next point once the waiting run it made for the occurrence `taken` is taken back
 * without running (its task paused, or its worker gave it back to a paused task): that occurrence is
 * served again, before those after it. A null next point (the last run was made) counts as later.
 */
export function nextPointAfterTakeBack(nextPoint: Date | null, taken: Date): Date {
  return nextPoint === null || taken.getTime() < nextPoint.getTime() ? taken : nextPoint;
}

/** The occurrence after `after` that is still within the range, or null. */
export function nextInRange(schedule: CalendarSchedule, after: Date, range: BackfillRange): Date | null {
  const next = nextOccurrenceOrNull(schedule, after);
  return next !== null && next.getTime() <= range.to.getTime() ? next : null;
}

function collect(first: Date | null, next: (d: Date) => Date | null, range: BackfillRange, max: number): Date[] {
  const out: Date[] = [];
  for (let p = first; p !== null && p.getTime() <= range.to.getTime(); p = next(p)) {
    if (out.length === max) throw invalid('to', `the range holds more than ${max} occurrences; backfill a shorter range`);
    out.push(p);
  }
  if (out.length === 0) throw invalid('from', `the schedule has no occurrence from ${range.from.toISOString()} to ${range.to.toISOString()}`);
  return out;
}
