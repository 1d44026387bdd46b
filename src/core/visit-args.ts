import { invalid } from './errors.js';
import { refuseUnknownKeys, requireOptions } from './options.js';
import { checkDate } from './instants.js';
import { checkListerId } from './visits.js';

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
  if (u.lastListingFinishedAt != null) checkDate(u.lastListingFinishedAt, 'lastListingFinishedAt');
  return id;
}
