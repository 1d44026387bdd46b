import { z } from 'zod';
import { GRAB_COUNT_RULE, MAX_GRAB, MAX_URL_BYTES, URL_RULE, VISIT_POLICIES, VISIT_STATUSES } from '../core/visits.js';
import { ValidationError } from '../core/errors.js';
import { HttpError } from './errors.js';
import type { Route } from './routes.js';
import { ErrorSchema, isoInstant, queryInt } from './schemas.js';

/** Response shapes of visit scheduling (SPEC §4, §6.3): instants are ISO 8601 strings. */
const instant = z.string().describe('ISO 8601 instant, UTC, with milliseconds');
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a lister id (a UUID)');
const visitType = z.string().min(1).max(128);
// Bytes of UTF-8 checked by the service (core/visits.ts checkUrl); a URL too long in characters already is worded as it words it.
const url = z.string().min(1, URL_RULE).max(MAX_URL_BYTES, URL_RULE);
const jsonObject = z.record(z.string(), z.unknown());
const count = z.number().int();

export const ListerSchema = z.object({
  id: z.string(),
  name: z.string(),
  instanceName: z.string(),
  currentState: jsonObject,
  created: instant,
  updated: instant,
  lastListingFinishedAt: instant.nullable(),
});
export const ListedOriginSchema = z.object({
  listerId: z.string(),
  url: z.string(),
  visitType: z.string(),
  extraLoaderArguments: jsonObject,
  lastUpdate: instant.nullable(),
  firstSeen: instant,
  lastSeen: instant,
  enabled: z.boolean(),
});
export const VisitStatsSchema = z.object({
  url: z.string(),
  visitType: z.string(),
  lastSuccessful: instant.nullable(),
  lastVisit: instant.nullable(),
  lastVisitStatus: z.enum(VISIT_STATUSES).nullable(),
  lastScheduled: instant.nullable(),
  lastSnapshot: z.string().nullable(),
  nextVisitQueuePosition: z.number().nullable().describe('seconds'),
  nextPositionOffset: count,
  successiveVisits: count,
});
export const RecordedVisitSchema = z.object({ stats: VisitStatsSchema, applied: z.boolean(), eventful: z.boolean(), disabled: z.boolean() });
export const VisitMetricsSchema = z.object({
  listerId: z.string(),
  visitType: z.string(),
  updated: instant,
  originsKnown: count,
  originsEnabled: count,
  originsNeverVisited: count,
  originsWithPendingChanges: count,
});
export const VisitMetricsSeriesSchema = z.object({
  listerId: z.string(),
  visitType: z.string(),
  points: z.array(z.object({ at: instant, originsKnown: count, originsEnabled: count, originsNeverVisited: count, originsWithPendingChanges: count })).describe('oldest first'),
});
export const OriginVisitSchema = z.object({
  url: z.string(),
  visitType: z.string(),
  at: instant,
  status: z.enum(VISIT_STATUSES),
  snapshot: z.string().nullable(),
  eventful: z.boolean(),
});
const OriginPage = z.object({ origins: z.array(ListedOriginSchema), nextPageToken: z.string().nullable() });

