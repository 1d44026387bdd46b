import { formatDuration } from './durations.js';
import { claimsDueDirectly, perKeyCap, type RateLimit } from './limits.js';
import type { Task, TaskRun, TaskType, TypePause } from './model.js';
import { taskFinished } from './task-wait.js';

/**
 * "Why isn't it running?" (docs/operations.md#why-isnt-it-running): every gate between a task and a
 * running handler, walked in order, each passed or holding the task, with the first that holds it
 * named and, when known, until when. Pure: the service gathers the facts, this decides.
 */

/** How the type's runs load its limits and workers, read at `at` (TypeLoad from the store). */
export interface TypeLoadFacts {
  /** Runs of the type waiting in the queue (`scheduled`). */
  queued: number;
  /** Runs of the type held by workers (`claimed` or `started`): what maxRunning counts. */
  running: number;
  /** Held runs of the task's concurrency key (0 without a key). */
  runningForKey: number;
  /** Some of the runs holding the slots (newest first), for the answer. */
  holders: Array<{ backendId: string; worker: string | null; task: number; status: string }>;
  /** Run starts inside the rate window, and when the next rate slot opens (null: one is free). */
  startsInWindow: number;
  nextRateSlot: Date | null;
  /** Starts of the task's concurrency key inside its rate window (`rateLimitPerKey`), and when its next slot opens. */
  keyStartsInWindow: number;
  nextKeyRateSlot: Date | null;
  /** Waiting runs of the type ahead of this task's queued run in claim order (null: not queued). */
  aheadInQueue: number | null;
  /**
   * Workers seen for this type within `workerWindowMs`: they claimed, heartbeated or ended runs of it
   * (from the store), or, registered as handling it, refreshed their registry row (whyTask adds those
   * and drops the ones the registry says stopped since).
   */
  workersSeen: Array<{ worker: string; lastSeen: Date }>;
}

export interface WhyFacts {
  at: Date;
  task: Task;
  type: TaskType;
  /** The task's current run (queued, claimed or started), if any. */
  run: TaskRun | null;
  load: TypeLoadFacts;
  /** The runner's grace: due tasks of unlimited types are left to workers for this long. */
  runnerGraceMs: number;
  /** The window `workersSeen` covers. */
  workerWindowMs: number;
  /** Registered workers handling the type that stopped (gracefully) within the window, and when. */
  workersStopped?: Array<{ worker: string; at: Date }>;
  /** The DAG run a DAG attempt task belongs to, when it is one. */
  dagRun?: number | null;
  /** The DAG of a DAG attempt task, with its pause (null: not paused). */
  dag?: { id: string; paused: TypePause | null } | null;
  /**
   * The rates in force (docs/limits.md#adaptive-limits): the type's `rateLimit` and the task's key's
   * `rateLimitPerKey` as throttle signals left them; absent: the configured ones.
   */
  /**
   * The rates in force (throttled ones lowered) and, for a throttled one, when its rounded count next
   * grows by one (core/adaptive-rate.ts nextRecovery): its next slot is the earlier of that and the
   * oldest start leaving the window, as claims answer `retryAt`.
   */
  effective?: { rate: RateLimit | null; keyRate: RateLimit | null; rateRecovery?: number | null; keyRateRecovery?: number | null };
}

export const GATES = [
  'task-status',
  'task-paused',
  'dag',
  'type-paused',
  'due',
  'queue-length',
  'max-running',
  'max-running-per-key',
  'rate-limit',
  'rate-limit-per-key',
  'workers',
  'run',
] as const;
export type Gate = (typeof GATES)[number];

export interface GateCheck {
  gate: Gate;
  /** `pass`: not in the way; `hold`: keeps the task from running now; `skip`: does not apply. */
  verdict: 'pass' | 'hold' | 'skip';
  detail: string;
  /** When the gate opens by itself, when known. */
  until?: Date;
}

