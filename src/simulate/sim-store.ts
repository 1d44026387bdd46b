import { LATE_AFTER_MS } from '../core/catch-up.js';
import { hasLimits } from '../core/limits.js';
import { visitDone } from '../core/visits.js';
import type { TaskType } from '../core/model.js';
import { SUB_STORES } from '../store/error-translation.js';
import type { ClaimOutcome, ClaimRequest, EndRunResult, Store } from '../store/store.js';
import { StoreCalls } from './store-calls.js';

/** Store calls that change nothing. */
const READS = new Set<string>([
  'getTaskTypes', 'typeLoad', 'getTask', 'searchTasks', 'findTasks', 'listPending', 'nextDueAt', 'heldRuns',
  'nextLeaseExpiry', 'queueStats', 'dueStats', 'runRates', 'workerActivity', 'runSeries', 'getRun', 'listRuns',
  'searchRuns', 'getRunLogs', 'listen', 'wake',
  'schedules.runningBackfills', 'schedules.getBackfill', 'schedules.listBackfills',
]);
/** Writes that never make a run claimable nor a task due: lease renewals and start marks, log records. */
const NEUTRAL = new Set<string>(['heartbeat', 'heartbeatRuns', 'appendRunLogs']);
/**
 * Writes that change something only when they answer a non-empty list or a count above 0 (else they
 * wrote nothing): the catch-ups, the runner's scheduling, and the reaper's pass (claims given back,
 * started runs ended lost), which comes every poll interval and mostly finds nothing.
 */
const WRITES_IF_ANY = new Set<string>(['schedules.catchUpLate', 'scheduleDue', 'releaseExpiredClaims', 'reapExpired']);
/** Writes that leave the task types as they were (the others, unknown ones included, may change them). */
const TYPES_KEPT = new Set<string>([
  'typeLoad', 'createTasks', 'importTasks', 'bulkTasks', 'disableTasks', 'respawnTasks', 'setTaskPause', 'scheduleDue', 'claimRuns',
  'startRun', 'releaseRuns', 'releaseExpiredClaims', 'cancelRun', 'endRun', 'endRuns', 'reapExpired', ...NEUTRAL,
]);

/** A claim that found less than it asked for: nothing of its types was claimable at its instant. */
interface Exhausted {
  at: number;
  due: boolean;
  types: ReadonlySet<string>;
}

let counting: Map<string, number> | null = null;

/**
 * Counts the store calls of the simulations that start from now on (bench/simulate.ts `--calls`):
 * method name (`schedules.x` for a sub-store's) to calls that reached the store.
 */
export function countStoreCalls(): Map<string, number> {
  counting = new Map();
  return counting;
}

function count(name: string): void {
  if (counting) counting.set(name, (counting.get(name) ?? 0) + 1);
}

/**
 * The store as a simulation uses it. It answers some calls itself, exactly as the store would:
 * - a claim that must find nothing: an earlier claim of the same types (or more) came back short, and
 *   since then the store only lost claimable work (claims took runs; heartbeats, ends whose tasks are
 *   not due yet) and the claim's instant is before the earliest due task. This is what every worker
 *   but the first finds when one wake-up reaches all of them, and what most polls find. Only types
 *   without limits qualify (their claims take everything claimable up to the limit);
 * - the runner's scheduling of a type, and the catch-up of late cron tasks, when no task is due yet:
 *   nothing to do;
 * - the task types and the earliest due instant, read again while nothing that changes them was written.
 * A reaper's pass that gave nothing back and ended nothing keeps what is remembered.
 * Everything else goes to the store. A write it cannot account for (anything else, unknown calls too)
 * ends what is remembered, and so does any write still in flight.
 */
export class SimStore {
  /** Counts the writes that may have made work claimable: what is remembered holds within one epoch. */
  private epoch = 0;
  /** Such writes in flight. */
  private writing = 0;
  private exhausted: Exhausted[] = [];
  /** Before this instant no task becomes due within the epoch (-Infinity: not known). */
  private horizon = -Infinity;
  /** The earliest due instant as last read, valid while `stamp` is unchanged. */
  private nextDue: { stamp: number; at: number } | null = null;
  /** Changes with each epoch and each claim that took work (the earliest due instant may have moved on). */
  private stamp = 0;
  /** Ends that lowered the horizon within the epoch (a read in flight meanwhile may have missed them). */
  private lowered = 0;
  private typesEpoch = 0;
  private typesWriting = 0;
  private types: { epoch: number; all: TaskType[] } | null = null;
  private claims: Promise<unknown> = Promise.resolve();
  /** When the work of each claimed run whose handler has not begun became due (its task's nextRun). */
  private readonly due = new Map<string, number>();
  /** Claims answered without the store. */
  shortCuts = 0;
  /** The store had no running backfill when last asked, and none was made since. */
  private noBackfills = false;
  private backfillsMade = 0;
  private settledWaiters: Array<() => void> = [];
  /** Every call to the store (reads too) until its answer comes (WakeGate waits for them). */
  readonly calls = new StoreCalls();
  private readonly store: Store;

