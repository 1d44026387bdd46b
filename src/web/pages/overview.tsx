import type { RunRate } from '../types.js';
import { Empty, ErrorNote, LoadFailed, Loading, Sparkline, type SparkSeries } from '../components.js';
import { WORKER_ALIVE_MS, WORKER_GONE_MS } from '../../core/worker-liveness.js';
import { WORKER_REFRESH_MS } from '../../core/worker-registry.js';
import { ago, duration, instant } from '../format.js';
import { useApi, useTick } from '../hooks.js';
import { PauseControl } from '../pause-control.js';
import { RangeCharts } from '../range-charts.js';

const MINUTES = 60;
const OUTCOMES: Array<{ label: string; cls: string; statuses: string[] }> = [
  { label: 'succeeded', cls: 'ok', statuses: ['eventful', 'uneventful'] },
  { label: 'failed', cls: 'bad', statuses: ['failed', 'permfailed'] },
  { label: 'lost', cls: 'lost', statuses: ['lost'] },
];

function seriesOf(rates: RunRate[], since: Date): SparkSeries[] {
  return OUTCOMES.map((o) => {
    const values = new Array<number>(MINUTES).fill(0);
    for (const r of rates) {
      if (!o.statuses.includes(r.status)) continue;
      const i = Math.floor((r.minute.getTime() - since.getTime()) / 60_000);
      if (i >= 0 && i < MINUTES) values[i]! += r.count;
    }
    return { label: o.label, cls: o.cls, values };
  });
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const words = (series: SparkSeries[]) => series.map((s) => `${sum(s.values)} ${s.label}`).join(', ');

export function Overview() {
  const now = useTick(5000);
  const { data, error, reload } = useApi(
    async (c) => {
      const [queues, rates, workers, types, due, alerts] = await Promise.all([c.stats.queues(), c.stats.runRates(MINUTES), c.stats.workers(MINUTES), c.listTaskTypes(), c.stats.due(), c.stats.alerts()]);
      return { queues, rates, workers, types: new Map(types.map((t) => [t.name, t])), due: new Map(due.map((d) => [d.type, d])), alerts };
    },
    [],
    { live: () => true, pollMs: 10_000 },
  );
  if (!data) return error ? <LoadFailed title="Overview" error={error} notFound={false} onRetry={reload} /> : <Loading what="the overview" />;
  const { queues, rates, workers, types, due, alerts } = data;
  const dueCount = (n: number, capped: boolean) => (capped ? `${n}+` : String(n));
  const dueTotal = [...due.values()].reduce((a, d) => a + d.due, 0);
  const dueCapped = [...due.values()].some((d) => d.capped);
  // The rate rows grouped by type once (a filter per type read every row once per type: 2,000 types, 60,000 rows).
  const ratesOfType = new Map<string, typeof rates.rates>();
  for (const r of rates.rates) {
    const list = ratesOfType.get(r.type);
    if (list) list.push(r);
    else ratesOfType.set(r.type, [r]);
  }
  const rows = queues.map((q) => ({ q, series: seriesOf(ratesOfType.get(q.type) ?? [], rates.since) }));
  const allSeries = seriesOf(rates.rates, rates.since);
  const totals = {
    scheduled: sum(queues.map((q) => q.scheduled)),
    running: sum(queues.map((q) => q.running)),
    claimed: sum(queues.map((q) => q.claimed)),
    dead: sum(queues.map((q) => q.deadLettered)),
    oldest: queues.map((q) => q.oldestScheduled).filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0] ?? null,
  };
  return (
    <>
      <h1>Overview</h1>
      <ErrorNote error={error} onRetry={reload} />
      <section aria-labelledby="totals-title" class="cards">
        <h2 id="totals-title" class="visually-hidden">Totals</h2>
        <div class="card" title="Runs waiting in the jobboard for a worker to claim them">
          <span class="big" data-testid="total-queued">{totals.scheduled}</span> queued
          <small>
            <span data-testid="total-claimed">{totals.claimed}</span> more in workers' buffers
          </small>
        </div>
        <div class="card" title="Due tasks no run serves yet: workers claim them directly, or the runner queues them">
          <span class="big" data-testid="total-due">{dueCount(dueTotal, dueCapped)}</span> due, not queued
        </div>
        <div class="card"><span class="big" data-testid="total-running">{totals.running}</span> running</div>
        <div class="card">
          <span class="big">{totals.oldest ? duration(now - totals.oldest.getTime()) : '—'}</span> oldest wait
        </div>
        <div class="card">
          <span class="big">{sum(allSeries.flatMap((s) => s.values))}</span> runs ended in the last hour
          <small>{words(allSeries)}</small>
        </div>
        <div class="card">
          <a href="/dead-letters"><span class="big">{totals.dead}</span> dead-lettered</a>
        </div>
        <div class="card" title="Alerts (task and DAG) stored and not yet delivered by a process with a notifier: orrery alerts lists them">
          <span class="big" data-testid="alerts-waiting">{alerts.waiting}</span> alerts waiting
          {alerts.waiting > 0 && (
            <small data-testid="alerts-failing">
              {alerts.failing} failing; the oldest from {ago(alerts.oldest, alerts.at.getTime())}
            </small>
          )}
        </div>
      </section>

      <section aria-labelledby="types-title">
        <h2 id="types-title">Task types</h2>
        {rows.length === 0 ? (
          <Empty>No task types yet.</Empty>
        ) : (
          <div class="scroll">
            <table class="types">
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col" class="num" title="Runs waiting in the jobboard (scheduled)">Queued</th>
                  <th scope="col" class="num" title="Runs claimed by workers, waiting in their buffers">Claimed</th>
                  <th scope="col" class="num" title="Due tasks no run serves yet">Due</th>
                  <th scope="col" class="num">Running</th>
                  <th scope="col" class="num">Oldest wait</th>
                  <th scope="col">Runs per minute (last hour)</th>
                  <th scope="col" class="num">Dead letters</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {rows.map(({ q, series }) => (
                  <tr key={q.type} data-type={q.type}>
                    <th scope="row">
                      <a href={`/types/${encodeURIComponent(q.type)}`}>{q.type}</a>{' '}
                      <a class="small muted" href={`/tasks?type=${encodeURIComponent(q.type)}`} aria-label={`Tasks of ${q.type}`}>
                        tasks
                      </a>
                    </th>
                    <td class="num" data-col="queued">{q.scheduled}</td>
                    <td class="num" data-col="claimed">{q.claimed}</td>
                    <td class="num" data-col="due" title={due.get(q.type) ? `oldest due since ${instant(due.get(q.type)!.oldestDue)}` : undefined}>
                      {due.get(q.type) ? dueCount(due.get(q.type)!.due, due.get(q.type)!.capped) : 0}
                    </td>
                    <td class="num" data-col="running">{q.running}</td>
                    <td class="num" title={instant(q.oldestScheduled)}>{q.oldestScheduled ? duration(now - q.oldestScheduled.getTime()) : '—'}</td>
                    <td class="spark-cell">
                      <Sparkline series={series} label={`${q.type}, last hour: ${words(series)}`} />
                      <span class="spark-words">{words(series)}</span>
                    </td>
                    <td class="num">
                      {q.deadLettered > 0 ? <a href="/dead-letters">{q.deadLettered}</a> : 0}
                    </td>
                    <td data-col="state">{types.get(q.type) ? <PauseControl type={types.get(q.type)!} onChange={reload} /> : null}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row">All types</th>
                  <td class="num">{totals.scheduled}</td>
                  <td class="num">{totals.claimed}</td>
                  <td class="num">{dueCount(dueTotal, dueCapped)}</td>
                  <td class="num">{totals.running}</td>
                  <td class="num">{totals.oldest ? duration(now - totals.oldest.getTime()) : '—'}</td>
                  <td class="spark-cell">
                    <Sparkline series={allSeries} label={`All types, last hour: ${words(allSeries)}`} />
                    <span class="spark-words">{words(allSeries)}</span>
                  </td>
                  <td class="num">{totals.dead}</td>
                  <td />
                </tr>
              </tfoot>
            </table>
          </div>
        )}
        <p class="legend" aria-hidden="true">
          {OUTCOMES.map((o) => (
            <span key={o.cls} class={`key ${o.cls}`}>{o.label}</span>
          ))}
        </p>
      </section>

      <section aria-labelledby="workers-title">
        <h2 id="workers-title">Workers</h2>
        {workers.length === 0 ? (
          <Empty>No worker registered, holding a run or ending one in the last hour.</Empty>
        ) : (
          <>
          <p class="legend">
            Liveness from a worker's latest sign of life (its registry refresh every {WORKER_REFRESH_MS / 1000} s, busy or idle; a heartbeat; an ended run):
            alive within {WORKER_ALIVE_MS / 1000} s, stale within {WORKER_GONE_MS / 60_000} min, gone after; stopped once it stopped gracefully.
          </p>
          <div class="scroll">
            <table class="workers">
              <thead>
                <tr>
                  <th scope="col">Worker</th>
                  <th scope="col">Liveness</th>
                  <th scope="col">Types</th>
                  <th scope="col" class="num" title="Runs it holds now, of its concurrency">Running</th>
                  <th scope="col">Started</th>
                  <th scope="col">Last heartbeat</th>
                  <th scope="col">Last run ended</th>
                  <th scope="col" class="num">Ended (1 h)</th>
                </tr>
              </thead>
              <tbody>
                {workers.map((w) => (
                  <tr key={w.worker} data-worker={w.worker} data-liveness={w.liveness}>
                    <th scope="row">
                      <code>{w.worker}</code>
                      {w.host !== null && <small class="muted"> {w.host}{w.pid !== null ? ` pid ${w.pid}` : ''}</small>}
                    </th>
                    <td data-col="liveness">
                      <span
                        class={`status liveness-${w.liveness}`}
                        title={w.liveness === 'stopped' ? `stopped ${ago(w.stoppedAt, now)} (${instant(w.stoppedAt)})` : `last seen ${ago(w.lastSeen, now)} (${instant(w.lastSeen)})`}
                      >
                        <span class="dot" aria-hidden="true" />
                        {w.liveness}
                      </span>
                    </td>
                    <td data-col="types">{w.types === null ? '—' : w.types.length === 0 ? 'none yet' : w.types.join(', ')}</td>
                    <td class="num" data-col="running">{w.concurrency === null ? w.running : `${w.running} / ${w.concurrency}`}</td>
                    <td title={instant(w.startedAt)}>{ago(w.startedAt, now)}</td>
                    <td title={instant(w.lastHeartbeat)}>{ago(w.lastHeartbeat, now)}</td>
                    <td title={instant(w.lastEnded)}>{ago(w.lastEnded, now)}</td>
                    <td class="num">{w.ended}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          </>
        )}
      </section>

      <RangeCharts />
    </>
  );
}
