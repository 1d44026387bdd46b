import type { DagClient } from '../http/dag-client.js';
import { Empty, ErrorNote, Loading, Status } from './components.js';
import { duration, instant } from './format.js';
import { useApi } from './hooks.js';

type Grid = Awaited<ReturnType<DagClient['grid']>>;

/** How many latest runs the grid shows. */
const GRID_RUNS = 25;

/**
 * A DAG's latest runs by task, as Airflow's grid view draws them: a row per task (dependency order),
 * a column per run (oldest on the left), each cell coloured by the task's status in that run (the
 * status also in its label and title) and linking to the run's page with that task selected.
 */
export function DagGrid({ dag }: { dag: string }) {
  const { data, error, reload } = useApi((c) => c.dags.grid(dag, GRID_RUNS), [dag], { live: (e) => e.event === 'ended', pollMs: 5000 });
  if (!data) return error ? <ErrorNote error={error} onRetry={reload} /> : <Loading what="the grid" />;
  return (
    <section aria-labelledby="grid-title">
      <h2 id="grid-title">Grid: the latest {GRID_RUNS} runs by task</h2>
      <ErrorNote error={error} onRetry={reload} />
      {data.runs.length === 0 ? <Empty>No runs yet.</Empty> : <GridTable grid={data} />}
      <p class="legend" aria-hidden="true">
        {['success', 'running', 'scheduled', 'up_for_retry', 'failed', 'upstream_failed', 'pending', 'skipped'].map((s) => (
          <Status key={s} value={s} />
        ))}
      </p>
    </section>
  );
}

function GridTable({ grid }: { grid: Grid }) {
  return (
    <div class="scroll">
      <table class="dag-grid" aria-describedby="grid-title">
        <thead>
          <tr>
            <th scope="col">Task</th>
            {grid.runs.map((r) => (
              <th key={r.id} scope="col" class="grid-run" data-run={r.id}>
                <a href={`/dag-runs/${r.id}`} class={`grid-head status-${r.status}`} title={`run #${r.id}, ${r.status}, ${instant(r.execTs)}`} aria-label={`Run #${r.id}: ${r.status}`}>
                  <span class="dot" aria-hidden="true" />
                </a>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {grid.tasks.map((t) => (
            <tr key={t.taskId} data-task={t.taskId}>
              <th scope="row" class={t.current ? '' : 'muted'} title={t.current ? undefined : 'not in the current version'}>
                {t.taskId}
              </th>
              {grid.runs.map((r) => {
                const c = r.cells[t.taskId];
                if (!c) return <td key={r.id} class="grid-cell none" aria-label="not in this run" />;
                const label = `${t.taskId} in run #${r.id}: ${c.status.replace(/_/g, ' ')}${c.attempts > 1 ? `, ${c.attempts} attempts` : ''}${c.durationMs !== null ? `, ${duration(c.durationMs)}` : ''}`;
                return (
                  <td key={r.id} class="grid-cell" data-status={c.status}>
                    <a href={`/dag-runs/${r.id}?task=${encodeURIComponent(t.taskId)}`} class={`cell status-${c.status}`} title={label} aria-label={label} />
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
