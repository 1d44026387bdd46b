import { checkDate } from '../core/instants.js';
import { NotFoundError, OrreryError, invalid, shown } from '../core/errors.js';
import { assertDurationMs } from '../core/durations.js';
import { checkFlag, knownOptions, refuseUnknownKeys, requireOptions } from '../core/options.js';
import { checkAbandon, checkAnswerWithin, checkClaimOptions, checkHeartbeatRunsOptions, checkReleaseOptions, requireEndItem, requireRunId, requireWorker, requireWorkerOptions } from './service-checks.js';
import { SCHEDULE_BATCH } from '../core/limits.js';
import { ANSWER_WITHIN, END_OPTIONS, HEARTBEAT_OPTIONS, UNKNOWN_END_FIELD, oneItemPerRun, unknownEndField } from '../core/jobboard-options.js';
import { RUN_END_STATUSES, type RunLogRecord, type TaskRun } from '../core/model.js';
import { checkLogRecords } from '../core/run-logs.js';
import { assertJson, validateMetadata } from '../core/json-checks.js';
import { assertText, checkTypeName } from '../core/storable.js';
import { applyThrottles } from './adaptive-limits.js';
import type { CancelRunResult, ClaimOutcome, EndRunItem, EndRunRequest, EndRunResult, HeartbeatAnswer, HeartbeatItem, HeartbeatRunsAnswer, Store } from '../store/store.js';
import type { Clock } from './clock.js';
import { recordSchedule, tracingOn } from './tracing.js';
import type { ClaimOptions, EndRunOptions } from './jobboard.js';
import { giveBackUnbegun } from './abandon.js';
import type { ScheduleService } from './schedule-service.js';
import type { At, OrreryEvents, RunEvent } from './service-types.js';

/** The options of the runner's pass. */
const SCHEDULE_OPTIONS = ['at', 'type', 'refillFraction', 'graceMs', 'holdUnlimited', 'catchUp', 'fill'];

/** Sends one `run` event per run, when someone listens. */
export function emitRuns(events: OrreryEvents, event: RunEvent['event'], runs: readonly TaskRun[]): void {
  if (events.listenerCount('run') === 0) return;
  for (const run of runs) events.emit('run', { event, run });
}

/** Sends an `ended` event per run an end recorded (refusals are skipped); returns the outcomes. */
export function emitEnded<T extends EndRunResult | OrreryError>(events: OrreryEvents, outcomes: T[], reaped = false): T[] {
  if (events.listenerCount('run') === 0) return outcomes;
  for (const o of outcomes) if (!(o instanceof OrreryError)) events.emit('run', { event: 'ended', run: (o as EndRunResult).run, ...(reaped ? { reaped } : {}) });
  return outcomes;
}

/** What the calls below need of the service. */
export interface BoardContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly events: OrreryEvents;
  readonly schedules: ScheduleService;
  instant(at?: Date): Date;
}

/**
 * The runner's pass and the jobboard's calls of the service (`Orrery`): claims, heartbeats, ends,
 * give-backs, cancellation, the reaper's pass. Each checks its arguments, then asks the store.
 */
export class BoardCalls {
  constructor(private readonly s: BoardContext) {}

  private emitRuns(event: RunEvent['event'], runs: readonly TaskRun[]): void {
    emitRuns(this.s.events, event, runs);
  }

  private emitEnded<T extends EndRunResult | OrreryError>(outcomes: T[], reaped = false): T[] {
    return emitEnded(this.s.events, outcomes, reaped);
  }

