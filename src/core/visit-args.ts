import { invalid } from './errors.js';
import { checkFlag, knownOptions, optionsObject, refuseHoles, refuseUnknownKeys, requireOptions } from './options.js';
import { checkDate, instantProblem, requireInstant } from './instants.js';
import { assertText } from './storable.js';
import { checkListerId, checkListerName, checkUrl, checkVisitType } from './visits.js';

/**
 * The visit calls take SPEC §4's positional forms, `grabNextVisits(visitType, count, policy, at,
 * cooldowns)` and `recordVisit(url, visitType, status, snapshot, at)`, beside an options object
 * (`{ at, cooldowns, lister, dryRun }`, `{ at }`). Anything else in that place is refused, never
 * ignored: an instant dropped without a word would record the visit at the wrong time.
 */
export function visitOptions<T extends { at?: Date }>(arg: T | Date | null | undefined, extra: Partial<T> = {}): T {
  if (arg === undefined || arg === null) return { ...extra } as T;
  if (arg instanceof Date) return { ...extra, at: arg } as T;
  if (typeof arg !== 'object' || Array.isArray(arg)) throw invalid('at', 'must be a Date (or an options object)');
  return { ...arg, ...extra };
}

/**
 * The instant of a visit call that takes `{ at }` or a Date in its last place (getOrCreateLister,
 * updateLister, recordListedOrigins): left out is now; null, as anything else, is refused.
 */
export function atOptions(arg: { at?: Date } | Date | null | undefined): { at?: Date } {
  if (arg === null) throw invalid('at', 'must be a Date (or an options object)');
  const opts = visitOptions<{ at?: Date }>(arg);
  refuseUnknownKeys(opts, ['at'], 'options');
  return opts;
}

/**
 * The shape of an `updateLister` call (library and typed client alike): an object with the lister's
 * `id`, the `updated` instant as read (a valid Date), and `lastListingFinishedAt` a valid Date or null.
 * Returns the lister id as stored (lower case).
 */
export function checkListerUpdate(update: unknown): string {
  requireOptions(update, '{ id, updated, currentState?, lastListingFinishedAt? }');
  const u = update as { id?: unknown; updated?: unknown; lastListingFinishedAt?: unknown };
  refuseUnknownKeys(u, ['id', 'updated', 'currentState', 'lastListingFinishedAt'], '');
  const id = checkListerId(u.id, 'id');
  if (!(u.updated instanceof Date) || Number.isNaN(u.updated.getTime())) throw invalid('updated', "must be the lister's `updated` instant as read");
  // Before 4714-11-24 BC: PostgreSQL cannot even compare it (22008) where SQLite answered stale data.
  const problem = instantProblem(u.updated);
  if (problem) throw invalid('updated', problem);
  if (u.lastListingFinishedAt != null) checkDate(u.lastListingFinishedAt, 'lastListingFinishedAt');
  return id;
}

/** `getListers(ids)`: an array of lister ids, answered as stored (lower case). */
export function checkListerIds(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw invalid('ids', 'must be an array of lister ids');
  return ids.map((id, i) => checkListerId(id, `ids[${i}]`));
}

/**
 * Origins named by their keys (`getVisitStats(keys)`, `setOriginsEnabled(keys, ...)`): an array of
 * `{ url, visitType }`, each checked and named by its place (`origins[0].visitType`).
 */
export function checkOriginKeys(keys: unknown, message: string, holes = false): Array<{ url: string; visitType: string }> {
  if (!Array.isArray(keys)) throw invalid('origins', message);
  if (holes) refuseHoles(keys, 'origins');
  return (keys as Array<{ url?: unknown; visitType?: unknown } | null>).map((k, i) => ({ url: checkUrl(k?.url, `origins[${i}].url`), visitType: checkVisitType(k?.visitType, `origins[${i}].visitType`) }));
}

/** The messages of checkOriginKeys for `setOriginsEnabled` and `getVisitStats`. */
export const ORIGIN_KEYS = 'must be an array of { url, visitType }';
export const ORIGIN_KEYS_OR_ONE = 'must be an array of { url, visitType }, or a url and a visit type';

