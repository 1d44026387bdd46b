import { useState } from 'preact/hooks';
import type { Task } from '../../core/model.js';
import type { BulkSelectionInput } from '../../core/bulk.js';
import type { OrreryClient, TaskQueryFilter } from '../../http/client.js';
import { api } from '../api.js';
import { BulkButton } from '../bulk-actions.js';
import { Empty, ErrorNote, Loading, Status, FilterSelect } from '../components.js';
import { args, instant, relative } from '../format.js';
import { LIST_POLL, useApi, useTick } from '../hooks.js';
import { navigate } from '../router.js';
import { parseInstant } from '../../core/instants.js';

const STATUSES = ['next_run_not_scheduled', 'next_run_scheduled', 'completed', 'disabled'];
const PRIORITIES = ['high', 'normal', 'low', 'none'];
const PAGE = 100;
/** Pages the list reads by itself while a search with argument text finds fewer than PAGE tasks (each examines up to 10,000 tasks). */
const AUTO_PAGES = 10;
/** The URL's query keys, in the form's order. */
const KEYS = ['type', 'status', 'paused', 'priority', 'q', 'match', 'key', 'from', 'before'] as const;

interface Found {
  items: Task[];
  nextCursor: string | null;
  /** The last page stopped at the server's scan bound: more may match after nextCursor. */
  partial: boolean;
}

/** The search filters of the page's URL (`q` is the argument text, `key` the concurrency key, `paused` true or false). */
export function filterOf(q: URLSearchParams): TaskQueryFilter {
  const date = (k: string) => (q.get(k) ? urlInstant(q.get(k)!) : undefined);
  const f: TaskQueryFilter = {
    ...(q.get('type') ? { type: q.get('type')! } : {}),
    ...(q.get('status') ? { status: q.get('status')! } : {}),
    ...(q.get('paused') === 'true' || q.get('paused') === 'false' ? { paused: q.get('paused') === 'true' } : {}),
    ...(q.get('priority') ? { priority: q.get('priority') as 'none' } : {}),
    ...(q.get('q') ? { args: q.get('q')!, ...(q.get('match') === 'prefix' ? { argsMatch: 'prefix' as const } : {}) } : {}),
    ...(q.get('key') ? { concurrencyKey: q.get('key')! } : {}),
  };
  const from = date('from');
  const before = date('before');
  if (from && !Number.isNaN(from.getTime())) f.nextRunFrom = from;
  if (before && !Number.isNaN(before.getTime())) f.nextRunBefore = before;
  return f;
}

/**
 * The URL's filters that cannot be read (an instant that is not one, `paused` neither true nor false):
 * left out, the search would be wider than the address says, and a bulk action with it.
 */
export function unreadFilters(q: URLSearchParams): string[] {
  const bad: string[] = [];
  for (const k of ['from', 'before'] as const) if (q.get(k) && Number.isNaN(urlInstant(q.get(k)!).getTime())) bad.push(k);
  if (q.get('paused') && q.get('paused') !== 'true' && q.get('paused') !== 'false') bad.push('paused');
  return bad;
}

/** One page of the server-side search; pages that stopped at the scan bound are followed, up to AUTO_PAGES requests. */
async function search(c: OrreryClient, filter: TaskQueryFilter, cursor: string | null): Promise<Found> {
  const items: Task[] = [];
  let next = cursor;
  for (let i = 0; i < AUTO_PAGES; i++) {
    const page = await c.findTasks({ ...filter, limit: PAGE - items.length, ...(next ? { cursor: next } : {}) });
    items.push(...page.tasks);
    next = page.nextCursor;
    if (!page.partial || items.length >= PAGE || next === null) return { items, nextCursor: next, partial: false };
  }
  return { items, nextCursor: next, partial: true };
}

/**
 * An instant of the URL as the API reads one (core parseInstant: ISO 8601, a date alone or no offset
 * read as UTC), or an invalid Date: `new Date('1')` read `before=1` as 2001-01-01.
 */
function urlInstant(text: string): Date {
  try {
    return parseInstant(text);
  } catch {
    return new Date(Number.NaN);
  }
}