  async scheduleDue(opts: At & { type?: string; refillFraction?: number; graceMs?: number; holdUnlimited?: boolean; catchUp?: boolean; fill?: boolean } = {}): Promise<TaskRun[]> {
    opts = knownOptions(opts, SCHEDULE_OPTIONS);
    const { store, schedules } = this.s;
    const at = this.s.instant(opts.at);
    if (opts.type !== undefined) checkTypeName(opts.type, 'type');
    if (opts.graceMs !== undefined && !(typeof opts.graceMs === 'number' && Number.isFinite(opts.graceMs) && opts.graceMs >= 0)) throw invalid('graceMs', 'must be a non-negative number of milliseconds');
    if (opts.refillFraction !== undefined && !(typeof opts.refillFraction === 'number' && opts.refillFraction > 0 && opts.refillFraction <= 1)) throw invalid('refillFraction', 'must be a number above 0 and at most 1');
    checkFlag(opts.holdUnlimited, 'holdUnlimited');
    checkFlag(opts.catchUp, 'catchUp');
    checkFlag(opts.fill, 'fill');
    const types = opts.type !== undefined ? await store.getTaskTypes([opts.type]) : await store.getTaskTypes();
    if (opts.type !== undefined && types.length === 0) throw new NotFoundError(`unknown task type "${shown(opts.type)}"`, [{ path: 'type', message: 'unknown task type' }]);
    // Late cron and rrule tasks first (the runner skips it in a pass woken by new tasks right after one: core/catch-up.ts).
    const caught = opts.catchUp === false ? [] : await schedules.catchUp(at, opts.type);
    if (caught.length > 0) this.s.events.emit('caughtUp', caught);
    const backfilled = await schedules.advance(at, opts.type);
    this.emitRuns('scheduled', backfilled);
    const runs: TaskRun[] = [...backfilled];
    const tracedSince = tracingOn() ? Date.now() : null;
    // SPEC §2.2: a pass fills every free slot. It takes batches of SCHEDULE_BATCH (one transaction each)
    // until a type's queue is full or nothing of it is due; the runner daemon (fill: false) takes one
    // batch per type and passes again, so that one type's backlog does not hold the others back.
    const fill = opts.fill ?? true;
    // Only the types with something due are probed and scheduled (one read); what becomes due meanwhile is the next pass's.
    const due = types.length > 1 ? new Set(await store.typesDue(at)) : null;
    for (const type of types) {
      if (due !== null && !due.has(type.name)) continue;
      const minFree = opts.refillFraction && type.maxQueueLength ? Math.ceil(type.maxQueueLength * opts.refillFraction) : undefined;
      for (;;) {
        const scheduled = await store.scheduleDue(type.name, at, { ...(minFree !== undefined ? { minFree } : {}), ...(opts.graceMs ? { graceMs: opts.graceMs, holdUnlimited: opts.holdUnlimited === true } : {}) });
        this.emitRuns('scheduled', scheduled); // per type, before a worker can have claimed them
        runs.push(...scheduled);
        if (!fill || scheduled.length < SCHEDULE_BATCH) break;
      }
    }
    if (tracedSince !== null && runs.length > 0) recordSchedule(tracedSince, runs);
    return runs;
  }

  async claim(opts: At & ClaimOptions & { due?: boolean }): Promise<ClaimOutcome> {
    checkClaimOptions(opts);
    const instant = (at?: Date) => this.s.instant(at);
    // Late cron and rrule tasks are caught up before a claim takes due tasks (at most once a second).
    if (opts.due ?? true) await this.s.schedules.catchUpBeforeClaim(instant(opts.at));
    const outcome = await this.s.store.claimRuns({
      worker: opts.worker,
      types: opts.types,
      limit: opts.limit,
      ...(opts.at === undefined ? { at: instant(), now: () => instant() } : { at: instant(opts.at) }),
      due: opts.due ?? true,
      ...(opts.startNow !== undefined ? { startNow: opts.startNow } : {}),
    });
    this.s.events.emit('worker', opts.worker); // seen, even when there was nothing to claim
    if (outcome.created) {
      // Runs made from due tasks by the claim itself were scheduled and started in one step.
      const created = new Set(outcome.created);
      this.emitRuns('scheduled', outcome.runs.filter((c) => created.has(c.run.id)).map((c) => c.run));
    }
    this.emitRuns('started', outcome.runs.filter((c) => c.run.status === 'started').map((c) => c.run));
    this.emitRuns('claimed', outcome.runs.filter((c) => c.run.status === 'claimed').map((c) => c.run));
    return outcome;
  }

