import { useEffect, useState } from 'preact/hooks';
import { Empty, ErrorNote, KeyValues, Loading, Status } from '../components.js';
import { between, clockTime, duration, instant } from '../format.js';
import { useApi } from '../hooks.js';

/** A run with its log records (live while the run is not finished: logs are read again every 2 s). */
export function RunPage({ backendId }: { backendId: string }) {
  const [finished, setFinished] = useState(false);
  const { data, error, reload } = useApi(
    async (c) => {
      const [run, logs] = await Promise.all([c.getRun(backendId), c.getRunLogs(backendId)]);
      return { run, logs };
    },
    [backendId],
    { live: (e) => e.run.backendId === backendId, pollMs: finished ? 0 : 2000 },
  );
  useEffect(() => setFinished(Boolean(data?.run.ended)), [data]);
  if (!data) return error ? <ErrorNote error={error} onRetry={reload} /> : <Loading what={`run ${backendId}`} />;
  const { run, logs } = data;
  return (
    <>
      <p class="crumbs"><a href="/tasks">Tasks</a> / <a href={`/tasks/${run.task}`}>task #{run.task}</a></p>
      <h1>
        Run #{run.id} <Status value={run.status} />
      </h1>
      <ErrorNote error={error} onRetry={reload} />
      <KeyValues
        items={[
          ['Task', <a href={`/tasks/${run.task}`}>#{run.task} ({run.type})</a>],
          ['Backend id', <code>{run.backendId}</code>],
          ['Attempt', String(run.attempt)],
          ['Worker', run.worker ?? '—'],
          ['Scheduled', instant(run.scheduled)],
          ['Started', instant(run.started)],
          ['Ended', instant(run.ended)],
          ['Waited', duration(between(run.scheduled, run.started))],
          ['Duration', duration(between(run.started, run.ended))],
          ['Error', run.error ?? '—'],
          ['Result', run.result === null || run.result === undefined ? '—' : <code class="wrap">{JSON.stringify(run.result)}</code>],
        ]}
      />
      <section aria-labelledby="log-title">
        <h2 id="log-title">Log</h2>
        {logs.length === 0 ? (
          <Empty>No log records{run.ended ? '' : ' yet'}.</Empty>
        ) : (
          <ol class="log" aria-label={`Log of run ${run.id}`}>
            {logs.map((l, i) => (
              <li key={i} class={`log-${l.level}`}>
                <time dateTime={l.at.toISOString()} title={instant(l.at)}>{clockTime(l.at)}</time>
                <span class="level">{l.level}</span>
                <span class="msg">{l.message}</span>
                {Object.keys(l.attributes ?? {}).length > 0 && <code class="attrs">{JSON.stringify(l.attributes)}</code>}
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
