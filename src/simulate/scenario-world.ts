import { z } from 'zod';
import { DAG_TASK_TYPE } from '../core/dag.js';
import { validateDag } from '../core/dag-input.js';
import type { ErrorDetail, ValidationError } from '../core/errors.js';
import { DEFAULT_COOLDOWNS, validateCooldowns, VISIT_POLICIES, type VisitCooldowns } from '../core/visits.js';
import { boundedMs, count, durationModel, ms, pollMs, positiveMs, probability } from './scenario-fields.js';

/** A DAG task of a scenario: the DAG task's options plus the model of its handler. */
const dagTask = z.looseObject({
  id: z.string(),
  duration: durationModel,
  failed: probability.default(0),
  permfailed: probability.default(0),
  crash: probability.default(0),
}).refine((t) => t.failed + t.permfailed + t.crash <= 1 + 1e-9, { message: 'failed + permfailed + crash must be at most 1', path: ['failed'] });

/** A DAG of a scenario: a DAG definition (docs/dags.md) whose tasks carry handler models. */
export const dagScenario = z.looseObject({ id: z.string(), tasks: z.array(dagTask).min(1, 'a DAG needs at least one task') });

/**
 * One cooldown of a queue, checked by the visit-scheduler's own rule (validateCooldowns: whole
 * milliseconds, at most 100 years): a cooldown it would refuse at every pass is refused before anything runs.
 */
const cooldown = (key: keyof VisitCooldowns) =>
  ms.transform((v, ctx) => {
    try {
      return validateCooldowns({ [key]: v })[key];
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as ValidationError).details[0]?.message ?? String(e) });
      return z.NEVER;
    }
  });

/** A queue's cooldowns, as the visit-scheduler takes them (its defaults filled). */
const cooldowns = z
  .strictObject({ absolute: cooldown('absoluteMs').optional(), scheduled: cooldown('scheduledMs').optional(), failed: cooldown('failedMs').optional(), notFound: cooldown('notFoundMs').optional() })
  .transform(
    (c): VisitCooldowns => ({
      absoluteMs: c.absolute ?? DEFAULT_COOLDOWNS.absoluteMs,
      scheduledMs: c.scheduled ?? DEFAULT_COOLDOWNS.scheduledMs,
      failedMs: c.failed ?? DEFAULT_COOLDOWNS.failedMs,
      notFoundMs: c.notFound ?? DEFAULT_COOLDOWNS.notFoundMs,
    }),
  );

const lister = z.strictObject({
  name: z.string().min(1).max(200),
  instance: z.string().max(200).default(''),
  visitType: z.string().min(1),
  /** Origins listed at the start. */
  initial: count.max(10_000_000, 'at most 10,000,000').default(0),
  /** New origins per hour (a Poisson process). */
  ratePerHour: z.number().min(0, 'must not be negative').finite().default(0),
  /** Each origin's mean time between changes, drawn once per origin from this model (skewed: lognormal). */
  changeInterval: durationModel,
  /** Origins are listed with `lastUpdate`, the instant of their latest change (default true). */
  reportsLastUpdate: z.boolean().default(true),
  /** Every this long the lister lists all its origins again (their `lastUpdate` moves on); default never. */
  relistEvery: boundedMs.refine((v) => v > 0, 'must be more than 0').optional(),
  /** Of the visits that get as far as the origin: how many find it gone, and how many fail. */
  notFound: probability.default(0),
  failed: probability.default(0),
});

const queue = z.strictObject({
  visitType: z.string().min(1),
  size: count.min(1, 'must be at least 1').max(1_000_000).default(1000),
  policies: z
    .array(z.strictObject({ policy: z.enum(VISIT_POLICIES), weight: z.number().positive('must be more than 0').finite() }))
    .min(1)
    .optional(),
  /** Only origins of this lister (its `name`). */
  lister: z.string().min(1).optional(),
  cooldowns: cooldowns.optional(),
});

/** The crawler part of a scenario: listers, their origins' changes, and the visit-scheduler's queues. */
export const visitsScenario = z.strictObject({
  listers: z.array(lister).min(1, 'at least one lister'),
  queues: z.array(queue).min(1, 'at least one visit queue'),
  refillFraction: z.number().gt(0, 'must be more than 0').max(1, 'must be at most 1').default(0.1),
  collectBatch: count.min(1).max(100_000).default(1000),
  /** The visit-scheduler's longest sleep (it wakes when a run ends); default the scenario's pollInterval. */
  pollInterval: pollMs.optional(),
  /** How often the visit metrics are recomputed during the run (each reads every origin); default never (once at the end). */
  metricsEvery: ms.default(0),
});

