import { invalid } from '../core/errors.js';
import { isStorableText } from '../core/storable.js';
import type { TaskType } from '../core/model.js';
import type { NewTask, TaskInput } from '../core/validation.js';
import type { ChunkSink, Store } from '../store/store.js';
import type { TypeCache } from '../store/task-types.js';
import { CHUNK, chunksOf, conflictInBatch, validatedChunks } from './task-import.js';

/** Most tasks in one createTasks batch. */
export const MAX_BATCH = 1_000_000;

/** The names of the task types a batch mentions, once it is checked as a whole (an array, not too long). */
export function batchTypeNames(inputs: readonly TaskInput[], prefix: string): string[] {
  if (!Array.isArray(inputs)) throw invalid(prefix, 'must be an array of tasks');
  if (inputs.length > MAX_BATCH) throw invalid(prefix, `at most ${MAX_BATCH} tasks per batch`);
  const names = new Set<string>();
  for (const i of inputs) {
    const n = i && typeof i === 'object' ? (i as { type?: unknown }).type : undefined;
    if (typeof n === 'string') names.add(n);
  }
  return [...names];
}

/** Task types by name from `cache`, the missing ones read from the store (and cached). */
export async function knownTypesOf(store: Store, cache: TypeCache, names: readonly string[]): Promise<Map<string, TaskType>> {
  const out = new Map<string, TaskType>();
  const missing: string[] = [];
  for (const n of names) {
    const t = cache.get(n);
    if (t) out.set(n, t);
    // A name no store can hold is no type (PostgreSQL cannot even compare it): its task's validation names it.
    else if (isStorableText(n)) missing.push(n);
  }
  if (missing.length > 0) {
    for (const t of await store.getTaskTypes(missing)) {
      cache.set(t);
      out.set(t.name, t);
    }
  }
  return out;
}

/** Validated tasks written in one transaction: one statement set for a chunk or less, else chunk by chunk. */
export async function insertBatch(store: Store, tasks: readonly NewTask[], at: Date, sink: ChunkSink): Promise<void> {
  if (tasks.length <= CHUNK) await sink.chunk(await store.createTasks(tasks, at));
  else await store.importTasks(() => chunksOf(tasks), at, sink);
}

/**
 * A batch of more than one chunk, validated chunk by chunk as the store's transaction writes the
 * chunks before it (validation overlaps the database's work); an invalid task still rejects the
 * batch, as the transaction is rolled back and nothing is written.
 */
export async function writeLargeBatch(store: Store, inputs: readonly TaskInput[], types: Map<string, TaskType>, at: Date, prefix: string, sink: ChunkSink, clocked = false): Promise<void> {
  const validated: NewTask[] = [];
  const chunks = () => ((validated.length = 0), validatedChunks(inputs, types, at, prefix, validated, clocked));
  try {
    await store.importTasks(chunks, at, sink);
  } catch (e) {
    throw await conflictInBatch(e, validated, prefix, store);
  }
}
