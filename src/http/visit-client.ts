import { iso } from './client-json.js';
import { checkFlag, knownOptions, optionsObject, refuseHoles, refuseUnknownKeys } from '../core/options.js';
import { ORIGIN_KEYS, ORIGIN_KEYS_OR_ONE, atOptions, checkListerIds, checkListerLookup, checkListerUpdate, checkNewLister, checkOriginKeys, listedOriginsFilter, metricsHistoryFilter, originVisitsQuery, visitOptions } from '../core/visit-args.js';
import { validateListedOrigins } from '../core/visit-input.js';
import { NotFoundError, invalid } from '../core/errors.js';
import { assertText } from '../core/storable.js';
import { checkDate } from '../core/instants.js';
import { checkListerId, checkUrl, checkVisitType, validateCooldowns, validateVisitResult, VISIT_RESULT_FIELDS, type ListedOrigin, type Lister, type OriginVisitStats, type VisitCooldowns, type VisitPolicy, type VisitStatus } from '../core/visits.js';
import type { OriginVisit, VisitMetricsSeries } from '../store/visit-history.js';
import type { ListedOriginPage, OriginKey, RecordedVisit, VisitMetrics } from '../store/visit-store.js';

type Call = <T>(method: 'GET' | 'POST', path: string, body?: unknown) => Promise<T>;

/** Instants of visit shapes (the client's own reviver knows the task and run ones). */
const VISIT_INSTANTS = new Set(['at', 'created', 'updated', 'lastListingFinishedAt', 'lastUpdate', 'firstSeen', 'lastSeen', 'lastSuccessful', 'lastVisit', 'lastScheduled']);
function revive<T>(v: T): T {
  if (Array.isArray(v)) return v.map(revive) as T;
  if (v && typeof v === 'object' && !(v instanceof Date)) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, typeof x === 'string' && VISIT_INSTANTS.has(k) && /^\d{4}-\d\d-\d\dT/.test(x) ? new Date(x) : k === 'currentState' || k === 'extraLoaderArguments' ? x : revive(x)]),
    ) as T;
  }
  return v;
}
/** A call's `at` for the body, checked as the library checks it (text was a TypeError, or read by the server). */
function isoOf(d: Date | undefined): { at?: string } {
  checkDate(d, 'at');
  return d ? { at: iso(d, 'at') } : {};
}