/** A datetime-local value (the browser's zone) from an ISO instant of the URL. */
const local = (iso: string | null) => {
  if (!iso) return '';
  const d = urlInstant(iso);
  return Number.isNaN(d.getTime()) ? '' : new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

export function TaskList({ query }: { query: URLSearchParams }) {
  const now = useTick(10_000);
  const key = query.toString();
  const filter = filterOf(query);
  const unread = unreadFilters(query);
  const types = useApi((c) => c.listTaskTypes(), [], LIST_POLL);
  const [more, setMore] = useState<{ key: string; pages: Found[] }>({ key, pages: [] });
  const extra = more.key === key ? more.pages : [];
  // Page 1 refreshes itself only while it is shown alone: refreshed under pages read from its old
  // cursor, tasks that moved into it would show twice and tasks pushed off its end nowhere.
  const paging = extra.length > 0;
  const first = useApi((c) => search(c, filter, null), [key], paging ? {} : { live: (e) => e.event !== 'started' && e.event !== 'claimed', pollMs: 15_000 });
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string | null>(null);

  const pages = first.data ? [first.data, ...extra] : [];
  const rows = pages.flatMap((p) => p.items);
  const last = pages[pages.length - 1];
  const filtered = Object.keys(filter).length > 0;
  const selection = (): BulkSelectionInput => (filtered ? { filter } : { all: true });
  const what = filtered ? 'matching this filter' : 'of every type and status';
  const reloadAll = () => {
    setMore({ key, pages: [] });
    first.reload();
  };

  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const q = new URLSearchParams();
    for (const k of KEYS) {
      let v = String(f.get(k) ?? '').trim();
      if (v && (k === 'from' || k === 'before')) v = new Date(v).toISOString();
      if (v && !(k === 'match' && v !== 'prefix')) q.set(k, v);
    }
    if (!q.get('q')) q.delete('match');
    navigate(`/tasks${q.size ? `?${q}` : ''}`);
  };
  const loadMore = async () => {
    if (!last?.nextCursor) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await api.call((c) => search(c, filter, last.nextCursor));
      setMore({ key, pages: [...extra, page] });
    } catch (e) {
      setMoreError(e instanceof Error ? e.message : String(e));
    } finally {
      setLoadingMore(false);
    }
  };

  return (
    <>
      <h1>Tasks</h1>
      <form class="filters" role="search" aria-label="Search tasks" onSubmit={submit} key={key}>
        <label>
          Type
          <FilterSelect name="type" initial={query.get('type') ?? ''}>
            <option value="">any</option>
            {(types.data ?? []).map((t) => (
              <option key={t.name} value={t.name}>{t.name}</option>
            ))}
            {query.get('type') && !(types.data ?? []).some((t) => t.name === query.get('type')) && <option value={query.get('type')!}>{query.get('type')}</option>}
          </FilterSelect>
        </label>
        <label>
          Status
          <FilterSelect name="status" initial={query.get('status') ?? ''}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>{s.replace(/_/g, ' ')}</option>
            ))}
            {/* The URL's status list (`completed,disabled`), when no choice is it: shown, so a search keeps it (as on Runs). */}
            {query.get('status') && !(STATUSES as readonly string[]).includes(query.get('status')!) && <option value={query.get('status')!}>{query.get('status')}</option>}
          </FilterSelect>
        </label>
        <label>
          Paused
          <FilterSelect name="paused" initial={query.get('paused') ?? ''}>
            <option value="">either</option>
            <option value="true">paused</option>
            <option value="false">not paused</option>
          </FilterSelect>
        </label>
        <label>
          Priority
          <FilterSelect name="priority" initial={query.get('priority') ?? ''}>
            <option value="">any</option>
            {PRIORITIES.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </FilterSelect>
        </label>
        <label class="grow">
          Arguments
          <input type="search" name="q" defaultValue={query.get('q') ?? ''} placeholder="e.g. example.org" />
        </label>
        <label>
          Match
          <FilterSelect name="match" initial={query.get('match') ?? 'substring'}>
            <option value="substring">contain</option>
            <option value="prefix">start with</option>
          </FilterSelect>
        </label>
        <label>
          Concurrency key
          <input type="text" name="key" defaultValue={query.get('key') ?? ''} size={12} />
        </label>
        <label>
          Next run from
          <input type="datetime-local" name="from" defaultValue={local(query.get('from'))} />
        </label>
        <label>
          Next run before
          <input type="datetime-local" name="before" defaultValue={local(query.get('before'))} />
        </label>
        <button type="submit" class="primary">Search</button>
      </form>
      {unread.length > 0 ? (
        <p class="error" role="alert" data-testid="unread-filters">
          This address has filters that cannot be read ({unread.join(', ')}): the search below leaves them out, and bulk actions are off until they are set again above.
        </p>
      ) : (
        <div class="toolbar" role="group" aria-label="Bulk actions on the tasks of this search">
          <BulkButton action="respawn" label="Respawn" what={what} selection={selection} onDone={reloadAll} />
          <BulkButton action="disable" label="Disable" what={what} selection={selection} onDone={reloadAll} danger />
          <BulkButton action="cancel" label="Cancel runs" what={what} selection={selection} onDone={reloadAll} />
          <BulkButton action="delete" label="Delete" what={what} selection={selection} onDone={reloadAll} danger />
        </div>
      )}
      <ErrorNote error={first.error} onRetry={first.reload} />
      {!first.data ? (
        !first.error && <Loading what="tasks" />
      ) : rows.length === 0 && !last?.partial ? (
        <Empty>No task matches.</Empty>
      ) : (
        <>
          <p class="muted" role="status">
            {rows.length} task{rows.length === 1 ? '' : 's'} shown
            {last?.partial ? '; no more found so far (the search goes on below)' : last?.nextCursor ? '; more below' : ''}.
          </p>
          {rows.length > 0 && (
            <div class="scroll">
              <table class="tasks">
                <thead>
                  <tr>
                    <th scope="col" class="num">Id</th>
                    <th scope="col">Type</th>
                    <th scope="col">Arguments</th>
                    <th scope="col">Status</th>
                    <th scope="col">Priority</th>
                    <th scope="col">Next run</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((t) => (
                    <tr key={t.id} data-task={t.id}>
                      <td class="num"><a href={`/tasks/${t.id}`}>#{t.id}</a></td>
                      <td class="name">{t.type}</td>
                      <td class="args"><code>{args(t.arguments)}</code></td>
                      <td><Status value={t.status} />{t.disabledReason ? <small> ({t.disabledReason.replace(/_/g, ' ')})</small> : null}{t.paused ? <small class="paused" title={`paused since ${instant(t.paused.at)}${t.paused.reason ? `: ${t.paused.reason}` : ''}`}> (paused)</small> : null}</td>
                      <td>{t.priority ?? '—'}</td>
                      <td title={instant(t.nextRun)}>{t.status === 'completed' || t.status === 'disabled' ? '—' : relative(t.nextRun, now)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <ErrorNote error={moreError} />
          {last?.nextCursor && (
            <button type="button" onClick={loadMore} disabled={loadingMore}>
              {loadingMore ? 'Loading…' : last.partial ? 'Search further' : 'Load more'}
            </button>
          )}
          {paging && (
            <button type="button" onClick={reloadAll} title="The list does not refresh itself while more pages are shown">
              Back to the first page
            </button>
          )}
        </>
      )}
    </>
  );
}
