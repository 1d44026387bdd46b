import type { OriginVisit, VisitMetrics } from '../types.js';
import { api } from '../api.js';
import { ConfirmButton, Empty, ErrorNote, KeyValues, LoadFailed, Loading, Status } from '../components.js';
import { MetricsChart } from '../metrics-chart.js';
import { ago, duration, instant } from '../format.js';
import { LIST_POLL, useApi, useTick } from '../hooks.js';
import { navigate } from '../router.js';

export function Visits() {
  const now = useTick(30_000);
  const { data, error, reload } = useApi(
    async (c) => {
      const [listers, metrics, history] = await Promise.all([c.visits.listListers(), c.visits.getMetrics(), c.visits.getMetricsHistory({ limit: 200 })]);
      return { listers, metrics, history };
    },
    [],
    { pollMs: 30_000 },
  );
  if (!data) return error ? <LoadFailed title="Visits" error={error} notFound={false} onRetry={reload} /> : <Loading what="visit metrics" />;
  const names = new Map(data.listers.map((l) => [l.id, `${l.name}${l.instanceName ? ` (${l.instanceName})` : ''}`]));
  const byLister = new Map<string, VisitMetrics[]>();
  for (const m of data.metrics) byLister.set(m.listerId, [...(byLister.get(m.listerId) ?? []), m]);
  const lookup = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    navigate(`/visits/origin?${new URLSearchParams({ url: String(f.get('url') ?? ''), visitType: String(f.get('visitType') ?? '') })}`);
  };
  return (
    <>
      <h1>Visits</h1>
      <ErrorNote error={error} onRetry={reload} />
      <form class="filters" role="search" aria-label="Find an origin" onSubmit={lookup}>
        <label class="grow">
          Origin URL
          <input type="url" name="url" required placeholder="https://example.org/repo.git" />
        </label>
        <label>
          Visit type
          <input type="text" name="visitType" required placeholder="git" list="visit-types" />
          <datalist id="visit-types">
            {[...new Set(data.metrics.map((m) => m.visitType))].map((v) => <option key={v} value={v} />)}
          </datalist>
        </label>
        <button type="submit" class="primary">Show origin</button>
      </form>
      <section aria-labelledby="metrics-title">
        <h2 id="metrics-title">Per lister and visit type</h2>
        <div class="toolbar">
          <ConfirmButton
            label="Recompute metrics"
            question="Recompute the metrics of every lister now? This reads every listed origin."
            confirmLabel="Recompute"
            action={async () => {
              await api.client.visits.updateMetrics();
              reload();
              return 'Recomputed.';
            }}
          />
        </div>
        {data.listers.length === 0 ? (
          <Empty>No lister has recorded origins.</Empty>
        ) : (
          <div class="scroll">
            <table class="visit-metrics">
              <thead>
                <tr>
                  <th scope="col">Lister</th>
                  <th scope="col">Visit type</th>
                  <th scope="col" class="num">Known</th>
                  <th scope="col" class="num">Enabled</th>
                  <th scope="col" class="num">Never visited</th>
                  <th scope="col" class="num">Pending changes</th>
                  <th scope="col">As of</th>
                </tr>
              </thead>
              <tbody>
                {data.listers.flatMap((l) => {
                  const ms = byLister.get(l.id) ?? [];
                  if (ms.length === 0)
                    return [
                      <tr key={l.id}>
                        <th scope="row">{names.get(l.id)}</th>
                        <td colSpan={6} class="muted">no metrics yet (recompute them)</td>
                      </tr>,
                    ];
                  return ms.map((m) => (
                    <tr key={`${l.id}/${m.visitType}`}>
                      <th scope="row">{names.get(l.id)}</th>
                      <td class="name">{m.visitType}</td>
                      <td class="num">{m.originsKnown}</td>
                      <td class="num">{m.originsEnabled}</td>
                      <td class="num">{m.originsNeverVisited}</td>
                      <td class="num">{m.originsWithPendingChanges}</td>
                      <td title={instant(m.updated)}>{ago(m.updated, now)}</td>
                    </tr>
                  ));
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="history-title">
        <h2 id="history-title">Over time</h2>
        {data.history.length === 0 ? (
          <Empty>No metrics history yet: each recompute (and the visit-scheduler, every 15 minutes) adds a point.</Empty>
        ) : (
          <div class="charts">
            {data.history.map((s) => (
              <MetricsChart key={`${s.listerId}/${s.visitType}`} title={`${names.get(s.listerId) ?? s.listerId}, ${s.visitType}`} series={s} />
            ))}
          </div>
        )}
      </section>
    </>
  );
}

/** An origin's applied visits, newest first. */
function VisitHistory({ visits }: { visits: OriginVisit[] }) {
  if (visits.length === 0) return <Empty>No visit recorded.</Empty>;
  return (
    <div class="scroll">
      <table class="origin-visits">
        <thead>
          <tr>
            <th scope="col">Visit</th>
            <th scope="col">Status</th>
            <th scope="col">Snapshot</th>
            <th scope="col">Eventful</th>
          </tr>
        </thead>
        <tbody>
          {visits.map((v) => (
            <tr key={v.at.getTime()}>
              <th scope="row">{instant(v.at)}</th>
              <td><Status value={v.status} /></td>
              <td>{v.snapshot ? <code class="wrap">{v.snapshot}</code> : '—'}</td>
              <td>{v.eventful ? 'yes' : 'no'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/**
 * An origin's page (`/visits/origin?url=…&visitType=…`). An address without its url or visit type
 * names what it lacks under the page's heading, and reads nothing (the API would refuse both reads,
 * and a retry could never pass).
 */
export function OriginPage({ url, visitType }: { url: string; visitType: string }) {
  const missing = [url ? null : 'url', visitType ? null : 'visitType'].filter((x) => x !== null);
  if (missing.length === 0) return <OriginDetails url={url} visitType={visitType} />;
  return (
    <>
      <p class="crumbs"><a href="/visits">Visits</a></p>
      <h1 class="wrap">{url || 'Origin'}</h1>
      <p class="error" role="alert">
        This address lacks {missing.length === 2 ? <><code>url</code> and <code>visitType</code></> : <code>{missing[0]}</code>}: an origin's page is{' '}
        <code>/visits/origin?url=…&amp;visitType=…</code>. Find the origin from the <a href="/visits">Visits</a> page.
      </p>
    </>
  );
}

function OriginDetails({ url, visitType }: { url: string; visitType: string }) {
  const { data, error, notFound, reload } = useApi(
    async (c) => {
      const [listed, stats, visits] = await Promise.all([
        c.visits.getListedOrigins({ url, visitType, limit: 100 }),
        c.visits.getVisitStats(url, visitType).catch((e: { code?: string }) => {
          if (e.code === 'not_found') return null;
          throw e;
        }),
        c.visits.getOriginVisits(url, visitType, { limit: 50 }),
      ]);
      return { listed: listed.origins, stats, visits };
    },
    [url, visitType],
    { pollMs: 30_000 },
  );
  const listers = useApi((c) => c.visits.listListers(), [], LIST_POLL);
  if (!data) return error ? <LoadFailed title={url} error={error} notFound={notFound} onRetry={reload} /> : <Loading what="the origin" />;
  const names = new Map((listers.data ?? []).map((l) => [l.id, l.name + (l.instanceName ? ` (${l.instanceName})` : '')]));
  const s = data.stats;
  return (
    <>
      <p class="crumbs"><a href="/visits">Visits</a></p>
      <h1 class="wrap">{url}</h1>
      <p>Visit type <strong>{visitType}</strong></p>
      <ErrorNote error={error} onRetry={reload} />
      <section aria-labelledby="stats-title">
        <h2 id="stats-title">Visit stats</h2>
        {!s ? (
          <Empty>Never scheduled nor visited.</Empty>
        ) : (
          <KeyValues
            items={[
              ['Last visit', <>{instant(s.lastVisit)} {s.lastVisitStatus && <Status value={s.lastVisitStatus} />}</>],
              ['Last successful visit', instant(s.lastSuccessful)],
              ['Last scheduled', instant(s.lastScheduled)],
              ['Successive visits with the same outcome', String(s.successiveVisits)],
              ['Last snapshot', s.lastSnapshot ? <code class="wrap">{s.lastSnapshot}</code> : '—'],
              ['Next queue position', s.nextVisitQueuePosition === null ? '—' : `${s.nextVisitQueuePosition} s (${duration(s.nextVisitQueuePosition * 1000)} into the queue)`],
              ['Position offset', String(s.nextPositionOffset)],
            ]}
          />
        )}
      </section>
      <section aria-labelledby="visits-title">
        <h2 id="visits-title">Visit history</h2>
        <VisitHistory visits={data.visits} />
      </section>
      <section aria-labelledby="listed-title">
        <h2 id="listed-title">Listed by</h2>
        {data.listed.length === 0 ? (
          <Empty>No lister lists this origin.</Empty>
        ) : (
          <div class="scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Lister</th>
                  <th scope="col">Visit type</th>
                  <th scope="col">Enabled</th>
                  <th scope="col">First seen</th>
                  <th scope="col">Last seen</th>
                  <th scope="col">Last update</th>
                </tr>
              </thead>
              <tbody>
                {data.listed.map((o) => (
                  <tr key={`${o.listerId}/${o.visitType}`}>
                    <th scope="row">{names.get(o.listerId) ?? o.listerId}</th>
                    <td class="name">{o.visitType}</td>
                    <td>{o.enabled ? 'yes' : 'no'}</td>
                    <td>{instant(o.firstSeen)}</td>
                    <td>{instant(o.lastSeen)}</td>
                    <td>{instant(o.lastUpdate)}</td>
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
