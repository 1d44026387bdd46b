import { ConflictError, NotFoundError, shown } from '../core/errors.js';
import type { TaskType } from '../core/model.js';

/**
 * How long a process trusts a task type it read: types are edited and paused at runtime
 * (docs/operations.md), so every process sees an edit within this bound, and at once in the process
 * that made it and in a process that listens for wake-ups (a daemon, `serve`), which forgets its
 * types when another's `types` wake-up reaches it. The hot path reads each type at most once per interval.
 */
export const TYPE_CACHE_MS = 1000;

/** Task types by name, each trusted for TYPE_CACHE_MS of monotonic time (not the scheduling clock). */
export class TypeCache {
  private readonly entries = new Map<string, { type: TaskType; readAt: number }>();

  constructor(private readonly ttlMs = TYPE_CACHE_MS) {}

  get(name: string): TaskType | undefined {
    const e = this.entries.get(name);
    if (e === undefined) return undefined;
    if (performance.now() - e.readAt > this.ttlMs) {
      this.entries.delete(name);
      return undefined;
    }
    return e.type;
  }

  set(type: TaskType): void {
    this.entries.set(type.name, { type, readAt: performance.now() });
  }

  forget(name: string): void {
    this.entries.delete(name);
  }

  /** Forgets every type: another process changed one (its `types` wake-up reached this process). */
  clear(): void {
    this.entries.clear();
  }
}

export function unknownType(name: string): NotFoundError {
  return new NotFoundError(`unknown task type "${shown(name)}"`, [{ path: 'name', message: 'unknown task type' }]);
}

export function hasTasks(name: string, n: number, active: number): ConflictError {
  return new ConflictError(
    `task type "${name}" still has ${n} task${n === 1 ? '' : 's'} (${active} active): only a type without tasks can be deleted (finished one-shot tasks leave with \`orrery archive\`)`,
    [{ path: 'name', message: `has ${n} task${n === 1 ? '' : 's'}` }],
  );
}

export function hasOrigins(name: string): ConflictError {
  return new ConflictError(`task type "${name}" is the visit type of listed origins: only a type without tasks or origins can be deleted`, [
    { path: 'name', message: 'has listed origins' },
  ]);
}
