import { knownOptions } from '../core/options.js';
import { checkDagGet, checkDagId, checkDagRunId, checkRequiredDagId, checkDagTaskId, dagRunsFilter } from '../core/call-checks.js';
import type { DagRunStatus } from '../core/dag.js';
import { NotFoundError, ValidationError, invalid } from '../core/errors.js';
import { validatePauseReason } from '../core/json-checks.js';
import type { DagInput } from '../core/dag-input.js';
import type { DagAttemptView, DagRunDetail, DagRunSummary, DagSummary, RegisteredDag } from '../engine/dag-service.js';
import type { DagPoint, DagRun, StoredDag } from '../store/dag-store.js';
import type { DagGrid, DagGridRun } from '../engine/dag-grid.js';
import type { Preview } from '../core/schedule-preview.js';

/** How the DAG client reaches the server: the owning client's request function. */
export type ApiCall = <T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown) => Promise<T>;

type Json<T> = { [K in keyof T]: unknown };

/**
 * A DAG id in a route's path: `.` and `..` would lead to another route (the URL resolves them), and no
 * DAG has them, so they are the library's not found, as `typePath` answers for task types.
 */
function dagSegment(id: string, path = 'id'): string {
  if (id === '.' || id === '..') throw new NotFoundError(`DAG "${id}" not found`, [{ path, message: 'unknown DAG' }]);
  return encodeURIComponent(id);
}
/** A DAG task id in a route's path (see dagSegment): no task has `.`, `..` or an empty id (which left a route's segment empty). */
function taskSegment(runId: number, taskId: string): string {
  if (taskId === '' || taskId === '.' || taskId === '..') throw new NotFoundError(`DAG run ${runId} has no task "${taskId}"`, [{ path: 'task', message: 'unknown task' }]);
  return encodeURIComponent(taskId);
}
const date = (v: unknown): Date => new Date(v as string);
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

// The client's reviver turns the instants common to every shape (created, started, ended...) into Dates;
// these turn the DAG-specific ones, by field, so that params and results are never touched.
function run<T extends DagRun>(r: Json<T>): T {
  return { ...r, execTs: date(r.execTs), created: date(r.created), started: dateOrNull(r.started), ended: dateOrNull(r.ended) } as unknown as T;
}
function summary<T extends DagSummary>(d: Json<T>): T {
  return {
    ...d,
    ...stored(d as unknown as Json<StoredDag>),
    latest: (d.latest as Array<Json<DagRunSummary>>).map(run),
  } as unknown as T;
}
function stored(d: Json<StoredDag>): StoredDag {
  const p = d.paused as unknown as { at: string; reason: string } | null;
  return {
    ...d,
    start: date(d.start),
    nextPoint: dateOrNull(d.nextPoint),
    created: date(d.created),
    updated: date(d.updated),
    paused: p ? { at: date(p.at), reason: p.reason } : null,
  } as unknown as StoredDag;
}
/**
 * The routes of one DAG name an unknown one by their path parameter (`id`); the library's `runs` and
 * `trigger` name it `dag`: the same NotFoundError as the library's.
 */
const idAsDag = <T>(p: Promise<T>): Promise<T> =>
  p.catch((e: unknown) => {
    throw e instanceof NotFoundError ? new NotFoundError(e.message, e.details.map((d) => (d.path === 'id' ? { ...d, path: 'dag' } : d))) : e;
  });
function point(p: Json<DagPoint>): DagPoint {
  return { ...p, execTs: date(p.execTs), untilTs: dateOrNull(p.untilTs), recorded: date(p.recorded) } as DagPoint;
}

/** `client.dags`: the HTTP mirror of `orrery.dags` (the DagService), under /api/dags and /api/dag-runs. */
export class DagClient {
  constructor(private readonly call: ApiCall) {}

