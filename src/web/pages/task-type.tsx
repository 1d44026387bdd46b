import { useState } from 'preact/hooks';
import { formatDuration } from '../../core/durations.js';
import { ErrorNote, KeyValues, LoadFailed, Loading } from '../components.js';
import { duration, instant } from '../format.js';
import { useApi, useTick } from '../hooks.js';
import { PauseControl } from '../pause-control.js';
import { RangeCharts } from '../range-charts.js';
import { TypeEditForm, settingsOf } from '../type-edit-form.js';

/**
 * A task type's page (`/types/{name}`): its state with pause and resume, its queue now, its settings
 * with an edit form, and its throughput, failure and latency charts.
 */
export function TaskTypePage({ name }: { name: string }) {
  const now = useTick(5000);
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const { data, error, notFound, reload } = useApi(
    async (c) => {
      const [type, queues, due] = await Promise.all([c.getTaskType(name), c.stats.queues(), c.stats.due()]);
      return { type, queue: queues.find((q) => q.type === name) ?? null, due: due.find((d) => d.type === name) ?? null };
    },
    [name],
    { live: (e) => e.run.type === name, pollMs: 10_000 },
  );
  if (!data) return error ? <LoadFailed title={`Task type ${name}`} error={error} notFound={notFound} onRetry={reload} /> : <Loading what={`task type ${name}`} />;
  const { type, queue, due } = data;
  return (
    <>
      <p class="crumbs">
        <a href="/">Overview</a>
      </p>
      <h1>Task type {type.name}</h1>
      <div class="toolbar" role="group" aria-label="State">
        State: {type.paused ? null : <span class="status status-success">running</span>} <PauseControl type={type} onChange={reload} />
      </div>
      {type.description && <p>{type.description}</p>}
      {type.paused && (
        <p class="note" data-testid="paused-note">
          Paused since {instant(new Date(type.paused.at))}
          {type.paused.reason ? `: ${type.paused.reason}` : ''}. No run of it is scheduled or claimed; started runs finish.
        </p>
      )}
      <ErrorNote error={error} onRetry={reload} />
      <section aria-labelledby="queue-title" class="cards">
        <h2 id="queue-title" class="visually-hidden">Queue</h2>
        <div class="card"><span class="big" data-testid="type-queued">{queue?.scheduled ?? 0}</span> queued</div>
        <div class="card" title={due ? `oldest due since ${instant(due.oldestDue)}` : undefined}>
          <span class="big" data-testid="type-due">{due ? `${due.due}${due.capped ? '+' : ''}` : 0}</span> due, not queued
        </div>
        <div class="card"><span class="big">{queue?.running ?? 0}</span> running</div>
        <div class="card">
          <span class="big">{queue?.oldestScheduled ? duration(now - queue.oldestScheduled.getTime()) : '—'}</span> oldest wait
        </div>
        {type.effectiveRate?.type && type.rateLimit && (
          <div class="card" data-testid="type-effective-rate" title="the rate limit in force now: throttle signals lower it, it grows back to the limit">
            <span class="big">{type.effectiveRate.type.count}</span> of {type.rateLimit.count} runs per {formatDuration(type.rateLimit.perMs)}
            {type.effectiveRate.type.count < type.rateLimit.count ? ' (throttled)' : ''}
          </div>
        )}
        <div class="card">
          <a href={`/tasks?type=${encodeURIComponent(type.name)}`}>
            <span class="big">→</span> its tasks
          </a>
        </div>
      </section>

      {(type.effectiveRate?.keys.length ?? 0) > 0 && (
        <section aria-labelledby="throttled-title">
          <h2 id="throttled-title">Throttled keys</h2>
          <p class="muted">Concurrency keys whose rate is below the rate per key ({type.rateLimitPerKey ? `${type.rateLimitPerKey.count} per ${formatDuration(type.rateLimitPerKey.perMs)}` : '—'}): handlers signalled pressure; each grows back by a tenth of the limit per window.</p>
          <table data-testid="throttled-keys">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Effective rate</th>
              </tr>
            </thead>
            <tbody>
              {type.effectiveRate!.keys.map((k) => (
                <tr key={k.key}>
                  <td>
                    <code>{k.key}</code>
                  </td>
                  <td>
                    {k.count} per {formatDuration(k.perMs)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}

      <section aria-labelledby="settings-title">
        <div class="charts-head">
          <h2 id="settings-title">Settings</h2>
          {!editing && (
            <button type="button" onClick={() => (setEditing(true), setSaved(null))}>
              Edit settings
            </button>
          )}
        </div>
        {saved && (
          <p class="ok-note" role="status">
            {saved}
          </p>
        )}
        {editing ? (
          <TypeEditForm
            type={type}
            onCancel={() => setEditing(false)}
            onSaved={() => {
              setEditing(false);
              setSaved('Saved: used from the next claim or end of its runs.');
              reload();
            }}
          />
        ) : (
          <KeyValues items={[['Backend', <code>{type.backendName}</code>], ...settingsOf(type)]} />
        )}
      </section>

      <RangeCharts type={type.name} />
    </>
  );
}
