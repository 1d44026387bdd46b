import { earlier } from '../core/instants.js';
import { effectiveLimit, nextRecovery } from '../core/adaptive-rate.js';
import { DEFAULT_RUNNER_GRACE_MS } from '../core/claim-ahead.js';
import { DAG_ATTEMPT_KEY } from '../core/dag.js';
import { NotFoundError, shown } from '../core/errors.js';
import { explainTask, type WhyAnswer } from '../core/why.js';
import type { Store } from '../store/store.js';
import { WORKER_GONE_MS, lastSignOfLife } from '../core/worker-liveness.js';
import { WORKER_KEEP_MS } from '../core/worker-registry.js';

/**
 * Workers count as live for a type when, within this window, they renewed a lease of, or ended, one of
 * its runs, or refreshed their registry row as handling it (and did not stop since): alive or stale.
 */
export const WORKER_WINDOW_MS = WORKER_GONE_MS;

/**
 * Gathers what `explainTask` (core/why.ts) needs about one task at `at`: the task, its type, its
 * current run and its type's load (limits, queue, workers seen), then lets it decide.
 */
export async function whyTask(store: Store, id: number, at: Date, runnerGraceMs = DEFAULT_RUNNER_GRACE_MS): Promise<WhyAnswer> {
  const task = await store.getTask(id);
  if (!task) throw new NotFoundError(`task ${id} not found`, [{ path: 'id', message: `no task ${id}` }]);
  const [type] = await store.getTaskTypes([task.type]);
  if (!type) throw new NotFoundError(`task ${id}: unknown task type "${shown(task.type)}"`, [{ path: 'type', message: 'unknown task type' }]);
  // A live run is its task's newest (no run is created while one is live): one row, not the whole history.
  const [newest] = await store.listRuns(id, 1);
  const run = newest && (newest.status === 'scheduled' || newest.status === 'claimed' || newest.status === 'started') ? newest : null;
  // The rates in force, as throttle signals left them (docs/limits.md#adaptive-limits).
  const states = type.rateLimit !== null || type.rateLimitPerKey !== null ? await store.adaptiveRates([type.name]) : [];
  const stateOf = (key: string | null) => states.find((r) => r.key === key)?.state ?? null;
  const rate = type.rateLimit === null ? null : effectiveLimit(type.rateLimit, stateOf(null), at.getTime());
  const keyRate = type.rateLimitPerKey === null || task.concurrencyKey === null ? null : effectiveLimit(type.rateLimitPerKey, stateOf(task.concurrencyKey), at.getTime());
  const load = await store.typeLoad({
    type: type.name,
    at,
    key: task.concurrencyKey,
    runId: run?.status === 'scheduled' ? run.id : null,
    rate,
    keyRate,
    workerWindowMs: WORKER_WINDOW_MS,
  });
  const { workersSeen, workersStopped } = await liveWorkers(store, type.name, load.workersSeen, earlier(at, WORKER_WINDOW_MS), at);
  const dag = task.arguments.kwargs[DAG_ATTEMPT_KEY] as { run?: number; dag?: string } | undefined;
  const dagId = dag && typeof dag === 'object' && typeof dag.dag === 'string' ? dag.dag : null;
  const [storedDag] = dagId === null ? [] : await store.dags.getDags([dagId]);
  return explainTask({
    at,
    task,
    type,
    run,
    load: { ...load, workersSeen },
    runnerGraceMs,
    workerWindowMs: WORKER_WINDOW_MS,
    workersStopped,
    dagRun: dag && typeof dag === 'object' && typeof dag.run === 'number' ? dag.run : null,
    dag: storedDag ? { id: storedDag.id, paused: storedDag.paused } : null,
    effective: {
      rate,
      keyRate,
      // When a throttled rate next grows by one: a slot may open then, before the oldest start leaves the window.
      rateRecovery: type.rateLimit === null ? null : nextRecovery(type.rateLimit, stateOf(null), at.getTime()),
      keyRateRecovery: keyRate === null || type.rateLimitPerKey === null ? null : nextRecovery(type.rateLimitPerKey, stateOf(task.concurrencyKey), at.getTime()),
    },
  });
}

/**
 * The workers seen for a type since `since`: those the runs name (less those the registry says stopped
 * after that), and those registered as handling it that refreshed their row and did not stop, by id;
 * and the registered ones that stopped.
 */
async function liveWorkers(store: Store, type: string, fromRuns: ReadonlyArray<{ worker: string; lastSeen: Date }>, since: Date, at: Date) {
  // Read at `at`: a row registered after it is not counted, and a stop that came after it had not happened yet
  // (operations.md: a worker whose graceful stop came later was running then).
  // Read over the registry's whole keep (7 days), not the 5-minute window: the stopped workers of the
  // type are named however long ago they stopped (they were dropped 5 minutes after, when the hint
  // matters most); the live ones still need a sign of life within the window (below).
  const registered = (await store.workers.listWorkers(earlier(at, WORKER_KEEP_MS), fromRuns.map((w) => w.worker)))
    .filter((r) => r.startedAt.getTime() <= at.getTime())
    .map((r) => (r.stoppedAt && r.stoppedAt.getTime() > at.getTime() ? { ...r, stoppedAt: null, lastSeen: at } : r));
  const byId = new Map(registered.map((r) => [r.id, r]));
  const seen = new Map<string, Date>();
  for (const w of fromRuns) {
    const r = byId.get(w.worker);
    if (r?.stoppedAt && r.stoppedAt.getTime() >= w.lastSeen.getTime()) continue;
    seen.set(w.worker, w.lastSeen);
  }
  for (const r of registered) {
    if (r.stoppedAt || !r.types.includes(type) || r.lastSeen.getTime() < since.getTime()) continue;
    seen.set(r.id, lastSignOfLife(seen.get(r.id), r.lastSeen)!);
  }
  const workersSeen = [...seen].map(([worker, lastSeen]) => ({ worker, lastSeen })).sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0));
  const workersStopped = registered.filter((r) => r.stoppedAt && r.types.includes(type) && !seen.has(r.id)).map((r) => ({ worker: r.id, at: r.stoppedAt! }));
  return { workersSeen, workersStopped };
}
