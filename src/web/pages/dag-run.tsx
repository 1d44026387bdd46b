import dagre from '@dagrejs/dagre';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { DagTaskView } from '../types.js';
import { api } from '../api.js';
import { ConfirmButton, Empty, ErrorNote, KeyValues, LoadFailed, Loading, Status } from '../components.js';
import { clockTime, duration, instant, withInstants } from '../format.js';
import { useApi } from '../hooks.js';

const NODE_W = 150;
const NODE_H = 54;
/** The smallest zoom (fit or chosen): below it, task names are unreadable; the pane scrolls instead. */
const MIN_ZOOM = 0.35;

interface Placed {
  task: DagTaskView;
  x: number;
  y: number;
}

export interface GraphLayout {
  nodes: Placed[];
  /** Each dependency as the points of its line, from the parent's right side to the child's left. */
  edges: Array<{ from: string; to: string; points: Array<{ x: number; y: number }> }>;
  width: number;
  height: number;
}

/**
 * Lays the graph out left to right with dagre (layers by dependency, crossings reduced, edges routed
 * around nodes), so a DAG of hundreds of tasks stays readable. Only the structure matters, so the
 * page lays a run out once and keeps it while statuses change.
 */
export function layout(tasks: DagTaskView[]): GraphLayout {
  const g = new dagre.graphlib.Graph<{ rankdir: string; nodesep: number; ranksep: number; marginx: number; marginy: number; width?: number; height?: number }, { width: number; height: number; x?: number; y?: number }, { points?: Array<{ x: number; y: number }> }>();
  g.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 60, marginx: 4, marginy: 4 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(tasks.map((t) => t.taskId));
  for (const t of tasks) g.setNode(t.taskId, { width: NODE_W, height: NODE_H });
  for (const t of tasks) for (const a of t.after) if (ids.has(a)) g.setEdge(a, t.taskId);
  dagre.layout(g);
  const nodes = tasks.map((task) => {
    const n = g.node(task.taskId);
    return { task, x: (n.x ?? 0) - NODE_W / 2, y: (n.y ?? 0) - NODE_H / 2 };
  });
  const edges = g.edges().map((e) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] }));
  const graph = g.graph();
  return { nodes, edges, width: Math.ceil(graph.width ?? NODE_W), height: Math.ceil(graph.height ?? NODE_H) };
}

