import { useState } from 'preact/hooks';
import type { TaskRun } from '../../core/model.js';
import type { RunSearchInput } from '../../core/run-search.js';
import type { OrreryClient, RunPage } from '../../http/client.js';
import { api } from '../api.js';
import { BulkButton } from '../bulk-actions.js';
import { Empty, ErrorNote, Loading, Status, FilterSelect } from '../components.js';
import { ago, instant, withInstants } from '../format.js';
import { LIST_POLL, useApi, useTick } from '../hooks.js';
import { navigate } from '../router.js';

/** The status choices: failures first (the default), then each status, then every run. */
const FAILURES = 'failed,permfailed,lost';
const CHOICES: Array<[string, string]> = [
  [FAILURES, 'failures (failed, permfailed, lost)'],
  ['failed', 'failed'],
  ['permfailed', 'permfailed'],
  ['lost', 'lost'],
  ['scheduled', 'scheduled'],
  ['claimed', 'claimed'],
  ['started', 'started'],
  ['eventful,uneventful', 'succeeded'],
  ['', 'any'],
];
const PAGE = 100;

/** The URL's status filter: failures when it has none, `any` (the choice's label) read as every status. */
function statusOf(q: URLSearchParams): string {
  const status = q.has('status') ? q.get('status')! : FAILURES;
  return status === 'any' ? '' : status;
}

/** The run filters of the page's URL: failures unless `status` says otherwise (`status=` for any). */
function filterOf(q: URLSearchParams): Omit<RunSearchInput, 'limit' | 'cursor'> {
  const status = statusOf(q);
  return {
    ...(status ? { status } : {}),
    ...(q.get('type') ? { type: q.get('type')! } : {}),
    ...(q.get('worker') ? { worker: q.get('worker')! } : {}),
  };
}

const page = (c: OrreryClient, filter: RunSearchInput, cursor: string | null): Promise<RunPage> => c.searchRuns({ ...filter, limit: PAGE, ...(cursor ? { cursor } : {}) });