  /** Registers or updates definitions given as data (`dag(...).toInput()`). */
  register(inputs: readonly DagInput[]): Promise<RegisteredDag[]> {
    return this.call('PUT', '/dags', { dags: inputs });
  }
  async list(latest?: number): Promise<DagSummary[]> {
    const out = await this.call<Array<Json<DagSummary>>>('GET', `/dags${latest !== undefined ? `?latest=${latest}` : ''}`);
    return out.map(summary);
  }
  /** A DAG with its `latest` (default 10) latest runs and its recorded schedule points, as `orrery.dags.get`. */
  async get(id: string, latest?: number): Promise<DagSummary & { points: DagPoint[] }> {
    checkDagGet(id, latest ?? 10); // as the library (a number was looked up, not found)
    const d = await this.call<Json<DagSummary & { points: DagPoint[] }>>('GET', `/dags/${dagSegment(id)}${latest !== undefined ? `?latest=${latest}` : ''}`);
    return { ...summary(d), points: (d.points as Array<Json<DagPoint>>).map(point) };
  }
  /**
   * A DAG's runs, newest first; `beforeId` is the last id of the previous page. As `orrery.dags.runs`:
   * `runs({ dag, status, limit, beforeId })`, or the DAG id first and the rest beside it. The HTTP API
   * lists one DAG's runs at a time, so `dag` is required.
   */
  async runs(given: string | { dag: string; status?: DagRunStatus; limit?: number; beforeId?: number } = {} as never, more: { status?: DagRunStatus; limit?: number; beforeId?: number } = {}): Promise<DagRunSummary[]> {
    const checked = dagRunsFilter(given, more) as ({ dag?: unknown } & Record<string, unknown>) | null;
    // As the library (null, or nothing, was a TypeError here).
    if (checked === null || typeof checked !== 'object' || checked instanceof Date) throw invalid('filter', 'must be a DAG id or an object { dag, status, limit, beforeId }');
    const { dag, ...filter } = checked;
    if (typeof dag !== 'string') throw new ValidationError('dag: required (the HTTP API lists the runs of one DAG at a time)', [{ path: 'dag', message: 'required' }]);
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    const out = await idAsDag(this.call<Array<Json<DagRunSummary>>>('GET', `/dags/${dagSegment(dag, 'dag')}/runs${q.size ? `?${q}` : ''}`));
    return out.map(run);
  }
  /** `POST /api/dags/{id}/pause`: no new DAG run, no further attempts of its active runs. */
  async pause(id: string, opts: { reason?: string } = {}): Promise<StoredDag> {
    opts = knownOptions(opts, ['reason']);
    checkRequiredDagId(id); // as the library (a number was sent as a path, not found)
    validatePauseReason(opts.reason); // as the library (a Date was sent as its text and stored)
    return stored(await this.call<Json<StoredDag>>('POST', `/dags/${dagSegment(id)}/pause`, opts));
  }
  /** `POST /api/dags/{id}/resume`. */
  async resume(id: string): Promise<StoredDag> {
    checkRequiredDagId(id);
    return stored(await this.call<Json<StoredDag>>('POST', `/dags/${dagSegment(id)}/resume`, {}));
  }
  /** A DAG's `limit` (default 25) latest runs by task, oldest first (the grid view). */
  async grid(id: string, limit?: number): Promise<DagGrid> {
    checkDagId(id);
    const g = await this.call<Json<DagGrid>>('GET', `/dags/${dagSegment(id)}/grid${limit !== undefined ? `?limit=${limit}` : ''}`);
    return { ...g, runs: (g.runs as Array<Json<DagGridRun>>).map(run) } as DagGrid;
  }
  async trigger(id: string, params: Record<string, unknown> = {}): Promise<DagRun> {
    checkDagId(id);
    return run(await idAsDag(this.call<Json<DagRun>>('POST', `/dags/${dagSegment(id)}/trigger`, { params })));
  }
  async run(runId: number): Promise<DagRunDetail> {
    checkDagRunId(runId);
    const r = await this.call<Json<DagRunDetail>>('GET', `/dag-runs/${runId}`);
    return run(r);
  }
  async cancel(runId: number): Promise<DagRun> {
    checkDagRunId(runId);
    return run(await this.call<Json<DagRun>>('POST', `/dag-runs/${runId}/cancel`));
  }
  async restart(runId: number): Promise<DagRun> {
    checkDagRunId(runId);
    return run(await this.call<Json<DagRun>>('POST', `/dag-runs/${runId}/restart`));
  }
  /** A waiting run (trigger `backfill`) per schedule point in [from, to], started in order within the DAG's limit. */
  async backfill(id: string, input: { from: string | Date; to: string | Date; params?: Record<string, unknown> }): Promise<DagRun[]> {
    checkDagId(id);
    // from and to as given (text read by the server as the library reads it: zone-less is UTC), Dates as ISO text.
    const out = await this.call<{ runs: Array<Json<DagRun>> }>('POST', `/dags/${dagSegment(id)}/backfill`, { ...input });
    return out.runs.map(run);
  }
  /** The DAG's next schedule points (default 5), in UTC and in its zone, DST changes marked. */
  async next(id: string, opts: { count?: number } = {}): Promise<Preview & { dag: string }> {
    opts = knownOptions(opts, ['count']);
    checkDagId(id);
    return this.call('GET', `/dags/${dagSegment(id)}/next${opts.count !== undefined ? `?count=${opts.count}` : ''}`);
  }
  async attempts(runId: number, taskId: string): Promise<DagAttemptView[]> {
    checkDagRunId(runId);
    checkDagTaskId(taskId);
    const out = await this.call<Array<Json<DagAttemptView>>>('GET', `/dag-runs/${runId}/tasks/${taskSegment(runId, taskId)}/attempts`);
    return out.map((a) => ({ ...a, notBefore: date(a.notBefore) }) as DagAttemptView);
  }
}
