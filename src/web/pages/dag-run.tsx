import { useEffect, useState } from 'preact/hooks';
import type { DagTaskView } from '../types.js';
import { api } from '../api.js';
import { ConfirmButton, Empty, ErrorNote, KeyValues, Loading, Status } from '../components.js';
import { duration, instant } from '../format.js';
import { useApi } from '../hooks.js';

const NODE_W = 150;
const NODE_H = 54;
const GAP_X = 60;
const GAP_Y = 22;

interface Placed {
  task: DagTaskView;
  x: number;
  y: number;
}

/** Layers by longest path from the roots (tasks without dependencies), left to right. */
export function layout(tasks: DagTaskView[]): { nodes: Placed[]; width: number; height: number } {
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  const depth = new Map<string, number>();
  const depthOf = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // validated DAGs have no cycles; never loop on bad data
    seen.add(id);
    const t = byId.get(id);
    const d = t && t.after.length ? 1 + Math.max(...t.after.map((a) => depthOf(a, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  for (const t of tasks) depthOf(t.taskId, new Set());
  const layers: DagTaskView[][] = [];
  for (const t of tasks) (layers[depth.get(t.taskId)!] ??= []).push(t);
  const rows = Math.max(1, ...layers.map((l) => l?.length ?? 0));
  const height = rows * (NODE_H + GAP_Y) - GAP_Y + 8;
  const nodes: Placed[] = [];
  layers.forEach((layer, i) => {
    const offset = ((rows - layer.length) * (NODE_H + GAP_Y)) / 2;
    layer.forEach((task, j) => nodes.push({ task, x: 4 + i * (NODE_W + GAP_X), y: 4 + offset + j * (NODE_H + GAP_Y) }));
  });
  return { nodes, width: layers.length * (NODE_W + GAP_X) - GAP_X + 8, height };
}

function Graph({ tasks, selected, onSelect }: { tasks: DagTaskView[]; selected: string | null; onSelect: (id: string) => void }) {
  const { nodes, width, height } = layout(tasks);
  const at = new Map(nodes.map((n) => [n.task.taskId, n]));
  return (
    <div class="graph-wrap">
      <svg class="graph" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="group" aria-label="Task graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow" />
          </marker>
        </defs>
        {nodes.flatMap((n) =>
          n.task.after.map((a) => {
            const from = at.get(a);
            if (!from) return null;
            const x1 = from.x + NODE_W;
            const y1 = from.y + NODE_H / 2;
            const x2 = n.x - 2;
            const y2 = n.y + NODE_H / 2;
            const mx = (x1 + x2) / 2;
            return <path key={`${a}->${n.task.taskId}`} class="edge" d={`M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`} marker-end="url(#arrow)" />;
          }),
        )}
        {nodes.map(({ task: t, x, y }) => (
          <g
            key={t.taskId}
            class={`node status-${t.status}${selected === t.taskId ? ' selected' : ''}`}
            data-task={t.taskId}
            data-status={t.status}
            transform={`translate(${x} ${y})`}
            role="button"
            tabIndex={0}
            aria-pressed={selected === t.taskId}
            aria-label={`${t.taskId}: ${t.status.replace(/_/g, ' ')}, ${t.attempts} attempt${t.attempts === 1 ? '' : 's'}${t.durationMs !== null ? `, ${duration(t.durationMs)}` : ''}`}
            onClick={() => onSelect(t.taskId)}
            onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), onSelect(t.taskId))}
          >
            <rect width={NODE_W} height={NODE_H} rx="8" />
            <text x="10" y="20" class="node-title">{t.taskId.length > 18 ? `${t.taskId.slice(0, 17)}…` : t.taskId}</text>
            <text x="10" y="40" class="node-sub">
              {t.status.replace(/_/g, ' ')}
              {t.durationMs !== null ? ` · ${duration(t.durationMs)}` : ''}
              {t.attempts > 1 ? ` · ${t.attempts}×` : ''}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}

function Attempts({ run, task }: { run: number; task: string }) {
  const { data, error, reload } = useApi((c) => c.dags.attempts(run, task), [run, task], { live: () => true });
  if (!data) return error ? <ErrorNote error={error} onRetry={reload} /> : <Loading what={`the attempts of ${task}`} />;
  if (data.length === 0) return <Empty>No attempt yet.</Empty>;
  return (
    <ol class="attempts">
      {data.map((a) => (
        <li key={a.attempt}>
          <h4>
            Attempt {a.attempt} <small class="muted">due {instant(a.notBefore)}, jobboard task <a href={`/tasks/${a.orreryTask}`}>#{a.orreryTask}</a></small>
          </h4>
          {a.runs.length === 0 && <p class="muted">Not run yet.</p>}
          {a.runs.map((r) => (
            <div key={r.id} class="attempt-run">
              <p>
                <a href={`/runs/${encodeURIComponent(r.backendId)}`}>Run #{r.id}</a> <Status value={r.status} /> {r.worker && <>on <code>{r.worker}</code></>}{' '}
                {r.started && r.ended ? `in ${duration(r.ended.getTime() - r.started.getTime())}` : ''}
              </p>
              {r.error && <pre class="error-block">{r.error}</pre>}
              {r.logs.length === 0 ? (
                <p class="muted">No log records.</p>
              ) : (
                <ol class="log" aria-label={`Log of ${task}, attempt ${a.attempt}`}>
                  {r.logs.map((l, i) => (
                    <li key={i} class={`log-${l.level}`}>
                      <time dateTime={new Date(l.at).toISOString()}>{new Date(l.at).toISOString().slice(11, 23)}</time>
                      <span class="level">{l.level}</span>
                      <span class="msg">{l.message}</span>
                      {Object.keys(l.attributes ?? {}).length > 0 && <code class="attrs">{JSON.stringify(l.attributes)}</code>}
                    </li>
                  ))}
                </ol>
              )}
            </div>
          ))}
        </li>
      ))}
    </ol>
  );
}

export function DagRunPage({ run }: { run: number }) {
  const [done, setDone] = useState(false);
  const { data: r, error, reload } = useApi((c) => c.dags.run(run), [run], { live: () => true, pollMs: done ? 15_000 : 1500 });
  const [selected, setSelected] = useState<string | null>(null);
  useEffect(() => setDone(r?.status === 'success' || r?.status === 'failed'), [r?.status]);
  if (!r) return error ? <ErrorNote error={error} onRetry={reload} /> : <Loading what={`DAG run ${run}`} />;
  const chosen = selected ?? r.tasks.find((t) => t.status === 'failed')?.taskId ?? null;
  return (
    <>
      <p class="crumbs"><a href="/dags">DAGs</a> / <a href={`/dags/${encodeURIComponent(r.dag)}`}>{r.dag}</a></p>
      <h1>
        {r.dag} run #{r.id} <Status value={r.status} />
      </h1>
      <ErrorNote error={error} onRetry={reload} />
      <div class="toolbar" role="group" aria-label="Run actions">
        {r.status === 'failed' && (
          <ConfirmButton
            label="Restart failed tasks"
            question={`Restart run #${r.id}? Its failed and upstream-failed tasks run again; successful tasks are kept.`}
            confirmLabel="Restart"
            action={async () => {
              await api.client.dags.restart(r.id);
              reload();
              return 'Restarted.';
            }}
          />
        )}
        {(r.status === 'running' || r.status === 'scheduled') && (
          <ConfirmButton
            label="Cancel run"
            danger
            question={`Cancel run #${r.id}? Waiting tasks are skipped and running ones are asked to stop.`}
            action={async () => {
              await api.client.dags.cancel(r.id);
              reload();
              return 'Cancelled.';
            }}
          />
        )}
      </div>
      <KeyValues
        items={[
          ['Execution time', instant(r.execTs)],
          ['Trigger', r.trigger.replace(/_/g, ' ')],
          ['Started', instant(r.started)],
          ['Ended', instant(r.ended)],
          ['Duration', r.started && r.ended ? duration(r.ended.getTime() - r.started.getTime()) : '—'],
          ['Restarts', String(r.restarts)],
          ['Params', <code class="wrap">{JSON.stringify(r.params)}</code>],
          ['Version', <code>{r.version}</code>],
        ]}
      />
      <section aria-labelledby="graph-title">
        <h2 id="graph-title">Graph</h2>
        <p class="legend">
          {['success', 'running', 'scheduled', 'up_for_retry', 'failed', 'upstream_failed', 'pending', 'skipped'].map((s) => (
            <Status key={s} value={s} />
          ))}
        </p>
        <Graph tasks={r.tasks} selected={chosen} onSelect={setSelected} />
      </section>
      <section aria-labelledby="tasks-title">
        <h2 id="tasks-title">Tasks</h2>
        <div class="scroll">
          <table class="dag-tasks">
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Status</th>
                <th scope="col">After</th>
                <th scope="col" class="num">Attempts</th>
                <th scope="col" class="num">Duration</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {r.tasks.map((t) => (
                <tr key={t.taskId} data-task={t.taskId} aria-selected={chosen === t.taskId}>
                  <th scope="row">
                    <button type="button" class="link" onClick={() => setSelected(t.taskId)}>{t.taskId}</button>
                  </th>
                  <td><Status value={t.status} /></td>
                  <td>{t.after.join(', ') || '—'}</td>
                  <td class="num">{t.attempts}</td>
                  <td class="num">{duration(t.durationMs)}</td>
                  <td class="error-cell">{t.error?.split('\n')[0] ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      {chosen && (
        <section aria-labelledby="attempts-title" class="panel">
          <h2 id="attempts-title">Attempts of {chosen}</h2>
          <Attempts run={r.id} task={chosen} />
        </section>
      )}
    </>
  );
}