/** The filter of `getListedOrigins`. */
export interface ListedOriginsFilter {
  listerId?: string;
  lister?: string;
  url?: string;
  visitType?: string;
  enabled?: boolean;
  limit?: number;
  pageToken?: string | null;
}

/**
 * `getListedOrigins(filter)`: no key it does not know, `enabled` a boolean, and one lister at most
 * (`lister`, the route's name, beside `listerId`); answers the lister id given, if any (unchecked).
 */
export function listedOriginsFilter(f: ListedOriginsFilter | undefined): { filter: ListedOriginsFilter; listerId: string | undefined } {
  const filter = optionsObject(f, 'filter');
  refuseUnknownKeys(filter, ['listerId', 'lister', 'url', 'visitType', 'enabled', 'limit', 'pageToken'], 'filter');
  // `lister`, the HTTP route's and the typed client's name for it, is taken too (it was ignored: every origin).
  if (filter.listerId !== undefined && filter.lister !== undefined && filter.listerId !== filter.lister) throw invalid('lister', 'listerId and lister name two listers: give one');
  checkFlag(filter.enabled, 'enabled');
  // A page token is text from a previous page (a deeply nested array overflowed the stack as text).
  if (filter.pageToken != null && typeof filter.pageToken !== 'string') throw invalid('pageToken', 'not a page token from a previous page');
  return { filter, listerId: filter.listerId ?? filter.lister };
}

/** Most items of one page of origins, visits, metrics history or collected visits (the library's and the routes' bound). */
export const MAX_PAGE = 10_000;

/** A page's `limit`: `fallback` when left out, else an integer from 1 to MAX_PAGE (a ValidationError naming `limit`). */
export function pageLimit(v: unknown, fallback: number): number {
  const limit = v ?? fallback;
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_PAGE) throw invalid('limit', `must be an integer from 1 to ${MAX_PAGE}`);
  return limit as number;
}

/** A new lister's name and instance name, as `getOrCreateLister` takes them (library and typed client). */
export function checkNewLister(name: unknown, instanceName: unknown): void {
  checkListerName(name, 'name');
  if (typeof instanceName !== 'string' || instanceName.length > 256) throw invalid('instanceName', 'must be a string of at most 256 characters');
  assertText(instanceName, 'instanceName');
}

/** `findLister`'s name and instance name (library and typed client). */
export function checkListerLookup(name: unknown, instanceName: unknown): void {
  if (typeof name !== 'string') throw invalid('name', "must be a string (the lister's name)");
  if (typeof instanceName !== 'string') throw invalid('instanceName', "must be a string (its instance name, '' by default)");
  assertText(name, 'name');
  assertText(instanceName, 'instanceName');
}

/** `getOriginVisits(url, visitType, { limit, before })` checked (library and typed client). */
export function originVisitsQuery(url: unknown, visitType: unknown, given: unknown): { url: string; visitType: string; limit: number; before?: Date } {
  const f = knownOptions(given as { limit?: unknown; before?: unknown } | undefined, ['limit', 'before'], 'filter');
  const limit = pageLimit(f.limit, 100);
  const before = f.before === undefined ? undefined : requireInstant(f.before, 'before');
  return { url: checkUrl(url), visitType: checkVisitType(visitType), limit, ...(before !== undefined ? { before } : {}) };
}

/** `getMetricsHistory({ lister, visitType, since, limit })` checked (library and typed client); the lister's existence is the library's to check. */
export function metricsHistoryFilter(given: unknown): { lister?: string; visitType?: string; since?: Date; limit: number } {
  const f = optionsObject(given as Record<string, unknown> | undefined, 'filter');
  refuseUnknownKeys(f, ['lister', 'visitType', 'since', 'limit'], 'filter');
  const limit = pageLimit(f.limit, 1000);
  const since = f.since === undefined ? undefined : requireInstant(f.since, 'since');
  const lister = f.lister === undefined ? undefined : checkListerId(f.lister, 'lister');
  return { limit, ...(lister !== undefined ? { lister } : {}), ...(f.visitType !== undefined ? { visitType: f.visitType as string } : {}), ...(since !== undefined ? { since } : {}) };
}
