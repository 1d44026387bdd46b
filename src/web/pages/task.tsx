import type { TaskRun } from '../../core/model.js';
import type { TaskWithRuns } from '../types.js';
import { api } from '../api.js';
import { ConfirmButton, Empty, ErrorNote, KeyValues, LoadFailed, Loading, Sparkline, Status } from '../components.js';
import { ago, args, between, duration, instant, relative, withInstants } from '../format.js';
import { useApi, useTick } from '../hooks.js';
import { WhyPanel } from '../why-panel.js';
import { PauseToggle } from '../pause-control.js';
import { SchedulePreview } from '../schedule-preview.js';

function scheduleText(t: TaskWithRuns): string {
  const s = t.schedule;
  if (s.kind === 'cron') return `cron ${s.expr} (${s.tz})`;
  if (s.kind === 'rrule') return `rrule ${s.rule}`;
  return t.policy === 'oneshot' ? 'one-shot' : `adaptive, every ${duration(t.currentIntervalMs)} now`;
}

/** Runs the page shows, newest first (`GET /api/tasks/{id}?runs=200`). */
const SHOWN_RUNS = 200;

/**
 * The intervals the task went through, as observed from its runs: from each run's end to the instant
 * the next run was scheduled (the runner schedules a due task within its pass), and for the latest run
 * to the task's next run.
 */
function intervals(t: TaskWithRuns): Array<{ run: TaskRun; ms: number }> {
  const ended = t.runs.filter((r) => r.ended && r.status !== 'lost');
  return ended.flatMap((r) => {
    const next = t.runs.find((x) => x.id > r.id && x.scheduled.getTime() >= r.ended!.getTime());
    const due = next ? next.scheduled : t.status === 'next_run_not_scheduled' ? t.nextRun : null;
    return due ? [{ run: r, ms: due.getTime() - r.ended!.getTime() }] : [];
  });
}