  async heartbeatRuns(opts: At & { worker: string; runs: readonly HeartbeatItem[]; answerWithinMs?: number }): Promise<HeartbeatRunsAnswer> {
    checkHeartbeatRunsOptions(opts);
    this.s.events.emit('worker', opts.worker);
    const at = this.s.instant(opts.at); // a start reported after it is recorded at it; the store floors it at the run's scheduled (core reportedStart)
    // A run given twice is one item, with the earliest start reported (the stores differed on such a batch).
    return this.s.store.heartbeatRuns(opts.worker, oneItemPerRun(opts.runs, at), at);
  }

  async releaseRuns(opts: At & { worker: string; backendIds: readonly string[]; withdrawnOnly?: boolean; answerWithinMs?: number }): Promise<number> {
    checkReleaseOptions(opts);
    const back = await this.s.store.releaseRuns(opts.worker, opts.backendIds, this.s.instant(opts.at), opts.withdrawnOnly ?? false);
    this.emitEnded(back.ended); // runs given back after their cancellation was asked
    emitRuns(this.s.events, 'ended', back.disabled); // and after their task was disabled
    return back.queued;
  }

  async startRun(backendId: string, opts: At & { worker?: string; metadata?: unknown } = {}): Promise<TaskRun> {
    opts = knownOptions(opts, ['at', 'worker', 'metadata']);
    requireRunId(backendId);
    if (opts.worker !== undefined) requireWorker(opts.worker);
    const metadata = validateMetadata(opts.metadata);
    const run = await this.s.store.startRun(backendId, { at: this.s.instant(opts.at), worker: opts.worker ?? 'external', metadata });
    this.emitRuns('started', [run]);
    return run;
  }

  async heartbeat(backendId: string, opts: At & { worker: string; answerWithinMs?: number }): Promise<HeartbeatAnswer> {
    requireRunId(backendId);
    requireWorkerOptions(opts, '{ worker }');
    refuseUnknownKeys(opts, HEARTBEAT_OPTIONS, 'options');
    checkAnswerWithin(opts.answerWithinMs);
    this.s.events.emit('worker', opts.worker);
    return this.s.store.heartbeat(backendId, opts.worker, this.s.instant(opts.at));
  }

  async cancelRun(backendId: string, opts: At = {}): Promise<CancelRunResult> {
    opts = knownOptions(opts, ['at']);
    requireRunId(backendId);
    const out = await this.s.store.cancelRun(backendId, this.s.instant(opts.at));
    if (out.outcome === 'ended') this.emitEnded([{ run: out.run, task: out.task, taskUpdated: out.taskUpdated }]);
    return out;
  }

  async endRun(backendId: string, opts: EndRunOptions): Promise<EndRunResult> {
    requireRunId(backendId);
    requireOptions(opts, '{ status, worker?, ... }');
    refuseUnknownKeys(opts, END_OPTIONS, 'options');
    const ended = await this.s.store.endRun(backendId, this.endRequest(opts));
    if (opts.throttle) await applyThrottles(this.s.store, [true], [ended], this.s.clock.now());
    return this.emitEnded([ended])[0]!;
  }

  async endRuns(items: ReadonlyArray<{ backendId: string } & EndRunOptions>, opts?: { answerWithinMs?: number }): Promise<Array<EndRunResult | OrreryError>> {
    if (opts !== undefined) checkAnswerWithin(knownOptions(opts, ANSWER_WITHIN).answerWithinMs);
    const outcomes: Array<EndRunResult | OrreryError | null> = [];
    const valid: EndRunItem[] = [];
    const throttles: boolean[] = [];
    if (!Array.isArray(items)) throw invalid('items', 'must be an array of { backendId, status, ... }');
    for (const [i, item] of items.entries()) {
      try {
        requireEndItem(item, i);
        const unknown = unknownEndField(item);
        if (unknown !== null) throw invalid(`items[${i}].${unknown}`, UNKNOWN_END_FIELD);
        const one: EndRunItem = { backendId: item.backendId, req: this.endRequest(item) };
        if (item.held) one.held = item.held;
        valid.push(one);
        throttles.push(item.throttle === true);
        outcomes.push(null);
      } catch (e) {
        if (!(e instanceof OrreryError)) throw e;
        outcomes.push(e);
      }
    }
    const stored = this.emitEnded(await this.s.store.endRuns(valid));
    if (throttles.includes(true)) await applyThrottles(this.s.store, throttles, stored, this.s.clock.now());
    let next = 0;
    return outcomes.map((o) => o ?? stored[next++]!);
  }