  /** `verify`: every claim answered here is also made to the store, which must find nothing (tests). */
  constructor(
    store: Store,
    private readonly verify = false,
  ) {
    this.store = this.calls.counting(store);
  }

  /** The store seen through this layer. */
  wrap(): Store {
    const subs = new Set<PropertyKey>(SUB_STORES);
    const cache = new Map<PropertyKey, unknown>();
    return new Proxy(this.store, {
      get: (t, key) => {
        const hit = cache.get(key);
        if (hit !== undefined) return hit;
        const v: unknown = Reflect.get(t, key, t);
        let out: unknown;
        if (key === 'claimRuns') out = (req: ClaimRequest) => this.claimRuns(req);
        else if (key === 'getTaskTypes') out = (names?: readonly string[]) => this.getTaskTypes(names);
        else if (key === 'nextDueAt') out = () => this.nextDueAt();
        else if (key === 'scheduleDue') {
          const call = this.passing('scheduleDue', v as (...a: unknown[]) => unknown, t);
          out = async (type: string, at: Date, o?: unknown) => ((await this.nothingDueBy(at.getTime(), type)) ? this.checked('scheduleDue', () => call(type, at, o)) : call(type, at, o));
        }
        else if (key === 'endRuns') out = this.passing('endRuns', v as (...a: unknown[]) => unknown, t, (r) => this.afterEnds(r as Array<EndRunResult | Error>), this.seenEnds);
        else if (key === 'endRun' || key === 'reapExpired') out = this.passing(key, v as (...a: unknown[]) => unknown, t, undefined, this.seenEnds);
        else if (typeof v === 'function') out = this.passing(String(key), v as (...a: unknown[]) => unknown, t);
        else if (subs.has(key) && v !== null && typeof v === 'object') out = this.sub(String(key), v);
        else return v;
        cache.set(key, out);
        return out;
      },
    });
  }

