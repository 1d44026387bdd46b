import type { BulkSkip } from '../core/bulk.js';
import { dagAttemptRespawnRefusal } from '../core/dag.js';
import { ConflictError } from '../core/errors.js';
import type { Task } from '../core/model.js';
import type { StoreChange } from '../core/wake-ups.js';
import type { CreatedTask } from './store.js';

/** Why a respawn is refused: the bulk skip reason, and the equal active task when there is one. */
export interface RespawnRefusal {
  reason: BulkSkip;
  holder?: number;
}

/** The error a single respawn (`respawnTasks`) throws for a refusal that a bulk respawn counts as a skip. */
export function respawnError(task: Task, refusal: RespawnRefusal): ConflictError {
  if (refusal.reason === 'dag_attempt') return dagAttemptRespawnRefusal(task)!;
  if (refusal.reason === 'equal_active') {
    return new ConflictError(`task ${task.id} cannot be respawned: the equal task ${String(refusal.holder)} is active`, [
      { path: 'id', message: `equal to active task ${String(refusal.holder)}` },
    ]);
  }
  if (task.status === 'next_run_scheduled') {
    return new ConflictError(`task ${task.id} has a run scheduled or running; disable it first to respawn it`, [{ path: 'id', message: 'task is next_run_scheduled' }]);
  }
  return new ConflictError(`task ${task.id} still has a run held by a worker; respawn it once that run has ended (its worker stops it, or its lease expires)`, [
    { path: 'id', message: 'a run of the task is still claimed or started' },
  ]);
}

/** The change a batch of task creations committed: how many tasks it created or replaced. */
export function tasksWritten(out: readonly CreatedTask[]): StoreChange & { kind: 'tasks-written' } {
  return { kind: 'tasks-written', count: out.filter((c) => c.created || c.replaced).length };
}
