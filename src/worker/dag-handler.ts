/**
 * The handler of backend `orrery.dag` and the reading of a DAG attempt from a run's kwargs. Apart
 * from dag-definition.ts (which validates definitions with zod): a worker loads this one only.
 */
import { PermanentFailure } from '../core/errors.js';
import { DAG_ATTEMPT_KEY, dagAttemptProblem, type DagAttemptArgs } from '../core/dag.js';
import type { LogLevel } from '../core/model.js';

/** What the DAG handler uses of a handler's context (a `HandlerContext` of handlers.ts fits). */
interface AttemptContext {
  kwargs: Record<string, unknown>;
  signal: AbortSignal;
  /** Renews the attempt's lease now (it is renewed periodically anyway). */
  heartbeat(): Promise<void>;
  /** Records a log line on this attempt's run (`orrery dag-run logs`). */
  /** `attributes`: an object is stored as its fields; any other value under `value` (docs/guide.md). */
  log(level: LogLevel, message: string, attributes?: unknown): void;
}

/** What a DAG task function receives (SPEC §3). */
export interface DagTaskContext {
  /** The run's params (`{}` for scheduled runs; what `trigger` was given for manual ones). */
  params: Record<string, unknown>;
  /** The schedule point of the run (the trigger instant for manual runs). */
  execTs: Date;
  /** The DAG the task belongs to. */
  dagId: string;
  /** The DAG run this attempt is part of. */
  dagRunId: number;
  /** The task's id within the DAG. */
  taskId: string;
  /** 1 for the first attempt, then one more per retry (and per restart). */
  attempt: number;
  /** Fired on timeout, lost lease or shutdown. */
  signal: AbortSignal;
  /** Records a log line on this attempt's run (`orrery dag-run logs`). */
  /** `attributes`: an object is stored as its fields; any other value under `value` (docs/guide.md). */
  log(level: LogLevel, message: string, attributes?: unknown): void;
  /** Renews the attempt's lease now (it is renewed periodically anyway). */
  heartbeat(): Promise<void>;
  /** What each parent task returned, by parent id, the ids in code point order whatever the store (PostgreSQL's jsonb reorders keys). */
  upstream: Record<string, unknown>;
}

/** A DAG task: returns any JSON value (its result, passed to its children) or nothing. */
export type DagTaskFn = (ctx: DagTaskContext) => unknown;

/** What the handler needs of a DAG defined in code (a DagDefinition of dag-definition.ts). */
interface DagFunctions {
  readonly id: string;
  fn(taskId: string): DagTaskFn | undefined;
}

/** The DAG attempt a run's kwargs describe, if it is one (one rule, in core). */
export { dagAttemptOf } from '../core/dag.js';

/** The handler of backend `orrery.dag`: runs the task function an attempt names, with the DAG context. */
export function dagHandler(definitions: readonly DagFunctions[]): (ctx: AttemptContext) => Promise<{ eventful: boolean; result: unknown }> {
  const byId = new Map(definitions.map((d) => [d.id, d]));
  return async (ctx: AttemptContext) => {
    const raw = ctx.kwargs[DAG_ATTEMPT_KEY];
    if (!raw || typeof raw !== 'object') throw new PermanentFailure('not a DAG task attempt (no "orrery.dag" kwarg)');
    const problem = dagAttemptProblem(raw as Record<string, unknown>);
    if (problem !== null) throw new PermanentFailure(`not a DAG task attempt (its "orrery.dag" kwarg was not written by the DAG scheduler: ${problem})`);
    const a = raw as DagAttemptArgs;
    const fn = byId.get(a.dag)?.fn(a.task);
    if (!fn) throw new PermanentFailure(`this worker's code has no task "${a.task}" in DAG "${a.dag}" (the run uses version ${a.version})`);
    const result = await fn({
      params: a.params,
      execTs: new Date(a.execTs),
      dagId: a.dag,
      dagRunId: a.run,
      taskId: a.task,
      attempt: a.attempt,
      signal: ctx.signal,
      log: ctx.log,
      heartbeat: ctx.heartbeat,
      upstream: inIdOrder(a.upstream),
    });
    return { eventful: true, result: result === undefined ? null : result };
  };
}

/** The parents' results with their ids in code point order: the same on both stores (jsonb keeps shorter keys first). */
function inIdOrder(upstream: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const id of Object.keys(upstream).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) out[id] = upstream[id];
  return out;
}
