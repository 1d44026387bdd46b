import { backfillRange, nextInRange, occurrencesBetween } from '../core/backfill.js';
import { CATCH_UP_BATCH, CATCH_UP_EVERY_MS, planLateTask } from '../core/catch-up.js';
import { ConflictError, NotFoundError, ValidationError, invalid } from '../core/errors.js';
import { checkId } from '../core/task-ids.js';
import { knownOptions } from '../core/options.js';
import { checkPreviewShape, previewFrom } from '../core/call-checks.js';
import type { CalendarSchedule, Task, TaskRun } from '../core/model.js';
import { normaliseSchedule, scheduleZone } from '../core/schedule.js';
import { previewCount, previewSchedule, type Preview } from '../core/schedule-preview.js';
import { checkDate, parseInstant, requireInstant } from '../core/instants.js';
import type { CaughtUpTask, TaskBackfill } from '../store/schedule-store.js';
import type { Store } from '../store/store.js';

/** What the schedule service uses of the service it belongs to. */
export interface ScheduleHost {
  readonly store: Store;
  now(): Date;
}

/** A preview request: a cron expression (with its zone) or an RFC 5545 rule. */
export interface PreviewInput {
  /** A cron expression (`0 9 * * 1-5`). */
  cron?: string;
  /** The cron expression's IANA zone (default `UTC`). */
  tz?: string;
  /** An RFC 5545 rule (`FREQ=DAILY;BYHOUR=9`, with an optional DTSTART and EXDATE lines). */
  rrule?: string;
  /** How many occurrences (1 to 1000, default 5). */
  count?: number;
  /** The first occurrence is at or after this instant (ISO 8601 or a Date; default now). */
  from?: string | Date;
}

/** A task backfill with the runs it made so far (oldest first; each serves `run.scheduledFor`). */
export interface BackfillProgress extends TaskBackfill {
  runs: TaskRun[];
}

/** Running backfills read per page by a runner pass (every page is read: see advance). */
const BACKFILL_PAGE = 100;

/** A preview request's occurrences (ScheduleService.preview), `now` being the default `from`. */
export function previewOf(input: PreviewInput, now: Date): Preview {
  checkPreviewShape(input);
  const count = previewCount(input.count);
  const from = previewFrom(input.from, now);
  if ((input.cron === undefined) === (input.rrule === undefined)) throw invalid('cron', 'give either a cron expression or an rrule');
  if (input.rrule !== undefined && input.tz !== undefined) throw invalid('tz', 'applies to a cron expression (an rrule names its zone in DTSTART;TZID=...)');
  let schedule: CalendarSchedule;
  try {
    schedule = normaliseSchedule(
      input.cron !== undefined ? { kind: 'cron', expr: input.cron, ...(input.tz !== undefined ? { tz: input.tz } : {}) } : { kind: 'rrule', rule: input.rrule },
      from,
    ) as CalendarSchedule;
  } catch (e) {
    // Named after the request's fields: schedule.expr -> cron, schedule.tz -> tz, schedule.rule -> rrule.
    if (!(e instanceof ValidationError)) throw e;
    const name = { 'schedule.expr': 'cron', 'schedule.tz': 'tz', 'schedule.rule': 'rrule' }[e.details[0]?.path ?? ''] ?? 'cron';
    throw invalid(name, e.details[0]?.message ?? e.message);
  }
  return previewSchedule(schedule, from, count);
}

/**
 * Schedules (docs/guide.md#schedules): previews, the catch-up of late cron and rrule tasks, and task
 * backfills, which this service drives: each runner pass gives the next occurrence of every running
 * backfill its run once its task is free.
 */
export class ScheduleService {
  /** True while a backfill was running at the last pass (the runner then also wakes when runs end). */
  backfillsRunning = false;
  private lastClaimCatchUp: number | null = null;

  constructor(private readonly host: ScheduleHost) {}

  private get store() {
    return this.host.store.schedules;
  }

  /** The next occurrences of a cron expression or rrule, in UTC and in the schedule's zone, DST changes marked. */
  preview(input: PreviewInput): Preview {
    return previewOf(input, this.host.now());
  }

