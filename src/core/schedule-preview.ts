import { DateTime, IANAZone } from 'luxon';
import { nextCalendarPoint, type NextPoint } from './catch-up.js';
import type { DagSchedule } from './dag.js';
import { firstPoint, pointAfter } from './dag-schedule.js';
import { invalid } from './errors.js';
import type { CalendarSchedule } from './model.js';
import { firstOccurrence, movedByDst, nextOccurrenceOrNull, scheduleZone } from './schedule.js';

/** How a daylight-saving change touches an occurrence's local time (null: not at all). */
export const DST_MARKS = ['skipped', 'repeated-first', 'repeated-second'] as const;
export type DstMark = (typeof DST_MARKS)[number];

/** One upcoming occurrence, in UTC and in its schedule's zone. */
export interface PreviewEntry {
  /** The occurrence. */
  at: Date;
  /** When it is due: `at` plus the task's jitter (equal to `at` without jitter, or outside a task). */
  due: Date;
  /** Its local time with offset (`2026-03-29T03:00:00.000+02:00`). */
  local: string;
  /**
   * `skipped`: the local time the schedule asks for does not exist that day (clocks went forward) and
   * the occurrence moved to the end of the gap; `repeated-first` / `repeated-second`: its local time
   * happens twice that night (clocks went back) and this is the first / the second.
   */
  dst: DstMark | null;
}

export interface Preview {
  /** The IANA zone the schedule is evaluated in. */
  zone: string;
  occurrences: PreviewEntry[];
}

export const MAX_PREVIEW = 1000;

/** Checks a preview's `count` (1 to 1000). */
export function previewCount(count: number | undefined, fallback = 5): number {
  const n = count ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PREVIEW) throw invalid('count', `must be an integer from 1 to ${MAX_PREVIEW}`);
  return n;
}

/**
 * The first `count` occurrences of a cron or rrule schedule at or after `from` (bounds and exclusions
 * applied). With `task`, the occurrences its runs will serve: first its own next one (`scheduledFor`,
 * due `nextRun`: a retry's due instant too), then each that the end-of-run rule gives after it
 * (nextCalendarPoint, as if each run ended when due: with catch-up `latest` or `none`, the occurrences
 * that pass before a late retry's due instant are skipped), each due later by the task's jitter.
 */
export function previewSchedule(schedule: CalendarSchedule, from: Date, count: number, task?: { id: number; scheduledFor: Date; nextRun: Date }): Preview {
  const zone = scheduleZone(schedule);
  const occurrences: PreviewEntry[] = [];
  const entry = (at: Date, due: Date): PreviewEntry => ({ at, due, local: localText(at, zone), dst: skipped(schedule, at, zone) ? 'skipped' : repetition(at, zone) });
  if (task) {
    let point: NextPoint | null = { scheduledFor: task.scheduledFor, nextRun: task.nextRun };
    while (point !== null && occurrences.length < count) {
      occurrences.push(entry(point.scheduledFor, point.nextRun));
      point = nextCalendarPoint(schedule, task.id, point.scheduledFor, point.nextRun, point.nextRun);
    }
    return { zone, occurrences };
  }
  let next = firstOccurrence(schedule, from);
  while (next !== null && occurrences.length < count) {
    occurrences.push(entry(next, next));
    next = nextOccurrenceOrNull(schedule, next);
  }
  return { zone, occurrences };
}

/** The next `count` points of a DAG's schedule at or after `from` (none for a DAG without schedule). */
export function previewDag(schedule: DagSchedule, start: Date, from: Date, count: number): Preview {
  if (schedule.kind === 'cron') return previewSchedule({ kind: 'cron', expr: schedule.expr, tz: schedule.tz }, new Date(Math.max(from.getTime(), start.getTime())), count);
  const occurrences: PreviewEntry[] = [];
  let next = firstPoint(schedule, start, from);
  while (next !== null && occurrences.length < count) {
    occurrences.push({ at: next, due: next, local: localText(next, 'UTC'), dst: null });
    next = pointAfter(schedule, next);
  }
  return { zone: 'UTC', occurrences };
}

/**
 * Whether a DST change moved `at` forward: off its schedule's local times, just after clocks went
 * forward. A task's own next occurrence may be off the schedule for another reason (a next run given
 * by hand, a respawn): that is no DST mark.
 */
function skipped(schedule: CalendarSchedule, at: Date, zone: string): boolean {
  const z = IANAZone.create(zone);
  const t = at.getTime();
  return z.offset(t - 6 * 3_600_000) < z.offset(t + 6 * 3_600_000) && movedByDst(schedule, at);
}

function localText(at: Date, zone: string): string {
  return DateTime.fromJSDate(at, { zone }).toISO() ?? at.toISOString();
}

/**
 * Whether `at`'s local time happens twice in `zone` (a DST change set the clocks back), and if so
 * whether `at` is the first or the second of the two instants.
 */
export function repetition(at: Date, zone: string): DstMark | null {
  const z = IANAZone.create(zone);
  const t = at.getTime();
  const before = z.offset(t - 6 * 3_600_000);
  const after = z.offset(t + 6 * 3_600_000);
  if (before <= after) return null; // no change, or clocks going forward: nothing repeats
  const wall = t + z.offset(t) * 60_000;
  const first = wall - before * 60_000;
  const second = wall - after * 60_000;
  if (z.offset(first) !== before || z.offset(second) !== after) return null;
  return t === first ? 'repeated-first' : 'repeated-second';
}
