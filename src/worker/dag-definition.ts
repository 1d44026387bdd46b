import { ValidationError } from '../core/errors.js';
import { validateDag, type DagInput, type DagTaskInput } from '../core/dag-input.js';

// The handler of DAG attempts is in dag-handler.ts: workers load it without the DAG parser (zod).
export { dagAttemptOf, dagHandler, type DagTaskContext, type DagTaskFn } from './dag-handler.js';
import type { DagTaskFn } from './dag-handler.js';

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

  /** Validates now (cycles, unknown dependencies, duplicate ids) instead of at registration. `_at` is ignored: the verdict does not depend on the instant. */
  validate(_at?: Date): this {
    validateDag(this.toInput());
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
