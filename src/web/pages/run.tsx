import { useEffect, useRef, useState } from 'preact/hooks';
import { Empty, ErrorNote, KeyValues, LoadFailed, Loading, Status } from '../components.js';
import { between, clockTime, duration, instant, withInstants } from '../format.js';
import { useApi } from '../hooks.js';
import type { RunLogRecord } from '../types.js';

/** While the run goes, how often its new log records are read (workers send them about every second). */
const LIVE_POLL_MS = 1000;

/**
 * A run with its log records, live while the run is not finished: each second the page reads the run,
 * then only the records after the last one it holds (`GET /api/runs/{backendId}/logs?after=ID`).
 */
export function RunPage({ backendId }: { backendId: string }) {
  const [finished, setFinished] = useState(false);
  const held = useRef<{ backendId: string; logs: RunLogRecord[] }>({ backendId, logs: [] });
  const { data, error, notFound, reload } = useApi(
    async (c) => {
      if (held.current.backendId !== backendId) held.current = { backendId, logs: [] };
      const mine = held.current;
      // The run first: once it is seen ended, the records read next are all of them (sent before the end).
      const run = await c.getRun(backendId);
      const fresh = await c.getRunLogs(backendId, { after: mine.logs[mine.logs.length - 1]?.id ?? 0 });
      // Another read may have appended meanwhile: keep records in id order, once each.
      const last = mine.logs[mine.logs.length - 1]?.id ?? 0;
      const newer = fresh.filter((l) => l.id > last);
      if (newer.length > 0) mine.logs = [...mine.logs, ...newer];
      return { run, logs: mine.logs };
    },
    [backendId],
    { live: (e) => e.run.backendId === backendId, pollMs: finished ? 0 : LIVE_POLL_MS },
  );
  useEffect(() => setFinished(Boolean(data?.run.ended)), [data]);
  if (!data) return error ? <LoadFailed title={`Run ${backendId}`} error={error} notFound={notFound} onRetry={reload} /> : <Loading what={`run ${backendId}`} />;
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
          ['Error', run.error ? <pre class="error-block" tabIndex={0}>{withInstants(run.error)}</pre> : '—'],
          ['Result', run.result === null || run.result === undefined ? '—' : <code class="wrap json-box" tabIndex={0}>{JSON.stringify(run.result)}</code>],
        ]}
      />
      <section aria-labelledby="log-title">
        <h2 id="log-title">
          Log {!run.ended && <span class="muted live-note" data-testid="log-live">(live: new records appear as the run goes)</span>}
        </h2>
        {logs.length === 0 ? (
          <Empty>No log records{run.ended ? '' : ' yet'}.</Empty>
        ) : (
          <ol class="log" aria-label={`Log of run ${run.id}`}>
            {logs.map((l) => (
              <li key={l.id} class={`log-${l.level}`}>
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
