import type { TaskRun } from '../core/model.js';
import type { Clock } from '../engine/clock.js';
import { DagScheduler } from '../engine/dag-scheduler.js';
import type { PeriodicLoop } from '../engine/periodic-loop.js';
import type { Orrery } from '../engine/service.js';
import { VisitScheduler } from '../engine/visit-scheduler.js';
import { dagAttemptOf } from '../worker/dag-handler.js';
import type { HandlerResult } from '../worker/handlers.js';
import { percentile } from './collector.js';
import { drawDuration, Random, type DurationModel } from './random.js';
import type { HandlerModel, Scenario } from './scenario.js';
import { dagDefinition } from './scenario-world.js';

/** What a simulated handler does with one run: its model, its random source, and its success. */
export interface Job {
  model: HandlerModel;
  rng: Random;
  /** The handler's answer when the run gets past the model's failures (default `{ eventful }`). */
  succeed?: (now: number) => HandlerResult;
}

/** Visits counted per interval and visit type (series.csv). */
export interface VisitCounts {
  successful: number;
  failed: number;
  notFound: number;
  eventful: number;
}

/** `summary.dags`: per DAG, its runs in the window. */
export type DagsSummary = Record<string, { runs: number; success: number; failed: number; unfinished: number; durationMs: { mean: number; p50: number; p95: number; max: number } | null }>;

/** `summary.visits`: the origins at the end and the visits of the window. */
export interface VisitsSummary {
  known: number;
  enabled: number;
  neverVisited: number;
  withPendingChanges: number;
  meanStalenessMs: number;
  visits: { total: number } & VisitCounts;
}

/** One origin of the model: its change process and what the archive has of it. */
interface Origin {
  url: string;
  lister: number;
  meanChangeMs: number;
  rng: Random;
  listedAt: number;
  lastChange: number;
  nextChange: number;
  version: number;
  /** The version the last successful visit archived (-1: none yet). */
  archived: number;
  /** The first change the archive does not have (after the last successful visit). */
  unseenSince: number;
  unsuccessful: number;
}

const CHUNK = 5_000;
/** An origin's changes past this many expected since it was last played are jumped over, not stepped (advance). */
const MAX_STEPPED_CHANGES = 1_000;
const DAG_SUCCESS = 1;
const noVisits = (): VisitCounts => ({ successful: 0, failed: 0, notFound: 0, eventful: 0 });

/**
 * The DAGs and the crawled world of a scenario (docs/simulate.md#dags-and-visits): DAG definitions with a
 * model per task, listers adding origins that change as Poisson processes, the DAG scheduler and the
 * visit-scheduler as the daemons run them, and the answers of DAG task and visit handlers.
 */
export class SimWorld {
  private readonly dagModels = new Map<string, Job>();
  private readonly origins = new Map<string, Origin>();
  /** The origin each visit task visits, learned when one of its runs begins (a run's end does not carry its arguments). */
  private readonly originOfTask = new Map<number, Origin>();
  private readonly listerIds: string[] = [];
  private readonly visitTypes = new Set<string>();
  private readonly counts = new Map<string, VisitCounts[]>();
  private readonly totals = noVisits();
  private finished = false;

  constructor(
    private readonly orrery: Orrery,
    private readonly clock: Clock & { nowMs(): number },
    private readonly s: Scenario,
    private readonly intervals: number,
  ) {
    for (const d of s.dags) {
      for (const t of d.tasks) {
        const model: HandlerModel = { duration: t.duration as DurationModel, eventful: DAG_SUCCESS, failed: t.failed, permfailed: t.permfailed, retryAfter: 0, retryAfterDelay: 0, crash: t.crash };
        this.dagModels.set(`${d.id}\u0000${t.id}`, { model, rng: new Random(s.seed, `dag:${d.id}:${t.id}`), succeed: () => ({ eventful: true, result: null }) });
      }
    }
    for (const q of s.visits?.queues ?? []) this.visitTypes.add(q.visitType);
  }

  /** Registers the DAGs, lists the listers' first origins, and starts their arrivals and relistings. */
  async setup(): Promise<void> {
    if (this.s.dags.length > 0) await this.orrery.dags.register(this.s.dags.map((d) => dagDefinition(d) as never));
    const v = this.s.visits;
    if (!v) return;
    for (const [i, l] of v.listers.entries()) {
      const lister = await this.orrery.visits.getOrCreateLister(l.name, l.instance);
      this.listerIds.push(lister.id);
      const rng = new Random(this.s.seed, `lister:${i}`);
      const born: Origin[] = [];
      for (let n = 0; n < l.initial; n++) born.push(this.newOrigin(i, n, rng));
      await this.list(i, born, true);
      let n = l.initial;
      if (l.ratePerHour > 0) {
        const gap = 3_600_000 / l.ratePerHour;
        const next = () =>
          this.clock.setTimer(Math.max(1, Math.round(rng.exponential(gap))), () => {
            if (this.finished) return;
            void this.list(i, [this.newOrigin(i, n++, rng)], false);
            next();
          });
        next();
      }
      if (l.relistEvery !== undefined) {
        const every = l.relistEvery;
        const relist = () =>
          this.clock.setTimer(every, () => {
            if (this.finished) return;
            void this.list(i, [...this.origins.values()].filter((o) => o.lister === i), true);
            relist();
          });
        relist();
      }
    }
  }

