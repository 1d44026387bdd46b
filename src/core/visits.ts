/**
 * Visit scheduling (SPEC §4): listers, listed origins, origin visit stats, the recordVisit transition,
 * grab policies and cooldowns. Pure: instants and the random source are parameters.
 */
import { ValidationError, invalid, shown, type ErrorDetail } from './errors.js';
import { FINISHED_TASK_STATUSES, type TaskRun, type TaskStatus } from './model.js';
import { MAX_DURATION_MS } from './durations.js';
import { earlier } from './instants.js';
import { TASK_TYPE_NAME } from './json-checks.js';
import { assertStorable, assertText, utf8Length } from './storable.js';

export const VISIT_STATUSES = ['successful', 'failed', 'not_found'] as const;
export type VisitStatus = (typeof VISIT_STATUSES)[number];

export const VISIT_POLICIES = [
  'oldest_scheduled_first',
  'stop_after_success',
  'never_visited_oldest_update_first',
  'already_visited_order_by_lag',
  'origins_without_last_update',
  'first_visits_after_listing',
] as const;
export type VisitPolicy = (typeof VISIT_POLICIES)[number];

export interface Lister {
  id: string;
  name: string;
  instanceName: string;
  currentState: Record<string, unknown>;
  created: Date;
  /** The optimistic-concurrency token: `updateLister` must present the value it read. */
  updated: Date;
  /** When the lister's last complete listing finished (`first_visits_after_listing`). */
  lastListingFinishedAt: Date | null;
}

export interface ListedOrigin {
  listerId: string;
  url: string;
  visitType: string;
  extraLoaderArguments: Record<string, unknown>;
  lastUpdate: Date | null;
  firstSeen: Date;
  lastSeen: Date;
  enabled: boolean;
}

export interface OriginVisitStats {
  url: string;
  visitType: string;
  lastSuccessful: Date | null;
  lastVisit: Date | null;
  lastVisitStatus: VisitStatus | null;
  lastScheduled: Date | null;
  lastSnapshot: string | null;
  /** Position in the visit type's queue, in seconds (`origins_without_last_update`). */
  nextVisitQueuePosition: number | null;
  nextPositionOffset: number;
  successiveVisits: number;
}

