import type { Task, TaskRun } from '../core/model.js';
import type { NewTask } from '../core/validation.js';
import type {
  ListedOrigin,
  ListedOriginInput,
  Lister,
  OriginVisitStats,
  VisitCooldowns,
  VisitPolicy,
  VisitResult,
  VisitStatus,
} from '../core/visits.js';
import { visitFromRun } from '../core/visits.js';
import { dateOrNull, json, ms, type Row } from './columns.js';
import { metricCountsFromRow } from './visit-history.js';
import type { MetricsHistoryFilter, OriginVisit, OriginVisitsFilter, VisitMetricsSeries } from './visit-history.js';

export interface ListerUpdate {
  id: string;
  /** The `updated` instant the caller read; a different stored value raises StaleDataError. */
  updated: Date;
  /** The lister's new state; absent keeps the stored value. */
  currentState?: Record<string, unknown>;
  /** Set when a complete listing just finished; absent keeps the stored value. */
  lastListingFinishedAt?: Date | null;
}

export interface ListedOriginFilter {
  listerId?: string;
  url?: string;
  visitType?: string;
  /** Only enabled (true) or disabled (false) origins; absent: both. */
  enabled?: boolean;
  limit: number;
  /** `nextPageToken` of the previous page. */
  pageToken?: string | null;
}

export interface ListedOriginPage {
  origins: ListedOrigin[];
  /** Null on the last page. */
  nextPageToken: string | null;
}

export interface OriginKey {
  url: string;
  visitType: string;
}

export interface GrabRequest {
  visitType: string;
  count: number;
  policy: VisitPolicy;
  at: Date;
  cooldowns: VisitCooldowns;
  /** Only origins of this lister (required by `first_visits_after_listing`). */
  listerId?: string;
  /** Select without marking `lastScheduled` (an origin listed by several listers counts once, so a dry run may return fewer). */
  dryRun?: boolean;
}

export interface RecordedVisit {
  stats: OriginVisitStats;
  /** False when the result was older than (or as old as) the last recorded visit: nothing changed. */
  applied: boolean;
  eventful: boolean;
  /** The origin's listed entries were disabled by this visit (failed or not_found three times in a row). */
  disabled: boolean;
}

/** Per (lister, visit type), as of the last `updateMetrics`. */
export interface VisitMetrics {
  listerId: string;
  visitType: string;
  updated: Date;
  originsKnown: number;
  originsEnabled: number;
  /** Enabled origins never visited successfully (no snapshot yet). */
  originsNeverVisited: number;
  /** Enabled origins whose lister reports an update after their last successful visit. */
  originsWithPendingChanges: number;
}

export interface ScheduleVisitsRequest {
  visitType: string;
  policies: ReadonlyArray<{ policy: VisitPolicy; count: number }>;
  at: Date;
  cooldowns: VisitCooldowns;
  listerId?: string;
  /**
   * At most this many visits of the type in flight once the pass is written: the store counts them
   * again inside its transaction (one pass at a time per visit type) and trims the policies' counts
   * to the room left (core trimToRoom).
   */
  queueSize?: number;
}

export interface ScheduledVisits {
  origins: ListedOrigin[];
  tasks: Task[];
}

/** A visit task that finished, and what its result did to the origin's stats (null: no result to record). */
export interface CollectedVisit {
  taskId: number;
  url: string;
  visitType: string;
  run: TaskRun | null;
  recorded: RecordedVisit | null;
}

/** The visit-scheduling part of the store (SPEC §4). Every mutating call takes the instant `at`. */
export interface VisitStore {
  getOrCreateLister(name: string, instanceName: string, at: Date): Promise<Lister>;
  getListers(ids: readonly string[]): Promise<Lister[]>;
  getLister(name: string, instanceName: string): Promise<Lister | null>;
  listListers(): Promise<Lister[]>;
  /** Optimistic: raises StaleDataError when `updated` is not the stored value, NotFoundError for an unknown id. */
  updateLister(update: ListerUpdate, at: Date): Promise<Lister>;

  /** Upserts by (lister, url, visit type) in one statement per chunk: keeps firstSeen, refreshes the rest. Input is validated and deduplicated. */
  recordListedOrigins(origins: readonly Required<ListedOriginInput>[], at: Date): Promise<ListedOrigin[]>;
  /** Cursor pagination in insertion order: pages never repeat nor skip a row. */
  getListedOrigins(filter: ListedOriginFilter): Promise<ListedOriginPage>;
  /** Enables or disables every listed entry of the given origins (of one lister when given); returns how many changed. */
  setOriginsEnabled(keys: readonly OriginKey[], enabled: boolean, listerId?: string): Promise<number>;

  getVisitStats(keys: readonly OriginKey[]): Promise<OriginVisitStats[]>;
  /** Applies visit results in order, atomically (SPEC §4 recordVisit); `rng` jitters queue positions. */
  recordVisits(visits: readonly VisitResult[], rng: () => number): Promise<RecordedVisit[]>;
  /** Selects by policy and cooldowns and marks `lastScheduled = at` atomically: concurrent grabs never share an origin. */
  grabNextVisits(req: GrabRequest): Promise<ListedOrigin[]>;
  /** The visit type's global queue position (seconds), null before `origins_without_last_update` first advanced it. */
  getQueuePosition(visitType: string): Promise<number | null>;