  private newOrigin(lister: number, n: number, rng: Random): Origin {
    const l = this.s.visits!.listers[lister]!;
    const url = `https://${l.instance || l.name}/${lister}/${n}`;
    const meanChangeMs = Math.max(1, drawDuration(l.changeInterval as DurationModel, rng));
    const own = new Random(this.s.seed, `origin:${url}`);
    const now = this.clock.nowMs();
    // A change process that has been going on for long: the last change before now and the next one.
    const lastChange = now - Math.round(own.exponential(meanChangeMs));
    const nextChange = now + Math.max(1, Math.round(own.exponential(meanChangeMs)));
    const o: Origin = { url, lister, meanChangeMs, rng: own, listedAt: now, lastChange, nextChange, version: 0, archived: -1, unseenSince: now, unsuccessful: 0 };
    this.origins.set(url, o);
    return o;
  }

  /**
   * Lists origins (their lastUpdate as the lister reports it). A whole listing (the one at the start, a
   * relisting) is then recorded as finished, however many origins it had; an origin arriving between
   * listings is not a listing.
   */
  private async list(lister: number, origins: readonly Origin[], whole: boolean): Promise<void> {
    const l = this.s.visits!.listers[lister]!;
    const id = this.listerIds[lister]!;
    const now = this.clock.nowMs();
    for (let i = 0; i < origins.length; i += CHUNK) {
      await this.orrery.visits.recordListedOrigins(
        origins.slice(i, i + CHUNK).map((o) => {
          this.advance(o, now);
          return { listerId: id, url: o.url, visitType: l.visitType, ...(l.reportsLastUpdate ? { lastUpdate: new Date(o.lastChange) } : {}) };
        }),
      );
    }
    if (whole) {
      const current = await this.orrery.visits.getLister(id);
      if (current) await this.orrery.visits.updateLister({ id, updated: current.updated, currentState: {}, lastListingFinishedAt: new Date(now) });
    }
  }

  /**
   * Plays an origin's changes up to `t`. An origin that changes faster than it is looked at (a mean
   * interval of milliseconds over days) is not stepped change by change: past MAX_STEPPED_CHANGES
   * expected, its changes are jumped over at once. They are a Poisson process, so memoryless: the
   * latest before `t` is `t` less an exponential draw (within the gap), the next after `t` another draw.
   */
  private advance(o: Origin, t: number): void {
    const gap = t - o.nextChange;
    if (gap > MAX_STEPPED_CHANGES * o.meanChangeMs) {
      o.version += 1 + Math.round(gap / o.meanChangeMs);
      o.lastChange = t - Math.min(gap, Math.round(o.rng.exponential(o.meanChangeMs)));
      o.nextChange = t + Math.max(1, Math.round(o.rng.exponential(o.meanChangeMs)));
      return;
    }
    while (o.nextChange <= t) {
      o.version += 1;
      o.lastChange = o.nextChange;
      o.nextChange += Math.max(1, Math.round(o.rng.exponential(o.meanChangeMs)));
    }
  }

  /** The loops the daemons would run beside the runner and the reaper for this scenario. */
  loops(): PeriodicLoop[] {
    const out: PeriodicLoop[] = [];
    if (this.s.dags.length > 0) out.push(new DagScheduler(this.orrery, { maxSleepMs: this.s.pollInterval }));
    const v = this.s.visits;
    if (v) {
      const byName = new Map(v.listers.map((l, i) => [l.name, this.listerIds[i]!]));
      out.push(
        new VisitScheduler(this.orrery, {
          queues: v.queues.map((q) => ({
            visitType: q.visitType,
            size: q.size,
            ...(q.policies ? { policies: q.policies } : {}),
            ...(q.lister !== undefined ? { lister: byName.get(q.lister)! } : {}),
            ...(q.cooldowns ? { cooldowns: q.cooldowns } : {}),
          })),
          refillFraction: v.refillFraction,
          collectBatch: v.collectBatch,
          maxSleepMs: v.pollInterval ?? this.s.pollInterval,
          metricsEveryMs: v.metricsEvery,
        }),
      );
    }
    return out;
  }

