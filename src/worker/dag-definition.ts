import { PermanentFailure, ValidationError } from '../core/errors.js';
import { DAG_ATTEMPT_KEY, validateDag, type DagAttemptArgs, type DagInput, type DagTaskInput } from '../core/dag.js';
import type { LogLevel } from '../core/model.js';

/** What the DAG handler uses of a handler's context (a `HandlerContext` of handlers.ts fits). */
interface AttemptContext {
  kwargs: Record<string, unknown>;
  signal: AbortSignal;
  /** Renews the attempt's lease now (it is renewed periodically anyway). */
  heartbeat(): Promise<void>;
  /** Records a log line on this attempt's run (`orrery dag-run logs`). */
  log(level: LogLevel, message: string, attributes?: Record<string, unknown>): void;
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
  log(level: LogLevel, message: string, attributes?: Record<string, unknown>): void;
  /** Renews the attempt's lease now (it is renewed periodically anyway). */
  heartbeat(): Promise<void>;
  /** What each parent task returned, by parent id. */
  upstream: Record<string, unknown>;
}

/** A DAG task: returns any JSON value (its result, passed to its children) or nothing. */
export type DagTaskFn = (ctx: DagTaskContext) => unknown;

export type DagOptions = Omit<DagInput, 'id' | 'tasks' | 'schedule'> & {
  /** `{ cron, tz }`, or `{ every }` (a duration) counted from `start`. */
  schedule?: DagInput['schedule'];
};
export type DagTaskOptions = Omit<DagTaskInput, 'id'>;

/** A DAG defined in code: its definition (validated when registered) and its task functions. */
export class DagDefinition {
  private readonly tasks: DagTaskInput[] = [];
  private readonly fns = new Map<string, DagTaskFn>();

  constructor(
    readonly id: string,
    private readonly options: DagOptions = {},
  ) {}

  /** Adds a task; `after` lists the tasks it waits for. */
  task(id: string, fn: DagTaskFn, opts: DagTaskOptions = {}): this {
    if (typeof fn !== 'function') throw new ValidationError(`DAG ${this.id}: task "${id}" needs a function`, [{ path: `tasks.${id}`, message: 'not a function' }]);
    this.tasks.push({ ...opts, id });
    if (!this.fns.has(id)) this.fns.set(id, fn);
    return this;
  }

  /** The definition as data (what is validated, hashed and stored). */
  toInput(): DagInput {
    return { ...this.options, id: this.id, tasks: this.tasks.map((t) => ({ ...t })) } as DagInput;
  }

  /** Validates now (cycles, unknown dependencies, duplicate ids) instead of at registration. */
  validate(at: Date = new Date()): this {
    validateDag(this.toInput(), at);
    return this;
  }

  /** The function of one of the DAG's tasks, or `undefined`. */
  fn(taskId: string): DagTaskFn | undefined {
    return this.fns.get(taskId);
  }
}

/** Starts a DAG definition: `dag('daily-etl', { schedule: { cron: '0 3 * * *', tz: 'Europe/Warsaw' } }).task(...)`. */
export function dag(id: string, options: DagOptions = {}): DagDefinition {
  return new DagDefinition(id, options);
}

/** The DAG attempt a run's kwargs describe, if it is one. */
export function dagAttemptOf(kwargs: Record<string, unknown>): DagAttemptArgs | null {
  const a = kwargs[DAG_ATTEMPT_KEY];
  return a && typeof a === 'object' ? (a as DagAttemptArgs) : null;
}

/** The handler of backend `orrery.dag`: runs the task function an attempt names, with the DAG context. */
export function dagHandler(definitions: readonly DagDefinition[]): (ctx: AttemptContext) => Promise<{ eventful: boolean; result: unknown }> {
  const byId = new Map(definitions.map((d) => [d.id, d]));
  return async (ctx: AttemptContext) => {
    const a = dagAttemptOf(ctx.kwargs);
    if (!a) throw new PermanentFailure('not a DAG task attempt (no "orrery.dag" kwarg)');
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
      upstream: a.upstream,
    });
    return { eventful: true, result: result === undefined ? null : result };
  };
}
