import type { TaskRun, TaskType } from '../core/model.js';
import type { NewTask, TaskInput } from '../core/validation.js';
import type { CreatedTask, Store } from '../store/store.js';
import { TypeCache } from '../store/task-types.js';
import type { At, CreateOptions } from './service-types.js';
import { checkCallback, checkFlag } from '../core/options.js';
import { checkImportSource, type ImportSource } from '../core/call-checks.js';
import { batchTypeNames, insertBatch, knownTypesOf, writeLargeBatch } from './task-batch.js';
import { BatchTally, CHUNK, conflictInBatch, importTaskLines, validateInChunks, type ImportOptions, type TaskBatchSummary, type TaskImportSummary } from './task-import.js';
import { checkTraceContext, createAttributes, tracedCreate, tracingOn } from './tracing.js';

/**
 * Task creation for the service (`Orrery.createTask(s)`, `createTasksSummary`, `importTasks`): one
 * batch validated as a whole against the types it names (cached), then written in one transaction,
 * traced when tracing is on.
 */
export class TaskCreation {
  /** Task types by name, each read at most once per TYPE_CACHE_MS (types are edited and deleted at runtime). */
  readonly typeCache = new TypeCache();

  constructor(
    private readonly store: Store,
    private readonly instant: (at?: Date) => Date,
    /** Waiting runs a replacement ended, once their batch is written (the service's run events). */
    private readonly onWithdrawn: (runs: TaskRun[]) => void,
  ) {}

  /** See Orrery.createTasksDetailed. */
  async detailed(inputs: readonly TaskInput[], opts: CreateOptions, prefix: string): Promise<CreatedTask[]> {
    const out = await this.detailedUnannounced(inputs, opts, prefix);
    this.announce(out);
    return out;
  }

  private async detailedUnannounced(inputs: readonly TaskInput[], opts: CreateOptions, prefix: string): Promise<CreatedTask[]> {
    checkTraceContext(opts.traceContext);
    if (!tracingOn() && Array.isArray(inputs) && inputs.length > CHUNK) {
      const all = new BatchTally({ all: true });
      await this.writeLarge(inputs, opts, prefix, all);
      return all.all;
    }
    const { tasks, at } = await this.validate(inputs, opts, prefix);
    try {
      if (!tracingOn()) return await this.insert(tasks, at);
      return await tracedCreate(opts.traceContext, createAttributes(tasks), (kept) => this.insert(keepTrace(tasks, kept), at), createdAttributes);
    } catch (e) {
      throw await conflictInBatch(e, tasks, prefix, this.store);
    }
  }

  /** See Orrery.createTasksSummary. */
  async summary(inputs: readonly TaskInput[], opts: CreateOptions & { ids?: boolean }): Promise<TaskBatchSummary> {
    checkFlag(opts.ids, 'ids');
    const tally = new BatchTally({ ids: opts.ids });
    await this.summaryUnannounced(inputs, opts, tally);
    this.announce(tally.withdrawn);
    return tally.summary;
  }

  private async summaryUnannounced(inputs: readonly TaskInput[], opts: CreateOptions & { ids?: boolean }, tally: BatchTally): Promise<TaskBatchSummary> {
    checkTraceContext(opts.traceContext);
    if (!tracingOn() && Array.isArray(inputs) && inputs.length > CHUNK) {
      await this.writeLarge(inputs, opts, 'tasks', tally);
      return tally.summary;
    }
    const { tasks, at } = await this.validate(inputs, opts, 'tasks');
    const write = async (): Promise<TaskBatchSummary> => (await insertBatch(this.store, tasks, at, tally), tally.summary);
    try {
      if (!tracingOn()) return await write();
      return await tracedCreate(opts.traceContext, createAttributes(tasks), (kept) => (keepTrace(tasks, kept), write()), (s) => ({ 'orrery.task.created': s.created, ...(tasks.length === 1 && tally.firstId !== null ? { 'orrery.task.id': tally.firstId } : {}) }));
    } catch (e) {
      throw await conflictInBatch(e, tasks, 'tasks', this.store);
    }
  }

  /** See Orrery.importTasks. */
  async import(source: ImportSource, opts: ImportOptions): Promise<TaskImportSummary> {
    checkImportSource(source);
    checkFlag(opts.ids, 'ids');
    checkCallback(opts.onProgress, 'onProgress');
    const tally = new BatchTally({ ids: opts.ids });
    const out = await importTaskLines(this.store, (names) => this.knownTypes(names), source, this.instant(opts.at), opts, tally);
    this.announce(tally.withdrawn);
    return out;
  }

  /** The run events of the waiting runs replacements ended, once the whole write has committed. */
  private announce(created: readonly CreatedTask[]): void {
    const runs = created.flatMap((c) => (c.withdrawn ? [c.withdrawn] : []));
    if (runs.length > 0) this.onWithdrawn(runs);
  }

  private async insert(tasks: NewTask[], at: Date): Promise<CreatedTask[]> {
    const all = new BatchTally({ all: true });
    await insertBatch(this.store, tasks, at, all);
    return all.all;
  }

  private async validate(inputs: readonly TaskInput[], opts: At, prefix: string): Promise<{ tasks: NewTask[]; at: Date }> {
    const { types, at } = await this.batchTypes(inputs, opts, prefix);
    return { tasks: await validateInChunks(inputs, types, at, prefix, opts.at === undefined), at };
  }

  /** The batch checked as a whole (an array, not too long), its instant and the types it names. */
  private async batchTypes(inputs: readonly TaskInput[], opts: At, prefix: string): Promise<{ types: Map<string, TaskType>; at: Date }> {
    const names = batchTypeNames(inputs, prefix);
    const at = this.instant(opts.at);
    return { types: await this.knownTypes(names), at };
  }

  /** A batch of more than one chunk, validated chunk by chunk inside its transaction (task-batch.ts). */
  private async writeLarge(inputs: readonly TaskInput[], opts: At, prefix: string, sink: BatchTally): Promise<void> {
    const { types, at } = await this.batchTypes(inputs, opts, prefix);
    await writeLargeBatch(this.store, inputs, types, at, prefix, sink, opts.at === undefined);
  }

  private knownTypes(names: readonly string[]): Promise<Map<string, TaskType>> {
    return knownTypesOf(this.store, this.typeCache, names);
  }
}

/** Keeps the creation's trace context with each task (nothing without one). */
function keepTrace(tasks: NewTask[], kept: string | null): NewTask[] {
  if (kept !== null) for (const t of tasks) t.traceContext = kept;
  return tasks;
}

/** `orrery.create`'s outcome attributes: how many were new, and the task's id when there was one. */
function createdAttributes(out: readonly CreatedTask[]): Record<string, number> {
  let created = 0;
  for (const c of out) if (c.created) created += 1;
  return { 'orrery.task.created': created, ...(out.length === 1 ? { 'orrery.task.id': out[0]!.task.id } : {}) };
}