  /**
   * The job of a DAG task's attempt (its task's model) or of a visit (the visit type's model, then the
   * origin: not found, failed, or successful with the snapshot of its current version); null for others.
   */
  job(run: TaskRun, args: readonly unknown[], kwargs: Record<string, unknown>, plain: Job | undefined): Job | null {
    const attempt = dagAttemptOf(kwargs);
    if (attempt) return this.dagModels.get(`${attempt.dag}\u0000${attempt.task}`) ?? null;
    if (!this.visitTypes.has(run.type) || !plain) return null;
    const o = this.origins.get(String(args[0]));
    if (!o) return null;
    this.originOfTask.set(run.task, o);
    const l = this.s.visits!.listers[o.lister]!;
    return {
      ...plain,
      succeed: (now) => {
        const u = plain.rng.next();
        if (u < l.notFound) return { eventful: false, result: { status: 'not_found' } };
        if (u < l.notFound + l.failed) throw new Error('simulated visit failure');
        this.advance(o, now);
        const eventful = o.version !== o.archived;
        o.archived = o.version;
        o.unseenSince = o.nextChange;
        return { eventful, result: { status: 'successful', snapshot: `${o.url}@${o.version}` } };
      },
    };
  }

  /**
   * A run ended: when it ended its visit task (`taskDone`: the task completed or disabled, as the
   * visit-scheduler records it), the visit's outcome is counted in its interval. A failed run whose
   * task waits for a retry is not a visit.
   */
  ended(run: TaskRun, index: number, taskDone: boolean): void {
    if (this.finished || !taskDone || !this.visitTypes.has(run.type)) return;
    let rows = this.counts.get(run.type);
    if (!rows) this.counts.set(run.type, (rows = Array.from({ length: this.intervals }, noVisits)));
    const status = (run.result as { status?: unknown } | null)?.status;
    const k: keyof VisitCounts = status === 'successful' && run.status !== 'failed' ? 'successful' : status === 'not_found' ? 'notFound' : 'failed';
    // Counted as the store records the visit: any end but a successful one (the model's not found or
    // failure, a handler failure, a crash, a lost run) is unsuccessful; three in a row disable the origin.
    const o = this.originOfTask.get(run.task);
    if (o) o.unsuccessful = k === 'successful' ? 0 : o.unsuccessful + 1;
    for (const c of [rows[index]!, this.totals]) {
      c[k] += 1;
      if (run.status === 'eventful') c.eventful += 1;
    }
  }

  /** Whether series.csv has visit columns. */
  get hasVisits(): boolean {
    return this.s.visits !== undefined;
  }

  /** The visits of one interval of a type (zeros for other types). */
  visitsOf(type: string, index: number): VisitCounts {
    return this.counts.get(type)?.[index] ?? noVisits();
  }

  /** The window is over: no more origins. */
  finish(): void {
    this.finished = true;
  }

  /** The summary's `dags` (per DAG: runs created in the window) and `visits`, when the scenario has them. */
  async summary(to: number): Promise<{ dags?: DagsSummary; visits?: VisitsSummary }> {
    const out: { dags?: DagsSummary; visits?: VisitsSummary } = {};
    if (this.s.dags.length > 0) {
      out.dags = {};
      for (const d of this.s.dags) {
        const durations: number[] = [];
        let runs = 0;
        let success = 0;
        let failed = 0;
        for (let beforeId: number | undefined; ; ) {
          const page = await this.orrery.dags.runs({ dag: d.id, limit: 1000, ...(beforeId !== undefined ? { beforeId } : {}) });
          for (const r of page) {
            // The window is half-open: a run created at `to` itself belongs to the next one.
            if (r.created.getTime() >= to) continue;
            runs += 1;
            if (r.status === 'success') success += 1;
            if (r.status === 'failed') failed += 1;
            if (r.ended && r.started && (r.status === 'success' || r.status === 'failed')) durations.push(r.ended.getTime() - r.started.getTime());
          }
          if (page.length < 1000) break;
          beforeId = page[page.length - 1]!.id;
        }
        durations.sort((a, b) => a - b);
        const mean = durations.reduce((a, b) => a + b, 0) / (durations.length || 1);
        out.dags[d.id] = {
          runs,
          success,
          failed,
          unfinished: runs - success - failed,
          durationMs: durations.length ? { mean: Math.round(mean), p50: percentile(durations, 50), p95: percentile(durations, 95), max: durations[durations.length - 1]! } : null,
        };
      }
    }
    if (this.s.visits) {
      const metrics = await this.orrery.visits.updateMetrics({ at: new Date(to) });
      let pending = 0;
      let stale = 0;
      let counted = 0;
      for (const o of this.origins.values()) {
        if (o.unsuccessful >= 3) continue; // disabled (three unsuccessful visits in a row)
        this.advance(o, to);
        counted += 1;
        if (o.archived < 0) stale += to - o.listedAt;
        else if (o.unseenSince <= to) {
          pending += 1;
          stale += to - o.unseenSince;
        }
      }
      const sum = (k: 'originsKnown' | 'originsEnabled' | 'originsNeverVisited') => metrics.reduce((a, m) => a + m[k], 0);
      out.visits = {
        known: sum('originsKnown'),
        enabled: sum('originsEnabled'),
        neverVisited: sum('originsNeverVisited'),
        withPendingChanges: pending,
        meanStalenessMs: counted ? Math.round(stale / counted) : 0,
        visits: { total: this.totals.successful + this.totals.failed + this.totals.notFound, ...this.totals },
      };
    }
    return out;
  }
}
