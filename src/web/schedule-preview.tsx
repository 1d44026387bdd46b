import type { Preview } from '../core/schedule-preview.js';
import type { OrreryClient } from '../http/client.js';
import { Empty, ErrorNote } from './components.js';
import { instant, timeZone } from './format.js';
import { useApi } from './hooks.js';

const DST_TEXT = {
  skipped: 'skipped local time: moved to the end of the DST gap',
  'repeated-first': 'repeated local time: the first of two',
  'repeated-second': 'repeated local time: the second of two',
} as const;

/**
 * The next five occurrences of a task's or a DAG's schedule (docs/dashboard.md#schedules): each in
 * UTC and in the schedule's zone, when it is due (a task's jitter), DST changes marked.
 */
export function SchedulePreview({ load, deps, jitter = false }: { load: (c: OrreryClient) => Promise<Preview>; deps: unknown[]; jitter?: boolean }) {
  const { data, error, reload } = useApi(load, deps, { pollMs: 60_000 });
  return (
    <section aria-labelledby="next-title">
      <h2 id="next-title">Next occurrences{data ? <span class="muted"> ({data.zone})</span> : null}</h2>
      <ErrorNote error={error} onRetry={reload} />
      {data && data.occurrences.length === 0 && <Empty>No occurrence left.</Empty>}
      {data && data.occurrences.length > 0 && (
        <div class="scroll">
          <table class="next-occurrences">
            <thead>
              <tr>
                {/* The column follows the "Times in" choice, as every instant on the dashboard does. */}
                <th scope="col">{timeZone() === 'utc' ? 'UTC' : 'Your time'}</th>
                <th scope="col">Local ({data.zone})</th>
                {jitter && <th scope="col">Due (with jitter)</th>}
                <th scope="col">DST</th>
              </tr>
            </thead>
            <tbody>
              {data.occurrences.map((o) => (
                <tr key={String(o.at)} data-dst={o.dst ?? ''}>
                  <td>{instant(new Date(o.at))}</td>
                  <td><code>{o.local}</code></td>
                  {jitter && <td>{instant(new Date(o.due))}</td>}
                  <td>{o.dst ? <span class="dst-mark" title={DST_TEXT[o.dst]}>{DST_TEXT[o.dst]}</span> : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