/** Runs across tasks, failures first (GET /api/runs), with a retry of the selected runs' tasks or of every run's task the filter matches. */
export function RunList({ query }: { query: URLSearchParams }) {
  const now = useTick(10_000);
  const key = query.toString();
  const filter = filterOf(query);
  const shownStatus = statusOf(query);
  const types = useApi((c) => c.listTaskTypes(), [], LIST_POLL);
  const [more, setMore] = useState<{ key: string; pages: RunPage[] }>({ key, pages: [] });
  // Page 1 refreshes itself only while it is shown alone: refreshed under pages loaded from its old
  // cursor, the runs pushed off its end would fall between it and them, shown nowhere.
  const paging = more.key === key && more.pages.length > 0;
  const first = useApi((c) => page(c, filter, null), [key], paging ? {} : { live: (e) => e.event === 'ended', pollMs: 15_000 });
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [moreError, setMoreError] = useState<string | null>(null);
  const pages = first.data ? [first.data, ...(more.key === key ? more.pages : [])] : [];
  const runs: TaskRun[] = pages.flatMap((p) => p.items);
  const last = pages[pages.length - 1];
  const chosen = runs.filter((r) => selected.has(r.id));
  const tasks = [...new Set(chosen.map((r) => r.task))];
  const reload = () => {
    setSelected(new Set());
    setMore({ key, pages: [] });
    first.reload();
  };
  const toggle = (id: number, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    setSelected(next);
  };
  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const q = new URLSearchParams();
    const status = String(f.get('status') ?? '');
    if (status !== FAILURES) q.set('status', status);
    for (const k of ['type', 'worker']) {
      const v = String(f.get(k) ?? '').trim();
      if (v) q.set(k, v);
    }
    setSelected(new Set());
    navigate(`/runs${q.size ? `?${q}` : ''}`);
  };
  const loadMore = async () => {
    if (!last?.nextCursor) return;
    setMoreError(null);
    try {
      const next = await api.call((c) => page(c, filter, last.nextCursor));
      setMore({ key, pages: [...(more.key === key ? more.pages : []), next] });
    } catch (e) {
      setMoreError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <>
      <h1>Runs</h1>
      <form class="filters" role="search" aria-label="Search runs" onSubmit={submit} key={key}>
        <label>
          Status
          <FilterSelect name="status" initial={shownStatus}>
            {CHOICES.map(([v, label]) => (
              <option key={v} value={v}>{label}</option>
            ))}
            {/* The URL's statuses, when no choice is them (`status=eventful`, `failed,lost`): the filter in force is shown. */}
            {!CHOICES.some(([v]) => v === shownStatus) && <option value={shownStatus}>{shownStatus}</option>}
          </FilterSelect>
        </label>
        <label>
          Type
          <FilterSelect name="type" initial={query.get('type') ?? ''}>
            <option value="">any</option>
            {(types.data ?? []).map((t) => (
              <option key={t.name} value={t.name}>{t.name}</option>
            ))}
            {/* The URL's type, when the list does not hold it (deleted, or not loaded): the filter in force is shown, as on Tasks. */}
            {query.get('type') && !(types.data ?? []).some((t) => t.name === query.get('type')) && <option value={query.get('type')!}>{query.get('type')}</option>}
          </FilterSelect>
        </label>
        <label>
          Worker
          <input type="text" name="worker" defaultValue={query.get('worker') ?? ''} size={16} />
        </label>
        <button type="submit" class="primary">Search</button>
      </form>
      <p class="muted">Newest first: by end for finished runs, by creation otherwise. Retrying respawns the runs' tasks, due now (tasks with a run waiting or running are left alone).</p>
      <div class="toolbar" role="group" aria-label="Bulk actions on the runs' tasks">
        <BulkButton action="respawn" label={`Retry selected (${chosen.length})`} verb="Retry" what="of the selected runs" disabled={tasks.length === 0} selection={() => ({ ids: tasks })} onDone={reload} />
        {/* Every run (any status, no type, no worker) is no filter: the API takes none, and the button is off, saying why. */}
        <BulkButton
          action="respawn"
          label="Retry all matching"
          verb="Retry"
          what="of the runs matching this filter"
          disabled={Object.keys(filter).length === 0}
          title={Object.keys(filter).length === 0 ? 'Choose a status, a type or a worker first: every run is no filter' : undefined}
          selection={() => ({ runs: filter })}
          onDone={reload}
        />
      </div>
      <ErrorNote error={first.error} onRetry={first.reload} />
      {!first.data ? (
        !first.error && <Loading what="runs" />
      ) : runs.length === 0 ? (
        <Empty>No run matches.</Empty>
      ) : (
        <>
          <div class="scroll">
            <table class="runs">
              <thead>
                <tr>
                  <th scope="col">
                    <input
                      type="checkbox"
                      aria-label="Select all"
                      checked={chosen.length === runs.length}
                      onChange={(e) => setSelected(new Set((e.target as HTMLInputElement).checked ? runs.map((r) => r.id) : []))}
                    />
                  </th>
                  <th scope="col">Run</th>
                  <th scope="col" class="num">Task</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">Attempt</th>
                  <th scope="col">Ended</th>
                  <th scope="col">Worker</th>
                  <th scope="col">Error</th>
                </tr>
              </thead>
              <tbody>
                {runs.map((r) => (
                  <tr key={r.id} data-run={r.backendId}>
                    <td>
                      <input type="checkbox" aria-label={`Select run ${r.backendId}`} checked={selected.has(r.id)} onChange={(e) => toggle(r.id, (e.target as HTMLInputElement).checked)} />
                    </td>
                    <td><a href={`/runs/${r.backendId}`} title={r.backendId}>#{r.id}</a></td>
                    <td class="num"><a href={`/tasks/${r.task}`} aria-label={`task #${r.task}`}>#{r.task}</a></td>
                    <td class="name">{r.type}</td>
                    <td><Status value={r.status} /></td>
                    <td class="num">{r.attempt}</td>
                    <td title={instant(r.ended)}>{r.ended ? ago(r.ended, now) : '—'}</td>
                    <td class="name">{r.worker ?? '—'}</td>
                    <td class="error-cell" title={r.error ? withInstants(r.error.split('\n')[0]!) : undefined}><div class="clamp">{r.error ? withInstants(r.error.split('\n')[0]!) : '—'}</div></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ErrorNote error={moreError} />
          {last?.nextCursor && (
            <button type="button" onClick={loadMore}>Load more</button>
          )}
          {paging && (
            <button type="button" onClick={reload} title="The list does not refresh itself while more pages are shown">
              Back to the newest
            </button>
          )}
        </>
      )}
    </>
  );
}
