import { NotFoundError, invalid, shown } from '../core/errors.js';
import { checkFlag, knownOptions, optionsObject, refuseHoles, refuseUnknownKeys } from '../core/options.js';
import { checkDate, requireInstant } from '../core/instants.js';
import { INT4_MAX, assertText } from '../core/storable.js';
import { assertJson } from '../core/json-checks.js';
import { ORIGIN_KEYS, ORIGIN_KEYS_OR_ONE, atOptions, checkListerIds, checkListerLookup, checkListerUpdate, checkNewLister, checkOriginKeys, listedOriginsFilter, metricsHistoryFilter, originVisitsQuery, pageLimit, visitOptions } from '../core/visit-args.js';
import {
  checkListerId,
  checkListerName,
  checkGrabCount,
  checkPolicy,
  checkPolicyWeights,
  VISIT_RESULT_FIELDS,
  checkUrl,
  checkVisitType,
  splitByWeight,
  usablePolicyWeights,
  validateCooldowns,
  validateVisitResult,
  type ListedOrigin,
  type Lister,
  type OriginVisitStats,
  type PolicyWeight,
  type VisitCooldowns,
  type VisitStatus,
} from '../core/visits.js';
import type { Store } from '../store/store.js';
import { validation, visitInput } from './input-parsers.js';
import type {
  CollectedVisit,
  ListedOriginPage,
  OriginKey,
  RecordedVisit,
  ScheduledVisits,
  VisitMetrics,
} from '../store/visit-store.js';
import { METRICS_HISTORY_KEEP, type OriginVisit, type VisitMetricsSeries } from '../store/visit-history.js';
import type { Clock } from './clock.js';

export interface At {
  at?: Date;
}

export interface GrabOptions extends At {
  /** Only origins of this lister (required by `first_visits_after_listing`). */
  lister?: string;
  cooldowns?: Partial<VisitCooldowns>;
  /** Select without marking `lastScheduled`. */
  dryRun?: boolean;
}

/** The keys of GrabOptions: another is refused, naming it (a misspelt `dryrun` would grab for real). */
const GRAB_OPTIONS = ['at', 'lister', 'cooldowns', 'dryRun'] as const;
/** scheduleVisits' keys: `dryRun` is not one (a pass that creates no tasks is a grab's dry run). */
const SCHEDULE_VISITS_OPTIONS = ['at', 'lister', 'cooldowns', 'queueSize'];

/** scheduleVisits' options: a grab's (but no dry run: a pass creates tasks), and the queue the pass fills. */
export interface ScheduleVisitsOptions extends Omit<GrabOptions, 'dryRun'> {
  /**
   * At most this many visits of the type in flight once the pass is written (the visit-scheduler's
   * queue size): counted again inside the pass's transaction, so several schedulers at once stay
   * within it; a pass that finds less room schedules fewer visits, split over the same policies.
   */
  queueSize?: number;
}

export { MAX_GRAB } from '../core/visits.js';
export const MAX_ORIGINS_BATCH = 1_000_000;
export { MAX_PAGE } from '../core/visit-args.js';
export const MAX_HISTORY_KEEP = 1_000_000;

/**
 * Visit scheduling (SPEC §4) over one store: listers, listed origins, visit stats, grabs and metrics,
 * validated. `rng` (uniform in [0, 1)) jitters queue positions; tests replace it.
 */
