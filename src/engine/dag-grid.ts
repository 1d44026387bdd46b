import { NotFoundError, invalid, shown } from '../core/errors.js';
import { topologicalOrder, type DagTaskStatus } from '../core/dag.js';
import type { DagRun, DagStore } from '../store/dag-store.js';

/** Most runs a grid shows. */
export const MAX_GRID_RUNS = 100;

/** One cell of the grid: a task in a run. */
export interface DagGridCell {
  status: DagTaskStatus;
  attempts: number;
  durationMs: number | null;
}

/** A run of the grid (a column) with its cells by task id; a task the run does not have has no cell. */
export interface DagGridRun extends DagRun {
  cells: Record<string, DagGridCell>;
}

/**
 * A DAG's recent runs by task, as Airflow's grid view draws them: `tasks` are the rows (the current
 * version's tasks in dependency order, then tasks only older runs had), `runs` the columns, oldest first.
 */
export interface DagGrid {
  dag: string;
  tasks: Array<{ taskId: string; after: string[]; current: boolean }>;
  runs: DagGridRun[];
}

/** The grid of a DAG's `limit` (1 to 100) latest runs: one read of the runs, then one of each run's tasks (by primary key). */
export async function dagGrid(store: DagStore, id: string, limit: number): Promise<DagGrid> {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_GRID_RUNS) throw invalid('limit', `must be an integer from 1 to ${MAX_GRID_RUNS}`);
  const [dag] = await store.getDags([id]);
  if (!dag) throw new NotFoundError(`DAG "${shown(id)}" not found`, [{ path: 'id', message: 'unknown DAG' }]);
  const spec = topologicalOrder((await store.getDagVersion(dag.id, dag.version)) ?? []);
  const runs = (await store.listDagRuns({ dag: id, limit })).reverse();
  const tasks = spec.map((t) => ({ taskId: t.id, after: [...t.after], current: true }));
  const known = new Set(tasks.map((t) => t.taskId));
  const columns: DagGridRun[] = [];
  for (const run of runs) {
    const cells: Record<string, DagGridCell> = {};
    for (const t of await store.dagRunTasks(run.id)) {
      cells[t.taskId] = { status: t.status, attempts: t.attempt, durationMs: t.started && t.ended ? t.ended.getTime() - t.started.getTime() : null };
      if (!known.has(t.taskId)) {
        known.add(t.taskId);
        tasks.push({ taskId: t.taskId, after: [], current: false });
      }
    }
    columns.push({ ...run, cells });
  }
  return { dag: id, tasks, runs: columns };
}