/** A smooth path through dagre's edge points (a quadratic curve through each midpoint). */
function edgePath(points: Array<{ x: number; y: number }>): string {
  if (points.length === 0) return '';
  let d = `M ${points[0]!.x} ${points[0]!.y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]!;
    const q = points[i + 1]!;
    d += ` Q ${p.x} ${p.y} ${(p.x + q.x) / 2} ${(p.y + q.y) / 2}`;
  }
  const last = points[points.length - 1]!;
  return `${d} L ${last.x} ${last.y}`;
}

function Graph({ tasks, selected, onSelect }: { tasks: DagTaskView[]; selected: string | null; onSelect: (id: string) => void }) {
  // Laid out once per structure: statuses change every poll, the structure does not.
  const shape = tasks.map((t) => `${t.taskId}<${t.after.join(',')}`).join(';');
  const laid = useMemo(() => layout(tasks), [shape]);
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  const nodes = laid.nodes.map((n) => ({ ...n, task: byId.get(n.task.taskId) ?? n.task }));
  const { width, height } = laid;
  const wrap = useRef<HTMLDivElement>(null);
  // null: fit the width of the pane (never above 100 %); else the zoom chosen.
  const [zoom, setZoom] = useState<number | null>(null);
  const [paneWidth, setPaneWidth] = useState(0);
  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const seen = new ResizeObserver(() => setPaneWidth(el.clientWidth - 20));
    seen.observe(el);
    return () => seen.disconnect();
  }, []);
  const fit = paneWidth > 0 ? Math.min(1, Math.max(MIN_ZOOM, paneWidth / width)) : 1;
  const scale = zoom ?? fit;
  const step = (f: number) => setZoom(Math.min(2, Math.max(MIN_ZOOM, Math.round(scale * f * 100) / 100)));
  return (
    <>
    <div class="toolbar graph-zoom" role="group" aria-label="Zoom">
      <button type="button" onClick={() => step(1 / 1.25)} aria-label="Zoom out">−</button>
      <span data-testid="zoom">{Math.round(scale * 100)} %</span>
      <button type="button" onClick={() => step(1.25)} aria-label="Zoom in">+</button>
      <button type="button" onClick={() => setZoom(null)} aria-pressed={zoom === null}>Fit width</button>
    </div>
    <div class="graph-wrap" ref={wrap}>
      <svg class="graph" viewBox={`0 0 ${width} ${height}`} width={Math.ceil(width * scale)} height={Math.ceil(height * scale)} role="group" aria-label="Task graph">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow" />
          </marker>
        </defs>
        {laid.edges.map((e) => (
          <path key={`${e.from}->${e.to}`} class="edge" d={edgePath(e.points)} marker-end="url(#arrow)" />
        ))}
        {nodes.map(({ task: t, x, y }) => (
          <g
            key={t.taskId}
            class={`node status-${t.status}${selected === t.taskId ? ' selected' : ''}`}
            data-task={t.taskId}
            data-status={t.status}
            transform={`translate(${x} ${y})`}
            role="button"
            tabindex={0}
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
    </>
  );
}

function Attempts({ run, task, active }: { run: number; task: string; active: boolean }) {
  // Reloaded on run events while the DAG run is active (its attempts are jobboard runs of any type).
  const { data, error, reload } = useApi((c) => c.dags.attempts(run, task), [run, task], { live: () => active });
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
              {r.error && <pre class="error-block">{withInstants(r.error)}</pre>}
              {r.logs.length === 0 ? (
                <p class="muted">No log records.</p>
              ) : (
                <ol class="log" aria-label={`Log of ${task}, attempt ${a.attempt}`}>
                  {r.logs.map((l, i) => (
                    <li key={i} class={`log-${l.level}`}>
                      <time dateTime={new Date(l.at).toISOString()} title={instant(new Date(l.at))}>{clockTime(new Date(l.at))}</time>
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

export function DagRunPage({ run, task }: { run: number; task?: string | null }) {
  const [done, setDone] = useState(false);
  // A finished run is not reloaded on run events (none concerns it; a restart from this page reloads it), only polled.
  const { data: r, error, notFound, reload } = useApi((c) => c.dags.run(run), [run], { live: () => !done, pollMs: done ? 15_000 : 1500 });
  const [selected, choose] = useState<string | null>(task ?? null);
  // The address names the task on screen (`?task=ID`), so a reload or a shared link opens it: replaced in
  // place, without the router's notice, which would mount the page again (its graph, zoom and data).
  const setSelected = (id: string) => {
    choose(id);
    const q = new URLSearchParams(location.search);
    q.set('task', id);
    history.replaceState(history.state, '', `${location.pathname}?${q}${location.hash}`);
  };
  useEffect(() => setDone(r?.status === 'success' || r?.status === 'failed'), [r?.status]);
  if (!r) return error ? <LoadFailed title={`DAG run #${run}`} error={error} notFound={notFound} onRetry={reload} /> : <Loading what={`DAG run ${run}`} />;
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
            question={`Cancel run #${r.id}? Every task not yet done ends failed (cancelled): running ones are asked to stop, and a restart re-runs them.`}
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
          ['Params', <code class="wrap json-box" tabIndex={0}>{JSON.stringify(r.params)}</code>],
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
                  <td class="error-cell">{t.error ? withInstants(t.error.split('\n')[0]!) : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      {chosen && (
        <section aria-labelledby="attempts-title" class="panel">
          <h2 id="attempts-title">Attempts of {chosen}</h2>
          <Attempts run={r.id} task={chosen} active={!done} />
        </section>
      )}
    </>
  );
}
