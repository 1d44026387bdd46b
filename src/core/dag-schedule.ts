import type { DagSchedule } from './dag.js';
import { nextOccurrenceOrNull } from './schedule.js';
import { LATEST_INSTANT_MS } from './instants.js';

/** What happened at a schedule point (SPEC §3): every point is recorded as one of these. */
export const DAG_POINT_KINDS = ['scheduled', 'caught_up', 'skipped', 'triggered'] as const;
export type DagPointKind = (typeof DAG_POINT_KINDS)[number];

/** A point older than this when the scheduler reaches it is late: caught up, or skipped without catch-up. */
export const DEFAULT_LATENESS_MS = 60_000;

/** One recorded point; skipped points that follow each other are recorded as one range. */
export interface PointRecord {
  kind: DagPointKind;
  execTs: Date;
  /** For a skipped range: its last point (null for a single point). */
  untilTs: Date | null;
  /** How many points the record covers. */
  count: number;
}

export interface DuePointsInput {
  schedule: DagSchedule;
  /** The first point not yet recorded (null: the schedule has no more points). */
  nextPoint: Date | null;
  now: Date;
  catchUp: boolean;
  /** At most this many runs are created by one call; the rest wait for the next call. */
  maxRuns: number;
  latenessMs?: number;
  /**
   * At most this many late points of a cron schedule are walked by one call; the caller calls again for
   * the rest (and `mergeSkipped` joins the ranges). Late points of an interval schedule are counted, not walked.
   */
  maxWalk?: number;
}

export interface DuePoints {
  /** Points to record, in order; those of kind scheduled or caught_up get a DAG run. */
  records: PointRecord[];
  /** The first point not recorded after these records. */
  nextPoint: Date | null;
}

/**
 * A point of an interval schedule, or none past the latest instant a `Date` holds (+275760-09-13): an
 * interval schedule ends there, as a cron schedule ends at the year 3000 (cronNext).
 */
function intervalPoint(ms: number): Date | null {
  return ms > LATEST_INSTANT_MS ? null : new Date(ms);
}

/** The first schedule point at or after `from` (default: `start`) of a schedule that begins at `start`. */
export function firstPoint(schedule: DagSchedule, start: Date, from: Date = start): Date | null {
  if (schedule.kind === 'none') return null;
  const at = Math.max(start.getTime(), from.getTime());
  if (schedule.kind === 'interval') {
    const k = Math.ceil((at - start.getTime()) / schedule.everyMs);
    return intervalPoint(start.getTime() + k * schedule.everyMs);
  }
  return nextOccurrenceOrNull({ kind: 'cron', expr: schedule.expr, tz: schedule.tz }, new Date(at - 1));
}

/** After a schedule or start change: the new schedule's first point after the last recorded one. */
export function nextPointAfterChange(schedule: DagSchedule, start: Date, lastRecorded: Date | null): Date | null {
  return firstPoint(schedule, start, lastRecorded === null ? start : new Date(lastRecorded.getTime() + 1));
}

/** The schedule point after `point`. */
export function pointAfter(schedule: DagSchedule, point: Date): Date | null {
  if (schedule.kind === 'none') return null;
  if (schedule.kind === 'interval') return intervalPoint(point.getTime() + schedule.everyMs);
  return nextOccurrenceOrNull({ kind: 'cron', expr: schedule.expr, tz: schedule.tz }, point);
}

/**
 * The points due at `now` (SPEC §3). With catch-up every due point gets a run, in order, the late ones
 * as `caught_up`. Without it, missed points are `skipped` (recorded as ranges) and only the latest due
 * point, reached on time (within the lateness), gets a run: a point followed by another due point was
 * missed, however recent (a per-second DAG back after 20 s runs once, not 20 times).
 */
export function duePoints(input: DuePointsInput): DuePoints {
  const lateness = input.latenessMs ?? DEFAULT_LATENESS_MS;
  const maxWalk = input.maxWalk ?? 2_000;
  const now = input.now.getTime();
  const records: PointRecord[] = [];
  let next = input.nextPoint;
  let runs = 0;
  let walked = 0;
  const skip = (from: Date, until: Date, count: number) => {
    const last = records[records.length - 1];
    if (last && last.kind === 'skipped') {
      last.untilTs = until;
      last.count += count;
    } else records.push({ kind: 'skipped', execTs: from, untilTs: count > 1 ? until : null, count });
  };
  while (next !== null && next.getTime() <= now && runs < input.maxRuns) {
    // Without catch-up a due point is missed when the point after it is due too.
    const after = input.catchUp ? null : pointAfter(input.schedule, next);
    const superseded = after !== null && after.getTime() <= now;
    const late = superseded || now - next.getTime() > lateness;
    if (!late) {
      records.push({ kind: 'scheduled', execTs: next, untilTs: null, count: 1 });
      runs += 1;
    } else if (input.catchUp) {
      records.push({ kind: 'caught_up', execTs: next, untilTs: null, count: 1 });
      runs += 1;
    } else if (input.schedule.kind === 'interval') {
      // Every missed point at once, counted: the due points but the latest, and that one too if it is late.
      const every = input.schedule.everyMs;
      const due = Math.floor((now - next.getTime()) / every) + 1;
      const latest = next.getTime() + (due - 1) * every;
      const n = now - latest > lateness ? due : due - 1;
      const last = new Date(next.getTime() + (n - 1) * every);
      skip(next, last, n);
      next = intervalPoint(last.getTime() + every);
      continue;
    } else {
      if (++walked > maxWalk) break; // a long cron backlog without catch-up: the caller calls again
      skip(next, next, 1);
    }
    next = after ?? pointAfter(input.schedule, next);
  }
  return { records, nextPoint: next };
}

/**
 * How to store `records` after `last`, the DAG's latest recorded schedule point (triggers aside):
 * consecutive skipped points are one range, so a leading skipped range continues a skipped `last`
 * (a backlog walked over several calls, or two outages with no point run between them). `extend` is
 * `last` grown to cover it (null when nothing merges); `insert` are the records to add.
 */
export function mergeSkipped(last: PointRecord | null, records: readonly PointRecord[]): { extend: PointRecord | null; insert: PointRecord[] } {
  const first = records[0];
  if (!last || last.kind !== 'skipped' || !first || first.kind !== 'skipped' || first.execTs.getTime() <= (last.untilTs ?? last.execTs).getTime()) {
    return { extend: null, insert: [...records] };
  }
  return {
    extend: { ...last, untilTs: first.untilTs ?? first.execTs, count: last.count + first.count },
    insert: records.slice(1),
  };
}