export class VisitService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    public rng: () => number = Math.random,
  ) {}

  private instant(at?: Date, path = 'at'): Date {
    checkDate(at, path);
    return at ?? this.clock.now();
  }

  // --- listers ------------------------------------------------------------------------------------
  async getOrCreateLister(name: string, instanceName = '', at: At | Date = {}): Promise<Lister> {
    const opts = atOptions(at);
    checkNewLister(name, instanceName);
    return this.store.visits.getOrCreateLister(name, instanceName, this.instant(opts.at));
  }

  async getLister(id: string): Promise<Lister | null> {
    const [l] = await this.store.visits.getListers([checkListerId(id, 'id')]);
    return l ?? null;
  }

  async getListers(ids: readonly string[]): Promise<Lister[]> {
    return this.store.visits.getListers(checkListerIds(ids));
  }

  async findLister(name: string, instanceName = ''): Promise<Lister | null> {
    checkListerLookup(name, instanceName);
    return this.store.visits.getLister(name, instanceName);
  }

  async listListers(): Promise<Lister[]> {
    return this.store.visits.listListers();
  }

  /** Optimistic update: `updated` must be the value read; StaleDataError otherwise. */
  async updateLister(
    update: { id: string; updated: Date; currentState?: Record<string, unknown>; lastListingFinishedAt?: Date | null },
    at: At | Date = {},
  ): Promise<Lister> {
    const opts = atOptions(at);
    const id = checkListerUpdate(update);
    const state = update.currentState;
    let stored: Record<string, unknown> | undefined;
    if (state !== undefined) {
      // As every JSON a user gives (the typed client's checks too): finite numbers, no BigInt, no __proto__, at most 128 levels.
      if (state !== null && typeof state === 'object' && !Array.isArray(state)) assertJson(state, 'currentState');
      // What JSON makes of it must be an object too (a Date or a String object is written as a string).
      const text = state && typeof state === 'object' && !Array.isArray(state) ? (JSON.stringify(state) as string | undefined) : undefined;
      stored = text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
      if (!stored || typeof stored !== 'object' || Array.isArray(stored)) throw invalid('currentState', 'must be a JSON object');
    }
    return this.store.visits.updateLister(
      {
        id,
        updated: update.updated,
        ...(stored !== undefined ? { currentState: stored } : {}),
        ...(update.lastListingFinishedAt !== undefined ? { lastListingFinishedAt: update.lastListingFinishedAt } : {}),
      },
      this.instant(opts.at),
    );
  }

  // --- listed origins -----------------------------------------------------------------------------
  /** Upserts listed origins; one invalid origin (or unknown lister) rejects the batch and writes nothing. */
  async recordListedOrigins(inputs: readonly unknown[], at: At | Date = {}): Promise<ListedOrigin[]> {
    const opts = atOptions(at);
    if (Array.isArray(inputs) && inputs.length > MAX_ORIGINS_BATCH) throw invalid('origins', `at most ${MAX_ORIGINS_BATCH} origins per batch`);
    if (Array.isArray(inputs)) refuseHoles(inputs, 'origins');
    const { validateListedOrigins } = await visitInput();
    const origins = validateListedOrigins(inputs);
    const ids = [...new Set(origins.map((o) => o.listerId))];
    const known = new Set((await this.store.visits.getListers(ids)).map((l) => l.id));
    const i = origins.findIndex((o) => !known.has(o.listerId));
    if (i >= 0) throw invalid(`origins[${i}].listerId`, `unknown lister ${origins[i]!.listerId}`);
    return this.store.visits.recordListedOrigins(origins, this.instant(opts.at));
  }

  async getListedOrigins(f: { listerId?: string; lister?: string; url?: string; visitType?: string; enabled?: boolean; limit?: number; pageToken?: string | null } = {}): Promise<ListedOriginPage> {
    const checked = listedOriginsFilter(f);
    f = checked.filter;
    const listerId = checked.listerId;
    const limit = pageLimit(f.limit, 1000);
    const lister = listerId === undefined ? undefined : checkListerId(listerId, 'lister');
    if (lister !== undefined) await this.requireLister(lister);
    return this.store.visits.getListedOrigins({
      limit,
      ...(lister !== undefined ? { listerId: lister } : {}),
      ...(f.url !== undefined ? { url: checkUrl(f.url) } : {}),
      ...(f.visitType !== undefined ? { visitType: checkVisitType(f.visitType) } : {}),
      ...(f.enabled !== undefined ? { enabled: f.enabled } : {}),
      ...(f.pageToken != null ? { pageToken: f.pageToken } : {}),
    });
  }

  /** Enables or disables the listed entries of origins (of one lister when given); returns how many changed. */
  async setOriginsEnabled(keys: readonly OriginKey[], enabled: boolean, listerId?: string): Promise<number> {
    if (!Array.isArray(keys)) throw invalid('origins', ORIGIN_KEYS);
    refuseHoles(keys, 'origins');
    if (typeof enabled !== 'boolean') throw invalid('enabled', 'must be a boolean (true enables, false disables)');
    const checked = checkOriginKeys(keys, ORIGIN_KEYS);
    const lister = listerId === undefined ? undefined : checkListerId(listerId, 'lister');
    if (lister !== undefined) await this.requireLister(lister);
    return this.store.visits.setOriginsEnabled(checked, enabled, lister);
  }

  /**
   * The stats of the origins that have any, in the keys' order. With `(url, visitType)` (the typed
   * client's other form): that origin's stats, or null without any.
   */
  getVisitStats(keys: readonly OriginKey[]): Promise<OriginVisitStats[]>;
  getVisitStats(url: string, visitType: string): Promise<OriginVisitStats | null>;
  async getVisitStats(keys: readonly OriginKey[] | string, visitType?: unknown): Promise<OriginVisitStats[] | OriginVisitStats | null> {
    if (typeof keys === 'string') return (await this.store.visits.getVisitStats([{ url: checkUrl(keys, 'url'), visitType: checkVisitType(visitType, 'visitType') }]))[0] ?? null;
    return this.store.visits.getVisitStats(checkOriginKeys(keys, ORIGIN_KEYS_OR_ONE));
  }

  // --- visits -------------------------------------------------------------------------------------
  /** Records one visit result (SPEC §4 recordVisit): older or duplicate results change nothing. `at`: a Date or `{ at }`. */
  async recordVisit(url: string, visitType: string, status: VisitStatus, snapshot: string | null = null, at: At | Date = {}): Promise<RecordedVisit> {
    const opts = atOptions(at);
    const [r] = await this.recordVisits([{ url, visitType, status, snapshot, ...(opts.at !== undefined ? { at: opts.at } : {}) }]);
    return r!;
  }

  /** Records visit results in order, in one transaction; one invalid result rejects the batch. */
  async recordVisits(items: ReadonlyArray<{ url: string; visitType: string; status: VisitStatus; snapshot?: string | null; at?: Date }>): Promise<RecordedVisit[]> {
    if (!Array.isArray(items)) throw invalid('visits', 'must be an array');
    refuseHoles(items, 'visits');
    const visits = items.map((v, i) => {
      const path = items.length > 1 ? `visits[${i}]` : '';
      if (v !== null && typeof v === 'object') refuseUnknownKeys(v, VISIT_RESULT_FIELDS, path);
      return validateVisitResult({ ...v, at: this.instant(v?.at, path ? `${path}.at` : 'at') }, path);
    });
    return this.store.visits.recordVisits(visits, this.rng);
  }

  /**
   * Selects up to `count` enabled origins by policy and cooldowns and marks them scheduled at `at`,
   * atomically. The fourth argument is the options, or SPEC §4's `at` (a Date) with `cooldowns` fifth.
   */
  async grabNextVisits(visitType: string, count: number, policy: string, options: GrabOptions | Date = {}, cooldownsArg?: Partial<VisitCooldowns>): Promise<ListedOrigin[]> {
    const opts = visitOptions<GrabOptions>(options, cooldownsArg !== undefined ? { cooldowns: cooldownsArg } : {});
    refuseUnknownKeys(opts, GRAB_OPTIONS, 'options');
    checkFlag(opts.dryRun, 'dryRun'); // 'yes' was read as true
    const vt = checkVisitType(visitType);
    checkGrabCount(count);
    const p = checkPolicy(policy);
    const lister = opts.lister === undefined ? undefined : checkListerId(opts.lister, 'lister');
    if (p === 'first_visits_after_listing' && lister === undefined) throw invalid('lister', 'the first_visits_after_listing policy needs a lister');
    const cooldowns = validateCooldowns(opts.cooldowns);
    if (lister !== undefined) await this.requireLister(lister);
    if (count === 0) return [];
    return this.store.visits.grabNextVisits({
      visitType: vt,
      count,
      policy: p,
      at: this.instant(opts.at),
      cooldowns,
      ...(lister !== undefined ? { listerId: lister } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
    });
  }

  async getQueuePosition(visitType: string): Promise<number | null> {
    return this.store.visits.getQueuePosition(checkVisitType(visitType));
  }

  // --- metrics ------------------------------------------------------------------------------------
  /** Recomputes the metrics and appends them to the history, keeping at most `keepHistory` points per (lister, visit type). */
  async updateMetrics(opts: At & { lister?: string; keepHistory?: number } = {}): Promise<VisitMetrics[]> {
    opts = knownOptions(opts, ['at', 'lister', 'keepHistory']);
    const keep = opts.keepHistory ?? METRICS_HISTORY_KEEP;
    if (!Number.isInteger(keep) || keep < 1 || keep > MAX_HISTORY_KEEP) throw invalid('keepHistory', `must be an integer from 1 to ${MAX_HISTORY_KEEP}`);
    const lister = opts.lister === undefined ? null : checkListerId(opts.lister, 'lister');
    if (lister !== null) await this.requireLister(lister);
    return this.store.visits.updateMetrics(lister, this.instant(opts.at), keep);
  }

  /** A lister named by a request must exist: a NotFoundError (404, exit 2) instead of an empty answer. */
  private async requireLister(id: string): Promise<void> {
    if ((await this.store.visits.getListers([id])).length === 0) throw new NotFoundError(`lister ${id} not found`, [{ path: 'lister', message: 'no such lister' }]);
  }

  /** The last `limit` points (default 1000) since `since` of each (lister, visit type), oldest first. */
  async getMetricsHistory(f: { lister?: string; visitType?: string; since?: Date; limit?: number } = {}): Promise<VisitMetricsSeries[]> {
    const checked = metricsHistoryFilter(f);
    f = checked;
    const { limit, lister } = checked;
    if (lister !== undefined) await this.requireLister(lister);
    return this.store.visits.getMetricsHistory({
      limit,
      ...(lister !== undefined ? { listerId: lister } : {}),
      ...(f.visitType !== undefined ? { visitType: checkVisitType(f.visitType) } : {}),
      ...(f.since !== undefined ? { since: f.since } : {}),
    });
  }

  /** An origin's applied visits, newest first: at most `limit` (default 100), before `before` when given (the next page). */
  async getOriginVisits(url: string, visitType: string, f: { limit?: number; before?: Date } = {}): Promise<OriginVisit[]> {
    return this.store.visits.getOriginVisits(originVisitsQuery(url, visitType, f));
  }

  /**
   * The metrics per (lister, visit type): as of the last `updateMetrics` (stored rows, cheap), or with
   * `fresh: true` counted now from the listed origins (nothing stored; `updated` is now; reads every
   * origin of the filter, as an update does).
   */
  async getMetrics(f: { lister?: string; visitType?: string; fresh?: boolean } = {}): Promise<VisitMetrics[]> {
    f = knownOptions(f, ['lister', 'visitType', 'fresh'], 'filter');
    checkFlag(f.fresh, 'fresh');
    const lister = f.lister === undefined ? undefined : checkListerId(f.lister, 'lister');
    if (lister !== undefined) await this.requireLister(lister);
    const filter = {
      ...(lister !== undefined ? { listerId: lister } : {}),
      ...(f.visitType !== undefined ? { visitType: checkVisitType(f.visitType) } : {}),
    };
    return f.fresh ? this.store.visits.countMetrics(filter, this.instant()) : this.store.visits.getMetrics(filter);
  }

  // --- the visit-scheduler's two halves -------------------------------------------------------------
  async countInFlight(visitType: string): Promise<number> {
    return this.store.visits.countInFlight(checkVisitType(visitType));
  }

  /**
   * Grabs `count` origins split over weighted policies and creates one one-shot task of the visit type
   * per origin (args `[url]`, kwargs the loader arguments), tracked as in flight, in one transaction.
   */
  async scheduleVisits(visitType: string, count: number, weights: readonly PolicyWeight[], opts: ScheduleVisitsOptions = {}): Promise<ScheduledVisits> {
    opts = optionsObject(opts, 'options');
    refuseUnknownKeys(opts, SCHEDULE_VISITS_OPTIONS, 'options');
    // A pass fills a queue of any size (a grab alone is bounded by MAX_GRAB).
    if (!Number.isSafeInteger(count) || count < 0 || count > INT4_MAX) throw invalid('count', `must be an integer from 0 to ${INT4_MAX}`);
    checkPolicyWeights(weights, 'policies');
    if (opts.queueSize !== undefined && (!Number.isSafeInteger(opts.queueSize) || opts.queueSize < 1)) throw invalid('queueSize', 'must be a positive integer');
    const vt = checkVisitType(visitType);
    const [type] = await this.store.getTaskTypes([vt]);
    if (!type) throw new NotFoundError(`no task type "${shown(vt)}": visits run as one-shot tasks of a task type named after the visit type`, [{ path: 'visitType', message: 'unknown task type' }]);
    const lister = opts.lister === undefined ? undefined : checkListerId(opts.lister, 'lister');
    if (lister !== undefined) await this.requireLister(lister);
    const usable = usablePolicyWeights(weights, lister !== undefined);
    const split = splitByWeight(count, usable);
    const at = this.instant(opts.at);
    const types = new Map([[type.name, type]]);
    const { validateTask } = await validation();
    return this.store.visits.scheduleVisits(
      {
        visitType: vt,
        policies: split,
        at,
        cooldowns: validateCooldowns(opts.cooldowns),
        ...(lister !== undefined ? { listerId: lister } : {}),
        ...(opts.queueSize !== undefined ? { queueSize: opts.queueSize } : {}),
      },
      (o) => validateTask({ type: type.name, policy: 'oneshot', arguments: { args: [o.url], kwargs: o.extraLoaderArguments }, nextRun: at }, types, at),
    );
  }

  /** Records the results of finished visit tasks (each exactly once) and forgets them. */
  async collectFinishedVisits(limit = 1000): Promise<CollectedVisit[]> {
    // A null limit is refused here (the parameter's default is for a limit left out only).
    return this.store.visits.collectFinishedVisits(pageLimit(limit ?? Number.NaN, 1000), this.rng);
  }
}
