import { DEFAULT_RUNNER_GRACE_MS } from '../core/claim-ahead.js';
import { checkMs } from '../core/options.js';
import { runnerCatchesUp } from '../core/catch-up.js';
import type { Timer } from './clock.js';
import { PeriodicLoop, type LoopOptions } from './periodic-loop.js';
import type { Orrery } from './service.js';
import type { CaughtUpTask } from '../store/schedule-store.js';

export interface RunnerOptions extends LoopOptions {
  /**
   * How long due tasks of types without limits are left to workers, who claim them directly (default
   * 1 s; 0 queues them at once). A type a worker claimed directly from within the grace is left to
   * the workers altogether (core/claim-ahead.ts runnerCutoff; docs/guarantees.md).
   */
  graceMs?: number;
}

/** Claims arriving within this window wake the runner once. */
const CLAIM_WAKE_COALESCE_MS = 25;
/**
 * New tasks wake the runner this much later: workers with free slots, woken at once, claim due tasks
 * themselves (ClaimRequest.due); the runner queues what they leave, and a burst of creates costs one pass.
 */
export const TASKS_WAKE_DELAY_MS = 20;

/** Past this many task types in one pass, the runner logs the pass in one line. */
const MAX_TYPE_LINES = 10;

/**
 * The runner (SPEC §2.2): moves due tasks into the jobboard, per type within its queue limit. It sleeps
 * until the earliest nextRun, or until new due work or freed queue slots wake it.
 */
export class Runner extends PeriodicLoop {
  private unlisten: Array<() => void> = [];
  private queuesFull = false;
  private claimWake: Timer | null = null;
  private tasksWake: Timer | null = null;
  private readonly graceMs: number;
  private startedAt: number | null = null;
  /** The pass about to run was woken by new tasks (core/catch-up.ts runnerCatchesUp). */
  private wokenByTasks = false;
  private lastCatchUp: number | null = null;

  constructor(orrery: Orrery, opts: RunnerOptions = {}) {
    super(orrery, 'runner', opts);
    this.graceMs = checkMs(opts.graceMs ?? DEFAULT_RUNNER_GRACE_MS, 'graceMs');
  }

  protected override onStart(): void {
    // Claims free queue slots; they matter only while due work waits behind a full queue, and a burst
    // of claims needs one pass, not one each.
    const onClaimed = () => {
      if (!this.queuesFull || this.claimWake) return;
      this.claimWake = this.orrery.clock.setTimer(CLAIM_WAKE_COALESCE_MS, () => {
        this.claimWake = null;
        this.wake();
      });
    };
    const onTasks = () => {
      this.tasksWake ??= this.orrery.clock.setTimer(TASKS_WAKE_DELAY_MS, () => {
        this.tasksWake = null;
        this.wokenByTasks = true;
        this.wake();
      });
    };
    // A backfill's next occurrence gets its run once the previous one ended (docs/guide.md#backfill).
    const onEnded = () => {
      if (this.orrery.schedules.backfillsRunning) onTasks();
    };
    const onCaughtUp = (tasks: CaughtUpTask[]) => {
      for (const t of tasks) {
        const what = t.serves === null ? 'no occurrence left: completed' : `serves ${t.serves.toISOString()}, due ${t.nextRun!.toISOString()}`;
        this.log.info({ task: t.task, type: t.type }, `task ${t.task} missed ${t.missed.toISOString()} (catch-up ${t.catchUp}): ${what}`);
      }
    };
    this.orrery.events.on('caughtUp', onCaughtUp);
    this.unlisten = [
      this.orrery.store.listen('tasks', onTasks),
      this.orrery.store.listen('claimed', onClaimed),
      this.orrery.store.listen('ended', onEnded),
      () => this.orrery.events.off('caughtUp', onCaughtUp),
    ];
  }

  protected override onStop(): void {
    this.claimWake?.cancel();
    this.tasksWake?.cancel();
    this.unlisten.forEach((u) => u());
  }

  protected async pass(): Promise<number> {
    // For its first grace the runner leaves due tasks of types without limits to the workers: a backlog
    // found at start-up is theirs to claim directly (they record that they do) before it queues any.
    const now = this.orrery.clock.now().getTime();
    this.startedAt ??= now;
    const holdUnlimited = now - this.startedAt < this.graceMs;
    const catchUp = runnerCatchesUp(this.lastCatchUp, now, this.wokenByTasks);
    this.wokenByTasks = false;
    if (catchUp) this.lastCatchUp = now;
    // Every free slot is filled (SPEC §2.2: slots > 0); claims that free slots wake it, coalesced.
    const runs = await this.orrery.scheduleDue({ graceMs: this.graceMs, holdUnlimited, catchUp, fill: false });
    const byType = new Map<string, number>();
    for (const r of runs) byType.set(r.type, (byType.get(r.type) ?? 0) + 1);
    // One line per type, or one for the pass when it touched many types (2,000 types: a line each flooded the log).
    if (byType.size <= MAX_TYPE_LINES) for (const [type, n] of byType) this.log.info({ type, runs: n }, `scheduled ${n} run${n === 1 ? '' : 's'} of ${type}`);
    else {
      const top = [...byType].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, MAX_TYPE_LINES);
      this.log.info({ types: byType.size, runs: runs.length }, `scheduled ${runs.length} runs of ${byType.size} types (most: ${top.map(([t, n]) => `${t} ${n}`).join(', ')}, …)`);
    }
    const next = await this.orrery.store.nextDueAt();
    const until = next === null ? Infinity : next.getTime() - this.orrery.clock.now().getTime();
    // Due work left behind means full queues, or work left to workers within the grace: wake the
    // workers (they claim due tasks directly), then look again once the grace has passed.
    const leftBehind = until <= 0 && runs.length === 0;
    this.queuesFull = leftBehind;
    // A pass that scheduled work may have stopped at its batch cap: pass again at once.
    if (runs.length > 0) return 0;
    if (leftBehind) {
      this.orrery.store.wake({ kind: 'work-left' });
      return Math.min(this.graceMs > 0 ? this.graceMs : this.maxSleepMs, this.maxSleepMs);
    }
    return Math.min(until + 1, this.maxSleepMs);
  }
}