  /**
   * A task's next occurrences (count, default 5): for a cron or rrule task the one its next run serves,
   * then the following ones, each with its due instant (jitter); for another task its next run only;
   * none for a completed or disabled task.
   */
  async next(taskId: number, opts: { count?: number; at?: Date } = {}): Promise<Preview & { task: number }> {
    opts = knownOptions(opts, ['count', 'at']);
    const count = previewCount(opts.count);
    const at = this.instant(opts.at);
    const task = await this.requireTask(taskId);
    const zone = task.schedule.kind === 'adaptive' ? 'UTC' : scheduleZone(task.schedule);
    if (task.status === 'completed' || task.status === 'disabled') return { task: task.id, zone, occurrences: [] };
    if (task.schedule.kind === 'adaptive') {
      return { task: task.id, zone: 'UTC', occurrences: [{ at: task.scheduledFor, due: task.nextRun, local: task.scheduledFor.toISOString(), dst: null }] };
    }
    // A task late now is first moved as the runner's catch-up would move it (planLateTask).
    const late = task.status === 'next_run_not_scheduled' ? planLateTask(task, at) : null;
    if (late?.action === 'complete') return { task: task.id, zone, occurrences: [] };
    const first = late ? { id: task.id, scheduledFor: late.scheduledFor, nextRun: late.nextRun } : task;
    return { task: task.id, ...previewSchedule(task.schedule, task.scheduledFor, count, first) };
  }

  /**
   * Runs every occurrence of a cron or rrule task in [from, to] (both in the past) once, in order, one
   * at a time, as the task is free between its own runs (docs/guide.md#backfill). The handler sees
   * the occurrence as `run.scheduledFor`. ConflictError while another backfill of the task runs.
   */
  async backfill(taskId: number, input: { from?: unknown; to?: unknown }, opts: { at?: Date } = {}): Promise<TaskBackfill> {
    const at = this.instant(knownOptions(opts, ['at']).at);
    const task = await this.requireTask(taskId);
    if (task.schedule.kind === 'adaptive') throw invalid('id', `task ${task.id} has no cron or rrule schedule to backfill`);
    if (task.status === 'completed' || task.status === 'disabled') {
      throw new ConflictError(`task ${task.id} is ${task.status}; respawn it to backfill it`, [{ path: 'id', message: `task is ${task.status}` }]);
    }
    const range = backfillRange(input, at);
    const points = occurrencesBetween(task.schedule, range);
    const made = await this.store.createBackfill(task.id, range.from, range.to, points[0]!, points.length, at);
    const b = made.backfill;
    if (!made.created) throw new ConflictError(`backfill ${b.id} of task ${task.id} is still running`, [{ path: 'id', message: `backfill ${b.id} is running` }]);
    this.host.store.wake({ kind: 'tasks-written', count: 1 });
    return b;
  }

  /** A backfill with its runs so far; NotFoundError when unknown. */
  async progress(backfillId: number): Promise<BackfillProgress> {
    const b = await this.requireBackfill(backfillId);
    return { ...b, runs: await this.store.backfillRuns(b.id) };
  }

  /** A task's backfills, newest first. */
  async backfills(taskId: number): Promise<TaskBackfill[]> {
    return this.store.listBackfills((await this.requireTask(taskId)).id);
  }

  /** Stops a running backfill: no further occurrence gets a run (a run already made finishes). */
  async cancelBackfill(backfillId: number, opts: { at?: Date } = {}): Promise<TaskBackfill> {
    const at = this.instant(knownOptions(opts, ['at']).at);
    const b = await this.requireBackfill(backfillId);
    const done = await this.store.finishBackfill(b.id, 'cancelled', at);
    if (!done) throw new ConflictError(`backfill ${b.id} already ended ${b.status}`, [{ path: 'id', message: `backfill is ${b.status}` }]);
    return done;
  }

  /** `at` as given (a valid Date), or the Orrery's clock. */
  private instant(at: Date | undefined): Date {
    checkDate(at, 'at');
    return at ?? this.host.now();
  }

