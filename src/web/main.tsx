import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, live } from './api.js';
import { TokenDialog } from './components.js';
import { match, useLocation } from './router.js';
import { Overview } from './pages/overview.js';
import { TaskList } from './pages/tasks.js';
import { TaskPage } from './pages/task.js';
import { RunPage } from './pages/run.js';
import { RunList } from './pages/runs.js';
import { DeadLetters } from './pages/dead-letters.js';
import { DagList, DagPage } from './pages/dags.js';
import { DagRunPage } from './pages/dag-run.js';
import { OriginPage, Visits } from './pages/visits.js';
import { TaskTypePage } from './pages/task-type.js';
import { PageBoundary } from './page-boundary.js';
import { browserZone, onTimeZone, setTimeZone, timeZone, type TimeZoneChoice } from './format.js';
import './style.css';

const NAV: Array<[string, string]> = [
  ['/', 'Overview'],
  ['/tasks', 'Tasks'],
  ['/runs', 'Runs'],
  ['/dead-letters', 'Dead letters'],
  ['/dags', 'DAGs'],
  ['/visits', 'Visits'],
];

function LiveBadge() {
  const [, tick] = useState(0);
  useEffect(() => live.onState(() => tick((n) => n + 1)), []);
  const text = live.state === 'live' ? 'Live' : live.state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <span class={`live live-${live.state}`} role="status" aria-live="polite" title="Updates from the server's event stream">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}

/** UTC or the browser's zone for every instant shown; remembered in this browser's local storage. */
function TimeZonePicker() {
  return (
    <label class="tz small">
      Times in{' '}
      <select value={timeZone()} onChange={(e) => setTimeZone((e.target as HTMLSelectElement).value as TimeZoneChoice)}>
        <option value="utc">UTC</option>
        <option value="local">{`local (${browserZone()})`}</option>
      </select>
    </label>
  );
}

/** Task and DAG run pages take a whole-number id; `/tasks/abc` is no page (it asked the API for task NaN). */
function page(path: string, query: URLSearchParams) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '') return <Overview />;
  if (path === '/tasks') return <TaskList query={query} />;
  if ((m = match('/types/:name', path))) return <TaskTypePage name={m.name!} />;
  if ((m = match('/tasks/:id', path)) && /^[1-9]\d{0,15}$/.test(m.id!)) return <TaskPage id={Number(m.id)} />;
  if (path === '/runs') return <RunList query={query} />;
  if ((m = match('/runs/:backendId', path))) return <RunPage backendId={m.backendId!} />;
  if (path === '/dead-letters') return <DeadLetters />;
  if (path === '/dags') return <DagList />;
  if ((m = match('/dags/:id', path))) return <DagPage id={m.id!} />;
  if ((m = match('/dag-runs/:run', path)) && /^[1-9]\d{0,15}$/.test(m.run!)) return <DagRunPage key={`${m.run}/${query.get("task") ?? ""}`} run={Number(m.run)} task={query.get("task")} />;
  if (path === '/visits') return <Visits />;
  if (path === '/visits/origin') return <OriginPage url={query.get('url') ?? ''} visitType={query.get('visitType') ?? ''} />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        No page at <code>{path}</code>. <a href="/">Back to the overview</a>.
      </p>
    </section>
  );
}

/**
 * Each page's <title> is its heading (`Task 3 · Orrery`), kept in step as the heading loads; a move to
 * another page puts focus on the main region, so a keyboard or screen-reader user starts there (and
 * hears the new page) instead of on the body.
 */
function usePageTitleAndFocus(path: string): void {
  const first = useRef(true);
  useEffect(() => {
    const main = document.getElementById('main');
    if (!main) return;
    const title = () => {
      const h1 = main.querySelector('h1')?.textContent?.trim();
      const text = h1 ? `${h1} · Orrery` : 'Orrery';
      if (document.title !== text) document.title = text;
    };
    title();
    const watch = new MutationObserver(title);
    watch.observe(main, { childList: true, subtree: true, characterData: true });
    if (!first.current) main.focus({ preventScroll: true });
    first.current = false;
    return () => watch.disconnect();
  }, [path]);
}

function App() {
  const { path, query } = useLocation();
  const section = '/' + (path.split('/')[1] ?? '');
  const current = (href: string) => (href === '/' ? path === '/' || section === '/types' : section === href || (href === '/dags' && section === '/dag-runs'));
  const [, rerender] = useState(0);
  // A new time zone choice redraws every page: each instant shown reads it.
  useEffect(() => onTimeZone(() => rerender((n) => n + 1)), []);
  // A token given (or forgotten) shows or hides Sign out at once.
  useEffect(() => {
    const off = api.onChange(() => rerender((n) => n + 1));
    return () => void off();
  }, []);
  useEffect(() => {
    live.start();
  }, []);
  usePageTitleAndFocus(path);
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/" aria-label="Orrery overview">
          <span aria-hidden="true">◍</span> Orrery
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={current(href) ? 'page' : undefined}>{label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <LiveBadge />
        <TimeZonePicker />
        {api.token && (
          <button type="button" class="link small" onClick={() => (api.forgetToken(), location.reload())} title="Forget the API token kept in this tab">
            Sign out
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <PageBoundary key={path}>{page(path, query)}</PageBoundary>
      </main>
      <TokenDialog />
      {/* Outcomes of actions (components.tsx announce): heard even when the control that did it is gone. */}
      <div id="announcer" class="visually-hidden" role="status" aria-live="polite" />
    </>
  );
}

render(<App />, document.getElementById('app')!);
