/**
 * What the OpenAPI document shows for fields the contracts cannot describe themselves (openapi.ts
 * reads these registries while it converts a contract to JSON Schema):
 * - a field the service validates itself (a task's `schedule`, the tasks of a batch), checked as any
 *   value by the contract so that the service names the problem, is documented with the shape it takes;
 * - a whole-number query parameter, a string of digits on the wire, is documented as an integer with
 *   its bounds and default, as a generated client should send it.
 */
import { z } from 'zod';
import { CATCH_UP_POLICIES, MAX_EXCLUSIONS } from '../core/schedule-options.js';
import { taskInputSchema } from '../core/validation.js';

/** Contract schemas documented by another schema. */
export const DOCUMENTED_AS = new WeakMap<object, z.ZodType>();

/** Marks `s` to be documented as `doc`; returns `s` (validation is unchanged). */
export function documentedAs<T extends z.ZodType>(s: T, doc: z.ZodType): T {
  DOCUMENTED_AS.set(s, doc);
  return s;
}

/** The bounds (and default) of each whole-number query parameter (schemas.ts queryInt). */
export const QUERY_INTS = new WeakMap<object, { minimum: number; maximum: number; default?: number }>();

const durationInput = z.union([z.string(), z.number().int().nonnegative()]);
const calendarOptionsInput = {
  catchUp: z.enum(CATCH_UP_POLICIES).optional().describe('missed occurrences: none, latest (default) or all'),
  catchUpWindow: durationInput.optional().describe('a duration (6h, or milliseconds): only missed occurrences at most this old are caught up (not with catchUp none)'),
  jitter: durationInput.optional().describe('a duration (5m, or milliseconds), at most the shortest interval of the schedule: each occurrence is due a pseudo-random offset in [0, jitter) after it'),
  startAt: z.string().optional().describe('ISO 8601 instant: no occurrence before it'),
  endAt: z.string().optional().describe('ISO 8601 instant: no occurrence after it; not before startAt'),
  exclude: z.array(z.string()).max(MAX_EXCLUSIONS).optional().describe('local dates (2026-12-25, in the schedule zone) and instants (2026-12-24T18:00:00Z) without occurrence'),
};

/** A task's schedule as given (docs/guide.md#schedules); null or absent is adaptive. */
export const ScheduleInputDoc = z.union([
  z.strictObject({ kind: z.literal('adaptive') }),
  z.strictObject({
    kind: z.literal('cron'),
    expr: z.string().describe('five or six fields, e.g. 0 9 * * 1-5'),
    tz: z.string().optional().describe('IANA time zone; default UTC'),
    ...calendarOptionsInput,
  }),
  z.strictObject({ kind: z.literal('rrule'), rule: z.string().describe('RFC 5545 text, e.g. FREQ=DAILY;BYHOUR=9 (with DTSTART, or anchored at creation)'), ...calendarOptionsInput }),
]);

/** A task to create (`POST /api/tasks`, an item of a batch, a line of an import), with its schedule's shape. */
export const TaskInputDoc = taskInputSchema.extend({ schedule: ScheduleInputDoc.nullable().optional().describe('default: adaptive') });