export interface WhyAnswer {
  task: number;
  at: Date;
  /** running: a handler has it; held: claimed by a worker, about to begin; waiting: due, nothing holds it; blocked: a gate holds it; done: it will not run again. */
  state: 'running' | 'held' | 'waiting' | 'blocked' | 'done';
  /** The first gate that holds the task, or null. */
  heldBy: Gate | null;
  summary: string;
  until?: Date;
  gates: GateCheck[];
}

/** A span in words, to the second from a second up (`11s`, not `11s1ms`); the instants themselves are given exactly. */
const roughly = (ms: number) => formatDuration(ms >= 1000 ? Math.round(ms / 1000) * 1000 : ms);
const ago = (at: Date, t: Date) => roughly(Math.max(0, at.getTime() - t.getTime()));
const inTime = (at: Date, t: Date) => roughly(Math.max(0, t.getTime() - at.getTime()));
/**
 * When a run was queued: `queued 5s ago`; a run queued by a pass run as of a later instant (`task
 * schedule --at`) reads `queued as of INSTANT (in 5m); claims take it already`.
 */
const queuedWhen = (at: Date, scheduled: Date) =>
  scheduled.getTime() > at.getTime()
    ? `queued as of ${scheduled.toISOString()} (in ${inTime(at, scheduled)}); claims take it already`
    : `queued ${ago(at, scheduled)} ago`;

