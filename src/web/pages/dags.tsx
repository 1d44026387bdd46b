import { useState } from 'preact/hooks';
import { SchedulePreview } from '../schedule-preview.js';
import type { DagRunSummary, DagSchedule } from '../types.js';
import { api } from '../api.js';
import { Empty, ErrorNote, LoadFailed, Loading, Status } from '../components.js';
import { between, dagParams, duration, instant, relative } from '../format.js';
import { useApi, useTick } from '../hooks.js';
import { PauseToggle } from '../pause-control.js';
import { navigate } from '../router.js';
import { DagGrid } from '../dag-grid.js';

export function scheduleText(s: DagSchedule): string {
  if (s.kind === 'cron') return `cron ${s.expr} (${s.tz})`;
  if (s.kind === 'interval') return `every ${duration(s.everyMs)}`;
  return 'manual only';
}

function taskCounts(r: DagRunSummary): string {
  return Object.entries(r.tasks)
    .map(([k, v]) => `${v} ${k.replace(/_/g, ' ')}`)
    .join(', ');
}

function RunChips({ runs }: { runs: DagRunSummary[] }) {
  if (runs.length === 0) return <span class="muted">no runs</span>;
  return (
    <ul class="chips" aria-label="Latest runs, newest first">
      {runs.map((r) => (
        <li key={r.id}>
          <a href={`/dag-runs/${r.id}`} class={`chip status-${r.status}`} title={`${instant(r.execTs)}: ${taskCounts(r)}`}>
            <span class="dot" aria-hidden="true" />#{r.id} {r.status}
          </a>
        </li>
      ))}
    </ul>
  );
}

export function DagList() {
  const now = useTick(10_000);
  const { data, error, reload } = useApi((c) => c.dags.list(5), [], { live: (e) => e.event === 'ended', pollMs: 10_000 });
  if (!data) return error ? <LoadFailed title="DAGs" error={error} notFound={false} onRetry={reload} /> : <Loading what="DAGs" />;
  return (
    <>
      <h1>DAGs</h1>
      <ErrorNote error={error} onRetry={reload} />
      {data.length === 0 ? (
        <Empty>No DAG is registered. DAGs come from the handlers file's <code>dags</code> export.</Empty>
      ) : (
        <div class="scroll">
          <table class="dags">
            <thead>
              <tr>
                <th scope="col">DAG</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next run</th>
                <th scope="col" class="num">Tasks</th>
                <th scope="col">Latest runs</th>
              </tr>
            </thead>
            <tbody>
              {data.map((d) => (
                <tr key={d.id} data-dag={d.id}>
                  <th scope="row">
                    <a href={`/dags/${encodeURIComponent(d.id)}`}>{d.id}</a>
                    {d.paused && <small class="paused" title={pausedTitle(d.paused)}> (paused)</small>}
                    {d.description && <small class="muted block">{d.description}</small>}
                  </th>
                  <td>{scheduleText(d.schedule)}</td>
                  <td title={instant(d.nextPoint)}>{d.paused ? 'paused' : d.nextPoint ? relative(d.nextPoint, now) : '—'}</td>
                  <td class="num">{d.tasks.length}</td>
                  <td><RunChips runs={d.latest} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

export function DagPage({ id }: { id: string }) {
  const now = useTick(10_000);
  const { data, error, notFound, reload } = useApi(
    async (c) => {
      const [dag, runs] = await Promise.all([c.dags.get(id), c.dags.runs(id, { limit: 50 })]);
      return { dag, runs };
    },
    [id],
    { live: (e) => e.event === 'ended', pollMs: 5000 },
  );
  const [params, setParams] = useState('{}');
  const [triggerError, setTriggerError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!data) return error ? <LoadFailed title={`DAG ${id}`} error={error} notFound={notFound} onRetry={reload} /> : <Loading what={`DAG ${id}`} />;
  const { dag, runs } = data;
  const trigger = async (e: Event) => {
    e.preventDefault();
    setTriggerError(null);
    const parsed = dagParams(params);
    if ('problem' in parsed) {
      setTriggerError(parsed.problem);
      return;
    }
    setBusy(true);
    try {
      const run = await api.call((c) => c.dags.trigger(id, parsed.params));
      navigate(`/dag-runs/${run.id}`);
    } catch (x) {
      setTriggerError((x as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <p class="crumbs"><a href="/dags">DAGs</a></p>
      <h1>DAG {dag.id}</h1>
      {dag.description && <p>{dag.description}</p>}
      <div class="toolbar" role="group" aria-label="DAG actions">
        <PauseToggle
          onChange={reload}
          subject={{
            label: `DAG ${dag.id}`,
            paused: dag.paused,
            effect: 'No new DAG run is recorded and its active runs create no further task attempts; running attempts finish.',
            resumeEffect: 'Missed schedule points follow its catch-up rule; its active runs go on.',
            pause: (c, reason) => c.dags.pause(dag.id, reason ? { reason } : {}),
            resume: (c) => c.dags.resume(dag.id),
          }}
        />
      </div>
      <ErrorNote error={error} onRetry={reload} />
      <p>
        {scheduleText(dag.schedule)}; next run{' '}
        <span title={instant(dag.nextPoint)}>{dag.paused ? `none while paused (${pausedTitle(dag.paused)})` : dag.nextPoint ? relative(dag.nextPoint, now) : '—'}</span>; version <code>{dag.version}</code>;
        overlap {dag.overlap}; tasks {dag.tasks.map((t) => t.id).join(', ')}.
      </p>
      {dag.nextPoint !== null && <SchedulePreview load={(c) => c.dags.next(id, { count: 5 })} deps={[id, dag.nextPoint.getTime()]} />}
      <section aria-labelledby="trigger-title" class="panel">
        <h2 id="trigger-title">Trigger a run</h2>
        <form onSubmit={trigger} class="trigger">
          <label class="grow">
            <span>
              Params (JSON object every task sees as <code>params</code>)
            </span>
            <textarea name="params" rows={3} value={params} onInput={(e) => setParams((e.target as HTMLTextAreaElement).value)} spellcheck={false} />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Triggering…' : 'Trigger run'}
          </button>
        </form>
        <ErrorNote error={triggerError} />
      </section>
      <DagGrid dag={dag.id} />
      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        {runs.length === 0 ? (
          <Empty>No runs yet.</Empty>
        ) : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Execution time</th>
                  <th scope="col" class="num">Duration</th>
                  <th scope="col">Tasks</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.id}>
                    <td><a href={`/dag-runs/${r.id}`}>#{r.id}</a></td>
                    <td><Status value={r.status} /></td>
                    <td>{r.trigger.replace(/_/g, ' ')}{r.restarts ? ` (restarted ${r.restarts}×)` : ''}</td>
                    <td>{instant(r.execTs)}</td>
                    <td class="num">{duration(between(r.started, r.ended ?? (r.started ? new Date(now) : null)))}</td>
                    <td>{taskCounts(r)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

/** When and why a DAG was paused, for its tooltip and its page. */
function pausedTitle(p: { at: Date | string; reason: string | null }): string {
  return `paused since ${instant(new Date(p.at))}${p.reason ? `: ${p.reason}` : ''}`;
}