export interface VisitCooldowns {
  absoluteMs: number;
  scheduledMs: number;
  failedMs: number;
  notFoundMs: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const DEFAULT_COOLDOWNS: Readonly<VisitCooldowns> = { absoluteMs: 12 * HOUR, scheduledMs: 7 * DAY, failedMs: 14 * DAY, notFoundMs: 31 * DAY };
export const DEFAULT_POSITION_OFFSET = 4;
export const MIN_POSITION_OFFSET = 0;
export const MAX_POSITION_OFFSET = 10;
/** Failed or not_found visits in a row after which the listed origin is disabled. */
export const DISABLE_AFTER_FAILURES = 3;

export function newVisitStats(url: string, visitType: string): OriginVisitStats {
  return {
    url,
    visitType,
    lastSuccessful: null,
    lastVisit: null,
    lastVisitStatus: null,
    lastScheduled: null,
    lastSnapshot: null,
    nextVisitQueuePosition: null,
    nextPositionOffset: DEFAULT_POSITION_OFFSET,
    successiveVisits: 1,
  };
}

/** Days until the next visit for a position offset: 1 up to 1, 2 for 2..4, then 4^(o-4). */
export function offsetDays(offset: number): number {
  if (offset <= 1) return 1;
  if (offset <= 4) return 2;
  return 4 ** (offset - 4);
}

/** One visit result, as a crawler reports it. */
export interface VisitResult {
  url: string;
  visitType: string;
  status: VisitStatus;
  snapshot: string | null;
  at: Date;
}

export interface VisitOutcome {
  /** The stats after the visit (unchanged when ignored). */
  stats: OriginVisitStats;
  /** False when the result was older than (or as old as) the last recorded visit: nothing changed. */
  applied: boolean;
  eventful: boolean;
  /** The listed origin must be disabled (failed or not_found too many times in a row). */
  disable: boolean;
}

/** Failed and not_found count as one streak for disabling; successful visits as another. */
const streakGroup = (s: VisitStatus) => (s === 'successful' ? 'ok' : 'failing');

/**
 * The recordVisit transition (SPEC §4). `globalPosition` is the visit type's queue position (null if
 * never set); `rng` returns uniform numbers in [0, 1).
 */
export function applyVisit(prev: OriginVisitStats | null, visit: VisitResult, globalPosition: number | null, rng: () => number): VisitOutcome {
  const before = prev ?? newVisitStats(visit.url, visit.visitType);
  if (before.lastVisit !== null && visit.at.getTime() <= before.lastVisit.getTime()) {
    return { stats: before, applied: false, eventful: false, disable: false };
  }
  const successful = visit.status === 'successful';
  const eventful = successful && visit.snapshot !== null && visit.snapshot !== before.lastSnapshot;
  const offset = eventful
    ? Math.max(MIN_POSITION_OFFSET, before.nextPositionOffset - 2)
    : Math.min(MAX_POSITION_OFFSET, before.nextPositionOffset + 1);
  const jitter = 1 + (rng() * 0.2 - 0.1);
  const base = before.nextVisitQueuePosition ?? globalPosition ?? 0;
  const position = Math.round((base + offsetDays(offset) * 86_400 * jitter) * 1000) / 1000;
  const sameStreak = before.lastVisitStatus !== null && streakGroup(before.lastVisitStatus) === streakGroup(visit.status);
  const successiveVisits = sameStreak ? before.successiveVisits + 1 : 1;
  const stats: OriginVisitStats = {
    ...before,
    lastVisit: visit.at,
    lastVisitStatus: visit.status,
    lastSuccessful: successful ? visit.at : before.lastSuccessful,
    lastSnapshot: successful && visit.snapshot !== null ? visit.snapshot : before.lastSnapshot,
    nextPositionOffset: offset,
    nextVisitQueuePosition: position,
    successiveVisits,
  };
  return { stats, applied: true, eventful, disable: !successful && successiveVisits >= DISABLE_AFTER_FAILURES };
}

/** Origins of one batch keep the last occurrence of each (lister, url, visit type). */
export function dedupeListed<T extends { listerId: string; url: string; visitType: string }>(items: readonly T[]): T[] {
  const byKey = new Map<string, T>();
  for (const o of items) {
    const k = JSON.stringify([o.listerId, o.url, o.visitType]);
    byKey.delete(k);
    byKey.set(k, o);
  }
  return [...byKey.values()];
}

/**
 * The task statuses after which a visit task's result is recorded (the visit-scheduler collects its
 * in-flight row then): one visit per task, whatever runs it took. A run that failed and left the task
 * waiting for its retry is not a visit.
 */
export const VISIT_DONE_STATUSES = FINISHED_TASK_STATUSES;

/** Whether a visit task in this status has finished its visit. */
export function visitDone(status: TaskStatus): boolean {
  return (VISIT_DONE_STATUSES as readonly TaskStatus[]).includes(status);
}

/** Thresholds derived from the cooldowns at `at`: an origin is eligible only if it passes every one. */
export interface CooldownThresholds {
  /** lastScheduled must be before this (absolute cooldown). */
  absoluteBefore: Date;
  /** lastScheduled must be before this, unless the origin was visited since it was scheduled. */
  scheduledBefore: Date;
  /** A failed origin's lastVisit must be before this. */
  failedBefore: Date;
  /** A not_found origin's lastVisit must be before this. */
  notFoundBefore: Date;
}

/** Each threshold is held at the earliest instant the stores hold (no stored instant is before it). */
export function cooldownThresholds(at: Date, c: VisitCooldowns): CooldownThresholds {
  return {
    absoluteBefore: earlier(at, c.absoluteMs),
    scheduledBefore: earlier(at, c.scheduledMs),
    failedBefore: earlier(at, c.failedMs),
    notFoundBefore: earlier(at, c.notFoundMs),
  };
}

// --- validation -------------------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Most origins one grab takes (grabNextVisits' `count`, `POST /api/origins/grab`, `origin grab-next --count`). */
export const MAX_GRAB = 100_000;
/** What a grab's `count` must be, as every layer words it (docs/visits.md). */
export const GRAB_COUNT_RULE = `must be an integer from 0 to ${MAX_GRAB}`;

/** A grab's `count`, or a ValidationError naming `count` with GRAB_COUNT_RULE. */
export function checkGrabCount(count: unknown): number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_GRAB) throw invalid('count', GRAB_COUNT_RULE);
  return count;
}

/**
 * Longest origin URL, in UTF-8 bytes: PostgreSQL indexes an origin by its URL (a btree entry holds at
 * most 2,704 bytes with the lister id and the visit type beside it), and both stores take the same input.
 */
export const MAX_URL_BYTES = 2048;