  private endRequest(opts: EndRunOptions): EndRunRequest {
    if (!(RUN_END_STATUSES as readonly string[]).includes(opts.status)) {
      throw invalid('status', `must be one of ${RUN_END_STATUSES.join(', ')}`);
    }
    if (opts.worker != null) requireWorker(opts.worker);
    if (opts.error != null && typeof opts.error !== 'string') throw invalid('error', 'must be a string (the error message)');
    assertText(opts.error, 'error');
    const metadata = validateMetadata(opts.metadata);
    if (opts.result !== undefined) assertJson(opts.result, 'result');
    if (opts.retryAfterMs != null) assertDurationMs(opts.retryAfterMs, 'retryAfterMs');
    if (opts.retryAfterMs != null && opts.status !== 'failed') throw invalid('retryAfterMs', 'only applies to status failed');
    checkFlag(opts.throttle, 'throttle');
    checkDate(opts.startedAt, 'startedAt');
    // Built field by field (no spread objects): one of these per run end.
    const req: EndRunRequest = { status: opts.status, at: this.s.instant(opts.at), cause: 'end', worker: opts.worker ?? null, metadata, retryAfterMs: opts.retryAfterMs ?? null };
    if (opts.startedAt != null) req.startedAt = opts.startedAt;
    if (opts.result !== undefined) req.result = opts.result;
    if (opts.error !== undefined) req.error = opts.error;
    return req;
  }

  async abandonRun(backendId: string, opts: At & { worker: string; reason?: string; startedAt?: Date | null; answerWithinMs?: number }): Promise<EndRunResult> {
    checkAbandon(backendId, opts);
    // A claimed run without a reported start is given back (engine/abandon.ts): not ended, no end event.
    const release = (ids: string[]) => this.releaseRuns({ worker: opts.worker, backendIds: ids, ...(opts.at !== undefined ? { at: opts.at } : {}) });
    if (opts.startedAt == null) { const back = await giveBackUnbegun(this.s.store, release, backendId, opts.worker); if (back) return back; }
    const result = await this.s.store.endRun(backendId, {
      status: 'lost',
      at: this.s.instant(opts.at),
      cause: 'abandon',
      worker: opts.worker,
      error: opts.reason ?? 'abandoned by its worker',
      ...(opts.startedAt != null ? { startedAt: opts.startedAt } : {}),
    });
    return this.emitEnded([result])[0]!;
  }

  async reapExpired(opts: At = {}): Promise<EndRunResult[]> {
    opts = knownOptions(opts, ['at']);
    const at = this.s.instant(opts.at);
    const back = await this.s.store.releaseExpiredClaims(at);
    this.emitEnded(back.ended); // cancelled ones (cancel asked)
    emitRuns(this.s.events, 'ended', back.disabled); // their task disabled
    // Kept as a loss while their task was paused: ended by the reaper because their lease expired.
    if (this.s.events.listenerCount('run') > 0) for (const run of back.withdrawn) this.s.events.emit('run', { event: 'ended', run, reaped: true });
    return this.emitEnded(await this.s.store.reapExpired(at), true);
  }

  async appendRunLogs(backendId: string, records: readonly RunLogRecord[], opts?: { answerWithinMs?: number }): Promise<void> {
    if (opts !== undefined) checkAnswerWithin(knownOptions(opts, ANSWER_WITHIN).answerWithinMs);
    requireRunId(backendId);
    checkLogRecords(records);
    return this.s.store.appendRunLogs(backendId, records);
  }
}
