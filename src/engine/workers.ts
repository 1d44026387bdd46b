import { NotFoundError, invalid, shown } from '../core/errors.js';
import { assertText } from '../core/storable.js';
import { WORKER_LIVENESS, lastSignOfLife, workerLiveness } from '../core/worker-liveness.js';
import { workerInfo, workerPruneBefore, type RegisteredWorker } from '../core/worker-registry.js';
import type { Store } from '../store/store.js';
import type { WorkerView } from './service-types.js';
import { compareCodePoints } from '../core/text-order.js';

/**
 * The service side of the worker registry (docs/operations.md#workers): registrations (which prune
 * the rows of workers not seen for a week), graceful stops, and the workers listing, which merges the
 * registry with what the runs say (runs held now, runs ended in the window).
 */

/** Registers a worker or refreshes its row at `at`; a worker that (re)starts prunes the rows last seen more than WORKER_KEEP_MS ago. */
export async function registerWorker(store: Store, input: unknown, at: Date): Promise<RegisteredWorker> {
  const { worker, started } = await store.workers.recordWorker(workerInfo(input), at);
  if (started) await store.workers.pruneWorkers(workerPruneBefore(at));
  return worker;
}

/** Marks a worker stopped at `at` (its graceful stop); NotFoundError for an id the registry does not hold. */
export async function stopWorker(store: Store, id: string, at: Date): Promise<RegisteredWorker> {
  if (typeof id !== 'string' || id === '') throw invalid('id', 'a worker id is required');
  assertText(id, 'id'); // PostgreSQL cannot compare a NUL (its driver's error): refused on both stores
  const worker = await store.workers.stopWorker(id, at);
  if (!worker) throw new NotFoundError(`worker "${shown(id)}" is not registered`, [{ path: 'id', message: 'no such worker' }]);
  return worker;
}

/**
 * Workers registered and seen since `seenSince` (stopped ones included), and workers the runs name
 * (held now, or that ended runs in [`since`, `until`): the minute-aligned window of ended runs), each
 * with its latest sign of life and its liveness at `now`; alive first, then stale, gone and stopped,
 * each by id.
 */
export async function listWorkers(store: Store, since: Date, until: Date, now: Date, seenSince: Date = since): Promise<WorkerView[]> {
  const activity = await store.workerActivity(since, until);
  // A worker registered (started) after the instant judged was not there yet: a listing `at` a past instant leaves it out.
  const rows = await store.workers.listWorkers(seenSince, activity.map((a) => a.worker));
  const registered = rows.filter((r) => r.startedAt.getTime() <= now.getTime());
  const byId = new Map(activity.map((a) => [a.worker, a]));
  const views: WorkerView[] = registered.map((r) => view(r, byId.get(r.id) ?? null, now));
  // Nor is it listed by its runs (as a worker without a row, judged alive by what it did after that instant).
  const known = new Set(rows.map((r) => r.id));
  for (const a of activity) if (!known.has(a.worker)) views.push(view(null, a, now));
  const rank = (v: WorkerView) => WORKER_LIVENESS.indexOf(v.liveness);
  return views.sort((a, b) => rank(a) - rank(b) || compareCodePoints(a.worker, b.worker));
}

function view(r: RegisteredWorker | null, a: { worker: string; running: number; lastHeartbeat: Date | null; lastEnded: Date | null; ended: number } | null, now: Date): WorkerView {
  const lastSeen = lastSignOfLife(r?.lastSeen, a?.lastHeartbeat, a?.lastEnded);
  return {
    worker: r?.id ?? a!.worker,
    running: a?.running ?? 0,
    lastHeartbeat: a?.lastHeartbeat ?? null,
    lastEnded: a?.lastEnded ?? null,
    ended: a?.ended ?? 0,
    lastSeen,
    liveness: workerLiveness(lastSeen, now, r?.stoppedAt ?? null),
    registered: r !== null,
    host: r?.host ?? null,
    pid: r?.pid ?? null,
    types: r?.types ?? null,
    concurrency: r?.concurrency ?? null,
    startedAt: r?.startedAt ?? null,
    stoppedAt: r?.stoppedAt ?? null,
  };
}