const ListerBody = z.strictObject({ name: z.string().min(1).max(256), instanceName: z.string().max(256).default(''), at: isoInstant.optional() });
const ListerUpdateBody = z.strictObject({
  updated: isoInstant.describe('the `updated` instant as read: a different stored value answers 409 stale_data'),
  currentState: jsonObject.optional(),
  lastListingFinishedAt: isoInstant.nullable().optional(),
  at: isoInstant.optional(),
});
const OriginInput = z.strictObject({
  listerId: uuid,
  url,
  visitType,
  lastUpdate: isoInstant.nullable().optional(),
  extraLoaderArguments: jsonObject.optional(),
});
const OriginsBody = z.strictObject({ origins: z.array(OriginInput).min(1).max(100_000), at: isoInstant.optional() });
const OriginsQuery = z.strictObject({
  lister: uuid.optional(),
  visitType: visitType.optional(),
  url: url.optional(),
  enabled: z.enum(['true', 'false']).optional(),
  limit: queryInt(1, 10_000, 1000).optional(),
  pageToken: z.string().regex(/^\d{1,15}$/, 'must be a nextPageToken of a previous page').optional(),
});
const Cooldowns = z.strictObject({
  absoluteMs: count.nonnegative().optional(),
  scheduledMs: count.nonnegative().optional(),
  failedMs: count.nonnegative().optional(),
  notFoundMs: count.nonnegative().optional(),
});
const GrabBody = z.strictObject({
  visitType,
  // Worded as the library words any bad count (docs/visits.md), not zod's per-check texts.
  count: z.number({ error: GRAB_COUNT_RULE }).int({ error: GRAB_COUNT_RULE }).min(0, { error: GRAB_COUNT_RULE }).max(MAX_GRAB, { error: GRAB_COUNT_RULE }),
  policy: z.enum(VISIT_POLICIES),
  lister: uuid.optional(),
  cooldowns: Cooldowns.optional(),
  dryRun: z.boolean().optional(),
  at: isoInstant.optional(),
});
const VisitedBody = z.strictObject({ url, visitType, status: z.enum(VISIT_STATUSES), snapshot: z.string().min(1).max(1024).nullable().optional(), at: isoInstant.optional() });
const MAX_VISITS_BATCH = 10_000;
const VisitedBatchBody = z.strictObject({ visits: z.array(VisitedBody).min(1).max(MAX_VISITS_BATCH) });
const QueuePositionQuery = z.strictObject({ visitType });
const EnableBody = z.strictObject({ origins: z.array(z.strictObject({ url, visitType })).min(1).max(100_000), lister: uuid.optional() });
const StatsQuery = z.strictObject({ url, visitType });
const MetricsQuery = z.strictObject({
  lister: uuid.optional(),
  visitType: visitType.optional(),
  fresh: z.enum(['true', 'false']).optional().describe('true: counted now from the listed origins (reads every one of them) instead of the last update'),
});
const MetricsHistoryQuery = z.strictObject({
  lister: uuid.optional(),
  visitType: visitType.optional(),
  since: isoInstant.optional().describe('only points at or after this instant'),
  limit: queryInt(1, 10_000, 1000).optional().describe('the last N points of each (lister, visit type); default 1000'),
});
const OriginVisitsQuery = z.strictObject({
  url,
  visitType,
  limit: queryInt(1, 10_000, 100).optional().describe('default 100'),
  before: isoInstant.optional().describe("only visits before this instant (the last row's `at`: the next page)"),
});
const MetricsUpdateBody = z.strictObject({ lister: uuid.optional(), at: isoInstant.optional() });

const at = (d: Date | undefined) => (d === undefined ? {} : { at: d });

/**
 * A one-visit batch's problem named at its place in the body, `visits[0].url`, as a longer batch's is
 * (the library names `visits[i].` only in a batch of several).
 */
async function named<T>(answer: Promise<T>, batchSize: number): Promise<T> {
  try {
    return await answer;
  } catch (e) {
    if (batchSize !== 1 || !(e instanceof ValidationError) || e.details.some((d) => d.path.startsWith('visits'))) throw e;
    const details = e.details.map((d) => ({ ...d, path: d.path ? `visits[0].${d.path}` : 'visits[0]' }));
    throw new ValidationError(`${details[0]?.path ?? 'visits[0]'}: ${details[0]?.message ?? e.message}`, details);
  }
}

