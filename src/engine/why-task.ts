import { DEFAULT_RUNNER_GRACE_MS } from '../core/claim-ahead.js';
import { DAG_ATTEMPT_KEY } from '../core/dag.js';
import { NotFoundError } from '../core/errors.js';
import { explainTask, type WhyAnswer } from '../core/why.js';
import type { Store } from '../store/store.js';

/** Workers count as live for a type when they renewed a lease of, or ended, one of its runs within this window. */
export const WORKER_WINDOW_MS = 5 * 60_000;

/**
 * Gathers what `explainTask` (core/why.ts) needs about one task at `at`: the task, its type, its
 * current run and its type's load (limits, queue, workers seen), then lets it decide.
 */
export async function whyTask(store: Store, id: number, at: Date, runnerGraceMs = DEFAULT_RUNNER_GRACE_MS): Promise<WhyAnswer> {
  const task = await store.getTask(id);
  if (!task) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: `no task ${id}` }]);
  const [type] = await store.getTaskTypes([task.type]);
  if (!type) throw new NotFoundError(`task ${id}: unknown task type "${task.type}"`, [{ path: 'type', message: 'unknown task type' }]);
  const runs = await store.listRuns(id);
  const run = [...runs].reverse().find((r) => r.status === 'scheduled' || r.status === 'claimed' || r.status === 'started') ?? null;
  const load = await store.typeLoad({
    type: type.name,
    at,
    key: task.concurrencyKey,
    runId: run?.status === 'scheduled' ? run.id : null,
    rate: type.rateLimit,
    workerWindowMs: WORKER_WINDOW_MS,
  });
  const dag = task.arguments.kwargs[DAG_ATTEMPT_KEY] as { run?: number; dag?: string } | undefined;
  const dagId = dag && typeof dag === 'object' && typeof dag.dag === 'string' ? dag.dag : null;
  const [storedDag] = dagId === null ? [] : await store.dags.getDags([dagId]);
  return explainTask({
    at,
    task,
    type,
    run,
    load,
    runnerGraceMs,
    workerWindowMs: WORKER_WINDOW_MS,
    dagRun: dag && typeof dag === 'object' && typeof dag.run === 'number' ? dag.run : null,
    dag: storedDag ? { id: storedDag.id, paused: storedDag.paused } : null,
  });
}
