import { createHash } from 'node:crypto';
import { priorityRank, type CalendarSchedule, type Schedule, type Task } from './model.js';
import { firstOccurrence, nextOccurrenceOrNull, previousOccurrenceOrNull } from './schedule.js';

/**
 * Missed occurrences and jitter of cron and rrule tasks (docs/guide.md#schedules). Pure: the stores
 * write what these functions decide.
 */

/** A cron or rrule task still waiting this long after its due instant has missed its occurrence. */
export const LATE_AFTER_MS = 60_000;

/** Most late tasks one catch-up moves (the next pass or claim takes the rest). */
export const CATCH_UP_BATCH = 500;

/** The catch-up of late tasks that claims make, and runner passes woken by new tasks, runs at most this often. */
export const CATCH_UP_EVERY_MS = 1000;

/**
 * Whether a runner pass catches late tasks up first: every pass, except one woken by new tasks within
 * CATCH_UP_EVERY_MS of the last catch-up. A task created, replaced or respawned is not late (late
 * means LATE_AFTER_MS past its due instant), and the runner's other passes, at least one per
 * `maxSleepMs`, still catch up each time; a pass per new task of a busy producer saves that read.
 */
export function runnerCatchesUp(lastAt: number | null, at: number, wokenByNewTasks: boolean): boolean {
  return !wokenByNewTasks || lastAt === null || at < lastAt || at - lastAt >= CATCH_UP_EVERY_MS;
}

/**
 * The jitter of one occurrence of one task: a pseudo-random offset in [0, jitterMs), the same in every
 * process (a hash of the task id and the occurrence instant).
 */
export function jitterOffset(taskId: number, occurrence: Date, jitterMs: number): number {
  if (jitterMs <= 0) return 0;
  const digest = createHash('sha256').update(`${taskId}:${occurrence.getTime()}`).digest();
  const fraction = digest.readUIntBE(0, 6) / 2 ** 48; // 48 bits: exact in a double, in [0, 1)
  return Math.floor(fraction * jitterMs);
}

/** When an occurrence of a task is due: the occurrence plus its jitter. */
export function dueAt(schedule: Schedule, taskId: number, occurrence: Date): Date {
  const jitter = schedule.kind === 'adaptive' ? 0 : (schedule.jitterMs ?? 0);
  return jitter === 0 ? occurrence : new Date(occurrence.getTime() + jitterOffset(taskId, occurrence, jitter));
}

/** An occurrence a task serves next, and when it is due. */
export interface NextPoint {
  scheduledFor: Date;
  nextRun: Date;
}

const point = (schedule: Schedule, taskId: number, occurrence: Date): NextPoint => ({ scheduledFor: occurrence, nextRun: dueAt(schedule, taskId, occurrence) });

/**
 * The occurrence a cron or rrule task serves after a run that served `served` ended at `ended`
 * (null: the schedule has none left, the task completes). With catch-up `all` the occurrences that
 * passed meanwhile come one after the other, in order (those older than the window are skipped); with
 * `latest` and `none` it is the first occurrence after the end (and after `previous`, the task's last
 * due instant): one run at a time, so occurrences that pass while a run is going are skipped.
 */
export function nextCalendarPoint(schedule: CalendarSchedule, taskId: number, served: Date, ended: Date, previous: Date): NextPoint | null {
  let next: Date | null;
  if (schedule.catchUp === 'all') {
    next = nextOccurrenceOrNull(schedule, served);
    const window = schedule.catchUpWindowMs;
    if (next !== null && window !== undefined && ended.getTime() - next.getTime() > window) {
      next = firstOccurrence(schedule, new Date(Math.max(served.getTime() + 1, ended.getTime() - window)));
    }
  } else {
    next = nextOccurrenceOrNull(schedule, new Date(Math.max(ended.getTime(), previous.getTime())));
  }
  return next === null ? null : point(schedule, taskId, next);
}

/** What catching up does to a late task: serve another occurrence (due at `nextRun`), or complete it. */
export type LatePlan = ({ action: 'serve' } & NextPoint) | { action: 'complete' };

/** The task fields a catch-up decision reads. */
export type LateTask = Pick<Task, 'id' | 'policy' | 'schedule' | 'nextRun' | 'scheduledFor' | 'nextAttempt'>;

/**
 * Catch-up of a cron or rrule task found waiting (not yet scheduled) more than `lateAfterMs` past its
 * due instant at `at`, before any run is made for it (docs/guide.md#schedules); null when the task is
 * not concerned (adaptive, one-shot, a retry, or not late). The plan always moves the task's due
 * instant to `at` or later, so a task still waiting is looked at again only once it is late again.
 * - `none`: the missed occurrences are dropped: it serves the first occurrence at or after `at`.
 * - `latest`: it serves the latest occurrence at or before `at`, at once (or the first after `at`
 *   when that one is older than the window).
 * - `all`: it serves its own occurrence (or the oldest within the window) at once; the occurrences
 *   after it follow one by one as its runs end (nextCalendarPoint).
 * Whatever the policy, an occurrence due within the last `lateAfterMs` is on time, not missed: where
 * the policy would skip to the first occurrence after `at`, it serves that one at once instead.
 */