/** Listers, listed origins, visits and their metrics (SPEC §4, §6.4): thin adapters over `orrery.visits`. */
export const visitRoutes: Route[] = [
  {
    method: 'get', path: '/listers', tag: 'visits', summary: 'List listers',
    responses: { 200: z.array(ListerSchema) },
    handler: async (o) => ({ body: await o.visits.listListers() }),
  },
  {
    method: 'post', path: '/listers', tag: 'visits', summary: 'Get or create a lister instance',
    body: ListerBody,
    responses: { 200: ListerSchema, 400: ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.visits.getOrCreateLister(body.name, body.instanceName, at(body.at)) }),
  },
  {
    method: 'get', path: '/listers/:id', tag: 'visits', summary: 'Get a lister',
    params: { id: uuid },
    responses: { 200: ListerSchema, 404: ErrorSchema },
    handler: async (o, { params }) => {
      const l = await o.visits.getLister(params.id as string);
      if (!l) throw new HttpError('not_found', `lister ${String(params.id)} not found`, [{ path: 'id', message: 'no such lister' }]);
      return { body: l };
    },
  },
  {
    method: 'post', path: '/listers/:id/update', tag: 'visits', summary: "Update a lister's state (optimistic: 409 stale_data when `updated` is not the stored value)",
    params: { id: uuid }, body: ListerUpdateBody,
    responses: { 200: ListerSchema, 404: ErrorSchema, 409: ErrorSchema },
    handler: async (o, { params, body }) => ({
      body: await o.visits.updateLister(
        {
          id: params.id as string,
          updated: body.updated,
          ...(body.currentState !== undefined ? { currentState: body.currentState } : {}),
          ...(body.lastListingFinishedAt !== undefined ? { lastListingFinishedAt: body.lastListingFinishedAt } : {}),
        },
        at(body.at),
      ),
    }),
  },
  {
    method: 'post', path: '/origins', tag: 'visits', summary: 'Record listed origins (upsert by lister, url, visit type); one bad origin rejects the batch',
    body: OriginsBody,
    responses: { 201: z.object({ origins: z.array(ListedOriginSchema) }), 400: ErrorSchema },
    handler: async (o, { body }) => {
      return { status: 201, body: { origins: await o.visits.recordListedOrigins(body.origins, at(body.at)) } };
    },
  },
  {
    method: 'get', path: '/origins', tag: 'visits', summary: 'Listed origins in insertion order (cursor pagination: pageToken = the previous nextPageToken)',
    query: OriginsQuery,
    responses: { 200: OriginPage, 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { query }) => ({
      body: await o.visits.getListedOrigins({
        limit: query.limit ?? 1000,
        ...(query.lister !== undefined ? { listerId: query.lister } : {}),
        ...(query.visitType !== undefined ? { visitType: query.visitType } : {}),
        ...(query.url !== undefined ? { url: query.url } : {}),
        ...(query.enabled !== undefined ? { enabled: query.enabled === 'true' } : {}),
        ...(query.pageToken !== undefined ? { pageToken: query.pageToken } : {}),
      }),
    }),
  },
  {
    method: 'post', path: '/origins/grab', tag: 'visits', summary: 'Grab the next origins to visit by policy and cooldowns; marks them scheduled unless dryRun',
    body: GrabBody,
    responses: { 200: z.array(ListedOriginSchema), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { body }) => ({
      body: await o.visits.grabNextVisits(body.visitType, body.count, body.policy, {
        ...(body.lister !== undefined ? { lister: body.lister } : {}),
        ...(body.cooldowns ? { cooldowns: body.cooldowns } : {}),
        ...(body.dryRun ? { dryRun: true } : {}),
        ...at(body.at),
      }),
    }),
  },
  {
    method: 'post', path: '/origins/visited', tag: 'visits', summary: 'Record a visit result (older or duplicate results are ignored: applied false)',
    body: VisitedBody,
    responses: { 200: RecordedVisitSchema, 400: ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.visits.recordVisit(body.url, body.visitType, body.status, body.snapshot ?? null, at(body.at)) }),
  },
  {
    method: 'post', path: '/origins/visited/batch', tag: 'visits',
    summary: 'Record visit results in order, in one transaction; one bad visit rejects the batch (older or duplicate results are ignored: applied false)',
    body: VisitedBatchBody,
    responses: { 200: z.object({ visits: z.array(RecordedVisitSchema) }), 400: ErrorSchema },
    handler: async (o, { body }) => {
      const visits = (body.visits as Array<z.infer<typeof VisitedBody>>).map((v) => ({ url: v.url, visitType: v.visitType, status: v.status, snapshot: v.snapshot ?? null, ...at(v.at) }));
      return { body: { visits: await named(o.visits.recordVisits(visits), visits.length) } };
    },
  },
  {
    method: 'post', path: '/origins/enable', tag: 'visits', summary: 'Enable listed origins (of one lister when given)',
    body: EnableBody,
    responses: { 200: z.object({ changed: count }), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { body }) => ({ body: { changed: await o.visits.setOriginsEnabled(body.origins, true, body.lister) } }),
  },
  {
    method: 'post', path: '/origins/disable', tag: 'visits', summary: 'Disable listed origins (of one lister when given)',
    body: EnableBody,
    responses: { 200: z.object({ changed: count }), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { body }) => ({ body: { changed: await o.visits.setOriginsEnabled(body.origins, false, body.lister) } }),
  },
  {
    method: 'get', path: '/origins/stats', tag: 'visits', summary: "An origin's visit stats",
    query: StatsQuery,
    responses: { 200: VisitStatsSchema, 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { query }) => {
      // The (url, visitType) form: a bad value is named as the query's field, not as `origins[0]`.
      const s = await o.visits.getVisitStats(query.url, query.visitType);
      if (!s) throw new HttpError('not_found', `no visit stats for ${query.url} (${query.visitType})`, [{ path: 'url', message: 'never scheduled nor visited' }]);
      return { body: s };
    },
  },
  {
    method: 'get', path: '/visit-queue-position', tag: 'visits', summary: "A visit type's global queue position (seconds; null before origins_without_last_update first advanced it)",
    query: QueuePositionQuery,
    responses: { 200: z.object({ visitType: z.string(), position: z.number().nullable().describe('seconds') }), 400: ErrorSchema },
    handler: async (o, { query }) => ({ body: { visitType: query.visitType, position: await o.visits.getQueuePosition(query.visitType) } }),
  },
  {
    method: 'get', path: '/visit-metrics', tag: 'visits', summary: 'Metrics per lister and visit type, as of the last update (or counted now with fresh=true)',
    query: MetricsQuery,
    responses: { 200: z.array(VisitMetricsSchema), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { query }) => ({
      body: await o.visits.getMetrics({
        ...(query.lister ? { lister: query.lister } : {}),
        ...(query.visitType ? { visitType: query.visitType } : {}),
        ...(query.fresh === 'true' ? { fresh: true } : {}),
      }),
    }),
  },
  {
    method: 'get', path: '/visit-metrics/history', tag: 'visits', summary: 'Metrics over time: the last points of each lister and visit type (one per update-metrics)',
    query: MetricsHistoryQuery,
    responses: { 200: z.array(VisitMetricsSeriesSchema), 400: ErrorSchema, 404: ErrorSchema },
    handler: async (o, { query }) => ({
      body: await o.visits.getMetricsHistory({
        ...(query.lister ? { lister: query.lister } : {}),
        ...(query.visitType ? { visitType: query.visitType } : {}),
        ...(query.since ? { since: query.since } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
      }),
    }),
  },
  {
    method: 'get', path: '/origins/visits', tag: 'visits', summary: "An origin's visit history, newest first (applied visits only)",
    query: OriginVisitsQuery,
    responses: { 200: z.array(OriginVisitSchema), 400: ErrorSchema },
    handler: async (o, { query }) => ({
      body: await o.visits.getOriginVisits(query.url, query.visitType, {
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        ...(query.before ? { before: query.before } : {}),
      }),
    }),
  },
  {
    method: 'post', path: '/visit-metrics/update', tag: 'visits', summary: 'Recompute and store the metrics (of one lister, or all)',
    body: MetricsUpdateBody,
    responses: { 200: z.array(VisitMetricsSchema), 400: ErrorSchema },
    handler: async (o, { body }) => ({ body: await o.visits.updateMetrics({ ...(body.lister ? { lister: body.lister } : {}), ...at(body.at) }) }),
  },
];