  private sub(name: string, target: object): object {
    const cache = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get: (t, key) => {
        const hit = cache.get(key);
        if (hit !== undefined) return hit;
        const v: unknown = Reflect.get(t, key, t);
        if (typeof v !== 'function') return v;
        const full = `${name}.${String(key)}`;
        const call = this.passing(full, v as (...a: unknown[]) => unknown, t);
        let out = call;
        if (full === 'schedules.runningBackfills') out = (...a: unknown[]) => this.runningBackfills(() => call(...a));
        else if (full === 'schedules.createBackfill') {
          out = (...a: unknown[]) => {
            this.noBackfills = false;
            this.backfillsMade += 1;
            return call(...a);
          };
        }
        cache.set(key, out);
        return out;
      },
    });
  }

  /**
   * A call that goes to the store. A write other than the neutral ones starts a new epoch when it
   * begins and when it ends (`kept` may say after the fact that it kept the epoch); sub-stores never
   * change the task types.
   */
  /**
   * Whether the end of run `id` left its task done (completed or disabled), for each run ended
   * through this store and not yet asked about: the event of an end carries the run, not its task.
   */
  taskDoneAfter(id: number): boolean {
    const done = this.doneRuns.has(id);
    this.doneRuns.delete(id);
    return done;
  }

  private readonly doneRuns = new Set<number>();

  /** Notes the runs whose end left their task done (an end's answer: one result or several). */
  private readonly seenEnds = (r: unknown): void => {
    for (const x of Array.isArray(r) ? r : [r]) {
      const end = x as Partial<EndRunResult> | null;
      if (end && end.run && end.task && visitDone(end.task.status)) this.doneRuns.add(end.run.id);
    }
  };

  private passing(name: string, fn: (...a: unknown[]) => unknown, self: object, kept?: (result: unknown) => boolean, seen?: (result: unknown) => void): (...a: unknown[]) => unknown {
    if (READS.has(name) || NEUTRAL.has(name)) {
      return (...args: unknown[]) => {
        count(name);
        return fn.apply(self, args);
      };
    }
    const onlyIfAny = WRITES_IF_ANY.has(name);
    const typesToo = !name.includes('.') && !TYPES_KEPT.has(name);
    const keeps = (r: unknown): boolean => (onlyIfAny ? r === 0 || (Array.isArray(r) && r.length === 0) : kept ? kept(r) : false);
    // The answer's handlers, made once per method (not per call).
    const answered = (x: unknown): unknown => {
      seen?.(x);
      this.end(!keeps(x), typesToo);
      return x;
    };
    const failed = (e: unknown): never => {
      this.end(true, typesToo);
      throw e;
    };
    return (...args: unknown[]) => {
      count(name);
      // A write whose outcome may keep the epoch does not end it when it begins; it holds it while in flight.
      this.begin(!onlyIfAny && !kept, typesToo);
      let r: unknown;
      try {
        r = fn.apply(self, args);
      } catch (e) {
        this.end(true, typesToo);
        throw e;
      }
      if (r !== null && typeof r === 'object' && typeof (r as Promise<unknown>).then === 'function') {
        return (r as Promise<unknown>).then(answered, failed);
      }
      seen?.(r);
      this.end(!keeps(r), typesToo);
      return r;
    };
  }

  private begin(newEpoch: boolean, typesToo: boolean): void {
    if (newEpoch) this.newEpoch();
    this.writing += 1;
    if (typesToo) {
      this.typesEpoch += 1;
      this.typesWriting += 1;
    }
  }

  private end(newEpoch: boolean, typesToo: boolean): void {
    if (newEpoch) this.newEpoch();
    this.release();
    if (typesToo) {
      this.typesEpoch += 1;
      this.typesWriting -= 1;
    }
  }

  private newEpoch(): void {
    this.epoch += 1;
    this.stamp += 1;
    this.exhausted = [];
    this.horizon = -Infinity;
  }

  /**
   * Ends keep the epoch when each one was recorded and left its task waiting for a later run, done or
   * disabled: its task is due again no earlier than its nextRun, which bounds the horizon.
   */
  private afterEnds(results: ReadonlyArray<EndRunResult | Error>): boolean {
    let earliest = Infinity;
    for (const r of results) {
      if (r instanceof Error || !('task' in r) || !r.task) return false;
      if (r.task.status === 'next_run_not_scheduled') earliest = Math.min(earliest, r.task.nextRun.getTime());
      else if (r.task.status === 'next_run_scheduled') return false;
    }
    if (earliest < Infinity) {
      this.lowered += 1;
      this.horizon = Math.min(this.horizon, earliest);
      if (this.nextDue !== null && this.nextDue.stamp === this.stamp) this.nextDue.at = Math.min(this.nextDue.at, earliest);
    }
    return true;
  }

  private async getTaskTypes(names?: readonly string[]): Promise<TaskType[]> {
    let all: TaskType[];
    const cached = this.types;
    if (cached !== null && cached.epoch === this.typesEpoch && this.typesWriting === 0) all = cached.all;
    else {
      count('getTaskTypes');
      const epoch = this.typesEpoch;
      all = await this.store.getTaskTypes();
      if (epoch === this.typesEpoch && this.typesWriting === 0) this.types = { epoch, all };
    }
    return names === undefined ? [...all] : all.filter((t) => names.includes(t.name));
  }

  /**
   * The earliest due task's instant, read again only when something may have moved it: a write that
   * began an epoch or a claim that took work (ends that kept the epoch moved it where they said).
   */
  private async nextDueAt(): Promise<Date | null> {
    const cached = this.nextDue;
    if (cached !== null && cached.stamp === this.stamp && this.writing === 0) return cached.at === Infinity ? null : new Date(cached.at);
    count('nextDueAt');
    const stamp = this.stamp;
    const lowered = this.lowered;
    const next = await this.store.nextDueAt();
    const at = next === null ? Infinity : next.getTime();
    if (stamp === this.stamp && lowered === this.lowered && this.writing === 0) {
      this.nextDue = { stamp, at };
      // Within an epoch work only went away, and this was read after all of it.
      this.horizon = at;
    }
    return next;
  }

  /**
   * The running backfills: none, answered without the store, once the store said so and no backfill
   * was made since (only `schedules.createBackfill` makes one). The runner reads them at every pass.
   */
  private async runningBackfills(call: () => unknown): Promise<unknown> {
    if (this.noBackfills) return this.checked('schedules.runningBackfills', call);
    const made = this.backfillsMade;
    const r = await call();
    if (Array.isArray(r) && r.length === 0 && made === this.backfillsMade) this.noBackfills = true;
    return r;
  }

  /** Claims go to the store one at a time (as SQLite's write lock has them anyway): each knows what those before it found. */
  private claimRuns(req: ClaimRequest): Promise<ClaimOutcome> {
    const p = this.claims.then(() => this.claimOnce(req));
    this.claims = p.catch(() => {});
    return p;
  }

  private async claimOnce(req: ClaimRequest): Promise<ClaimOutcome> {
    const at = req.at.getTime();
    const due = req.due ?? false;
    // A claim at a later instant needs the earliest due task (read once per epoch).
    if (this.writing === 0 && this.horizon <= at && this.exhausted.some((x) => x.at < at)) await this.nextDueAt();
    if (this.emptyClaim(req.types, at, due)) {
      this.shortCuts += 1;
      if (this.verify) {
        const o = await this.store.claimRuns(req);
        if (o.runs.length > 0) throw new Error(`simulation short cut wrong: a claim of ${req.types.join(', ')} at ${req.at.toISOString()} answered empty, the store had ${o.runs.length} run(s)`);
      }
      return { runs: [], heldBack: false, retryAt: null };
    }
    count('claimRuns');
    // A claim only takes work away: the epoch goes on (and this claim's answer is what it is remembered by).
    const alone = this.writing === 0;
    const epoch = this.epoch;
    this.writing += 1;
    let outcome: ClaimOutcome;
    try {
      outcome = await this.store.claimRuns(req);
    } catch (e) {
      this.newEpoch();
      this.release();
      throw e;
    }
    this.release();
    if (outcome.runs.length > 0) this.stamp += 1;
    for (const c of outcome.runs) if (c.task) this.due.set(c.run.backendId, c.task.nextRun.getTime());
    if (alone && epoch === this.epoch && outcome.runs.length < req.limit && !outcome.heldBack && (await this.unlimited(req.types)) && epoch === this.epoch) {
      this.exhausted.push({ at, due, types: new Set(req.types) });
      if (this.exhausted.length > 16) this.exhausted.shift();
    }
    return outcome;
  }

  private release(): void {
    this.writing -= 1;
    if (this.writing === 0 && this.settledWaiters.length > 0) {
      const w = this.settledWaiters;
      this.settledWaiters = [];
      for (const r of w) r();
    }
  }

  /**
   * Whether no task is due at or before `at` (of `type`, a known type, when given): `at` is before the
   * earliest due instant, read once per state of the store.
   */
  private async nothingDueBy(at: number, type?: string): Promise<boolean> {
    if (this.writing > 0) return false;
    if (this.horizon <= at) await this.nextDueAt();
    if (this.writing > 0 || at >= this.horizon) return false;
    return type === undefined || (await this.getTaskTypes([type])).length === 1;
  }

  /** An empty answer given without the store; with `verify`, the store must give it too. */
  private async checked(name: string, call: () => unknown): Promise<unknown[]> {
    this.shortCuts += 1;
    if (this.verify) {
      const r = (await call()) as unknown[];
      if (r.length > 0) throw new Error(`simulation short cut wrong: ${name} answered empty, the store had ${r.length}`);
    }
    return [];
  }

  /** Resolves when no write is in flight (at once when none is). */
  settled(): Promise<void> {
    if (this.writing === 0) return Promise.resolve();
    return new Promise((r) => this.settledWaiters.push(r));
  }

  /** Whether a claim of these types (due tasks too) at `at` would find nothing (see the class comment). */
  exhaustedFor(types: readonly string[], at: number): boolean {
    return this.emptyClaim(types, at, true);
  }

  private emptyClaim(types: readonly string[], at: number, due: boolean): boolean {
    if (this.writing > 0) return false;
    for (const x of this.exhausted) {
      if ((x.due || !due) && x.at <= at && (x.at === at || at < this.horizon) && types.every((t) => x.types.has(t))) return true;
    }
    return false;
  }

  /**
   * When the work of a claimed run became due (its task's nextRun as the claim read it), once: the
   * lag of its handler's start. Undefined for a run this layer did not see claimed.
   */
  dueAt(backendId: string): number | undefined {
    const t = this.due.get(backendId);
    this.due.delete(backendId);
    return t;
  }

  /** Whether every one of these types exists and has no limits. */
  private async unlimited(names: readonly string[]): Promise<boolean> {
    const all = await this.getTaskTypes();
    return names.every((n) => {
      const t = all.find((x) => x.name === n);
      return t !== undefined && !hasLimits(t);
    });
  }
}