  /**
   * Recomputes and stores the metrics of one lister (or all); returns them. Reads every listed origin of the lister.
   * Also appends one history point per (lister, visit type) and prunes that pair's points beyond `keepHistory` (default METRICS_HISTORY_KEEP).
   */
  updateMetrics(listerId: string | null, at: Date, keepHistory?: number): Promise<VisitMetrics[]>;
  getMetrics(filter?: { listerId?: string; visitType?: string }): Promise<VisitMetrics[]>;
  /** The metrics counted now from the listed origins (of the filter), `updated` = `at`; nothing is stored. Reads every origin it counts. */
  countMetrics(filter: { listerId?: string; visitType?: string }, at: Date): Promise<VisitMetrics[]>;
  /** The last `limit` points (since `since`) of each (lister, visit type), oldest first, series ordered by lister and visit type. */
  getMetricsHistory(filter: MetricsHistoryFilter): Promise<VisitMetricsSeries[]>;
  /** An origin's applied visits, newest first (recordVisit appends one in its transaction). */
  getOriginVisits(filter: OriginVisitsFilter): Promise<OriginVisit[]>;

  /** Visits handed to the jobboard and not yet recorded, of one visit type. */
  countInFlight(visitType: string): Promise<number>;
  /**
   * One transaction: grabs origins by each policy in turn, creates one one-shot task per origin
   * (`makeTask`) and records each as in flight. Equal active tasks are reused, not duplicated.
   */
  scheduleVisits(req: ScheduleVisitsRequest, makeTask: (origin: ListedOrigin) => NewTask): Promise<ScheduledVisits>;
  /**
   * One transaction: takes up to `limit` in-flight visits whose task finished (completed or disabled),
   * records the result of each task's last run (recordVisit) and forgets them: each result is recorded once.
   */
  collectFinishedVisits(limit: number, rng: () => number): Promise<CollectedVisit[]>;
}

// --- row mapping shared by both implementations ---------------------------------------------------

export function listerFromRow(r: Row): Lister {
  return {
    id: r.id as string,
    name: r.name as string,
    instanceName: r.instance_name as string,
    currentState: json(r.current_state),
    created: dateOrNull(r.created)!,
    updated: dateOrNull(r.updated)!,
    lastListingFinishedAt: dateOrNull(r.last_listing_finished_at),
  };
}

export function listedOriginFromRow(r: Row): ListedOrigin {
  return {
    listerId: r.lister_id as string,
    url: r.url as string,
    visitType: r.visit_type as string,
    extraLoaderArguments: json(r.extra_loader_arguments),
    lastUpdate: dateOrNull(r.last_update),
    firstSeen: dateOrNull(r.first_seen)!,
    lastSeen: dateOrNull(r.last_seen)!,
    enabled: r.enabled === true || r.enabled === 1,
  };
}

export function statsFromRow(r: Row): OriginVisitStats {
  return {
    url: r.url as string,
    visitType: r.visit_type as string,
    lastSuccessful: dateOrNull(r.last_successful),
    lastVisit: dateOrNull(r.last_visit),
    lastVisitStatus: (r.last_visit_status ?? null) as VisitStatus | null,
    lastScheduled: dateOrNull(r.last_scheduled),
    lastSnapshot: (r.last_snapshot ?? null) as string | null,
    nextVisitQueuePosition: r.next_visit_queue_position === null || r.next_visit_queue_position === undefined ? null : ms(r.next_visit_queue_position),
    nextPositionOffset: ms(r.next_position_offset),
    successiveVisits: ms(r.successive_visits),
  };
}

export function metricsFromRow(r: Row): VisitMetrics {
  return {
    listerId: r.lister_id as string,
    visitType: r.visit_type as string,
    updated: dateOrNull(r.updated)!,
    ...metricCountsFromRow(r),
  };
}

/** One row per (url, visit type), the first in order: an origin listed by several listers is one origin. */
/**
 * A grab's selection widened to `limit` rows, as its origins: up to `count` distinct ones in the
 * policy's order once it holds that many or the policy ran out (fewer rows than `limit`), else null
 * (select again with twice the limit). One URL listed by several listers has a row for each.
 */
export function distinctUpTo(rows: Row[], limit: number, count: number): Row[] | null {
  const distinct = distinctOrigins(rows);
  return distinct.length >= count || rows.length < limit ? distinct.slice(0, count) : null;
}

export function distinctOrigins(rows: Row[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = JSON.stringify([r.url, r.visit_type]);
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/** Page tokens are the last row's id, opaque to callers. */
export function pageAfter(token: string | null | undefined): number {
  if (token === null || token === undefined || token === '') return 0;
  if (typeof token !== 'string') return -1;
  if (!/^\d{1,15}$/.test(token)) return -1;
  return Number(token);
}

/** The visit a finished visit task's last run reports (null when it has no ended run). */
export function visitOfRun(run: TaskRun | null, url: string, visitType: string): VisitResult | null {
  if (!run || run.started === null) return null; // cancelled before it started: no visit happened
  const v = visitFromRun(run);
  return v ? { url, visitType, ...v } : null;
}

/**
 * The grab policies (SPEC §4 table): an extra filter and the order, per dialect. Fixed SQL fragments
 * keyed by the validated policy name; no user input is ever spliced in.
 */
export interface PolicySql {
  where: string;
  order: string;
}