  /** The catch-up of late cron and rrule tasks at `at` (core/catch-up.ts), part of every runner pass; with `type`, of that type only. */
  catchUp(at: Date, type?: string): Promise<CaughtUpTask[]> {
    return this.store.catchUpLate(at, CATCH_UP_BATCH, type);
  }

  /**
   * The catch-up before a claim of due tasks, at most once a second per process; none for a store
   * whose claims catch up inside their own transaction (SQLite: `catchesUpInClaims`).
   */
  async catchUpBeforeClaim(at: Date): Promise<void> {
    if (this.host.store.catchesUpInClaims) return;
    const t = at.getTime();
    if (this.lastClaimCatchUp !== null && t >= this.lastClaimCatchUp && t - this.lastClaimCatchUp < CATCH_UP_EVERY_MS) return;
    this.lastClaimCatchUp = t;
    await this.catchUp(at);
  }

  /**
   * One step of every running backfill (with `type`, of that type's tasks): the next occurrence gets its
   * run when the task is free; a backfill whose last run ended is done; one whose task was disabled or
   * completed is cancelled.
   */
  async advance(at: Date, type?: string): Promise<TaskRun[]> {
    const runs: TaskRun[] = [];
    // Every running backfill, a page at a time: the first hundred (of paused tasks, say) must not hold back the others.
    let page = await this.store.runningBackfills(BACKFILL_PAGE);
    this.backfillsRunning = page.length > 0;
    while (page.length > 0) {
      runs.push(...(await this.advancePage(page, at, type)));
      page = page.length < BACKFILL_PAGE ? [] : await this.store.runningBackfills(BACKFILL_PAGE, page[page.length - 1]!.id);
    }
    return runs;
  }

  private async advancePage(running: readonly TaskBackfill[], at: Date, type?: string): Promise<TaskRun[]> {
    const runs: TaskRun[] = [];
    for (const b of running) {
      const task = await this.host.store.getTask(b.task);
      if (type !== undefined && task?.type !== type) continue; // a pass of one type leaves the others' backfills alone
      if (!task || task.status === 'completed' || task.status === 'disabled' || task.schedule.kind === 'adaptive') {
        await this.store.finishBackfill(b.id, 'cancelled', at);
        continue;
      }
      if (b.nextPoint === null) {
        const last = (await this.store.backfillRuns(b.id)).at(-1);
        if (!last || last.ended !== null) await this.store.finishBackfill(b.id, 'done', at);
        continue;
      }
      if (task.status !== 'next_run_not_scheduled' || task.nextRun.getTime() <= at.getTime()) continue;
      const following = nextInRange(task.schedule, b.nextPoint, b);
      const run = await this.store.startBackfillRun(b.id, b.nextPoint, following, at);
      if (run) runs.push(run);
    }
    return runs;
  }

  private async requireTask(id: number): Promise<Task> {
    checkId(id);
    const task = await this.host.store.getTask(id);
    if (!task) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: 'no such task' }]);
    return task;
  }

  private async requireBackfill(id: number): Promise<TaskBackfill> {
    checkId(id, 'id', 'backfill');
    const b = await this.store.getBackfill(id);
    if (!b) throw new NotFoundError(`backfill ${id} not found`, [{ path: 'id', message: 'no such backfill' }]);
    return b;
  }
}

/**
 * What a task's resume caught up, from the task before and after it: the resume changes a task's
 * schedule fields only when its store applied the catch-up policy (a late cron or rrule task); null
 * when it did not.
 */
export function caughtUpByResume(before: Task, after: Task): CaughtUpTask | null {
  if (before.schedule.kind === 'adaptive') return null;
  const same = after.status === before.status && after.nextRun.getTime() === before.nextRun.getTime() && after.scheduledFor.getTime() === before.scheduledFor.getTime();
  if (same) return null;
  const done = after.status === 'completed';
  return { task: after.id, type: after.type, catchUp: before.schedule.catchUp ?? 'latest', missed: before.scheduledFor, serves: done ? null : after.scheduledFor, nextRun: done ? null : after.nextRun };
}