/** Walks every gate in order (GATES) and names the first that holds the task. */
export function explainTask(f: WhyFacts): WhyAnswer {
  const { at, task, type, run, load } = f;
  const gates: GateCheck[] = [];
  const add = (gate: Gate, verdict: GateCheck['verdict'], detail: string, until?: Date) => gates.push({ gate, verdict, detail, ...(until ? { until } : {}) });
  const active = run !== null && (run.status === 'scheduled' || run.status === 'claimed' || run.status === 'started');

  // 1. The task itself. A DAG attempt is not respawned: its DAG run is restarted (core/dag.ts).
  const again = f.dagRun != null ? `restart its DAG run to run it again (orrery dag-run restart ${f.dagRun})` : `respawn it to run it again (orrery task respawn ${task.id})`;
  if (task.status === 'completed') {
    add('task-status', 'hold', f.dagRun != null ? `the task completed (a DAG attempt that ran): it will not run again unless its DAG run is restarted (orrery dag-run restart ${f.dagRun})` : task.policy === 'oneshot' ? `the task completed (a one-shot task that ran): it will not run again; ${again}`
      : `the task completed (its schedule has no occurrence left: past its endAt, or its rrule's COUNT or UNTIL): it will not run again; ${again}`);
  } else if (task.status === 'disabled') {
    const why: Record<string, string> = {
      manual: 'disabled by hand',
      permfailed: 'disabled: its last run failed permanently (permfailed)',
      retries_exhausted: 'disabled: its retries were exhausted',
      // The task's own count (its type's maxAbandons may have been edited since).
      dead_letter: `in the dead-letter bin: lost ${task.consecutiveAbandons} time${task.consecutiveAbandons === 1 ? '' : 's'} in a row (maxAbandons)`,
    };
    add('task-status', 'hold', `${why[task.disabledReason ?? 'manual'] ?? 'disabled'}; ${again}`);
  } else add('task-status', 'pass', `the task is ${task.status === 'next_run_scheduled' ? 'scheduled (it has a current run)' : 'waiting for its next run'}`);

  // 2. The task's own pause. A run already handed to a worker (claimed or started) finishes: the pause holds only the runs after it.
  const inHand = run !== null && (run.status === 'claimed' || run.status === 'started');
  const pausedSince = (p: TypePause) => `paused since ${p.at.toISOString()}${p.reason ? ` (${p.reason})` : ''}`;
  if (task.paused && inHand) add('task-paused', 'pass', `its schedule is ${pausedSince(task.paused)}, but its run ${run!.backendId} was handed to ${run!.worker ?? '?'} before and finishes; no run after it until orrery task resume ${task.id}`);
  else if (task.paused) add('task-paused', 'hold', `its schedule is ${pausedSince(task.paused)}; orrery task resume ${task.id}`);
  else add('task-paused', 'pass', 'its schedule is not paused');

  // 3. DAG attempts follow their DAG run (a paused DAG creates no further attempts; this one runs like any task).
  if (f.dagRun != null) {
    const paused = f.dag?.paused ? ` (its DAG ${f.dag.id} is paused since ${f.dag.paused.at.toISOString()}: its run creates no further attempts until orrery dag resume ${f.dag.id})` : '';
    add('dag', 'pass', `a DAG attempt: DAG run ${f.dagRun} created it once its dependencies were met; it runs like any task${paused}`);
  } else add('dag', 'skip', 'not a DAG attempt');

  // 4. The type's pause.
  // A started run of a paused type finishes; a claimed one goes back to the queue (its worker gives it back).
  if (type.paused && run?.status === 'started') add('type-paused', 'pass', `its type ${type.name} is ${pausedSince(type.paused)}, but its run ${run.backendId} began before and finishes; no run after it until orrery task-type resume ${type.name}`);
  else if (type.paused) add('type-paused', 'hold', `its type ${type.name} is ${pausedSince(type.paused)}; orrery task-type resume ${type.name}`);
  else add('type-paused', 'pass', `its type ${type.name} is not paused`);

  // 5. Due?
  // A run queued by a pass run as of a later instant (task schedule --at) is queued ahead of now.
  if (active) add('due', 'pass', `its run ${run!.backendId} ${queuedWhen(at, run!.scheduled).replace(/^queued/, 'was queued')}`);
  else if (task.status !== 'next_run_not_scheduled') add('due', 'skip', 'no next run');
  else if (task.nextRun.getTime() > at.getTime()) add('due', 'hold', `not due until ${task.nextRun.toISOString()} (in ${inTime(at, task.nextRun)})`, task.nextRun);
  else add('due', 'pass', `due since ${task.nextRun.toISOString()} (${ago(at, task.nextRun)} ago)`);

  const waitingToStart = task.status === 'next_run_not_scheduled' || run?.status === 'scheduled';
  // Why a gate of the claim does not apply: a finished task has no run to claim; otherwise its run is past the claim.
  const finished = taskFinished(task) ? `the task is ${task.status}: no run to queue or claim` : null;
  const pastClaim = finished ?? 'the run is past the claim';
  // 6. The type's queue (the runner queues due tasks only while there is room).
  if (task.status === 'next_run_not_scheduled' && type.maxQueueLength !== null) {
    if (type.maxQueueLength === 0) add('queue-length', 'hold', 'maxQueueLength is 0: the type is paused (no run of it is queued or claimed from its due tasks) until the limit is raised');
    // A type claimed directly: a worker's claim takes its due tasks whatever the queue holds.
    else if (load.queued >= type.maxQueueLength && claimsDueDirectly(type)) add('queue-length', 'pass', `the type's queue is full (${runsOf(load.queued)} waiting, maxQueueLength ${type.maxQueueLength}), but workers claim its due tasks directly`);
    else if (load.queued >= type.maxQueueLength) add('queue-length', 'hold', `the type's queue is full: ${runsOf(load.queued)} waiting, maxQueueLength ${type.maxQueueLength}; the runner queues more as workers claim`);
    else add('queue-length', 'pass', `${load.queued} of ${type.maxQueueLength} queue places taken`);
  } else add('queue-length', 'skip', type.maxQueueLength === null ? 'the queue is unbounded' : (finished ?? 'the task has a run already'));

  // 7–9. Limits, counted at claim time.
  const holders = load.holders.map((h) => `${h.backendId} (task ${h.task}, ${h.status} on ${h.worker ?? '?'})`).join(', ');
  if (type.maxRunning === null || !waitingToStart) add('max-running', 'skip', type.maxRunning === null ? 'no maxRunning' : pastClaim);
  else if (load.running >= type.maxRunning) add('max-running', 'hold', `maxRunning ${type.maxRunning} reached: ${runsOf(load.running)} held${holders ? `: ${holders}` : ''}; the next end frees a slot (or a reaper pass, for a holder whose lease expired)`);
  else add('max-running', 'pass', `${load.running} of ${type.maxRunning} running slots taken`);

  const keyCap = perKeyCap(type);
  const capName = type.fifoPerKey ? 'fifoPerKey (one run per key at a time)' : `maxRunningPerKey ${keyCap}`;
  if (keyCap === null || task.concurrencyKey === null || !waitingToStart) {
    add('max-running-per-key', 'skip', keyCap === null ? 'no maxRunningPerKey' : task.concurrencyKey === null ? 'the task has no concurrency key' : pastClaim);
  } else if (load.runningForKey >= keyCap) {
    add('max-running-per-key', 'hold', `${capName} reached for key "${task.concurrencyKey}": ${runsOf(load.runningForKey)} held`);
  } else add('max-running-per-key', 'pass', `${load.runningForKey} of ${keyCap} slots of key "${task.concurrencyKey}" taken`);

  const rate = f.effective?.rate ?? type.rateLimit;
  const throttled = (r: RateLimit | null, limit: RateLimit | null) => (r && limit && r.count < limit.count ? ` (throttled from ${limit.count})` : '');
  if (rate === null || !waitingToStart) add('rate-limit', 'skip', rate === null ? 'no rate limit' : pastClaim);
  else if (load.startsInWindow >= rate.count && load.nextRateSlot !== null) {
    const slot = earliestSlot(load.nextRateSlot, f.effective?.rateRecovery);
    add('rate-limit', 'hold', `rate limit ${rate.count}${throttled(rate, type.rateLimit)} per ${formatDuration(rate.perMs)} reached: next slot at ${slot.toISOString()} (in ${inTime(at, slot)})`, slot);
  } else add('rate-limit', 'pass', `${load.startsInWindow} of ${rate.count}${throttled(rate, type.rateLimit)} starts in the last ${formatDuration(rate.perMs)}`);

  const keyRate = f.effective?.keyRate ?? type.rateLimitPerKey;
  if (keyRate === null || task.concurrencyKey === null || !waitingToStart) {
    add('rate-limit-per-key', 'skip', keyRate === null ? 'no rateLimitPerKey' : task.concurrencyKey === null ? 'the task has no concurrency key' : pastClaim);
  } else if (load.keyStartsInWindow >= keyRate.count && load.nextKeyRateSlot !== null) {
    const k = `key "${task.concurrencyKey}"`;
    const slot = earliestSlot(load.nextKeyRateSlot, f.effective?.keyRateRecovery);
    add('rate-limit-per-key', 'hold', `rate limit of ${k} ${keyRate.count}${throttled(keyRate, type.rateLimitPerKey)} per ${formatDuration(keyRate.perMs)} reached: next slot at ${slot.toISOString()} (in ${inTime(at, slot)})`, slot);
  } else add('rate-limit-per-key', 'pass', `${load.keyStartsInWindow} of ${keyRate.count}${throttled(keyRate, type.rateLimitPerKey)} starts of key "${task.concurrencyKey}" in the last ${formatDuration(keyRate.perMs)}`);

  // 10. Workers.
  const seen = load.workersSeen.map((w) => w.worker);
  // A task not due yet waits for its time, not for a worker: nothing to claim (it was a HOLD beside the due gate's).
  const notDueYet = !active && task.status === 'next_run_not_scheduled' && task.nextRun.getTime() > at.getTime();
  if (!waitingToStart) add('workers', 'skip', finished ?? (run?.status === 'claimed' || run?.status === 'started' ? 'a worker holds the run' : 'no run to hold'));
  else if (notDueYet && seen.length === 0) {
    add('workers', 'skip', `not due yet: nothing to claim before ${task.nextRun.toISOString()}; no live worker handles type ${type.name} now (none seen in the last ${formatDuration(f.workerWindowMs)})`);
  } else if (seen.length === 0) {
    const stopped = (f.workersStopped ?? []).map((w) => `${w.worker} at ${w.at.toISOString()}`);
    const since = stopped.length ? ` (stopped: ${stopped.slice(0, 5).join(', ')}${stopped.length > 5 ? ` and ${stopped.length - 5} more` : ''})` : '';
    add('workers', 'hold', `no live worker handles type ${type.name}: none registered for it and none claimed, heartbeated or ended a run of it in the last ${formatDuration(f.workerWindowMs)}${since}: is a worker with a handler for backend "${type.backendName}" running?`);
  } else add('workers', 'pass', `worker${seen.length === 1 ? '' : 's'} seen for the type in the last ${formatDuration(f.workerWindowMs)}: ${seen.slice(0, 5).join(', ')}${seen.length > 5 ? ` and ${seen.length - 5} more` : ''}`);

  // 11. The run.
  if (!active && task.status === 'next_run_not_scheduled' && (task.paused || type.paused)) add('run', 'skip', `no run while ${task.paused ? 'its schedule' : `its type ${type.name}`} is paused`);
  else if (!active && task.status === 'next_run_not_scheduled' && type.maxQueueLength === 0) add('run', 'skip', 'no run while maxQueueLength is 0: the runner queues none of the type and workers claim none of its due tasks');
  else if (!active) add('run', task.status === 'next_run_not_scheduled' ? 'pass' : 'skip', task.status === 'next_run_not_scheduled' ? (notDueYet ? `no run yet: due at ${task.nextRun.toISOString()}; then ` : 'no run yet: ') + (claimsDueDirectly(type) ? `a worker claims it directly, or the runner queues it ${formatDuration(f.runnerGraceMs)} ${notDueYet ? 'later' : 'after'}` : 'the runner queues it (a type with limits is not claimed directly)') : 'no current run');
  else if (run!.status === 'scheduled') add('run', 'pass', `${queuedWhen(at, run!.scheduled)}${load.aheadInQueue !== null ? `, ${load.aheadInQueue} run${load.aheadInQueue === 1 ? '' : 's'} of the type ahead of it` : ''}`);
  else if (run!.leaseExpiresAt !== null && run!.leaseExpiresAt.getTime() < at.getTime()) {
    const what = run!.status === 'claimed' ? 'gives it back to the queue (never begun, nothing consumed)' : 'ends it lost and the task follows its rules';
    add('run', 'hold', `run ${run!.backendId} on ${run!.worker ?? '?'}: its lease expired ${ago(at, run!.leaseExpiresAt)} ago (the worker stopped heartbeating); the reaper ${what} at its next pass`);
  } else if (run!.status === 'claimed') add('run', 'pass', `claimed by ${run!.worker ?? '?'}, its start not reported yet: waiting in that worker's buffer until a slot frees, or begun by a claimer that reports its start later (lease until ${run!.leaseExpiresAt?.toISOString() ?? '?'})`);
  else add('run', 'pass', `running on ${run!.worker ?? '?'} since ${run!.started?.toISOString() ?? '?'} (${run!.started ? ago(at, run!.started) : '?'})`);

  const hold = gates.find((g) => g.verdict === 'hold') ?? null;
  let state: WhyAnswer['state'];
  if (taskFinished(task)) state = 'done';
  else if (hold) state = 'blocked';
  else if (run?.status === 'started') state = 'running';
  else if (run?.status === 'claimed') state = 'held';
  else state = 'waiting';
  const summary = hold
    ? `held by ${hold.gate}: ${hold.detail}`
    : state === 'running'
      ? gates.find((g) => g.gate === 'run')!.detail
      : state === 'held'
        ? gates.find((g) => g.gate === 'run')!.detail
        : `nothing holds it: ${gates.find((g) => g.gate === 'run')!.detail}`;
  return { task: task.id, at, state, heldBy: hold?.gate ?? null, summary, ...(hold?.until ? { until: hold.until } : {}), gates };
}

/** A rate's next slot: when its oldest start leaves the window, or when a throttled rate grows by one, whichever comes first. */
function earliestSlot(windowSlot: Date, recovery: number | null | undefined): Date {
  return recovery != null && recovery < windowSlot.getTime() ? new Date(recovery) : windowSlot;
}

/** `1 run`, `3 runs`. */
const runsOf = (n: number) => `${n} run${n === 1 ? '' : 's'}`;