export type DagScenario = z.output<typeof dagScenario>;
export type VisitsScenario = z.output<typeof visitsScenario>;

/** What a DAG's definition is once its tasks' models are taken out. */
export function dagDefinition(d: DagScenario): Record<string, unknown> {
  const { tasks, ...rest } = d;
  return { ...rest, tasks: tasks.map(({ duration: _d, failed: _f, permfailed: _p, crash: _c, ...t }) => t) };
}

/**
 * Checks the DAGs and visits of a scenario against each other and the task types: every problem,
 * each naming its field. Answers the task types the DAGs' attempts run as.
 */
export function checkWorld(
  s: { dags: DagScenario[]; visits?: VisitsScenario | undefined; handlers: Record<string, unknown> },
  types: ReadonlyMap<string, { backendName: string }>,
  start: Date,
  problems: ErrorDetail[],
): Set<string> {
  const dagTypes = new Set<string>();
  const ids = new Set<string>();
  s.dags.forEach((d, i) => {
    if (ids.has(d.id)) problems.push({ path: `dags[${i}].id`, message: `duplicate DAG "${d.id}"` });
    ids.add(d.id);
    try {
      const spec = validateDag(dagDefinition(d));
      spec.tasks.forEach((t, j) => {
        const known = types.get(t.type);
        if (known && known.backendName !== DAG_TASK_TYPE) problems.push({ path: `dags[${i}].tasks[${j}].type`, message: `task type "${t.type}" has backendName "${known.backendName}"; a DAG's task type needs "${DAG_TASK_TYPE}"` });
        dagTypes.add(t.type);
      });
    } catch (e) {
      for (const x of (e as ValidationError).details ?? [{ path: '', message: String(e) }]) problems.push({ path: `dags[${i}]${x.path ? `.${x.path}` : ''}`, message: x.message });
    }
  });
  const v = s.visits;
  if (v) {
    const served = new Set(v.queues.map((q) => q.visitType));
    const listers = new Set<string>();
    v.listers.forEach((l, i) => {
      if (!types.has(l.visitType)) problems.push({ path: `visits.listers[${i}].visitType`, message: `unknown task type "${l.visitType}" (a visit type is a task type of taskTypes)` });
      else if (!served.has(l.visitType)) problems.push({ path: `visits.listers[${i}].visitType`, message: `no queue in visits.queues serves visit type "${l.visitType}"` });
      const key = `${l.name}\u0000${l.instance}`;
      if (listers.has(key)) problems.push({ path: `visits.listers[${i}].name`, message: `duplicate lister "${l.name}"${l.instance ? ` (${l.instance})` : ''}` });
      listers.add(key);
      if (l.notFound + l.failed > 1 + 1e-9) problems.push({ path: `visits.listers[${i}].notFound`, message: 'notFound + failed must be at most 1' });
    });
    const names = new Set(v.listers.map((l) => l.name));
    const queued = new Set<string>();
    v.queues.forEach((q, i) => {
      if (!types.has(q.visitType)) problems.push({ path: `visits.queues[${i}].visitType`, message: `unknown task type "${q.visitType}" (a visit type is a task type of taskTypes)` });
      else if (!s.handlers[q.visitType]) problems.push({ path: `handlers.${q.visitType}`, message: 'a handler model is required for every visit type' });
      if (queued.has(q.visitType)) problems.push({ path: `visits.queues[${i}].visitType`, message: `a second queue for visit type "${q.visitType}"` });
      queued.add(q.visitType);
      if (q.lister !== undefined && !names.has(q.lister)) problems.push({ path: `visits.queues[${i}].lister`, message: `unknown lister "${q.lister}" (not in visits.listers)` });
      if (q.policies?.some((p) => p.policy === 'first_visits_after_listing') && q.lister === undefined) {
        problems.push({ path: `visits.queues[${i}].policies`, message: 'first_visits_after_listing needs the queue to name a lister' });
      }
    });
  }
  return dagTypes;
}