export function checkListerId(v: unknown, path = 'listerId'): string {
  if (typeof v !== 'string' || !UUID.test(v)) throw invalid(path, 'must be a lister id (a UUID)');
  return v.toLowerCase();
}

export function checkVisitType(v: unknown, path = 'visitType'): string {
  if (typeof v !== 'string' || v.length > 128 || !TASK_TYPE_NAME.test(v)) throw invalid(path, 'must be a visit type name matching [a-z0-9][a-z0-9._:-]*');
  return v;
}

/** What a URL must be, as every interface words it. */
export const URL_RULE = `must be a non-empty string of at most ${MAX_URL_BYTES} bytes of UTF-8 (${MAX_URL_BYTES} ASCII characters)`;

export function checkUrl(v: unknown, path = 'url'): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_URL_BYTES || utf8Length(v) > MAX_URL_BYTES) throw invalid(path, URL_RULE);
  assertText(v, path);
  return v;
}

export function checkPolicy(v: unknown, path = 'policy'): VisitPolicy {
  if (!(VISIT_POLICIES as readonly unknown[]).includes(v)) throw invalid(path, `unknown policy "${shown(v)}" (one of ${VISIT_POLICIES.join(', ')})`);
  return v as VisitPolicy;
}

export function checkListerName(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.trim() === '' || v.length > 256) throw invalid(path, 'must be a non-empty string of at most 256 characters');
  assertText(v, path);
  return v;
}

/** A listed origin as a lister reports it. */
export interface ListedOriginInput {
  listerId: string;
  url: string;
  visitType: string;
  extraLoaderArguments?: Record<string, unknown>;
  lastUpdate?: Date | null;
}

export function validateVisitResult(v: { url: unknown; visitType: unknown; status: unknown; snapshot?: unknown; at: Date }, prefix = ''): VisitResult {
  const p = (f: string) => (prefix ? `${prefix}.${f}` : f);
  const url = checkUrl(v.url, p('url'));
  const visitType = checkVisitType(v.visitType, p('visitType'));
  if (!(VISIT_STATUSES as readonly unknown[]).includes(v.status)) throw invalid(p('status'), `must be one of ${VISIT_STATUSES.join(', ')}`);
  const snapshot = v.snapshot ?? null;
  if (snapshot !== null && (typeof snapshot !== 'string' || snapshot === '' || snapshot.length > 1024)) throw invalid(p('snapshot'), 'must be a non-empty string of at most 1024 characters');
  assertText(snapshot, p('snapshot'));
  // A successful visit may name no snapshot (SPEC §6.2 `[--snapshot ID]`): it is then not eventful, and the last snapshot stays.
  return { url, visitType, status: v.status as VisitStatus, snapshot: v.status === 'successful' ? (snapshot as string | null) : null, at: v.at };
}

export function validateCooldowns(c: Partial<VisitCooldowns> | undefined, path = 'cooldowns'): VisitCooldowns {
  // An object of cooldowns (or left out): a symbol, a function or NaN spread to nothing and were ignored.
  if (c != null && (typeof c !== 'object' || Array.isArray(c) || c instanceof Date)) {
    throw invalid(path, `must be an object of cooldowns in milliseconds (${Object.keys(DEFAULT_COOLDOWNS).join(', ')}), not ${shown(c)}`);
  }
  const out = { ...DEFAULT_COOLDOWNS, ...(c ?? {}) };
  for (const k of Object.keys(out) as (keyof VisitCooldowns)[]) {
    if (!(k in DEFAULT_COOLDOWNS)) throw invalid(`${path}.${k}`, 'unknown cooldown');
    const v = out[k];
    if (!Number.isSafeInteger(v) || v < 0 || v > MAX_DURATION_MS) throw invalid(`${path}.${k}`, 'must be a non-negative number of milliseconds, at most 100 years');
  }
  return out;
}

/** Weighted policies of a visit-scheduler queue: `[{ policy, weight }]`, weights > 0. */
export interface PolicyWeight {
  policy: VisitPolicy;
  weight: number;
}

export const DEFAULT_POLICY_WEIGHTS: readonly PolicyWeight[] = [
  { policy: 'oldest_scheduled_first', weight: 40 },
  { policy: 'never_visited_oldest_update_first', weight: 40 },
  { policy: 'origins_without_last_update', weight: 20 },
];

/**
 * The weighted policies a grab can apply: without a lister, first_visits_after_listing is left out
 * (it needs one); a ValidationError naming `path` when it was the only policy given a weight.
 */