export function TaskPage({ id }: { id: number }) {
  const now = useTick(5000);
  // The newest SHOWN_RUNS runs only: a recurring task may have hundreds of thousands.
  const { data: t, error, notFound, reload } = useApi((c) => c.getTask(id, { runs: SHOWN_RUNS }), [id], { live: (e) => e.run.task === id, pollMs: 15_000 });
  if (!t) return error ? <LoadFailed title={`Task #${id}`} error={error} notFound={notFound} onRetry={reload} /> : <Loading what={`task ${id}`} />;
  const runs = [...t.runs].reverse();
  const iv = intervals(t);
  const active = t.status === 'next_run_not_scheduled' || t.status === 'next_run_scheduled';
  const after = async (p: Promise<unknown>, text: string) => {
    await p;
    reload();
    return text;
  };
  return (
    <>
      <p class="crumbs"><a href="/tasks">Tasks</a> / <a href={`/tasks?type=${encodeURIComponent(t.type)}`}>{t.type}</a></p>
      <h1>
        Task #{t.id} <Status value={t.status} />
      </h1>
      <ErrorNote error={error} onRetry={reload} />
      <div class="toolbar" role="group" aria-label="Task actions">
        {active && (
          <PauseToggle
            onChange={reload}
            subject={{
              label: `task #${t.id}`,
              paused: t.paused,
              effect: 'It is neither scheduled nor claimed until resumed; a run waiting in the queue is taken back, a run a worker holds finishes.',
              resumeEffect: 'It is due again at its next run (at once when that has passed).',
              pause: (c, reason) => c.pauseTask(t.id, reason ? { reason } : {}),
              resume: (c) => c.resumeTask(t.id),
            }}
          />
        )}
        <ConfirmButton
          label="Run now"
          disabled={t.status === 'next_run_scheduled'}
          question={
            t.paused
              ? `Make task #${t.id} due now? Its retries are reset. It is paused: it runs once resumed.`
              : `Make task #${t.id} due now? Its retries are reset; the runner schedules it within its next pass.`
          }
          action={() => after(api.client.respawnTasks([t.id]), t.paused ? 'Due now; paused, it runs once resumed.' : 'Due now.')}
        />
        {!active && (
          <ConfirmButton
            label="Respawn"
            question={`Re-enable task #${t.id} (${t.status}${t.disabledReason ? `, ${t.disabledReason}` : ''}), due now?`}
            action={() => after(api.client.respawnTasks([t.id]), 'Respawned.')}
          />
        )}
        {t.status !== 'disabled' && (
          <ConfirmButton
            label="Disable"
            danger
            question={`Disable task #${t.id}? A waiting run is cancelled; a running one is asked to stop.`}
            action={() => after(api.client.disableTasks([t.id]), 'Disabled.')}
          />
        )}
      </div>
      <KeyValues
        items={[
          ['Type', <a href={`/tasks?type=${encodeURIComponent(t.type)}`}>{t.type}</a>],
          ['Arguments', <code class="wrap json-box" tabIndex={0}>{args(t.arguments) || '(none)'}</code>],
          ['Schedule', scheduleText(t)],
          ['Policy', t.policy],
          ['Next run', <span title={instant(t.nextRun)}>{active ? relative(t.nextRun, now) : '—'}</span>],
          ['Serves', active ? instant(t.scheduledFor) : '—'],
          ['Current interval', duration(t.currentIntervalMs)],
          ['Priority', t.priority ?? '—'],
          ['Retries left', String(t.retriesLeft)],
          ['Disabled reason', t.disabledReason ?? '—'],
          ['Paused', t.paused ? `since ${instant(new Date(t.paused.at))}${t.paused.reason ? ` (${t.paused.reason})` : ''}` : 'no'],
          ['Key', t.key ?? '—'],
          ['Created', instant(t.created)],
        ]}
      />

      <WhyPanel id={t.id} />

      {t.schedule.kind !== 'adaptive' && active && <SchedulePreview load={(c) => c.schedules.next(t.id, { count: 5 })} deps={[t.id, t.scheduledFor.getTime()]} jitter />}

      <section aria-labelledby="iv-title">
        <h2 id="iv-title">Interval history</h2>
        {iv.length === 0 ? (
          <Empty>{t.runs.some((r) => r.ended && r.status !== 'lost') ? 'No interval to show: the task has no next run.' : 'No run has ended yet.'}</Empty>
        ) : (
          <>
            <Sparkline series={[{ label: 'interval', cls: 'ok', values: iv.map((x) => x.ms) }]} label={`Intervals after each run: ${iv.map((x) => duration(x.ms)).join(', ')}`} />
            <div class="scroll">
              <table>
                <caption class="muted">From each run's end to the scheduling of the next run</caption>
                <thead>
                  <tr><th scope="col">After run</th><th scope="col">Outcome</th><th scope="col">Ended</th><th scope="col" class="num">Interval</th></tr>
                </thead>
                <tbody>
                  {[...iv].reverse().map(({ run, ms }) => (
                    <tr key={run.id}>
                      <td><a href={`/runs/${encodeURIComponent(run.backendId)}`}>#{run.id}</a></td>
                      <td><Status value={run.status} /></td>
                      <td>{instant(run.ended)}</td>
                      <td class="num">{duration(ms)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </section>

      <section aria-labelledby="runs-title">
        <h2 id="runs-title">Runs</h2>
        {runs.length === SHOWN_RUNS && (
          <p class="muted">
            The newest {SHOWN_RUNS} runs; older ones: <code>orrery task show {t.id}</code>, or <code>GET /api/tasks/{t.id}/runs</code>.
          </p>
        )}
        {runs.length === 0 ? (
          <Empty>No run yet.</Empty>
        ) : (
          <div class="scroll">
            <table class="runs">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">Attempt</th>
                  <th scope="col">Worker</th>
                  <th scope="col">Scheduled</th>
                  <th scope="col" class="num">Duration</th>
                  <th scope="col">Error</th>
                  <th scope="col">Log</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.id} data-run={r.backendId}>
                    <td><a href={`/runs/${encodeURIComponent(r.backendId)}`}>#{r.id}</a></td>
                    <td><Status value={r.status} /></td>
                    <td class="num">{r.attempt}</td>
                    <td class="name">{r.worker ? <code>{r.worker}</code> : '—'}</td>
                    <td title={instant(r.scheduled)}>{ago(r.scheduled, now)}</td>
                    <td class="num">{r.started ? duration(between(r.started, r.ended ?? new Date(now))) : '—'}</td>
                    <td class="error-cell">{r.error ? withInstants(r.error) : ''}</td>
                    <td><a href={`/runs/${encodeURIComponent(r.backendId)}`} aria-label={`Log of run ${r.id}`}>log</a></td>
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