export function planLateTask(task: LateTask, at: Date, lateAfterMs = LATE_AFTER_MS): LatePlan | null {
  const s = task.schedule;
  if (s.kind === 'adaptive' || task.policy !== 'recurring' || task.nextAttempt > 1) return null;
  if (at.getTime() - task.nextRun.getTime() <= lateAfterMs) return null;
  const now = at.getTime();
  const window = s.catchUpWindowMs;
  const within = (d: Date) => window === undefined || now - d.getTime() <= window;
  const serveNow = (occurrence: Date): LatePlan => {
    const due = dueAt(s, task.id, occurrence);
    return { action: 'serve', scheduledFor: occurrence, nextRun: due.getTime() > now ? due : at };
  };
  const own = task.scheduledFor;
  // What follows the missed occurrences: one due within the last lateAfterMs is on time, not missed,
  // and is served at once; else the first occurrence at or after `at`.
  const upcoming = (): LatePlan => {
    const recent = firstOccurrence(s, new Date(now - lateAfterMs));
    if (recent !== null && recent.getTime() <= now && recent.getTime() > own.getTime()) return serveNow(recent);
    const next = firstOccurrence(s, at);
    return next === null ? { action: 'complete' } : { action: 'serve', ...point(s, task.id, next) };
  };
  if (s.catchUp === 'none') return upcoming();
  if (s.catchUp === 'all') {
    if (within(own)) return serveNow(own);
    const oldest = firstOccurrence(s, new Date(Math.max(own.getTime() + 1, now - window!)));
    return oldest !== null && oldest.getTime() <= now ? serveNow(oldest) : upcoming();
  }
  const latest = previousOccurrenceOrNull(s, at);
  const served = latest === null || latest.getTime() < own.getTime() ? own : latest;
  return within(served) ? serveNow(served) : upcoming();
}

/**
 * The waiting tasks of a type as the runner's next pass takes them (`task list-pending`): `due` is the
 * store's due tasks in runner order (rank, due instant, id) with `complete` true when it holds every due
 * task; late cron and rrule tasks are first caught up as that pass would (planLateTask): moved to the
 * occurrence they serve, and left out when that is not due at `at` or they complete. Returns the first
 * `limit`, or null when the answer may need tasks past `due` (ask again with more).
 */
export function pendingAfterCatchUp(due: readonly Task[], complete: boolean, at: Date, limit: number): Task[] | null {
  const seen: Task[] = [];
  for (const task of due) {
    const plan = planLateTask(task, at);
    if (plan === null) seen.push(task);
    else if (plan.action === 'serve' && plan.nextRun.getTime() <= at.getTime()) seen.push({ ...task, nextRun: plan.nextRun, scheduledFor: plan.scheduledFor });
  }
  seen.sort(runnerOrder);
  if (complete || due.length === 0) return seen.slice(0, limit);
  // Catching up only moves tasks later: a task past `due` comes after its last one, so only the tasks
  // before that boundary are sure of their place.
  const boundary = due[due.length - 1]!;
  const sure = seen.filter((t) => runnerOrder(t, boundary) <= 0);
  return sure.length >= limit ? sure.slice(0, limit) : null;
}

function runnerOrder(a: Task, b: Task): number {
  return priorityRank(a.priority) - priorityRank(b.priority) || a.nextRun.getTime() - b.nextRun.getTime() || a.id - b.id;
}

/**
 * The due instant of a new cron or rrule task once it has its id, when its jitter moves it (null:
 * `nextRun` stands). Only a `nextRun` taken from the schedule is jittered, not one given explicitly.
 */
export function firstDueOfNew(t: NewTaskTiming, id: number): Date | null {
  if (!jitteredFirst(t)) return null;
  const due = dueAt(t.schedule, id, t.scheduledFor!);
  return due.getTime() === t.nextRun.getTime() ? null : due;
}

/** The timing fields of a new task (NewTask). */
export interface NewTaskTiming {
  schedule: Schedule;
  nextRun: Date;
  scheduledFor?: Date;
}

/** Whether a new task's first due instant depends on its id (a jittered first occurrence). */
export function jitteredFirst(t: NewTaskTiming): boolean {
  return t.scheduledFor !== undefined && t.schedule.kind !== 'adaptive' && (t.schedule.jitterMs ?? 0) > 0;
}