export function usablePolicyWeights(weights: readonly PolicyWeight[], hasLister: boolean, path = 'lister'): PolicyWeight[] {
  const usable = weights.filter((w) => hasLister || w.policy !== 'first_visits_after_listing');
  if (usable.every((w) => !(w.weight > 0)) && weights.some((w) => w.policy === 'first_visits_after_listing' && w.weight > 0)) {
    throw invalid(path, 'the first_visits_after_listing policy needs a lister (the only policy given a weight)');
  }
  return usable;
}

/** The fields of a visit result (`recordVisits`' items, library and typed client): another is refused, naming it (`snap` for `snapshot`). */
export const VISIT_RESULT_FIELDS = ['url', 'visitType', 'status', 'snapshot', 'at'];

/** Weighted policies as a pass takes them: an array of `{ policy, weight }`, each weight a positive number, or a ValidationError naming `path[i]`. */
export function checkPolicyWeights(weights: unknown, path: string): PolicyWeight[] {
  if (!Array.isArray(weights)) throw invalid(path, 'must be an array of { policy, weight }');
  weights.forEach((w: unknown, i) => {
    if (w === null || typeof w !== 'object' || Array.isArray(w)) throw invalid(`${path}[${i}]`, 'must be an object { policy, weight }');
    const { policy, weight } = w as { policy?: unknown; weight?: unknown };
    checkPolicy(policy, `${path}[${i}].policy`);
    if (typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight)) throw invalid(`${path}[${i}].weight`, 'must be a positive number');
  });
  return weights as PolicyWeight[];
}

/** Splits `count` slots over weighted policies (largest remainders; the total is exactly `count`). */
export function splitByWeight(count: number, weights: readonly PolicyWeight[]): Array<{ policy: VisitPolicy; count: number }> {
  const total = weights.reduce((s, w) => s + w.weight, 0);
  if (weights.length === 0 || !(total > 0)) throw invalid('policies', 'at least one policy with a positive weight is required');
  const raw = weights.map((w) => (count * w.weight) / total);
  const out = weights.map((w, i) => ({ policy: w.policy, count: Math.floor(raw[i]!) }));
  let left = count - out.reduce((s, x) => s + x.count, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]!.count += 1;
  }
  return out;
}

/**
 * A pass's policy counts trimmed to the room left in a visit type's queue (`queueSize` less the
 * visits in flight, counted again inside the pass's transaction): unchanged when they fit, else the
 * room split over the same policies in proportion to their counts. Several visit-schedulers at once
 * each counted the queue's room before their transaction; the recount keeps their sum within it.
 */
export function trimToRoom(policies: ReadonlyArray<{ policy: VisitPolicy; count: number }>, room: number): Array<{ policy: VisitPolicy; count: number }> {
  const total = policies.reduce((s, p) => s + p.count, 0);
  if (total <= room) return policies.map((p) => ({ ...p }));
  const weighted = policies.filter((p) => p.count > 0).map((p) => ({ policy: p.policy, weight: p.count }));
  return room <= 0 || weighted.length === 0 ? [] : splitByWeight(room, weighted);
}

/**
 * What a visit run reported: a handler returns `{ eventful, result: { status, snapshot } }` (the
 * snapshot may be left out of a successful one). A run that failed (or was lost, or returned no valid
 * status, or a snapshot that is not a string of 1 to 1024 characters) is a `failed` visit. Returns null for a run that
 * has not ended.
 */
export function visitFromRun(run: Pick<TaskRun, 'status' | 'result' | 'ended'>): { status: VisitStatus; snapshot: string | null; at: Date } | null {
  if (run.ended === null || run.status === 'scheduled' || run.status === 'claimed' || run.status === 'started') return null;
  const r = run.result as { status?: unknown; snapshot?: unknown } | null;
  if ((run.status === 'eventful' || run.status === 'uneventful') && r && typeof r === 'object') {
    // A snapshot the visit cannot record (not a string of 1 to 1024 characters: an object, a number) makes
    // the result invalid, a failed visit, rather than a success silently recorded without its snapshot.
    const snapshot = r.snapshot ?? null;
    const valid = snapshot === null || (typeof snapshot === 'string' && snapshot !== '' && snapshot.length <= 1024);
    if (r.status === 'successful' && valid) return { status: 'successful', snapshot: snapshot as string | null, at: run.ended };
    if (r.status === 'not_found') return { status: 'not_found', snapshot: null, at: run.ended };
  }
  return { status: 'failed', snapshot: null, at: run.ended };
}