/** Listers, listed origins, visits and their metrics over HTTP, mirroring `orrery.visits`. */
export class VisitClient {
  private readonly call: Call;
  constructor(call: Call) {
    this.call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown) => revive(await call<T>(method, path, body));
  }

  listListers(): Promise<Lister[]> {
    return this.call('GET', '/listers');
  }
  /** As `orrery.visits.findLister`: the lister of that name and instance, or `null` (read from `GET /api/listers`). */
  async findLister(name: string, instanceName = ''): Promise<Lister | null> {
    checkListerLookup(name, instanceName); // as the library (undefined was looked up: null)
    return (await this.listListers()).find((l) => l.name === name && l.instanceName === instanceName) ?? null;
  }
  /** As `orrery.visits.getListers`: the listers of these ids that exist (read from `GET /api/listers`). */
  async getListers(ids: readonly string[]): Promise<Lister[]> {
    const wanted = new Set(checkListerIds(ids));
    if (wanted.size === 0) return []; // as the library, without a request
    return (await this.listListers()).filter((l) => wanted.has(l.id.toLowerCase()));
  }
  async getOrCreateLister(name: string, instanceName = '', at: { at?: Date } | Date = {}): Promise<Lister> {
    const when = atOptions(at).at;
    checkNewLister(name, instanceName); // as the library: a Date was sent as its text and made a lister of that name
    return this.call('POST', '/listers', { name, instanceName, ...isoOf(when) });
  }
  async getLister(id: string): Promise<Lister> {
    checkListerId(id, 'id'); // as the library: '' reached no route (a NotFoundError about an older server)
    return this.call('GET', `/listers/${encodeURIComponent(id)}`);
  }
  async updateLister(u: { id: string; updated: Date; currentState?: Record<string, unknown>; lastListingFinishedAt?: Date | null }, at: { at?: Date } | Date = {}): Promise<Lister> {
    const when = atOptions(at).at;
    checkListerUpdate(u); // as the library checks it, before anything is sent
    return this.call('POST', `/listers/${encodeURIComponent(u.id)}/update`, {
      ...isoOf(when),
      updated: iso(u.updated, 'updated'),
      ...(u.currentState !== undefined ? { currentState: u.currentState } : {}),
      ...(u.lastListingFinishedAt !== undefined ? { lastListingFinishedAt: u.lastListingFinishedAt ? iso(u.lastListingFinishedAt, 'lastListingFinishedAt') : null } : {}),
    });
  }
  async recordListedOrigins(
    origins: ReadonlyArray<{ listerId: string; url: string; visitType: string; lastUpdate?: Date | null; extraLoaderArguments?: Record<string, unknown> }>,
    at: { at?: Date } | Date = {},
  ): Promise<ListedOrigin[]> {
    const when = atOptions(at).at;
    if (Array.isArray(origins) && origins.length === 0) return []; // as the library (the route wants one origin at least)
    validateListedOrigins(origins); // as the library checks them, naming the same places, before anything is sent
    const body = origins.map((o, i) => ({ ...o, ...(o.lastUpdate !== undefined ? { lastUpdate: o.lastUpdate ? iso(o.lastUpdate, `origins[${i}].lastUpdate`) : null } : {}) }));
    return (await this.call<{ origins: ListedOrigin[] }>('POST', '/origins', { origins: body, ...isoOf(when) })).origins;
  }
  /** As `orrery.visits.getListedOrigins`: `listerId` (or `lister`, the route's name) filters by lister. */
  async getListedOrigins(f: { listerId?: string; lister?: string; visitType?: string; url?: string; enabled?: boolean; limit?: number; pageToken?: string | null } = {}): Promise<ListedOriginPage> {
    // As the library: unknown keys, `enabled` not a boolean, and two listers named are refused (it used `lister`).
    const { filter, listerId: lister } = listedOriginsFilter(f);
    const { listerId: _id, ...rest } = filter;
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...rest, lister })) if (v !== undefined && v !== null) q.set(k, String(v));
    return this.call('GET', `/origins${q.size ? `?${q}` : ''}`);
  }
  async grabNextVisits(
    visitType: string,
    count: number,
    policy: VisitPolicy,
    options: { lister?: string; cooldowns?: Partial<VisitCooldowns>; dryRun?: boolean; at?: Date } | Date = {},
    cooldowns?: Partial<VisitCooldowns>,
  ): Promise<ListedOrigin[]> {
    const { at, ...rest } = visitOptions(options, cooldowns !== undefined ? { cooldowns } : {});
    validateCooldowns(rest.cooldowns); // as the library (a symbol or a function was dropped from the body: the defaults)
    return this.call('POST', '/origins/grab', { visitType, count, policy, ...rest, ...isoOf(at) });
  }
  async recordVisit(url: string, visitType: string, status: VisitStatus, snapshot: string | null = null, at?: Date | { at?: Date }): Promise<RecordedVisit> {
    // As the library: `{ at }` only (a misspelt key was dropped: the visit recorded now), or a Date; the
    // result checked as the library checks it (a Date as the url or snapshot was sent as its text and stored).
    const when = isoOf(atOptions(at).at); // checked once, as the library checks it
    validateVisitResult({ url, visitType, status, snapshot, at: new Date(0) }, '');
    return this.call('POST', '/origins/visited', { url, visitType, status, snapshot, ...when });
  }
  /**
   * As `orrery.visits.recordVisits`: visit results in order, in one transaction (`POST
   * /api/origins/visited/batch`, at most 10,000); one invalid result rejects the batch.
   */
  async recordVisits(items: ReadonlyArray<{ url: string; visitType: string; status: VisitStatus; snapshot?: string | null; at?: Date }>): Promise<RecordedVisit[]> {
    if (!Array.isArray(items)) throw invalid('visits', 'must be an array');
    if (items.length === 0) return []; // as the library (the route wants one visit at least)
    // Checked as the library checks them, naming the same places, before anything is sent.
    items.forEach((v, i) => {
      checkDate(v?.at, items.length > 1 ? `visits[${i}].at` : 'at'); // named as the library names it
      if (v !== null && typeof v === 'object') refuseUnknownKeys(v, VISIT_RESULT_FIELDS, items.length > 1 ? `visits[${i}]` : '');
      validateVisitResult({ ...v, at: v?.at ?? new Date(0) }, items.length > 1 ? `visits[${i}]` : '');
    });
    // The library reads these fields only; a Date is sent as its ISO instant (an invalid one refused, naming it).
    const visits = items.map((v: (typeof items)[number] | null | undefined) => ({
      url: v?.url,
      visitType: v?.visitType,
      status: v?.status,
      ...(v?.snapshot != null ? { snapshot: v.snapshot } : {}),
      ...(v?.at !== undefined ? { at: v.at } : {}),
    }));
    return (await this.call<{ visits: RecordedVisit[] }>('POST', '/origins/visited/batch', { visits })).visits;
  }
  /** As `orrery.visits.getQueuePosition`: the visit type's global queue position (seconds), or `null` before it has one. */
  async getQueuePosition(visitType: string): Promise<number | null> {
    return (await this.call<{ position: number | null }>('GET', `/visit-queue-position?${new URLSearchParams({ visitType: checkVisitType(visitType) })}`)).position;
  }
  /**
   * As `orrery.visits.getVisitStats(keys)`: the stats of the origins that have any, in the keys' order
   * (one request each). With `(url, visitType)`: that origin's stats, `NotFoundError` if it has none.
   */
  getVisitStats(keys: readonly OriginKey[]): Promise<OriginVisitStats[]>;
  getVisitStats(url: string, visitType: string): Promise<OriginVisitStats>;
  async getVisitStats(keys: readonly OriginKey[] | string, visitType?: string): Promise<OriginVisitStats[] | OriginVisitStats> {
    if (typeof keys === 'string') return this.call('GET', `/origins/stats?${new URLSearchParams({ url: checkUrl(keys, 'url'), visitType: checkVisitType(visitType, 'visitType') })}`);
    // As the library: each key checked, named by its place (a misspelt visitType answered nothing).
    const out: OriginVisitStats[] = [];
    for (const k of checkOriginKeys(keys, ORIGIN_KEYS_OR_ONE)) {
      try {
        out.push(await this.call<OriginVisitStats>('GET', `/origins/stats?${new URLSearchParams({ url: k.url, visitType: k.visitType })}`));
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    return out;
  }
  /** As `orrery.visits.setOriginsEnabled`: enables or disables listed origins (of one lister when given); how many changed. */
  async setOriginsEnabled(keys: readonly OriginKey[], enabled: boolean, listerId?: string): Promise<number> {
    // As the library: an array without holes, a boolean, each key checked (it was a TypeError).
    if (!Array.isArray(keys)) throw invalid('origins', ORIGIN_KEYS);
    refuseHoles(keys, 'origins');
    if (typeof enabled !== 'boolean') throw invalid('enabled', 'must be a boolean (true enables, false disables)');
    checkOriginKeys(keys, ORIGIN_KEYS);
    if (keys.length === 0) {
      // As the library: 0, without a request (the route wants one origin at least); a lister named is read, as the library checks it exists.
      if (listerId === undefined) return 0;
      const id = checkListerId(listerId, 'lister');
      try {
        await this.getLister(id);
      } catch (e) {
        if (e instanceof NotFoundError) throw new NotFoundError(`lister ${id} not found`, [{ path: 'lister', message: 'no such lister' }]);
        throw e;
      }
      return 0;
    }
    const body = { origins: keys.map((k) => ({ url: k.url, visitType: k.visitType })), ...(listerId !== undefined ? { lister: listerId } : {}) };
    return (await this.call<{ changed: number }>('POST', enabled ? '/origins/enable' : '/origins/disable', body)).changed;
  }
  async getMetrics(f: { lister?: string; visitType?: string; fresh?: boolean } = {}): Promise<VisitMetrics[]> {
    f = knownOptions(f, ['lister', 'visitType', 'fresh'], 'filter');
    checkFlag(f.fresh, 'fresh');
    const q = new URLSearchParams(Object.entries(f).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return this.call('GET', `/visit-metrics${q.size ? `?${q}` : ''}`);
  }
  /** The last `limit` points (since `since`) of each lister and visit type, oldest first. */
  async getMetricsHistory(f: { lister?: string; visitType?: string; since?: Date; limit?: number } = {}): Promise<VisitMetricsSeries[]> {
    // As the library checks it (an instant as text was sent, an invalid Date a RangeError).
    const c = metricsHistoryFilter(f);
    const q = new URLSearchParams({ limit: String(c.limit) });
    if (c.lister !== undefined) q.set('lister', c.lister);
    if (c.visitType !== undefined) q.set('visitType', String(c.visitType));
    if (c.since !== undefined) q.set('since', iso(c.since, 'since'));
    return this.call('GET', `/visit-metrics/history?${q}`);
  }
  /** An origin's applied visits, newest first. */
  async getOriginVisits(url: string, visitType: string, f: { limit?: number; before?: Date } = {}): Promise<OriginVisit[]> {
    const c = originVisitsQuery(url, visitType, f); // as the library checks it (a null url was sent as "null")
    const q = new URLSearchParams({ url: c.url, visitType: c.visitType, limit: String(c.limit) });
    if (c.before) q.set('before', iso(c.before, 'before'));
    return this.call('GET', `/origins/visits?${q}`);
  }
  async updateMetrics(opts: { lister?: string; at?: Date } = {}): Promise<VisitMetrics[]> {
    opts = knownOptions(opts, ['at', 'lister']);
    // As the library: a lister given is a lister id ('' updated every lister's metrics).
    const lister = opts.lister === undefined ? undefined : checkListerId(opts.lister, 'lister');
    return this.call('POST', '/visit-metrics/update', { ...(lister !== undefined ? { lister } : {}), ...isoOf(opts.at) });
  }
}
