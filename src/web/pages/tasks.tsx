import { useState } from 'preact/hooks';
import type { Task } from '../../core/model.js';
import type { OrreryClient } from '../../http/client.js';
import { api } from '../api.js';
import { Empty, ErrorNote, Loading, Status } from '../components.js';
import { args, instant, relative } from '../format.js';
import { useApi, useTick } from '../hooks.js';
import { navigate } from '../router.js';

const STATUSES = ['next_run_not_scheduled', 'next_run_scheduled', 'completed', 'disabled'];
const PRIORITIES = ['high', 'normal', 'low', 'none'];
const PAGE = 100;
/** How many tasks an argument-text search reads at most per page shown (the API filters by type, status, priority). */
const SCAN_LIMIT = 5000;

interface Found {
  items: Task[];
  nextCursor: string | null;
  scanned: number;
}

/** One page of tasks; with argument text, reads API pages until PAGE matches or SCAN_LIMIT tasks read. */
async function search(c: OrreryClient, q: URLSearchParams, cursor: string | null): Promise<Found> {
  const text = (q.get('q') ?? '').trim().toLowerCase();
  const filter = {
    ...(q.get('type') ? { type: q.get('type')! } : {}),
    ...(q.get('status') ? { status: q.get('status') as Task['status'] } : {}),
    ...(q.get('priority') ? { priority: q.get('priority') === 'none' ? null : (q.get('priority') as Task['priority']) } : {}),
  };
  const items: Task[] = [];
  let scanned = 0;
  let next = cursor;
  do {
    const page = await c.searchTasks({ ...filter, limit: text ? 1000 : PAGE, ...(next ? { cursor: next } : {}) });
    scanned += page.items.length;
    for (const t of page.items) {
      if (!text || JSON.stringify(t.arguments).toLowerCase().includes(text)) {
        items.push(t);
        if (text && items.length >= PAGE) {
          return { items, nextCursor: String(t.id), scanned };
        }
      }
    }
    next = page.nextCursor;
  } while (text && next && scanned < SCAN_LIMIT);
  return { items, nextCursor: next, scanned };
}

export function TaskList({ query }: { query: URLSearchParams }) {
  const now = useTick(10_000);
  const key = query.toString();
  const types = useApi((c) => c.listTaskTypes(), []);
  const [more, setMore] = useState<{ key: string; pages: Found[] }>({ key, pages: [] });
  const first = useApi((c) => search(c, query, null), [key], { live: (e) => e.event !== 'started' && e.event !== 'claimed', pollMs: 15_000 });
  const extra = more.key === key ? more.pages : [];
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string | null>(null);

  const pages = first.data ? [first.data, ...extra] : [];
  const rows = pages.flatMap((p) => p.items);
  const last = pages[pages.length - 1];
  const text = query.get('q') ?? '';

  const submit = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const q = new URLSearchParams();
    for (const k of ['type', 'status', 'priority', 'q']) {
      const v = String(f.get(k) ?? '').trim();
      if (v) q.set(k, v);
    }
    navigate(`/tasks${q.size ? `?${q}` : ''}`);
  };
  const loadMore = async () => {
    if (!last?.nextCursor) return;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await api.call((c) => search(c, query, last.nextCursor));
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
          <select name="type" value={query.get('type') ?? ''}>
            <option value="">any</option>
            {(types.data ?? []).map((t) => (
              <option key={t.name} value={t.name}>{t.name}</option>
            ))}
            {query.get('type') && !(types.data ?? []).some((t) => t.name === query.get('type')) && <option value={query.get('type')!}>{query.get('type')}</option>}
          </select>
        </label>
        <label>
          Status
          <select name="status" value={query.get('status') ?? ''}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>{s.replace(/_/g, ' ')}</option>
            ))}
          </select>
        </label>
        <label>
          Priority
          <select name="priority" value={query.get('priority') ?? ''}>
            <option value="">any</option>
            {PRIORITIES.map((s) => (
              <option key={s} value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label class="grow">
          Arguments contain
          <input type="search" name="q" defaultValue={text} placeholder="e.g. example.org" />
        </label>
        <button type="submit" class="primary">Search</button>
      </form>
      <ErrorNote error={first.error} onRetry={first.reload} />
      {!first.data ? (
        !first.error && <Loading what="tasks" />
      ) : rows.length === 0 ? (
        <Empty>No task matches{text ? ` (${first.data.scanned} tasks read)` : ''}.</Empty>
      ) : (
        <>
          <p class="muted" role="status">
            {rows.length} task{rows.length === 1 ? '' : 's'} shown{text ? `, ${pages.reduce((a, p) => a + p.scanned, 0)} read for the argument text` : ''}
            {last?.nextCursor ? '; more below' : ''}.
          </p>
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
                    <td>{t.type}</td>
                    <td class="args"><code>{args(t.arguments)}</code></td>
                    <td><Status value={t.status} />{t.disabledReason ? <small> ({t.disabledReason.replace(/_/g, ' ')})</small> : null}</td>
                    <td>{t.priority ?? '—'}</td>
                    <td title={instant(t.nextRun)}>{t.status === 'completed' || t.status === 'disabled' ? '—' : relative(t.nextRun, now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <ErrorNote error={moreError} />
          {last?.nextCursor && (
            <button type="button" onClick={loadMore} disabled={loadingMore}>
              {loadingMore ? 'Loading…' : 'Load more'}
            </button>
          )}
        </>
      )}
    </>
  );
}
